// The applications of every applicant (ListApplications as operator; the API lists newest
// first and offers no other order), filtered by status and programme.
import { useEffect, useState } from "react";
import { SubsidyService } from "../../gen/kaigo/subsidies/v1/subsidies_service_pb";
import { ApplicationStatus, type Application, type Programme } from "../../gen/kaigo/subsidies/v1/subsidy_pb";
import { useClient } from "../../app/api";
import { DataTable, PagedItems, ProblemAlert } from "../../app/components";
import { ProgrammeOptions } from "../../app/subsidies";
import { toProblem, type ApiProblem } from "../../app/errors";
import { fmt, useLang, useMessages } from "../../app/i18n";
import { yen } from "../../app/labels";
import { Link } from "../../app/router";
import { usePagedList } from "../../app/usePagedList";
import { StatusBadge, applicantNumber, dateJst } from "./common";
import { enumText, messages } from "./messages";

/** What the operator deals with: everything after the draft. */
export const REVIEWABLE = [
  ApplicationStatus.SUBMITTED,
  ApplicationStatus.UNDER_REVIEW,
  ApplicationStatus.RETURNED,
  ApplicationStatus.APPROVED,
  ApplicationStatus.REJECTED,
  ApplicationStatus.PAID,
] as const;

export function ReviewList() {
  const m = useMessages(messages);
  const { lang } = useLang();
  const client = useClient(SubsidyService);
  const [status, setStatus] = useState<number>(0);
  const [programmeId, setProgrammeId] = useState("");
  const [programmes, setProgrammes] = useState<Programme[]>([]);
  const [programmeProblem, setProgrammeProblem] = useState<ApiProblem | null>(null);

  useEffect(() => {
    (async () => {
      try {
        setProgrammes((await client.listProgrammes({ pageSize: 100 })).programmes);
      } catch (e) {
        setProgrammeProblem(toProblem(e));
      }
    })();
  }, [client]);

  const apps = usePagedList<Application>(
    async (pageToken) => {
      const res = await client.listApplications({
        pageSize: 50,
        pageToken,
        programmeId,
        statuses: status ? [status] : [...REVIEWABLE],
      });
      return { items: res.applications, nextPageToken: res.nextPageToken, totalSize: res.totalSize };
    },
    [client, status, programmeId],
  );
  const title = (id: string) => programmes.find((p) => p.programmeId === id)?.title ?? id;

  return (
    <>
      <p>{m.lead}</p>
      <div className="form-grid">
        <div className="field">
          <label htmlFor="review-status">{m.filterStatus}</label>
          <select id="review-status" value={status} onChange={(e) => setStatus(Number(e.target.value))}>
            <option value={0}>{m.statusAll}</option>
            {REVIEWABLE.map((s) => (
              <option key={s} value={s}>
                {enumText(m, "status", s)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="review-programme">{m.filterProgramme}</label>
          <select id="review-programme" value={programmeId} onChange={(e) => setProgrammeId(e.target.value)}>
            <option value="">{m.programmeAll}</option>
            <ProgrammeOptions programmes={programmes} />
          </select>
        </div>
      </div>
      <div className="form-actions">
        <button type="button" onClick={() => void apps.refresh()} disabled={apps.busy}>
          {m.refresh}
        </button>
      </div>
      <ProblemAlert problem={apps.problem ?? programmeProblem} />
      <PagedItems list={apps} empty={m.empty} count={(n) => fmt(m.count, { n: apps.total || n })}>
        {(items) => (
          <DataTable
            testId="review-applications"
            columns={[
              m.colProgramme,
              m.colApplicant,
              m.colSubmitted,
              m.colClaimed,
              m.colEligible,
              m.colStatus,
              m.colOpen,
            ]}
          >
            {items.map((a) => (
              <tr key={a.applicationId} data-application-id={a.applicationId}>
                <td>{title(a.programmeId)}</td>
                <td>
                  {enumText(m, "kind", a.applicantKind)}
                  <br />
                  <span data-testid="applicant-number">{applicantNumber(a)}</span>
                </td>
                <td>{dateJst(a.submitTime, lang)}</td>
                <td data-testid="claimed" data-yen={String(a.calculation?.totalCostYen ?? 0n)}>
                  {yen(a.calculation?.totalCostYen ?? 0n, lang)}
                </td>
                <td data-testid="eligible" data-yen={String(a.calculation?.eligibleAmountYen ?? 0n)}>
                  {yen(a.calculation?.eligibleAmountYen ?? 0n, lang)}
                </td>
                <td data-testid="status">
                  <StatusBadge m={m} status={a.status} />
                </td>
                <td>
                  <Link
                    to={`/review/${encodeURIComponent(a.applicationId)}`}
                    aria-label={fmt(m.openFor, {
                      kind: enumText(m, "kind", a.applicantKind),
                      number: applicantNumber(a),
                    })}
                  >
                    {m.open}
                  </Link>
                </td>
              </tr>
            ))}
          </DataTable>
        )}
      </PagedItems>
    </>
  );
}

import { useCallback, useEffect, useState } from "react";
import { CertificationService } from "../../gen/kaigo/certification/v1/certification_service_pb";
import { DeadlineStatus, type Application } from "../../gen/kaigo/certification/v1/application_pb";
import { useClient } from "../../app/api";
import { Loading, PageHeading, ProblemAlert } from "../../app/components";
import { toProblem, type ApiProblem } from "../../app/errors";
import { fmt, useLang, useMessages } from "../../app/i18n";
import { formatDate } from "../../app/labels";
import { Link } from "../../app/router";
import { DeadlineBadge } from "./DeadlineBadge";
import { enumText, messages } from "./messages";

export function ApplicationList() {
  const m = useMessages(messages);
  const { lang } = useLang();
  const client = useClient(CertificationService);
  const [urgentOnly, setUrgentOnly] = useState(false);
  const [apps, setApps] = useState<Application[] | null>(null);
  const [next, setNext] = useState("");
  const [total, setTotal] = useState(0);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ApiProblem | null>(null);

  const load = useCallback(
    async (pageToken: string) => {
      setBusy(true);
      setProblem(null);
      try {
        const res = await client.listApplications({
          pageSize: 50,
          pageToken,
          orderBy: "urgency",
          deadlineStatuses: urgentOnly ? [DeadlineStatus.OVERDUE, DeadlineStatus.AT_RISK] : [],
        });
        setApps((prev) => (pageToken && prev ? [...prev, ...res.applications] : res.applications));
        setNext(res.nextPageToken);
        setTotal(res.totalSize);
      } catch (e) {
        setProblem(toProblem(e));
      } finally {
        setBusy(false);
      }
    },
    [client, urgentOnly],
  );

  useEffect(() => {
    void load("");
  }, [load]);

  return (
    <>
      <PageHeading title={m.title}>{m.title}</PageHeading>
      <p>{m.lead}</p>
      <div className="form-actions">
        <label className="checkbox">
          <input type="checkbox" checked={urgentOnly} onChange={(e) => setUrgentOnly(e.target.checked)} />
          {m.onlyUrgent}
        </label>
        <button type="button" onClick={() => void load("")} disabled={busy}>
          {m.refresh}
        </button>
      </div>
      <ProblemAlert problem={problem} />
      {apps === null ? (
        busy ? <Loading /> : null
      ) : apps.length === 0 ? (
        <p role="status">{m.empty}</p>
      ) : (
        <>
          <p role="status">{fmt(m.count, { n: total || apps.length })}</p>
          <div className="table-wrap">
            <table data-testid="applications">
              <thead>
                <tr>
                  <th scope="col">{m.colDeadline}</th>
                  <th scope="col">{m.colDate}</th>
                  <th scope="col">{m.colInsurer}</th>
                  <th scope="col">{m.colInsured}</th>
                  <th scope="col">{m.colType}</th>
                  <th scope="col">{m.colStatus}</th>
                  <th scope="col">{m.colSurvey}</th>
                  <th scope="col">{m.colOpinion}</th>
                  <th scope="col">{m.colOpen}</th>
                </tr>
              </thead>
              <tbody>
                {apps.map((a) => (
                  <tr key={a.applicationId} data-application-id={a.applicationId}>
                    <td>
                      <DeadlineBadge m={m} status={a.deadlineStatus} />
                      <br />
                      {formatDate(a.deadlineDate, lang)}
                    </td>
                    <td>{formatDate(a.applicationDate, lang)}</td>
                    <td>{a.insurerNumber}</td>
                    <td>{a.insuredNumber}</td>
                    <td>{enumText(m, "type", a.type)}</td>
                    <td data-testid="status">{enumText(m, "status", a.status)}</td>
                    <td data-testid="survey">{enumText(m, "survey", a.survey?.state ?? 0)}</td>
                    <td>{enumText(m, "opinion", a.opinion?.state ?? 0)}</td>
                    <td>
                      <Link
                        to={`/applications/${encodeURIComponent(a.applicationId)}`}
                        aria-label={fmt(m.openFor, { date: formatDate(a.applicationDate, lang) })}
                      >
                        {m.open}
                      </Link>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {next ? (
            <div className="form-actions">
              <button type="button" onClick={() => void load(next)} disabled={busy}>
                {m.more}
              </button>
            </div>
          ) : null}
        </>
      )}
    </>
  );
}

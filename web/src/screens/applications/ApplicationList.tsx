import { useState } from "react";
import { CertificationService } from "../../gen/kaigo/certification/v1/certification_service_pb";
import { DeadlineStatus, type Application } from "../../gen/kaigo/certification/v1/application_pb";
import { useClient } from "../../app/api";
import { DataTable, PagedItems, PageHeading, ProblemAlert } from "../../app/components";
import { fmt, useLang, useMessages } from "../../app/i18n";
import { formatDate } from "../../app/labels";
import { Link } from "../../app/router";
import { usePagedList } from "../../app/usePagedList";
import { DeadlineBadge } from "./DeadlineBadge";
import { enumText, messages } from "./messages";
import { PersonName } from "./PersonName";
import { personKey, usePeople } from "./people";

export function ApplicationList({ role }: { role: string }) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const client = useClient(CertificationService);
  const [urgentOnly, setUrgentOnly] = useState(false);
  const apps = usePagedList<Application>(
    async (pageToken) => {
      const res = await client.listApplications({
        pageSize: 50,
        pageToken,
        orderBy: "urgency",
        deadlineStatuses: urgentOnly ? [DeadlineStatus.OVERDUE, DeadlineStatus.AT_RISK] : [],
      });
      return { items: res.applications, nextPageToken: res.nextPageToken, totalSize: res.totalSize };
    },
    [client, urgentOnly],
  );

  const people = usePeople(apps.items ?? [], role);

  return (
    <>
      <PageHeading title={m.title}>{m.title}</PageHeading>
      <p>{m.lead}</p>
      <div className="form-actions">
        <label className="checkbox">
          <input type="checkbox" checked={urgentOnly} onChange={(e) => setUrgentOnly(e.target.checked)} />
          {m.onlyUrgent}
        </label>
        <button type="button" onClick={() => void apps.refresh()} disabled={apps.busy}>
          {m.refresh}
        </button>
      </div>
      <ProblemAlert problem={apps.problem} />
      <PagedItems list={apps} empty={m.empty} count={(n) => fmt(m.count, { n: apps.total || n })}>
        {(items) => (
          <DataTable
            testId="applications"
            columns={[
              m.colPerson,
              m.colDeadline,
              m.colDate,
              m.colInsurer,
              m.colInsured,
              m.colType,
              m.colStatus,
              m.colSurvey,
              m.colOpinion,
              m.colOpen,
            ]}
          >
            {items.map((a) => (
              <tr key={a.applicationId} data-application-id={a.applicationId}>
                <th scope="row" data-testid="person">
                  <PersonName m={m} person={people.get(personKey(a))} />
                </th>
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
          </DataTable>
        )}
      </PagedItems>
    </>
  );
}

// The requests addressed to the institution (ListOpinionRequests) and the opinions it
// submitted (ListOpinions), each paged.
import { DocumentService } from "../../gen/kaigo/documents/v1/documents_service_pb";
import { OpinionRequestStatus, type Opinion, type OpinionRequest } from "../../gen/kaigo/documents/v1/opinion_pb";
import { useClient } from "../../app/api";
import { DataTable, PagedItems, PageHeading, ProblemAlert } from "../../app/components";
import { fmt, useLang, useMessages } from "../../app/i18n";
import { formatDate, formatTimestamp } from "../../app/labels";
import { Link } from "../../app/router";
import { usePagedList } from "../../app/usePagedList";
import * as E from "./enums";
import { messages } from "./messages";

export function OpinionList() {
  const m = useMessages(messages);
  const { lang } = useLang();
  const client = useClient(DocumentService);
  const requests = usePagedList<OpinionRequest>(
    async (pageToken) => {
      const r = await client.listOpinionRequests({ pageSize: 50, pageToken });
      return { items: r.opinionRequests, nextPageToken: r.nextPageToken };
    },
    [client],
  );
  const opinions = usePagedList<Opinion>(
    async (pageToken) => {
      const r = await client.listOpinions({ pageSize: 50, pageToken });
      return { items: r.opinions, nextPageToken: r.nextPageToken };
    },
    [client],
  );
  const nameOf = (id: string) => requests.items?.find((r) => r.opinionRequestId === id)?.applicant?.nameKanji ?? "";

  return (
    <>
      <PageHeading title={m.title}>{m.title}</PageHeading>
      <p>{m.lead}</p>
      <section aria-labelledby="opinion-requests">
        <h2 id="opinion-requests">{m.requests}</h2>
        <ProblemAlert problem={requests.problem} />
        <PagedItems list={requests} empty={m.requestsEmpty}>
          {(items) => (
            <DataTable
              testId="opinion-requests"
              columns={[
                m.colApplicant,
                m.colBirth,
                m.colInsuredNumber,
                m.colKind,
                m.colRequested,
                m.colDue,
                m.colStatus,
                m.colOpen,
              ]}
            >
              {items.map((r) => {
                const name = r.applicant?.nameKanji ?? "";
                const open = r.status === OpinionRequestStatus.REQUESTED || r.status === OpinionRequestStatus.SUBMITTED;
                return (
                  <tr key={r.opinionRequestId} data-request-id={r.opinionRequestId}>
                    <th scope="row">
                      {name}
                      {r.applicant?.nameKana ? (
                        <>
                          <br />
                          <span className="kana">{r.applicant.nameKana}</span>
                        </>
                      ) : null}
                    </th>
                    <td>{formatDate(r.applicant?.birthDate, lang, { era: true, western: true })}</td>
                    <td>{r.insuredNumber}</td>
                    <td>{E.label(E.REQUEST_KIND, r.kind, lang)}</td>
                    <td>{formatTimestamp(r.createTime, lang)}</td>
                    <td data-testid="request-due">{r.dueDate?.year ? formatDate(r.dueDate, lang) : m.noDue}</td>
                    <td data-testid="request-status">{E.label(E.REQUEST_STATUS, r.status, lang)}</td>
                    <td>
                      {open ? (
                        <Link
                          to={`/opinions/requests/${encodeURIComponent(r.opinionRequestId)}`}
                          aria-label={fmt(r.latestOpinionId ? m.correctFor : m.writeFor, { name })}
                        >
                          {r.latestOpinionId ? m.correct : m.write}
                        </Link>
                      ) : null}
                    </td>
                  </tr>
                );
              })}
            </DataTable>
          )}
        </PagedItems>
      </section>
      <section aria-labelledby="opinion-past">
        <h2 id="opinion-past">{m.past}</h2>
        <ProblemAlert problem={opinions.problem} />
        <PagedItems list={opinions} empty={m.pastEmpty}>
          {(items) => (
            <DataTable
              testId="opinions"
              columns={[
                m.colSubmitted,
                m.colApplicant,
                m.colInsured,
                m.colRevision,
                m.colStatus,
                m.colAttachments,
                m.colOpen,
              ]}
            >
              {items.map((o) => {
                const date = formatTimestamp(o.submitTime, lang);
                return (
                  <tr key={o.opinionId} data-opinion-id={o.opinionId}>
                    <th scope="row">{date}</th>
                    <td>{nameOf(o.opinionRequestId)}</td>
                    <td>
                      {o.insurerNumber} / {o.insuredNumber}
                    </td>
                    <td>{o.revision}</td>
                    <td>{E.label(E.OPINION_STATUS, o.status, lang)}</td>
                    <td data-testid="attachment-count">{o.attachmentIds.length}</td>
                    <td>
                      <Link
                        to={`/opinions/view/${encodeURIComponent(o.opinionId)}`}
                        aria-label={fmt(m.viewFor, { date })}
                      >
                        {m.view}
                      </Link>
                    </td>
                  </tr>
                );
              })}
            </DataTable>
          )}
        </PagedItems>
      </section>
    </>
  );
}

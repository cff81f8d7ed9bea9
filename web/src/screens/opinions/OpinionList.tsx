// The requests addressed to the institution (ListOpinionRequests) and the opinions it
// submitted (ListOpinions), each paged.
import { useCallback, useEffect, useState } from "react";
import { DocumentService } from "../../gen/kaigo/documents/v1/documents_service_pb";
import { OpinionRequestStatus, type Opinion, type OpinionRequest } from "../../gen/kaigo/documents/v1/opinion_pb";
import { useClient } from "../../app/api";
import { Loading, PageHeading, ProblemAlert } from "../../app/components";
import { toProblem, type ApiProblem } from "../../app/errors";
import { fmt, useLang, useMessages } from "../../app/i18n";
import { formatDate, formatTimestamp } from "../../app/labels";
import { Link } from "../../app/router";
import * as E from "./enums";
import { messages } from "./messages";

function usePaged<T>(fetch: (token: string) => Promise<{ items: T[]; next: string }>) {
  const [items, setItems] = useState<T[] | null>(null);
  const [next, setNext] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const load = useCallback(
    async (token: string) => {
      setBusy(true);
      setProblem(null);
      try {
        const res = await fetch(token);
        setItems((prev) => (token && prev ? [...prev, ...res.items] : res.items));
        setNext(res.next);
      } catch (e) {
        setProblem(toProblem(e));
      } finally {
        setBusy(false);
      }
    },
    [fetch],
  );
  useEffect(() => {
    void load("");
  }, [load]);
  return { items, next, busy, problem, load };
}

export function OpinionList() {
  const m = useMessages(messages);
  const { lang } = useLang();
  const client = useClient(DocumentService);
  const requests = usePaged<OpinionRequest>(
    useCallback(
      async (pageToken: string) => {
        const r = await client.listOpinionRequests({ pageSize: 50, pageToken });
        return { items: r.opinionRequests, next: r.nextPageToken };
      },
      [client],
    ),
  );
  const opinions = usePaged<Opinion>(
    useCallback(
      async (pageToken: string) => {
        const r = await client.listOpinions({ pageSize: 50, pageToken });
        return { items: r.opinions, next: r.nextPageToken };
      },
      [client],
    ),
  );
  const nameOf = (id: string) => requests.items?.find((r) => r.opinionRequestId === id)?.applicant?.nameKanji ?? "";

  return (
    <>
      <PageHeading title={m.title}>{m.title}</PageHeading>
      <p>{m.lead}</p>
      <section aria-labelledby="opinion-requests">
        <h2 id="opinion-requests">{m.requests}</h2>
        <ProblemAlert problem={requests.problem} />
        {requests.items === null ? (
          requests.busy ? <Loading /> : null
        ) : requests.items.length === 0 ? (
          <p>{m.requestsEmpty}</p>
        ) : (
          <div className="table-wrap">
            <table data-testid="opinion-requests">
              <thead>
                <tr>
                  <th scope="col">{m.colApplicant}</th>
                  <th scope="col">{m.colKind}</th>
                  <th scope="col">{m.colRequested}</th>
                  <th scope="col">{m.colDue}</th>
                  <th scope="col">{m.colStatus}</th>
                  <th scope="col">{m.colOpen}</th>
                </tr>
              </thead>
              <tbody>
                {requests.items.map((r) => {
                  const name = r.applicant?.nameKanji ?? "";
                  const open = r.status === OpinionRequestStatus.REQUESTED || r.status === OpinionRequestStatus.SUBMITTED;
                  return (
                    <tr key={r.opinionRequestId} data-request-id={r.opinionRequestId}>
                      <th scope="row">{name}</th>
                      <td>{E.label(E.REQUEST_KIND, r.kind, lang)}</td>
                      <td>{formatTimestamp(r.createTime, lang)}</td>
                      <td>{formatDate(r.dueDate, lang)}</td>
                      <td data-testid="request-status">{E.label(E.REQUEST_STATUS, r.status, lang)}</td>
                      <td>
                        {open ? (
                          <Link to={`/opinions/requests/${encodeURIComponent(r.opinionRequestId)}`}
                            aria-label={fmt(r.latestOpinionId ? m.correctFor : m.writeFor, { name })}>
                            {r.latestOpinionId ? m.correct : m.write}
                          </Link>
                        ) : null}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
        {requests.next ? (
          <button type="button" onClick={() => void requests.load(requests.next)} disabled={requests.busy}>
            {m.more}
          </button>
        ) : null}
      </section>
      <section aria-labelledby="opinion-past">
        <h2 id="opinion-past">{m.past}</h2>
        <ProblemAlert problem={opinions.problem} />
        {opinions.items === null ? (
          opinions.busy ? <Loading /> : null
        ) : opinions.items.length === 0 ? (
          <p>{m.pastEmpty}</p>
        ) : (
          <div className="table-wrap">
            <table data-testid="opinions">
              <thead>
                <tr>
                  <th scope="col">{m.colSubmitted}</th>
                  <th scope="col">{m.colApplicant}</th>
                  <th scope="col">{m.colInsured}</th>
                  <th scope="col">{m.colRevision}</th>
                  <th scope="col">{m.colStatus}</th>
                  <th scope="col">{m.colAttachments}</th>
                  <th scope="col">{m.colOpen}</th>
                </tr>
              </thead>
              <tbody>
                {opinions.items.map((o) => {
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
                        <Link to={`/opinions/view/${encodeURIComponent(o.opinionId)}`} aria-label={fmt(m.viewFor, { date })}>
                          {m.view}
                        </Link>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
        {opinions.next ? (
          <button type="button" onClick={() => void opinions.load(opinions.next)} disabled={opinions.busy}>
            {m.more}
          </button>
        ) : null}
      </section>
    </>
  );
}

// 居宅サービス計画作成依頼届出 (docs/domain/access.md): the care office sends one for a person
// (SubmitCarePlanNotification) and sees those it sent; the insurer lists those sent to it and
// accepts (the office becomes the person's registered office) or returns one with a reason.
import { useState, type FormEvent } from "react";
import {
  NotificationStatus,
  RegistryService,
  type CarePlanNotification,
} from "../../gen/kaigo/registry/v1/registry_pb";
import { useClient } from "../../app/api";
import { DataTable, Field, PageHeading, PagedItems, ProblemAlert } from "../../app/components";
import { toProblem, type ApiProblem } from "../../app/errors";
import { identifierInput } from "../../app/halfWidth";
import { fmt, useLang, useMessages } from "../../app/i18n";
import { formatDate, formatTimestamp, parseDateInput, requestId } from "../../app/labels";
import { notificationStatusLabel, personText } from "../../app/registry";
import { usePagedList } from "../../app/usePagedList";
import type { ScreenProps } from "../types";
import { messages } from "./messages";

const SCOPE = "notif";
const STATUSES = [NotificationStatus.SUBMITTED, NotificationStatus.ACCEPTED, NotificationStatus.RETURNED] as const;

function todayInput(): string {
  const d = new Date(Date.now() + 9 * 3600 * 1000);
  return d.toISOString().slice(0, 10);
}

export default function NotificationsScreen({ session }: ScreenProps) {
  const m = useMessages(messages);
  const insurer = session.claims.role === "insurer";
  return (
    <>
      <PageHeading title={m.title}>{m.title}</PageHeading>
      <p>{insurer ? m.leadInsurer : m.leadOffice}</p>
      {insurer ? <Received /> : <Submit />}
    </>
  );
}

/** The list of notifications: sent by this office, or sent to this insurer (with decisions). */
function NotificationList({
  title,
  decide,
  initialStatus,
  reloadKey,
}: {
  title: string;
  decide: boolean;
  initialStatus: number;
  reloadKey: number;
}) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const client = useClient(RegistryService);
  const [status, setStatus] = useState<number>(initialStatus);
  const [returning, setReturning] = useState<string | null>(null);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [actionProblem, setActionProblem] = useState<ApiProblem | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const list = usePagedList<CarePlanNotification>(
    async (pageToken) => {
      const res = await client.listCarePlanNotifications({ status, pageSize: 50, pageToken });
      return { items: res.notifications, nextPageToken: res.nextPageToken };
    },
    [client, status, reloadKey],
  );

  const replace = (n: CarePlanNotification | undefined) => {
    if (!n) return;
    list.setItems((prev) => prev?.map((x) => (x.notificationId === n.notificationId ? n : x)) ?? null);
  };

  const accept = async (id: string) => {
    setBusy(true);
    setActionProblem(null);
    setDone(null);
    try {
      const res = await client.acceptCarePlanNotification({ requestId: requestId(), notificationId: id });
      replace(res.notification);
      setDone(m.accepted);
    } catch (e) {
      setActionProblem(toProblem(e));
    } finally {
      setBusy(false);
    }
  };

  const sendReturn = async (e: FormEvent, id: string) => {
    e.preventDefault();
    setBusy(true);
    setActionProblem(null);
    setDone(null);
    try {
      const res = await client.returnCarePlanNotification({ requestId: requestId(), notificationId: id, reason });
      replace(res.notification);
      setReturning(null);
      setReason("");
      setDone(m.returned);
    } catch (err) {
      setActionProblem(toProblem(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby={`${SCOPE}-list-title`}>
      <h2 id={`${SCOPE}-list-title`}>{title}</h2>
      <div className="form-grid">
        <div className="field">
          <label htmlFor={`${SCOPE}-status`}>{m.filterStatus}</label>
          <select id={`${SCOPE}-status`} value={status} onChange={(e) => setStatus(Number(e.target.value))}>
            <option value={0}>{m.statusAll}</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {notificationStatusLabel(s, lang)}
              </option>
            ))}
          </select>
        </div>
      </div>
      <div className="form-actions">
        <button type="button" onClick={() => void list.refresh()} disabled={list.busy}>
          {m.refresh}
        </button>
      </div>
      <ProblemAlert problem={actionProblem ?? list.problem} scope={SCOPE} claimed={["reason"]} />
      {done ? (
        <p role="status" className="alert alert-info" data-testid="decided">
          {done}
        </p>
      ) : null}
      <PagedItems list={list} empty={m.empty} count={(n) => fmt(m.count, { n })}>
        {(items) => (
          <DataTable
            testId="notifications"
            columns={[
              m.colPerson,
              m.colOffice,
              m.colStart,
              m.colSubmitted,
              m.colStatus,
              ...(decide ? [m.colDecision] : []),
            ]}
          >
            {items.map((n) => {
              const who = { office: n.officeNumber, person: personText(n.person) };
              return (
                <tr key={n.notificationId} data-notification-id={n.notificationId} data-status={n.status}>
                  <td translate="no">{personText(n.person)}</td>
                  <td translate="no">{n.officeNumber}</td>
                  <td>{formatDate(n.startDate, lang)}</td>
                  <td>{formatTimestamp(n.submitTime, lang)}</td>
                  <td data-testid="status">
                    {notificationStatusLabel(n.status, lang)}
                    {n.decideTime ? (
                      <>
                        <br />
                        {fmt(m.decidedAt, { when: formatTimestamp(n.decideTime, lang) })}
                      </>
                    ) : null}
                    {n.returnReason ? (
                      <>
                        <br />
                        <span data-testid="return-reason">{n.returnReason}</span>
                      </>
                    ) : null}
                  </td>
                  {decide ? (
                    <td>
                      {n.status !== NotificationStatus.SUBMITTED ? null : returning === n.notificationId ? (
                        <form onSubmit={(e) => void sendReturn(e, n.notificationId)} noValidate>
                          <Field scope={SCOPE} field="reason" label={m.returnReason} problem={actionProblem} required>
                            {(p) => (
                              <textarea
                                {...p}
                                rows={3}
                                maxLength={400}
                                value={reason}
                                onChange={(e) => setReason(e.target.value)}
                              />
                            )}
                          </Field>
                          <div className="form-actions">
                            <button type="submit" disabled={busy}>
                              {m.returnConfirm}
                            </button>
                            <button type="button" onClick={() => setReturning(null)} disabled={busy}>
                              {m.cancel}
                            </button>
                          </div>
                        </form>
                      ) : (
                        <div className="form-actions">
                          <button
                            type="button"
                            aria-label={fmt(m.acceptFor, who)}
                            onClick={() => void accept(n.notificationId)}
                            disabled={busy}
                          >
                            {m.accept}
                          </button>
                          <button
                            type="button"
                            aria-label={fmt(m.returnFor, who)}
                            onClick={() => {
                              setActionProblem(null);
                              setReason("");
                              setReturning(n.notificationId);
                            }}
                            disabled={busy}
                          >
                            {m.returnOpen}
                          </button>
                        </div>
                      )}
                    </td>
                  ) : null}
                </tr>
              );
            })}
          </DataTable>
        )}
      </PagedItems>
    </section>
  );
}

function Received() {
  const m = useMessages(messages);
  return <NotificationList title={m.receivedTitle} decide initialStatus={NotificationStatus.SUBMITTED} reloadKey={0} />;
}

/** The care office's form; the numbers stay in component state only. */
function Submit() {
  const m = useMessages(messages);
  const { lang } = useLang();
  const client = useClient(RegistryService);
  const [insurerNumber, setInsurerNumber] = useState("");
  const [insuredNumber, setInsuredNumber] = useState("");
  const [start, setStart] = useState(todayInput());
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [submitted, setSubmitted] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [reloadKey, setReloadKey] = useState(0);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    setSubmitted(null);
    try {
      const res = await client.submitCarePlanNotification({
        requestId: requestId(),
        person: { insurerNumber: identifierInput(insurerNumber), insuredNumber: identifierInput(insuredNumber) },
        startDate: parseDateInput(start),
      });
      setSubmitted(fmt(m.submitted, { status: notificationStatusLabel(res.notification!.status, lang) }));
      setReloadKey((k) => k + 1);
    } catch (err) {
      setProblem(toProblem(err));
    } finally {
      setBusy(false);
    }
  };

  const claimed = ["person.insurer_number", "person.insured_number", "start_date"];
  return (
    <>
      <section aria-labelledby={`${SCOPE}-form-title`}>
        <h2 id={`${SCOPE}-form-title`}>{m.formTitle}</h2>
        <ProblemAlert problem={problem} scope={SCOPE} claimed={claimed} />
        <form onSubmit={submit} noValidate autoComplete="off">
          <div className="form-grid">
            <Field scope={SCOPE} field="person.insurer_number" label={m.insurerNumber} problem={problem} required>
              {(p) => (
                <input
                  {...p}
                  inputMode="numeric"
                  value={insurerNumber}
                  onChange={(e) => setInsurerNumber(e.target.value)}
                />
              )}
            </Field>
            <Field scope={SCOPE} field="person.insured_number" label={m.insuredNumber} problem={problem} required>
              {(p) => <input {...p} value={insuredNumber} onChange={(e) => setInsuredNumber(e.target.value)} />}
            </Field>
            <Field scope={SCOPE} field="start_date" label={m.startDate} problem={problem} required>
              {(p) => <input {...p} type="date" value={start} onChange={(e) => setStart(e.target.value)} />}
            </Field>
          </div>
          <div className="form-actions">
            <button type="submit" disabled={busy}>
              {m.submit}
            </button>
          </div>
        </form>
        {submitted ? (
          <p role="status" className="alert alert-info" data-testid="submitted">
            {submitted}
          </p>
        ) : null}
      </section>
      <NotificationList title={m.sentTitle} decide={false} initialStatus={0} reloadKey={reloadKey} />
    </>
  );
}

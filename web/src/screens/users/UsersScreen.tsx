// 利用者登録 (care office, service provider, medical institution; docs/domain/access.md): a card
// confirmation at the reader (StartCardConfirmation, the reader's answer to
// CompleteCardConfirmation), then the registration (RegisterOrganization, evidence
// CARD_CONFIRMATION) and the consent chosen with the person (RecordConsent, CARD_READER); the
// registered users (ListRegistrations) and ending one (EndRegistration).
import { useEffect, useState, type FormEvent } from "react";
import { Purpose } from "../../gen/kaigo/common/v1/access_pb";
import {
  Category,
  ConsentSource,
  Evidence,
  OrganizationKind,
  RegistryService,
  type CompleteCardConfirmationResponse,
  type Registration,
  type StartCardConfirmationResponse,
} from "../../gen/kaigo/registry/v1/registry_pb";
import { useClient } from "../../app/api";
import { DataTable, Field, PageHeading, PagedItems, ProblemAlert } from "../../app/components";
import { toProblem, type ApiProblem } from "../../app/errors";
import { fmt, useLang, useMessages } from "../../app/i18n";
import { formatDate, formatTimestamp, parseDateInput, requestId } from "../../app/labels";
import { CATEGORIES, categoryLabel, endReasonLabel, evidenceLabel, personText, purposeLabel } from "../../app/registry";
import { usePagedList } from "../../app/usePagedList";
import type { ScreenProps } from "../types";
import { parseReaderAnswer, signCommand } from "./cardReader";
import { messages } from "./messages";

const SCOPE = "users";
const PURPOSES = [Purpose.CARE_PLANNING, Purpose.SERVICE_PROVISION, Purpose.BILLING, Purpose.OPINION_WRITING] as const;

function defaultPurpose(role: string): Purpose {
  if (role === "care_office") return Purpose.CARE_PLANNING;
  if (role === "medical_institution") return Purpose.OPINION_WRITING;
  return Purpose.SERVICE_PROVISION;
}

export default function UsersScreen({ session }: ScreenProps) {
  const m = useMessages(messages);
  const [reloadKey, setReloadKey] = useState(0);
  return (
    <>
      <PageHeading title={m.title}>{m.title}</PageHeading>
      <p>{m.lead}</p>
      <CardRegistration
        role={session.claims.role}
        number={session.claims.office_number ?? session.claims.institution_code ?? ""}
        onRegistered={() => setReloadKey((k) => k + 1)}
      />
      <RegisteredUsers reloadKey={reloadKey} />
    </>
  );
}

/** The organisation kind the registry knows the signed-in role as. */
function kindOf(role: string): OrganizationKind {
  if (role === "care_office") return OrganizationKind.CARE_OFFICE;
  if (role === "medical_institution") return OrganizationKind.MEDICAL_INSTITUTION;
  return OrganizationKind.SERVICE_PROVIDER;
}

function CardRegistration({ role, number, onRegistered }: { role: string; number: string; onRegistered: () => void }) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const client = useClient(RegistryService);
  const [started, setStarted] = useState<StartCardConfirmationResponse | null>(null);
  const [answer, setAnswer] = useState("");
  const [answerBad, setAnswerBad] = useState(false);
  const [confirmed, setConfirmed] = useState<CompleteCardConfirmationResponse | null>(null);
  const [categories, setCategories] = useState<Category[]>([]);
  const [purpose, setPurpose] = useState<Purpose>(defaultPurpose(role));
  const [start, setStart] = useState("");
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [done, setDone] = useState<string[] | null>(null);
  const [busy, setBusy] = useState(false);

  const run = async (f: () => Promise<void>) => {
    setBusy(true);
    setProblem(null);
    try {
      await f();
    } catch (e) {
      setProblem(toProblem(e));
    } finally {
      setBusy(false);
    }
  };

  const reset = () => {
    setStarted(null);
    setAnswer("");
    setAnswerBad(false);
    setConfirmed(null);
    setCategories([]);
    setStart("");
    setDone(null);
    setProblem(null);
  };

  const begin = () =>
    run(async () => {
      reset();
      setStarted(await client.startCardConfirmation({ requestId: requestId() }));
    });

  const complete = (e: FormEvent) => {
    e.preventDefault();
    const parsed = parseReaderAnswer(answer);
    setAnswerBad(!parsed);
    if (!parsed || !started) return;
    void run(async () => {
      setConfirmed(
        await client.completeCardConfirmation({
          requestId: requestId(),
          confirmationId: started.confirmationId,
          signature: parsed.signature,
          certificate: parsed.certificate,
        }),
      );
    });
  };

  const register = (e: FormEvent) => {
    e.preventDefault();
    if (!confirmed) return;
    void run(async () => {
      const lines: string[] = [];
      const startDate = parseDateInput(start);
      try {
        await client.registerOrganization({
          requestId: requestId(),
          person: confirmed.person,
          evidence: Evidence.CARD_CONFIRMATION,
          cardConfirmationId: confirmed.confirmationId,
          startDate,
        });
        lines.push(m.registeredDone);
      } catch (err) {
        if (toProblem(err).reason !== "ALREADY_REGISTERED" || categories.length === 0) throw err;
        lines.push(m.alreadyRegistered);
      }
      onRegistered();
      if (categories.length) {
        await client.recordConsent({
          requestId: requestId(),
          person: confirmed.person,
          // A consent given at the reader is given to the organisation itself.
          grantee: { grantee: { case: "organization", value: { kind: kindOf(role), number } } },
          categories,
          purpose,
          source: ConsentSource.CARD_READER,
          cardConfirmationId: confirmed.confirmationId,
          validFrom: startDate,
        });
        lines.push(fmt(m.consentDone, { categories: categories.map((c) => categoryLabel(c, lang)).join("、") }));
      }
      setDone(lines);
    });
  };

  const claimed = ["signature", "certificate", "categories", "purpose", "start_date", "valid_from", "grantee"];
  return (
    <section aria-labelledby={`${SCOPE}-card-title`}>
      <h2 id={`${SCOPE}-card-title`}>{m.cardTitle}</h2>
      <ProblemAlert problem={problem} scope={SCOPE} claimed={claimed} />
      {!started ? (
        <div className="form-actions">
          <button type="button" onClick={() => void begin()} disabled={busy}>
            {m.start}
          </button>
        </div>
      ) : !confirmed ? (
        <form onSubmit={complete} noValidate autoComplete="off">
          <p role="status">{fmt(m.started, { when: formatTimestamp(started.expireTime, lang) })}</p>
          <p>{m.virtualReader}</p>
          <p className="command">
            <code data-testid="sign-command">{signCommand(started.challenge)}</code>
          </p>
          <div className="field">
            <label htmlFor={`${SCOPE}-answer`}>{m.answer}</label>
            <textarea
              id={`${SCOPE}-answer`}
              rows={4}
              value={answer}
              aria-invalid={answerBad || undefined}
              aria-describedby={answerBad ? `${SCOPE}-answer-error` : undefined}
              onChange={(e) => setAnswer(e.target.value)}
            />
            {answerBad ? (
              <p className="field-error" id={`${SCOPE}-answer-error`}>
                {m.answerBad}
              </p>
            ) : null}
          </div>
          <div className="form-actions">
            <button type="submit" disabled={busy}>
              {m.complete}
            </button>
            <button type="button" onClick={() => void begin()} disabled={busy}>
              {m.start}
            </button>
          </div>
        </form>
      ) : (
        <>
          <p role="status" className="alert alert-info" data-testid="confirmed">
            {fmt(m.confirmed, {
              person: personText(confirmed.person),
              until: formatTimestamp(confirmed.usableUntil, lang),
            })}
          </p>
          {done ? (
            <>
              <ul role="status" className="alert alert-info" data-testid="registered">
                {done.map((l) => (
                  <li key={l}>{l}</li>
                ))}
              </ul>
              <div className="form-actions">
                <button type="button" onClick={() => void begin()} disabled={busy}>
                  {m.again}
                </button>
              </div>
            </>
          ) : (
            <form onSubmit={register} noValidate autoComplete="off">
              <fieldset id={`${SCOPE}-categories`}>
                <legend>{m.consentTitle}</legend>
                <p>{m.consentLead}</p>
                {CATEGORIES.map((c) => (
                  <label key={c} className="checkbox">
                    <input
                      type="checkbox"
                      checked={categories.includes(c)}
                      onChange={(e) =>
                        setCategories((prev) => (e.target.checked ? [...prev, c] : prev.filter((x) => x !== c)))
                      }
                    />
                    {categoryLabel(c, lang)}
                  </label>
                ))}
              </fieldset>
              <div className="form-grid">
                <Field scope={SCOPE} field="purpose" label={m.purpose} problem={problem}>
                  {(p) => (
                    <select {...p} value={purpose} onChange={(e) => setPurpose(Number(e.target.value))}>
                      {PURPOSES.map((x) => (
                        <option key={x} value={x}>
                          {purposeLabel(x, lang)}
                        </option>
                      ))}
                    </select>
                  )}
                </Field>
                <Field
                  scope={SCOPE}
                  field="start_date"
                  alsoFields={["valid_from"]}
                  label={m.startDate}
                  problem={problem}
                >
                  {(p) => <input {...p} type="date" value={start} onChange={(e) => setStart(e.target.value)} />}
                </Field>
              </div>
              <div className="form-actions">
                <button type="submit" disabled={busy}>
                  {m.register}
                </button>
              </div>
            </form>
          )}
        </>
      )}
    </section>
  );
}

function RegisteredUsers({ reloadKey }: { reloadKey: number }) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const client = useClient(RegistryService);
  const [includeEnded, setIncludeEnded] = useState(false);
  const [ending, setEnding] = useState<string | null>(null);
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [ended, setEnded] = useState(false);

  // A new registration above: the "ended" note was about an earlier action.
  useEffect(() => setEnded(false), [reloadKey]);

  const list = usePagedList<Registration>(
    async (pageToken) => {
      const res = await client.listRegistrations({ includeEnded, pageSize: 50, pageToken });
      return { items: res.registrations, nextPageToken: res.nextPageToken };
    },
    [client, includeEnded, reloadKey],
  );

  const end = async (e: FormEvent, id: string) => {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    setEnded(false);
    try {
      const res = await client.endRegistration({ requestId: requestId(), registrationId: id, note });
      const r = res.registration;
      list.setItems(
        (prev) =>
          prev
            ?.map((x) => (r && x.registrationId === r.registrationId ? r : x))
            .filter((x) => includeEnded || !x.endTime) ?? null,
      );
      setEnding(null);
      setNote("");
      setEnded(true);
    } catch (err) {
      setProblem(toProblem(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby={`${SCOPE}-list-title`}>
      <h2 id={`${SCOPE}-list-title`}>{m.listTitle}</h2>
      <div className="field">
        <label className="checkbox">
          <input type="checkbox" checked={includeEnded} onChange={(e) => setIncludeEnded(e.target.checked)} />
          {m.showEnded}
        </label>
      </div>
      <div className="form-actions">
        <button type="button" onClick={() => void list.refresh()} disabled={list.busy}>
          {m.refresh}
        </button>
      </div>
      <ProblemAlert problem={problem ?? list.problem} scope={`${SCOPE}-end`} claimed={["note"]} />
      {ended ? (
        <p role="status" className="alert alert-info" data-testid="ended">
          {m.ended}
        </p>
      ) : null}
      <PagedItems list={list} empty={m.empty} count={(n) => fmt(m.count, { n })}>
        {(items) => (
          <DataTable
            testId="registrations"
            columns={[m.colPerson, m.colSince, m.colEvidence, m.colLastService, m.colState, m.colAction]}
          >
            {items.map((r) => {
              const person = personText(r.person);
              return (
                <tr key={r.registrationId} data-registration-id={r.registrationId} data-person={person}>
                  <td translate="no">{person}</td>
                  <td>{formatDate(r.startDate, lang)}</td>
                  <td>{evidenceLabel(r.evidence, lang)}</td>
                  <td>{r.lastServiceDate ? formatDate(r.lastServiceDate, lang) : "—"}</td>
                  <td data-testid="state">
                    {r.endTime
                      ? `${endReasonLabel(r.endReason, lang)}（${formatTimestamp(r.endTime, lang)}）`
                      : m.active}
                  </td>
                  <td>
                    {r.endTime ? null : ending === r.registrationId ? (
                      <form
                        role="alertdialog"
                        aria-label={m.end}
                        data-testid="confirm-end"
                        onSubmit={(e) => void end(e, r.registrationId)}
                        noValidate
                      >
                        <p>{fmt(m.endConfirm, { person })}</p>
                        <Field scope={`${SCOPE}-end`} field="note" label={m.endNote} problem={problem}>
                          {(p) => (
                            <textarea
                              {...p}
                              rows={2}
                              maxLength={400}
                              value={note}
                              onChange={(e) => setNote(e.target.value)}
                            />
                          )}
                        </Field>
                        <div className="form-actions">
                          <button type="submit" disabled={busy}>
                            {m.endYes}
                          </button>
                          <button type="button" onClick={() => setEnding(null)} disabled={busy}>
                            {m.endNo}
                          </button>
                        </div>
                      </form>
                    ) : (
                      <button
                        type="button"
                        aria-label={fmt(m.endFor, { person })}
                        onClick={() => {
                          setEnded(false);
                          setNote("");
                          setEnding(r.registrationId);
                        }}
                      >
                        {m.end}
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </DataTable>
        )}
      </PagedItems>
    </section>
  );
}

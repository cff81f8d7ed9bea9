// One application as the operator reviews it: the costs, the calculation with its lines (as
// the applicant saw them), and the actions its state allows (ReviewApplication,
// ApproveApplication, RejectApplication, RecordPayment). Every write carries the version last
// read and a request_id that is fresh for a new write and the same for a retry of that write
// after a network error (WriteKeys); a stale version (ABORTED) reloads the application.
import { useCallback, useEffect, useState, type FormEvent, type ReactNode } from "react";
import { Code } from "@connectrpc/connect";
import { SubsidyService } from "../../gen/kaigo/subsidies/v1/subsidies_service_pb";
import {
  ApplicationStatus,
  InstitutionType,
  type Application,
  type Programme,
} from "../../gen/kaigo/subsidies/v1/subsidy_pb";
import { useClient } from "../../app/api";
import { Field, Loading, ProblemAlert } from "../../app/components";
import { BreakdownTable } from "../../app/subsidies";
import { toProblem, type ApiProblem } from "../../app/errors";
import { fmt, useLang, useMessages } from "../../app/i18n";
import { formatDate, formatTimestamp, parseDateInput, requestId, yen } from "../../app/labels";
import { Link } from "../../app/router";
import { StatusBadge, applicantNumber, categoryText, parseYen, todayJstInput } from "./common";
import { enumText, messages } from "./messages";
import { prefectureName } from "./prefectures";
import { WriteKeys, writeBody } from "./writeKeys";

const SCOPE = "review";
const FIELDS = ["approved_amount_yen", "reason", "reasons", "paid_amount_yen", "paid_date", "payment_reference"];
/** ReturnApplication reports a reason's problem on `reasons[i]` (at most 20 reasons). */
const RETURN_REASON_FIELDS = Array.from({ length: 20 }, (_, i) => `reasons[${i}]`);

/** A problem found before sending (a value that is not a number), shown like the API's. */
function localProblem(field: string, description: string): ApiProblem {
  return { code: Code.InvalidArgument, message: "", fields: [{ field, reason: "", description }], preconditions: [] };
}

/** One action on the application: a form whose fieldset holds the inputs and the submit button. */
function ActionForm({
  legend,
  submit,
  busy,
  onSubmit,
  children,
}: {
  legend: string;
  submit: string;
  busy: boolean;
  onSubmit: (e: FormEvent) => void;
  children: ReactNode;
}) {
  return (
    <form onSubmit={onSubmit} noValidate autoComplete="off">
      <fieldset>
        <legend>{legend}</legend>
        {children}
        <div className="form-actions">
          <button type="submit" disabled={busy}>
            {submit}
          </button>
        </div>
      </fieldset>
    </form>
  );
}

/** A required amount of yen typed by the operator. */
function YenField({
  field,
  label,
  hint,
  problem,
  value,
  onChange,
}: {
  field: string;
  label: string;
  hint: string;
  problem: ApiProblem | null;
  value: string;
  onChange: (v: string) => void;
}) {
  return (
    <Field scope={SCOPE} field={field} label={label} hint={hint} problem={problem} required>
      {(p) => <input {...p} inputMode="numeric" value={value} onChange={(e) => onChange(e.target.value)} />}
    </Field>
  );
}

export function ReviewDetail({ applicationId }: { applicationId: string }) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const client = useClient(SubsidyService);
  const [keys] = useState(() => new WriteKeys(requestId));
  const [app, setApp] = useState<Application | null>(null);
  const [programme, setProgramme] = useState<Programme | undefined>(undefined);
  const [loadProblem, setLoadProblem] = useState<ApiProblem | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [stale, setStale] = useState(false);
  const [done, setDone] = useState("");
  const [busy, setBusy] = useState(false);
  const [approveAmount, setApproveAmount] = useState("");
  const [reason, setReason] = useState("");
  const [returnReasons, setReturnReasons] = useState("");
  const [payAmount, setPayAmount] = useState("");
  const [payDate, setPayDate] = useState(todayJstInput);
  const [payReference, setPayReference] = useState("");

  const load = useCallback(async () => {
    try {
      const res = await client.getApplication({ applicationId });
      setApp(res.application ?? null);
      setLoadProblem(null);
      return res.application;
    } catch (e) {
      setLoadProblem(toProblem(e));
      return undefined;
    }
  }, [client, applicationId]);

  useEffect(() => {
    void (async () => {
      const a = await load();
      if (!a) return;
      try {
        setProgramme((await client.getProgramme({ programmeId: a.programmeId })).programme);
      } catch {
        /* names fall back to ids */
      }
    })();
  }, [client, load]);

  // The amounts start from what the application allows, whenever a new version is read.
  const version = app?.version;
  useEffect(() => {
    if (!app) return;
    setApproveAmount(String(app.calculation?.eligibleAmountYen ?? 0n));
    setPayAmount(String(app.approvedAmountYen));
    // only a new version resets them
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [version]);

  /** Sends one write; the answer replaces the application. */
  const write = async (
    rpc: string,
    body: Record<string, unknown>,
    call: (requestId: string) => Promise<{ application?: Application }>,
  ) => {
    setBusy(true);
    setProblem(null);
    setStale(false);
    setDone("");
    const id = keys.idFor(writeBody(rpc, body));
    try {
      const res = await call(id);
      keys.settle();
      if (res.application) {
        setApp(res.application);
        setDone(fmt(m.done, { status: enumText(m, "status", res.application.status) }));
        // Write answers carry no history: read it again.
        void load();
      }
    } catch (e) {
      keys.settle(e);
      const p = toProblem(e);
      if (p.code === Code.Aborted) {
        setStale(true);
        await load();
      } else {
        setProblem(p);
      }
    } finally {
      setBusy(false);
    }
  };

  if (!app) {
    return (
      <>
        <p>
          <Link to="/review">← {m.back}</Link>
        </p>
        {loadProblem ? <ProblemAlert problem={loadProblem} /> : <Loading />}
      </>
    );
  }

  const base = { applicationId: app.applicationId, expectedVersion: app.version };
  const eligible = app.calculation?.eligibleAmountYen ?? 0n;

  const startReview = () =>
    write("ReviewApplication", base, (requestId) => client.reviewApplication({ requestId, ...base }));

  const approve = (e: FormEvent) => {
    e.preventDefault();
    const n = parseYen(approveAmount);
    if (Number.isNaN(n)) return setProblem(localProblem("approved_amount_yen", m.notNumber));
    const req = { ...base, approvedAmountYen: BigInt(n) };
    void write("ApproveApplication", req, (requestId) => client.approveApplication({ requestId, ...req }));
  };

  const reject = (e: FormEvent) => {
    e.preventDefault();
    const req = { ...base, reason };
    void write("RejectApplication", req, (requestId) => client.rejectApplication({ requestId, ...req }));
  };

  const giveBack = (e: FormEvent) => {
    e.preventDefault();
    // One reason per line; blank lines are not reasons.
    const reasons = returnReasons
      .split("\n")
      .map((r) => r.trim())
      .filter((r) => r !== "");
    const req = { ...base, reasons };
    void write("ReturnApplication", req, (requestId) => client.returnApplication({ requestId, ...req }));
  };

  const pay = (e: FormEvent) => {
    e.preventDefault();
    const n = parseYen(payAmount);
    if (Number.isNaN(n)) return setProblem(localProblem("paid_amount_yen", m.notNumber));
    // An empty date is sent as unset: the API says it is required, beside the field.
    const req = {
      ...base,
      paidAmountYen: BigInt(n),
      paidDate: parseDateInput(payDate),
      paymentReference: payReference,
    };
    void write("RecordPayment", req, (requestId) => client.recordPayment({ requestId, ...req }));
  };

  const status = app.status;
  const canReview = status === ApplicationStatus.SUBMITTED;
  const canApprove = status === ApplicationStatus.UNDER_REVIEW;
  const canReject = status === ApplicationStatus.SUBMITTED || status === ApplicationStatus.UNDER_REVIEW;
  const canReturn = canReject;
  const canPay = status === ApplicationStatus.APPROVED;
  const calc = app.calculation;

  return (
    <>
      <p>
        <Link to="/review">← {m.back}</Link>
      </p>
      <section aria-labelledby="review-summary">
        <h2 id="review-summary">{m.summary}</h2>
        <dl className="facts" data-testid="summary">
          <dt>{m.colStatus}</dt>
          <dd data-testid="status">
            <StatusBadge m={m} status={status} />
          </dd>
          <dt>{m.programme}</dt>
          <dd>{programme?.title ?? app.programmeId}</dd>
          <dt>{m.applicant}</dt>
          <dd>
            {enumText(m, "kind", app.applicantKind)} {applicantNumber(app)}
          </dd>
          <dt>{m.prefecture}</dt>
          <dd>{prefectureName(app.prefectureCode, lang)}</dd>
          <dt>{m.applicationId}</dt>
          <dd>
            <code>{app.applicationId}</code>
          </dd>
          <dt>{m.created}</dt>
          <dd>{formatTimestamp(app.createTime, lang)}</dd>
          <dt>{m.submittedAt}</dt>
          <dd>{formatTimestamp(app.submitTime, lang)}</dd>
          <dt>{m.updated}</dt>
          <dd>
            {formatTimestamp(app.updateTime, lang)}
            {app.updatedBy ? ` — ${enumText(m, "role", app.updatedBy.role)}` : ""}
          </dd>
          <dt>{m.version}</dt>
          <dd data-testid="version">{String(app.version)}</dd>
          {app.approvedAmountYen > 0n ? (
            <>
              <dt>{m.approvedAmount}</dt>
              <dd data-testid="approved-amount" data-yen={String(app.approvedAmountYen)}>
                {yen(app.approvedAmountYen, lang)}
              </dd>
            </>
          ) : null}
          {app.returnReasons.length ? (
            <>
              <dt>{m.returnReasons}</dt>
              <dd data-testid="return-reasons">
                <ul>
                  {app.returnReasons.map((r, i) => (
                    <li key={i}>{r}</li>
                  ))}
                </ul>
              </dd>
            </>
          ) : null}
          {app.rejectionReason ? (
            <>
              <dt>{m.rejectionReason}</dt>
              <dd data-testid="rejection-reason">{app.rejectionReason}</dd>
            </>
          ) : null}
          {app.paidAmountYen > 0n ? (
            <>
              <dt>{m.paidAmount}</dt>
              <dd data-testid="paid-amount" data-yen={String(app.paidAmountYen)}>
                {yen(app.paidAmountYen, lang)}
              </dd>
              <dt>{m.paidDate}</dt>
              <dd>{formatDate(app.paidDate, lang)}</dd>
              {app.paymentReference ? (
                <>
                  <dt>{m.paymentReference}</dt>
                  <dd>{app.paymentReference}</dd>
                </>
              ) : null}
            </>
          ) : null}
          <dt>{m.evidence}</dt>
          <dd>{app.evidence.length ? fmt(m.evidenceCount, { n: app.evidence.length }) : m.none}</dd>
        </dl>
      </section>

      <section aria-labelledby="review-costs">
        <h2 id="review-costs">{m.costs}</h2>
        {app.costs.case === "careOffice" ? (
          <dl className="facts" data-testid="costs">
            <dt>{m.officeNumber}</dt>
            <dd>{app.costs.value.officeNumber}</dd>
            <dt>{m.categories}</dt>
            <dd>{categoryText(app.costs.value.categoryIds.join("+"), programme)}</dd>
            <dt>{m.readers}</dt>
            <dd>
              {app.costs.value.readers.length
                ? app.costs.value.readers
                    .map((r) => fmt(m.readerLine, { q: r.quantity, price: yen(r.unitPriceYen, lang) }))
                    .join(", ")
                : m.none}
            </dd>
            <dt>{m.connection}</dt>
            <dd>{yen(app.costs.value.connectionSupportCostYen, lang)}</dd>
            <dt>{m.setup}</dt>
            <dd>{yen(app.costs.value.careplanSetupCostYen, lang)}</dd>
          </dl>
        ) : app.costs.case === "medicalInstitution" ? (
          <dl className="facts" data-testid="costs">
            <dt>{m.institutionCode}</dt>
            <dd>{app.costs.value.institutionCode}</dd>
            <dt>{m.institutionType}</dt>
            <dd>{app.costs.value.institutionType === InstitutionType.HOSPITAL ? m.hospital : m.clinic}</dd>
            <dt>{m.beds}</dt>
            <dd>{app.costs.value.beds}</dd>
            <dt>{m.software}</dt>
            <dd>{yen(app.costs.value.softwareChangeCostYen, lang)}</dd>
          </dl>
        ) : null}
      </section>

      {calc ? (
        <section aria-labelledby="review-calc">
          <h2 id="review-calc">{m.calculation}</h2>
          <div className="verdict verdict-ok">
            <p className="big">
              {m.amount}:{" "}
              <span data-testid="eligible-amount" data-yen={String(calc.eligibleAmountYen)}>
                {yen(calc.eligibleAmountYen, lang)}
              </span>
            </p>
            <p>
              {m.totalCost}: {yen(calc.totalCostYen, lang)} / {m.eligibleCost}: {yen(calc.eligibleCostYen, lang)}
              {calc.tierId ? ` / ${m.tier}: ${categoryText(calc.tierId, programme)}` : ""}
            </p>
          </div>
          {calc.lines.length ? (
            <BreakdownTable lines={calc.lines} caption={m.breakdown} columns={[m.lineItem, m.lineAmount]} lang={lang} />
          ) : null}
        </section>
      ) : null}

      {app.history.length ? (
        <section aria-labelledby="review-history">
          <h2 id="review-history">{m.history}</h2>
          <table data-testid="history">
            <thead>
              <tr>
                <th scope="col">{m.version}</th>
                <th scope="col">{m.historyAction}</th>
                <th scope="col">{m.colStatus}</th>
                <th scope="col">{m.historyWhen}</th>
                <th scope="col">{m.historyWho}</th>
                <th scope="col">{m.amount}</th>
              </tr>
            </thead>
            <tbody>
              {app.history.map((e) => (
                <tr key={String(e.version)} data-action={e.action}>
                  <td>{String(e.version)}</td>
                  <td>
                    {(m as Record<string, string>)[`action_${e.action}`] ?? e.action}
                    {e.reasons.length ? (
                      <ul>
                        {e.reasons.map((r, i) => (
                          <li key={i}>{r}</li>
                        ))}
                      </ul>
                    ) : null}
                  </td>
                  <td>{enumText(m, "status", e.toStatus)}</td>
                  <td>{formatTimestamp(e.time, lang)}</td>
                  <td>{e.actor ? enumText(m, "role", e.actor.role) : ""}</td>
                  <td data-yen={String(e.eligibleAmountYen)}>{yen(e.eligibleAmountYen, lang)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ) : null}

      <section aria-labelledby="review-actions">
        <h2 id="review-actions">{m.actions}</h2>
        {stale ? (
          <p className="alert alert-error" role="alert" data-testid="stale">
            {m.stale}
          </p>
        ) : null}
        <ProblemAlert problem={problem} scope={SCOPE} claimed={FIELDS} />
        {done ? (
          <p className="alert alert-info" role="status" data-testid="done">
            {done}
          </p>
        ) : null}
        {busy ? <p role="status">{m.working}</p> : null}
        {!canReview && !canApprove && !canReject && !canReturn && !canPay ? <p>{m.noActions}</p> : null}
        {canReview ? (
          <div className="stack">
            <p>{m.startReviewLead}</p>
            <div className="form-actions">
              <button type="button" onClick={() => void startReview()} disabled={busy}>
                {m.startReview}
              </button>
            </div>
          </div>
        ) : null}
        {canApprove ? (
          <ActionForm legend={m.approveLegend} submit={m.approve} busy={busy} onSubmit={approve}>
            <div className="form-grid">
              <YenField
                field="approved_amount_yen"
                label={m.approveAmount}
                hint={fmt(m.approveHint, { amount: yen(eligible, lang) })}
                problem={problem}
                value={approveAmount}
                onChange={setApproveAmount}
              />
            </div>
          </ActionForm>
        ) : null}
        {canPay ? (
          <ActionForm legend={m.payLegend} submit={m.pay} busy={busy} onSubmit={pay}>
            <div className="form-grid">
              <YenField
                field="paid_amount_yen"
                label={m.payAmount}
                hint={fmt(m.payAmountHint, { amount: yen(app.approvedAmountYen, lang) })}
                problem={problem}
                value={payAmount}
                onChange={setPayAmount}
              />
              <Field scope={SCOPE} field="paid_date" label={m.payDate} problem={problem} required>
                {(p) => <input {...p} type="date" value={payDate} onChange={(e) => setPayDate(e.target.value)} />}
              </Field>
              <Field scope={SCOPE} field="payment_reference" label={m.payReference} problem={problem}>
                {(p) => <input {...p} value={payReference} onChange={(e) => setPayReference(e.target.value)} />}
              </Field>
            </div>
          </ActionForm>
        ) : null}
        {canReturn ? (
          <ActionForm legend={m.returnLegend} submit={m.giveBack} busy={busy} onSubmit={giveBack}>
            <Field
              scope={SCOPE}
              field="reasons"
              alsoFields={RETURN_REASON_FIELDS}
              label={m.returnReasonsInput}
              hint={m.returnReasonsHint}
              problem={problem}
              required
            >
              {(p) => (
                <textarea {...p} rows={3} value={returnReasons} onChange={(e) => setReturnReasons(e.target.value)} />
              )}
            </Field>
          </ActionForm>
        ) : null}
        {canReject ? (
          <ActionForm legend={m.rejectLegend} submit={m.reject} busy={busy} onSubmit={reject}>
            <Field scope={SCOPE} field="reason" label={m.reason} problem={problem} required>
              {(p) => <textarea {...p} rows={3} value={reason} onChange={(e) => setReason(e.target.value)} />}
            </Field>
          </ActionForm>
        ) : null}
      </section>
    </>
  );
}

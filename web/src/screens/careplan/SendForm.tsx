// 送信: the user picks the CSV files of one send unit and the receiving office; the addressing
// is read from the file names (editable), then SendBundle (or ValidateFiles to check only).
// Files are read as bytes (MS932 stays MS932). Every problem the API reports is shown beside
// its file with line, column and rule.
import { useId, useState, type ChangeEvent, type FormEvent } from "react";
import { Code } from "@connectrpc/connect";
import { CarePlanService } from "../../gen/kaigo/careplan/v1/careplan_service_pb";
import { IssueSeverity, SendUnitKind, type Bundle, type ValidationIssue } from "../../gen/kaigo/careplan/v1/bundle_pb";
import { useClient } from "../../app/api";
import { Field, ProblemAlert } from "../../app/components";
import { codeText, violationText } from "../../app/reasons";
import { toProblem, type ApiProblem } from "../../app/errors";
import { fmt, useLang, useMessages } from "../../app/i18n";
import { requestId } from "../../app/labels";
import { addressingOf, issueOf } from "./fileNames";
import { kindText, messages } from "./messages";

const SCOPE = "careplan";

interface Picked {
  name: string;
  bytes: Uint8Array<ArrayBuffer>;
}

/** One problem, from SendBundle's violations or ValidateFiles' issues. */
interface Shown {
  code: string;
  line: number;
  column: number;
  message: string;
  severity: IssueSeverity;
}

const KINDS = [
  SendUnitKind.PLAN,
  SendUnitKind.USAGE_TICKET,
  SendUnitKind.PLAN_DELETE,
  SendUnitKind.USAGE_TICKET_DELETE,
  SendUnitKind.ACTUALS,
  SendUnitKind.ACTUALS_DELETE,
  SendUnitKind.PREVENTION_BASIC,
  SendUnitKind.PREVENTION_PLAN_WITH_BASIC,
  SendUnitKind.PREVENTION_PLAN,
  SendUnitKind.PREVENTION_BASIC_DELETE,
  SendUnitKind.PREVENTION_PLAN_DELETE,
];

const CLAIMED = [
  "bundle.receiver_office_number",
  "bundle.kind",
  "bundle.sender_service_type",
  "bundle.receiver_service_type",
  "bundle.service_month",
  "bundle.file_sequence",
  "files",
];

export function SendForm({ office }: { office: string }) {
  const m = useMessages(messages);
  const client = useClient(CarePlanService);
  const filesId = useId();
  const [files, setFiles] = useState<Picked[]>([]);
  const [reading, setReading] = useState(false);
  const [receiver, setReceiver] = useState("");
  const [kind, setKind] = useState<SendUnitKind>(SendUnitKind.UNSPECIFIED);
  const [senderType, setSenderType] = useState("");
  const [receiverType, setReceiverType] = useState("");
  const [month, setMonth] = useState("");
  const [sequence, setSequence] = useState("");
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [checked, setChecked] = useState<ValidationIssue[] | null>(null);
  const [sent, setSent] = useState<Bundle | null>(null);
  const [busy, setBusy] = useState(false);

  const pick = async (e: ChangeEvent<HTMLInputElement>) => {
    const list = Array.from(e.target.files ?? []);
    setReading(true);
    setProblem(null);
    setChecked(null);
    setSent(null);
    try {
      const picked = await Promise.all(
        list.map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })),
      );
      setFiles(picked);
      const a = addressingOf(picked.map((p) => p.name));
      if (a) {
        setKind(a.kind);
        setSenderType(a.senderType);
        setReceiverType(a.receiverType);
        setMonth(a.month);
        setSequence(a.sequence);
        setReceiver((r) => r || a.receiver);
      }
    } finally {
      setReading(false);
    }
  };

  const bundle = () => {
    const mm = /^(\d{4})-(\d{2})$/.exec(month);
    return {
      senderOfficeNumber: office,
      senderServiceType: senderType.trim(),
      receiverOfficeNumber: receiver.trim(),
      receiverServiceType: receiverType.trim(),
      serviceMonth: mm ? { year: Number(mm[1]), month: Number(mm[2]) } : undefined,
      kind,
      fileSequence: sequence.trim(),
    };
  };

  const send = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    setChecked(null);
    setSent(null);
    try {
      const res = await client.sendBundle({
        requestId: requestId(),
        bundle: bundle(),
        files: files.map((f) => ({ fileName: f.name, content: f.bytes })),
      });
      setSent(res.bundle ?? null);
    } catch (err) {
      setProblem(toProblem(err));
    } finally {
      setBusy(false);
    }
  };

  const validate = async () => {
    setBusy(true);
    setProblem(null);
    setChecked(null);
    setSent(null);
    try {
      const res = await client.validateFiles({
        files: files.map((f) => ({ fileName: f.name, content: f.bytes })),
        kind,
      });
      setChecked(res.issues);
    } catch (err) {
      setProblem(toProblem(err));
    } finally {
      setBusy(false);
    }
  };

  // Problems per file (by index) and of the unit as a whole.
  const perFile: Shown[][] = files.map(() => []);
  const unitLevel: Shown[] = [];
  if (problem?.code === Code.InvalidArgument) {
    // Each problem is a field violation: its path names file, line and column, its reason the rule.
    for (const f of problem.fields) {
      const p = issueOf(f);
      if (!p) continue;
      const shown = { code: p.code, line: p.line, column: p.column, message: p.message, severity: IssueSeverity.ERROR };
      if (p.file !== null && p.file < files.length) perFile[p.file].push(shown);
      else if (p.file === null) unitLevel.push(shown);
    }
  }
  for (const issue of checked ?? []) {
    const shown = {
      code: issue.code,
      line: issue.line,
      column: issue.column,
      message: issue.message,
      severity: issue.severity,
    };
    const i = files.findIndex((f) => f.name === issue.fileName);
    if (i >= 0) perFile[i].push(shown);
    else unitLevel.push(shown);
  }
  const anyFileIssue = perFile.some((l) => l.length) || unitLevel.length > 0;
  const issuesId = `${filesId}-issues`;
  const hintId = `${filesId}-hint`;

  return (
    <section aria-labelledby="careplan-send">
      <h2 id="careplan-send">{m.sendTitle}</h2>
      <form onSubmit={send} noValidate autoComplete="off" className="stack">
        <div className={anyFileIssue ? "field field-invalid" : "field"}>
          <label htmlFor={filesId}>{m.filesLabel}</label>
          <p className="hint" id={hintId}>
            {m.filesHint}
          </p>
          <input
            id={filesId}
            type="file"
            multiple
            accept=".csv,.CSV,text/csv"
            aria-describedby={anyFileIssue ? `${hintId} ${issuesId}` : hintId}
            aria-invalid={anyFileIssue || undefined}
            onChange={(e) => void pick(e)}
          />
        </div>
        {reading ? <p role="status">{m.readingFiles}</p> : null}
        <div id={issuesId}>
          {files.length ? (
            <>
              <h3>{m.selected}</h3>
              <ul className="file-list" data-testid="picked-files">
                {files.map((f, i) => (
                  <li
                    key={`${f.name}-${i}`}
                    data-file={f.name}
                    className={perFile[i].length ? "file-invalid" : undefined}
                  >
                    <span className="filename">{f.name}</span>{" "}
                    <span className="reason">({fmt(m.bytes, { n: f.bytes.length })})</span>
                    {perFile[i].length ? <IssueList title={m.issues} issues={perFile[i]} /> : null}
                  </li>
                ))}
              </ul>
            </>
          ) : null}
          {unitLevel.length ? (
            <div className="file-invalid" data-testid="unit-issues">
              <IssueList title={m.bundleIssues} issues={unitLevel} />
            </div>
          ) : null}
        </div>
        {checked !== null && checked.length === 0 ? (
          <p className="alert alert-info" role="status" data-testid="valid">
            {m.validOk}
          </p>
        ) : null}
        <div className="form-grid">
          <Field
            scope={SCOPE}
            field="bundle.receiver_office_number"
            label={m.receiver}
            hint={m.receiverHint}
            problem={problem}
            required
          >
            {(p) => <input {...p} inputMode="numeric" value={receiver} onChange={(e) => setReceiver(e.target.value)} />}
          </Field>
          <Field scope={SCOPE} field="bundle.kind" label={m.kind} problem={problem} required>
            {(p) => (
              <select {...p} value={kind} onChange={(e) => setKind(Number(e.target.value))}>
                <option value={SendUnitKind.UNSPECIFIED}>{m.kindAuto}</option>
                {KINDS.map((k) => (
                  <option key={k} value={k}>
                    {kindText(m, k)}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field
            scope={SCOPE}
            field="bundle.service_month"
            label={m.serviceMonth}
            hint={m.serviceMonthHint}
            problem={problem}
          >
            {(p) => <input {...p} type="month" value={month} onChange={(e) => setMonth(e.target.value)} />}
          </Field>
          <Field
            scope={SCOPE}
            field="bundle.file_sequence"
            label={m.sequence}
            hint={m.sequenceHint}
            problem={problem}
            required
          >
            {(p) => <input {...p} inputMode="numeric" value={sequence} onChange={(e) => setSequence(e.target.value)} />}
          </Field>
          <Field scope={SCOPE} field="bundle.sender_service_type" label={m.senderType} problem={problem}>
            {(p) => <input {...p} value={senderType} onChange={(e) => setSenderType(e.target.value)} />}
          </Field>
          <Field scope={SCOPE} field="bundle.receiver_service_type" label={m.receiverType} problem={problem}>
            {(p) => <input {...p} value={receiverType} onChange={(e) => setReceiverType(e.target.value)} />}
          </Field>
        </div>
        <ProblemAlert problem={problem} scope={SCOPE} claimed={CLAIMED} />
        <div className="form-actions">
          <button type="submit" disabled={busy || reading || !files.length}>
            {m.send}
          </button>
          <button type="button" disabled={busy || reading || !files.length} onClick={() => void validate()}>
            {m.validate}
          </button>
        </div>
        {!files.length ? <p className="hint">{m.noFiles}</p> : null}
        {busy ? <p role="status">{m.sending}</p> : null}
        {sent ? (
          <p className="alert alert-info" role="status" data-testid="sent-result" data-bundle-id={sent.bundleId}>
            {fmt(m.sent, { files: sent.files.length, persons: sent.personCount })}
          </p>
        ) : null}
      </form>
    </section>
  );
}

function IssueList({ title, issues }: { title: string; issues: Shown[] }) {
  const m = useMessages(messages);
  const { lang } = useLang();
  return (
    <div className="issues">
      <p className="issues-title">{title}</p>
      <ul className="field-error" data-testid="file-issues">
        {issues.map((x, i) => (
          <li key={i} data-code={x.code} data-line={x.line} data-column={x.column}>
            {x.line ? (
              <span className="where">
                {fmt(x.column ? m.issueAt : m.issueAtLine, { line: x.line, column: x.column })}:{" "}
              </span>
            ) : null}
            {codeText(x.code, lang) ?? violationText(x.message, lang)}
            {x.code ? (
              <span className="reason" translate="no">
                {" "}
                ({x.code})
              </span>
            ) : null}
            {x.severity === IssueSeverity.WARNING ? <span className="reason"> [{m.severity_2}]</span> : null}
          </li>
        ))}
      </ul>
    </div>
  );
}

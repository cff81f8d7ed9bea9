// Shared building blocks: page heading (takes focus after navigation), labelled
// fields with their API errors linked by aria-describedby, and the error summary.
import { Code } from "@connectrpc/connect";
import { useEffect, useRef, useState, type ReactNode } from "react";
import { fmt, useLang, useMessages, type Lang } from "./i18n";
import { shellMessages } from "./messages";
import { inputId, problemsFor, unclaimed, type ApiProblem } from "./errors";
import { codeText, fieldLabel, unknownReasonText, violationText } from "./reasons";
import { Link } from "./router";
import type { PagedList } from "./usePagedList";

/** The page's h1: sets the document title and moves focus to it when the page opens. */
export function PageHeading({ children, title }: { children: ReactNode; title: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  const app = useMessages(shellMessages).appName;
  useEffect(() => {
    document.title = `${title} — ${app}`;
  }, [title, app]);
  useEffect(() => {
    ref.current?.focus();
  }, []);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children}
    </h1>
  );
}

export interface FieldProps {
  /** Scope of ids on the page (e.g. "elig"). */
  scope: string;
  /** API field path this input feeds; its violations are shown beside it. */
  field: string;
  /** Extra API paths whose violations belong to this input too. */
  alsoFields?: readonly string[];
  label: string;
  hint?: string;
  problem?: ApiProblem | null;
  required?: boolean;
  /** Renders the control with the id and ARIA attributes it must carry. */
  children: (props: {
    id: string;
    name: string;
    "aria-describedby"?: string;
    "aria-invalid"?: boolean;
    required?: boolean;
  }) => ReactNode;
}

export function Field({ scope, field, alsoFields, label, hint, problem, required, children }: FieldProps) {
  const { lang } = useLang();
  const id = inputId(scope, field);
  const errs = problemsFor(problem, [field, ...(alsoFields ?? [])]);
  const hintId = hint ? `${id}-hint` : undefined;
  const errId = errs.length ? `${id}-error` : undefined;
  const describedBy = [hintId, errId].filter(Boolean).join(" ") || undefined;
  return (
    <div className={errs.length ? "field field-invalid" : "field"}>
      <label htmlFor={id}>
        {label}
        {required ? <span aria-hidden="true"> *</span> : null}
      </label>
      {hint ? (
        <p className="hint" id={hintId}>
          {hint}
        </p>
      ) : null}
      {errs.length ? (
        <ul className="field-error" id={errId} data-field={field}>
          {errs.map((e, i) => (
            <li key={i}>
              <FieldProblemText problem={e} lang={lang} />
            </li>
          ))}
        </ul>
      ) : null}
      {children({
        id,
        name: field,
        "aria-describedby": describedBy,
        "aria-invalid": errs.length ? true : undefined,
        required,
      })}
    </div>
  );
}

const CODE_TEXT: Partial<Record<Code, keyof typeof shellMessages.ja>> = {
  [Code.InvalidArgument]: "code_invalid_argument",
  [Code.PermissionDenied]: "code_permission_denied",
  [Code.NotFound]: "code_not_found",
  [Code.FailedPrecondition]: "code_failed_precondition",
  [Code.Aborted]: "code_aborted",
  [Code.AlreadyExists]: "code_already_exists",
  [Code.Unavailable]: "code_unavailable",
  [Code.Unauthenticated]: "code_unauthenticated",
  [Code.ResourceExhausted]: "code_resource_exhausted",
  [Code.DeadlineExceeded]: "code_deadline_exceeded",
};

function codeTextOf(m: typeof shellMessages.ja, code: Code): string {
  return m[CODE_TEXT[code] ?? "code_other"];
}

/** One field violation in the reader's words (its rule code, when the API gives one, for support). */
export function FieldProblemText({ problem, lang }: { problem: { description: string; reason?: string }; lang: Lang }) {
  const known = problem.reason ? codeText(problem.reason, lang) : undefined;
  return (
    <>
      {known ?? violationText(problem.description, lang)}
      {problem.reason ? (
        <span className="reason" translate="no">
          {" "}
          ({problem.reason})
        </span>
      ) : null}
    </>
  );
}

/** The headline of a call's error in the reader's words: by ErrorInfo reason, else by status. */
export function problemText(problem: ApiProblem, lang: Lang): { headline: string; detail?: string } {
  const m = shellMessages[lang];
  const headline = codeTextOf(m, problem.code);
  if (!problem.reason || problem.reason === "INVALID_ARGUMENT") return { headline };
  return { headline, detail: codeText(problem.reason, lang) ?? unknownReasonText(problem.reason, lang) };
}

/**
 * The error of a call: a localized headline, the message for its ErrorInfo reason (an unknown
 * reason gets a general message with the code), precondition details, and links to the fields
 * that have errors, by their labels (those not shown beside an input on this screen are listed
 * here in full). `labels` names the screen's fields by API path; shared names are known anyway.
 */
export function ProblemAlert({
  problem,
  scope,
  claimed = [],
  labels,
}: {
  problem: ApiProblem | null | undefined;
  scope?: string;
  claimed?: readonly string[];
  labels?: Readonly<Record<string, string>>;
}) {
  const m = useMessages(shellMessages);
  const { lang } = useLang();
  if (!problem) return null;
  const orphans = unclaimed(problem, claimed);
  const linked = problem.fields.filter((f) => !orphans.includes(f));
  const { headline, detail } = problemText(problem, lang);
  const nameOf = (path: string) => fieldLabel(path, lang, labels);
  return (
    <div className="alert alert-error" role="alert" data-testid="problem" data-reason={problem.reason}>
      <p className="alert-title">
        <strong>{headline}</strong>
        {problem.reason && problem.reason !== "INVALID_ARGUMENT" ? (
          <span className="reason" translate="no">
            {" "}
            ({problem.reason})
          </span>
        ) : null}
      </p>
      {detail ? <p>{detail}</p> : null}
      {problem.preconditions.length ? (
        <ul>
          {problem.preconditions.map((p, i) => (
            <li key={i}>
              {codeText(p.type, lang) ?? (lang === "ja" ? unknownReasonText(p.type, lang) : p.description)}
            </li>
          ))}
        </ul>
      ) : null}
      {linked.length && scope ? (
        <>
          <p>{m.fieldErrors}</p>
          <ul>
            {[...new Set(linked.map((f) => f.field))].map((f) => {
              const c = claimed.find((x) => f === x || f.startsWith(x + ".") || f.startsWith(x + "[")) ?? f;
              return (
                <li key={f}>
                  <FieldLink id={inputId(scope, c)} field={f} known={nameOf(c) ?? nameOf(f)} />
                </li>
              );
            })}
          </ul>
        </>
      ) : null}
      {orphans.length ? (
        <ul>
          {orphans.map((f, i) => (
            <li key={i} data-field={f.field}>
              {nameOf(f.field) ?? <code>{f.field}</code>}: <FieldProblemText problem={f} lang={lang} />
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

/**
 * A link to the input of a field, named by what the reader sees: the screen's label of that
 * input (read from the page once it is there), else the shared name, else the API path as code.
 */
function FieldLink({ id, field, known }: { id: string; field: string; known: string | undefined }) {
  const { lang } = useLang();
  const [label, setLabel] = useState<string | undefined>(undefined);
  useEffect(() => {
    const el = document.getElementById(id);
    const text =
      document.querySelector(`label[for="${CSS.escape(id)}"]`)?.textContent ??
      (el instanceof HTMLFieldSetElement ? el.querySelector("legend")?.textContent : undefined) ??
      undefined;
    setLabel(text ? text.replace(/\s*\*\s*$/, "").trim() : undefined);
  }, [id, lang]);
  return (
    <a href={`#${id}`} data-field={field}>
      {label || known || <code>{field}</code>}
    </a>
  );
}

/** Switches between Japanese and English; labelled in the language it switches to. */
export function LanguageSwitch({ className }: { className?: string }) {
  const m = useMessages(shellMessages);
  const { lang, setLang } = useLang();
  return (
    <button
      type="button"
      className={className}
      lang={lang === "ja" ? "en" : "ja"}
      aria-label={m.languageLabel}
      onClick={() => setLang(lang === "ja" ? "en" : "ja")}
    >
      {m.language}
    </button>
  );
}

export function Loading() {
  const m = useMessages(shellMessages);
  return (
    <p role="status" className="loading">
      {m.loading}
    </p>
  );
}

/**
 * The body of a paged list (see usePagedList): "loading" before the first page, the empty
 * message, or the count, the items and a "show more" button while there is a next page.
 * The list's problem is shown by the caller (ProblemAlert), where the screen wants it.
 */
export function PagedItems<T>({
  list,
  empty,
  count,
  countLive = true,
  children,
}: {
  list: PagedList<T>;
  empty: string;
  /** The line above the items, given how many are shown (none when left out). */
  count?: (shown: number) => string;
  /** The count is a polite status; off where the screen announces changes itself. */
  countLive?: boolean;
  children: (items: T[]) => ReactNode;
}) {
  const m = useMessages(shellMessages);
  const { items, busy, nextPageToken } = list;
  if (items === null) return busy ? <Loading /> : null;
  if (items.length === 0) return <p role="status">{empty}</p>;
  return (
    <>
      {count ? <p role={countLive ? "status" : undefined}>{count(items.length)}</p> : null}
      {children(items)}
      {nextPageToken ? (
        <div className="form-actions">
          <button type="button" onClick={() => void list.more()} disabled={busy}>
            {m.more}
          </button>
        </div>
      ) : null}
    </>
  );
}

/** A table in its scrolling wrapper: an optional caption, one header row of column titles, the body rows. */
export function DataTable({
  testId,
  caption,
  columns,
  children,
}: {
  testId?: string;
  caption?: ReactNode;
  columns: readonly ReactNode[];
  children: ReactNode;
}) {
  return (
    <div className="table-wrap">
      <table data-testid={testId}>
        {caption ? <caption>{caption}</caption> : null}
        <thead>
          <tr>
            {columns.map((c, i) => (
              <th scope="col" key={i}>
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

/** A screen's sub-navigation: one link per view, the current one marked with aria-current. */
export function SubNav<T extends string>({
  label,
  tabs,
  current,
}: {
  label: string;
  tabs: readonly { id: T; to: string; label: string }[];
  current: T;
}) {
  return (
    <nav aria-label={label} className="subnav">
      <ul>
        {tabs.map((t) => (
          <li key={t.id}>
            <Link to={t.to} aria-current={current === t.id ? "page" : undefined}>
              {t.label}
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}

export { fmt };

// Inputs of the opinion form, each bound to its API field path (violations shown beside it and
// linked by aria-describedby through the shell's Field).
import { Field, FieldProblemText, type FieldProps } from "../../app/components";
import { inputId, type ApiProblem } from "../../app/errors";
import { useLang } from "../../app/i18n";
import { label, type Labels } from "./enums";

export const SCOPE = "opinion";

interface Base {
  field: string;
  label: string;
  problem: ApiProblem | null;
  hint?: string;
  required?: boolean;
}

/** The shell's Field for a path of the opinion; violations reported under `opinion.<path>` belong to it too. */
function OpinionField({ children, ...b }: Base & { children: FieldProps["children"] }) {
  return (
    <Field scope={SCOPE} alsoFields={[`opinion.${b.field}`]} {...b}>
      {children}
    </Field>
  );
}

export function TextInput({
  value,
  onChange,
  inputMode,
  ...b
}: Base & {
  value: string;
  onChange: (v: string) => void;
  inputMode?: "numeric" | "decimal" | "tel" | "text";
}) {
  return (
    <OpinionField {...b}>
      {(p) => <input {...p} inputMode={inputMode} value={value} onChange={(e) => onChange(e.target.value)} />}
    </OpinionField>
  );
}

export function TextArea({ value, onChange, ...b }: Base & { value: string; onChange: (v: string) => void }) {
  return (
    <OpinionField {...b}>
      {(p) => <textarea {...p} rows={3} value={value} onChange={(e) => onChange(e.target.value)} />}
    </OpinionField>
  );
}

export function DateInput({ value, onChange, ...b }: Base & { value: string; onChange: (v: string) => void }) {
  return (
    <OpinionField {...b}>
      {(p) => <input {...p} type="date" value={value} onChange={(e) => onChange(e.target.value)} />}
    </OpinionField>
  );
}

/** A choice from a code list; `from` skips the "not set" entry when it is not a valid answer. */
export function Select({
  value,
  onChange,
  labels,
  from = 0,
  ...b
}: Base & {
  value: number;
  onChange: (v: number) => void;
  labels: Labels;
  from?: number;
}) {
  const { lang } = useLang();
  return (
    <OpinionField {...b}>
      {(p) => (
        <select {...p} value={value} onChange={(e) => onChange(Number(e.target.value))}>
          {from > 0 && value === 0 ? <option value={0}>—</option> : null}
          {labels.map((_, i) =>
            i < from ? null : (
              <option key={i} value={i}>
                {label(labels, i, lang)}
              </option>
            ),
          )}
        </select>
      )}
    </OpinionField>
  );
}

/** 有/無 as a select (a bool of the contract). */
export function YesNo({
  value,
  onChange,
  yes,
  no,
  ...b
}: Base & {
  value: boolean;
  onChange: (v: boolean) => void;
  yes: string;
  no: string;
}) {
  return (
    <OpinionField {...b}>
      {(p) => (
        <select {...p} value={value ? "1" : "0"} onChange={(e) => onChange(e.target.value === "1")}>
          <option value="0">{no}</option>
          <option value="1">{yes}</option>
        </select>
      )}
    </OpinionField>
  );
}

/** Several codes of a list (a repeated enum): a fieldset of checkboxes; the violations of
 * exactly this path are shown under the legend. */
export function Checks({
  values,
  onChange,
  labels,
  field,
  label: legend,
  problem,
}: {
  values: number[];
  onChange: (v: number[]) => void;
  labels: Labels;
  field: string;
  label: string;
  problem: ApiProblem | null;
}) {
  const { lang } = useLang();
  const id = inputId(SCOPE, field);
  const errs = (problem?.fields ?? []).filter(
    (f) => f.field === field || f.field === `opinion.${field}` || f.field.startsWith(`${field}[`),
  );
  const errId = `${id}-error`;
  return (
    <fieldset
      id={id}
      aria-describedby={errs.length ? errId : undefined}
      className={errs.length ? "field-invalid" : undefined}
    >
      <legend>{legend}</legend>
      {errs.length ? (
        <ul className="field-error" id={errId} data-field={field}>
          {errs.map((e, i) => (
            <li key={i}>
              <FieldProblemText problem={e} lang={lang} />
            </li>
          ))}
        </ul>
      ) : null}
      <div className="checks">
        {labels.map((_, i) =>
          i === 0 ? null : (
            <label key={i} className="checkbox">
              <input
                type="checkbox"
                name={field}
                value={i}
                checked={values.includes(i)}
                aria-invalid={errs.length ? true : undefined}
                onChange={(e) =>
                  onChange(e.target.checked ? [...values, i].sort((a, b) => a - b) : values.filter((x) => x !== i))
                }
              />
              {label(labels, i, lang)}
            </label>
          ),
        )}
      </div>
    </fieldset>
  );
}

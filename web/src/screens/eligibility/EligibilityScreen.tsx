// 資格確認: the form, then the verdict and the three certificates laid out like paper.
// The numbers entered stay in component state only (never in the URL or storage).
import { useState, type FormEvent } from "react";
import { EligibilityService, type EligibilityResult } from "../../gen/kaigo/eligibility/v1/eligibility_service_pb";
import { useClient } from "../../app/api";
import { Field, PageHeading, ProblemAlert } from "../../app/components";
import { toProblem, type ApiProblem } from "../../app/errors";
import { fmt, useLang, useMessages } from "../../app/i18n";
import { formatDate, parseDateInput } from "../../app/labels";
import { identifierInput } from "../../app/halfWidth";
import type { ScreenProps } from "../types";
import { Certificates } from "./Certificates";
import { messages } from "./messages";
import { verdictClass, verdictText } from "./verdict";

const SCOPE = "elig";
const FIELDS = ["insurer_number", "insured_number", "as_of"] as const;

export default function EligibilityScreen({ session }: ScreenProps) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const client = useClient(EligibilityService);
  const [insurer, setInsurer] = useState(session.claims.insurer_number ?? "");
  const [insured, setInsured] = useState("");
  const [asOf, setAsOf] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [result, setResult] = useState<EligibilityResult | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    setResult(null);
    try {
      const res = await client.checkEligibility({
        // Full-width digits and letters (IME on) become half-width before the call.
        insurerNumber: identifierInput(insurer),
        insuredNumber: identifierInput(insured),
        asOf: parseDateInput(asOf),
      });
      setResult(res.result ?? null);
    } catch (err) {
      setProblem(toProblem(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <PageHeading title={m.title}>{m.title}</PageHeading>
      <p>{m.lead}</p>
      <form onSubmit={submit} noValidate autoComplete="off" aria-describedby={problem ? "elig-problem" : undefined}>
        <div className="form-grid">
          <Field scope={SCOPE} field="insurer_number" label={m.insurer} hint={m.insurerHint} problem={problem} required>
            {(p) => (
              <input
                {...p}
                type="text"
                inputMode="numeric"
                autoComplete="off"
                value={insurer}
                onChange={(e) => setInsurer(e.target.value)}
              />
            )}
          </Field>
          <Field scope={SCOPE} field="insured_number" label={m.insured} hint={m.insuredHint} problem={problem} required>
            {(p) => (
              <input
                {...p}
                type="text"
                autoComplete="off"
                spellCheck={false}
                value={insured}
                onChange={(e) => setInsured(e.target.value)}
              />
            )}
          </Field>
          <Field scope={SCOPE} field="as_of" label={m.asOf} hint={m.asOfHint} problem={problem}>
            {(p) => <input {...p} type="date" value={asOf} onChange={(e) => setAsOf(e.target.value)} />}
          </Field>
        </div>
        <div className="form-actions">
          <button type="submit" disabled={busy}>
            {m.submit}
          </button>
        </div>
      </form>
      {busy ? <p role="status">{m.checking}</p> : null}
      <div id="elig-problem">
        <ProblemAlert problem={problem} scope={SCOPE} claimed={FIELDS} />
      </div>
      {result ? (
        <section aria-labelledby="elig-result">
          <div className={`verdict ${verdictClass(result.verdict)}`} role="status" data-testid="verdict">
            <h2 id="elig-result">
              {m.result}: {verdictText(m, result.verdict)}
            </h2>
            <p>{fmt(m.asOfLine, { date: formatDate(result.asOf, lang) })}</p>
          </div>
          <Certificates result={result} />
        </section>
      ) : null}
    </>
  );
}

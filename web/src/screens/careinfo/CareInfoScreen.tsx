// 介護情報の閲覧 (medical_institution): for a person who consented, the certificate facts from
// eligibility (CheckEligibility, INSURANCE_CERTIFICATES) and the care plan in summary from
// careplan (GetCarePlanSummary, CARE_PLAN); each service answers its own facts and decides on
// its own category (docs/domain/access.md#rule-table). The numbers stay in component state only.
import { useState, type FormEvent } from "react";
import { EligibilityService, type EligibilityResult } from "../../gen/kaigo/eligibility/v1/eligibility_service_pb";
import { CarePlanService } from "../../gen/kaigo/careplan/v1/careplan_service_pb";
import type { CarePlanSummary } from "../../gen/kaigo/careplan/v1/summary_pb";
import { useClient } from "../../app/api";
import { DataTable, Field, PageHeading, ProblemAlert } from "../../app/components";
import { toProblem, type ApiProblem } from "../../app/errors";
import { fmt, useLang, useMessages } from "../../app/i18n";
import { formatDate, formatMonth } from "../../app/labels";
import { identifierInput } from "../../app/halfWidth";
import type { ScreenProps } from "../types";
import { Certificates } from "../eligibility/Certificates";
import { messages } from "./messages";

const SCOPE = "careinfo";
const FIELDS = ["insurer_number", "insured_number"] as const;
const hhmm = (t: string) => `${t.slice(0, 2)}:${t.slice(2)}`;

export default function CareInfoScreen(_props: ScreenProps) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const eligibility = useClient(EligibilityService);
  const careplan = useClient(CarePlanService);
  const [insurer, setInsurer] = useState("");
  const [insured, setInsured] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [certProblem, setCertProblem] = useState<ApiProblem | null>(null);
  const [planProblem, setPlanProblem] = useState<ApiProblem | null>(null);
  const [result, setResult] = useState<EligibilityResult | null>(null);
  const [summary, setSummary] = useState<CarePlanSummary | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    for (const clear of [setProblem, setCertProblem, setPlanProblem]) clear(null);
    setResult(null);
    setSummary(null);
    const person = { insurerNumber: identifierInput(insurer), insuredNumber: identifierInput(insured) };
    // Both services decide on their own category: one may answer while the other refuses.
    const [cert, plan] = await Promise.allSettled([
      eligibility.checkEligibility(person),
      careplan.getCarePlanSummary(person),
    ]);
    if (cert.status === "fulfilled") setResult(cert.value.result ?? null);
    else setCertProblem(toProblem(cert.reason));
    if (plan.status === "fulfilled") setSummary(plan.value.summary ?? null);
    else setPlanProblem(toProblem(plan.reason));
    // Field errors are the same from both: shown once, beside the inputs.
    const invalid = [cert, plan].find((r) => r.status === "rejected" && toProblem(r.reason).fields.length > 0);
    if (invalid && invalid.status === "rejected") {
      setProblem(toProblem(invalid.reason));
      setCertProblem(null);
      setPlanProblem(null);
    }
    setBusy(false);
  };

  const plan = summary?.plan;
  return (
    <>
      <PageHeading title={m.title}>{m.title}</PageHeading>
      <p>{m.lead}</p>
      <form onSubmit={submit} noValidate autoComplete="off">
        <div className="form-grid">
          <Field scope={SCOPE} field="insurer_number" label={m.insurer} problem={problem} required>
            {(p) => (
              <input
                {...p}
                type="text"
                inputMode="numeric"
                value={insurer}
                onChange={(e) => setInsurer(e.target.value)}
              />
            )}
          </Field>
          <Field scope={SCOPE} field="insured_number" label={m.insured} problem={problem} required>
            {(p) => (
              <input
                {...p}
                type="text"
                spellCheck={false}
                value={insured}
                onChange={(e) => setInsured(e.target.value)}
              />
            )}
          </Field>
        </div>
        <div className="form-actions">
          <button type="submit" disabled={busy}>
            {m.submit}
          </button>
        </div>
      </form>
      {busy ? <p role="status">{m.loading}</p> : null}
      <ProblemAlert problem={problem} scope={SCOPE} claimed={FIELDS} />
      {result || certProblem ? (
        <section aria-labelledby="careinfo-cert" data-testid="careinfo-certification">
          <h2 id="careinfo-cert">{m.certification}</h2>
          <ProblemAlert problem={certProblem} />
          {result ? <Certificates result={result} /> : null}
        </section>
      ) : null}
      {summary || planProblem ? (
        <section aria-labelledby="careinfo-plan" data-testid="careinfo-plan">
          <h2 id="careinfo-plan">{m.carePlan}</h2>
          <ProblemAlert problem={planProblem} />
          {summary && !plan ? <p data-testid="no-plan">{m.noPlan}</p> : null}
          {plan ? (
            <>
              <dl className="facts">
                <dt>{m.office}</dt>
                <dd data-testid="plan-office">
                  {plan.officeName} (<span translate="no">{plan.officeNumber}</span>)
                </dd>
                <dt>{m.planner}</dt>
                <dd>{plan.plannerName}</dd>
                <dt>{m.planDate}</dt>
                <dd data-testid="plan-date">{formatDate(plan.planDate, lang)}</dd>
                <dt>{m.firstPlanDate}</dt>
                <dd>{formatDate(plan.firstPlanDate, lang)}</dd>
                {plan.assessment ? (
                  <>
                    <dt>{m.assessment}</dt>
                    <dd className="prewrap">{plan.assessment}</dd>
                  </>
                ) : null}
                {plan.policy ? (
                  <>
                    <dt>{m.policy}</dt>
                    <dd className="prewrap" data-testid="plan-policy">
                      {plan.policy}
                    </dd>
                  </>
                ) : null}
              </dl>
              <ol data-testid="plan-needs">
                {plan.needs.map((need, i) => (
                  <li key={i}>
                    <h3>
                      {m.need}: {need.need}
                    </h3>
                    {need.goals.map((goal, j) => (
                      <dl key={j} className="facts">
                        <dt>{m.longTerm}</dt>
                        <dd>
                          {goal.longTermGoal} {goal.longTermPeriod ? `（${goal.longTermPeriod}）` : ""}
                        </dd>
                        <dt>{m.shortTerm}</dt>
                        <dd>
                          {goal.shortTermGoal} {goal.shortTermPeriod ? `（${goal.shortTermPeriod}）` : ""}
                        </dd>
                        <dt>{m.supports}</dt>
                        <dd>
                          <ul>
                            {goal.supports.map((s, k) => (
                              <li key={k}>
                                {s.serviceContent}
                                {s.serviceKind ? `・${s.serviceKind}` : ""}
                                {s.providerName ? `・${s.providerName}` : ""}
                                {s.frequency ? `・${s.frequency}` : ""}（{s.insuranceCovered ? m.covered : m.notCovered}
                                ）
                              </li>
                            ))}
                          </ul>
                        </dd>
                      </dl>
                    ))}
                  </li>
                ))}
              </ol>
            </>
          ) : null}
          {summary ? (
            <>
              <h3>{fmt(m.services, { month: formatMonth(summary.serviceMonth, lang) })}</h3>
              {summary.services.length === 0 ? (
                <p data-testid="no-services">{m.noServices}</p>
              ) : (
                <DataTable
                  testId="month-services"
                  caption={fmt(m.services, { month: formatMonth(summary.serviceMonth, lang) })}
                  columns={[m.colProvider, m.colCode, m.colTime, m.colDays, m.colTimes]}
                >
                  {summary.services.map((s, i) => (
                    <tr key={i}>
                      <td>
                        {s.providerName} (<span translate="no">{s.providerNumber}</span>)
                      </td>
                      <td>
                        <code>{s.serviceCode}</code>
                      </td>
                      <td>{s.startTime ? `${hhmm(s.startTime)}〜${hhmm(s.endTime)}` : m.noTime}</td>
                      <td>{s.days.map((d) => fmt(m.day, { day: String(d) })).join(lang === "ja" ? "、" : ", ")}</td>
                      <td>{s.times}</td>
                    </tr>
                  ))}
                </DataTable>
              )}
            </>
          ) : null}
        </section>
      ) : null}
    </>
  );
}

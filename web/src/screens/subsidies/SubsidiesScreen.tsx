// 助成金: costs in, the eligible amount and its itemised explanation out as the user
// types (CalculateSubsidy, debounced), then a draft is created and submitted. An application
// the operator returned for correction (差戻し) is shown with its reasons, and the same form
// corrects its costs and submits it again.
import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { SubsidyService } from "../../gen/kaigo/subsidies/v1/subsidies_service_pb";
import {
  ApplicationStatus,
  CareOfficeCostsSchema,
  InstitutionType,
  type Application,
  MedicalInstitutionCostsSchema,
  type Programme,
  type SubsidyCalculation,
} from "../../gen/kaigo/subsidies/v1/subsidy_pb";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { CalculateSubsidyRequestSchema } from "../../gen/kaigo/subsidies/v1/subsidies_service_pb";
import { useClient } from "../../app/api";
import { identifierInput, numberInput } from "../../app/halfWidth";
import { Field, FieldProblemText, Loading, PageHeading, ProblemAlert } from "../../app/components";
import { BreakdownTable, ProgrammeOptions } from "../../app/subsidies";
import { inputId, problemsFor, toProblem, type ApiProblem } from "../../app/errors";
import { fmt, useLang, useMessages } from "../../app/i18n";
import { formatDate, requestId, yen } from "../../app/labels";
import type { ScreenProps } from "../types";
import { messages } from "./messages";

const SCOPE = "subsidy";

/** The API reports a cost field as "costs.care_office.x" (calculation) or
 * "application.costs.care_office.x" (application writes): both belong to the same input. */
function paths(kind: "care_office" | "medical_institution", name: string): string[] {
  return [`costs.${kind}.${name}`, `application.costs.${kind}.${name}`];
}

function int(v: string): number {
  const n = Number(numberInput(v).replace(/[,\s]/g, ""));
  return Number.isFinite(n) ? Math.trunc(n) : NaN;
}

type Costs = MessageInitShape<typeof CalculateSubsidyRequestSchema>["costs"];

export default function SubsidiesScreen({ session }: ScreenProps) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const client = useClient(SubsidyService);
  const medical = session.claims.role === "medical_institution";
  const kind = medical ? "medical_institution" : "care_office";

  const [programmes, setProgrammes] = useState<Programme[] | null>(null);
  const [programmeId, setProgrammeId] = useState("");
  const [office, setOffice] = useState(session.claims.office_number ?? "");
  const [categories, setCategories] = useState<string[]>([]);
  const [quantity, setQuantity] = useState("0");
  const [unitPrice, setUnitPrice] = useState("0");
  const [connection, setConnection] = useState("0");
  const [setup, setSetup] = useState("0");
  const [institution, setInstitution] = useState(session.claims.institution_code ?? "");
  const [instType, setInstType] = useState<InstitutionType>(InstitutionType.CLINIC);
  const [beds, setBeds] = useState("0");
  const [software, setSoftware] = useState("0");

  const [calc, setCalc] = useState<SubsidyCalculation | null>(null);
  const [calcProblem, setCalcProblem] = useState<ApiProblem | null>(null);
  const [calculating, setCalculating] = useState(false);
  const [submitProblem, setSubmitProblem] = useState<ApiProblem | null>(null);
  const [submitted, setSubmitted] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [returned, setReturned] = useState<Application | null>(null);
  const seq = useRef(0);

  useEffect(() => {
    (async () => {
      try {
        const res = await client.listProgrammes({});
        setProgrammes(res.programmes);
        if (res.programmes[0]) setProgrammeId(res.programmes[0].programmeId);
      } catch (e) {
        setCalcProblem(toProblem(e));
        setProgrammes([]);
      }
    })();
  }, [client]);

  const programme = programmes?.find((p) => p.programmeId === programmeId);

  // The caller's application to this programme that was returned for correction, if any.
  useEffect(() => {
    if (!programmeId) return;
    let live = true;
    (async () => {
      try {
        const res = await client.listApplications({ programmeId, statuses: [ApplicationStatus.RETURNED] });
        if (live) setReturned(res.applications[0] ?? null);
      } catch {
        if (live) setReturned(null);
      }
    })();
    return () => {
      live = false;
    };
  }, [client, programmeId]);

  const costs: Costs = useMemo(() => {
    if (medical) {
      const c = create(MedicalInstitutionCostsSchema, {
        institutionCode: identifierInput(institution),
        institutionType: instType,
        beds: int(beds) || 0,
        softwareChangeCostYen: BigInt(int(software) || 0),
      });
      return { case: "medicalInstitution", value: c };
    }
    const q = int(quantity) || 0;
    const c = create(CareOfficeCostsSchema, {
      officeNumber: identifierInput(office),
      categoryIds: categories,
      readers: q > 0 || int(unitPrice) > 0 ? [{ quantity: q, unitPriceYen: BigInt(int(unitPrice) || 0) }] : [],
      connectionSupportCostYen: BigInt(int(connection) || 0),
      careplanSetupCostYen: BigInt(int(setup) || 0),
    });
    return { case: "careOffice", value: c };
  }, [medical, institution, instType, beds, software, office, categories, quantity, unitPrice, connection, setup]);

  // Recalculate 300 ms after the last change; only the newest answer is shown.
  useEffect(() => {
    if (!programmeId) return;
    const mine = ++seq.current;
    setCalculating(true);
    const t = window.setTimeout(async () => {
      try {
        const res = await client.calculateSubsidy({ programmeId, costs });
        if (mine !== seq.current) return;
        setCalc(res.calculation ?? null);
        setCalcProblem(null);
      } catch (e) {
        if (mine !== seq.current) return;
        setCalc(null);
        setCalcProblem(toProblem(e));
      } finally {
        if (mine === seq.current) setCalculating(false);
      }
    }, 300);
    return () => window.clearTimeout(t);
  }, [client, programmeId, costs]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setSubmitProblem(null);
    setSubmitted(null);
    try {
      // A returned application is corrected and submitted again; otherwise a new one is made.
      const draft = returned
        ? (
            await client.updateApplication({
              requestId: requestId(),
              application: { applicationId: returned.applicationId, costs },
              expectedVersion: returned.version,
            })
          ).application!
        : (
            await client.createApplication({
              requestId: requestId(),
              application: { programmeId, costs },
            })
          ).application!;
      const res = await client.submitApplication({
        requestId: requestId(),
        applicationId: draft.applicationId,
        expectedVersion: draft.version,
      });
      setSubmitted(fmt(m.submitted, { status: m[`status_${res.application?.status}` as keyof typeof m] ?? "" }));
      setReturned(null);
    } catch (err) {
      setSubmitProblem(toProblem(err));
    } finally {
      setBusy(false);
    }
  };

  const problem = submitProblem ?? calcProblem;
  const claimed = [
    "programme_id",
    ...(medical
      ? ["institution_code", "institution_type", "beds", "software_change_cost_yen"].flatMap((n) => paths(kind, n))
      : ["office_number", "category_ids", "readers", "connection_support_cost_yen", "careplan_setup_cost_yen"].flatMap(
          (n) => paths(kind, n),
        )),
  ];
  const field = (name: string) => {
    const [first, ...rest] = paths(kind, name);
    return { field: first, alsoFields: rest };
  };

  /** A numeric input bound to its API field (and that field's other paths). */
  const numberField = (name: string, label: string, value: string, set: (v: string) => void, required = false) => (
    <Field scope={SCOPE} {...field(name)} label={label} problem={problem} required={required}>
      {(p) => <input {...p} inputMode="numeric" value={value} onChange={(e) => set(e.target.value)} />}
    </Field>
  );

  if (programmes === null) return <Loading />;
  return (
    <>
      <PageHeading title={m.title}>{m.title}</PageHeading>
      <p>{m.lead}</p>
      {programmes.length === 0 ? <p>{m.noProgramme}</p> : null}
      {returned ? (
        <div className="alert alert-info" role="status" data-testid="returned">
          <p>{m.returnedLead}</p>
          <ul>
            {returned.returnReasons.map((r, i) => (
              <li key={i}>{r}</li>
            ))}
          </ul>
        </div>
      ) : null}
      <form onSubmit={submit} noValidate autoComplete="off">
        <div className="form-grid">
          <Field
            scope={SCOPE}
            field="programme_id"
            label={m.programme}
            problem={problem}
            required
            hint={programme ? fmt(m.deadline, { date: formatDate(programme.applicationDeadline, lang) }) : undefined}
          >
            {(p) => (
              <select {...p} value={programmeId} onChange={(e) => setProgrammeId(e.target.value)}>
                <ProgrammeOptions programmes={programmes} />
              </select>
            )}
          </Field>
        </div>
        {medical ? (
          <div className="form-grid">
            {numberField("institution_code", m.institutionCode, institution, setInstitution, true)}
            <Field scope={SCOPE} {...field("institution_type")} label={m.institutionType} problem={problem} required>
              {(p) => (
                <select {...p} value={instType} onChange={(e) => setInstType(Number(e.target.value))}>
                  <option value={InstitutionType.CLINIC}>{m.clinic}</option>
                  <option value={InstitutionType.HOSPITAL}>{m.hospital}</option>
                </select>
              )}
            </Field>
            {numberField("beds", m.beds, beds, setBeds)}
            {numberField("software_change_cost_yen", m.software, software, setSoftware, true)}
          </div>
        ) : (
          <>
            <div className="form-grid">
              <Field scope={SCOPE} {...field("office_number")} label={m.officeNumber} problem={problem} required>
                {(p) => <input {...p} value={office} onChange={(e) => setOffice(e.target.value)} />}
              </Field>
            </div>
            <fieldset
              id={inputId(SCOPE, "costs.care_office.category_ids")}
              aria-describedby={
                problemsFor(problem, paths(kind, "category_ids")).length ? "subsidy-category-error" : undefined
              }
            >
              <legend>{m.categories}</legend>
              {(programme?.careOfficeRules?.categories ?? []).map((c) => (
                <label key={c.categoryId} className="checkbox">
                  <input
                    type="checkbox"
                    name="category_ids"
                    value={c.categoryId}
                    checked={categories.includes(c.categoryId)}
                    onChange={(e) =>
                      setCategories((prev) =>
                        e.target.checked ? [...prev, c.categoryId] : prev.filter((x) => x !== c.categoryId),
                      )
                    }
                  />
                  {c.name}
                </label>
              ))}
              {problemsFor(problem, paths(kind, "category_ids")).length ? (
                <ul className="field-error" id="subsidy-category-error">
                  {problemsFor(problem, paths(kind, "category_ids")).map((f, i) => (
                    <li key={i}>
                      <FieldProblemText problem={f} lang={lang} />
                    </li>
                  ))}
                </ul>
              ) : null}
            </fieldset>
            <fieldset>
              <legend>{m.readers}</legend>
              <div className="form-grid">
                {numberField("readers[0].quantity", m.quantity, quantity, setQuantity)}
                {numberField("readers[0].unit_price_yen", m.unitPrice, unitPrice, setUnitPrice)}
              </div>
            </fieldset>
            <div className="form-grid">
              {numberField("connection_support_cost_yen", m.connection, connection, setConnection)}
              {numberField("careplan_setup_cost_yen", m.setup, setup, setSetup)}
            </div>
          </>
        )}

        <section aria-labelledby="subsidy-amount" aria-live="polite" className="verdict verdict-ok">
          <h2 id="subsidy-amount">
            {m.amount}:{" "}
            <span data-testid="eligible-amount" data-yen={calc ? String(calc.eligibleAmountYen) : ""}>
              {calc ? yen(calc.eligibleAmountYen, lang) : "—"}
            </span>
          </h2>
          {calculating ? <p className="live">{m.calculating}</p> : null}
          {calc ? (
            <p>
              {m.totalCost}: {yen(calc.totalCostYen, lang)} / {m.eligibleCost}: {yen(calc.eligibleCostYen, lang)}
            </p>
          ) : null}
        </section>
        {calc && calc.lines.length ? (
          <BreakdownTable lines={calc.lines} caption={m.breakdown} columns={[m.lineItem, m.lineAmount]} lang={lang} />
        ) : null}
        <ProblemAlert problem={problem} scope={SCOPE} claimed={claimed} />
        <div className="form-actions">
          <button type="submit" disabled={busy || !programmeId}>
            {returned ? m.resubmit : m.submit}
          </button>
        </div>
        {busy ? <p role="status">{m.submitting}</p> : null}
        {submitted ? (
          <p className="alert alert-info" role="status" data-testid="submitted">
            {submitted}
          </p>
        ) : null}
      </form>
    </>
  );
}

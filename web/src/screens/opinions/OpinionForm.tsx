// The 主治医意見書 form for one request (docs/domain/opinion.md#form → the Opinion message): 基本事項,
// 1 傷病, 2 特別な医療, 3 心身の状態, 4 生活機能とサービス, 5 特記事項, and PDF attachments
// (令和3年 form) uploaded with a progress bar. SubmitOpinion's field violations are shown
// beside their inputs. When the request already has an opinion, the form starts from it and
// is submitted as a correction (previous_opinion_id).
import { useEffect, useId, useState, type FormEvent } from "react";
import { clone, create } from "@bufbuild/protobuf";
import { DocumentService, type Attachment } from "../../gen/kaigo/documents/v1/documents_service_pb";
import {
  MedicalManagementNeedSchema,
  OpinionSchema,
  ParalysisSchema,
  DiagnosisSchema,
  type Opinion,
  type OpinionRequest,
  PhysicalFindingSchema,
  ServiceCautionsSchema,
} from "../../gen/kaigo/documents/v1/opinion_pb";
import { useClient } from "../../app/api";
import { numberInput } from "../../app/halfWidth";
import { FieldProblemText, Loading, PageHeading, ProblemAlert } from "../../app/components";
import { inputId, toProblem, type ApiProblem } from "../../app/errors";
import { fmt, useLang, useMessages } from "../../app/i18n";
import {
  byteSize,
  formatDate,
  insuredCategoryLabel,
  parseDateInput,
  requestId,
  sexLabel,
  toDateInput,
} from "../../app/labels";
import { Link } from "../../app/router";
import * as E from "./enums";
import { messages, type M } from "./messages";
import { uploadAttachment } from "./upload";
import { Checks, DateInput, SCOPE, Select, TextArea, TextInput, YesNo } from "./widgets";

const FINDINGS = [
  "muscle_weakness",
  "joint_contracture",
  "joint_pain",
  "pressure_ulcer",
  "other_skin_disease",
] as const;
type FindingKey = "muscleWeakness" | "jointContracture" | "jointPain" | "pressureUlcer" | "otherSkinDisease";
const FINDING_KEY: Record<(typeof FINDINGS)[number], FindingKey> = {
  muscle_weakness: "muscleWeakness",
  joint_contracture: "jointContracture",
  joint_pain: "jointPain",
  pressure_ulcer: "pressureUlcer",
  other_skin_disease: "otherSkinDisease",
};

function todayJst() {
  const d = new Date(Date.now() + 9 * 3600 * 1000);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** An empty form with every section present (so inputs can write into it). */
function blank(req: OpinionRequest): Opinion {
  return create(OpinionSchema, {
    opinionRequestId: req.opinionRequestId,
    basics: { writtenDate: todayJst(), physicianName: req.physicianName },
    disease: { diagnoses: [{ onsetDate: { year: 0, month: 0, day: 0 } }] },
    mentalPhysical: {
      limbLoss: {},
      muscleWeakness: {},
      jointContracture: {},
      jointPain: {},
      pressureUlcer: {},
      otherSkinDisease: {},
    },
    functionServices: { serviceCautions: {} },
  });
}

/** A previous version as the start of a correction: content kept, output-only fields dropped. */
function fromPrevious(prev: Opinion): Opinion {
  const o = clone(OpinionSchema, prev);
  Object.assign(o, {
    opinionId: "",
    applicationId: "",
    insurerNumber: "",
    insuredNumber: "",
    institutionCode: "",
    revision: 0,
    status: 0,
    submitTime: undefined,
    submittedBy: undefined,
    receiveTime: undefined,
    receivedBy: undefined,
    previousOpinionId: prev.opinionId,
  });
  const base = blank({ opinionRequestId: prev.opinionRequestId, physicianName: "" } as OpinionRequest);
  o.basics ??= base.basics;
  o.basics!.writtenDate = base.basics!.writtenDate;
  o.disease ??= base.disease;
  if (!o.disease!.diagnoses.length) o.disease!.diagnoses = base.disease!.diagnoses;
  o.mentalPhysical ??= base.mentalPhysical;
  o.mentalPhysical!.limbLoss ??= create(PhysicalFindingSchema);
  for (const k of Object.values(FINDING_KEY)) o.mentalPhysical![k] ??= create(PhysicalFindingSchema);
  o.functionServices ??= base.functionServices;
  o.functionServices!.serviceCautions ??= create(ServiceCautionsSchema);
  return o;
}

/** What is sent: findings not present carry no site or severity; measures parsed. */
function toSubmit(o: Opinion, height: string, weight: string, attachments: Attachment[]): Opinion {
  const n = clone(OpinionSchema, o);
  const mp = n.mentalPhysical!;
  for (const k of Object.values(FINDING_KEY)) {
    const f = mp[k];
    if (f && !f.present) {
      f.site = "";
      f.severity = 0;
    }
  }
  if (mp.limbLoss && !mp.limbLoss.present) mp.limbLoss.site = "";
  // Full-width digits (IME on) become half-width before the call.
  const num = (s: string) => (numberInput(s) === "" ? 0 : Number(numberInput(s)));
  if (n.basics) {
    n.basics.institutionPhone = numberInput(n.basics.institutionPhone);
    n.basics.institutionFax = numberInput(n.basics.institutionFax);
  }
  mp.heightCm = num(height);
  mp.weightKg = num(weight);
  n.attachmentIds = attachments.map((a) => a.attachmentId);
  return n;
}

export function OpinionForm({ requestId: opinionRequestId }: { requestId: string }) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const client = useClient(DocumentService);
  const [req, setReq] = useState<OpinionRequest | null>(null);
  const [o, setO] = useState<Opinion | null>(null);
  const [previousRevision, setPreviousRevision] = useState(0);
  const [height, setHeight] = useState("");
  const [weight, setWeight] = useState("");
  const [attachments, setAttachments] = useState<Attachment[]>([]);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [loadProblem, setLoadProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<Opinion | null>(null);

  useEffect(() => {
    let live = true;
    (async () => {
      try {
        const r = await client.getOpinionRequest({ opinionRequestId });
        const request = r.opinionRequest!;
        let start = blank(request);
        let prevAttachments: Attachment[] = [];
        if (request.latestOpinionId) {
          const prev = (await client.getOpinion({ opinionId: request.latestOpinionId })).opinion!;
          start = fromPrevious(prev);
          setPreviousRevision(prev.revision);
          prevAttachments = await Promise.all(
            prev.attachmentIds.map(async (id) => (await client.getAttachment({ attachmentId: id })).attachment!),
          );
          const mp = prev.mentalPhysical;
          if (live && mp) {
            setHeight(mp.heightCm ? String(mp.heightCm) : "");
            setWeight(mp.weightKg ? String(mp.weightKg) : "");
          }
        }
        if (!live) return;
        setReq(request);
        setO(start);
        setAttachments(prevAttachments);
      } catch (e) {
        if (live) setLoadProblem(toProblem(e));
      }
    })();
    return () => {
      live = false;
    };
  }, [client, opinionRequestId]);

  const update = (fn: (n: Opinion) => void) =>
    setO((prev) => {
      if (!prev) return prev;
      const n = clone(OpinionSchema, prev);
      fn(n);
      return n;
    });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!o) return;
    setBusy(true);
    setProblem(null);
    setDone(null);
    try {
      const res = await client.submitOpinion({
        requestId: requestId(),
        opinion: toSubmit(o, height, weight, attachments),
      });
      setDone(res.opinion ?? null);
    } catch (err) {
      setProblem(toProblem(err));
    } finally {
      setBusy(false);
    }
  };

  if (loadProblem)
    return (
      <>
        <PageHeading title={`${m.formTitle} — ${m.title}`}>{m.formTitle}</PageHeading>
        <ProblemAlert problem={loadProblem} />
        <p>
          <Link to="/opinions">{m.back}</Link>
        </p>
      </>
    );
  if (!req || !o) return <Loading />;
  const b = o.basics!;
  const d = o.disease!;
  const mp = o.mentalPhysical!;
  const fs = o.functionServices!;
  const sc = fs.serviceCautions!;
  const a = req.applicant;
  const P = { problem };

  return (
    <>
      <PageHeading title={`${m.formTitle} — ${m.title}`}>{m.formTitle}</PageHeading>
      <p>
        <Link to="/opinions">{m.back}</Link>
      </p>
      <section aria-labelledby="opinion-applicant" className="card">
        <h2 id="opinion-applicant">{m.applicant}</h2>
        <dl className="facts" data-testid="applicant">
          <dt>{m.applicantName}</dt>
          <dd>
            {a?.nameKanji} {a?.nameKana ? <span className="reason">（{a.nameKana}）</span> : null}
          </dd>
          <dt>{m.birthDate}</dt>
          <dd>{formatDate(a?.birthDate, lang, { era: true, western: true })}</dd>
          <dt>{m.sex}</dt>
          <dd>{sexLabel(a?.sex ?? 0, lang)}</dd>
          <dt>{m.category}</dt>
          <dd>{insuredCategoryLabel(a?.insuredCategory ?? 0, lang)}</dd>
          <dt>{m.colKind}</dt>
          <dd>{E.label(E.REQUEST_KIND, req.kind, lang)}</dd>
          <dt>{m.due}</dt>
          <dd>{req.dueDate?.year ? formatDate(req.dueDate, lang) : m.noDue}</dd>
        </dl>
      </section>
      {o.previousOpinionId ? (
        <p className="alert alert-info" data-testid="correction">
          {fmt(m.correction, { revision: previousRevision })}
        </p>
      ) : null}
      <p className="hint">{m.required}</p>
      <form onSubmit={submit} noValidate autoComplete="off">
        <fieldset>
          <legend>{m.secBasics}</legend>
          <div className="form-grid">
            <Select
              field="form_edition"
              label={m.formEdition}
              labels={E.FORM_EDITION}
              value={o.formEdition}
              onChange={(v) => update((n) => (n.formEdition = v))}
              {...P}
            />
            <DateInput
              field="basics.written_date"
              label={m.writtenDate}
              required
              value={toDateInput(b.writtenDate)}
              onChange={(v) => update((n) => (n.basics!.writtenDate = parseDateInput(v)))}
              {...P}
            />
            <TextInput
              field="basics.physician_name"
              label={m.physicianName}
              required
              value={b.physicianName}
              onChange={(v) => update((n) => (n.basics!.physicianName = v))}
              {...P}
            />
            <TextInput
              field="basics.institution_name"
              label={m.institutionName}
              required
              value={b.institutionName}
              onChange={(v) => update((n) => (n.basics!.institutionName = v))}
              {...P}
            />
            <TextInput
              field="basics.institution_address"
              label={m.institutionAddress}
              required
              value={b.institutionAddress}
              onChange={(v) => update((n) => (n.basics!.institutionAddress = v))}
              {...P}
            />
            <TextInput
              field="basics.institution_phone"
              label={m.institutionPhone}
              hint={m.phoneHint}
              required
              inputMode="tel"
              value={b.institutionPhone}
              onChange={(v) => update((n) => (n.basics!.institutionPhone = v))}
              {...P}
            />
            <TextInput
              field="basics.institution_fax"
              label={m.institutionFax}
              hint={m.phoneHint}
              inputMode="tel"
              value={b.institutionFax}
              onChange={(v) => update((n) => (n.basics!.institutionFax = v))}
              {...P}
            />
            <DateInput
              field="basics.last_examination_date"
              label={m.lastExamination}
              required
              value={toDateInput(b.lastExaminationDate)}
              onChange={(v) => update((n) => (n.basics!.lastExaminationDate = parseDateInput(v)))}
              {...P}
            />
            <Select
              field="basics.opinion_count"
              label={m.opinionCount}
              labels={E.OPINION_COUNT}
              from={1}
              required
              value={b.opinionCount}
              onChange={(v) => update((n) => (n.basics!.opinionCount = v))}
              {...P}
            />
            <Select
              field="basics.care_plan_use_consent"
              label={m.consent}
              labels={E.CONSENT}
              value={b.carePlanUseConsent}
              onChange={(v) => update((n) => (n.basics!.carePlanUseConsent = v))}
              {...P}
            />
            <YesNo
              field="basics.other_departments_consulted"
              label={m.otherDepartmentsConsulted}
              yes={m.yes}
              no={m.no}
              value={b.otherDepartmentsConsulted}
              onChange={(v) => update((n) => (n.basics!.otherDepartmentsConsulted = v))}
              {...P}
            />
          </div>
          {b.otherDepartmentsConsulted || b.otherDepartments.length ? (
            <Checks
              field="basics.other_departments"
              label={m.otherDepartments}
              labels={E.DEPARTMENT}
              values={b.otherDepartments}
              onChange={(v) => update((n) => (n.basics!.otherDepartments = v))}
              {...P}
            />
          ) : null}
          {b.otherDepartments.includes(13) || b.otherDepartmentName ? (
            <div className="form-grid">
              <TextInput
                field="basics.other_department_name"
                label={m.otherDepartmentName}
                value={b.otherDepartmentName}
                onChange={(v) => update((n) => (n.basics!.otherDepartmentName = v))}
                {...P}
              />
            </div>
          ) : null}
        </fieldset>

        <fieldset>
          <legend>{m.secDisease}</legend>
          <Diagnoses m={m} o={o} update={update} problem={problem} />
          <div className="form-grid">
            <Select
              field="disease.stability"
              label={m.stability}
              labels={E.STABILITY}
              from={1}
              required
              value={d.stability}
              onChange={(v) => update((n) => (n.disease!.stability = v))}
              {...P}
            />
          </div>
          {d.stability === 2 || d.unstableDetails ? (
            <TextArea
              field="disease.unstable_details"
              label={m.unstableDetails}
              value={d.unstableDetails}
              onChange={(v) => update((n) => (n.disease!.unstableDetails = v))}
              {...P}
            />
          ) : null}
          <TextArea
            field="disease.course_and_treatment"
            label={m.course}
            required
            value={d.courseAndTreatment}
            onChange={(v) => update((n) => (n.disease!.courseAndTreatment = v))}
            {...P}
          />
        </fieldset>

        <Checks
          field="special_medical_care"
          label={m.secSpecial}
          labels={E.SPECIAL_CARE}
          values={o.specialMedicalCare}
          onChange={(v) => update((n) => (n.specialMedicalCare = v))}
          {...P}
        />

        <fieldset>
          <legend>{m.secMental}</legend>
          <div className="form-grid">
            <Select
              field="mental_physical.disability_level"
              label={m.disability}
              labels={E.DISABILITY}
              from={1}
              required
              value={mp.disabilityLevel}
              onChange={(v) => update((n) => (n.mentalPhysical!.disabilityLevel = v))}
              {...P}
            />
            <Select
              field="mental_physical.dementia_level"
              label={m.dementia}
              labels={E.DEMENTIA}
              from={1}
              required
              value={mp.dementiaLevel}
              onChange={(v) => update((n) => (n.mentalPhysical!.dementiaLevel = v))}
              {...P}
            />
            <Select
              field="mental_physical.short_term_memory"
              label={m.shortTermMemory}
              labels={E.MEMORY}
              value={mp.shortTermMemory}
              onChange={(v) => update((n) => (n.mentalPhysical!.shortTermMemory = v))}
              {...P}
            />
            <Select
              field="mental_physical.decision_making"
              label={m.decisionMaking}
              labels={E.DECISION}
              value={mp.decisionMaking}
              onChange={(v) => update((n) => (n.mentalPhysical!.decisionMaking = v))}
              {...P}
            />
            <Select
              field="mental_physical.communication"
              label={m.communication}
              labels={E.COMMUNICATION}
              value={mp.communication}
              onChange={(v) => update((n) => (n.mentalPhysical!.communication = v))}
              {...P}
            />
            <YesNo
              field="mental_physical.bpsd_present"
              label={m.bpsdPresent}
              yes={m.yes}
              no={m.no}
              value={mp.bpsdPresent}
              onChange={(v) => update((n) => (n.mentalPhysical!.bpsdPresent = v))}
              {...P}
            />
          </div>
          {mp.bpsdPresent || mp.bpsd.length ? (
            <Checks
              field="mental_physical.bpsd"
              label={m.bpsd}
              labels={E.BPSD}
              values={mp.bpsd}
              onChange={(v) => update((n) => (n.mentalPhysical!.bpsd = v))}
              {...P}
            />
          ) : null}
          <div className="form-grid">
            {mp.bpsd.includes(12) || mp.bpsdOther ? (
              <TextInput
                field="mental_physical.bpsd_other"
                label={m.bpsdOther}
                value={mp.bpsdOther}
                onChange={(v) => update((n) => (n.mentalPhysical!.bpsdOther = v))}
                {...P}
              />
            ) : null}
            <YesNo
              field="mental_physical.other_psychiatric_symptoms"
              label={m.otherPsych}
              yes={m.yes}
              no={m.no}
              value={mp.otherPsychiatricSymptoms}
              onChange={(v) => update((n) => (n.mentalPhysical!.otherPsychiatricSymptoms = v))}
              {...P}
            />
            {mp.otherPsychiatricSymptoms || mp.otherPsychiatricSymptomName ? (
              <TextInput
                field="mental_physical.other_psychiatric_symptom_name"
                label={m.otherPsychName}
                value={mp.otherPsychiatricSymptomName}
                onChange={(v) => update((n) => (n.mentalPhysical!.otherPsychiatricSymptomName = v))}
                {...P}
              />
            ) : null}
            <YesNo
              field="mental_physical.specialist_consulted"
              label={m.specialist}
              yes={m.yes}
              no={m.no}
              value={mp.specialistConsulted}
              onChange={(v) => update((n) => (n.mentalPhysical!.specialistConsulted = v))}
              {...P}
            />
            {mp.specialistConsulted || mp.specialistDepartment ? (
              <TextInput
                field="mental_physical.specialist_department"
                label={m.specialistDepartment}
                value={mp.specialistDepartment}
                onChange={(v) => update((n) => (n.mentalPhysical!.specialistDepartment = v))}
                {...P}
              />
            ) : null}
            <Select
              field="mental_physical.dominant_hand"
              label={m.dominantHand}
              labels={E.HAND}
              value={mp.dominantHand}
              onChange={(v) => update((n) => (n.mentalPhysical!.dominantHand = v))}
              {...P}
            />
            <TextInput
              field="mental_physical.height_cm"
              label={m.height}
              hint={m.measureHint}
              inputMode="decimal"
              value={height}
              onChange={setHeight}
              {...P}
            />
            <TextInput
              field="mental_physical.weight_kg"
              label={m.weight}
              hint={m.measureHint}
              inputMode="decimal"
              value={weight}
              onChange={setWeight}
              {...P}
            />
            <Select
              field="mental_physical.weight_change"
              label={m.weightChange}
              labels={E.WEIGHT_CHANGE}
              value={mp.weightChange}
              onChange={(v) => update((n) => (n.mentalPhysical!.weightChange = v))}
              {...P}
            />
            <YesNo
              field="mental_physical.limb_loss.present"
              label={fmt(m.findingPresent, { name: m.limbLoss })}
              yes={m.yes}
              no={m.no}
              value={mp.limbLoss?.present ?? false}
              onChange={(v) => update((n) => (n.mentalPhysical!.limbLoss!.present = v))}
              {...P}
            />
            {mp.limbLoss?.present ? (
              <TextInput
                field="mental_physical.limb_loss.site"
                label={fmt(m.findingSite, { name: m.limbLoss })}
                value={mp.limbLoss.site}
                onChange={(v) => update((n) => (n.mentalPhysical!.limbLoss!.site = v))}
                {...P}
              />
            ) : null}
          </div>
          <Paralyses m={m} o={o} update={update} problem={problem} />
          {FINDINGS.map((name) => {
            const key = FINDING_KEY[name];
            const f = mp[key]!;
            const title =
              m[
                (
                  {
                    muscle_weakness: "muscleWeakness",
                    joint_contracture: "jointContracture",
                    joint_pain: "jointPain",
                    pressure_ulcer: "pressureUlcer",
                    other_skin_disease: "otherSkin",
                  } as const
                )[name]
              ];
            return (
              <div className="form-grid" key={name}>
                <YesNo
                  field={`mental_physical.${name}.present`}
                  label={fmt(m.findingPresent, { name: title })}
                  yes={m.yes}
                  no={m.no}
                  value={f.present}
                  onChange={(v) => update((n) => (n.mentalPhysical![key]!.present = v))}
                  {...P}
                />
                {f.present ? (
                  <>
                    <TextInput
                      field={`mental_physical.${name}.site`}
                      label={fmt(m.findingSite, { name: title })}
                      value={f.site}
                      onChange={(v) => update((n) => (n.mentalPhysical![key]!.site = v))}
                      {...P}
                    />
                    <Select
                      field={`mental_physical.${name}.severity`}
                      label={fmt(m.findingSeverity, { name: title })}
                      labels={E.SEVERITY}
                      value={f.severity}
                      onChange={(v) => update((n) => (n.mentalPhysical![key]!.severity = v))}
                      {...P}
                    />
                  </>
                ) : null}
              </div>
            );
          })}
          <Checks
            field="mental_physical.ataxia"
            label={m.ataxia}
            labels={E.ATAXIA}
            values={mp.ataxia}
            onChange={(v) => update((n) => (n.mentalPhysical!.ataxia = v))}
            {...P}
          />
        </fieldset>

        <fieldset>
          <legend>{m.secFunction}</legend>
          <div className="form-grid">
            <Select
              field="function_services.outdoor_walking"
              label={m.outdoorWalking}
              labels={E.OUTDOOR}
              value={fs.outdoorWalking}
              onChange={(v) => update((n) => (n.functionServices!.outdoorWalking = v))}
              {...P}
            />
            <Select
              field="function_services.wheelchair_use"
              label={m.wheelchair}
              labels={E.WHEELCHAIR}
              value={fs.wheelchairUse}
              onChange={(v) => update((n) => (n.functionServices!.wheelchairUse = v))}
              {...P}
            />
          </div>
          <Checks
            field="function_services.walking_aids"
            label={m.walkingAids}
            labels={E.WALKING_AID}
            values={fs.walkingAids}
            onChange={(v) => update((n) => (n.functionServices!.walkingAids = v))}
            {...P}
          />
          <div className="form-grid">
            <Select
              field="function_services.eating"
              label={m.eating}
              labels={E.EATING}
              value={fs.eating}
              onChange={(v) => update((n) => (n.functionServices!.eating = v))}
              {...P}
            />
            <Select
              field="function_services.nutrition"
              label={m.nutrition}
              labels={E.NUTRITION}
              value={fs.nutrition}
              onChange={(v) => update((n) => (n.functionServices!.nutrition = v))}
              {...P}
            />
          </div>
          <TextArea
            field="function_services.nutrition_notes"
            label={m.nutritionNotes}
            value={fs.nutritionNotes}
            onChange={(v) => update((n) => (n.functionServices!.nutritionNotes = v))}
            {...P}
          />
          <Checks
            field="function_services.likely_conditions"
            label={m.likely}
            labels={E.LIKELY}
            values={fs.likelyConditions}
            onChange={(v) => update((n) => (n.functionServices!.likelyConditions = v))}
            {...P}
          />
          {fs.likelyConditions.includes(14) || fs.likelyConditionOther ? (
            <TextInput
              field="function_services.likely_condition_other"
              label={m.likelyOther}
              value={fs.likelyConditionOther}
              onChange={(v) => update((n) => (n.functionServices!.likelyConditionOther = v))}
              {...P}
            />
          ) : null}
          <TextArea
            field="function_services.handling_policy"
            label={m.handlingPolicy}
            value={fs.handlingPolicy}
            onChange={(v) => update((n) => (n.functionServices!.handlingPolicy = v))}
            {...P}
          />
          <div className="form-grid">
            <Select
              field="function_services.outlook"
              label={m.outlook}
              labels={E.OUTLOOK}
              value={fs.outlook}
              onChange={(v) => update((n) => (n.functionServices!.outlook = v))}
              {...P}
            />
          </div>
          <MedicalNeeds m={m} o={o} update={update} problem={problem} />
          <fieldset>
            <legend>{m.cautions}</legend>
            <label className="checkbox">
              <input
                type="checkbox"
                checked={sc.nothingToNote}
                onChange={(e) => update((n) => (n.functionServices!.serviceCautions!.nothingToNote = e.target.checked))}
              />
              {m.cautionNone}
            </label>
            <div className="form-grid">
              {(
                [
                  ["blood_pressure", "bloodPressure", m.cautionBp],
                  ["eating", "eating", m.cautionEating],
                  ["swallowing", "swallowing", m.cautionSwallowing],
                  ["mobility", "mobility", m.cautionMobility],
                  ["exercise", "exercise", m.cautionExercise],
                  ["other", "other", m.cautionOther],
                ] as const
              ).map(([name, key, title]) => (
                <TextInput
                  key={name}
                  field={`function_services.service_cautions.${name}`}
                  label={title}
                  value={sc[key]}
                  onChange={(v) => update((n) => (n.functionServices!.serviceCautions![key] = v))}
                  {...P}
                />
              ))}
            </div>
          </fieldset>
          <div className="form-grid">
            <Select
              field="function_services.infection"
              label={m.infection}
              labels={E.INFECTION}
              value={fs.infection}
              onChange={(v) => update((n) => (n.functionServices!.infection = v))}
              {...P}
            />
            {fs.infection === 2 || fs.infectionDetails ? (
              <TextInput
                field="function_services.infection_details"
                label={m.infectionDetails}
                value={fs.infectionDetails}
                onChange={(v) => update((n) => (n.functionServices!.infectionDetails = v))}
                {...P}
              />
            ) : null}
          </div>
        </fieldset>

        <fieldset>
          <legend>{m.secRemarks}</legend>
          <TextArea
            field="remarks"
            label={m.remarks}
            value={o.remarks}
            onChange={(v) => update((n) => (n.remarks = v))}
            {...P}
          />
        </fieldset>

        <Attachments
          m={m}
          subjectId={req.opinionRequestId}
          attachments={attachments}
          setAttachments={setAttachments}
          problem={problem}
        />

        <ProblemAlert problem={problem} scope={SCOPE} claimed={claimedFields(o)} />
        <div className="form-actions">
          <button type="submit" disabled={busy}>
            {m.submit}
          </button>
        </div>
        {busy ? <p role="status">{m.submitting}</p> : null}
        {done ? (
          <div
            className="alert alert-info"
            role="status"
            data-testid="opinion-submitted"
            data-opinion-id={done.opinionId}
          >
            <p>{fmt(m.submitted, { revision: done.revision })}</p>
            <p>
              <Link to={`/opinions/view/${encodeURIComponent(done.opinionId)}`}>{m.view}</Link>
              {" · "}
              <Link to="/opinions">{m.back}</Link>
            </p>
          </div>
        ) : null}
      </form>
    </>
  );
}

/** Every API path an input of this form shows (the rest are listed in the alert). */
function claimedFields(o: Opinion): string[] {
  const fixed = [
    "form_edition",
    "basics.written_date",
    "basics.physician_name",
    "basics.institution_name",
    "basics.institution_address",
    "basics.institution_phone",
    "basics.institution_fax",
    "basics.last_examination_date",
    "basics.opinion_count",
    "basics.care_plan_use_consent",
    "basics.other_departments_consulted",
    "disease.stability",
    "disease.course_and_treatment",
    "special_medical_care",
    "mental_physical.disability_level",
    "mental_physical.dementia_level",
    "mental_physical.short_term_memory",
    "mental_physical.decision_making",
    "mental_physical.communication",
    "mental_physical.bpsd_present",
    "mental_physical.other_psychiatric_symptoms",
    "mental_physical.specialist_consulted",
    "mental_physical.dominant_hand",
    "mental_physical.height_cm",
    "mental_physical.weight_kg",
    "mental_physical.weight_change",
    "mental_physical.ataxia",
    "mental_physical.paralysis",
    "function_services.outdoor_walking",
    "function_services.wheelchair_use",
    "function_services.walking_aids",
    "function_services.eating",
    "function_services.nutrition",
    "function_services.nutrition_notes",
    "function_services.likely_conditions",
    "function_services.handling_policy",
    "function_services.outlook",
    "function_services.medical_management",
    "function_services.medical_management_none",
    "function_services.service_cautions",
    "function_services.infection",
    "remarks",
    "attachment_ids",
  ];
  const b = o.basics!;
  const mp = o.mentalPhysical!;
  const fs = o.functionServices!;
  const shown = (cond: unknown, f: string) => (cond ? [f] : []);
  return [
    ...fixed,
    ...o.disease!.diagnoses.flatMap((_, i) => [`disease.diagnoses[${i}]`]),
    "disease.diagnoses",
    ...shown(b.otherDepartmentsConsulted || b.otherDepartments.length, "basics.other_departments"),
    ...shown(b.otherDepartments.includes(13) || b.otherDepartmentName, "basics.other_department_name"),
    ...shown(o.disease!.stability === 2 || o.disease!.unstableDetails, "disease.unstable_details"),
    ...shown(mp.bpsdPresent || mp.bpsd.length, "mental_physical.bpsd"),
    ...shown(mp.bpsd.includes(12) || mp.bpsdOther, "mental_physical.bpsd_other"),
    ...shown(
      mp.otherPsychiatricSymptoms || mp.otherPsychiatricSymptomName,
      "mental_physical.other_psychiatric_symptom_name",
    ),
    ...shown(mp.specialistConsulted || mp.specialistDepartment, "mental_physical.specialist_department"),
    "mental_physical.limb_loss.present",
    ...shown(mp.limbLoss?.present, "mental_physical.limb_loss.site"),
    ...FINDINGS.flatMap((f) => [
      `mental_physical.${f}.present`,
      ...(mp[FINDING_KEY[f]]?.present ? [`mental_physical.${f}.site`, `mental_physical.${f}.severity`] : []),
    ]),
    ...shown(fs.likelyConditions.includes(14) || fs.likelyConditionOther, "function_services.likely_condition_other"),
    ...shown(
      fs.medicalManagement.some((x) => x.service === 12) || fs.otherMedicalService,
      "function_services.other_medical_service",
    ),
    ...shown(fs.infection === 2 || fs.infectionDetails, "function_services.infection_details"),
  ];
}

type Update = (fn: (n: Opinion) => void) => void;

function Diagnoses({ m, o, update, problem }: { m: M; o: Opinion; update: Update; problem: ApiProblem | null }) {
  const { lang } = useLang();
  const list = o.disease!.diagnoses;
  const own = (problem?.fields ?? []).filter(
    (f) => f.field === "disease.diagnoses" || f.field === "opinion.disease.diagnoses",
  );
  const errId = `${inputId(SCOPE, "disease.diagnoses")}-error`;
  const P = { problem };
  return (
    <fieldset
      id={inputId(SCOPE, "disease.diagnoses")}
      aria-describedby={own.length ? errId : undefined}
      className={own.length ? "field-invalid" : undefined}
    >
      <legend>{m.diagnoses}</legend>
      {own.length ? (
        <ul className="field-error" id={errId}>
          {own.map((e, i) => (
            <li key={i}>
              <FieldProblemText problem={e} lang={lang} />
            </li>
          ))}
        </ul>
      ) : null}
      {list.map((dg, i) => {
        const at = `disease.diagnoses[${i}]`;
        const n = i + 1;
        const od = dg.onsetDate ?? { year: 0, month: 0, day: 0 };
        const setOnset = (part: "year" | "month" | "day", v: string) =>
          update((x) => {
            const t = x.disease!.diagnoses[i];
            t.onsetDate ??= { $typeName: "google.type.Date", year: 0, month: 0, day: 0 };
            const num = Number(v.replace(/\D/g, ""));
            t.onsetDate[part] = Number.isFinite(num) ? num : 0;
          });
        return (
          <div className="diagnosis" key={i} data-testid={`diagnosis-${i}`}>
            <h3>{fmt(m.diagnosis, { n })}</h3>
            <div className="form-grid">
              <TextInput
                field={`${at}.name`}
                label={`${m.diagnosisName} ${n}`}
                required
                value={dg.name}
                onChange={(v) => update((x) => (x.disease!.diagnoses[i].name = v))}
                {...P}
              />
              <TextInput
                field={`${at}.onset_date`}
                label={`${m.onsetYear} ${n}`}
                required
                inputMode="numeric"
                hint={m.onsetHint}
                value={od.year ? String(od.year) : ""}
                onChange={(v) => setOnset("year", v)}
                {...P}
              />
              <div className="field">
                <label htmlFor={`${inputId(SCOPE, at)}-onset-month`}>{`${m.onsetMonth} ${n}`}</label>
                <input
                  id={`${inputId(SCOPE, at)}-onset-month`}
                  inputMode="numeric"
                  value={od.month ? String(od.month) : ""}
                  onChange={(e) => setOnset("month", e.target.value)}
                />
              </div>
              <div className="field">
                <label htmlFor={`${inputId(SCOPE, at)}-onset-day`}>{`${m.onsetDay} ${n}`}</label>
                <input
                  id={`${inputId(SCOPE, at)}-onset-day`}
                  inputMode="numeric"
                  value={od.day ? String(od.day) : ""}
                  onChange={(e) => setOnset("day", e.target.value)}
                />
              </div>
              <Select
                field={`${at}.specified_disease`}
                label={`${m.specifiedDisease} ${n}`}
                labels={E.SPECIFIED_DISEASE}
                value={dg.specifiedDisease}
                onChange={(v) => update((x) => (x.disease!.diagnoses[i].specifiedDisease = v))}
                {...P}
              />
            </div>
            {list.length > 1 ? (
              <button type="button" onClick={() => update((x) => x.disease!.diagnoses.splice(i, 1))}>
                {fmt(m.removeDiagnosis, { n })}
              </button>
            ) : null}
          </div>
        );
      })}
      {list.length < 3 ? (
        <button
          type="button"
          onClick={() =>
            update((x) =>
              x.disease!.diagnoses.push(create(DiagnosisSchema, { onsetDate: { year: 0, month: 0, day: 0 } })),
            )
          }
        >
          {m.addDiagnosis}
        </button>
      ) : null}
    </fieldset>
  );
}

function Paralyses({ m, o, update, problem }: { m: M; o: Opinion; update: Update; problem: ApiProblem | null }) {
  const list = o.mentalPhysical!.paralysis;
  const P = { problem };
  return (
    <fieldset id={inputId(SCOPE, "mental_physical.paralysis")}>
      <legend>{m.paralysis}</legend>
      {list.map((p, i) => {
        const at = `mental_physical.paralysis[${i}]`;
        const n = i + 1;
        return (
          <div className="form-grid" key={i}>
            <Select
              field={`${at}.site`}
              label={`${m.paralysis} ${n}: ${m.paralysisSite}`}
              labels={E.PARALYSIS_SITE}
              from={1}
              required
              value={p.site}
              onChange={(v) => update((x) => (x.mentalPhysical!.paralysis[i].site = v))}
              {...P}
            />
            {p.site === 5 || p.otherSite ? (
              <TextInput
                field={`${at}.other_site`}
                label={`${m.paralysis} ${n}: ${m.paralysisOther}`}
                value={p.otherSite}
                onChange={(v) => update((x) => (x.mentalPhysical!.paralysis[i].otherSite = v))}
                {...P}
              />
            ) : null}
            <Select
              field={`${at}.severity`}
              label={`${m.paralysis} ${n}: ${m.severity}`}
              labels={E.SEVERITY}
              from={1}
              required
              value={p.severity}
              onChange={(v) => update((x) => (x.mentalPhysical!.paralysis[i].severity = v))}
              {...P}
            />
            <button
              type="button"
              className="align-end"
              onClick={() => update((x) => x.mentalPhysical!.paralysis.splice(i, 1))}
            >
              {fmt(m.removeParalysis, { n })}
            </button>
          </div>
        );
      })}
      <button type="button" onClick={() => update((x) => x.mentalPhysical!.paralysis.push(create(ParalysisSchema)))}>
        {m.addParalysis}
      </button>
    </fieldset>
  );
}

function MedicalNeeds({ m, o, update, problem }: { m: M; o: Opinion; update: Update; problem: ApiProblem | null }) {
  const { lang } = useLang();
  const fs = o.functionServices!;
  const field = "function_services.medical_management";
  const errs = (problem?.fields ?? []).filter((f) => f.field.startsWith(field) && !f.field.startsWith(`${field}_none`));
  const errId = `${inputId(SCOPE, field)}-error`;
  const set = (service: number, on: boolean, high: boolean) =>
    update((x) => {
      const list = x.functionServices!.medicalManagement.filter((n) => n.service !== service);
      if (on) list.push(create(MedicalManagementNeedSchema, { service, highPriority: high }));
      list.sort((a, b) => a.service - b.service);
      x.functionServices!.medicalManagement = list;
    });
  return (
    <fieldset
      id={inputId(SCOPE, field)}
      aria-describedby={errs.length ? errId : undefined}
      className={errs.length ? "field-invalid" : undefined}
    >
      <legend>{m.medical}</legend>
      {errs.length ? (
        <ul className="field-error" id={errId}>
          {errs.map((e, i) => (
            <li key={i}>
              <FieldProblemText problem={e} lang={lang} />
            </li>
          ))}
        </ul>
      ) : null}
      <label className="checkbox">
        <input
          type="checkbox"
          id={inputId(SCOPE, "function_services.medical_management_none")}
          checked={fs.medicalManagementNone}
          onChange={(e) => update((x) => (x.functionServices!.medicalManagementNone = e.target.checked))}
        />
        {m.medicalNone}
      </label>
      <div className="checks">
        {E.MEDICAL_SERVICE.map((_, s) => {
          if (s === 0) return null;
          const cur = fs.medicalManagement.find((n) => n.service === s);
          const name = E.label(E.MEDICAL_SERVICE, s, lang);
          return (
            <div key={s}>
              <label className="checkbox">
                <input type="checkbox" checked={!!cur} onChange={(e) => set(s, e.target.checked, false)} />
                {name}
              </label>
              {cur ? (
                <label className="checkbox">
                  <input type="checkbox" checked={cur.highPriority} onChange={(e) => set(s, true, e.target.checked)} />
                  {fmt(m.highPriority, { name })}
                </label>
              ) : null}
            </div>
          );
        })}
      </div>
      {fs.medicalManagement.some((x) => x.service === 12) || fs.otherMedicalService ? (
        <TextInput
          field="function_services.other_medical_service"
          label={m.otherMedicalService}
          value={fs.otherMedicalService}
          onChange={(v) => update((x) => (x.functionServices!.otherMedicalService = v))}
          problem={problem}
        />
      ) : null}
    </fieldset>
  );
}

function Attachments({
  m,
  subjectId,
  attachments,
  setAttachments,
  problem,
}: {
  m: M;
  subjectId: string;
  attachments: Attachment[];
  setAttachments: (f: (a: Attachment[]) => Attachment[]) => void;
  problem: ApiProblem | null;
}) {
  const { lang } = useLang();
  const client = useClient(DocumentService);
  const id = useId();
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<{ sent: number; total: number } | null>(null);
  const [uploadProblem, setUploadProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);
  const errs = (problem?.fields ?? []).filter((f) => f.field.startsWith("attachment_ids"));
  const inputIdFor = inputId(SCOPE, "attachment_ids");
  const errId = `${inputIdFor}-error`;
  const hintId = `${id}-hint`;
  const percent = progress ? (progress.total ? Math.floor((progress.sent * 100) / progress.total) : 100) : 0;

  const upload = async () => {
    if (!file) return;
    setBusy(true);
    setUploadProblem(null);
    setProgress({ sent: 0, total: file.size });
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const a = await uploadAttachment(client, {
        requestId: requestId(),
        subjectId,
        fileName: file.name,
        bytes,
        onProgress: (sent, total) => setProgress({ sent, total }),
      });
      setAttachments((prev) => [...prev, a]);
    } catch (e) {
      setUploadProblem(toProblem(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <fieldset className={errs.length ? "field-invalid" : undefined}>
      <legend>{m.secAttachments}</legend>
      {errs.length ? (
        <ul className="field-error" id={errId} data-field="attachment_ids">
          {errs.map((e, i) => (
            <li key={i}>
              <FieldProblemText problem={e} lang={lang} />
            </li>
          ))}
        </ul>
      ) : null}
      <div className="field">
        <label htmlFor={inputIdFor}>{m.attachmentFile}</label>
        <p className="hint" id={hintId}>
          {m.attachmentHint}
        </p>
        <input
          id={inputIdFor}
          type="file"
          accept="application/pdf,.pdf"
          aria-describedby={errs.length ? `${hintId} ${errId}` : hintId}
          aria-invalid={errs.length ? true : undefined}
          onChange={(e) => {
            setFile(e.target.files?.[0] ?? null);
            setProgress(null);
          }}
        />
      </div>
      <div className="form-actions">
        <button type="button" disabled={!file || busy} onClick={() => void upload()}>
          {m.upload}
        </button>
      </div>
      {progress ? (
        <div className="field" data-testid="upload-progress" data-percent={percent}>
          <label htmlFor={`${id}-progress`}>{m.uploadProgress}</label>
          <progress id={`${id}-progress`} max={progress.total || 1} value={progress.sent} />
          <p role="status">{busy ? fmt(m.uploading, { percent }) : `${m.uploaded} (${percent}%)`}</p>
        </div>
      ) : null}
      <ProblemAlert problem={uploadProblem} />
      {attachments.length ? (
        <ul className="plain" data-testid="attachments">
          {attachments.map((a) => (
            <li key={a.attachmentId} data-attachment-id={a.attachmentId}>
              <span className="filename" translate="no">
                {a.fileName}
              </span>{" "}
              <span className="reason">
                (<span translate="no">{a.contentType}</span>, {byteSize(a.sizeBytes, lang)})
              </span>{" "}
              <button
                type="button"
                onClick={() => setAttachments((prev) => prev.filter((x) => x.attachmentId !== a.attachmentId))}
              >
                {fmt(m.removeAttachment, { name: a.fileName })}
              </button>
            </li>
          ))}
        </ul>
      ) : null}
    </fieldset>
  );
}

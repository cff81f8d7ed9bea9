//! The 主治医意見書 content rules (docs/domain/opinion.md, #form and #revision-2026), as one pure
//! function over the submitted content. Every problem becomes one field violation naming
//! the field (`disease.diagnoses[1].onset_date`) and the rule; values are never echoed.

use chrono::NaiveDate;
use kaigo_platform::errors::Violations;
use kaigo_proto::google::r#type::Date;
use kaigo_proto::kaigo::common::v1::{DementiaIndependenceLevel, DisabilityIndependenceLevel, InsuredCategory};
use kaigo_proto::kaigo::documents::v1::{
    AtaxiaSite, BehaviouralSymptom, CarePlanUseConsent, Communication, DecisionMaking, Department, DiseaseOpinion,
    DominantHand, EatingAbility, FunctionAndServices, ImprovementOutlook, InfectionStatus, LikelyCondition,
    MedicalService, MentalPhysicalState, NutritionStatus, Opinion, OpinionBasics, OpinionCount, OpinionFormEdition,
    OutdoorWalking, ParalysisSite, PhysicalFinding, Severity, ShortTermMemory, SpecialMedicalCare, SpecifiedDisease,
    SymptomStability, WalkingAidUse, WeightChange, WheelchairUse,
};

use super::fields::{self, MAX_LINE, MAX_TEXT};

/// At most this many diagnoses (診断名 1–3).
pub const MAX_DIAGNOSES: usize = 3;
/// At most this many attachments on one opinion.
pub const MAX_ATTACHMENTS: usize = 10;
/// Most 麻痺 entries: one per site, the four limbs and a few その他 sites.
pub const MAX_PARALYSIS: usize = 8;

/// The day the 令和8年 form applies from (介護保険最新情報 Vol.1440).
pub fn reiwa8_start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 4, 1).unwrap_or(NaiveDate::MIN)
}

/// What the rules need to know besides the content.
#[derive(Debug, Clone, Copy)]
pub struct OpinionContext {
    /// 第1号 or 第2号, from the request's applicant.
    pub category: InsuredCategory,
    /// Today in JST: nothing may be dated after it.
    pub today: NaiveDate,
    /// The last written date the 令和3年 form is still accepted for, or `None` for no end
    /// (`documents.reiwa3_form_accepted_until`): how long the old form may follow the
    /// 2026-04-01 revision is UNCONFIRMED (paper stays allowed; no end of the old form is
    /// published), so it is the deployment's choice.
    pub reiwa3_accepted_until: Option<NaiveDate>,
}

/// The form edition the content follows: the stated one, or the one in force on the date the
/// form was written.
pub fn resolve_edition(stated: OpinionFormEdition, written: Option<NaiveDate>) -> OpinionFormEdition {
    match stated {
        OpinionFormEdition::Unspecified => match written {
            Some(d) if d < reiwa8_start() => OpinionFormEdition::Reiwa3,
            _ => OpinionFormEdition::Reiwa8,
        },
        other => other,
    }
}

/// Validates the content of `opinion` and returns the edition it follows.
pub fn validate_opinion(opinion: &Opinion, ctx: OpinionContext) -> (OpinionFormEdition, Violations) {
    let mut v = Violations::new();
    let stated = fields::code::<OpinionFormEdition>(&mut v, "form_edition", opinion.form_edition, false)
        .unwrap_or(OpinionFormEdition::Unspecified);
    let written = match &opinion.basics {
        Some(b) => basics(&mut v, b, ctx),
        None => {
            v.add("basics", "required");
            None
        }
    };
    let edition = resolve_edition(stated, written);
    if let Some(w) = written
        && edition == OpinionFormEdition::Reiwa8
        && w < reiwa8_start()
    {
        v.add("form_edition", "the 令和8年 form applies to opinions written from 2026-04-01");
    }
    if let (Some(w), Some(until)) = (written, ctx.reiwa3_accepted_until)
        && edition == OpinionFormEdition::Reiwa3
        && w > until
    {
        v.add("form_edition", format!("the 令和3年 form is accepted for opinions written up to {until}; use 令和8年"));
    }
    if let Some(b) = &opinion.basics {
        consent_box(&mut v, b, edition);
    }
    match &opinion.disease {
        Some(d) => disease(&mut v, d, ctx, written.unwrap_or(ctx.today)),
        None => v.add("disease", "required"),
    }
    fields::codes::<SpecialMedicalCare>(&mut v, "special_medical_care", &opinion.special_medical_care);
    match &opinion.mental_physical {
        Some(m) => mental_physical(&mut v, m),
        None => v.add("mental_physical", "required"),
    }
    match &opinion.function_services {
        Some(f) => function_services(&mut v, f),
        None => v.add("function_services", "required"),
    }
    fields::text(&mut v, "remarks", &opinion.remarks, false, MAX_TEXT);
    attachments(&mut v, &opinion.attachment_ids, edition);
    (edition, v)
}

/// 基本事項; returns the written date when valid.
fn basics(v: &mut Violations, b: &OpinionBasics, ctx: OpinionContext) -> Option<NaiveDate> {
    let written = fields::date(v, "basics.written_date", b.written_date.as_ref(), true);
    if written.is_some_and(|w| w > ctx.today) {
        v.add("basics.written_date", "must not be after today (JST)");
    }
    fields::text(v, "basics.physician_name", &b.physician_name, true, MAX_LINE);
    fields::text(v, "basics.institution_name", &b.institution_name, true, MAX_LINE);
    fields::text(v, "basics.institution_address", &b.institution_address, true, MAX_LINE);
    fields::phone(v, "basics.institution_phone", &b.institution_phone, true);
    fields::phone(v, "basics.institution_fax", &b.institution_fax, false);
    let examined = fields::date(v, "basics.last_examination_date", b.last_examination_date.as_ref(), true);
    if let (Some(e), Some(w)) = (examined, written)
        && e > w
    {
        v.add("basics.last_examination_date", "must not be after written_date");
    }
    fields::code::<OpinionCount>(v, "basics.opinion_count", b.opinion_count, true);
    let departments = fields::codes::<Department>(v, "basics.other_departments", &b.other_departments);
    if b.other_departments_consulted && b.other_departments.is_empty() {
        v.add("basics.other_departments", "at least one department when other_departments_consulted (有)");
    }
    if !b.other_departments_consulted && !b.other_departments.is_empty() {
        v.add("basics.other_departments", "must be empty when other_departments_consulted is false (無)");
    }
    let other = departments.contains(&Department::Other);
    if other {
        fields::text(v, "basics.other_department_name", &b.other_department_name, true, MAX_LINE);
    }
    fields::only_when(v, "basics.other_department_name", &b.other_department_name, other, "DEPARTMENT_OTHER is listed");
    written
}

/// The doctor's consent box exists on the 令和3年 form only.
fn consent_box(v: &mut Violations, b: &OpinionBasics, edition: OpinionFormEdition) {
    let consent = fields::code::<CarePlanUseConsent>(v, "basics.care_plan_use_consent", b.care_plan_use_consent, false);
    match edition {
        OpinionFormEdition::Reiwa8 if consent.is_some() => {
            v.add("basics.care_plan_use_consent", "the 令和8年 form has no consent box; leave it unset")
        }
        OpinionFormEdition::Reiwa3 if consent.is_none() && b.care_plan_use_consent == 0 => {
            v.add("basics.care_plan_use_consent", "required on the 令和3年 form (同意する or 同意しない)")
        }
        _ => {}
    }
}

/// 1. 傷病に関する意見.
fn disease(v: &mut Violations, d: &DiseaseOpinion, ctx: OpinionContext, written: NaiveDate) {
    if d.diagnoses.is_empty() {
        v.add("disease.diagnoses", "at least one diagnosis");
    }
    if d.diagnoses.len() > MAX_DIAGNOSES {
        v.add("disease.diagnoses", format!("at most {MAX_DIAGNOSES} diagnoses"));
    }
    let mut specified = false;
    for (i, diagnosis) in d.diagnoses.iter().enumerate().take(MAX_DIAGNOSES) {
        let at = format!("disease.diagnoses[{i}]");
        fields::text(v, &format!("{at}.name"), &diagnosis.name, true, MAX_LINE);
        onset(v, &format!("{at}.onset_date"), diagnosis.onset_date.as_ref(), written);
        let code =
            fields::code::<SpecifiedDisease>(v, &format!("{at}.specified_disease"), diagnosis.specified_disease, false);
        specified |= code.is_some();
    }
    if ctx.category == InsuredCategory::Second && !d.diagnoses.is_empty() && !specified {
        v.add(
            "disease.diagnoses",
            "a 第2号 applicant needs one of the 16 特定疾病 among the diagnoses (set specified_disease)",
        );
    }
    let stability = fields::code::<SymptomStability>(v, "disease.stability", d.stability, true);
    let unstable = stability == Some(SymptomStability::Unstable);
    if unstable {
        fields::text(v, "disease.unstable_details", &d.unstable_details, true, MAX_TEXT);
    }
    fields::only_when(v, "disease.unstable_details", &d.unstable_details, unstable, "stability is 不安定");
    fields::text(v, "disease.course_and_treatment", &d.course_and_treatment, true, MAX_TEXT);
}

/// 発症年月日: the year is required; the month and day may be 0 when unknown ("平成20年頃"),
/// but a day needs a month; the date must exist and not be after the written date.
fn onset(v: &mut Violations, field: &str, date: Option<&Date>, written: NaiveDate) {
    let Some(d) = date else {
        v.add(field, "required");
        return;
    };
    if d.year == 0 {
        v.add(field, "the year is required");
        return;
    }
    if d.month == 0 && d.day != 0 {
        v.add(field, "a day needs a month");
        return;
    }
    let month = u32::try_from(d.month.max(1)).unwrap_or(13);
    let day = u32::try_from(d.day.max(1)).unwrap_or(32);
    let Some(earliest) = NaiveDate::from_ymd_opt(d.year, month, day) else {
        v.add(field, "no such calendar date");
        return;
    };
    if earliest > written {
        v.add(field, "must not be after the written date");
    } else if d.year < 1900 {
        v.add(field, "year before 1900");
    }
}

/// 3. 心身の状態に関する意見.
fn mental_physical(v: &mut Violations, m: &MentalPhysicalState) {
    fields::code::<DisabilityIndependenceLevel>(v, "mental_physical.disability_level", m.disability_level, true);
    fields::code::<DementiaIndependenceLevel>(v, "mental_physical.dementia_level", m.dementia_level, true);
    fields::code::<ShortTermMemory>(v, "mental_physical.short_term_memory", m.short_term_memory, false);
    fields::code::<DecisionMaking>(v, "mental_physical.decision_making", m.decision_making, false);
    fields::code::<Communication>(v, "mental_physical.communication", m.communication, false);

    let bpsd = fields::codes::<BehaviouralSymptom>(v, "mental_physical.bpsd", &m.bpsd);
    if m.bpsd_present && m.bpsd.is_empty() {
        v.add("mental_physical.bpsd", "at least one symptom when bpsd_present (有)");
    }
    if !m.bpsd_present && !m.bpsd.is_empty() {
        v.add("mental_physical.bpsd", "must be empty when bpsd_present is false (無)");
    }
    let other = bpsd.contains(&BehaviouralSymptom::Other);
    if other {
        fields::text(v, "mental_physical.bpsd_other", &m.bpsd_other, true, MAX_LINE);
    }
    fields::only_when(v, "mental_physical.bpsd_other", &m.bpsd_other, other, "BEHAVIOURAL_SYMPTOM_OTHER is listed");

    let psych = "mental_physical.other_psychiatric_symptom_name";
    if m.other_psychiatric_symptoms {
        fields::text(v, psych, &m.other_psychiatric_symptom_name, true, MAX_LINE);
    }
    fields::only_when(
        v,
        psych,
        &m.other_psychiatric_symptom_name,
        m.other_psychiatric_symptoms,
        "symptoms are present",
    );
    let dept = "mental_physical.specialist_department";
    if m.specialist_consulted {
        fields::text(v, dept, &m.specialist_department, true, MAX_LINE);
    }
    fields::only_when(v, dept, &m.specialist_department, m.specialist_consulted, "a specialist was consulted");

    fields::code::<DominantHand>(v, "mental_physical.dominant_hand", m.dominant_hand, false);
    measure(v, "mental_physical.height_cm", m.height_cm, 50.0, 250.0);
    measure(v, "mental_physical.weight_kg", m.weight_kg, 10.0, 250.0);
    fields::code::<WeightChange>(v, "mental_physical.weight_change", m.weight_change, false);

    if let Some(limb) = &m.limb_loss {
        fields::text(v, "mental_physical.limb_loss.site", &limb.site, limb.present, MAX_LINE);
        fields::only_when(v, "mental_physical.limb_loss.site", &limb.site, limb.present, "present");
        if limb.severity != 0 {
            v.add("mental_physical.limb_loss.severity", "四肢欠損 has no severity; leave it unset");
        }
    }
    let mut sites = Vec::new();
    let paralysis = if kaigo_platform::validate::at_most(v, "mental_physical.paralysis", &m.paralysis, MAX_PARALYSIS) {
        m.paralysis.as_slice()
    } else {
        &[]
    };
    for (i, p) in paralysis.iter().enumerate() {
        let at = format!("mental_physical.paralysis[{i}]");
        let site = fields::code::<ParalysisSite>(v, &format!("{at}.site"), p.site, true);
        if site.is_some_and(|s| s != ParalysisSite::Other && sites.contains(&s)) {
            v.add(format!("{at}.site"), "listed twice");
        }
        let other = site == Some(ParalysisSite::Other);
        if other {
            fields::text(v, &format!("{at}.other_site"), &p.other_site, true, MAX_LINE);
        }
        fields::only_when(v, &format!("{at}.other_site"), &p.other_site, other, "site is PARALYSIS_SITE_OTHER");
        fields::code::<Severity>(v, &format!("{at}.severity"), p.severity, true);
        sites.extend(site);
    }
    for (name, finding) in [
        ("muscle_weakness", &m.muscle_weakness),
        ("joint_contracture", &m.joint_contracture),
        ("joint_pain", &m.joint_pain),
        ("pressure_ulcer", &m.pressure_ulcer),
        ("other_skin_disease", &m.other_skin_disease),
    ] {
        if let Some(f) = finding {
            physical_finding(v, &format!("mental_physical.{name}"), f);
        }
    }
    fields::codes::<AtaxiaSite>(v, "mental_physical.ataxia", &m.ataxia);
}

/// A measurement: 0 means not recorded; otherwise within a plausible human range.
fn measure(v: &mut Violations, field: &str, value: f64, min: f64, max: f64) {
    if value == 0.0 {
        return;
    }
    if !value.is_finite() || value < min || value > max {
        v.add(field, format!("0 (not recorded) or between {min} and {max}"));
    }
}

/// 有 needs 部位 and 程度; 無 has neither.
fn physical_finding(v: &mut Violations, at: &str, f: &PhysicalFinding) {
    if f.present {
        fields::text(v, &format!("{at}.site"), &f.site, true, MAX_LINE);
        fields::code::<Severity>(v, &format!("{at}.severity"), f.severity, true);
    } else {
        fields::only_when(v, &format!("{at}.site"), &f.site, false, "present");
        if f.severity != 0 {
            v.add(format!("{at}.severity"), "must be unset unless present");
        }
    }
}

/// 4. 生活機能とサービスに関する意見.
fn function_services(v: &mut Violations, f: &FunctionAndServices) {
    fields::code::<OutdoorWalking>(v, "function_services.outdoor_walking", f.outdoor_walking, false);
    fields::code::<WheelchairUse>(v, "function_services.wheelchair_use", f.wheelchair_use, false);
    let aids = fields::codes::<WalkingAidUse>(v, "function_services.walking_aids", &f.walking_aids);
    if aids.contains(&WalkingAidUse::NotUsed) && aids.len() > 1 {
        v.add("function_services.walking_aids", "用いていない excludes the other choices");
    }
    fields::code::<EatingAbility>(v, "function_services.eating", f.eating, false);
    fields::code::<NutritionStatus>(v, "function_services.nutrition", f.nutrition, false);
    fields::text(v, "function_services.nutrition_notes", &f.nutrition_notes, false, MAX_TEXT);

    let conditions = fields::codes::<LikelyCondition>(v, "function_services.likely_conditions", &f.likely_conditions);
    let other = conditions.contains(&LikelyCondition::Other);
    let other_field = "function_services.likely_condition_other";
    if other {
        fields::text(v, other_field, &f.likely_condition_other, true, MAX_LINE);
    }
    fields::only_when(v, other_field, &f.likely_condition_other, other, "LIKELY_CONDITION_OTHER is listed");
    fields::text(v, "function_services.handling_policy", &f.handling_policy, false, MAX_TEXT);
    fields::code::<ImprovementOutlook>(v, "function_services.outlook", f.outlook, false);

    let mut services = Vec::new();
    let field = "function_services.medical_management";
    let needs = if kaigo_platform::validate::at_most(v, field, &f.medical_management, fields::MAX_CODES) {
        f.medical_management.as_slice()
    } else {
        &[]
    };
    for (i, need) in needs.iter().enumerate() {
        let at = format!("function_services.medical_management[{i}].service");
        if let Some(s) = fields::code::<MedicalService>(v, &at, need.service, true) {
            if services.contains(&s) {
                v.add(at, "listed twice");
            }
            services.push(s);
        }
    }
    if f.medical_management_none && !f.medical_management.is_empty() {
        v.add(
            "function_services.medical_management",
            "must be empty when medical_management_none (特記すべき項目なし)",
        );
    }
    let other_service = services.contains(&MedicalService::Other);
    let service_field = "function_services.other_medical_service";
    if other_service {
        fields::text(v, service_field, &f.other_medical_service, true, MAX_LINE);
    }
    fields::only_when(v, service_field, &f.other_medical_service, other_service, "MEDICAL_SERVICE_OTHER is listed");

    if let Some(c) = &f.service_cautions {
        let texts = [
            ("blood_pressure", &c.blood_pressure),
            ("eating", &c.eating),
            ("swallowing", &c.swallowing),
            ("mobility", &c.mobility),
            ("exercise", &c.exercise),
            ("other", &c.other),
        ];
        for (name, text) in texts {
            let field = format!("function_services.service_cautions.{name}");
            fields::text(v, &field, text, false, MAX_TEXT);
            if c.nothing_to_note && !text.trim().is_empty() {
                v.add(field, "must be empty when nothing_to_note (特記すべき項目なし)");
            }
        }
    }
    let infection = fields::code::<InfectionStatus>(v, "function_services.infection", f.infection, false);
    let present = infection == Some(InfectionStatus::Present);
    if present {
        fields::text(v, "function_services.infection_details", &f.infection_details, true, MAX_LINE);
    }
    fields::only_when(v, "function_services.infection_details", &f.infection_details, present, "infection is 有");
}

/// 添付資料: allowed on the 令和3年 form only, as our attachment ids.
fn attachments(v: &mut Violations, ids: &[String], edition: OpinionFormEdition) {
    if edition == OpinionFormEdition::Reiwa8 && !ids.is_empty() {
        v.add("attachment_ids", "the 令和8年 form has no 添付資料 (attachments)");
        return;
    }
    if ids.len() > MAX_ATTACHMENTS {
        v.add("attachment_ids", format!("at most {MAX_ATTACHMENTS} attachments"));
    }
    for (i, id) in ids.iter().enumerate() {
        let field = format!("attachment_ids[{i}]");
        fields::id(v, &field, id, true);
        if ids[..i].contains(id) {
            v.add(field, "listed twice");
        }
    }
}

#[cfg(test)]
#[path = "opinion_tests.rs"]
mod tests;

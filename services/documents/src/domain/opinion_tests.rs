use chrono::NaiveDate;
use kaigo_proto::google::r#type::Date;
use kaigo_proto::kaigo::common::v1::InsuredCategory;
use kaigo_proto::kaigo::documents::v1::{
    BehaviouralSymptom, CarePlanUseConsent, Department, Diagnosis, OpinionFormEdition, SpecifiedDisease,
    SymptomStability,
};

use super::*;
use crate::seed::sample_opinion;

fn ctx(category: InsuredCategory) -> OpinionContext {
    OpinionContext { category, today: NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(), reiwa3_accepted_until: None }
}

fn written() -> Date {
    Date { year: 2026, month: 5, day: 20 }
}

fn problems(opinion: &Opinion, category: InsuredCategory) -> Vec<String> {
    let (_, v) = validate_opinion(opinion, ctx(category));
    v.as_slice().iter().map(|f| format!("{}: {}", f.field, f.description)).collect()
}

#[test]
fn the_sample_is_valid_for_both_categories() {
    let o = sample_opinion("r", written());
    assert_eq!(problems(&o, InsuredCategory::First), Vec::<String>::new());
    assert_eq!(problems(&o, InsuredCategory::Second), Vec::<String>::new());
}

#[test]
fn a_second_category_applicant_needs_a_specified_disease() {
    let mut o = sample_opinion("r", written());
    o.disease.as_mut().unwrap().diagnoses[0].specified_disease = 0;
    assert!(problems(&o, InsuredCategory::First).is_empty());
    assert_eq!(
        problems(&o, InsuredCategory::Second),
        [
            "disease.diagnoses: a 第2号 applicant needs one of the 16 特定疾病 among the diagnoses (set specified_disease)"
        ]
    );
}

#[test]
fn at_most_three_diagnoses_each_with_a_name_and_onset() {
    let mut o = sample_opinion("r", written());
    let d = o.disease.as_mut().unwrap();
    let extra = Diagnosis {
        name: "高血圧症".into(),
        onset_date: Some(Date { year: 2010, month: 0, day: 0 }),
        specified_disease: 0,
    };
    d.diagnoses.extend([extra.clone(), extra.clone(), extra]);
    assert_eq!(problems(&o, InsuredCategory::First), ["disease.diagnoses: at most 3 diagnoses"]);

    let d = o.disease.as_mut().unwrap();
    d.diagnoses.truncate(2);
    d.diagnoses[1].name.clear();
    d.diagnoses[1].onset_date = Some(Date { year: 2010, month: 0, day: 5 });
    assert_eq!(
        problems(&o, InsuredCategory::First),
        ["disease.diagnoses[1].name: required", "disease.diagnoses[1].onset_date: a day needs a month"]
    );
    let d = o.disease.as_mut().unwrap();
    d.diagnoses[1].name = "x".into();
    d.diagnoses[1].onset_date = Some(Date { year: 2027, month: 1, day: 1 });
    assert_eq!(
        problems(&o, InsuredCategory::First),
        ["disease.diagnoses[1].onset_date: must not be after the written date"]
    );
    o.disease.as_mut().unwrap().diagnoses.clear();
    assert_eq!(problems(&o, InsuredCategory::First), ["disease.diagnoses: at least one diagnosis"]);
}

#[test]
fn the_two_independence_scales_are_required_known_codes() {
    let mut o = sample_opinion("r", written());
    let m = o.mental_physical.as_mut().unwrap();
    m.disability_level = 0;
    m.dementia_level = 9;
    assert_eq!(
        problems(&o, InsuredCategory::First),
        ["mental_physical.disability_level: required", "mental_physical.dementia_level: unknown code 9"]
    );
}

#[test]
fn dependent_fields_follow_their_choice() {
    let mut o = sample_opinion("r", written());
    o.disease.as_mut().unwrap().stability = SymptomStability::Unstable as i32;
    let m = o.mental_physical.as_mut().unwrap();
    m.bpsd_present = true;
    m.bpsd = vec![BehaviouralSymptom::Other as i32];
    m.height_cm = 400.0;
    let b = o.basics.as_mut().unwrap();
    b.other_departments_consulted = false;
    b.other_departments = vec![Department::Other as i32];
    assert_eq!(
        problems(&o, InsuredCategory::First),
        [
            "basics.other_departments: must be empty when other_departments_consulted is false (無)",
            "basics.other_department_name: required",
            "disease.unstable_details: required",
            "mental_physical.bpsd_other: required",
            "mental_physical.height_cm: 0 (not recorded) or between 50 and 250"
        ]
    );
}

#[test]
fn special_medical_care_codes_are_checked() {
    let mut o = sample_opinion("r", written());
    o.special_medical_care = vec![1, 13];
    assert_eq!(problems(&o, InsuredCategory::First), ["special_medical_care[1]: unknown code 13"]);
}

#[test]
fn the_edition_decides_the_consent_box_and_attachments() {
    let mut o = sample_opinion("r", written());
    o.attachment_ids = vec!["0192f0c1-7a3b-7c00-8000-000000000001".into()];
    o.basics.as_mut().unwrap().care_plan_use_consent = CarePlanUseConsent::Agree as i32;
    assert_eq!(
        problems(&o, InsuredCategory::First),
        [
            "basics.care_plan_use_consent: the 令和8年 form has no consent box; leave it unset",
            "attachment_ids: the 令和8年 form has no 添付資料 (attachments)"
        ]
    );
    o.form_edition = OpinionFormEdition::Reiwa3 as i32;
    assert!(problems(&o, InsuredCategory::First).is_empty());
    o.basics.as_mut().unwrap().care_plan_use_consent = 0;
    assert_eq!(
        problems(&o, InsuredCategory::First),
        ["basics.care_plan_use_consent: required on the 令和3年 form (同意する or 同意しない)"]
    );
}

#[test]
fn the_old_form_is_accepted_up_to_the_configured_day_only() {
    let mut o = sample_opinion("r", written()); // written 2026-05-20
    o.form_edition = OpinionFormEdition::Reiwa3 as i32;
    o.basics.as_mut().unwrap().care_plan_use_consent = CarePlanUseConsent::Agree as i32;
    let with_end = |o: &Opinion, until| {
        let ctx = OpinionContext {
            reiwa3_accepted_until: NaiveDate::from_ymd_opt(2026, 5, until),
            ..ctx(InsuredCategory::First)
        };
        let (_, v) = validate_opinion(o, ctx);
        v.as_slice().iter().map(|f| format!("{}: {}", f.field, f.description)).collect::<Vec<_>>()
    };
    // No end configured, or an end on or after the written date: accepted.
    assert!(problems(&o, InsuredCategory::First).is_empty());
    assert!(with_end(&o, 20).is_empty());
    // Written after the end: refused, naming the day.
    assert_eq!(
        with_end(&o, 19),
        ["form_edition: the 令和3年 form is accepted for opinions written up to 2026-05-19; use 令和8年"]
    );
    // The new form is never affected.
    o.form_edition = OpinionFormEdition::Reiwa8 as i32;
    o.basics.as_mut().unwrap().care_plan_use_consent = 0;
    assert!(with_end(&o, 1).is_empty());
}

#[test]
fn the_edition_defaults_to_the_one_in_force_on_the_written_date() {
    let before = NaiveDate::from_ymd_opt(2026, 3, 31);
    let after = NaiveDate::from_ymd_opt(2026, 4, 1);
    assert_eq!(resolve_edition(OpinionFormEdition::Unspecified, before), OpinionFormEdition::Reiwa3);
    assert_eq!(resolve_edition(OpinionFormEdition::Unspecified, after), OpinionFormEdition::Reiwa8);
    let mut o = sample_opinion("r", Date { year: 2026, month: 3, day: 1 });
    assert_eq!(
        problems(&o, InsuredCategory::First),
        ["form_edition: the 令和8年 form applies to opinions written from 2026-04-01"]
    );
    o.basics.as_mut().unwrap().written_date = Some(Date { year: 2026, month: 7, day: 1 });
    assert!(
        problems(&o, InsuredCategory::First).contains(&"basics.written_date: must not be after today (JST)".to_owned())
    );
}

#[test]
fn missing_sections_are_named() {
    let o = Opinion { opinion_request_id: "r".into(), ..Default::default() };
    let p = problems(&o, InsuredCategory::First);
    for section in ["basics", "disease", "mental_physical", "function_services"] {
        assert!(p.contains(&format!("{section}: required")), "{p:?}");
    }
    let _ = SpecifiedDisease::Copd;
}

#[test]
fn paralysis_and_medical_management_lists_are_bounded() {
    use kaigo_proto::kaigo::documents::v1::{MedicalManagementNeed, Paralysis};
    let mut o = sample_opinion("r", written());
    let m = o.mental_physical.as_mut().unwrap();
    m.paralysis = vec![Paralysis::default(); MAX_PARALYSIS + 1];
    let f = o.function_services.as_mut().unwrap();
    f.medical_management = vec![MedicalManagementNeed::default(); fields::MAX_CODES + 1];
    f.medical_management_none = false;
    assert_eq!(
        problems(&o, InsuredCategory::First),
        [
            format!("mental_physical.paralysis: at most {MAX_PARALYSIS} entries; 9 given"),
            format!("function_services.medical_management: at most {} entries; 17 given", fields::MAX_CODES),
        ]
    );
}

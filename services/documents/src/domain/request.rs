//! The rules of a 主治医意見書作成依頼 (the insurer's request to an institution).

use chrono::NaiveDate;
use kaigo_platform::errors::Violations;
use kaigo_platform::ids::{CareOfficeNumber, InsuredNumber, MedicalInstitutionCode};
use kaigo_proto::kaigo::common::v1::{InsuredCategory, Sex};
use kaigo_proto::kaigo::documents::v1::{ApplicantDetails, OpinionRequest, OpinionRequestKind};

use super::fields::{self, MAX_LINE};

/// A validated request, with its identifiers parsed.
#[derive(Debug, Clone)]
pub struct ValidRequest {
    /// Certification's application id.
    pub application_id: String,
    /// The person.
    pub insured_number: InsuredNumber,
    /// The institution asked.
    pub institution_code: MedicalInstitutionCode,
    /// The person's registered care office, if the insurer names it.
    pub care_office_number: Option<CareOfficeNumber>,
    /// 依頼区分.
    pub kind: OpinionRequestKind,
    /// Asked-by date.
    pub due_date: Option<NaiveDate>,
    /// 第1号 / 第2号.
    pub category: InsuredCategory,
    /// 在宅/施設, 主治医/指定医 and 新規/継続 as the insurer states them
    /// (docs/domain/opinion.md#payment-facts).
    pub payment: super::payment::PaymentFacts,
}

/// An application id as certification issues them: 1–64 ASCII letters, digits, `-` or `_`.
pub fn valid_application_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Validates the fields a client sets on a request (OUTPUT_ONLY fields are ignored).
pub fn validate_request(r: &OpinionRequest, today: NaiveDate) -> Result<ValidRequest, Violations> {
    let mut v = Violations::new();
    if r.application_id.is_empty() {
        v.add("opinion_request.application_id", "required");
    } else if !valid_application_id(&r.application_id) {
        v.add("opinion_request.application_id", "1–64 letters, digits, '-' or '_'");
    }
    let insured = v.check("opinion_request.insured_number", InsuredNumber::parse(&r.insured_number));
    let institution = v.check("opinion_request.institution_code", MedicalInstitutionCode::parse(&r.institution_code));
    let office = if r.care_office_number.is_empty() {
        None
    } else {
        v.check("opinion_request.care_office_number", CareOfficeNumber::parse(&r.care_office_number))
    };
    fields::text(&mut v, "opinion_request.physician_name", &r.physician_name, false, MAX_LINE);
    let kind = fields::code::<OpinionRequestKind>(&mut v, "opinion_request.kind", r.kind, true);
    let due = fields::date(&mut v, "opinion_request.due_date", r.due_date.as_ref(), false);
    let payment = super::payment::of_request(&mut v, r);
    if due.is_some_and(|d| d < today) {
        v.add("opinion_request.due_date", "must not be before today (JST)");
    }
    let category = match &r.applicant {
        Some(a) => applicant(&mut v, a, today),
        None => {
            v.add("opinion_request.applicant", "required");
            None
        }
    };
    match (insured, institution, kind, category, v.is_empty()) {
        (Some(insured_number), Some(institution_code), Some(kind), Some(category), true) => Ok(ValidRequest {
            application_id: r.application_id.clone(),
            insured_number,
            institution_code,
            care_office_number: office,
            kind,
            due_date: due,
            category,
            payment,
        }),
        _ => Err(v),
    }
}

/// 申請者 block: who the institution is asked to write about.
fn applicant(v: &mut Violations, a: &ApplicantDetails, today: NaiveDate) -> Option<InsuredCategory> {
    let at = "opinion_request.applicant";
    fields::text(v, &format!("{at}.name_kanji"), &a.name_kanji, true, MAX_LINE);
    fields::text(v, &format!("{at}.name_kana"), &a.name_kana, true, MAX_LINE);
    if !a.name_kana.chars().all(is_kana_or_space) {
        v.add(format!("{at}.name_kana"), "full-width hiragana or katakana");
    }
    let born = fields::date(v, &format!("{at}.birth_date"), a.birth_date.as_ref(), true);
    if born.is_some_and(|b| b > today) {
        v.add(format!("{at}.birth_date"), "must not be after today (JST)");
    }
    fields::code::<Sex>(v, &format!("{at}.sex"), a.sex, true);
    let category = fields::code::<InsuredCategory>(v, &format!("{at}.insured_category"), a.insured_category, true);
    fields::text(v, &format!("{at}.address"), &a.address, false, MAX_LINE);
    fields::phone(v, &format!("{at}.phone"), &a.phone, false);
    category
}

fn is_kana_or_space(c: char) -> bool {
    matches!(c, '\u{3041}'..='\u{309F}' | '\u{30A0}'..='\u{30FF}' | '\u{3000}' | ' ')
}

#[cfg(test)]
mod tests {
    use kaigo_proto::google::r#type::Date;

    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()
    }

    fn sample() -> OpinionRequest {
        OpinionRequest {
            application_id: "app-1".into(),
            insured_number: "0000000001".into(),
            institution_code: "1311234569".into(),
            kind: OpinionRequestKind::First as i32,
            applicant: Some(ApplicantDetails {
                name_kanji: "介護 花子".into(),
                name_kana: "カイゴ　ハナコ".into(),
                birth_date: Some(Date { year: 1950, month: 4, day: 1 }),
                sex: Sex::Female as i32,
                insured_category: InsuredCategory::First as i32,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_complete_request_is_valid() {
        let r = validate_request(&sample(), today()).unwrap();
        assert_eq!(r.kind, OpinionRequestKind::First);
        assert_eq!(r.category, InsuredCategory::First);
    }

    #[test]
    fn every_problem_is_named() {
        let mut r = sample();
        r.institution_code = "1311234568".into();
        r.kind = 0;
        r.due_date = Some(Date { year: 2026, month: 5, day: 1 });
        let a = r.applicant.as_mut().unwrap();
        a.name_kana = "Hanako".into();
        a.insured_category = 7;
        let v = validate_request(&r, today()).unwrap_err();
        let fields: Vec<_> = v.as_slice().iter().map(|f| f.field.clone()).collect();
        assert_eq!(
            fields,
            [
                "opinion_request.institution_code",
                "opinion_request.kind",
                "opinion_request.due_date",
                "opinion_request.applicant.name_kana",
                "opinion_request.applicant.insured_category"
            ]
        );
    }
}

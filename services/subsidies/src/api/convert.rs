//! Proto ↔ domain at the edge: decoding costs (collecting every problem with its field path),
//! and mapping programmes, calculations and stored applications to their messages.

use chrono::{DateTime, Utc};
use kaigo_platform::audit::trail::role_message;
use kaigo_platform::errors::{ApiError, Violations};
use kaigo_platform::ids::{CareOfficeNumber, MedicalInstitutionCode};
use kaigo_platform::validate;
use kaigo_proto::kaigo::common::v1 as common;
use kaigo_proto::kaigo::subsidies::v1 as pb;

use crate::domain::application::Status;
use crate::domain::calculate::Calculation;
use crate::domain::costs::{CareOfficeCosts, Costs, MedicalCosts, ReaderPurchase};
use crate::domain::money::Rounding;
use crate::domain::programme::{ApplicantKind, InstitutionType, MAX_CATEGORIES, MAX_ID_CHARS, Programme};
use crate::store::{Record, application, application_event};

/// The language of explanations: the caller's (`accept-language`), Japanese by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// 日本語 (the default).
    #[default]
    Ja,
    /// English.
    En,
}

impl Lang {
    /// The language `accept-language` prefers among Japanese and English (RFC 9110 §12.5.4:
    /// the highest q wins, the first listed among equals); Japanese when it names neither.
    pub fn from_metadata(metadata: &tonic::metadata::MetadataMap) -> Lang {
        let Some(header) = metadata.get("accept-language").and_then(|v| v.to_str().ok()) else {
            return Lang::Ja;
        };
        let mut best: Option<(u16, Lang)> = None;
        for entry in header.split(',').take(32) {
            let mut parts = entry.split(';');
            let tag = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let primary = tag.split('-').next().unwrap_or_default();
            let lang = match primary {
                "ja" => Lang::Ja,
                "en" => Lang::En,
                _ => continue,
            };
            // q in thousandths; a malformed q counts as 1 (the header's own default).
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q=").map(str::to_owned))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .map_or(1000, |q| (q.clamp(0.0, 1.0) * 1000.0) as u16);
            if q > 0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::Ja, |(_, lang)| lang)
    }
}

/// A timestamp message.
pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or_default(),
    }
}

/// Most category ids one request names: a programme has at most [`MAX_CATEGORIES`].
const MAX_CATEGORY_IDS: usize = MAX_CATEGORIES;
/// Most reader purchase lines of one request (each line is up to 1,000 readers).
const MAX_READER_LINES: usize = 100;

/// Decodes costs, recording problems under `prefix` (`application.costs.`, `costs.`).
pub fn decode_care_office(c: &pb::CareOfficeCosts, prefix: &str, v: &mut Violations) -> Option<Costs> {
    let office = v.check(&format!("{prefix}care_office.office_number"), CareOfficeNumber::parse(&c.office_number));
    // The documented maxima, checked before the calculation looks at each entry.
    let categories = format!("{prefix}care_office.category_ids");
    let mut bounded = validate::at_most(v, &categories, &c.category_ids, MAX_CATEGORY_IDS);
    if bounded {
        for (i, id) in c.category_ids.iter().enumerate() {
            bounded &= validate::max_chars(v, &format!("{categories}[{i}]"), id, MAX_ID_CHARS);
        }
    }
    bounded &= validate::at_most(v, &format!("{prefix}care_office.readers"), &c.readers, MAX_READER_LINES);
    if !bounded {
        return None;
    }
    Some(Costs::CareOffice(CareOfficeCosts {
        office_number: office?,
        category_ids: c.category_ids.clone(),
        readers: c
            .readers
            .iter()
            .map(|r| ReaderPurchase { quantity: i64::from(r.quantity), unit_price_yen: r.unit_price_yen })
            .collect(),
        connection_support_cost_yen: c.connection_support_cost_yen,
        careplan_setup_cost_yen: c.careplan_setup_cost_yen,
    }))
}

/// Decodes medical costs, recording problems under `prefix`.
pub fn decode_medical(m: &pb::MedicalInstitutionCosts, prefix: &str, v: &mut Violations) -> Option<Costs> {
    let code = v.check(
        &format!("{prefix}medical_institution.institution_code"),
        MedicalInstitutionCode::parse(&m.institution_code),
    );
    let institution_type = match pb::InstitutionType::try_from(m.institution_type) {
        Ok(pb::InstitutionType::Hospital) => Some(InstitutionType::Hospital),
        Ok(pb::InstitutionType::Clinic) => Some(InstitutionType::Clinic),
        _ => {
            v.add(format!("{prefix}medical_institution.institution_type"), "must be HOSPITAL or CLINIC");
            None
        }
    };
    Some(Costs::Medical(MedicalCosts {
        institution_code: code?,
        institution_type: institution_type?,
        beds: i64::from(m.beds),
        software_change_cost_yen: m.software_change_cost_yen,
    }))
}

/// Records the domain's problems with `costs` under the costs' field path.
pub fn add_problems(v: &mut Violations, prefix: &str, costs: &Costs, problems: Vec<crate::domain::costs::Problem>) {
    let kind = match costs {
        Costs::CareOffice(_) => "care_office",
        Costs::Medical(_) => "medical_institution",
    };
    for p in problems {
        v.add(format!("{prefix}{kind}.{}", p.field), p.message);
    }
}

fn rounding(r: Rounding) -> pb::RoundingMode {
    match r {
        Rounding::Down => pb::RoundingMode::Down,
        Rounding::HalfUp => pb::RoundingMode::HalfUp,
        Rounding::Up => pb::RoundingMode::Up,
    }
}

fn institution_type(t: InstitutionType) -> pb::InstitutionType {
    match t {
        InstitutionType::Hospital => pb::InstitutionType::Hospital,
        InstitutionType::Clinic => pb::InstitutionType::Clinic,
    }
}

fn clamp_i32(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The applicant kind as its message.
pub fn kind(k: ApplicantKind) -> pb::ApplicantKind {
    match k {
        ApplicantKind::CareOffice => pb::ApplicantKind::CareOffice,
        ApplicantKind::MedicalInstitution => pb::ApplicantKind::MedicalInstitution,
    }
}

/// A programme message.
pub fn programme(p: &Programme) -> pb::Programme {
    let (open, deadline) = p.overall_window();
    pb::Programme {
        programme_id: p.programme_id.clone(),
        fiscal_year: p.fiscal_year,
        title: p.title.clone(),
        application_open_date: open.map(kaigo_proto::from_naive_date),
        application_deadline: deadline.map(kaigo_proto::from_naive_date),
        windows: p
            .kinds()
            .into_iter()
            .filter_map(|k| {
                p.window(k).map(|w| pb::ApplicationWindow {
                    applicant_kind: kind(k) as i32,
                    open_date: w.open_date.map(kaigo_proto::from_naive_date),
                    deadline: Some(kaigo_proto::from_naive_date(w.deadline)),
                })
            })
            .collect(),
        reapply_after_rejection: p.reapply_after_rejection,
        resubmit_returned_after_deadline: p.resubmit_returned_after_deadline,
        rounding: rounding(p.rounding) as i32,
        tax_included: p.tax_included,
        care_office_rules: p.care_office.as_ref().map(|r| pb::CareOfficeRules {
            categories: r
                .categories
                .iter()
                .map(|c| pb::ServiceCategory {
                    category_id: c.id.clone(),
                    name: c.name.clone(),
                    max_readers: clamp_i32(c.max_readers),
                    cap_yen: c.cap_yen,
                })
                .collect(),
            caps_add_up: r.caps_add_up,
            reader_limits_add_up: r.reader_limits_add_up,
            rate_numerator: clamp_i32(r.rate.numerator),
            rate_denominator: clamp_i32(r.rate.denominator),
            setup_requires_connection_support: r.setup_requires_connection_support,
        }),
        medical_tiers: p
            .medical_tiers
            .iter()
            .map(|t| pb::MedicalTier {
                tier_id: t.id.clone(),
                name: t.name.clone(),
                institution_types: t.institution_types.iter().map(|&ty| institution_type(ty) as i32).collect(),
                min_beds: clamp_i32(t.min_beds),
                max_beds: t.max_beds.map_or(0, clamp_i32),
                rate_numerator: clamp_i32(t.rate.numerator),
                rate_denominator: clamp_i32(t.rate.denominator),
                cap_yen: t.cap_yen,
            })
            .collect(),
    }
}

/// A calculation message, its explanation in `lang` (Japanese for calculations stored before
/// explanations were kept in English too).
pub fn calculation(c: &Calculation, lang: Lang) -> pb::SubsidyCalculation {
    pb::SubsidyCalculation {
        programme_id: c.programme_id.clone(),
        total_cost_yen: c.total_cost_yen,
        eligible_cost_yen: c.eligible_cost_yen,
        eligible_amount_yen: c.eligible_amount_yen,
        lines: c
            .lines
            .iter()
            .map(|l| pb::CalculationLine {
                code: l.code.clone(),
                description: match lang {
                    Lang::En if !l.description_en.is_empty() => l.description_en.clone(),
                    _ => l.description.clone(),
                },
                amount_yen: l.amount_yen,
                limit_id: l.limit_id.clone(),
            })
            .collect(),
        tier_id: c.tier_id.clone().unwrap_or_default(),
    }
}

/// Costs as their message.
pub fn costs(c: &Costs) -> pb::application::Costs {
    match c {
        Costs::CareOffice(c) => pb::application::Costs::CareOffice(pb::CareOfficeCosts {
            office_number: c.office_number.to_string(),
            category_ids: c.category_ids.clone(),
            readers: c
                .readers
                .iter()
                .map(|r| pb::ReaderPurchase { quantity: clamp_i32(r.quantity), unit_price_yen: r.unit_price_yen })
                .collect(),
            connection_support_cost_yen: c.connection_support_cost_yen,
            careplan_setup_cost_yen: c.careplan_setup_cost_yen,
        }),
        Costs::Medical(m) => pb::application::Costs::MedicalInstitution(pb::MedicalInstitutionCosts {
            institution_code: m.institution_code.to_string(),
            institution_type: institution_type(m.institution_type) as i32,
            beds: clamp_i32(m.beds),
            software_change_cost_yen: m.software_change_cost_yen,
        }),
    }
}

/// The stored status as its message.
pub fn status(s: Status) -> pb::ApplicationStatus {
    match s {
        Status::Draft => pb::ApplicationStatus::Draft,
        Status::Submitted => pb::ApplicationStatus::Submitted,
        Status::UnderReview => pb::ApplicationStatus::UnderReview,
        Status::Approved => pb::ApplicationStatus::Approved,
        Status::Rejected => pb::ApplicationStatus::Rejected,
        Status::Paid => pb::ApplicationStatus::Paid,
        Status::Returned => pb::ApplicationStatus::Returned,
    }
}

/// A status message as the stored status.
pub fn status_from(s: pb::ApplicationStatus) -> Option<Status> {
    Some(match s {
        pb::ApplicationStatus::Unspecified => return None,
        pb::ApplicationStatus::Draft => Status::Draft,
        pb::ApplicationStatus::Submitted => Status::Submitted,
        pb::ApplicationStatus::UnderReview => Status::UnderReview,
        pb::ApplicationStatus::Approved => Status::Approved,
        pb::ApplicationStatus::Rejected => Status::Rejected,
        pb::ApplicationStatus::Paid => Status::Paid,
        pb::ApplicationStatus::Returned => Status::Returned,
    })
}

/// Stored applicant kinds.
pub const CARE_OFFICE: &str = "care_office";
/// Stored applicant kinds.
pub const MEDICAL_INSTITUTION: &str = "medical_institution";

/// The stored applicant kind as its message.
pub fn applicant_kind(kind: &str) -> pb::ApplicantKind {
    match kind {
        CARE_OFFICE => pb::ApplicantKind::CareOffice,
        MEDICAL_INSTITUTION => pb::ApplicantKind::MedicalInstitution,
        _ => pb::ApplicantKind::Unspecified,
    }
}

/// The decoded parts of a stored application.
pub struct Decoded {
    /// The claimed costs.
    pub costs: Costs,
    /// The calculation snapshot.
    pub calculation: Calculation,
    /// The state.
    pub status: Status,
}

/// Decodes the JSON columns and the status of a stored application.
pub fn decode_row(a: &application::Model) -> Result<Decoded, ApiError> {
    let costs: Costs = serde_json::from_str(&a.costs).map_err(ApiError::internal)?;
    let calculation: Calculation = serde_json::from_str(&a.calculation).map_err(ApiError::internal)?;
    let status = Status::parse(&a.status)
        .ok_or_else(|| ApiError::internal(format!("application {} has unknown status {}", a.id, a.status)))?;
    Ok(Decoded { costs, calculation, status })
}

/// A JSON array of strings as stored (`return_reasons`, `reasons`); empty when unreadable.
pub fn reasons(json: Option<&str>) -> Vec<String> {
    json.and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default()
}

/// A recorded change as its message.
pub fn event(e: &application_event::Model) -> pb::ApplicationEvent {
    let status_of = |s: &str| Status::parse(s).map_or(pb::ApplicationStatus::Unspecified, status) as i32;
    pb::ApplicationEvent {
        version: e.version,
        action: e.action.clone(),
        from_status: status_of(&e.from_status),
        to_status: status_of(&e.to_status),
        time: Some(timestamp(e.at)),
        actor: Some(common::Actor {
            role: role_message(&e.actor_role) as i32,
            subject: e.actor_subject.clone(),
            organization_number: e.actor_org.clone(),
        }),
        eligible_amount_yen: e.eligible_amount_yen,
        amount_yen: e.amount_yen.unwrap_or_default(),
        reasons: reasons(Some(&e.reasons)),
    }
}

/// The application message of a stored record, explanations in `lang`.
pub fn application(record: &Record, lang: Lang) -> Result<pb::Application, ApiError> {
    let a = &record.application;
    let decoded = decode_row(a)?;
    Ok(pb::Application {
        application_id: a.id.clone(),
        programme_id: a.programme_id.clone(),
        applicant_kind: applicant_kind(&a.applicant_kind) as i32,
        prefecture_code: a.prefecture_code.clone(),
        costs: Some(costs(&decoded.costs)),
        calculation: Some(calculation(&decoded.calculation, lang)),
        status: status(decoded.status) as i32,
        evidence: record
            .evidence
            .iter()
            .map(|e| pb::Evidence {
                attachment_id: e.attachment_id.clone(),
                kind: evidence_kind_from_str(&e.kind) as i32,
                description: e.description.clone(),
                attach_time: Some(timestamp(e.attached_at)),
            })
            .collect(),
        approved_amount_yen: a.approved_amount_yen.unwrap_or_default(),
        rejection_reason: a.rejection_reason.clone().unwrap_or_default(),
        paid_amount_yen: a.paid_amount_yen.unwrap_or_default(),
        paid_date: a.paid_date.map(kaigo_proto::from_naive_date),
        payment_reference: a.payment_reference.clone().unwrap_or_default(),
        submit_time: a.submitted_at.map(timestamp),
        create_time: Some(timestamp(a.created_at)),
        update_time: Some(timestamp(a.updated_at)),
        updated_by: Some(common::Actor {
            role: role_message(&a.updated_by_role) as i32,
            subject: a.updated_by_subject.clone(),
            organization_number: a.updated_by_org.clone(),
        }),
        version: a.version,
        return_reasons: reasons(a.return_reasons.as_deref()),
        history: Vec::new(),
        attempt: a.attempt,
    })
}

/// Stored evidence kinds.
pub fn evidence_kind_str(kind: pb::EvidenceKind) -> Option<&'static str> {
    Some(match kind {
        pb::EvidenceKind::Unspecified => return None,
        pb::EvidenceKind::Receipt => "receipt",
        pb::EvidenceKind::Invoice => "invoice",
        pb::EvidenceKind::Quotation => "quotation",
        pb::EvidenceKind::Contract => "contract",
        pb::EvidenceKind::Other => "other",
    })
}

fn evidence_kind_from_str(s: &str) -> pb::EvidenceKind {
    match s {
        "receipt" => pb::EvidenceKind::Receipt,
        "invoice" => pb::EvidenceKind::Invoice,
        "quotation" => pb::EvidenceKind::Quotation,
        "contract" => pb::EvidenceKind::Contract,
        "other" => pb::EvidenceKind::Other,
        _ => pb::EvidenceKind::Unspecified,
    }
}

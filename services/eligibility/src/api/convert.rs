//! Conversions between the wire (kaigo.eligibility.v1) and the domain, with validation that
//! reports every problem against its field path.

use chrono::NaiveDate;
use kaigo_platform::Violations;
use kaigo_platform::ids::{InsuredNumber, InsurerNumber};
use kaigo_proto::google::r#type::Date;
use kaigo_proto::kaigo::common::v1 as common;
use kaigo_proto::kaigo::eligibility::v1 as pb;
use kaigo_proto::{from_naive_date, to_naive_date};

use crate::domain::timeline::{CostStage, RestrictionKind, ServiceTypeLimit};
use crate::domain::{Assessment, CareLevel, Detail, Record};
use crate::domain::{caps, municipality, qualification};
use crate::key::PersonKey;

/// A stored row's state (records and allowance uses alike) as the wire's.
pub(crate) fn state_to_wire(state: i16) -> pb::RecordState {
    match state {
        crate::store::ACTIVE => pb::RecordState::Active,
        crate::store::SUPERSEDED => pb::RecordState::Superseded,
        crate::store::VOIDED => pb::RecordState::Voided,
        _ => pb::RecordState::Unspecified,
    }
}

/// Who recorded a stored row (its role, subject and organisation columns), as the wire's actor.
pub(crate) fn recorded_by(role: &str, subject: &str, organization_number: &str) -> common::Actor {
    let role = match role {
        "insurer" => common::Role::Insurer,
        "operator" => common::Role::Operator,
        _ => common::Role::System,
    };
    common::Actor {
        role: role as i32,
        subject: subject.to_owned(),
        organization_number: organization_number.to_owned(),
    }
}

/// Parses the person key, recording problems under `prefix` (e.g. `queries[3].`).
pub fn key(v: &mut Violations, prefix: &str, insurer: &str, insured: &str) -> Option<PersonKey> {
    let insurer = v.check_at(format_args!("{prefix}insurer_number"), InsurerNumber::parse(insurer));
    let insured = v.check_at(format_args!("{prefix}insured_number"), InsuredNumber::parse(insured));
    Some(PersonKey::new(&insurer?, &insured?))
}

/// A required date.
pub fn date(v: &mut Violations, field: &str, value: Option<&Date>) -> Option<NaiveDate> {
    match value {
        None => {
            v.add(field, "is required");
            None
        }
        Some(d) => v.check(field, to_naive_date(d)),
    }
}

/// An optional date (absent or all zero means none).
pub fn optional_date(v: &mut Violations, field: &str, value: Option<&Date>) -> Option<Option<NaiveDate>> {
    match value {
        None => Some(None),
        Some(d) if d.year == 0 && d.month == 0 && d.day == 0 => Some(None),
        Some(d) => v.check(field, to_naive_date(d)).map(Some),
    }
}

/// A period: start required, end optional (open).
pub fn period(
    v: &mut Violations,
    field: &str,
    value: Option<&common::Period>,
) -> Option<(NaiveDate, Option<NaiveDate>)> {
    let Some(p) = value else {
        v.add(field, "is required");
        return None;
    };
    let start = date(v, &format!("{field}.start"), p.start.as_ref());
    let end = optional_date(v, &format!("{field}.end"), p.end.as_ref());
    Some((start?, end?))
}

/// Wire → domain care level.
pub fn care_level(v: &mut Violations, field: &str, value: i32) -> Option<CareLevel> {
    use common::CareLevel as P;
    let level = match P::try_from(value) {
        Ok(P::NotApplicable) => CareLevel::NotApplicable,
        Ok(P::Transitional) => CareLevel::Transitional,
        Ok(P::Support1) => CareLevel::Support1,
        Ok(P::Support2) => CareLevel::Support2,
        Ok(P::Care1) => CareLevel::Care1,
        Ok(P::Care2) => CareLevel::Care2,
        Ok(P::Care3) => CareLevel::Care3,
        Ok(P::Care4) => CareLevel::Care4,
        Ok(P::Care5) => CareLevel::Care5,
        Ok(P::ProgrammeEligible) => CareLevel::ProgrammeEligible,
        Ok(P::Unspecified) | Err(_) => {
            v.add(field, "must be a known care level (要介護状態区分)");
            return None;
        }
    };
    Some(level)
}

/// Domain → wire care level.
pub fn care_level_to_wire(level: CareLevel) -> common::CareLevel {
    use common::CareLevel as P;
    match level {
        CareLevel::NotApplicable => P::NotApplicable,
        CareLevel::Transitional => P::Transitional,
        CareLevel::Support1 => P::Support1,
        CareLevel::Support2 => P::Support2,
        CareLevel::Care1 => P::Care1,
        CareLevel::Care2 => P::Care2,
        CareLevel::Care3 => P::Care3,
        CareLevel::Care4 => P::Care4,
        CareLevel::Care5 => P::Care5,
        CareLevel::ProgrammeEligible => P::ProgrammeEligible,
    }
}

fn wire_period(start: NaiveDate, end: Option<NaiveDate>) -> common::Period {
    common::Period { start: Some(from_naive_date(start)), end: end.map(from_naive_date) }
}

/// Wire certification → domain (start, end, detail).
pub fn certification(
    v: &mut Violations,
    field: &str,
    c: Option<&pb::CertificationPeriod>,
) -> Option<(NaiveDate, Option<NaiveDate>, Detail)> {
    let Some(c) = c else {
        v.add(field, "is required");
        return None;
    };
    let level = care_level(v, &format!("{field}.care_level"), c.care_level);
    let certified = date(v, &format!("{field}.certified_date"), c.certified_date.as_ref());
    let validity = period(v, &format!("{field}.validity"), c.validity.as_ref());
    if c.limit_units_per_month < 0 || c.limit_units_per_month > 100_000 {
        v.add(format!("{field}.limit_units_per_month"), "must be between 0 and 100000 units");
    }
    if c.review_board_opinion.chars().count() > 2_000 {
        v.add(format!("{field}.review_board_opinion"), "must be at most 2000 characters");
    }
    let limits = service_type_limits(v, field, &c.service_type_limits);
    let designated = designated_service_types(v, field, &c.designated_service_types);
    if c.application_id.len() > 64
        || !c.application_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        v.add(
            format!("{field}.application_id"),
            "must be at most 64 half-width letters, digits, '-' or '_' (a CertificationService application_id)",
        );
    }
    let (level, certified, (start, end), limits) = (level?, certified?, validity?, limits?);
    designated?;
    let limit_units = match u32::try_from(c.limit_units_per_month) {
        Ok(0) | Err(_) => level.default_limit_units().unwrap_or(0),
        Ok(units) => units,
    };
    Some((
        start,
        end,
        Detail::Certification {
            level,
            certified,
            limit_units,
            board_opinion: c.review_board_opinion.clone(),
            designated_service_types: c.designated_service_types.clone(),
            service_type_limits: limits,
            application_id: c.application_id.clone(),
        },
    ))
}

/// The most 種類支給限度基準額 one certification carries.
const MAX_SERVICE_TYPE_LIMITS: usize = 20;
/// The most サービスの種類の指定 one certification carries (as many as service-type caps).
const MAX_DESIGNATED_SERVICE_TYPES: usize = 20;
/// Longest 施設名称 or 事業所名称, in characters (as documented).
const MAX_OFFICE_NAME: usize = 100;

/// A サービス種類コード: exactly two half-width digits or upper-case letters.
fn is_service_type(code: &str) -> bool {
    code.len() == 2 && code.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

/// サービスの種類の指定: at most [`MAX_DESIGNATED_SERVICE_TYPES`] codes, each a サービス種類コード
/// listed once. `Some(())` when they are.
fn designated_service_types(v: &mut Violations, field: &str, codes: &[String]) -> Option<()> {
    let at = format!("{field}.designated_service_types");
    if !kaigo_platform::validate::at_most(v, &at, codes, MAX_DESIGNATED_SERVICE_TYPES) {
        return None;
    }
    let mut ok = true;
    for (i, code) in codes.iter().enumerate() {
        if !is_service_type(code) {
            v.add(
                format!("{at}[{i}]"),
                "must be a 2-character サービス種類コード of half-width digits or upper-case letters, e.g. 11",
            );
            ok = false;
        } else if codes[..i].contains(code) {
            v.add(format!("{at}[{i}]"), "must appear only once");
            ok = false;
        }
    }
    ok.then_some(())
}

/// うち種類支給限度基準額 → domain: each a 2-character サービス種類コード at most once, with a cap
/// of 1 to 100000 units a month.
fn service_type_limits(
    v: &mut Violations,
    field: &str,
    limits: &[pb::ServiceTypeLimit],
) -> Option<Vec<ServiceTypeLimit>> {
    if limits.len() > MAX_SERVICE_TYPE_LIMITS {
        v.add(format!("{field}.service_type_limits"), format!("at most {MAX_SERVICE_TYPE_LIMITS} entries"));
        return None;
    }
    let mut out = Vec::with_capacity(limits.len());
    let mut ok = true;
    for (i, l) in limits.iter().enumerate() {
        let at = format!("{field}.service_type_limits[{i}]");
        let code = &l.service_type;
        if !is_service_type(code) {
            v.add(
                format!("{at}.service_type"),
                "must be a 2-character サービス種類コード of half-width digits or upper-case letters, e.g. 11",
            );
            ok = false;
        } else if limits[..i].iter().any(|earlier| earlier.service_type == *code) {
            v.add(format!("{at}.service_type"), "must appear only once");
            ok = false;
        }
        match u32::try_from(l.limit_units_per_month) {
            Ok(units @ 1..=100_000) => out.push(ServiceTypeLimit { service_type: code.clone(), units }),
            _ => {
                v.add(format!("{at}.limit_units_per_month"), "must be between 1 and 100000 units a month");
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

/// Wire co-payment → domain.
pub fn copayment(
    v: &mut Violations,
    field: &str,
    c: Option<&pb::CopaymentPeriod>,
) -> Option<(NaiveDate, Option<NaiveDate>, Detail)> {
    let Some(c) = c else {
        v.add(field, "is required");
        return None;
    };
    let tenths = match pb::CopaymentRatio::try_from(c.ratio) {
        Ok(pb::CopaymentRatio::OneTenth) => Some(1),
        Ok(pb::CopaymentRatio::TwoTenths) => Some(2),
        Ok(pb::CopaymentRatio::ThreeTenths) => Some(3),
        _ => {
            v.add(format!("{field}.ratio"), "must be 1割, 2割 or 3割");
            None
        }
    };
    let (start, end) = period(v, &format!("{field}.period"), c.period.as_ref())?;
    Some((start, end, Detail::Copayment { tenths: tenths? }))
}

/// Wire cost limit → domain. The daily caps are OUTPUT_ONLY: they come from the national table
/// in force on the period's first day (docs/domain/eligibility.md#daily-caps), so a request that
/// sets them is refused rather than silently overruled.
pub fn cost_limit(
    v: &mut Violations,
    field: &str,
    c: Option<&pb::CostLimitPeriod>,
) -> Option<(NaiveDate, Option<NaiveDate>, Detail)> {
    let Some(c) = c else {
        v.add(field, "is required");
        return None;
    };
    let stage = match pb::CostLimitStage::try_from(c.stage) {
        Ok(pb::CostLimitStage::First) => Some(CostStage::First),
        Ok(pb::CostLimitStage::Second) => Some(CostStage::Second),
        Ok(pb::CostLimitStage::Third1) => Some(CostStage::Third1),
        Ok(pb::CostLimitStage::Third2) => Some(CostStage::Third2),
        _ => {
            v.add(format!("{field}.stage"), "must be 第1段階, 第2段階, 第3段階① or 第3段階②");
            None
        }
    };
    if c.daily_caps.is_some() {
        v.add(
            format!("{field}.daily_caps"),
            "is output only: leave it unset; the caps come from the national table in force on the period's start",
        );
    }
    let (start, end) = period(v, &format!("{field}.period"), c.period.as_ref())?;
    let stage = stage?;
    let Some(caps) = caps::national_caps(stage, start) else {
        let first = caps::national().first_day().map_or_else(String::new, |d| d.format("%Y-%m-%d").to_string());
        v.add(
            format!("{field}.period.start"),
            format!("must be on or after {first}, the first day of the daily-cap table for the four stages"),
        );
        return None;
    };
    if c.daily_caps.is_some() {
        return None;
    }
    Some((start, end, Detail::CostLimit { stage, caps }))
}

/// Wire benefit restriction → domain.
pub fn restriction(
    v: &mut Violations,
    field: &str,
    c: Option<&pb::BenefitRestrictionPeriod>,
) -> Option<(NaiveDate, Option<NaiveDate>, Detail)> {
    let Some(c) = c else {
        v.add(field, "is required");
        return None;
    };
    let kind = match pb::BenefitRestrictionKind::try_from(c.kind) {
        Ok(pb::BenefitRestrictionKind::PaymentMethodChange) => Some(RestrictionKind::PaymentMethodChange),
        Ok(pb::BenefitRestrictionKind::PaymentSuspension) => Some(RestrictionKind::PaymentSuspension),
        Ok(pb::BenefitRestrictionKind::BenefitReduction) => Some(RestrictionKind::BenefitReduction),
        _ => {
            v.add(format!("{field}.kind"), "must be a known 給付制限 kind");
            None
        }
    };
    let percent = match (kind, c.reduced_copayment_percent) {
        (Some(RestrictionKind::BenefitReduction), p @ (30 | 40)) => Some(p as u8),
        (Some(RestrictionKind::BenefitReduction), _) => {
            v.add(
                format!("{field}.reduced_copayment_percent"),
                "must be 30 or 40 under 給付額減額 (docs/domain/eligibility.md#benefit-restriction)",
            );
            None
        }
        (_, 0) => Some(0),
        (_, _) => {
            v.add(format!("{field}.reduced_copayment_percent"), "applies only to 給付額減額");
            None
        }
    };
    let note_ok = c.note.chars().count() <= 500;
    if !note_ok {
        v.add(format!("{field}.note"), "must be at most 500 characters");
    }
    let (start, end) = period(v, &format!("{field}.period"), c.period.as_ref())?;
    if !note_ok {
        return None;
    }
    Some((
        start,
        end,
        Detail::BenefitRestriction { kind: kind?, reduced_copayment_percent: percent?, note: c.note.clone() },
    ))
}

/// Wire 住所地特例 → domain.
pub fn residence(
    v: &mut Violations,
    field: &str,
    c: Option<&pb::ResidenceExceptionPeriod>,
) -> Option<(NaiveDate, Option<NaiveDate>, Detail)> {
    let Some(c) = c else {
        v.add(field, "is required");
        return None;
    };
    let code = &c.facility_municipality_code;
    // docs/domain/identifiers.md#municipality-code: six digits with a modulus-11 check digit.
    let code_ok = match municipality::validate(code) {
        Ok(()) => true,
        Err(expected) => {
            v.add(format!("{field}.facility_municipality_code"), expected);
            false
        }
    };
    let name_ok =
        kaigo_platform::validate::max_chars(v, &format!("{field}.facility_name"), &c.facility_name, MAX_OFFICE_NAME);
    let (start, end) = period(v, &format!("{field}.period"), c.period.as_ref())?;
    (code_ok && name_ok).then(|| {
        (
            start,
            end,
            Detail::ResidenceException { facility_municipality: code.clone(), facility_name: c.facility_name.clone() },
        )
    })
}

/// Wire care-management office → domain.
pub fn care_management(
    v: &mut Violations,
    field: &str,
    c: Option<&pb::CareManagementPeriod>,
) -> Option<(NaiveDate, Option<NaiveDate>, Detail)> {
    let Some(c) = c else {
        v.add(field, "is required");
        return None;
    };
    let kind = match pb::CareManagementKind::try_from(c.kind) {
        Ok(pb::CareManagementKind::HomeCareSupport) => Some(1),
        Ok(pb::CareManagementKind::PreventiveSupport) => Some(2),
        Ok(pb::CareManagementKind::SelfMade) => Some(3),
        _ => {
            v.add(format!("{field}.kind"), "must be 居宅介護支援, 介護予防支援 or 自己作成");
            None
        }
    };
    let office_ok = if kind == Some(3) {
        c.office_number.is_empty()
            || v.check(
                &format!("{field}.office_number"),
                kaigo_platform::ids::CareOfficeNumber::parse(&c.office_number),
            )
            .is_some()
    } else {
        v.check(&format!("{field}.office_number"), kaigo_platform::ids::CareOfficeNumber::parse(&c.office_number))
            .is_some()
    };
    let name_ok =
        kaigo_platform::validate::max_chars(v, &format!("{field}.office_name"), &c.office_name, MAX_OFFICE_NAME);
    let notified = optional_date(v, &format!("{field}.notification_date"), c.notification_date.as_ref());
    let (start, end) = period(v, &format!("{field}.period"), c.period.as_ref())?;
    if !office_ok || !name_ok {
        return None;
    }
    Some((
        start,
        end,
        Detail::CareManagement {
            kind: kind?,
            office_number: c.office_number.clone(),
            office_name: c.office_name.clone(),
            notified: notified?,
        },
    ))
}

/// The answer's co-payment (docs/domain/eligibility.md#benefit-reduction): the ratio the user
/// pays on the date, over the period of the record it comes from, and the 負担割合証's own ratio
/// when a 給付額減額 raised it (`UNSPECIFIED` otherwise).
pub fn copayment_answer(a: &Assessment<'_>) -> (Option<pb::CopaymentPeriod>, pb::CopaymentRatio) {
    let Some(effective) = a.effective_copayment() else {
        return (None, pb::CopaymentRatio::Unspecified);
    };
    let ratio = |tenths: u8| match tenths {
        1 => pb::CopaymentRatio::OneTenth,
        2 => pb::CopaymentRatio::TwoTenths,
        3 => pb::CopaymentRatio::ThreeTenths,
        4 => pb::CopaymentRatio::FourTenths,
        _ => pb::CopaymentRatio::Unspecified,
    };
    let period = pb::CopaymentPeriod {
        ratio: ratio(effective.tenths) as i32,
        period: Some(wire_period(effective.record.start, effective.record.end)),
    };
    let certificate = match (effective.raised, effective.certified_tenths) {
        (true, Some(tenths)) => ratio(tenths),
        _ => pb::CopaymentRatio::Unspecified,
    };
    (Some(period), certificate)
}

/// Domain record → the wire's `details` oneof.
pub fn details_to_wire(r: &Record) -> pb::eligibility_record::Details {
    use pb::eligibility_record::Details as D;
    let period = wire_period(r.start, r.end);
    match &r.detail {
        Detail::Certification {
            level,
            certified,
            limit_units,
            board_opinion,
            designated_service_types,
            service_type_limits,
            application_id,
        } => D::Certification(pb::CertificationPeriod {
            care_level: care_level_to_wire(*level) as i32,
            certified_date: Some(from_naive_date(*certified)),
            validity: Some(period),
            limit_units_per_month: i32::try_from(*limit_units).unwrap_or(i32::MAX),
            service_type_limits: service_type_limits
                .iter()
                .map(|l| pb::ServiceTypeLimit {
                    service_type: l.service_type.clone(),
                    limit_units_per_month: i32::try_from(l.units).unwrap_or(i32::MAX),
                })
                .collect(),
            review_board_opinion: board_opinion.clone(),
            designated_service_types: designated_service_types.clone(),
            application_id: application_id.clone(),
        }),
        Detail::Copayment { tenths } => {
            D::Copayment(pb::CopaymentPeriod { ratio: i32::from(*tenths), period: Some(period) })
        }
        Detail::CostLimit { stage, caps } => D::CostLimit(pb::CostLimitPeriod {
            stage: match stage {
                CostStage::First => pb::CostLimitStage::First,
                CostStage::Second => pb::CostLimitStage::Second,
                CostStage::Third1 => pb::CostLimitStage::Third1,
                CostStage::Third2 => pb::CostLimitStage::Third2,
            } as i32,
            period: Some(period),
            daily_caps: Some(pb::DailyCostCaps {
                meal_facility_yen: i64::from(caps.meal_facility),
                meal_short_stay_yen: i64::from(caps.meal_short_stay),
                unit_private_room_yen: i64::from(caps.unit_private),
                unit_semi_private_room_yen: i64::from(caps.unit_semi_private),
                conventional_private_room_welfare_yen: i64::from(caps.conventional_private_welfare),
                conventional_private_room_health_yen: i64::from(caps.conventional_private_health),
                multi_bed_room_yen: i64::from(caps.multi_bed),
            }),
        }),
        Detail::BenefitRestriction { kind, reduced_copayment_percent, note } => {
            D::BenefitRestriction(pb::BenefitRestrictionPeriod {
                kind: match kind {
                    RestrictionKind::PaymentMethodChange => pb::BenefitRestrictionKind::PaymentMethodChange,
                    RestrictionKind::PaymentSuspension => pb::BenefitRestrictionKind::PaymentSuspension,
                    RestrictionKind::BenefitReduction => pb::BenefitRestrictionKind::BenefitReduction,
                } as i32,
                period: Some(period),
                reduced_copayment_percent: i32::from(*reduced_copayment_percent),
                note: note.clone(),
            })
        }
        Detail::ResidenceException { facility_municipality, facility_name } => {
            D::ResidenceException(pb::ResidenceExceptionPeriod {
                facility_municipality_code: facility_municipality.clone(),
                facility_name: facility_name.clone(),
                period: Some(period),
            })
        }
        Detail::CareManagement { kind, office_number, office_name, notified } => {
            D::CareManagement(pb::CareManagementPeriod {
                kind: i32::from(*kind),
                office_number: office_number.clone(),
                office_name: office_name.clone(),
                notification_date: notified.map(from_naive_date),
                period: Some(period),
            })
        }
        Detail::Qualification { acquisition, loss } => D::Qualification(pb::QualificationSpan {
            acquired_date: Some(from_naive_date(r.start)),
            lost_date: qualification::lost_date(r).map(from_naive_date),
            acquisition_reason: i32::from(*acquisition),
            loss_reason: i32::from(*loss),
        }),
    }
}

/// Wire qualification span → domain (docs/domain/eligibility.md#qualification): the record's
/// period ends on the day before the 資格喪失年月日. The reasons are known values; a loss
/// reason only with a lost date.
pub fn qualification(
    v: &mut Violations,
    field: &str,
    c: Option<&pb::QualificationSpan>,
) -> Option<(NaiveDate, Option<NaiveDate>, Detail)> {
    let Some(c) = c else {
        v.add(field, "is required");
        return None;
    };
    let acquisition = match pb::QualificationAcquisitionReason::try_from(c.acquisition_reason) {
        Ok(reason) => u8::try_from(reason as i32).ok(),
        Err(_) => {
            v.add(format!("{field}.acquisition_reason"), "must be a known 資格取得事由 (or unset)");
            None
        }
    };
    let loss = match pb::QualificationLossReason::try_from(c.loss_reason) {
        Ok(reason) => u8::try_from(reason as i32).ok(),
        Err(_) => {
            v.add(format!("{field}.loss_reason"), "must be a known 資格喪失事由 (or unset)");
            None
        }
    };
    let acquired = date(v, &format!("{field}.acquired_date"), c.acquired_date.as_ref());
    let lost = optional_date(v, &format!("{field}.lost_date"), c.lost_date.as_ref());
    if lost == Some(None) && loss.is_some_and(|loss| loss != 0) {
        v.add(format!("{field}.loss_reason"), "applies only to a span with a lost_date");
        return None;
    }
    let (acquired, lost) = (acquired?, lost?);
    let Some((start, end)) = qualification::record_period(acquired, lost) else {
        v.add(format!("{field}.lost_date"), "must be after the acquisition date");
        return None;
    };
    Some((start, end, Detail::Qualification { acquisition: acquisition?, loss: loss? }))
}

/// Domain category (1 第1号, 2 第2号) → wire.
pub fn category_to_wire(category: u8) -> common::InsuredCategory {
    match category {
        1 => common::InsuredCategory::First,
        2 => common::InsuredCategory::Second,
        _ => common::InsuredCategory::Unspecified,
    }
}

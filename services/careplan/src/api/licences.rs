//! Licences: GetLicence, RegisterLicence (a paid year) and ApplyFreePass (the campaign rules of
//! `spec/licence.toml`). Registering the first licence of an office number also enters it in the
//! registry with its side of the exchange. Changes are guarded by the office's version.

use chrono::{DateTime, NaiveDate, Utc};
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::errors::{ApiError, Violations, db};
use kaigo_platform::ids::CareOfficeNumber;
use kaigo_platform::time::jst_date;
use kaigo_proto::kaigo::careplan::v1 as pb;
use kaigo_proto::kaigo::common::v1::Period as ProtoPeriod;
use kaigo_proto::{from_naive_date, to_naive_date};
use sea_orm::{ConnectionTrait, DatabaseTransaction, Set};

use super::{Api, parse_office};
use kaigo_platform::idempotency::{IdempotencyKey, check_request_id};

use super::convert::timestamp;
use crate::domain::licence::{self, LicenceRules, Period, PeriodKind};
use crate::domain::spec::{LetteredOfficeCheck, ServiceTypes, Spec};
use crate::domain::values::{FieldType, ServiceType};
use crate::store::{
    self,
    entities::{licence_period, office},
};

/// A stored period as the domain's.
pub(crate) fn period(m: &licence_period::Model) -> Option<Period> {
    let kind = match pb::LicencePeriodKind::try_from(m.kind).ok()? {
        pb::LicencePeriodKind::Paid => PeriodKind::Paid,
        pb::LicencePeriodKind::FreePass => PeriodKind::FreePass,
        pb::LicencePeriodKind::Unspecified => return None,
    };
    Some(Period { kind, start: m.start_date, end: m.end_date, fee_yen: m.fee_yen, rule_set_id: m.rule_set_id.clone() })
}

fn period_kind(kind: PeriodKind) -> pb::LicencePeriodKind {
    match kind {
        PeriodKind::Paid => pb::LicencePeriodKind::Paid,
        PeriodKind::FreePass => pb::LicencePeriodKind::FreePass,
    }
}

fn proto_period(start: NaiveDate, end: NaiveDate) -> ProtoPeriod {
    ProtoPeriod { start: Some(from_naive_date(start)), end: Some(from_naive_date(end)) }
}

/// The licence of `number` as of `today` (JST).
pub(crate) async fn load(
    conn: &impl ConnectionTrait,
    number: &str,
    rules: &LicenceRules,
    today: NaiveDate,
) -> Result<pb::Licence, ApiError> {
    let office = store::get_office(conn, number).await.map_err(db)?;
    let rows = store::licence_periods(conn, number).await.map_err(db)?;
    let periods: Vec<_> = rows.iter().filter_map(period).collect();
    let status = match licence::status(&periods, today) {
        licence::Status::None => pb::LicenceStatus::None,
        licence::Status::Active => pb::LicenceStatus::Active,
        licence::Status::Expired => pb::LicenceStatus::Expired,
    };
    Ok(pb::Licence {
        office_number: number.to_owned(),
        status: status as i32,
        expiry_date: periods.iter().map(|p| p.end).max().map(from_naive_date),
        periods: rows
            .iter()
            .filter_map(|m| period(m).map(|p| (m, p)))
            .map(|(m, p)| pb::LicencePeriod {
                kind: period_kind(p.kind) as i32,
                period: Some(proto_period(p.start, p.end)),
                fee_yen: p.fee_yen,
                rule_set_id: p.rule_set_id,
                create_time: Some(timestamp(m.created_at)),
            })
            .collect(),
        annual_fee_yen: rules.annual_fee_yen,
        free_pass_used: periods.iter().any(|p| p.kind == PeriodKind::FreePass),
        version: office.map_or(0, |o| o.version),
        service_types: store::office_service_types(conn, number).await.map_err(db)?,
    })
}

/// Who may read or change a licence: operators, and an office for its own number.
fn check_access(caller: &Caller, number: &CareOfficeNumber, write: bool) -> Result<(), ApiError> {
    let own = matches!(caller.role, Role::CareOffice | Role::ServiceProvider) && caller.office.as_ref() == Some(number);
    let allowed = own || caller.role == Role::Operator || (!write && caller.role == Role::Insurer);
    if allowed {
        Ok(())
    } else {
        Err(ApiError::permission_denied("NOT_OWN_OFFICE", "an office manages only its own licence"))
    }
}

fn role_name(role: pb::OfficeRole) -> Option<&'static str> {
    match role {
        pb::OfficeRole::CareOffice => Some("care_office"),
        pb::OfficeRole::Provider => Some("provider"),
        pb::OfficeRole::Unspecified => None,
    }
}

/// The registry entry before a licence change: created at version 1 for a new office, else moved
/// from `expected` to the next version (ABORTED when someone changed it since it was read).
pub(crate) async fn claim_office(
    tx: &DatabaseTransaction,
    number: &str,
    expected: i64,
    role: Option<&'static str>,
    name: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let stale = || ApiError::aborted("VERSION_MISMATCH", "the licence changed since it was read; read it again");
    match store::get_office(tx, number).await.map_err(db)? {
        None if expected == 0 => {
            let Some(role) = role else {
                let mut v = Violations::new();
                v.add("office_role", "required to register a new office");
                return Err(ApiError::invalid_argument(v));
            };
            let model = office::Model {
                office_number: number.to_owned(),
                role: role.to_owned(),
                name: name.to_owned(),
                version: 1,
                created_at: now,
                updated_at: now,
            };
            store::insert_office(tx, model)
                .await
                .map_err(|e| if kaigo_platform::db::is_unique_violation(&e) { stale() } else { db(e) })
        }
        None => Err(stale()),
        Some(_) => {
            let name = (!name.is_empty()).then_some(name);
            if store::bump_office(tx, number, expected, name, now).await.map_err(db)? { Ok(()) } else { Err(stale()) }
        }
    }
}

pub(crate) async fn record_period(
    tx: &DatabaseTransaction,
    number: &str,
    p: &Period,
    reference: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let row = licence_period::ActiveModel {
        office_number: Set(number.to_owned()),
        kind: Set(period_kind(p.kind) as i32),
        start_date: Set(p.start),
        end_date: Set(p.end),
        fee_yen: Set(p.fee_yen),
        rule_set_id: Set(p.rule_set_id.clone()),
        payment_reference: Set(reference.to_owned()),
        created_at: Set(now),
        ..Default::default()
    };
    store::insert_licence_period(tx, row).await.map_err(db)
}

fn office_number(
    text: &str,
    field: &str,
    caller: &Caller,
    lettered: LetteredOfficeCheck,
    v: &mut Violations,
) -> Option<CareOfficeNumber> {
    if text.is_empty() {
        return caller.office.clone().or_else(|| {
            v.add(field, "required");
            None
        });
    }
    // As RegisterLicence takes it (docs/domain/careplan-csv.md#settings).
    v.check(field, parse_office(text, lettered))
}

fn optional_date(
    date: Option<&kaigo_proto::google::r#type::Date>,
    field: &str,
    v: &mut Violations,
) -> Option<NaiveDate> {
    date.and_then(|d| v.check(field, to_naive_date(d)))
}

fn role_for(caller: &Caller, requested: i32) -> Option<&'static str> {
    pb::OfficeRole::try_from(requested).ok().and_then(role_name).or(match caller.role {
        Role::CareOffice => Some("care_office"),
        Role::ServiceProvider => Some("provider"),
        _ => None,
    })
}

/// The value a validated field parsed to, or every problem found: a field that did not parse
/// added its own violation.
fn checked<T>(value: Option<T>, v: Violations) -> Result<T, ApiError> {
    match value {
        Some(value) if v.is_empty() => Ok(value),
        _ => Err(ApiError::invalid_argument(v)),
    }
}

/// A RegisterLicence or ApplyFreePass that passed validation.
struct LicenceChange {
    number: CareOfficeNumber,
    /// The start date or the application date, when given.
    date: Option<NaiveDate>,
    /// The service types to register, sorted and folded; `None` keeps the registered list.
    service_types: Option<Vec<String>>,
}

/// Longest registered office name (characters), as the contract documents.
const MAX_OFFICE_NAME: usize = 100;
/// Longest payment reference (an invoice or receipt number; characters).
const MAX_PAYMENT_REFERENCE: usize = 64;

/// Most service types one office registers.
const MAX_SERVICE_TYPES: usize = 32;

/// The service types of a request: each 2 characters, 43/46 or a type of the exchange
/// (docs/domain/careplan-csv.md#office-types).
fn service_types(requested: &[String], types: &ServiceTypes, v: &mut Violations) -> Option<Vec<String>> {
    if requested.is_empty() {
        return None;
    }
    if requested.len() > MAX_SERVICE_TYPES {
        v.add("service_types", format!("at most {MAX_SERVICE_TYPES} service types"));
        return None;
    }
    let mut out = std::collections::BTreeSet::new();
    for (i, t) in requested.iter().enumerate() {
        let field = format!("service_types[{i}]");
        if ServiceType::parse(t).is_err() {
            v.add(field, "a サービス種類コード is 2 half-width digits or upper-case letters");
        } else if !types.is_care_management(t) && !types.is_exchanged(t) {
            v.add(field, "not 居宅介護支援 (43), 介護予防支援 (46) or a service type of the exchange");
        } else {
            out.insert(t.clone());
        }
    }
    Some(out.into_iter().collect())
}

impl LicenceChange {
    fn validate(
        request_id: &str,
        office_number: &str,
        (date, date_field): (Option<&kaigo_proto::google::r#type::Date>, &str),
        expected_version: i64,
        requested_types: &[String],
        texts: &[(&str, &str, usize)],
        spec: &Spec,
    ) -> Result<Self, ApiError> {
        let types = &spec.service_types;
        let mut v = Violations::new();
        check_request_id(&mut v, "request_id", request_id);
        // Free text at most its documented length, each (field, value, maximum characters).
        for (field, text, max) in texts {
            if text.chars().count() > *max {
                v.add(*field, format!("at most {max} characters"));
            }
        }
        let number = v.check("office_number", parse_office(office_number, spec.settings.lettered_office));
        let date = optional_date(date, date_field, &mut v);
        if expected_version < 0 {
            v.add("expected_version", "0 or a version read before");
        }
        let service_types = service_types(requested_types, types, &mut v);
        Ok(Self { number: checked(number, v)?, date, service_types })
    }
}

pub(crate) async fn get_licence(
    api: &Api,
    caller: &Caller,
    request: pb::GetLicenceRequest,
) -> Result<pb::GetLicenceResponse, ApiError> {
    let mut v = Violations::new();
    let number =
        office_number(&request.office_number, "office_number", caller, api.spec.settings.lettered_office, &mut v);
    let number = checked(number, v)?;
    check_access(caller, &number, false)?;
    let today = api.clock.today_jst();
    // A replica, unless the caller has a licence change it has not replayed; a version read
    // from one another caller's change has not reached yet is refused by the write
    // (VERSION_MISMATCH), never taken.
    let reads = api.reads_for(caller);
    Ok(pb::GetLicenceResponse { licence: Some(load(&reads, number.as_str(), &api.rules, today).await?) })
}

pub(crate) async fn register_licence(
    api: &Api,
    caller: &Caller,
    request: pb::RegisterLicenceRequest,
) -> Result<pb::RegisterLicenceResponse, ApiError> {
    let LicenceChange { number, date: start, service_types } = LicenceChange::validate(
        &request.request_id,
        &request.office_number,
        (request.start_date.as_ref(), "start_date"),
        request.expected_version,
        &request.service_types,
        &[
            ("office_name", &request.office_name, MAX_OFFICE_NAME),
            ("payment_reference", &request.payment_reference, MAX_PAYMENT_REFERENCE),
        ],
        &api.spec,
    )?;
    check_access(caller, &number, true)?;
    let key = IdempotencyKey::new("RegisterLicence", caller, &request.request_id, &request);
    if let Some(first) = key.replay_as(&api.ctx.db).await? {
        return Ok(first);
    }
    let now = api.clock.now();
    let today = jst_date(now);
    let tx = kaigo_platform::db::begin_write(&api.ctx.db).await.map_err(db)?;
    claim_office(
        &tx,
        number.as_str(),
        request.expected_version,
        role_for(caller, request.office_role),
        &request.office_name,
        now,
    )
    .await?;
    if let Some(types) = &service_types {
        store::replace_office_service_types(&tx, number.as_str(), types).await.map_err(db)?;
    }
    let periods: Vec<_> =
        store::licence_periods(&tx, number.as_str()).await.map_err(db)?.iter().filter_map(period).collect();
    let year = licence::paid_year(&periods, start, today, &api.rules);
    record_period(&tx, number.as_str(), &year, &request.payment_reference, now).await?;
    let response = pb::RegisterLicenceResponse { licence: Some(load(&tx, number.as_str(), &api.rules, today).await?) };
    key.remember_message(&tx, now, &response).await.map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(response)
}

pub(crate) async fn apply_free_pass(
    api: &Api,
    caller: &Caller,
    request: pb::ApplyFreePassRequest,
) -> Result<pb::ApplyFreePassResponse, ApiError> {
    let LicenceChange { number, date: applied, service_types } = LicenceChange::validate(
        &request.request_id,
        &request.office_number,
        (request.application_date.as_ref(), "application_date"),
        request.expected_version,
        &request.service_types,
        &[("office_name", &request.office_name, MAX_OFFICE_NAME)],
        &api.spec,
    )?;
    check_access(caller, &number, true)?;
    let key = IdempotencyKey::new("ApplyFreePass", caller, &request.request_id, &request);
    if let Some(first) = key.replay_as(&api.ctx.db).await? {
        return Ok(first);
    }
    let now = api.clock.now();
    let today = jst_date(now);
    let applied = applied.unwrap_or(today);
    let tx = kaigo_platform::db::begin_write(&api.ctx.db).await.map_err(db)?;
    let periods: Vec<_> =
        store::licence_periods(&tx, number.as_str()).await.map_err(db)?.iter().filter_map(period).collect();
    let pass = licence::apply_free_pass(&periods, applied, &api.rules)
        .map_err(|refusal| ApiError::failed_precondition(refusal.reason, refusal.message))?;
    claim_office(
        &tx,
        number.as_str(),
        request.expected_version,
        role_for(caller, request.office_role),
        &request.office_name,
        now,
    )
    .await?;
    if let Some(types) = &service_types {
        store::replace_office_service_types(&tx, number.as_str(), types).await.map_err(db)?;
    }
    record_period(&tx, number.as_str(), &pass.period, "", now).await?;
    let category = match pass.category {
        licence::FreePassCategory::FirstTime => pb::FreePassCategory::FirstTime,
        licence::FreePassCategory::Current => pb::FreePassCategory::Current,
        licence::FreePassCategory::Returning => pb::FreePassCategory::Returning,
        licence::FreePassCategory::SpringRenewer => pb::FreePassCategory::Spring2025Renewer,
    };
    let response = pb::ApplyFreePassResponse {
        licence: Some(load(&tx, number.as_str(), &api.rules, today).await?),
        category: category as i32,
        free_period: Some(proto_period(pass.period.start, pass.period.end)),
        explanation: pass.explanation,
    };
    key.remember_message(&tx, now, &response).await.map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(response)
}

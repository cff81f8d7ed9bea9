//! PostgreSQL (or SQLite in `kaigo dev`) storage: the only place with SQL.
//!
//! Every write runs in one transaction that locks the application, checks the caller against
//! it, replays the stored response of a retry (`kaigo_platform::idempotency`), applies the
//! change, appends the steps, writes the event into the outbox, and stores the response under
//! the request id: a retry gets that response, and a failure leaves nothing.

pub mod entities;
pub mod legacy;
pub mod migration;
mod queries;
mod rows;

use chrono::{DateTime, NaiveDate, Utc};
use kaigo_platform::errors::{self, ApiError};
use kaigo_platform::events::{NewEvent, enqueue};
use kaigo_platform::idempotency::IdempotencyKey;
use sea_orm::sea_query::LockType;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Statement,
};

pub use queries::{ListFilter, ListOrder, StatisticsRows, list, open_deadline_groups, statistics_rows};

use crate::domain::record::{ActorRecord, ApplicationRecord, DelayNoticeRecord, LoadedApplication, StepRecord};
use crate::domain::types::{CareLevel, Status, StepKind};
use entities::{application, certification, delay_notice, step};

/// A step to append.
#[derive(Debug, Clone)]
pub struct NewStep {
    /// Kind.
    pub kind: StepKind,
    /// When it happened.
    pub occur_time: DateTime<Utc>,
    /// Who recorded it.
    pub actor: ActorRecord,
    /// Summary (no personal data).
    pub summary: String,
}

/// What a write changes besides the record itself.
#[derive(Debug, Default)]
pub struct Change {
    /// Steps to append, in order.
    pub steps: Vec<NewStep>,
    /// A delay notice to add.
    pub delay_notice: Option<DelayNoticeRecord>,
    /// An event for the outbox.
    pub event: Option<NewEvent>,
    /// A decided certification to remember for later renewals.
    pub certification: Option<DecidedCertification>,
}

/// A certification this service decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecidedCertification {
    /// Level.
    pub level: CareLevel,
    /// Validity (none for 非該当).
    pub validity: Option<(NaiveDate, NaiveDate)>,
    /// 認定年月日.
    pub decision_date: NaiveDate,
}

/// The outcome of a write.
#[derive(Debug)]
pub enum Written {
    /// Done now; the response and the application id (to notify watchers).
    Fresh {
        /// Encoded response.
        response: Vec<u8>,
        /// The application written.
        application_id: String,
        /// Its version after the write.
        version: i64,
    },
    /// A retry of an earlier request: its stored response.
    Replayed(Vec<u8>),
}

impl Written {
    /// The encoded response.
    pub fn response(&self) -> &[u8] {
        match self {
            Written::Fresh { response, .. } | Written::Replayed(response) => response,
        }
    }
}

/// What a step write may refuse with before changing anything.
pub type Refuse = ApiError;

/// Files a new application (the caller is already authorised for it): a retry of `key`
/// gets the stored response; otherwise `prepare` sees the person's current certification
/// (in force on the application date) and whether an open application exists, and may
/// refuse.
pub async fn submit<P, R>(
    db: &DatabaseConnection,
    key: &IdempotencyKey,
    mut record: ApplicationRecord,
    first_step: NewStep,
    prepare: P,
    render: R,
) -> Result<Written, ApiError>
where
    P: FnOnce(&mut ApplicationRecord, Option<CurrentCertification>, bool) -> Result<(), Refuse>,
    R: FnOnce(&LoadedApplication) -> Vec<u8>,
{
    let txn = kaigo_platform::db::begin_write(db).await.map_err(errors::db)?;
    if kaigo_platform::db::is_postgres(&txn) {
        // Serialises submissions for one person so the "one open application" rule holds.
        let person = format!("certification.person.{}.{}", record.insurer_number, record.insured_number);
        txn.execute_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "SELECT pg_advisory_xact_lock(hashtext($1))",
            [person.into()],
        ))
        .await
        .map_err(errors::db)?;
    }
    // After the person's lock: a concurrent identical retry that committed first is seen.
    if let Some(response) = key.replay(&txn).await? {
        return Ok(Written::Replayed(response));
    }
    let current =
        current_certification(&txn, &record.insurer_number, &record.insured_number, record.application_date).await?;
    let open = application::Entity::find()
        .filter(application::Column::InsurerNumber.eq(&record.insurer_number))
        .filter(application::Column::InsuredNumber.eq(&record.insured_number))
        .filter(application::Column::Status.is_in(Status::OPEN.map(Status::as_str)))
        .one(&txn)
        .await
        .map_err(errors::db)?
        .is_some();
    prepare(&mut record, current, open)?;
    record.version = 1;
    let step = StepRecord {
        sequence: 1,
        kind: first_step.kind,
        occur_time: first_step.occur_time,
        record_time: record.created_at,
        actor: first_step.actor,
        summary: first_step.summary,
    };
    let loaded = LoadedApplication { record, steps: vec![step], delay_notices: Vec::new() };
    rows::application_row(&loaded)?.into_active_model().insert(&txn).await.map_err(errors::db)?;
    step::ActiveModel::from(rows::step_row(&loaded.record.id, &loaded.steps[0]))
        .insert(&txn)
        .await
        .map_err(errors::db)?;
    let response = render(&loaded);
    if let Err(err) = key.remember(&txn, loaded.record.created_at, &response).await {
        drop(txn);
        return key.after_conflict(db, err).await.map(Written::Replayed);
    }
    txn.commit().await.map_err(errors::db)?;
    Ok(Written::Fresh { response, application_id: loaded.record.id, version: 1 })
}

/// Applies one write to an existing application. `authorize` sees the stored record first
/// (PERMISSION_DENIED before anything else, a stored answer included); then a retry of
/// `key` gets the stored response; `expected_version` > 0 must match (ABORTED); `mutate`
/// applies the domain rules and says what to append. The response is stored under `key` in
/// the same transaction.
#[allow(clippy::too_many_arguments)] // the parts of one write, each a different concern
pub async fn write<A, M, R>(
    db: &DatabaseConnection,
    key: &IdempotencyKey,
    application_id: &str,
    expected_version: i64,
    now: DateTime<Utc>,
    authorize: A,
    mutate: M,
    render: R,
) -> Result<Written, ApiError>
where
    A: FnOnce(&ApplicationRecord) -> Result<(), Refuse>,
    M: FnOnce(&mut LoadedApplication) -> Result<Change, Refuse>,
    R: FnOnce(&LoadedApplication) -> Vec<u8>,
{
    let txn = kaigo_platform::db::begin_write(db).await.map_err(errors::db)?;
    let written = write_in(&txn, Some(key), application_id, expected_version, now, authorize, mutate, render).await?;
    if let Written::Fresh { response, .. } = &written {
        if let Err(err) = key.remember(&txn, now, response).await {
            drop(txn);
            return key.after_conflict(db, err).await.map(Written::Replayed);
        }
        txn.commit().await.map_err(errors::db)?;
    }
    Ok(written)
}

/// [`write`] inside the caller's transaction (the event consumer's, which records
/// the event id with it); with `key`, a stored response is replayed once `authorize` has
/// passed, but the new response is not stored (the caller does that, or deduplicates
/// otherwise). Does not commit.
#[allow(clippy::too_many_arguments)] // the parts of one write, each a different concern
pub async fn write_in<A, M, R>(
    txn: &DatabaseTransaction,
    key: Option<&IdempotencyKey>,
    application_id: &str,
    expected_version: i64,
    now: DateTime<Utc>,
    authorize: A,
    mutate: M,
    render: R,
) -> Result<Written, ApiError>
where
    A: FnOnce(&ApplicationRecord) -> Result<(), Refuse>,
    M: FnOnce(&mut LoadedApplication) -> Result<Change, Refuse>,
    R: FnOnce(&LoadedApplication) -> Vec<u8>,
{
    let mut select = application::Entity::find_by_id(application_id.to_owned());
    if kaigo_platform::db::is_postgres(txn) {
        select = select.lock(LockType::Update);
    }
    let Some(row) = select.one(txn).await.map_err(errors::db)? else {
        return Err(ApiError::not_found("APPLICATION_NOT_FOUND", "no application with this id"));
    };
    let mut loaded = load_children(txn, rows::record_from_row(&row)?).await?;
    authorize(&loaded.record)?;
    // Only an authorised caller gets a stored answer; before the version check, so that a
    // retry of a write that moved the version still gets its answer.
    if let Some(key) = key
        && let Some(response) = key.replay(txn).await?
    {
        return Ok(Written::Replayed(response));
    }
    if expected_version > 0 && expected_version != loaded.record.version {
        return Err(ApiError::aborted(
            "VERSION_MISMATCH",
            format!("the application is at version {}, not {expected_version}; read it again", loaded.record.version),
        ));
    }
    let change = mutate(&mut loaded)?;
    for new in change.steps {
        loaded.record.version += 1;
        let step = StepRecord {
            sequence: loaded.record.version,
            kind: new.kind,
            occur_time: new.occur_time,
            record_time: now,
            actor: new.actor,
            summary: new.summary,
        };
        step::ActiveModel::from(rows::step_row(application_id, &step)).insert(txn).await.map_err(errors::db)?;
        loaded.steps.push(step);
    }
    loaded.record.updated_at = now;
    if let Some(notice) = change.delay_notice {
        let ordinal = i32::try_from(loaded.delay_notices.len() + 1).unwrap_or(i32::MAX);
        delay_notice::ActiveModel::from(rows::notice_row(application_id, ordinal, &notice, now))
            .insert(txn)
            .await
            .map_err(errors::db)?;
        loaded.delay_notices.push(notice);
    }
    if let Some(cert) = change.certification {
        certification::ActiveModel::from(certification::Model {
            application_id: application_id.to_owned(),
            insurer_number: loaded.record.insurer_number.clone(),
            insured_number: loaded.record.insured_number.clone(),
            care_level: cert.level.code().to_owned(),
            validity_start: cert.validity.map(|v| v.0),
            validity_end: cert.validity.map(|v| v.1),
            decision_date: cert.decision_date,
        })
        .insert(txn)
        .await
        .map_err(errors::db)?;
    }
    if let Some(event) = change.event {
        enqueue(txn, event).await.map_err(errors::db)?;
    }
    rows::application_row(&loaded)?.into_active_model().reset_all().update(txn).await.map_err(errors::db)?;
    let response = render(&loaded);
    Ok(Written::Fresh { response, application_id: application_id.to_owned(), version: loaded.record.version })
}

/// One application with its steps and notices.
pub async fn load(conn: &impl ConnectionTrait, application_id: &str) -> Result<Option<LoadedApplication>, ApiError> {
    let Some(row) = application::Entity::find_by_id(application_id.to_owned()).one(conn).await.map_err(errors::db)?
    else {
        return Ok(None);
    };
    Ok(Some(load_children(conn, rows::record_from_row(&row)?).await?))
}

/// The certification in force for a person on a date, from this service's own decisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentCertification {
    /// Level.
    pub level: CareLevel,
    /// Last day in force.
    pub validity_end: NaiveDate,
}

async fn current_certification(
    conn: &impl ConnectionTrait,
    insurer: &str,
    insured: &str,
    on: NaiveDate,
) -> Result<Option<CurrentCertification>, ApiError> {
    let row = certification::Entity::find()
        .filter(certification::Column::InsurerNumber.eq(insurer))
        .filter(certification::Column::InsuredNumber.eq(insured))
        .filter(certification::Column::ValidityStart.lte(on))
        .filter(certification::Column::ValidityEnd.gte(on))
        .order_by_desc(certification::Column::DecisionDate)
        .one(conn)
        .await
        .map_err(errors::db)?;
    Ok(row.and_then(|r| {
        Some(CurrentCertification { level: CareLevel::from_code(&r.care_level)?, validity_end: r.validity_end? })
    }))
}

async fn load_children(conn: &impl ConnectionTrait, record: ApplicationRecord) -> Result<LoadedApplication, ApiError> {
    let steps = step::Entity::find()
        .filter(step::Column::ApplicationId.eq(&record.id))
        .order_by_asc(step::Column::Sequence)
        .all(conn)
        .await
        .map_err(errors::db)?;
    let notices = delay_notice::Entity::find()
        .filter(delay_notice::Column::ApplicationId.eq(&record.id))
        .order_by_asc(delay_notice::Column::Ordinal)
        .all(conn)
        .await
        .map_err(errors::db)?;
    Ok(LoadedApplication {
        record,
        steps: steps.iter().map(rows::step_from_row).collect::<Result<_, _>>()?,
        delay_notices: notices.iter().map(rows::notice_from_row).collect::<Result<_, _>>()?,
    })
}

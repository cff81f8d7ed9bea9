//! A change to a registration or a consent, inside the caller's write transaction: the new
//! current row, its version appended (never overwritten), and its event in the outbox — all
//! three commit together or not at all. Used by the API and by the sweep.

use chrono::{DateTime, Utc};
use kaigo_platform::events::{NewEvent, enqueue};
use kaigo_proto::kaigo::registry::v1 as pb;
use prost::Message;
use sea_orm::{ConnectionTrait, DbErr};

use crate::domain::EndReason;
use crate::store::{self, consent, identity_link, registration};
use crate::wire;
use crate::{TOPIC_CONSENT_CHANGED, TOPIC_REGISTRATION_CHANGED};

/// Who made a change, as stored words (role, subject, organisation).
pub type By = (String, String, String);

/// The sweep's author.
pub fn system() -> By {
    ("system".to_owned(), "registry-sweep".to_owned(), String::new())
}

/// Appends the version of `row` and publishes it.
async fn registration_changed(
    conn: &impl ConnectionTrait,
    row: &registration::Model,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let message = wire::registration(row);
    store::insert_registration_version(conn, &row.id, row.version, at, message.encode_to_vec()).await?;
    let event = pb::RegistrationChanged { registration: Some(message), change_time: Some(wire::timestamp(at)) };
    enqueue(
        conn,
        NewEvent { topic: TOPIC_REGISTRATION_CHANGED.to_owned(), key: row.id.clone(), payload: event.encode_to_vec() },
    )
    .await?;
    Ok(())
}

/// Stores an identity link (a new one, or the next version of `exists`) and publishes it,
/// so every service's copy binds the person's own view to it (docs/domain/access.md#own-view).
pub async fn put_identity_link(
    conn: &impl ConnectionTrait,
    mut row: identity_link::Model,
    exists: Option<&identity_link::Model>,
) -> Result<(), DbErr> {
    row.version = exists.map_or(1, |old| old.version + 1);
    store::put_identity_link(conn, row.clone(), exists.is_some()).await?;
    store::publish_identity_link(conn, &row).await
}

/// Inserts a new registration (version 1).
pub async fn create_registration(
    conn: &impl ConnectionTrait,
    row: registration::Model,
    at: DateTime<Utc>,
) -> Result<registration::Model, DbErr> {
    store::insert_registration(conn, row.clone()).await?;
    registration_changed(conn, &row, at).await?;
    Ok(row)
}

/// Ends an active registration: a new version.
pub async fn end_registration(
    conn: &impl ConnectionTrait,
    mut row: registration::Model,
    reason: EndReason,
    by: By,
    note: Option<String>,
    at: DateTime<Utc>,
) -> Result<registration::Model, DbErr> {
    row.version += 1;
    row.ended_at = Some(at);
    row.end_reason = Some(reason.as_str().to_owned());
    row.ended_by_role = Some(by.0);
    row.ended_by_subject = Some(by.1);
    row.ended_by_org = Some(by.2);
    row.end_note = note.filter(|n| !n.is_empty());
    row.active_key = None;
    store::update_registration(conn, row.clone()).await?;
    registration_changed(conn, &row, at).await?;
    Ok(row)
}

async fn consent_changed(conn: &impl ConnectionTrait, row: &consent::Model, at: DateTime<Utc>) -> Result<(), DbErr> {
    let message = wire::consent(row);
    store::insert_consent_version(conn, &row.id, row.version, at, message.encode_to_vec()).await?;
    let event = pb::ConsentChanged { consent: Some(message), change_time: Some(wire::timestamp(at)) };
    enqueue(
        conn,
        NewEvent { topic: TOPIC_CONSENT_CHANGED.to_owned(), key: row.id.clone(), payload: event.encode_to_vec() },
    )
    .await?;
    Ok(())
}

/// Inserts a new consent (version 1).
pub async fn create_consent(
    conn: &impl ConnectionTrait,
    row: consent::Model,
    at: DateTime<Utc>,
) -> Result<consent::Model, DbErr> {
    store::insert_consent(conn, row.clone()).await?;
    consent_changed(conn, &row, at).await?;
    Ok(row)
}

/// Withdraws a consent in force: a new version.
pub async fn withdraw_consent(
    conn: &impl ConnectionTrait,
    mut row: consent::Model,
    by: By,
    at: DateTime<Utc>,
) -> Result<consent::Model, DbErr> {
    row.version += 1;
    row.withdrawn_at = Some(at);
    row.withdrawn_by_role = Some(by.0);
    row.withdrawn_by_subject = Some(by.1);
    row.withdrawn_by_org = Some(by.2);
    store::update_consent(conn, row.clone()).await?;
    consent_changed(conn, &row, at).await?;
    Ok(row)
}

/// Records service by `by` on `date` for the active registration `row`: the evidence row, and
/// the registration's last service day moved forward (the no-service period runs from the
/// later of the start and the newest evidence). Not a new version: the evidence rows are
/// the history.
pub async fn record_service(
    conn: &impl ConnectionTrait,
    mut row: registration::Model,
    date: chrono::NaiveDate,
    by: &str,
    at: DateTime<Utc>,
) -> Result<registration::Model, DbErr> {
    store::insert_service_evidence(conn, &row.id, date, at, by).await?;
    let last = row.last_service_on.map_or(date, |last| last.max(date)).max(row.start_date);
    if row.last_service_on != Some(last) {
        row.last_service_on = Some(last);
        store::update_registration(conn, row.clone()).await?;
    }
    Ok(row)
}

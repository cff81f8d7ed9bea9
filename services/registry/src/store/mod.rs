//! The registry's SQL: every query and write of the service, through sea-orm.

pub mod entities;
pub mod migration;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect,
};

pub use entities::{
    confirmation, consent, consent_version, identity_link, notification, registration, registration_version,
    service_evidence,
};

/// A row as a fully set active model (every column written on update).
fn all_set<A: ActiveModelTrait>(active: A) -> A {
    active.reset_all()
}

/// Inserts a card confirmation.
pub async fn insert_confirmation(conn: &impl ConnectionTrait, row: confirmation::Model) -> Result<(), DbErr> {
    confirmation::Entity::insert(row.into_active_model()).exec_without_returning(conn).await.map(|_| ())
}

/// A card confirmation by id.
pub async fn confirmation(conn: &impl ConnectionTrait, id: &str) -> Result<Option<confirmation::Model>, DbErr> {
    confirmation::Entity::find_by_id(id.to_owned()).one(conn).await
}

/// Marks a confirmation completed unless it already is; false when another request completed
/// it first (the challenge is single-use even under a race).
pub async fn complete_confirmation(
    conn: &impl ConnectionTrait,
    id: &str,
    link_id: &str,
    person: (&str, &str),
    at: DateTime<Utc>,
    usable_until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = confirmation::Entity::update_many()
        .col_expr(confirmation::Column::CompletedAt, Expr::value(at))
        .col_expr(confirmation::Column::LinkId, Expr::value(link_id))
        .col_expr(confirmation::Column::InsurerNumber, Expr::value(person.0))
        .col_expr(confirmation::Column::InsuredNumber, Expr::value(person.1))
        .col_expr(confirmation::Column::UsableUntil, Expr::value(usable_until))
        .filter(confirmation::Column::Id.eq(id))
        .filter(confirmation::Column::CompletedAt.is_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// An identity link by id.
pub async fn identity_link(conn: &impl ConnectionTrait, link_id: &str) -> Result<Option<identity_link::Model>, DbErr> {
    identity_link::Entity::find_by_id(link_id.to_owned()).one(conn).await
}

/// The identity links with these ids.
pub async fn identity_links(conn: &impl ConnectionTrait, ids: Vec<String>) -> Result<Vec<identity_link::Model>, DbErr> {
    identity_link::Entity::find().filter(identity_link::Column::LinkId.is_in(ids)).all(conn).await
}

/// Inserts or replaces an identity link.
pub async fn put_identity_link(
    conn: &impl ConnectionTrait,
    row: identity_link::Model,
    exists: bool,
) -> Result<(), DbErr> {
    if exists {
        all_set(row.into_active_model()).update(conn).await.map(|_| ())
    } else {
        identity_link::Entity::insert(row.into_active_model()).exec_without_returning(conn).await.map(|_| ())
    }
}

/// Publishes the current version of an identity link through the outbox, in `conn`'s
/// transaction, so every service's copy binds the person's own view to it
/// (docs/domain/access.md#own-view). Publishing a version again changes nothing: the consumers
/// keep the highest.
pub async fn publish_identity_link(conn: &impl ConnectionTrait, row: &identity_link::Model) -> Result<(), DbErr> {
    use kaigo_proto::kaigo::registry::v1 as pb;
    use prost::Message;
    let event = pb::IdentityLinkChanged {
        link_id: row.link_id.clone(),
        person: Some(pb::PersonRef {
            insurer_number: row.insurer_number.clone(),
            insured_number: row.insured_number.clone(),
        }),
        revoked: row.revoked,
        version: row.version,
        change_time: Some(std::time::SystemTime::from(row.updated_at).into()),
    };
    let event = kaigo_platform::events::NewEvent {
        topic: crate::TOPIC_IDENTITY_LINK_CHANGED.to_owned(),
        key: row.link_id.clone(),
        payload: event.encode_to_vec(),
    };
    kaigo_platform::events::enqueue(conn, event).await?;
    Ok(())
}

/// Inserts a registration (version 1).
pub async fn insert_registration(conn: &impl ConnectionTrait, row: registration::Model) -> Result<(), DbErr> {
    registration::Entity::insert(row.into_active_model()).exec_without_returning(conn).await.map(|_| ())
}

/// Writes a changed registration.
pub async fn update_registration(conn: &impl ConnectionTrait, row: registration::Model) -> Result<(), DbErr> {
    all_set(row.into_active_model()).update(conn).await.map(|_| ())
}

/// A registration by id.
pub async fn registration(conn: &impl ConnectionTrait, id: &str) -> Result<Option<registration::Model>, DbErr> {
    registration::Entity::find_by_id(id.to_owned()).one(conn).await
}

/// The active registration of `org` for the person, if any.
pub async fn active_registration(
    conn: &impl ConnectionTrait,
    org: &str,
    insurer: &str,
    insured: &str,
) -> Result<Option<registration::Model>, DbErr> {
    registration::Entity::find()
        .filter(registration::Column::ActiveKey.eq(active_key(org, insurer, insured)))
        .one(conn)
        .await
}

/// The unique key of an active registration.
pub fn active_key(org: &str, insurer: &str, insured: &str) -> String {
    format!("{org}|{insurer}|{insured}")
}

/// A person's registrations, newest first (at most `limit`).
pub async fn registrations_of_person(
    conn: &impl ConnectionTrait,
    insurer: &str,
    insured: &str,
    include_ended: bool,
    limit: u64,
) -> Result<Vec<registration::Model>, DbErr> {
    let mut query = registration::Entity::find()
        .filter(registration::Column::InsurerNumber.eq(insurer))
        .filter(registration::Column::InsuredNumber.eq(insured));
    if !include_ended {
        query = query.filter(registration::Column::EndedAt.is_null());
    }
    query
        .order_by_desc(registration::Column::CreatedAt)
        .order_by_desc(registration::Column::Id)
        .limit(limit)
        .all(conn)
        .await
}

/// An organisation's registrations (optionally of one person), newest first, paged.
pub async fn registrations_of_org(
    conn: &impl ConnectionTrait,
    org: &str,
    person: Option<(&str, &str)>,
    include_ended: bool,
    offset: u64,
    limit: u64,
) -> Result<Vec<registration::Model>, DbErr> {
    let mut query = registration::Entity::find().filter(registration::Column::OrgNumber.eq(org));
    if let Some((insurer, insured)) = person {
        query = query
            .filter(registration::Column::InsurerNumber.eq(insurer))
            .filter(registration::Column::InsuredNumber.eq(insured));
    }
    if !include_ended {
        query = query.filter(registration::Column::EndedAt.is_null());
    }
    query
        .order_by_desc(registration::Column::CreatedAt)
        .order_by_desc(registration::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(conn)
        .await
}

/// Active registrations whose last service (or start) is before `cutoff`: the sweep's
/// candidates, at most `limit`.
pub async fn registrations_without_service_since(
    conn: &impl ConnectionTrait,
    cutoff: NaiveDate,
    limit: u64,
) -> Result<Vec<registration::Model>, DbErr> {
    registration::Entity::find()
        .filter(registration::Column::EndedAt.is_null())
        .filter(
            Expr::expr(
                Expr::col(registration::Column::LastServiceOn).if_null(Expr::col(registration::Column::StartDate)),
            )
            .lte(cutoff),
        )
        .order_by_asc(registration::Column::Id)
        .limit(limit)
        .all(conn)
        .await
}

/// Appends a version of a registration.
pub async fn insert_registration_version(
    conn: &impl ConnectionTrait,
    id: &str,
    version: i64,
    at: DateTime<Utc>,
    snapshot: Vec<u8>,
) -> Result<(), DbErr> {
    let row = registration_version::Model { registration_id: id.to_owned(), version, changed_at: at, snapshot };
    registration_version::Entity::insert(row.into_active_model()).exec_without_returning(conn).await.map(|_| ())
}

/// Every version of a registration, oldest first.
pub async fn registration_versions(
    conn: &impl ConnectionTrait,
    id: &str,
) -> Result<Vec<registration_version::Model>, DbErr> {
    registration_version::Entity::find()
        .filter(registration_version::Column::RegistrationId.eq(id))
        .order_by_asc(registration_version::Column::Version)
        .all(conn)
        .await
}

/// Records service evidence.
pub async fn insert_service_evidence(
    conn: &impl ConnectionTrait,
    registration_id: &str,
    date: NaiveDate,
    at: DateTime<Utc>,
    by: &str,
) -> Result<(), DbErr> {
    let row = service_evidence::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        registration_id: sea_orm::ActiveValue::Set(registration_id.to_owned()),
        service_date: sea_orm::ActiveValue::Set(date),
        recorded_at: sea_orm::ActiveValue::Set(at),
        recorded_by: sea_orm::ActiveValue::Set(by.to_owned()),
    };
    service_evidence::Entity::insert(row).exec_without_returning(conn).await.map(|_| ())
}

/// Inserts a consent (version 1).
pub async fn insert_consent(conn: &impl ConnectionTrait, row: consent::Model) -> Result<(), DbErr> {
    consent::Entity::insert(row.into_active_model()).exec_without_returning(conn).await.map(|_| ())
}

/// Writes a changed consent.
pub async fn update_consent(conn: &impl ConnectionTrait, row: consent::Model) -> Result<(), DbErr> {
    all_set(row.into_active_model()).update(conn).await.map(|_| ())
}

/// A consent by id.
pub async fn consent(conn: &impl ConnectionTrait, id: &str) -> Result<Option<consent::Model>, DbErr> {
    consent::Entity::find_by_id(id.to_owned()).one(conn).await
}

/// A person's consents, newest first (at most `limit`); withdrawn ones only with
/// `include_withdrawn`.
pub async fn consents_of_person(
    conn: &impl ConnectionTrait,
    insurer: &str,
    insured: &str,
    include_withdrawn: bool,
    limit: u64,
) -> Result<Vec<consent::Model>, DbErr> {
    let mut query = consent::Entity::find()
        .filter(consent::Column::InsurerNumber.eq(insurer))
        .filter(consent::Column::InsuredNumber.eq(insured));
    if !include_withdrawn {
        query = query.filter(consent::Column::WithdrawnAt.is_null());
    }
    query.order_by_desc(consent::Column::CreatedAt).order_by_desc(consent::Column::Id).limit(limit).all(conn).await
}

/// Appends a version of a consent.
pub async fn insert_consent_version(
    conn: &impl ConnectionTrait,
    id: &str,
    version: i64,
    at: DateTime<Utc>,
    snapshot: Vec<u8>,
) -> Result<(), DbErr> {
    let row = consent_version::Model { consent_id: id.to_owned(), version, changed_at: at, snapshot };
    consent_version::Entity::insert(row.into_active_model()).exec_without_returning(conn).await.map(|_| ())
}

/// Inserts a notification.
pub async fn insert_notification(conn: &impl ConnectionTrait, row: notification::Model) -> Result<(), DbErr> {
    notification::Entity::insert(row.into_active_model()).exec_without_returning(conn).await.map(|_| ())
}

/// Writes a decided notification, only if it is still at `from_version` (false otherwise:
/// another request decided it first).
pub async fn decide_notification(
    conn: &impl ConnectionTrait,
    row: notification::Model,
    from_version: i64,
) -> Result<bool, DbErr> {
    let result = notification::Entity::update_many()
        .col_expr(notification::Column::Version, Expr::value(row.version))
        .col_expr(notification::Column::Status, Expr::value(row.status))
        .col_expr(notification::Column::DecidedAt, Expr::value(row.decided_at))
        .col_expr(notification::Column::DecidedByRole, Expr::value(row.decided_by_role))
        .col_expr(notification::Column::DecidedBySubject, Expr::value(row.decided_by_subject))
        .col_expr(notification::Column::DecidedByOrg, Expr::value(row.decided_by_org))
        .col_expr(notification::Column::ReturnReason, Expr::value(row.return_reason))
        .col_expr(notification::Column::RegistrationId, Expr::value(row.registration_id))
        .filter(notification::Column::Id.eq(row.id))
        .filter(notification::Column::Version.eq(from_version))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// A notification by id.
pub async fn notification(conn: &impl ConnectionTrait, id: &str) -> Result<Option<notification::Model>, DbErr> {
    notification::Entity::find_by_id(id.to_owned()).one(conn).await
}

/// Notifications sent to an insurer or by an office, newest first, paged.
pub async fn notifications(
    conn: &impl ConnectionTrait,
    insurer: Option<&str>,
    office: Option<&str>,
    status: Option<&str>,
    offset: u64,
    limit: u64,
) -> Result<Vec<notification::Model>, DbErr> {
    let mut query = notification::Entity::find();
    if let Some(insurer) = insurer {
        query = query.filter(notification::Column::InsurerNumber.eq(insurer));
    }
    if let Some(office) = office {
        query = query.filter(notification::Column::OfficeNumber.eq(office));
    }
    if let Some(status) = status {
        query = query.filter(notification::Column::Status.eq(status));
    }
    query
        .order_by_desc(notification::Column::SubmittedAt)
        .order_by_desc(notification::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(conn)
        .await
}

//! The only place with SQL: sea-orm entities, migrations and the queries the API needs.
//! Queries take any connection, so the API runs several of them in one transaction.

pub mod entities;
pub mod evidence;
pub mod kit_migration;
pub mod migration;
pub mod service_types_migration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
};

use self::entities::{bundle, bundle_file, licence_period, office, office_service_type};

/// One office of the registry.
pub async fn get_office(conn: &impl ConnectionTrait, number: &str) -> Result<Option<office::Model>, DbErr> {
    office::Entity::find_by_id(number.to_owned()).one(conn).await
}

/// Inserts a new office (a unique violation when it raced another registration).
pub async fn insert_office(conn: &impl ConnectionTrait, model: office::Model) -> Result<(), DbErr> {
    office::Entity::insert(model.into_active_model()).exec_without_returning(conn).await.map(|_| ())
}

/// Moves an office from `expected` to `expected + 1`; false when someone else changed it first.
pub async fn bump_office(
    conn: &impl ConnectionTrait,
    number: &str,
    expected: i64,
    name: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let mut update = office::Entity::update_many()
        .col_expr(office::Column::Version, Expr::value(expected + 1))
        .col_expr(office::Column::UpdatedAt, Expr::value(now));
    if let Some(name) = name {
        update = update.col_expr(office::Column::Name, Expr::value(name.to_owned()));
    }
    let result = update
        .filter(office::Column::OfficeNumber.eq(number))
        .filter(office::Column::Version.eq(expected))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// The service types an office registered, sorted.
pub async fn office_service_types(conn: &impl ConnectionTrait, number: &str) -> Result<Vec<String>, DbErr> {
    office_service_type::Entity::find()
        .filter(office_service_type::Column::OfficeNumber.eq(number))
        .order_by_asc(office_service_type::Column::ServiceType)
        .all(conn)
        .await
        .map(|rows| rows.into_iter().map(|r| r.service_type).collect())
}

/// Replaces the service types an office registered.
pub async fn replace_office_service_types(
    conn: &impl ConnectionTrait,
    number: &str,
    types: &[String],
) -> Result<(), DbErr> {
    office_service_type::Entity::delete_many()
        .filter(office_service_type::Column::OfficeNumber.eq(number))
        .exec(conn)
        .await?;
    for t in types {
        let row = office_service_type::Model { office_number: number.to_owned(), service_type: t.clone() };
        office_service_type::Entity::insert(row.into_active_model()).exec_without_returning(conn).await?;
    }
    Ok(())
}

/// An office's licence periods, oldest first.
pub async fn licence_periods(conn: &impl ConnectionTrait, number: &str) -> Result<Vec<licence_period::Model>, DbErr> {
    licence_period::Entity::find()
        .filter(licence_period::Column::OfficeNumber.eq(number))
        .order_by_asc(licence_period::Column::StartDate)
        .order_by_asc(licence_period::Column::Id)
        .all(conn)
        .await
}

/// Records a licence period.
pub async fn insert_licence_period(
    conn: &impl ConnectionTrait,
    model: licence_period::ActiveModel,
) -> Result<(), DbErr> {
    licence_period::Entity::insert(model).exec_without_returning(conn).await.map(|_| ())
}

/// One bundle by id.
pub async fn get_bundle(conn: &impl ConnectionTrait, id: &str) -> Result<Option<bundle::Model>, DbErr> {
    bundle::Entity::find_by_id(id.to_owned()).one(conn).await
}

/// The bundle of a (sender, receiver, file sequence), if one was sent.
pub async fn bundle_by_sequence(
    conn: &impl ConnectionTrait,
    sender: &str,
    receiver: &str,
    sequence: &str,
) -> Result<Option<bundle::Model>, DbErr> {
    bundle::Entity::find()
        .filter(bundle::Column::SenderOffice.eq(sender))
        .filter(bundle::Column::ReceiverOffice.eq(receiver))
        .filter(bundle::Column::FileSequence.eq(sequence))
        .one(conn)
        .await
}

/// Inserts a bundle and its files.
pub async fn insert_bundle(
    conn: &impl ConnectionTrait,
    model: bundle::Model,
    files: Vec<bundle_file::Model>,
) -> Result<(), DbErr> {
    bundle::Entity::insert(model.into_active_model()).exec_without_returning(conn).await?;
    for file in files {
        bundle_file::Entity::insert(file.into_active_model()).exec_without_returning(conn).await?;
    }
    Ok(())
}

/// The metadata of a bundle's files (no bytes), in sending order.
pub async fn file_metadata(conn: &impl ConnectionTrait, bundle_id: &str) -> Result<Vec<bundle_file::Model>, DbErr> {
    file_metadata_of(conn, &[bundle_id.to_owned()]).await
}

/// The metadata of the files of several bundles (one query for a listing page), by bundle and
/// sending order.
pub async fn file_metadata_of(
    conn: &impl ConnectionTrait,
    bundle_ids: &[String],
) -> Result<Vec<bundle_file::Model>, DbErr> {
    if bundle_ids.is_empty() {
        return Ok(Vec::new());
    }
    bundle_file::Entity::find()
        .select_only()
        .columns([
            bundle_file::Column::BundleId,
            bundle_file::Column::Position,
            bundle_file::Column::FileName,
            bundle_file::Column::Kind,
            bundle_file::Column::CsvVersion,
            bundle_file::Column::SizeBytes,
            bundle_file::Column::Sha256Hex,
            bundle_file::Column::RecordCount,
        ])
        .filter(bundle_file::Column::BundleId.is_in(bundle_ids.iter().cloned()))
        .order_by_asc(bundle_file::Column::BundleId)
        .order_by_asc(bundle_file::Column::Position)
        .into_tuple::<(String, i32, String, i32, String, i64, String, i32)>()
        .all(conn)
        .await
        .map(|rows| {
            rows.into_iter()
                .map(|(bundle_id, position, file_name, kind, csv_version, size_bytes, sha256_hex, record_count)| {
                    bundle_file::Model {
                        bundle_id,
                        position,
                        file_name,
                        kind,
                        csv_version,
                        size_bytes,
                        sha256_hex,
                        record_count,
                        content: Vec::new(),
                    }
                })
                .collect()
        })
}

/// One file with its bytes (one at a time, so a download holds one file in memory).
pub async fn file_content(
    conn: &impl ConnectionTrait,
    bundle_id: &str,
    position: i32,
) -> Result<Option<bundle_file::Model>, DbErr> {
    bundle_file::Entity::find_by_id((bundle_id.to_owned(), position)).one(conn).await
}

/// Marks a bundle delivered if it is still only sent; true when this call did it.
pub async fn mark_delivered(
    conn: &impl ConnectionTrait,
    id: &str,
    now: DateTime<Utc>,
    delivered: i32,
    sent: i32,
) -> Result<bool, DbErr> {
    let result = bundle::Entity::update_many()
        .col_expr(bundle::Column::Status, Expr::value(delivered))
        .col_expr(bundle::Column::DeliveredAt, Expr::value(now))
        .filter(bundle::Column::Id.eq(id))
        .filter(bundle::Column::Status.eq(sent))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Marks a bundle acknowledged (and delivered, if it never was).
pub async fn mark_acknowledged(
    conn: &impl ConnectionTrait,
    model: &bundle::Model,
    status: i32,
    subject: &str,
    note: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    bundle::Entity::update_many()
        .col_expr(bundle::Column::Status, Expr::value(status))
        .col_expr(bundle::Column::AcknowledgedAt, Expr::value(now))
        .col_expr(bundle::Column::AcknowledgedBySubject, Expr::value(subject.to_owned()))
        .col_expr(bundle::Column::AcknowledgeNote, Expr::value(note.to_owned()))
        .col_expr(bundle::Column::DeliveredAt, Expr::value(model.delivered_at.unwrap_or(now)))
        .filter(bundle::Column::Id.eq(model.id.clone()))
        .exec(conn)
        .await
        .map(|_| ())
}

/// Which bundles a listing returns.
#[derive(Debug, Clone, Default)]
pub struct BundleFilter {
    pub receiver: Option<String>,
    pub sender: Option<String>,
    pub statuses: Vec<i32>,
    pub kinds: Vec<i32>,
    pub service_month: Option<String>,
}

impl BundleFilter {
    fn condition(&self) -> Condition {
        let mut c = Condition::all();
        if let Some(r) = &self.receiver {
            c = c.add(bundle::Column::ReceiverOffice.eq(r.clone()));
        }
        if let Some(s) = &self.sender {
            c = c.add(bundle::Column::SenderOffice.eq(s.clone()));
        }
        if !self.statuses.is_empty() {
            c = c.add(bundle::Column::Status.is_in(self.statuses.clone()));
        }
        if !self.kinds.is_empty() {
            c = c.add(bundle::Column::Kind.is_in(self.kinds.clone()));
        }
        if let Some(m) = &self.service_month {
            c = c.add(bundle::Column::ServiceMonth.eq(m.clone()));
        }
        c
    }
}

/// Inbox order: oldest file sequence first (so per sender too), then arrival. `after` is the
/// (sequence, id) of the last row of the previous page.
pub async fn list_inbox(
    conn: &impl ConnectionTrait,
    filter: &BundleFilter,
    after: Option<(String, String)>,
    limit: u64,
) -> Result<Vec<bundle::Model>, DbErr> {
    let mut c = filter.condition();
    if let Some((seq, id)) = after {
        c = c.add(
            Condition::any()
                .add(bundle::Column::FileSequence.gt(seq.clone()))
                .add(Condition::all().add(bundle::Column::FileSequence.eq(seq)).add(bundle::Column::Id.gt(id))),
        );
    }
    bundle::Entity::find()
        .filter(c)
        .order_by_asc(bundle::Column::FileSequence)
        .order_by_asc(bundle::Column::Id)
        .limit(limit)
        .all(conn)
        .await
}

/// Sent order: newest first, by id.
pub async fn list_sent(
    conn: &impl ConnectionTrait,
    filter: &BundleFilter,
    before_id: Option<String>,
    limit: u64,
) -> Result<Vec<bundle::Model>, DbErr> {
    let mut c = filter.condition();
    if let Some(id) = before_id {
        c = c.add(bundle::Column::Id.lt(id));
    }
    bundle::Entity::find().filter(c).order_by_desc(bundle::Column::Id).limit(limit).all(conn).await
}

/// Arrivals for a receiver after `after_id` (arrival order), optionally only unacknowledged.
pub async fn arrivals(
    conn: &impl ConnectionTrait,
    receiver: &str,
    after_id: Option<&str>,
    not_status: Option<i32>,
    limit: u64,
) -> Result<Vec<bundle::Model>, DbErr> {
    let mut query = bundle::Entity::find().filter(bundle::Column::ReceiverOffice.eq(receiver));
    if let Some(id) = after_id {
        query = query.filter(bundle::Column::Id.gt(id));
    }
    if let Some(status) = not_status {
        query = query.filter(bundle::Column::Status.ne(status));
    }
    query.order_by_asc(bundle::Column::Id).limit(limit).all(conn).await
}

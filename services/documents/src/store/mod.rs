//! The only place with SQL: sea-orm entities, migrations and the queries the API needs.
//! Queries take any connection, so the API runs several of them in one transaction.

pub mod entities;
pub mod kit_migration;
pub mod migration;
pub mod payment_migration;
pub mod upload_migration;
pub mod uploads;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};

use self::entities::{attachment, opinion, opinion_request};

/// Filters of a request or opinion listing (all optional; the API adds the caller's scope).
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// 医療機関コード.
    pub institution_code: Option<String>,
    /// 保険者番号.
    pub insurer_number: Option<String>,
    /// 被保険者番号.
    pub insured_number: Option<String>,
    /// 事業所番号 of the registered care office.
    pub care_office_number: Option<String>,
    /// Application id.
    pub application_id: Option<String>,
    /// Status values (empty = all).
    pub statuses: Vec<i32>,
    /// Only ids below this one (the page token: ids are time-ordered UUIDv7).
    pub before_id: Option<String>,
    /// Page size.
    pub limit: u64,
}

/// One request by id.
pub async fn get_request(conn: &impl ConnectionTrait, id: &str) -> Result<Option<opinion_request::Model>, DbErr> {
    opinion_request::Entity::find_by_id(id.to_owned()).one(conn).await
}

/// One request by id, locked until the transaction ends (PostgreSQL; SQLite has one writer).
pub async fn lock_request(conn: &impl ConnectionTrait, id: &str) -> Result<Option<opinion_request::Model>, DbErr> {
    let query = opinion_request::Entity::find_by_id(id.to_owned());
    if kaigo_platform::db::is_postgres(conn) { query.lock_exclusive().one(conn).await } else { query.one(conn).await }
}

/// True when a request of `application_id` is in one of `statuses`.
pub async fn application_has_request_in(
    conn: &impl ConnectionTrait,
    application_id: &str,
    statuses: &[i32],
) -> Result<bool, DbErr> {
    Ok(opinion_request::Entity::find()
        .filter(opinion_request::Column::ApplicationId.eq(application_id))
        .filter(opinion_request::Column::Status.is_in(statuses.iter().copied()))
        .one(conn)
        .await?
        .is_some())
}

/// Inserts a request.
pub async fn insert_request(conn: &impl ConnectionTrait, model: opinion_request::Model) -> Result<(), DbErr> {
    opinion_request::Entity::insert(model.into_active_model()).exec_without_returning(conn).await.map(|_| ())
}

/// Sets a request's status (and latest opinion).
pub async fn update_request(
    conn: &impl ConnectionTrait,
    id: &str,
    status: i32,
    latest_opinion_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut update = opinion_request::Entity::update_many()
        .col_expr(opinion_request::Column::Status, Expr::value(status))
        .col_expr(opinion_request::Column::UpdatedAt, Expr::value(now));
    if let Some(latest) = latest_opinion_id {
        update = update.col_expr(opinion_request::Column::LatestOpinionId, Expr::value(latest.to_owned()));
    }
    update.filter(opinion_request::Column::Id.eq(id)).exec(conn).await.map(|_| ())
}

fn eq_some<C: ColumnTrait>(c: Condition, col: C, value: &Option<String>) -> Condition {
    match value {
        Some(v) => c.add(col.eq(v.clone())),
        None => c,
    }
}

fn scope<C: ColumnTrait>(filter: &ListFilter, cols: [C; 6]) -> Condition {
    let [institution, insurer, insured, office, application, status] = cols;
    let mut c = Condition::all();
    c = eq_some(c, institution, &filter.institution_code);
    c = eq_some(c, insurer, &filter.insurer_number);
    c = eq_some(c, insured, &filter.insured_number);
    c = eq_some(c, office, &filter.care_office_number);
    c = eq_some(c, application, &filter.application_id);
    if !filter.statuses.is_empty() {
        c = c.add(status.is_in(filter.statuses.iter().copied()));
    }
    c
}

/// A page of requests, newest first.
pub async fn list_requests(
    conn: &impl ConnectionTrait,
    filter: &ListFilter,
) -> Result<Vec<opinion_request::Model>, DbErr> {
    use opinion_request::Column as C;
    let mut q = opinion_request::Entity::find().filter(scope(
        filter,
        [C::InstitutionCode, C::InsurerNumber, C::InsuredNumber, C::CareOfficeNumber, C::ApplicationId, C::Status],
    ));
    if let Some(before) = &filter.before_id {
        q = q.filter(C::Id.lt(before.clone()));
    }
    q.order_by_desc(C::Id).limit(filter.limit).all(conn).await
}

/// One opinion version by id.
pub async fn get_opinion(conn: &impl ConnectionTrait, id: &str) -> Result<Option<opinion::Model>, DbErr> {
    opinion::Entity::find_by_id(id.to_owned()).one(conn).await
}

/// Inserts an opinion version.
pub async fn insert_opinion(conn: &impl ConnectionTrait, model: opinion::Model) -> Result<(), DbErr> {
    opinion::Entity::insert(model.into_active_model()).exec_without_returning(conn).await.map(|_| ())
}

/// Marks a version superseded by a correction.
pub async fn supersede_opinion(conn: &impl ConnectionTrait, id: &str) -> Result<(), DbErr> {
    opinion::Entity::update_many()
        .col_expr(
            opinion::Column::Status,
            Expr::value(kaigo_proto::kaigo::documents::v1::OpinionStatus::Superseded as i32),
        )
        .filter(opinion::Column::Id.eq(id))
        .exec(conn)
        .await
        .map(|_| ())
}

/// Records the insurer's receipt of a version.
pub async fn receive_opinion(
    conn: &impl ConnectionTrait,
    id: &str,
    subject: &str,
    at: DateTime<Utc>,
) -> Result<opinion::Model, DbErr> {
    let Some(model) = get_opinion(conn, id).await? else {
        return Err(DbErr::RecordNotFound(format!("opinion {id}")));
    };
    let mut active = model.into_active_model();
    active.status = sea_orm::Set(kaigo_proto::kaigo::documents::v1::OpinionStatus::Received as i32);
    active.received_by_subject = sea_orm::Set(Some(subject.to_owned()));
    active.received_at = sea_orm::Set(Some(at));
    active.update(conn).await
}

/// A page of opinions, newest first.
pub async fn list_opinions(conn: &impl ConnectionTrait, filter: &ListFilter) -> Result<Vec<opinion::Model>, DbErr> {
    use opinion::Column as C;
    let mut q = opinion::Entity::find().filter(scope(
        filter,
        [C::InstitutionCode, C::InsurerNumber, C::InsuredNumber, C::CareOfficeNumber, C::ApplicationId, C::Status],
    ));
    if let Some(before) = &filter.before_id {
        q = q.filter(C::Id.lt(before.clone()));
    }
    q.order_by_desc(C::Id).limit(filter.limit).all(conn).await
}

/// One attachment's metadata by id.
pub async fn get_attachment(conn: &impl ConnectionTrait, id: &str) -> Result<Option<attachment::Model>, DbErr> {
    attachment::Entity::find_by_id(id.to_owned()).one(conn).await
}

/// Inserts an attachment's metadata.
pub async fn insert_attachment(conn: &impl ConnectionTrait, model: attachment::Model) -> Result<(), DbErr> {
    attachment::Entity::insert(model.into_active_model()).exec_without_returning(conn).await.map(|_| ())
}

/// The `kaigo dev` data directory, found from the SQLite file this service uses
/// (`<data dir>/db/documents.db`); `None` on PostgreSQL.
pub async fn sqlite_data_dir(conn: &impl ConnectionTrait) -> Result<Option<std::path::PathBuf>, DbErr> {
    if conn.get_database_backend() != sea_orm::DbBackend::Sqlite {
        return Ok(None);
    }
    let rows =
        conn.query_all_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Sqlite, "PRAGMA database_list")).await?;
    for row in rows {
        let name: String = row.try_get("", "name")?;
        let file: String = row.try_get("", "file")?;
        if name == "main" && !file.is_empty() {
            let path = std::path::PathBuf::from(file);
            return Ok(path.parent().and_then(|db_dir| db_dir.parent()).map(std::path::Path::to_path_buf));
        }
    }
    Ok(None)
}

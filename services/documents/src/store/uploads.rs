//! Queries of upload sessions.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect};

use super::entities::upload_session::{self, Column as C, Entity};

/// Inserts a session unless the caller already has one for its request id; returns the one
/// that is stored either way.
pub async fn open(conn: &impl ConnectionTrait, model: upload_session::Model) -> Result<upload_session::Model, DbErr> {
    let (org, request_id) = (model.caller_org.clone(), model.request_id.clone());
    Entity::insert(model.into_active_model())
        .on_conflict(OnConflict::columns([C::CallerOrg, C::RequestId]).do_nothing().to_owned())
        .exec_without_returning(conn)
        .await?;
    Entity::find()
        .filter(C::CallerOrg.eq(org))
        .filter(C::RequestId.eq(request_id))
        .one(conn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("upload session".to_owned()))
}

/// One session by id.
pub async fn get(conn: &impl ConnectionTrait, id: &str) -> Result<Option<upload_session::Model>, DbErr> {
    Entity::find_by_id(id.to_owned()).one(conn).await
}

/// Moves `received_bytes` from `from` to `to` at `now`; false when another append moved it first.
pub async fn advance(
    conn: &impl ConnectionTrait,
    id: &str,
    from: i64,
    to: i64,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = Entity::update_many()
        .col_expr(C::ReceivedBytes, Expr::value(to))
        .col_expr(C::UpdatedAt, Expr::value(now))
        .filter(C::Id.eq(id))
        .filter(C::ReceivedBytes.eq(from))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Deletes a session row.
pub async fn delete(conn: &impl ConnectionTrait, id: &str) -> Result<(), DbErr> {
    Entity::delete_by_id(id.to_owned()).exec(conn).await.map(|_| ())
}

/// Ids of sessions idle since before `cutoff`.
pub async fn idle_since(conn: &impl ConnectionTrait, cutoff: DateTime<Utc>) -> Result<Vec<String>, DbErr> {
    Entity::find().select_only().column(C::Id).filter(C::UpdatedAt.lt(cutoff)).into_tuple().all(conn).await
}

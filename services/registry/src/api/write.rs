//! How every write runs: in one write transaction with its idempotency record
//! (`kaigo_platform::idempotency`), so a retry with the same `request_id` returns the first
//! response and a crash leaves nothing half-written.
//!
//! Order: validate → authorise (the role before the transaction, the resource inside it) →
//! [`replay`] → write (and its events) → remember (same transaction) → commit.

use std::future::Future;
use std::pin::Pin;

use kaigo_platform::db::{begin_write, is_unique_violation};
use kaigo_platform::errors::{self, ApiError};
use kaigo_platform::events::{NewEvent, enqueue};
use kaigo_platform::idempotency::IdempotencyKey;
use prost::Message;
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr};

/// Why a write's work stopped.
pub enum WriteError {
    /// Refused.
    Api(ApiError),
    /// The database failed; a unique violation may be a concurrent retry or write.
    Db(DbErr),
    /// The request was answered before: its stored response.
    Replay(Vec<u8>),
}

impl From<ApiError> for WriteError {
    fn from(e: ApiError) -> Self {
        WriteError::Api(e)
    }
}

impl From<DbErr> for WriteError {
    fn from(e: DbErr) -> Self {
        WriteError::Db(e)
    }
}

/// The work of a write, run inside its transaction.
pub type Work<'t, R> = Pin<Box<dyn Future<Output = Result<R, WriteError>> + Send + 't>>;

/// Called by the work once the caller is authorised for what it writes.
pub async fn replay(txn: &DatabaseTransaction, key: &IdempotencyKey) -> Result<(), WriteError> {
    match key.replay(txn).await? {
        Some(stored) => Err(WriteError::Replay(stored)),
        None => Ok(()),
    }
}

/// Adds an event to the outbox in the write's transaction.
pub async fn publish(
    txn: &DatabaseTransaction,
    topic: &str,
    key: &str,
    payload: &impl Message,
) -> Result<(), WriteError> {
    enqueue(txn, NewEvent { topic: topic.to_owned(), key: key.to_owned(), payload: payload.encode_to_vec() }).await?;
    Ok(())
}

/// Runs `work` in a write transaction and stores its response under `key` in it. A unique
/// violation that is not a concurrent retry answers `conflict`.
pub async fn idempotent<R, F>(
    db: &DatabaseConnection,
    key: &IdempotencyKey,
    conflict: (&'static str, &'static str),
    work: F,
) -> Result<R, ApiError>
where
    R: Message + Default,
    F: for<'t> FnOnce(&'t DatabaseTransaction, &'t IdempotencyKey) -> Work<'t, R>,
{
    let txn = begin_write(db).await.map_err(errors::db)?;
    let response = match work(&txn, key).await {
        Ok(response) => response,
        Err(WriteError::Api(err)) => {
            let _ = txn.rollback().await;
            return Err(err);
        }
        Err(WriteError::Replay(stored)) => {
            let _ = txn.rollback().await;
            return R::decode(stored.as_slice()).map_err(ApiError::internal);
        }
        Err(WriteError::Db(err)) => {
            let _ = txn.rollback().await;
            return raced(db, key, err, conflict).await;
        }
    };
    if let Err(err) = key.remember_message(&txn, &response).await {
        let _ = txn.rollback().await;
        return raced(db, key, err, conflict).await;
    }
    txn.commit().await.map_err(errors::db)?;
    Ok(response)
}

async fn raced<R: Message + Default>(
    db: &DatabaseConnection,
    key: &IdempotencyKey,
    err: DbErr,
    (reason, message): (&'static str, &'static str),
) -> Result<R, ApiError> {
    if !is_unique_violation(&err) {
        return Err(errors::db(err));
    }
    if let Some(stored) = key.replay_as(db).await? {
        return Ok(stored);
    }
    Err(ApiError::failed_precondition(reason, message))
}

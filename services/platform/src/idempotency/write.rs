//! The one runner of an idempotent write: the work runs in one write transaction
//! ([`crate::db::begin_write`]) with its idempotency record, so a retry with the same
//! `request_id` returns the first response and a crash leaves nothing half-written.
//!
//! Order: validate → authorise (the role before the transaction, the resource inside it) →
//! [`replay`] → write (and its events) → the response remembered in the same transaction →
//! commit. The stored answer is looked up only once the caller may touch the resource, so a
//! request id never opens a door.

use std::future::Future;
use std::pin::Pin;

use prost::Message;
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr};

use super::{IdempotencyKey, decode};
use crate::db::{begin_write, is_unique_violation};
use crate::errors::{self, ApiError};
use crate::time::Clock;

/// Why a write's work stopped: a refusal for the caller, the database, or the stored answer
/// of an earlier identical request.
#[derive(Debug)]
pub enum WriteError {
    /// Refused (bad input, wrong state, stale version …).
    Api(ApiError),
    /// The database failed; a unique violation may be a concurrent retry or a concurrent write.
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

/// Called by the work once the caller is authorised for what it writes: the stored answer of
/// an earlier identical request ends the write ([`WriteError::Replay`]); the same key with a
/// different request is ALREADY_EXISTS `REQUEST_ID_REUSED`.
pub async fn replay(txn: &DatabaseTransaction, key: &IdempotencyKey) -> Result<(), WriteError> {
    match key.replay(txn).await? {
        Some(stored) => Err(WriteError::Replay(stored)),
        None => Ok(()),
    }
}

/// Runs `work` in a write transaction and remembers its response under `key` in it, stamped
/// by `clock` (the service's). A unique violation is a concurrent retry (answered with the
/// retry's stored response) or, when no answer is stored under `key`, a concurrent write of
/// the same record: `conflict()`.
pub async fn run<R, F>(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    key: &IdempotencyKey,
    conflict: impl FnOnce() -> ApiError,
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
            return decode(&stored);
        }
        Err(WriteError::Db(err)) => {
            let _ = txn.rollback().await;
            return raced(db, key, err, conflict).await;
        }
    };
    if let Err(err) = key.remember_message(&txn, clock.now(), &response).await {
        let _ = txn.rollback().await;
        return raced(db, key, err, conflict).await;
    }
    txn.commit().await.map_err(errors::db)?;
    Ok(response)
}

/// After `err`: a unique violation of a concurrent request with the same key answers as that
/// request did; any other unique violation is `conflict()`; the rest maps through
/// [`errors::db`].
async fn raced<R: Message + Default>(
    db: &DatabaseConnection,
    key: &IdempotencyKey,
    err: DbErr,
    conflict: impl FnOnce() -> ApiError,
) -> Result<R, ApiError> {
    if !is_unique_violation(&err) {
        return Err(errors::db(err));
    }
    if let Some(stored) = key.replay_as(db).await? {
        return Ok(stored);
    }
    Err(conflict())
}

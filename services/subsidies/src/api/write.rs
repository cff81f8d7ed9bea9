//! How every write runs: in one transaction with its idempotency record
//! (`kaigo_platform::idempotency`), so that a retry with the same `request_id` returns the first
//! response and a crash leaves nothing half-written.
//!
//! Order: validate → authorise (the role before the transaction, the application inside it) →
//! [`replay`] → write → remember (same transaction) → commit. The stored answer is looked up
//! only once the caller may touch the application, so a request id never opens a door.

use std::future::Future;
use std::pin::Pin;

use kaigo_platform::db::is_unique_violation;
use kaigo_platform::errors::{self, ApiError};
use kaigo_platform::idempotency::IdempotencyKey;
use prost::Message;
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr};

/// Why a write's work stopped: a refusal for the caller, the database, or the stored answer
/// of an earlier identical request.
pub enum WriteError {
    /// Refused (bad input, wrong state, stale version …).
    Api(ApiError),
    /// The database failed; a unique violation may mean a concurrent retry.
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

fn decode<R: Message + Default>(bytes: &[u8]) -> Result<R, ApiError> {
    R::decode(bytes).map_err(ApiError::internal)
}

/// Runs `work` in a transaction and stores its response under `key` in the same transaction.
pub async fn idempotent<R, F>(db: &DatabaseConnection, key: &IdempotencyKey, work: F) -> Result<R, ApiError>
where
    R: Message + Default,
    F: for<'t> FnOnce(&'t DatabaseTransaction, &'t IdempotencyKey) -> Work<'t, R>,
{
    let txn = kaigo_platform::db::begin_write(db).await.map_err(errors::db)?;
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
            return raced(db, key, err).await;
        }
    };
    if let Err(err) = key.remember_message(&txn, &response).await {
        let _ = txn.rollback().await;
        return raced(db, key, err).await;
    }
    txn.commit().await.map_err(errors::db)?;
    Ok(response)
}

/// After a unique violation: a concurrent request with the same key won, so answer as it did;
/// otherwise another write got there first and the caller should read again.
async fn raced<R: Message + Default>(db: &DatabaseConnection, key: &IdempotencyKey, err: DbErr) -> Result<R, ApiError> {
    if !is_unique_violation(&err) {
        return Err(errors::db(err));
    }
    if let Some(stored) = key.replay_as(db).await? {
        return Ok(stored);
    }
    Err(ApiError::aborted(
        "CONCURRENT_CHANGE",
        "another request changed the same application at the same time; read it again and retry",
    ))
}

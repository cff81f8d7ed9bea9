//! How every write runs: in one transaction with its idempotency record, so that a retry with
//! the same `request_id` returns the first response and a crash leaves nothing half-written.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use kaigo_platform::auth::Caller;
use kaigo_platform::db::is_unique_violation;
use kaigo_platform::errors::{ApiError, Violations};
use prost::Message;
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr, TransactionTrait};
use sha2::{Digest, Sha256};

use crate::store;

/// Why a write's work failed: a refusal for the caller, or the database.
pub enum WriteError {
    /// Refused (bad input, wrong state, stale version …).
    Api(ApiError),
    /// The database failed; a unique violation may mean a concurrent retry.
    Db(DbErr),
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

/// A database error as the caller sees it: UNAVAILABLE when the database cannot be reached,
/// INTERNAL otherwise (the cause is logged, not sent).
pub fn db_error(err: DbErr) -> ApiError {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => ApiError::unavailable(err),
        other => ApiError::internal(other),
    }
}

/// Checks that `request_id` is a UUID.
pub fn check_request_id(v: &mut Violations, request_id: &str) {
    if uuid::Uuid::parse_str(request_id).is_err() {
        v.add("request_id", "must be a UUID (the idempotency key of this write)");
    }
}

/// The hash a retry must match: the RPC, who calls, and the request itself. A `request_id`
/// reused by another caller therefore never returns someone else's response.
pub fn request_hash(rpc: &str, caller: &Caller, request: &impl Message) -> String {
    let mut h = Sha256::new();
    for part in [rpc, caller.role.as_str(), &caller.subject, &super::access::organization(caller)] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    h.update(request.encode_to_vec());
    hex::encode(h.finalize())
}

fn replay<R: Message + Default>(stored: store::idempotency::Model, hash: &str) -> Result<R, ApiError> {
    if stored.request_hash != hash {
        return Err(ApiError::already_exists(
            "REQUEST_ID_REUSED",
            "this request_id was used for a different request; use a new UUID for a new write",
        ));
    }
    R::decode(stored.response.as_slice()).map_err(ApiError::internal)
}

/// Runs `work` in a transaction with the idempotency record of `request_id`.
pub async fn idempotent<R, F>(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    request_id: &str,
    hash: &str,
    work: F,
) -> Result<R, ApiError>
where
    R: Message + Default,
    F: for<'t> FnOnce(&'t DatabaseTransaction) -> Work<'t, R>,
{
    let txn = db.begin().await.map_err(db_error)?;
    if let Some(stored) = store::find_idempotency(&txn, request_id).await.map_err(db_error)? {
        return replay(stored, hash);
    }
    let response = match work(&txn).await {
        Ok(response) => response,
        Err(WriteError::Api(err)) => {
            let _ = txn.rollback().await;
            return Err(err);
        }
        Err(WriteError::Db(err)) => {
            let _ = txn.rollback().await;
            return raced(db, request_id, hash, err).await;
        }
    };
    if let Err(err) = store::record_idempotency(&txn, request_id, hash, response.encode_to_vec(), now).await {
        let _ = txn.rollback().await;
        return raced(db, request_id, hash, err).await;
    }
    txn.commit().await.map_err(db_error)?;
    Ok(response)
}

/// After a unique violation: a concurrent request with the same id won, so answer as it did;
/// otherwise another write got there first and the caller should read again.
async fn raced<R: Message + Default>(
    db: &DatabaseConnection,
    request_id: &str,
    hash: &str,
    err: DbErr,
) -> Result<R, ApiError> {
    if !is_unique_violation(&err) {
        return Err(db_error(err));
    }
    if let Some(stored) = store::find_idempotency(db, request_id).await.map_err(db_error)? {
        return replay(stored, hash);
    }
    Err(ApiError::aborted(
        "CONCURRENT_CHANGE",
        "another request changed the same application at the same time; read it again and retry",
    ))
}

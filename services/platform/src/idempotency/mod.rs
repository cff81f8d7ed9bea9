//! Idempotent writes, once for every service.
//!
//! Every write RPC carries a `request_id` (a UUID the caller chooses). The first time a write
//! succeeds, its encoded response is stored under the key
//! **RPC + the caller's party + request_id** ([`Caller::party`]) in the same transaction as the
//! write; a retry with the same key and the same request gets that response again, and nothing
//! is written twice. The same key with a different request is ALREADY_EXISTS
//! (`REQUEST_ID_REUSED`). Another caller's `request_id` never finds someone else's answer,
//! because the party is part of the key.
//!
//! Order inside a handler: validate → **authorise** → [`IdempotencyKey::replay`] → write →
//! [`IdempotencyKey::remember`] in the write's transaction → commit ([`write::run`] runs this
//! order around a write's work). Replaying only after the
//! caller has been authorised means a caller who lost access does not get a stored answer
//! either. When two retries race, the second one's `remember` fails on the primary key;
//! [`IdempotencyKey::after_conflict`] turns that into the first one's stored answer.
//!
//! One table shape for every service (`idempotency_records`, [`migration`]); a record is
//! stamped by the service's injected [`Clock`] and records older than the retention, by the
//! same clock, are removed by [`prune`].

pub mod entity;
pub mod migration;
pub mod write;

use chrono::{DateTime, Utc};
use prost::Message;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter};
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::errors::{self, ApiError, Violations};
#[cfg(doc)]
use crate::time::Clock;

/// Checks a request id: required, a UUID (any version; 36 characters with hyphens). The rule
/// is the same in every service and documented on every write request in the contracts.
pub fn check_request_id(v: &mut Violations, field: &str, request_id: &str) {
    if request_id.is_empty() {
        v.add(field, "required: a UUID chosen by the caller for this write, reused only for its retries");
    } else if request_id.len() != 36 || uuid::Uuid::try_parse(request_id).is_err() {
        v.add(field, "must be a UUID such as 0191d3c8-5f4e-7c2a-9b1d-2f6a8e4c1b00 (36 characters with hyphens)");
    }
}

/// The identity of one idempotent write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    rpc: &'static str,
    party: String,
    request_id: String,
    hash: String,
}

impl IdempotencyKey {
    /// The key of `request` (whose `request_id` has been checked) by `caller` on `rpc`. Build it
    /// after the caller is authorised.
    pub fn new(rpc: &'static str, caller: &Caller, request_id: &str, request: &impl Message) -> Self {
        Self::with_party(rpc, caller.party(), request_id, request)
    }

    /// The key for a write on behalf of `party` (the caller's [`Caller::party`], or the
    /// organisation an event consumer acts for).
    pub fn with_party(rpc: &'static str, party: String, request_id: &str, request: &impl Message) -> Self {
        Self { rpc, party, request_id: request_id.to_owned(), hash: request_hash(request) }
    }

    /// The party the write is remembered for ([`Caller::party`]).
    pub fn party(&self) -> &str {
        &self.party
    }

    /// The request id.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The RPC.
    pub fn rpc(&self) -> &'static str {
        self.rpc
    }

    /// The stored response of an earlier identical request, if there is one. ALREADY_EXISTS
    /// when the key was used with a different request.
    pub async fn replay(&self, conn: &impl ConnectionTrait) -> Result<Option<Vec<u8>>, ApiError> {
        let rows = entity::Entity::find()
            .filter(entity::Column::Rpc.eq(self.rpc))
            .filter(entity::Column::RequestId.eq(&self.request_id))
            .filter(entity::Column::CallerParty.is_in([self.party.as_str(), migration::UNKNOWN_PARTY]))
            .all(conn)
            .await
            .map_err(errors::db)?;
        // The caller's own row wins over a row migrated without a party.
        let Some(row) = rows.iter().find(|r| r.caller_party == self.party).or_else(|| rows.first()) else {
            return Ok(None);
        };
        match &row.request_hash {
            // Rows migrated from an older hash scheme match on the key alone.
            Some(hash) if *hash != self.hash => Err(ApiError::already_exists(
                "REQUEST_ID_REUSED",
                "this request_id was already used for a different request; use a new UUID for a new write",
            )),
            _ => Ok(Some(row.response.clone())),
        }
    }

    /// [`IdempotencyKey::replay`], decoded as the RPC's response.
    pub async fn replay_as<R: Message + Default>(&self, conn: &impl ConnectionTrait) -> Result<Option<R>, ApiError> {
        self.replay(conn).await?.map(|bytes| decode(&bytes)).transpose()
    }

    /// Stores `response` under the key, through `conn`: the write's own transaction, stamped
    /// `at`, the write's instant by the service's [`Clock`] (the clock retention trims by). A
    /// duplicate-key error means a concurrent retry committed first: roll back and call
    /// [`IdempotencyKey::after_conflict`].
    pub async fn remember(&self, conn: &impl ConnectionTrait, at: DateTime<Utc>, response: &[u8]) -> Result<(), DbErr> {
        let row = entity::Model {
            caller_party: self.party.clone(),
            rpc: self.rpc.to_owned(),
            request_id: self.request_id.clone(),
            request_hash: Some(self.hash.clone()),
            response: response.to_vec(),
            created_at: at,
        };
        entity::Entity::insert(row.into_active_model()).exec_without_returning(conn).await.map(|_| ())
    }

    /// [`IdempotencyKey::remember`] for a typed response.
    pub async fn remember_message(
        &self,
        conn: &impl ConnectionTrait,
        at: DateTime<Utc>,
        response: &impl Message,
    ) -> Result<(), DbErr> {
        self.remember(conn, at, &response.encode_to_vec()).await
    }

    /// After a write failed with `err`: when it was the duplicate key of a concurrent retry
    /// that committed first, that retry's stored answer; otherwise `err`, mapped.
    pub async fn after_conflict(&self, conn: &impl ConnectionTrait, err: DbErr) -> Result<Vec<u8>, ApiError> {
        if crate::db::is_unique_violation(&err)
            && let Some(stored) = self.replay(conn).await?
        {
            return Ok(stored);
        }
        Err(errors::db(err))
    }

    /// [`IdempotencyKey::after_conflict`], decoded as the RPC's response.
    pub async fn after_conflict_as<R: Message + Default>(
        &self,
        conn: &impl ConnectionTrait,
        err: DbErr,
    ) -> Result<R, ApiError> {
        decode(&self.after_conflict(conn, err).await?)
    }
}

/// SHA-256 of the encoded request, hex. Prost encodes a message the same way every time, so
/// an identical retry hashes identically.
pub fn request_hash(request: &impl Message) -> String {
    let digest = Sha256::digest(request.encode_to_vec());
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

fn decode<R: Message + Default>(bytes: &[u8]) -> Result<R, ApiError> {
    R::decode(bytes).map_err(|e| ApiError::internal(format!("a stored response does not decode: {e}")))
}

/// Removes records created before `before` (the retention): a retry arriving later than the
/// retention is treated as a new request. Returns how many were removed.
pub async fn prune(conn: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<u64, DbErr> {
    let result = entity::Entity::delete_many().filter(entity::Column::CreatedAt.lt(before)).exec(conn).await?;
    Ok(result.rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_uuids() {
        for ok in ["0191d3c8-5f4e-7c2a-9b1d-2f6a8e4c1b00", "6F9619FF-8B86-D011-B42D-00C04FC964FF"] {
            let mut v = Violations::new();
            check_request_id(&mut v, "request_id", ok);
            assert!(v.is_empty(), "{ok}");
        }
        for bad in ["", "x", "0191d3c85f4e7c2a9b1d2f6a8e4c1b00", "{0191d3c8-5f4e-7c2a-9b1d-2f6a8e4c1b00}", "a-b_c"] {
            let mut v = Violations::new();
            check_request_id(&mut v, "request_id", bad);
            assert_eq!(v.as_slice().len(), 1, "{bad:?}");
            assert_eq!(v.as_slice()[0].field, "request_id");
        }
    }

    #[test]
    fn the_hash_is_of_the_request_only() {
        let a = kaigo_proto::google::r#type::Date { year: 2026, month: 12, day: 4 };
        let b = kaigo_proto::google::r#type::Date { year: 2026, month: 12, day: 5 };
        assert_eq!(request_hash(&a), request_hash(&a.clone()));
        assert_ne!(request_hash(&a), request_hash(&b));
        assert_eq!(request_hash(&a).len(), 64);
    }
}

//! `idempotency_records`: the first response of every write, by RPC, caller party and
//! request id.

use sea_orm::entity::prelude::*;

/// One stored response.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_records")]
pub struct Model {
    /// [`crate::auth::Caller::party`] of the writer ("" for rows migrated without one).
    #[sea_orm(primary_key, auto_increment = false)]
    pub caller_party: String,
    /// The RPC name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub rpc: String,
    /// The caller's request id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub request_id: String,
    /// SHA-256 of the encoded request (hex); `None` for rows migrated from an older scheme.
    pub request_hash: Option<String>,
    /// The encoded response.
    pub response: Vec<u8>,
    /// When the write committed.
    pub created_at: DateTimeUtc,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

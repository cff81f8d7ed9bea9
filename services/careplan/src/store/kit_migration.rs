//! Moving onto the platform's write kit without losing data: the answers stored in the old
//! `idempotency` table are copied into `idempotency_records` (so a retry that arrives across
//! the upgrade still replays), then the old table is dropped.

use kaigo_platform::idempotency::migration::{LegacyTable, copy_legacy};
use sea_orm_migration::prelude::*;

/// Copies `idempotency` into `idempotency_records` and drops it.
pub struct CopyIdempotencyMigration;

impl MigrationName for CopyIdempotencyMigration {
    fn name(&self) -> &str {
        "m20261204_000010_careplan_copy_idempotency"
    }
}

/// The table [`super::migration::CarePlanTablesMigration`] created: one row per request id,
/// with the caller's office (or insurer) and SHA-256 of the encoded request (the platform's
/// scheme). Operators' rows had no organisation (""): they keep the party "" and replay on the
/// RPC and request id alone.
pub const LEGACY_IDEMPOTENCY: LegacyTable = LegacyTable {
    table: "idempotency",
    party_column: Some("caller_org"),
    rpc_column: Some("rpc"),
    rpc_default: "",
    response_column: "response",
    created_column: "created_at",
    compatible_hash_column: Some("request_hash"),
};

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for CopyIdempotencyMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        copy_legacy(manager, LEGACY_IDEMPOTENCY).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // The copied rows stay in `idempotency_records`; nothing to undo.
        Ok(())
    }
}

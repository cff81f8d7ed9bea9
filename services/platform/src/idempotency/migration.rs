//! The `idempotency_records` table, included in every service's migrator, and the copy of a
//! service's older idempotency table into it (data-preserving: no stored answer is lost, so a
//! retry that arrives across an upgrade still replays).

use sea_orm::{ConnectionTrait, Statement};
use sea_orm_migration::prelude::*;

use crate::db::schema;

/// The party of rows copied from a table that did not record the caller.
pub const UNKNOWN_PARTY: &str = "";

/// Creates `idempotency_records` in the service's schema.
pub struct IdempotencyTableMigration;

impl MigrationName for IdempotencyTableMigration {
    fn name(&self) -> &str {
        "m20261204_000000_platform_idempotency_records"
    }
}

#[derive(DeriveIden)]
enum IdempotencyRecords {
    Table,
    CallerParty,
    Rpc,
    RequestId,
    RequestHash,
    Response,
    CreatedAt,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for IdempotencyTableMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyRecords::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(IdempotencyRecords::CallerParty).string_len(128).not_null())
                    .col(ColumnDef::new(IdempotencyRecords::Rpc).string_len(64).not_null())
                    .col(ColumnDef::new(IdempotencyRecords::RequestId).string_len(64).not_null())
                    .col(ColumnDef::new(IdempotencyRecords::RequestHash).string_len(64).null())
                    .col(schema::bytes(IdempotencyRecords::Response))
                    .col(schema::time(IdempotencyRecords::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(IdempotencyRecords::CallerParty)
                            .col(IdempotencyRecords::Rpc)
                            .col(IdempotencyRecords::RequestId),
                    )
                    .to_owned(),
            )
            .await?;
        // Retention deletes by age; lookups by (rpc, request_id) find migrated rows too.
        schema::index(
            manager,
            Index::create()
                .name("idempotency_records_by_age")
                .table(IdempotencyRecords::Table)
                .col(IdempotencyRecords::CreatedAt)
                .to_owned(),
        )
        .await?;
        schema::index(
            manager,
            Index::create()
                .name("idempotency_records_by_request")
                .table(IdempotencyRecords::Table)
                .col(IdempotencyRecords::RequestId)
                .col(IdempotencyRecords::Rpc)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(IdempotencyRecords::Table).if_exists().to_owned()).await
    }
}

/// A service's idempotency table from before `idempotency_records`, and how its columns map.
#[derive(Debug, Clone, Copy)]
pub struct LegacyTable {
    /// The old table's name.
    pub table: &'static str,
    /// The column holding the caller's organisation, if the old table had one.
    pub party_column: Option<&'static str>,
    /// The column holding the RPC name, if the old table had one (else `rpc_default`).
    pub rpc_column: Option<&'static str>,
    /// The RPC of every row when the old table kept one RPC's keys only.
    pub rpc_default: &'static str,
    /// The column holding the response bytes.
    pub response_column: &'static str,
    /// The column holding the creation instant.
    pub created_column: &'static str,
    /// The column holding the request hash, when it was SHA-256 of the encoded request alone
    /// (the scheme [`super::request_hash`] uses); `None` when the old scheme differs, so the
    /// copied rows match on the key alone.
    pub compatible_hash_column: Option<&'static str>,
}

/// Copies every row of `legacy` into `idempotency_records` and drops the old table; does
/// nothing when the old table does not exist (a fresh install). Runs inside the migration, so
/// a failure leaves the old table in place.
pub async fn copy_legacy(manager: &SchemaManager<'_>, legacy: LegacyTable) -> Result<(), DbErr> {
    if !manager.has_table(legacy.table).await? {
        return Ok(());
    }
    let conn = manager.get_connection();
    let quote = |c: &str| format!("\"{c}\"");
    let party = legacy.party_column.map_or_else(|| format!("'{UNKNOWN_PARTY}'"), quote);
    let rpc = legacy.rpc_column.map_or_else(|| format!("'{}'", legacy.rpc_default.replace('\'', "")), quote);
    let hash = legacy.compatible_hash_column.map_or_else(|| "NULL".to_owned(), quote);
    let sql = format!(
        "INSERT INTO idempotency_records (caller_party, rpc, request_id, request_hash, response, created_at) \
         SELECT {party}, {rpc}, \"request_id\", {hash}, {response}, {created} FROM {table}",
        response = quote(legacy.response_column),
        created = quote(legacy.created_column),
        table = quote(legacy.table),
    );
    conn.execute_raw(Statement::from_string(conn.get_database_backend(), sql)).await?;
    manager.drop_table(Table::drop().table(Alias::new(legacy.table)).to_owned()).await
}

//! The one migration that moves a service's own write-kit table from before the platform's
//! (its idempotency table, its read audit) into the platform's, without losing a row.
//!
//! A service lists one [`LegacyKitMigration`] per old table in its `Migrator`, after the
//! migration that created the platform's table, under the name it was released with (the
//! name is recorded in `seaql_migrations` of every deployed database and never changes).

use sea_orm_migration::prelude::*;

use crate::idempotency::migration::LegacyTable;

/// What a [`LegacyKitMigration`] copies.
#[derive(Debug, Clone)]
pub enum LegacyCopy {
    /// An old idempotency table into `idempotency_records`
    /// ([`crate::idempotency::migration::copy_legacy`]).
    Idempotency(LegacyTable),
    /// An old idempotency table whose rows must be reshaped first: when `source` exists,
    /// `CREATE TABLE <legacy.table> AS <select>` builds the rows `legacy` describes from it and
    /// `source` is dropped; then `legacy` is copied as in [`LegacyCopy::Idempotency`].
    ReshapedIdempotency {
        /// The old table.
        source: &'static str,
        /// A `SELECT` over `source` yielding `legacy`'s columns.
        select: String,
        /// The reshaped table (dropped after the copy).
        legacy: LegacyTable,
    },
    /// An old audit table into `audit_trail` ([`crate::audit::migration::copy_legacy`]):
    /// `select` reads `table` and yields the trail's columns.
    Audit {
        /// The old table.
        table: &'static str,
        /// A `SELECT` over `table` yielding `at, caller_role, caller_party, caller_subject,
        /// rpc, category, purpose, outcome, person, resource`.
        select: String,
    },
}

/// A data-preserving migration onto the platform's write kit: copies the old table's rows,
/// then drops it; a fresh install (no old table) does nothing. `down` keeps the copied rows.
#[derive(Debug, Clone)]
pub struct LegacyKitMigration {
    /// The migration's name as released (`m<date>_<seq>_<service>_<what>`).
    pub name: &'static str,
    /// The table to copy and how.
    pub copy: LegacyCopy,
}

impl MigrationName for LegacyKitMigration {
    fn name(&self) -> &str {
        self.name
    }
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for LegacyKitMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match &self.copy {
            LegacyCopy::Idempotency(legacy) => crate::idempotency::migration::copy_legacy(manager, *legacy).await,
            LegacyCopy::ReshapedIdempotency { source, select, legacy } => {
                if manager.has_table(*source).await? {
                    let reshape = format!("CREATE TABLE \"{}\" AS {select}", legacy.table);
                    manager.get_connection().execute_unprepared(&reshape).await?;
                    manager.drop_table(Table::drop().table(Alias::new(*source)).to_owned()).await?;
                }
                crate::idempotency::migration::copy_legacy(manager, *legacy).await
            }
            LegacyCopy::Audit { table, select } => crate::audit::migration::copy_legacy(manager, table, select).await,
        }
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // The old table is gone and its rows live on in the platform's table: nothing to undo.
        Ok(())
    }
}

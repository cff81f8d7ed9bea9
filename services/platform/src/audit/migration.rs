//! The `audit_trail` table, included in every service's migrator, and the copy of a service's
//! older audit table into it (data-preserving: every past read stays on record).

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::prelude::*;

/// Creates `audit_trail` in the service's schema.
pub struct AuditTableMigration;

impl MigrationName for AuditTableMigration {
    fn name(&self) -> &str {
        "m20261204_000001_platform_audit_trail"
    }
}

const POSTGRES: &str = "
CREATE TABLE IF NOT EXISTS audit_trail (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    caller_role varchar NOT NULL,
    caller_party varchar NOT NULL,
    caller_subject varchar NOT NULL,
    rpc varchar NOT NULL,
    category varchar NOT NULL,
    purpose varchar NOT NULL,
    outcome varchar NOT NULL,
    persons text[] NOT NULL,
    resources text[] NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_trail_by_time ON audit_trail (at);
CREATE INDEX IF NOT EXISTS audit_trail_by_person ON audit_trail USING gin (persons);
CREATE INDEX IF NOT EXISTS audit_trail_by_resource ON audit_trail USING gin (resources);
";

const SQLITE: &str = "
CREATE TABLE IF NOT EXISTS audit_trail (
    id integer PRIMARY KEY AUTOINCREMENT,
    at text NOT NULL,
    caller_role text NOT NULL,
    caller_party text NOT NULL,
    caller_subject text NOT NULL,
    rpc text NOT NULL,
    category text NOT NULL,
    purpose text NOT NULL,
    outcome text NOT NULL,
    persons text NOT NULL,
    resources text NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_trail_by_time ON audit_trail (at);
";

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for AuditTableMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        let sql = if conn.get_database_backend() == DbBackend::Postgres { POSTGRES } else { SQLITE };
        conn.execute_unprepared(sql).await.map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("DROP TABLE IF EXISTS audit_trail").await.map(|_| ())
    }
}

/// Makes `audit_trail` cheaper to write, without changing what it holds or how it is read
/// (loadtest/README.md#audit-trail measured the cost of each index per row):
/// - the time index becomes BRIN: the trail is appended in time order, so block ranges
///   answer the retention trim and time windows at a fraction of a B-tree's upkeep;
/// - the persons index keeps its fast-update pending list at 16 MiB instead of 4 MiB, so a
///   batch check's thousand persons are merged into the index in bulk (by autovacuum or when
///   the list fills), not entry by entry on the request's write;
/// - the resources index covers only the reads that name a resource: an eligibility check
///   (most of the trail) names none and no longer adds an empty-array entry.
pub struct AuditIndexMigration;

impl MigrationName for AuditIndexMigration {
    fn name(&self) -> &str {
        "m20261205_000001_platform_audit_trail_indexes"
    }
}

const POSTGRES_INDEXES: &str = "
CREATE INDEX IF NOT EXISTS audit_trail_by_time_range ON audit_trail USING brin (at);
DROP INDEX IF EXISTS audit_trail_by_time;
ALTER INDEX audit_trail_by_person SET (gin_pending_list_limit = 16384);
CREATE INDEX IF NOT EXISTS audit_trail_by_named_resource ON audit_trail USING gin (resources)
    WHERE resources <> '{}';
DROP INDEX IF EXISTS audit_trail_by_resource;
";

const POSTGRES_INDEXES_DOWN: &str = "
CREATE INDEX IF NOT EXISTS audit_trail_by_time ON audit_trail (at);
DROP INDEX IF EXISTS audit_trail_by_time_range;
ALTER INDEX audit_trail_by_person RESET (gin_pending_list_limit);
CREATE INDEX IF NOT EXISTS audit_trail_by_resource ON audit_trail USING gin (resources);
DROP INDEX IF EXISTS audit_trail_by_named_resource;
";

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for AuditIndexMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite (`kaigo dev`) keeps its one time index: no GIN, no BRIN there.
        let conn = manager.get_connection();
        if conn.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        conn.execute_unprepared(POSTGRES_INDEXES).await.map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        if conn.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        conn.execute_unprepared(POSTGRES_INDEXES_DOWN).await.map(|_| ())
    }
}

/// Copies the rows of a service's older audit table into `audit_trail` and drops it; does
/// nothing when `table` does not exist (a fresh install).
///
/// `select` reads `table` and yields, per old row, the columns `at, caller_role,
/// caller_party, caller_subject, rpc, category, purpose, outcome, person, resource` (text;
/// `person` as [`super::person`] or '' when unknown, `resource` an id or '').
pub async fn copy_legacy(manager: &SchemaManager<'_>, table: &str, select: &str) -> Result<(), DbErr> {
    if !manager.has_table(table).await? {
        return Ok(());
    }
    let conn = manager.get_connection();
    let backend = conn.get_database_backend();
    let list = |col: &str| {
        if backend == DbBackend::Postgres {
            format!("CASE WHEN {col} = '' THEN '{{}}'::text[] ELSE ARRAY[{col}]::text[] END")
        } else {
            format!("CASE WHEN {col} = '' THEN '[]' ELSE json_array({col}) END")
        }
    };
    let sql = format!(
        "INSERT INTO audit_trail (at, caller_role, caller_party, caller_subject, rpc, category, purpose, outcome, \
         persons, resources) SELECT at, caller_role, caller_party, caller_subject, rpc, category, purpose, outcome, \
         {persons}, {resources} FROM ({select}) AS legacy ORDER BY at",
        persons = list("person"),
        resources = list("resource"),
    );
    conn.execute_raw(Statement::from_string(backend, sql)).await?;
    manager.drop_table(Table::drop().table(Alias::new(table)).to_owned()).await
}

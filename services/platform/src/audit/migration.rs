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

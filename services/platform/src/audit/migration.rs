//! The `audit_trail` table, included in every service's migrator, and the copy of a service's
//! older audit table into it (data-preserving: every past read stays on record).

use chrono::{DateTime, Utc};
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

/// Taken first by every migration that changes an existing trail on PostgreSQL (each runs in
/// its own transaction): audit writers of replicas still running keep writing during a rolling
/// upgrade, and a migration that took its locks one statement at a time (an index, the
/// sequence, then the table) could deadlock with a write holding the table. One lock up front
/// waits for the write under way and holds later ones until the migration commits.
const LOCK_TRAIL: &str = "LOCK TABLE audit_trail IN ACCESS EXCLUSIVE MODE";

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
        conn.execute_unprepared(LOCK_TRAIL).await?;
        conn.execute_unprepared(POSTGRES_INDEXES).await.map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        if conn.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        conn.execute_unprepared(LOCK_TRAIL).await?;
        conn.execute_unprepared(POSTGRES_INDEXES_DOWN).await.map(|_| ())
    }
}

/// Partitions `audit_trail` by month on PostgreSQL (issue #15 item 2, #20 item 5), keeping
/// every record, its row id (the `sequence` a person's page continues from) and every index:
/// the table is renamed aside, a partitioned `audit_trail` with the same columns is created
/// with a partition for each month that holds records, the current and the next month, and
/// a default partition, the rows are moved in with their ids, and the indexes of
/// [`AuditIndexMigration`] are built once on the parent (inherited by every partition, present
/// and future). The primary key becomes `(id, at)`: a partitioned table's unique keys must
/// contain the partition key; ids still come from the same sequence.
///
/// The move is one `INSERT … SELECT` inside the migration's transaction: the trail is locked
/// ([`LOCK_TRAIL`]) for its duration, and audited calls of replicas still running wait for it,
/// so apply it with the service stopped on a large trail (loadtest/README.md#growth-and-retention
/// gives the rate). SQLite (`kaigo dev`) keeps its single table.
pub struct AuditPartitionMigration;

impl MigrationName for AuditPartitionMigration {
    fn name(&self) -> &str {
        "m20261220_000001_platform_audit_trail_partitions"
    }
}

const PARTITIONED: &str = "
CREATE TABLE audit_trail (
    id bigint NOT NULL DEFAULT nextval('{seq}'),
    at timestamptz NOT NULL,
    caller_role varchar NOT NULL,
    caller_party varchar NOT NULL,
    caller_subject varchar NOT NULL,
    rpc varchar NOT NULL,
    category varchar NOT NULL,
    purpose varchar NOT NULL,
    outcome varchar NOT NULL,
    persons text[] NOT NULL,
    resources text[] NOT NULL,
    CONSTRAINT audit_trail_pkey PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE TABLE audit_trail_default PARTITION OF audit_trail DEFAULT;
";

const MOVE_ROWS: &str = "
INSERT INTO audit_trail (id, at, caller_role, caller_party, caller_subject, rpc, category, purpose, outcome,
    persons, resources)
SELECT id, at, caller_role, caller_party, caller_subject, rpc, category, purpose, outcome, persons, resources
FROM audit_trail_unpartitioned;
DROP TABLE audit_trail_unpartitioned;
ALTER SEQUENCE {seq} OWNED BY audit_trail.id;
CREATE INDEX audit_trail_by_time_range ON audit_trail USING brin (at);
CREATE INDEX audit_trail_by_person ON audit_trail USING gin (persons) WITH (gin_pending_list_limit = 16384);
CREATE INDEX audit_trail_by_named_resource ON audit_trail USING gin (resources) WHERE resources <> '{}';
";

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for AuditPartitionMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        if conn.get_database_backend() != DbBackend::Postgres || super::partitions::is_partitioned(conn).await? {
            return Ok(());
        }
        // The whole trail first, before its sequence: a writer's COPY holds the table and
        // takes ids from the sequence as it goes, so locking the sequence first (as `ALTER
        // SEQUENCE` below does) while a COPY is under way deadlocks the two. Taken here, the
        // migration waits for the COPY under way, and later writes wait for the migration.
        conn.execute_unprepared(LOCK_TRAIL).await?;
        let pg = |sql: &str| Statement::from_string(DbBackend::Postgres, sql.to_owned());
        let seq: String = conn
            .query_one_raw(pg("SELECT pg_get_serial_sequence('audit_trail', 'id') AS seq"))
            .await?
            .map(|r| r.try_get::<Option<String>>("", "seq"))
            .transpose()?
            .flatten()
            .ok_or_else(|| DbErr::Migration("audit_trail.id has no sequence".to_owned()))?;
        // The months that hold records, and the current and next month.
        let mut months: Vec<DateTime<Utc>> = conn
            .query_all_raw(pg("SELECT DISTINCT date_trunc('month', at, 'UTC') AS month FROM audit_trail"))
            .await?
            .iter()
            .map(|r| r.try_get::<DateTime<Utc>>("", "month"))
            .collect::<Result<_, _>>()?;
        let current = super::partitions::month_start(Utc::now());
        months.extend([current, super::partitions::next_month(current)]);
        months.sort();
        months.dedup();
        // The old table steps aside with its rows; its indexes and key go (their names are
        // the new table's), the sequence stays for the new table.
        conn.execute_unprepared(&format!(
            "ALTER SEQUENCE {seq} OWNED BY NONE;
             ALTER TABLE audit_trail ALTER COLUMN id DROP DEFAULT;
             ALTER TABLE audit_trail RENAME TO audit_trail_unpartitioned;
             ALTER TABLE audit_trail_unpartitioned DROP CONSTRAINT IF EXISTS audit_trail_pkey;
             DROP INDEX IF EXISTS audit_trail_by_time, audit_trail_by_time_range, audit_trail_by_person,
                 audit_trail_by_resource, audit_trail_by_named_resource;"
        ))
        .await?;
        conn.execute_unprepared(&PARTITIONED.replace("{seq}", &seq)).await?;
        for month in months {
            conn.execute_unprepared(&super::partitions::create_month_sql(month)).await?;
        }
        conn.execute_unprepared(&MOVE_ROWS.replace("{seq}", &seq)).await.map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Back to one table with the same rows, ids and indexes.
        let conn = manager.get_connection();
        if conn.get_database_backend() != DbBackend::Postgres || !super::partitions::is_partitioned(conn).await? {
            return Ok(());
        }
        conn.execute_unprepared(LOCK_TRAIL).await?;
        conn.execute_unprepared(
            "CREATE TABLE audit_trail_single (LIKE audit_trail INCLUDING DEFAULTS);
             INSERT INTO audit_trail_single SELECT * FROM audit_trail;
             ALTER SEQUENCE audit_trail_id_seq OWNED BY audit_trail_single.id;
             DROP TABLE audit_trail;
             ALTER TABLE audit_trail_single RENAME TO audit_trail;
             ALTER TABLE audit_trail ADD CONSTRAINT audit_trail_pkey PRIMARY KEY (id);
             CREATE INDEX audit_trail_by_time_range ON audit_trail USING brin (at);
             CREATE INDEX audit_trail_by_person ON audit_trail USING gin (persons) WITH (gin_pending_list_limit = 16384);
             CREATE INDEX audit_trail_by_named_resource ON audit_trail USING gin (resources) WHERE resources <> '{}';",
        )
        .await
        .map(|_| ())
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

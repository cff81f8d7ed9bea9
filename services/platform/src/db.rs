//! Database connections and per-service migrations.
//!
//! In PostgreSQL every service keeps its tables in its own schema (`eligibility`,
//! `certification` …) and sees only that schema through `search_path`; in `kaigo dev` every
//! service gets its own SQLite file under the data directory. Either way no service can read
//! another's tables.

pub mod reads;
pub mod schema;

pub use reads::{ReadConn, ReadPool};

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, SqliteTransactionMode, Statement,
    TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::config::DatabaseConfig;

/// How long a SQLite (`kaigo dev`) statement waits for another connection's write lock.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects `service` to its schema (PostgreSQL) or its file (SQLite), creating either.
pub async fn connect(config: &DatabaseConfig, service: &str) -> Result<DatabaseConnection, DbErr> {
    let url = config.url.expose();
    if url.is_empty() {
        return Err(DbErr::Custom("database.url is not configured (KAIGO_DATABASE__URL)".to_owned()));
    }
    if !service.bytes().all(|c| c.is_ascii_lowercase() || c == b'_') {
        return Err(DbErr::Custom("service names are lower-case letters and underscores".to_owned()));
    }
    let acquire = Duration::from_millis(config.acquire_timeout_ms);
    let connect = Duration::from_millis(config.connect_timeout_ms);
    if let Some(dir) = url.strip_prefix("sqlite://") {
        std::fs::create_dir_all(dir).map_err(|e| DbErr::Custom(format!("cannot create the data directory: {e}")))?;
        let mut options = ConnectOptions::new(format!("sqlite://{dir}/{service}.db?mode=rwc"));
        // SQLite allows one writer; a small pool avoids "database is locked" storms. WAL lets
        // readers go on while one writes; the busy timeout and foreign keys are settings of
        // each connection, so they are set on every connection the pool opens (a PRAGMA sent
        // through the pool would reach one of them only). A writer holds its connection while
        // it waits up to the busy timeout for the file's lock, so a call waits for a connection
        // at least that long: `acquire_timeout_ms` is for a database that is down, which a file
        // is not.
        let acquire = acquire.max(SQLITE_BUSY_TIMEOUT);
        options.max_connections(4).acquire_timeout(acquire).sqlx_logging(false).map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true)
        });
        let mut conn = Database::connect(options).await?;
        conn.set_metric_callback(crate::telemetry::db::observe("sqlite"));
        let pool = conn.get_sqlite_connection_pool().clone();
        crate::telemetry::db::watch_wait(service, pool.clone());
        crate::telemetry::db::watch_pool(service, Box::new(move || pool_reading(&pool)));
        return Ok(conn);
    }

    // Create the schema with a short-lived connection, then pin the pool to it. This first
    // connection waits up to `connect_timeout_ms` for a database that is still starting (the
    // pool retries a refused connection until then); the pool's calls wait `acquire_timeout_ms`
    // at most, opening a connection included, so with the database down they fail fast.
    {
        let mut options = ConnectOptions::new(url.to_owned());
        options.max_connections(1).connect_timeout(connect).acquire_timeout(connect).sqlx_logging(false);
        let admin = Database::connect(options).await?;
        let create = format!("CREATE SCHEMA IF NOT EXISTS \"{service}\"");
        if let Err(err) = admin.execute_unprepared(&create).await {
            // Two processes creating the schema at once: one wins, the other sees a unique
            // violation; either way the schema now exists.
            let exists = admin
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT 1 FROM pg_namespace WHERE nspname = $1",
                    [service.into()],
                ))
                .await?
                .is_some();
            if !exists {
                return Err(err);
            }
        }
        admin.close().await?;
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(config.max_connections)
        .min_connections(1)
        .acquire_timeout(acquire)
        .sqlx_logging(false)
        .set_schema_search_path(service.to_owned());
    let mut conn = Database::connect(options).await?;
    // A client span and the statement duration metric per statement (telemetry::db).
    conn.set_metric_callback(crate::telemetry::db::observe("postgresql"));
    let pool = conn.get_postgres_connection_pool().clone();
    crate::telemetry::db::watch_wait(service, pool.clone());
    crate::telemetry::db::watch_pool(service, Box::new(move || pool_reading(&pool)));
    Ok(conn)
}

/// (open, idle, most) connections of an open pool (`telemetry::db::watch_pool`).
fn pool_reading<DB: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<DB>) -> Option<(u32, usize, u32)> {
    (!pool.is_closed()).then(|| (pool.size(), pool.num_idle(), pool.options().get_max_connections()))
}

/// Brings the service's schema up to date.
pub async fn migrate<M: MigratorTrait>(conn: &DatabaseConnection) -> Result<(), DbErr> {
    M::up(conn, None).await
}

/// Begins a transaction that will write. On PostgreSQL a plain `BEGIN`. On SQLite (`kaigo
/// dev`) `BEGIN IMMEDIATE`: a deferred transaction starts as a reader and must upgrade to a
/// writer at its first write, which in WAL mode fails at once with `SQLITE_BUSY_SNAPSHOT`
/// ("database is locked", not covered by the busy timeout) when another connection committed
/// in between; an immediate one takes the write lock up front and waits its turn.
pub async fn begin_write<C: TransactionTrait>(conn: &C) -> Result<C::Transaction, DbErr> {
    conn.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

/// True for PostgreSQL, where row locks and `SKIP LOCKED` exist.
pub fn is_postgres(conn: &impl ConnectionTrait) -> bool {
    conn.get_database_backend() == DbBackend::Postgres
}

/// True when `err` is a unique-constraint violation (a duplicate key).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
}

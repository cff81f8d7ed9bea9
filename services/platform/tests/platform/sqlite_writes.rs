//! Writes on `kaigo dev`'s SQLite never fail with `database is locked` (issue #17 item 12).
//!
//! In WAL mode a deferred transaction starts as a reader; when another connection commits
//! before its first write, the upgrade fails at once with SQLITE_BUSY_SNAPSHOT (517), whatever
//! the busy timeout. `db::begin_write` begins IMMEDIATE, so a write transaction holds the
//! file's write lock from its start and the others wait their turn. The first test pins that
//! property; the second drives read-then-write transactions and the outbox relay at once, as
//! an import beside the relay and other writes does.

use std::time::Duration;

use kaigo_platform::config::{DatabaseConfig, Secret};
use kaigo_platform::db::begin_write;
use kaigo_platform::events::{EventTablesMigration, NewEvent, Relay, RelayOptions, enqueue};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement};
use sea_orm_migration::prelude::*;

struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(EventTablesMigration)]
    }
}

/// The service's pool as `kaigo dev` opens it, with a table of counters.
async fn dev_pool(dir: &std::path::Path) -> DatabaseConnection {
    let config =
        DatabaseConfig { url: Secret::new(format!("sqlite://{}", dir.display())), ..DatabaseConfig::default() };
    let conn = kaigo_platform::db::connect(&config, "writes").await.unwrap();
    Migrator::up(&conn, None).await.unwrap();
    conn.execute_unprepared("CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)").await.unwrap();
    conn
}

/// A directory of its own for one test's files, removed when dropped.
struct Dir(std::path::PathBuf);

impl Dir {
    fn new() -> Self {
        Self(std::env::temp_dir().join(format!("kaigo-writes-{}", uuid::Uuid::new_v4().simple())))
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn count(conn: &impl ConnectionTrait, sql: &str) -> i64 {
    let row = conn.query_one_raw(Statement::from_string(conn.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

#[tokio::test]
async fn a_write_transaction_holds_the_file_from_its_start() {
    let dir = Dir::new();
    let pool = dev_pool(dir.path()).await;
    // Another process's connection to the same file that does not wait for the lock.
    let mut options = ConnectOptions::new(format!("sqlite://{}/writes.db", dir.path().display()));
    options.max_connections(1).sqlx_logging(false).map_sqlx_sqlite_opts(|o| o.busy_timeout(Duration::ZERO));
    let other = Database::connect(options).await.unwrap();

    let txn = begin_write(&pool).await.unwrap();
    assert_eq!(count(&txn, "SELECT COUNT(*) FROM counters").await, 0);
    // A deferred transaction would hold a read snapshot only, and this write would go through
    // (and the transaction's own write below would then fail with SQLITE_BUSY_SNAPSHOT).
    let refused = other.execute_unprepared("INSERT INTO counters (n) VALUES (100)").await;
    let err = refused.expect_err("another connection wrote while a write transaction was open");
    assert!(err.to_string().contains("locked"), "{err}");
    txn.execute_unprepared("INSERT INTO counters (n) VALUES (1)").await.unwrap();
    txn.commit().await.unwrap();

    other.execute_unprepared("INSERT INTO counters (n) VALUES (2)").await.unwrap();
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM counters").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn read_then_write_transactions_and_the_relay_never_find_the_file_locked() {
    const WRITERS: i64 = 4;
    const WRITES: i64 = 40;
    let dir = Dir::new();
    let pool = dev_pool(dir.path()).await;
    let bus = kaigo_platform::events::Bus::Local(kaigo_platform::events::LocalBus::new());
    let relay = Relay::new(pool.clone(), bus, RelayOptions::default());
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));

    // The relay, passing again and again while the writers write: each pass reads the outbox
    // and then marks what it published, in one transaction.
    let relaying = {
        let (relay, done) = (relay.clone(), done.clone());
        tokio::spawn(async move {
            let mut failures = Vec::new();
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                if let Err(err) = relay.relay_once().await {
                    failures.push(err.to_string());
                }
                tokio::task::yield_now().await;
            }
            failures
        })
    };
    // Writers that read first and write after, each write with its event, as a service's
    // write (an import chunk, a decision) does.
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut failures = Vec::new();
                for _ in 0..WRITES {
                    let attempt = async {
                        let txn = begin_write(&pool).await?;
                        let backend = txn.get_database_backend();
                        let row = txn
                            .query_one_raw(Statement::from_string(backend, "SELECT COALESCE(MAX(n), 0) FROM counters"))
                            .await?;
                        let last = row.map(|r| r.try_get_by_index::<i64>(0)).transpose()?.unwrap_or(0);
                        txn.execute_raw(Statement::from_sql_and_values(
                            backend,
                            "INSERT INTO counters (n) VALUES (?)",
                            [(last + 1).into()],
                        ))
                        .await?;
                        let event = NewEvent {
                            topic: "writes.counted".to_owned(),
                            key: format!("writer-{writer}"),
                            payload: vec![],
                        };
                        enqueue(&txn, event).await?;
                        txn.commit().await
                    };
                    if let Err(err) = attempt.await {
                        failures.push(err.to_string());
                    }
                }
                failures
            })
        })
        .collect();

    let mut failures = Vec::new();
    for writer in writers {
        failures.extend(writer.await.unwrap());
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let relay_failures = relaying.await.unwrap();
    let first: Vec<_> = failures.iter().take(3).collect();
    assert!(failures.is_empty(), "{} of {} writes failed, the first: {first:?}", failures.len(), WRITERS * WRITES);
    let first: Vec<_> = relay_failures.iter().take(3).collect();
    assert!(relay_failures.is_empty(), "{} relay passes failed, the first: {first:?}", relay_failures.len());
    // Every write counted once, each reading the one before it: the writes were serialised.
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM counters").await, WRITERS * WRITES);
    assert_eq!(count(&pool, "SELECT MAX(n) FROM counters").await, WRITERS * WRITES);
    while relay.relay_once().await.unwrap() > 0 {}
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL").await, 0);
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM outbox").await, WRITERS * WRITES);
}

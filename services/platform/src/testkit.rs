//! Test support: a fresh PostgreSQL database and a private Redis key prefix per test binary.
//!
//! Tests talk to the real servers on loopback (`KAIGO_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`; `KAIGO_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`). Each [`TestDatabase`] creates `kaigo_test_<uuid>` and drops it
//! when dropped; each [`TestRedis`] deletes only the keys under its own prefix. Nothing here
//! touches anyone else's data.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Database};

use crate::config::{DatabaseConfig, RedisConfig, Secret};

fn admin_url() -> String {
    std::env::var("KAIGO_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The Redis URL tests use.
pub fn redis_url() -> String {
    std::env::var("KAIGO_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A database of its own for one test binary (or one test).
pub struct TestDatabase {
    name: String,
    url: String,
}

impl TestDatabase {
    /// Creates a fresh, empty database.
    pub async fn create() -> Self {
        let admin = admin_url();
        let name = format!("kaigo_test_{}", uuid::Uuid::new_v4().simple());
        let conn = Database::connect(admin.as_str()).await.unwrap_or_else(|e| {
            panic!(
                "cannot reach PostgreSQL for tests at {admin}: {e}; run `make services` or set KAIGO_TEST_DATABASE_URL"
            )
        });
        conn.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.expect("create test database");
        let _ = conn.close().await;
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base);
        let url = format!("{base}/{name}");
        Self { name, url }
    }

    /// The database URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A config section pointing at this database.
    pub fn config(&self) -> DatabaseConfig {
        DatabaseConfig { url: Secret::new(self.url.clone()), max_connections: 8, acquire_timeout_secs: 5 }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs inside or outside a runtime; a thread of its own with its own runtime
        // works in both. FORCE ends connections a test left open.
        let name = self.name.clone();
        let admin = admin_url();
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async move {
                if let Ok(conn) = Database::connect(admin.as_str()).await {
                    let _ = conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = handle.join();
    }
}

/// A private key prefix on the shared Redis server.
pub struct TestRedis {
    prefix: String,
}

impl TestRedis {
    /// A fresh prefix; checks that Redis answers.
    pub async fn create() -> Self {
        let url = redis_url();
        let client = redis::Client::open(url.as_str()).expect("redis url");
        let mut conn = tokio::time::timeout(Duration::from_secs(5), client.get_multiplexed_async_connection())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_else(|| {
                panic!("cannot reach Redis for tests at {url}; run `make services` or set KAIGO_TEST_REDIS_URL")
            });
        let _: String = redis::cmd("PING").query_async(&mut conn).await.expect("redis ping");
        Self { prefix: format!("kaigo_test:{}:", uuid::Uuid::new_v4().simple()) }
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A config section using this prefix.
    pub fn config(&self) -> RedisConfig {
        RedisConfig { url: Secret::new(redis_url()), key_prefix: self.prefix.clone(), cluster: false }
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let prefix = self.prefix.clone();
        let handle = std::thread::spawn(move || {
            let Ok(client) = redis::Client::open(redis_url().as_str()) else { return };
            let Ok(mut conn) = client.get_connection() else { return };
            let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query(&mut conn).unwrap_or_default();
            for key in keys {
                let _: Result<i64, _> = redis::cmd("DEL").arg(&key).query(&mut conn);
            }
        });
        let _ = handle.join();
    }
}

/// Polls `check` until it returns `Some` or `deadline` passes (tests never sleep blindly).
pub async fn eventually<T, F, Fut>(deadline: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= until {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

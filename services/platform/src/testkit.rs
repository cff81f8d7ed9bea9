//! Test support: a fresh PostgreSQL database and a private Redis key prefix per test binary,
//! a private Redis Cluster ([`TestRedisCluster`]) for the cluster paths and a private PostgreSQL
//! server ([`TestPostgres`]) a fault test may stop.
//!
//! Tests talk to the real servers on loopback (`KAIGO_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`; `KAIGO_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`). Each [`TestDatabase`] creates `kaigo_test_<uuid>` and drops it
//! when dropped; each [`TestRedis`] deletes only the keys under its own prefix. Nothing here
//! touches anyone else's data.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Database};

use crate::config::{DatabaseConfig, RedisConfig, Secret};

mod postgres;
pub use postgres::TestPostgres;

fn admin_url() -> String {
    std::env::var("KAIGO_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The Redis URL tests use.
pub fn redis_url() -> String {
    std::env::var("KAIGO_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A loopback port for a server another process will open later: free now, and below the
/// kernel's ephemeral range (Linux: 32768–60999), where the port of `bind(0)` comes from and
/// where every outgoing connection (each PostgreSQL and Redis connection of every test) takes
/// its local port. A port drawn there could be taken by such a connection before the server
/// binds it: a flow test's service once failed to start with "Address already in use". Tests
/// running at the same time draw at random among 17,000 ports, each draw checked free.
pub fn free_port() -> u16 {
    use std::hash::BuildHasher;
    const LOW: u16 = 15_000;
    const HIGH: u16 = 32_000;
    static DRAWS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    // A random seed per process and a counter: distinct draws, different in every process.
    let seed = std::collections::hash_map::RandomState::new();
    for _ in 0..1_000 {
        let draw = seed.hash_one(DRAWS.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let port = LOW + u16::try_from(draw % u64::from(HIGH - LOW)).unwrap_or(0);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {LOW}..{HIGH}");
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

    /// A config section pointing at this database. Calls wait up to 5 s for a connection (not
    /// the production default): a test machine busy compiling must not turn into UNAVAILABLE.
    pub fn config(&self) -> DatabaseConfig {
        DatabaseConfig {
            url: Secret::new(self.url.clone()),
            max_connections: 8,
            acquire_timeout_ms: 5_000,
            ..DatabaseConfig::default()
        }
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

/// A private Redis Cluster on free loopback ports, in a temporary directory:
/// `redis-server --cluster-enabled yes` per node, joined with `redis-cli --cluster create`.
/// [`TestRedisCluster::start`] makes three primaries; [`TestRedisCluster::start_with_replicas`]
/// gives each a replica and a 1 s node timeout, so a test can SIGKILL a primary
/// ([`TestRedisCluster::kill_primary_of`]) and see its replica promoted within seconds.
/// Dropping it kills the servers and removes the directory.
pub struct TestRedisCluster {
    dir: std::path::PathBuf,
    ports: Vec<u16>,
    /// Each node's process, by client port; a killed node's entry is gone.
    children: parking_lot::Mutex<Vec<(u16, std::process::Child)>>,
    prefix: String,
}

/// Primaries of a [`TestRedisCluster`].
const CLUSTER_PRIMARIES: usize = 3;
/// With replicas: how long a node may not answer before the others mark it failed. Small, so a
/// failover test takes seconds (production keeps Redis's 15 s default or its own setting).
const CLUSTER_NODE_TIMEOUT_MS: u64 = 1_000;

impl TestRedisCluster {
    /// Starts three primaries, creates the cluster and waits until every node reports
    /// `cluster_state:ok` with all slots covered. Panics when `redis-server` or `redis-cli` is
    /// missing or the cluster does not form.
    pub async fn start() -> Self {
        Self::start_with(0).await
    }

    /// Three primaries, each with one replica (six nodes), a node timeout of 1 s and replicas
    /// that may always take over (`cluster-replica-validity-factor 0`). Waits until every
    /// replica is in sync with its primary.
    pub async fn start_with_replicas() -> Self {
        Self::start_with(1).await
    }

    async fn start_with(replicas: usize) -> Self {
        // A port picked free can be taken by someone else before redis-server binds it: try a
        // few sets.
        let mut last = String::new();
        for _ in 0..3 {
            match Self::try_start(replicas).await {
                Ok(cluster) => return cluster,
                Err(err) => last = err,
            }
        }
        panic!("could not start a private Redis Cluster: {last}");
    }

    async fn try_start(replicas: usize) -> Result<Self, String> {
        let nodes = CLUSTER_PRIMARIES * (1 + replicas);
        let dir = std::env::temp_dir().join(format!("kaigo-redis-cluster-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        // Each node needs a client port and a cluster bus port; hold every listener until all
        // are chosen, so none is picked twice.
        let listeners: Vec<std::net::TcpListener> = (0..nodes * 2)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("no free port: {e}"))?;
        let all: Vec<u16> = listeners.iter().filter_map(|l| l.local_addr().ok()).map(|a| a.port()).collect();
        drop(listeners);
        let (ports, bus_ports) = all.split_at(nodes);
        let cluster = Self {
            dir: dir.clone(),
            ports: ports.to_vec(),
            children: parking_lot::Mutex::new(Vec::new()),
            prefix: format!("kaigo_test:{}:", uuid::Uuid::new_v4().simple()),
        };
        for (port, bus_port) in ports.iter().zip(bus_ports) {
            let dir_arg = dir.display().to_string();
            let mut command = std::process::Command::new("redis-server");
            command
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes", "--cluster-port", &bus_port.to_string()])
                .args(["--cluster-config-file", &format!("{dir_arg}/nodes-{port}.conf")])
                .args(["--save", "", "--appendonly", "no", "--dir", &dir_arg])
                .args(["--logfile", &format!("{dir_arg}/redis-{port}.log")]);
            if replicas > 0 {
                command
                    .args(["--cluster-node-timeout", &CLUSTER_NODE_TIMEOUT_MS.to_string()])
                    .args(["--cluster-replica-validity-factor", "0"]);
            }
            let child = command
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot run redis-server (is it installed?): {e}"))?;
            cluster.lock_children().push((*port, child));
        }
        for port in &cluster.ports {
            let url = format!("redis://127.0.0.1:{port}");
            let up = eventually(Duration::from_secs(10), || async {
                let pong: String = redis::cmd("PING").query_async(&mut node(&url).await?).await.ok()?;
                (pong == "PONG").then_some(())
            })
            .await;
            up.ok_or_else(|| format!("redis-server on port {port} did not answer (see {})", dir.display()))?;
        }
        let addresses: Vec<String> = cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let created = tokio::task::spawn_blocking(move || {
            std::process::Command::new("redis-cli")
                .arg("--cluster")
                .arg("create")
                .args(&addresses)
                .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
                .stdin(std::process::Stdio::null())
                .output()
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot run redis-cli (is it installed?): {e}"))?;
        if !created.status.success() {
            return Err(format!("redis-cli --cluster create failed: {}", String::from_utf8_lossy(&created.stdout)));
        }
        for url in cluster.urls() {
            let ok = eventually(Duration::from_secs(20), || async {
                let mut conn = node(&url).await?;
                let info: String = redis::cmd("CLUSTER").arg("INFO").query_async(&mut conn).await.ok()?;
                let formed = info.contains("cluster_state:ok")
                    && info.contains("cluster_slots_ok:16384")
                    && info.contains(&format!("cluster_known_nodes:{nodes}"));
                // A replica must hold its primary's data before a test may kill that primary.
                let replication: String = redis::cmd("INFO").arg("replication").query_async(&mut conn).await.ok()?;
                let synced = replication.contains("role:master") || replication.contains("master_link_status:up");
                (formed && synced).then_some(())
            })
            .await;
            ok.ok_or_else(|| format!("{url} never reported cluster_state:ok"))?;
        }
        Ok(cluster)
    }

    fn lock_children(&self) -> parking_lot::MutexGuard<'_, Vec<(u16, std::process::Child)>> {
        self.children.lock()
    }

    /// The URLs (`redis://127.0.0.1:<port>`) of the nodes still running, for talking to one
    /// node directly.
    pub fn urls(&self) -> Vec<String> {
        let live: Vec<u16> = self.lock_children().iter().map(|(port, _)| *port).collect();
        self.ports.iter().filter(|p| live.contains(p)).map(|p| format!("redis://127.0.0.1:{p}")).collect()
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A config section for this cluster: every running node as a seed, `cluster = true`.
    pub fn config(&self) -> RedisConfig {
        RedisConfig { url: Secret::new(self.urls().join(",")), key_prefix: self.prefix.clone(), cluster: true }
    }

    /// The URL of the live primary serving `key`'s hash slot, as the running nodes see it
    /// (`None` while no live node claims the slot, e.g. during a failover).
    pub async fn primary_of(&self, key: &str) -> Option<String> {
        let live = self.urls();
        for url in &live {
            let Some(mut conn) = node(url).await else { continue };
            let Ok(slot) = redis::cmd("CLUSTER").arg("KEYSLOT").arg(key).query_async::<u16>(&mut conn).await else {
                continue;
            };
            let Ok(nodes) = redis::cmd("CLUSTER").arg("NODES").query_async::<String>(&mut conn).await else {
                continue;
            };
            return owner_of_slot(&nodes, slot).filter(|owner| live.contains(owner));
        }
        None
    }

    /// SIGKILLs the primary serving `key`'s slot, as a crashed machine would stop, and waits
    /// for the process to end; returns its URL. Its replica takes over after the node timeout
    /// (see [`TestRedisCluster::wait_promoted`]).
    pub async fn kill_primary_of(&self, key: &str) -> String {
        let url = self.primary_of(key).await.expect("a live primary serves the key");
        let port: u16 = url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a node URL ends with its port");
        let mut children = self.lock_children();
        let at = children.iter().position(|(p, _)| *p == port).expect("the primary is one of this cluster's nodes");
        let (_, mut child) = children.remove(at);
        drop(children);
        // std's Child::kill sends SIGKILL.
        child.kill().expect("SIGKILL the primary");
        let _ = child.wait();
        url
    }

    /// Waits up to `deadline` until a live primary serves `key`'s slot again and every running
    /// node reports `cluster_state:ok`; returns that primary's URL (the promoted replica).
    pub async fn wait_promoted(&self, key: &str, deadline: Duration) -> Option<String> {
        eventually(deadline, || async {
            let primary = self.primary_of(key).await?;
            for url in self.urls() {
                let info: String = redis::cmd("CLUSTER").arg("INFO").query_async(&mut node(&url).await?).await.ok()?;
                if !info.contains("cluster_state:ok") {
                    return None;
                }
            }
            Some(primary)
        })
        .await
    }

    /// How many clients are subscribed to `channel`, over all nodes (each node counts only
    /// its own subscribers).
    pub async fn subscribers(&self, channel: &str) -> usize {
        let mut total = 0;
        for url in self.urls() {
            let Some(mut conn) = node(&url).await else { continue };
            let counts: Vec<(String, usize)> =
                redis::cmd("PUBSUB").arg("NUMSUB").arg(channel).query_async(&mut conn).await.unwrap_or_default();
            total += counts.iter().map(|(_, n)| n).sum::<usize>();
        }
        total
    }

    /// Closes every pub/sub connection on every node (`CLIENT KILL TYPE pubsub`), as a
    /// network failure would.
    pub async fn kill_subscribers(&self) {
        for url in self.urls() {
            if let Some(mut conn) = node(&url).await {
                let _: Result<i64, _> =
                    redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query_async(&mut conn).await;
            }
        }
    }
}

/// The `redis://ip:port` of the primary whose slot ranges in `CLUSTER NODES` output contain
/// `slot` (a node marked failed does not count).
fn owner_of_slot(nodes: &str, slot: u16) -> Option<String> {
    nodes.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (address, flags) = (fields.get(1)?, fields.get(2)?);
        if !flags.split(',').any(|f| f == "master") || flags.split(',').any(|f| f == "fail" || f == "fail?") {
            return None;
        }
        let serves = fields.iter().skip(8).any(|range| {
            let (from, to) = range.split_once('-').unwrap_or((range, range));
            matches!((from.parse::<u16>(), to.parse::<u16>()), (Ok(from), Ok(to)) if (from..=to).contains(&slot))
        });
        let host_port = address.split('@').next()?;
        serves.then(|| format!("redis://{host_port}"))
    })
}

/// A plain connection to one node.
async fn node(url: &str) -> Option<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(url).ok()?;
    tokio::time::timeout(Duration::from_secs(2), client.get_multiplexed_async_connection()).await.ok()?.ok()
}

impl Drop for TestRedisCluster {
    fn drop(&mut self) {
        for (_, child) in self.lock_children().iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
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

/// A channel that signs every call as its caller for the call's own path, as the gateway does
/// (no caller: the call goes unsigned, to test the refusal).
#[derive(Clone)]
pub struct SignedChannel {
    inner: tonic::transport::Channel,
    keys: crate::auth::CallerKeys,
    caller: Option<std::sync::Arc<crate::auth::Caller>>,
}

impl SignedChannel {
    /// Signs with `keys` as `caller`.
    pub fn new(
        inner: tonic::transport::Channel,
        keys: crate::auth::CallerKeys,
        caller: Option<crate::auth::Caller>,
    ) -> Self {
        Self { inner, keys, caller: caller.map(std::sync::Arc::new) }
    }
}

impl tower::Service<http::Request<tonic::body::Body>> for SignedChannel {
    type Response = <tonic::transport::Channel as tower::Service<http::Request<tonic::body::Body>>>::Response;
    type Error = <tonic::transport::Channel as tower::Service<http::Request<tonic::body::Body>>>::Error;
    type Future = <tonic::transport::Channel as tower::Service<http::Request<tonic::body::Body>>>::Future;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        tower::Service::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, mut request: http::Request<tonic::body::Body>) -> Self::Future {
        if let Some(caller) = &self.caller {
            let path = request.uri().path().to_owned();
            self.keys.insert_headers(request.headers_mut(), caller, &path, crate::auth::unix_now());
        }
        self.inner.call(request)
    }
}

/// A component's routes served by the platform server on a free loopback port until
/// [`TestServer::stop`] (graceful, waited for) or drop (graceful, not waited for).
pub struct TestServer {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    /// Serves `routes` (already wrapped in the caller layer where the test wants it).
    pub async fn start<S>(routes: S, health: crate::server::Health, config: &crate::config::ServerConfig) -> Self
    where
        S: tower::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = std::convert::Infallible,
            > + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
    {
        let listener = crate::server::bind("127.0.0.1:0").await.expect("bind a loopback port");
        Self::start_on(listener, routes, health, config).await
    }

    /// [`TestServer::start`] on a listener the test bound (a fixed port: a restart in place).
    pub async fn start_on<S>(
        listener: tokio::net::TcpListener,
        routes: S,
        health: crate::server::Health,
        config: &crate::config::ServerConfig,
    ) -> Self
    where
        S: tower::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = std::convert::Infallible,
            > + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
    {
        let addr = listener.local_addr().expect("local address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let config = config.clone();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(err) = crate::server::serve(listener, routes, health, &config, shutdown).await {
                tracing::error!(error = %err, "test server failed");
            }
        });
        Self { addr, stop: Some(stop), task: Some(task) }
    }

    /// A channel to it.
    pub async fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Channel::from_shared(format!("http://{}", self.addr))
            .expect("uri")
            .connect()
            .await
            .expect("connect to the test server")
    }

    /// Stops accepting and waits for the server to finish its drain.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // The same drain as a SIGTERM: stop accepting, tell open connections to go away.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The organisation numbers [`caller`] acts for: the demo organisations of `kaigo dev`.
pub mod orgs {
    /// 保険者 水上村.
    pub const INSURER: &str = "435073";
    /// A care-management office (居宅介護支援).
    pub const CARE_OFFICE: &str = "4371000128";
    /// A service provider.
    pub const PROVIDER: &str = "4371000201";
    /// A medical institution.
    pub const INSTITUTION: &str = "1311234569";
}

/// A caller of `role` acting for its demo organisation ([`orgs`]); operators and insured
/// persons act for none.
pub fn caller(role: crate::auth::Role) -> crate::auth::Caller {
    use crate::auth::Role;
    let org = match role {
        Role::Insurer => orgs::INSURER,
        Role::CareOffice => orgs::CARE_OFFICE,
        Role::ServiceProvider => orgs::PROVIDER,
        Role::MedicalInstitution => orgs::INSTITUTION,
        Role::InsuredPerson | Role::Operator => "",
    };
    caller_for(role, org)
}

/// A caller of `role` acting for the organisation numbered `org` (a 保険者番号, 事業所番号 or
/// 医療機関コード, as the role needs); panics on a malformed number.
pub fn caller_for(role: crate::auth::Role, org: &str) -> crate::auth::Caller {
    use crate::auth::Role;
    use crate::ids::{CareOfficeNumber, InsurerNumber, MedicalInstitutionCode};
    let mut caller = crate::auth::Caller {
        subject: format!("test-{}-{org}", role.as_str()),
        role,
        insurer: None,
        office: None,
        institution: None,
        scopes: vec![],
        consents: vec![],
    };
    match role {
        Role::Insurer => caller.insurer = Some(InsurerNumber::parse(org).expect("insurer number")),
        Role::CareOffice | Role::ServiceProvider => {
            caller.office = Some(CareOfficeNumber::parse(org).expect("office number"));
        }
        Role::MedicalInstitution => {
            caller.institution = Some(MedicalInstitutionCode::parse(org).expect("institution code"));
        }
        Role::InsuredPerson | Role::Operator => {}
    }
    caller
}

/// The internal secret test contexts seal cached values with.
pub const TEST_SEAL_SECRET: &str = "test-internal-secret-sealing-cached-values";

/// A service's context as `kaigo serve` builds it, on `db`, with the in-process bus and no
/// Redis; the control stops its background tasks.
pub fn context(
    name: &'static str,
    db: sea_orm::DatabaseConnection,
) -> (crate::service::ServiceContext, crate::service::BackgroundControl) {
    let (control, background) = crate::service::Background::new();
    let ctx = crate::service::ServiceContext {
        name,
        server: crate::config::ServerConfig { reflection: false, ..crate::config::ServerConfig::default() },
        reads: crate::db::ReadPool::primary_only(db.clone()),
        db,
        redis: None,
        bus: crate::events::Bus::Local(crate::events::LocalBus::new()),
        background,
        seal: crate::seal::SealSecrets::new(
            &crate::config::Secret::new(TEST_SEAL_SECRET),
            &crate::config::Secret::default(),
        ),
        clock: crate::time::system_clock(),
    };
    (ctx, control)
}

/// One service served on a loopback port behind the caller layer, as behind the gateway:
/// what every service's integration tests start.
pub struct ServiceHarness {
    /// The keys callers are signed with.
    pub keys: crate::auth::CallerKeys,
    /// The service's own connection, for checks the API does not expose (the audit trail).
    pub db: sea_orm::DatabaseConnection,
    /// The server.
    pub server: TestServer,
    background: Option<crate::service::BackgroundControl>,
    _database: Option<TestDatabase>,
}

impl ServiceHarness {
    /// Serves `service` (started on `ctx`); `control` stops `ctx`'s background tasks and
    /// `database` (if any) is dropped with the harness.
    pub async fn serve<S>(
        ctx: &crate::service::ServiceContext,
        control: crate::service::BackgroundControl,
        database: Option<TestDatabase>,
        service: S,
    ) -> Self
    where
        S: tower::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = std::convert::Infallible,
            > + tonic::server::NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        use tower::Layer;
        let keys = crate::auth::CallerKeys::generate();
        let services = crate::server::GrpcServices::new(&ctx.server).expect("services").with_service(service);
        let health = services.health();
        let routes = crate::auth::CallerLayer::new(keys.clone()).layer(services.into_routes());
        let server = TestServer::start(routes, health, &ctx.server).await;
        Self { keys, db: ctx.db.clone(), server, background: Some(control), _database: database }
    }

    /// A channel that signs every call as `caller` (unsigned with `None`).
    pub async fn channel(&self, caller: Option<crate::auth::Caller>) -> SignedChannel {
        SignedChannel::new(self.server.channel().await, self.keys.clone(), caller)
    }

    /// Stops the server (drained), then the background tasks (audit flushed).
    pub async fn shutdown(mut self) {
        self.server.stop().await;
        if let Some(control) = self.background.take() {
            control.stop(Duration::from_secs(10)).await;
        }
    }
}

/// The ErrorInfo reason of a status ("" when it has none).
pub fn reason(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status.get_error_details().error_info().map(|info| info.reason.clone()).unwrap_or_default()
}

/// What [`idempotency_contract`] needs of a service: one write RPC, callable as any caller
/// with any request id, in two variants of its body.
pub struct IdempotentWrite<W> {
    /// The RPC's name (for messages).
    pub rpc: &'static str,
    /// A caller allowed to make the write.
    pub allowed: crate::auth::Caller,
    /// Another caller allowed to make the same kind of write (its own, on its own data).
    pub other: crate::auth::Caller,
    /// A caller who may not make the write on the allowed caller's resource.
    pub refused: crate::auth::Caller,
    /// Makes the write as `caller` with `request_id`; `variant` 0 and 1 are two different
    /// bodies. Returns the encoded response.
    pub write: W,
    /// For a write that names the version it was read at (`expected_version`): the ABORTED
    /// reason of a stale version. Variant 0 names the version before the first write, so once
    /// that write has moved it on, the same body under a new request id must be refused with
    /// it, while retries of the first keep getting the first answer. `None` for a write
    /// without versions.
    pub stale_version: Option<&'static str>,
}

/// The one idempotency contract every service's writes keep, checked against a running
/// service: an identical retry returns the first answer byte for byte; the same request id
/// with another body is ALREADY_EXISTS `REQUEST_ID_REUSED`; another caller's identical request
/// id is its own write, never a replay of someone else's answer; a caller who may not make
/// the write is refused even with a request id already answered for someone else; and, for a
/// versioned write ([`IdempotentWrite::stale_version`]), a retry after the version moved on
/// still gets the first answer while a new write on that version is ABORTED.
pub async fn idempotency_contract<W, Fut>(case: IdempotentWrite<W>)
where
    W: Fn(crate::auth::Caller, String, u8) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<u8>, tonic::Status>>,
{
    let rpc = case.rpc;
    let request_id = uuid::Uuid::new_v4().to_string();
    let first = (case.write)(case.allowed.clone(), request_id.clone(), 0)
        .await
        .unwrap_or_else(|s| panic!("{rpc}: the first write failed: {s:?}"));
    let retry = (case.write)(case.allowed.clone(), request_id.clone(), 0)
        .await
        .unwrap_or_else(|s| panic!("{rpc}: an identical retry failed: {s:?}"));
    assert_eq!(first, retry, "{rpc}: an identical retry must return the first answer");

    if let Some(stale) = case.stale_version {
        let fresh_id = uuid::Uuid::new_v4().to_string();
        let refused = (case.write)(case.allowed.clone(), fresh_id, 0).await;
        let status =
            refused.expect_err(&format!("{rpc}: a new write on the version the first one moved on was accepted"));
        assert_eq!(status.code(), tonic::Code::Aborted, "{rpc}: {status:?}");
        assert_eq!(reason(&status), stale, "{rpc}");
        let retry = (case.write)(case.allowed.clone(), request_id.clone(), 0)
            .await
            .unwrap_or_else(|s| panic!("{rpc}: a retry after the version moved on failed: {s:?}"));
        assert_eq!(first, retry, "{rpc}: a retry naming a stale version must still return the first answer");
    }

    let reused = (case.write)(case.allowed.clone(), request_id.clone(), 1).await;
    let status = reused.expect_err(&format!("{rpc}: a reused request_id with another body was accepted"));
    assert_eq!(status.code(), tonic::Code::AlreadyExists, "{rpc}: {status:?}");
    assert_eq!(reason(&status), "REQUEST_ID_REUSED", "{rpc}");

    let refused = (case.write)(case.refused.clone(), request_id.clone(), 0).await;
    let status = refused.expect_err(&format!("{rpc}: a caller without access got an answer"));
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{rpc}: {status:?}");

    let theirs = (case.write)(case.other.clone(), request_id.clone(), 0)
        .await
        .unwrap_or_else(|s| panic!("{rpc}: another caller's write with the same request_id failed: {s:?}"));
    assert_ne!(theirs, first, "{rpc}: another caller received the first caller's stored answer");
}

pub mod access;

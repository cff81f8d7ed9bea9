//! Starting the built `kaigo` binary and talking to it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// A free loopback port for a child to take, outside the ephemeral range.
pub use kaigo_platform::testkit::free_port;

/// The `kaigo` binary with a clean environment (only PATH), so the developer's own KAIGO_*
/// settings cannot leak into a test.
pub fn kaigo() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kaigo"));
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd.stdin(Stdio::null());
    cmd
}

/// Kills the child when dropped, so a failing test leaves no server behind.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The health status of `service` at `addr`, if it answers.
pub async fn health(addr: &str, service: &str) -> Option<i32> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .ok()?
        .connect_timeout(Duration::from_millis(500))
        .connect()
        .await
        .ok()?;
    let response = HealthClient::new(channel).check(HealthCheckRequest { service: service.to_owned() }).await.ok()?;
    Some(response.get_ref().status)
}

/// SERVING in grpc.health.v1.
pub const SERVING: i32 = 1;
/// NOT_SERVING in grpc.health.v1.
pub const NOT_SERVING: i32 = 2;

/// Sends SIGTERM to a child.
pub fn terminate(child: &Child) {
    let status = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(status.success());
}

/// Adds `authorization: Bearer <token>` to every call, as a client of the gateway does.
#[derive(Clone)]
pub struct Bearer(pub tonic::metadata::AsciiMetadataValue);

impl Bearer {
    pub fn new(token: &str) -> Self {
        Self(format!("Bearer {token}").parse().unwrap())
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// A loopback TCP proxy in front of the shared Redis that a test can cut: [`CuttableProxy::cut`]
/// drops every open connection and refuses new ones until [`CuttableProxy::restore`], so one
/// process loses Redis while the others keep it (the shared server is never touched).
pub struct CuttableProxy {
    pub port: u16,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cuts: tokio::sync::watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl CuttableProxy {
    /// Starts forwarding 127.0.0.1:`port` to the Redis of [`kaigo_platform::testkit::redis_url`].
    pub async fn start() -> Self {
        use std::sync::atomic::Ordering;
        let url = kaigo_platform::testkit::redis_url();
        let target = url.trim_start_matches("redis://").split('/').next().unwrap().to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (cuts, watch) = tokio::sync::watch::channel(0u64);
        let accepting = open.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !accepting.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection close at once
                }
                let target = target.clone();
                let mut cut = watch.clone();
                cut.mark_unchanged();
                tokio::spawn(async move {
                    let Ok(mut upstream) = tokio::net::TcpStream::connect(&target).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self { port, open, cuts, task }
    }

    /// The Redis URL through the proxy.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    /// Forwards again.
    pub fn restore(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The secret `kaigo serve` processes of one [`Stack`] share to sign caller headers.
pub const STACK_SECRET: &str = "an-internal-key-of-at-least-32-bytes!";

/// `kaigo serve <component>` processes on one PostgreSQL database and one Redis prefix, as
/// production runs them: migrated with `kaigo migrate`, configured only through KAIGO_*
/// variables, the gateway holding the public half of a token key the test mints with.
/// Each process writes its log to `<dir>/<component>-<n>.log`.
pub struct Stack {
    // Dropped first (fields drop in order): every process is killed before its files go.
    running: std::collections::BTreeMap<&'static str, (Running, std::path::PathBuf)>,
    pub dir: tempfile::TempDir,
    pub key: kaigo_gateway::DevKey,
    env: Vec<(String, String)>,
    ports: std::collections::BTreeMap<&'static str, u16>,
    launches: usize,
    // Dropped last: every process is gone before the database and the prefix are removed.
    _redis: kaigo_platform::testkit::TestRedis,
    pub db: kaigo_platform::testkit::TestDatabase,
}

/// The gRPC service a component answers health checks for.
pub fn service_name(component: &str) -> &'static str {
    match component {
        "eligibility" => "kaigo.eligibility.v1.EligibilityService",
        "certification" => "kaigo.certification.v1.CertificationService",
        "documents" => "kaigo.documents.v1.DocumentService",
        "registry" => "kaigo.registry.v1.RegistryService",
        _ => "liveness",
    }
}

impl Stack {
    /// The Redis key prefix every process of the stack uses.
    pub fn redis_prefix(&self) -> &str {
        self._redis.prefix()
    }

    /// A database migrated for `services` (by `kaigo migrate`), a Redis prefix, ports for the
    /// services and the gateway. Nothing runs yet.
    pub async fn new(services: &[&'static str]) -> Self {
        let db = kaigo_platform::testkit::TestDatabase::create().await;
        let redis = kaigo_platform::testkit::TestRedis::create().await;
        let dir = tempfile::tempdir().unwrap();
        let key = kaigo_gateway::DevKey::load_or_create(dir.path()).unwrap();
        let files = dir.path().join("files");
        std::fs::create_dir_all(&files).unwrap();
        let mut ports = std::collections::BTreeMap::new();
        let mut env = vec![
            ("KAIGO_DATABASE__URL".to_owned(), db.url().to_owned()),
            ("KAIGO_REDIS__URL".to_owned(), kaigo_platform::testkit::redis_url()),
            ("KAIGO_REDIS__KEY_PREFIX".to_owned(), redis.prefix().to_owned()),
            ("KAIGO_INTERNAL_AUTH__SECRET".to_owned(), STACK_SECRET.to_owned()),
            ("KAIGO_SERVER__DRAIN_DELAY_SECS".to_owned(), "0".to_owned()),
            ("KAIGO_AUTH__ISSUER".to_owned(), "kaigo-dev".to_owned()),
            ("KAIGO_AUTH__AUDIENCE".to_owned(), "kaigo".to_owned()),
            // One path, as an operator writes it (a list-valued key takes one value or several
            // separated by commas).
            ("KAIGO_AUTH__PUBLIC_KEY_FILES".to_owned(), key.public_key_file().display().to_string()),
            ("KAIGO_GATEWAY__REFRESH_SECS".to_owned(), "1".to_owned()),
            ("KAIGO_DOCUMENTS__STORAGE_URL".to_owned(), format!("file://{}", files.display())),
            (
                "KAIGO_DOCUMENTS__ENCRYPTION_KEYS".to_owned(),
                format!(
                    "{},{}",
                    kaigo_documents::blob::crypto::Keyring::generate_entry("k2"),
                    kaigo_documents::blob::crypto::Keyring::generate_entry("k1")
                ),
            ),
        ];
        for service in services.iter().copied().chain(["gateway"]) {
            let port = free_port();
            ports.insert(service, port);
            if service != "gateway" {
                env.push((
                    format!("KAIGO_GATEWAY__UPSTREAMS__{}", service.to_ascii_uppercase()),
                    format!("http://127.0.0.1:{port}"),
                ));
            }
        }
        for service in services {
            let out = kaigo().args(["migrate", service]).envs(env.clone()).output().unwrap();
            assert!(out.status.success(), "kaigo migrate {service}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Self { running: Default::default(), dir, key, env, ports, launches: 0, _redis: redis, db }
    }

    /// `host:port` of a component.
    pub fn addr(&self, component: &str) -> String {
        format!("127.0.0.1:{}", self.ports[component])
    }

    /// Starts `kaigo serve <component>` and waits (up to 60 s: a loaded machine) until it
    /// answers health checks as SERVING; returns that moment.
    pub async fn start(&mut self, component: &'static str) -> std::time::Instant {
        self.start_with(component, &[]).await
    }

    /// [`Stack::start`] with some variables overridden for this process only.
    pub async fn start_with(&mut self, component: &'static str, extra: &[(&str, String)]) -> std::time::Instant {
        self.launches += 1;
        let log = self.dir.path().join(format!("{component}-{}.log", self.launches));
        let child = kaigo()
            .args(["serve", component])
            .envs(self.env.clone())
            .env("KAIGO_SERVER__LISTEN", self.addr(component))
            .envs(extra.iter().map(|(k, v)| (*k, v.clone())))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        self.running.insert(component, (Running(child), log.clone()));
        let addr = self.addr(component);
        let name = service_name(component);
        let up = kaigo_platform::testkit::eventually(Duration::from_secs(60), || async {
            health(&addr, name).await.filter(|s| *s == SERVING)
        })
        .await;
        if up.is_none() {
            panic!("kaigo serve {component} is not SERVING after 60 s; log:\n{}", self.log(component));
        }
        std::time::Instant::now()
    }

    /// Kills a component with SIGKILL (no drain, no last relay pass) and reaps it.
    pub fn kill(&mut self, component: &str) {
        let (mut running, _) = self.running.remove(component).expect("not running");
        running.0.kill().unwrap(); // SIGKILL on Unix
        running.0.wait().unwrap();
    }

    /// The log of the latest process of `component`.
    pub fn log(&self, component: &str) -> String {
        self.running
            .get(component)
            .map(|(_, path)| std::fs::read_to_string(path).unwrap_or_default())
            .unwrap_or_default()
    }
}

/// A one-hour token for `role`; `organisation` is the insurer number, office number or
/// institution code the role carries.
pub fn mint(key: &kaigo_gateway::DevKey, role: &str, organisation: Option<&str>) -> String {
    let now = chrono::Utc::now().timestamp();
    let org = organisation.map(str::to_owned);
    let claims = kaigo_gateway::Claims {
        iss: "kaigo-dev".to_owned(),
        aud: "kaigo".to_owned(),
        sub: format!("flow-{role}"),
        exp: now + 3600,
        nbf: now,
        iat: now,
        role: role.to_owned(),
        insurer_number: org.clone().filter(|_| role == "insurer"),
        office_number: org.clone().filter(|_| role == "care_office" || role == "service_provider"),
        institution_code: org.filter(|_| role == "medical_institution"),
        scope: String::new(),
        consents: Vec::new(),
    };
    key.mint(&claims).unwrap()
}

//! Layered, typed configuration: defaults → `kaigo.toml` → `KAIGO_*` environment.
//!
//! Environment keys are `KAIGO_<SECTION>__<KEY>` (double underscore between levels), e.g.
//! `KAIGO_DATABASE__URL`. The standard `OTEL_EXPORTER_OTLP_ENDPOINT` and `OTEL_SERVICE_NAME`
//! map onto the `telemetry` section. The source is injectable ([`ConfigSource`]), so tests
//! build one by hand and never touch the process environment. Unknown keys are refused, and
//! every error names the key and where it came from; `main` exits with [`EXIT_CONFIG`].

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

/// The process exit code for bad configuration (sysexits EX_USAGE).
pub const EXIT_CONFIG: i32 = 64;

/// Where configuration comes from: an optional TOML file and a list of environment pairs.
#[derive(Debug, Clone, Default)]
pub struct ConfigSource {
    file: Option<PathBuf>,
    env: Vec<(String, String)>,
}

impl ConfigSource {
    /// An empty source: defaults only.
    pub fn new() -> Self {
        Self::default()
    }

    /// The process environment, and the file named by `KAIGO_CONFIG` (or `./kaigo.toml` when it
    /// exists). Call this once, in `main`.
    pub fn from_process() -> Self {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let file = env.iter().find(|(k, _)| k == "KAIGO_CONFIG").map(|(_, v)| PathBuf::from(v)).or_else(|| {
            let default = PathBuf::from("kaigo.toml");
            std::fs::metadata(&default).is_ok().then_some(default)
        });
        Self { file, env }
    }

    /// Reads this TOML file too (it must exist).
    pub fn with_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(path.into());
        self
    }

    /// Adds one environment pair, as if it were set in the process environment.
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Looks up a raw environment value (for the few settings read outside a config struct).
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Extracts and validates `T`, layering defaults, the file and the environment.
    pub fn load<T>(&self) -> Result<T, ConfigError>
    where
        T: Serialize + DeserializeOwned + Default + Validate,
    {
        let mut figment = Figment::from(Serialized::defaults(T::default()));
        if let Some(file) = &self.file {
            if let Err(err) = std::fs::metadata(file) {
                return Err(ConfigError {
                    key: "KAIGO_CONFIG".to_owned(),
                    message: format!("cannot read config file {}: {err}", file.display()),
                });
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        // The defaults' shape tells which keys exist and which hold lists.
        let shape = Value::serialize(T::default()).map_err(ConfigError::from_figment)?;
        let env = EnvPairs::new(&self.env, &shape)?;
        figment = figment.merge(env);
        let config: T = figment.extract().map_err(ConfigError::from_figment)?;
        let mut problems = Problems::default();
        config.validate(&mut problems);
        match problems.0.into_iter().next() {
            Some((key, message)) => {
                let origin = figment
                    .find_metadata(&key)
                    .map(|md| describe_origin(md, &key.split('.').collect::<Vec<_>>()))
                    .filter(|origin| origin != "default")
                    .unwrap_or_else(|| format!("not set; {}", EnvPairs::variable_for(&key)));
                Err(ConfigError { key: format!("{key} ({origin})"), message })
            }
            None => Ok(config),
        }
    }
}

/// Where a value came from, as an operator would look for it: `environment variable
/// KAIGO_SERVER__LISTEN`, `file /etc/kaigo/kaigo.toml`, or `default`.
fn describe_origin(md: &Metadata, keys: &[&str]) -> String {
    match &md.source {
        Some(figment::Source::File(path)) => format!("file {}", path.display()),
        _ if md.name == ENV_PROVIDER => format!("{ENV_PROVIDER} {}", md.interpolate(&Profile::Default, keys)),
        _ => "default".to_owned(),
    }
}

/// The name of the environment provider in figment's metadata.
const ENV_PROVIDER: &str = "environment variable";

/// Maps `KAIGO_A__B=v` to `a.b = v`, and the standard OpenTelemetry variables onto `telemetry`.
/// A list-valued key takes a TOML array (`["a", "b"]`), one value, or comma-separated values.
struct EnvPairs(Vec<(String, Value)>);

impl EnvPairs {
    /// The pairs that are configuration, each parsed for its key's type (`shape`: the
    /// defaults). A `KAIGO_` name that spells a setting with single underscores
    /// (`KAIGO_SERVER_LISTEN`) is refused with the name it should have; other single-level
    /// names (`KAIGO_CONFIG`, `KAIGO_TOKEN` …) belong to the tools and are left alone.
    fn new(env: &[(String, String)], shape: &Value) -> Result<Self, ConfigError> {
        let mut pairs = Vec::new();
        for (name, value) in env {
            let Some(key) = Self::key_for(name) else {
                if let Some(message) = Self::misspelt(name, shape) {
                    return Err(ConfigError { key: format!("{ENV_PROVIDER} {name}"), message });
                }
                continue;
            };
            let list = matches!(shape.find_ref(&key), Some(Value::Array(..)));
            let parsed = if list && !value.trim_start().starts_with('[') {
                let items: Vec<String> =
                    value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
                Value::from(items)
            } else {
                value.parse().unwrap_or_else(|never| match never {})
            };
            pairs.push((key, parsed));
        }
        Ok(Self(pairs))
    }

    /// Why a single-level `KAIGO_` name is refused, when it looks like a setting.
    fn misspelt(name: &str, shape: &Value) -> Option<String> {
        let rest = name.strip_prefix("KAIGO_")?.to_ascii_lowercase();
        let Value::Dict(_, sections) = shape else { return None };
        let section =
            sections.keys().filter(|s| rest == **s || rest.starts_with(&format!("{s}_"))).max_by_key(|s| s.len())?;
        // Walk the rest down the settings, one known key at a time.
        let mut path = vec![section.clone()];
        let mut node = &sections[section];
        let mut left = rest[section.len()..].trim_start_matches('_').to_owned();
        while let (Value::Dict(_, keys), false) = (node, left.is_empty()) {
            let Some(key) =
                keys.keys().filter(|k| left == **k || left.starts_with(&format!("{k}_"))).max_by_key(|k| k.len())
            else {
                break;
            };
            path.push(key.clone());
            node = &keys[key];
            left = left[key.len()..].trim_start_matches('_').to_owned();
        }
        let hint = if left.is_empty() && path.len() > 1 {
            format!("did you mean {}? ", Self::variable_for(&path.join(".")))
        } else {
            String::new()
        };
        Some(format!(
            "is not a setting: {hint}settings are KAIGO_<SECTION>__<KEY>, with two underscores between levels \
             (unset the variable if it is not meant for kaigo)"
        ))
    }

    /// The variable that sets a dotted key.
    fn variable_for(key: &str) -> String {
        match key {
            "telemetry.otlp_endpoint" => "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
            "telemetry.service_name" => "OTEL_SERVICE_NAME".to_owned(),
            _ => format!("KAIGO_{}", key.split('.').map(str::to_ascii_uppercase).collect::<Vec<_>>().join("__")),
        }
    }

    fn key_for(name: &str) -> Option<String> {
        match name {
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("telemetry.otlp_endpoint".to_owned()),
            "OTEL_SERVICE_NAME" => Some("telemetry.service_name".to_owned()),
            // Only sectioned keys are configuration; single-level KAIGO_ names (KAIGO_CONFIG,
            // KAIGO_TOKEN …) belong to the CLI.
            _ => name
                .strip_prefix("KAIGO_")
                .filter(|rest| rest.contains("__"))
                .map(|rest| rest.split("__").map(str::to_ascii_lowercase).collect::<Vec<_>>().join(".")),
        }
    }
}

impl Provider for EnvPairs {
    fn metadata(&self) -> Metadata {
        Metadata::named(ENV_PROVIDER).interpolater(|_profile, keys| Self::variable_for(&keys.join(".")))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (key, parsed) in &self.0 {
            if let Some(nested) = figment::util::nest(key, parsed.clone()).into_dict() {
                dict = merge_dicts(dict, nested);
            }
        }
        Ok(Profile::Default.collect(dict))
    }
}

fn merge_dicts(mut into: Dict, from: Dict) -> Dict {
    for (key, value) in from {
        let merged = match (into.remove(&key), value) {
            (Some(Value::Dict(_, a)), Value::Dict(tag, b)) => Value::Dict(tag, merge_dicts(a, b)),
            (_, value) => value,
        };
        into.insert(key, merged);
    }
    into
}

/// A configuration problem: the key (as an operator would set it) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The key and where its value came from, e.g.
    /// `database.url (environment variable KAIGO_DATABASE__URL)` or
    /// `server.listen (file /etc/kaigo/kaigo.toml)`.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    fn from_figment(err: figment::Error) -> Self {
        let path = err.path.join(".");
        let origin = err
            .metadata
            .as_ref()
            .map(|md| {
                let keys: Vec<&str> = err.path.iter().map(String::as_str).collect();
                format!(" ({})", describe_origin(md, &keys))
            })
            .unwrap_or_default();
        let key = if path.is_empty() { "(root)".to_owned() } else { path };
        Self { key: format!("{key}{origin}"), message: plain_backticks(&err.kind.to_string()) }
    }
}

/// figment quotes names in backticks that serde's messages already carry (``url``): one pair.
fn plain_backticks(message: &str) -> String {
    let mut out = message.to_owned();
    while out.contains("``") {
        out = out.replace("``", "`");
    }
    out
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: {}: {}", self.key, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Problems found by [`Validate`], each naming its key.
#[derive(Debug, Default)]
pub struct Problems(Vec<(String, String)>);

impl Problems {
    /// Records that `key` is invalid.
    pub fn add(&mut self, key: &str, message: impl Into<String>) {
        self.0.push((key.to_owned(), message.into()));
    }
}

/// Checks that go beyond types: ranges, URL schemes, combinations.
pub trait Validate {
    /// Records every problem in `problems`, naming the key.
    fn validate(&self, problems: &mut Problems);
}

/// A secret value: never printed by `Debug`, accepted from a string or a number.
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when no value was configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "Secret(<empty>)" } else { "Secret(<redacted>)" })
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Int(i64),
            Float(f64),
        }
        Ok(Secret(match Raw::deserialize(d)? {
            Raw::Text(s) => s,
            Raw::Int(n) => n.to_string(),
            Raw::Float(n) => n.to_string(),
        }))
    }
}

/// For `#[serde(deserialize_with = …)]` on a list of secrets: a list, or one string of
/// comma-separated items — what an environment variable filled from a Kubernetes Secret holds
/// (`KAIGO_DOCUMENTS__ENCRYPTION_KEYS=k2:…,k1:…`). Empty items are dropped.
pub fn secrets_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Secret>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<Secret>),
        One(Secret),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::List(items) => items,
        Raw::One(text) => text.expose().split(',').map(str::trim).filter(|s| !s.is_empty()).map(Secret::new).collect(),
    })
}

// === the sections every service shares ===

/// `[server]`: the gRPC listener.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on, e.g. `0.0.0.0:50051`.
    pub listen: String,
    /// Largest message accepted or sent, in bytes.
    pub max_message_bytes: usize,
    /// Serve gRPC reflection (grpcurl, ghz).
    pub reflection: bool,
    /// On SIGTERM: seconds to keep serving while readiness reports NOT_SERVING, so load
    /// balancers stop sending before the listener closes.
    pub drain_delay_secs: u64,
    /// On SIGTERM: seconds to wait for in-flight calls before closing anyway.
    pub shutdown_grace_secs: u64,
    /// Concurrent requests per connection before new ones wait.
    pub concurrency_per_connection: usize,
    /// Close connections after this many seconds so clients rebalance across replicas.
    pub max_connection_age_secs: u64,
    /// Threads of the async runtime (`kaigo serve`); 0: one per CPU the process may use (the
    /// container's CPU limit counts), or `TOKIO_WORKER_THREADS` when set. One thread costs
    /// about 15 % less CPU a call below saturation (3–25 % in four runs), and caps the process
    /// at one core of calls
    /// (loadtest/README.md#cost-at-rate, docs/capacity.md).
    pub worker_threads: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:50051".to_owned(),
            max_message_bytes: 4 * 1024 * 1024,
            reflection: true,
            drain_delay_secs: 0,
            shutdown_grace_secs: 20,
            concurrency_per_connection: 256,
            max_connection_age_secs: 300,
            worker_threads: 0,
        }
    }
}

/// More runtime threads than this is a typo, not a machine.
const MAX_WORKER_THREADS: usize = 1024;

impl ServerConfig {
    /// The shutdown grace period.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
}

impl Validate for ServerConfig {
    fn validate(&self, problems: &mut Problems) {
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            problems.add("server.listen", "must be an IP address and port, e.g. 0.0.0.0:50051");
        }
        if !(1024..=256 * 1024 * 1024).contains(&self.max_message_bytes) {
            problems.add("server.max_message_bytes", "must be between 1 KiB and 256 MiB");
        }
        if self.concurrency_per_connection == 0 {
            problems.add("server.concurrency_per_connection", "must be at least 1");
        }
        if self.worker_threads > MAX_WORKER_THREADS {
            problems.add("server.worker_threads", format!("must be at most {MAX_WORKER_THREADS} (0: one per CPU)"));
        }
    }
}

/// `[database]`: PostgreSQL in production, SQLite in `kaigo dev`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `postgres://user@host:5432/db` or `sqlite:///path/to/dir` (a directory: one file per
    /// service). Each service keeps its tables in its own PostgreSQL schema.
    pub url: Secret,
    /// Pool size per service.
    pub max_connections: u32,
    /// Milliseconds a call waits for a pooled connection, opening a new one included (the
    /// pool's acquire timeout). Past it the call answers UNAVAILABLE with RetryInfo: with the
    /// database down a call fails in this time instead of waiting for its deadline.
    pub acquire_timeout_ms: u64,
    /// Milliseconds a starting process (`kaigo serve`, `kaigo migrate`) waits for the database
    /// to accept its first connection (the database may still be starting); then it gives up.
    pub connect_timeout_ms: u64,
    /// PostgreSQL streaming replicas the services read from (`db::reads`, docs/architecture.md
    /// §"Read replicas"): a list, or one string of comma-separated URLs as a Kubernetes Secret
    /// holds it. Empty (the default): every read goes to `url`. PostgreSQL only.
    #[serde(deserialize_with = "secrets_list")]
    pub read_urls: Vec<Secret>,
    /// The most a replica may lag behind the primary and still be read from, milliseconds
    /// (measured by the health check against the primary's WAL position).
    pub max_replica_lag_ms: u64,
    /// Milliseconds between two health checks of the replicas (recovery state, replayed WAL).
    pub replica_check_ms: u64,
    /// How many persons (or callers) with a write not yet replayed everywhere are remembered;
    /// past it every read waits for the replicas to pass all of them (never a stale read).
    pub read_your_writes_keys: usize,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: Secret::default(),
            max_connections: 16,
            acquire_timeout_ms: 1_000,
            connect_timeout_ms: 10_000,
            read_urls: Vec::new(),
            max_replica_lag_ms: 5_000,
            replica_check_ms: 500,
            read_your_writes_keys: 100_000,
        }
    }
}

impl Validate for DatabaseConfig {
    fn validate(&self, problems: &mut Problems) {
        let url = self.url.expose();
        if !(url.is_empty()
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://")
            || url.starts_with("sqlite:"))
        {
            problems.add("database.url", "must start with postgres:// or sqlite:");
        }
        if self.max_connections == 0 {
            problems.add("database.max_connections", "must be at least 1");
        }
        if !(10..=60_000).contains(&self.acquire_timeout_ms) {
            problems.add("database.acquire_timeout_ms", "must be between 10 and 60000");
        }
        if !(10..=600_000).contains(&self.connect_timeout_ms) {
            problems.add("database.connect_timeout_ms", "must be between 10 and 600000");
        }
        if !self.read_urls.is_empty() && url.starts_with("sqlite:") {
            problems.add(
                "database.read_urls",
                "read replicas need PostgreSQL; database.url is a SQLite directory (kaigo dev has no replicas)",
            );
        }
        for (i, read) in self.read_urls.iter().enumerate() {
            let read = read.expose();
            if !(read.starts_with("postgres://") || read.starts_with("postgresql://")) {
                // The position, never the value: a URL may carry a password.
                problems.add("database.read_urls", format!("entry {} must start with postgres://", i + 1));
            }
        }
        if !(50..=60_000).contains(&self.replica_check_ms) {
            problems.add("database.replica_check_ms", "must be between 50 and 60000");
        }
        if !(100..=3_600_000).contains(&self.max_replica_lag_ms) || self.max_replica_lag_ms < 2 * self.replica_check_ms
        {
            problems.add(
                "database.max_replica_lag_ms",
                "must be between 100 and 3600000 and at least twice database.replica_check_ms",
            );
        }
        if !(1..=10_000_000).contains(&self.read_your_writes_keys) {
            problems.add("database.read_your_writes_keys", "must be between 1 and 10000000");
        }
    }
}

/// `[redis]`: cache tier 2, cache invalidation and the event streams.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// `redis://host:6379/0` (or `rediss://`); empty means in-process only (`kaigo dev`).
    /// With `cluster`, one or more seed nodes of the cluster, separated by commas
    /// (`redis://node-a:6379,redis://node-b:6379`); the client learns the other nodes from
    /// them (percent-encode a comma in a password as `%2C`). A cluster has database 0 only.
    pub url: Secret,
    /// Prefix of every key and stream name, so several deployments or tests share one server.
    pub key_prefix: String,
    /// Connect as a Redis Cluster client (national scale): commands go to the node owning
    /// their hash slot, keys used together share a hash tag, pub/sub spans the cluster.
    pub cluster: bool,
}

impl RedisConfig {
    /// The seed node URLs of `redis.url`: one URL, or several separated by commas.
    pub fn seed_urls(&self) -> impl Iterator<Item = &str> {
        self.url.expose().split(',').map(str::trim).filter(|u| !u.is_empty())
    }
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self { url: Secret::default(), key_prefix: "kaigo:".to_owned(), cluster: false }
    }
}

impl Validate for RedisConfig {
    fn validate(&self, problems: &mut Problems) {
        let url = self.url.expose();
        let is_redis_url = |u: &str| u.starts_with("redis://") || u.starts_with("rediss://");
        if self.cluster {
            let seeds: Vec<&str> = self.seed_urls().collect();
            if seeds.is_empty() {
                problems.add("redis.url", "is required with redis.cluster: the cluster's seed nodes, comma-separated");
            } else if !seeds.iter().all(|u| is_redis_url(u)) {
                problems.add("redis.url", "every seed node must start with redis:// or rediss://");
            } else if url.split(',').any(|u| u.trim().is_empty()) {
                problems.add("redis.url", "has an empty entry in its comma-separated seed nodes");
            }
            if self.key_prefix.contains(['{', '}']) {
                // A hash tag in the prefix would put every key in one slot, on one node.
                problems.add("redis.key_prefix", "must not contain { or } with redis.cluster (it would be a hash tag)");
            }
        } else if !(url.is_empty() || is_redis_url(url)) {
            problems.add("redis.url", "must start with redis:// or rediss://");
        }
    }
}

/// `[telemetry]`: logs, traces and metrics.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// An EnvFilter directive, e.g. `info` or `info,kaigo_gateway=debug`.
    pub log_level: String,
    /// `json` (production) or `text` (a terminal).
    pub log_format: String,
    /// OTLP/gRPC endpoint; traces and metrics are exported only when set
    /// (`OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub otlp_endpoint: Option<String>,
    /// The service name reported to OTLP (`OTEL_SERVICE_NAME`); defaults to `kaigo-<component>`.
    pub service_name: Option<String>,
    /// The share of new traces recorded, 0.0–1.0 (parent-based: a call follows its caller's
    /// decision; only a trace that starts here is sampled at this ratio). Default 1.0. Applies
    /// only with an `otlp_endpoint`: without one no span is recorded.
    pub sample_ratio: f64,
    /// `host:port` of the admin listener serving Prometheus metrics at `GET /metrics`; empty
    /// (the default) serves none.
    pub metrics_listen: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_level: "info".to_owned(),
            log_format: "json".to_owned(),
            otlp_endpoint: None,
            service_name: None,
            sample_ratio: 1.0,
            metrics_listen: String::new(),
        }
    }
}

impl Validate for TelemetryConfig {
    fn validate(&self, problems: &mut Problems) {
        if !matches!(self.log_format.as_str(), "json" | "text") {
            problems.add("telemetry.log_format", "must be json or text");
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log_level).is_err() {
            problems
                .add("telemetry.log_level", "is not a valid filter directive (e.g. info, or info,kaigo_gateway=debug)");
        }
        if let Some(endpoint) = &self.otlp_endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            problems.add("telemetry.otlp_endpoint", "must be an http:// or https:// URL");
        }
        if !(0.0..=1.0).contains(&self.sample_ratio) {
            problems.add("telemetry.sample_ratio", "must be between 0.0 and 1.0");
        }
        if !self.metrics_listen.is_empty() && self.metrics_listen.parse::<std::net::SocketAddr>().is_err() {
            problems.add("telemetry.metrics_listen", "must be host:port with an IP address, e.g. 0.0.0.0:9464");
        }
    }
}

/// `[internal_auth]`: how services trust the caller context the gateway sends.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct InternalAuthConfig {
    /// The HMAC-SHA256 key the gateway signs caller headers with (at least 32 bytes).
    pub secret: Secret,
    /// Identifies `secret`; services accept both keys during a rotation.
    pub key_id: String,
    /// The previous key, still accepted during a rotation (empty when none).
    pub previous_secret: Secret,
    /// The previous key's id.
    pub previous_key_id: String,
    /// Seconds a signed header stays valid (limits replay of a captured header).
    pub max_age_secs: u64,
}

impl Default for InternalAuthConfig {
    fn default() -> Self {
        Self {
            secret: Secret::default(),
            key_id: "k1".to_owned(),
            previous_secret: Secret::default(),
            previous_key_id: String::new(),
            max_age_secs: 60,
        }
    }
}

impl Validate for InternalAuthConfig {
    fn validate(&self, problems: &mut Problems) {
        if !self.secret.is_empty() && self.secret.expose().len() < 32 {
            problems.add("internal_auth.secret", "must be at least 32 bytes");
        }
        if !self.previous_secret.is_empty() && self.previous_key_id.is_empty() {
            problems.add("internal_auth.previous_key_id", "is required with internal_auth.previous_secret");
        }
    }
}

#[cfg(test)]
mod tests;

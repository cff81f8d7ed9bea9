use super::*;

#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
struct TestConfig {
    server: ServerConfig,
    database: DatabaseConfig,
    telemetry: TelemetryConfig,
}

impl Validate for TestConfig {
    fn validate(&self, problems: &mut Problems) {
        self.server.validate(problems);
        self.database.validate(problems);
        self.telemetry.validate(problems);
    }
}

#[test]
fn defaults_apply_without_any_source() {
    let config: TestConfig = ConfigSource::new().load().unwrap();
    assert_eq!(config.server, ServerConfig::default());
}

#[test]
fn environment_overrides_the_file_which_overrides_defaults() {
    let dir = tempfile_dir();
    let file = dir.join("kaigo.toml");
    std::fs::write(&file, "[server]\nlisten = \"0.0.0.0:6000\"\nmax_message_bytes = 2048\n").unwrap();
    let config: TestConfig = ConfigSource::new()
        .with_file(&file)
        .with_env("KAIGO_SERVER__LISTEN", "127.0.0.1:7000")
        .with_env("KAIGO_DATABASE__URL", "postgres://127.0.0.1/test")
        .with_env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
        .with_env("PATH", "/usr/bin")
        .with_env("KAIGO_TOKEN", "not-config")
        .load()
        .unwrap();
    assert_eq!(config.server.listen, "127.0.0.1:7000");
    assert_eq!(config.server.max_message_bytes, 2048);
    assert_eq!(config.database.url.expose(), "postgres://127.0.0.1/test");
    assert_eq!(config.telemetry.otlp_endpoint.as_deref(), Some("http://127.0.0.1:4317"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_unknown_key_is_refused_naming_the_variable() {
    let err = ConfigSource::new().with_env("KAIGO_DATABASE__URLL", "x").load::<TestConfig>().unwrap_err();
    assert!(err.to_string().contains("urll"), "{err}");
}

#[test]
fn a_wrong_type_names_the_key_and_its_source() {
    let err = ConfigSource::new().with_env("KAIGO_SERVER__MAX_MESSAGE_BYTES", "lots").load::<TestConfig>().unwrap_err();
    assert!(err.key.contains("server.max_message_bytes"), "{err}");
    assert!(err.key.contains("KAIGO_SERVER__MAX_MESSAGE_BYTES"), "{err}");
}

#[test]
fn validation_names_the_key_and_the_variable_it_came_from() {
    let err = ConfigSource::new().with_env("KAIGO_SERVER__LISTEN", "nowhere").load::<TestConfig>().unwrap_err();
    assert_eq!(err.key, "server.listen (environment variable KAIGO_SERVER__LISTEN)");
    let err = ConfigSource::new().with_env("KAIGO_DATABASE__URL", "mysql://x").load::<TestConfig>().unwrap_err();
    assert_eq!(err.key, "database.url (environment variable KAIGO_DATABASE__URL)");
    let err = ConfigSource::new().with_env("KAIGO_TELEMETRY__LOG_FORMAT", "xml").load::<TestConfig>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: telemetry.log_format (environment variable KAIGO_TELEMETRY__LOG_FORMAT): must be json or text"
    );
}

#[test]
fn worker_threads_are_the_runtime_default_unless_set_and_a_typo_is_refused() {
    let config: TestConfig = ConfigSource::new().load().unwrap();
    assert_eq!(config.server.worker_threads, 0, "0: one thread per CPU, tokio's own choice");
    let config: TestConfig = ConfigSource::new().with_env("KAIGO_SERVER__WORKER_THREADS", "1").load().unwrap();
    assert_eq!(config.server.worker_threads, 1);
    let err = ConfigSource::new().with_env("KAIGO_SERVER__WORKER_THREADS", "10000").load::<TestConfig>().unwrap_err();
    assert_eq!(err.key, "server.worker_threads (environment variable KAIGO_SERVER__WORKER_THREADS)");
    assert!(err.message.contains("at most 1024"), "{err}");
    let err = ConfigSource::new().with_env("KAIGO_SERVER__WORKER_THREADS", "-1").load::<TestConfig>().unwrap_err();
    assert!(err.key.contains("server.worker_threads"), "{err}");
}

#[test]
fn validation_names_the_file_a_value_came_from() {
    let dir = tempfile_dir();
    let file = dir.join("kaigo.toml");
    std::fs::write(&file, "[server]\nlisten = \"nowhere\"\n").unwrap();
    let err = ConfigSource::new().with_file(&file).load::<TestConfig>().unwrap_err();
    assert_eq!(err.key, format!("server.listen (file {})", file.display()));
    std::fs::write(&file, "[server]\nmax_message_bytes = \"lots\"\n").unwrap();
    let err = ConfigSource::new().with_file(&file).load::<TestConfig>().unwrap_err();
    assert_eq!(err.key, format!("server.max_message_bytes (file {})", file.display()));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_default_that_does_not_validate_says_which_variable_sets_it() {
    let err = ConfigSource::new().with_env("KAIGO_REDIS__CLUSTER", "true").load::<WithRedis>().unwrap_err();
    assert_eq!(err.key, "redis.url (not set; KAIGO_REDIS__URL)");
}

#[test]
fn a_misspelt_variable_is_refused_with_the_name_it_should_have() {
    let err = ConfigSource::new().with_env("KAIGO_SERVER_LISTEN", "127.0.0.1:1").load::<TestConfig>().unwrap_err();
    assert_eq!(err.key, "environment variable KAIGO_SERVER_LISTEN");
    assert!(err.message.contains("did you mean KAIGO_SERVER__LISTEN?"), "{err}");
    let err = ConfigSource::new().with_env("KAIGO_SERVER_MAX_MESSAGE_BYTES", "2048").load::<TestConfig>().unwrap_err();
    assert!(err.message.contains("did you mean KAIGO_SERVER__MAX_MESSAGE_BYTES?"), "{err}");
    // A section alone (Kubernetes service links: KAIGO_GATEWAY_PORT …) has no key to suggest.
    let err = ConfigSource::new().with_env("KAIGO_DATABASE_PORT", "tcp://x").load::<TestConfig>().unwrap_err();
    assert!(err.message.contains("is not a setting") && !err.message.contains("did you mean"), "{err}");
    // The tools' own variables are not settings and are left alone.
    let config: TestConfig = ConfigSource::new()
        .with_env("KAIGO_CONFIG", "/nonexistent-but-not-read-here")
        .with_env("KAIGO_TOKEN", "t")
        .with_env("KAIGO_BIN", "/usr/bin/kaigo")
        .load()
        .unwrap();
    assert_eq!(config.server, ServerConfig::default());
}

#[test]
fn errors_quote_names_once() {
    let err = ConfigSource::new().with_env("KAIGO_DATABASE__URLL", "x").load::<TestConfig>().unwrap_err();
    assert!(!err.to_string().contains("``"), "{err}");
    assert!(err.key.contains("KAIGO_DATABASE__URLL"), "{err}");
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct WithLists {
    lists: Lists,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Lists {
    files: Vec<String>,
    #[serde(deserialize_with = "secrets_list")]
    keys: Vec<Secret>,
}

impl Validate for WithLists {
    fn validate(&self, _: &mut Problems) {}
}

#[test]
fn a_list_takes_one_value_comma_separated_values_or_an_array() {
    let load = |value: &str| -> Vec<String> {
        ConfigSource::new().with_env("KAIGO_LISTS__FILES", value).load::<WithLists>().unwrap().lists.files
    };
    assert_eq!(load("/etc/kaigo/idp.pem"), ["/etc/kaigo/idp.pem"]);
    assert_eq!(load("/a.pem, /b.pem"), ["/a.pem", "/b.pem"]);
    assert_eq!(load("[\"/a.pem\", \"/b.pem\"]"), ["/a.pem", "/b.pem"]);
    assert_eq!(load("12345"), ["12345"], "a number-looking value is still one item");
    let keys = ConfigSource::new().with_env("KAIGO_LISTS__KEYS", "k2:abc,k1:def").load::<WithLists>().unwrap();
    assert_eq!(keys.lists.keys.iter().map(Secret::expose).collect::<Vec<_>>(), ["k2:abc", "k1:def"]);
}

#[test]
fn numeric_secrets_stay_strings_and_never_print() {
    let config: TestConfig =
        ConfigSource::new().with_env("KAIGO_DATABASE__URL", "postgres://u:0123@h/db").load().unwrap();
    assert!(!format!("{config:?}").contains("0123"));
}

#[test]
fn a_missing_config_file_is_an_error() {
    let err = ConfigSource::new().with_file("/nonexistent/kaigo.toml").load::<TestConfig>().unwrap_err();
    assert_eq!(err.key, "KAIGO_CONFIG");
}

/// The dotted key an error names, without where its value came from.
fn setting(err: &ConfigError) -> &str {
    err.key.split(" (").next().unwrap_or_default()
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kaigo-config-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct WithRedis {
    redis: RedisConfig,
}

impl Validate for WithRedis {
    fn validate(&self, problems: &mut Problems) {
        self.redis.validate(problems);
    }
}

#[test]
fn redis_cluster_takes_one_or_more_seed_nodes() {
    let config: WithRedis = ConfigSource::new()
        .with_env("KAIGO_REDIS__CLUSTER", "true")
        .with_env("KAIGO_REDIS__URL", "redis://node-a:6379, redis://node-b:6379")
        .load()
        .unwrap();
    assert!(config.redis.cluster);
    let seeds: Vec<&str> = config.redis.seed_urls().collect();
    assert_eq!(seeds, ["redis://node-a:6379", "redis://node-b:6379"]);
    let one: WithRedis = ConfigSource::new()
        .with_env("KAIGO_REDIS__CLUSTER", "true")
        .with_env("KAIGO_REDIS__URL", "rediss://node-a:6380")
        .load()
        .unwrap();
    assert_eq!(one.redis.seed_urls().count(), 1);
}

#[test]
fn redis_cluster_without_a_url_or_with_a_bad_seed_names_the_key() {
    let err = ConfigSource::new().with_env("KAIGO_REDIS__CLUSTER", "true").load::<WithRedis>().unwrap_err();
    assert_eq!(setting(&err), "redis.url");
    for url in ["redis://a:6379,http://b:6379", "redis://a:6379,,redis://b:6379", "redis://a:6379,"] {
        let err = ConfigSource::new()
            .with_env("KAIGO_REDIS__CLUSTER", "true")
            .with_env("KAIGO_REDIS__URL", url)
            .load::<WithRedis>()
            .unwrap_err();
        assert_eq!(setting(&err), "redis.url", "{url}");
    }
    let err = ConfigSource::new()
        .with_env("KAIGO_REDIS__CLUSTER", "true")
        .with_env("KAIGO_REDIS__URL", "redis://a:6379")
        .with_env("KAIGO_REDIS__KEY_PREFIX", "{kaigo}:")
        .load::<WithRedis>()
        .unwrap_err();
    assert_eq!(setting(&err), "redis.key_prefix");
}

#[test]
fn a_single_server_url_is_checked_as_before() {
    let config: WithRedis =
        ConfigSource::new().with_env("KAIGO_REDIS__URL", "redis://127.0.0.1:6379/0").load().unwrap();
    assert!(!config.redis.cluster);
    let empty: WithRedis = ConfigSource::new().load().unwrap();
    assert!(empty.redis.url.is_empty());
    let err = ConfigSource::new().with_env("KAIGO_REDIS__URL", "memcached://x").load::<WithRedis>().unwrap_err();
    assert_eq!(setting(&err), "redis.url");
}

#[test]
fn the_sample_ratio_and_the_metrics_listener_are_validated() {
    // As the chart writes it (toString of 1.0 is "1") and as an operator does.
    for (text, ratio) in [("1", 1.0), ("0.01", 0.01), ("0", 0.0)] {
        let config = ConfigSource::new().with_env("KAIGO_TELEMETRY__SAMPLE_RATIO", text).load::<TestConfig>().unwrap();
        assert_eq!(config.telemetry.sample_ratio, ratio, "{text}");
    }
    let err = ConfigSource::new().with_env("KAIGO_TELEMETRY__SAMPLE_RATIO", "1.5").load::<TestConfig>().unwrap_err();
    assert_eq!(err.key, "telemetry.sample_ratio (environment variable KAIGO_TELEMETRY__SAMPLE_RATIO)");
    let config =
        ConfigSource::new().with_env("KAIGO_TELEMETRY__METRICS_LISTEN", "0.0.0.0:9464").load::<TestConfig>().unwrap();
    assert_eq!(config.telemetry.metrics_listen, "0.0.0.0:9464");
    let err = ConfigSource::new()
        .with_env("KAIGO_TELEMETRY__METRICS_LISTEN", "metrics:9464")
        .load::<TestConfig>()
        .unwrap_err();
    assert_eq!(err.key, "telemetry.metrics_listen (environment variable KAIGO_TELEMETRY__METRICS_LISTEN)");
}

#[test]
fn the_database_timeouts_are_milliseconds_within_their_ranges() {
    let config = ConfigSource::new()
        .with_env("KAIGO_DATABASE__ACQUIRE_TIMEOUT_MS", "250")
        .with_env("KAIGO_DATABASE__CONNECT_TIMEOUT_MS", "30000")
        .load::<TestConfig>()
        .unwrap();
    assert_eq!((config.database.acquire_timeout_ms, config.database.connect_timeout_ms), (250, 30_000));
    for (variable, value, key) in [
        ("KAIGO_DATABASE__ACQUIRE_TIMEOUT_MS", "0", "database.acquire_timeout_ms"),
        ("KAIGO_DATABASE__ACQUIRE_TIMEOUT_MS", "60001", "database.acquire_timeout_ms"),
        ("KAIGO_DATABASE__CONNECT_TIMEOUT_MS", "5", "database.connect_timeout_ms"),
    ] {
        let err = ConfigSource::new().with_env(variable, value).load::<TestConfig>().unwrap_err();
        assert_eq!(err.key, format!("{key} (environment variable {variable})"), "{value}");
    }
}

#[test]
fn read_replica_urls_are_a_list_or_comma_separated_and_validated_by_position() {
    let config = ConfigSource::new()
        .with_env("KAIGO_DATABASE__URL", "postgres://primary/kaigo")
        .with_env("KAIGO_DATABASE__READ_URLS", "postgres://replica-a/kaigo, postgresql://replica-b/kaigo")
        .load::<TestConfig>()
        .unwrap();
    let reads: Vec<&str> = config.database.read_urls.iter().map(Secret::expose).collect();
    assert_eq!(reads, ["postgres://replica-a/kaigo", "postgresql://replica-b/kaigo"]);
    // A URL may carry a password: the error names the entry, never its value.
    let err = ConfigSource::new()
        .with_env("KAIGO_DATABASE__READ_URLS", "postgres://replica-a/kaigo,mysql://user:hunter2@b/kaigo")
        .load::<TestConfig>()
        .unwrap_err();
    assert_eq!(err.key, "database.read_urls (environment variable KAIGO_DATABASE__READ_URLS)");
    assert_eq!(err.message, "entry 2 must start with postgres://");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    // SQLite (kaigo dev) has no replicas: refused, not ignored.
    let err = ConfigSource::new()
        .with_env("KAIGO_DATABASE__URL", "sqlite:///tmp/kaigo")
        .with_env("KAIGO_DATABASE__READ_URLS", "postgres://replica-a/kaigo")
        .load::<TestConfig>()
        .unwrap_err();
    assert!(err.key.starts_with("database.read_urls"), "{err}");
    assert!(err.message.contains("PostgreSQL"), "{err}");
}

#[test]
fn the_replica_lag_bound_must_cover_two_health_checks() {
    let config = ConfigSource::new()
        .with_env("KAIGO_DATABASE__MAX_REPLICA_LAG_MS", "1000")
        .with_env("KAIGO_DATABASE__REPLICA_CHECK_MS", "250")
        .load::<TestConfig>()
        .unwrap();
    assert_eq!((config.database.max_replica_lag_ms, config.database.replica_check_ms), (1_000, 250));
    for (pairs, key) in [
        (vec![("KAIGO_DATABASE__MAX_REPLICA_LAG_MS", "900")], "database.max_replica_lag_ms"),
        (vec![("KAIGO_DATABASE__REPLICA_CHECK_MS", "10")], "database.replica_check_ms"),
        (vec![("KAIGO_DATABASE__READ_YOUR_WRITES_KEYS", "0")], "database.read_your_writes_keys"),
    ] {
        let source = pairs.iter().fold(ConfigSource::new(), |s, (k, v)| s.with_env(*k, *v));
        let err = source.load::<TestConfig>().unwrap_err();
        assert!(err.key.starts_with(key), "{err}");
    }
}

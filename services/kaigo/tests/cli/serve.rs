//! `kaigo serve <service>` against PostgreSQL and Redis, and configuration errors.

use std::time::Duration;

use kaigo_platform::testkit::{TestDatabase, TestRedis, eventually, redis_url};

use crate::support::{NOT_SERVING, Running, SERVING, free_port, health, kaigo, terminate};

const SECRET: &str = "an-internal-key-of-at-least-32-bytes!";

#[tokio::test]
async fn serve_eligibility_answers_health_and_drains_on_sigterm() {
    let db = TestDatabase::create().await;
    let redis = TestRedis::create().await;
    let addr = format!("127.0.0.1:{}", free_port());
    let env = [
        ("KAIGO_DATABASE__URL", db.url().to_owned()),
        ("KAIGO_REDIS__URL", redis_url()),
        ("KAIGO_REDIS__KEY_PREFIX", redis.prefix().to_owned()),
        ("KAIGO_INTERNAL_AUTH__SECRET", SECRET.to_owned()),
        ("KAIGO_SERVER__LISTEN", addr.clone()),
        ("KAIGO_SERVER__DRAIN_DELAY_SECS", "1".to_owned()),
        ("KAIGO_SERVER__WORKER_THREADS", "1".to_owned()),
    ];

    // Unmigrated: serve refuses and says what to run.
    let out = kaigo().args(["serve", "eligibility"]).envs(env.clone()).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("kaigo migrate eligibility"));

    let out = kaigo().args(["migrate", "eligibility"]).envs(env.clone()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let log = tempfile::NamedTempFile::new().unwrap();
    let child = kaigo().args(["serve", "eligibility"]).envs(env.clone()).stderr(log.reopen().unwrap()).spawn().unwrap();
    let mut running = Running(child);
    let name = "kaigo.eligibility.v1.EligibilityService";
    let up =
        eventually(Duration::from_secs(10), || async { health(&addr, name).await.filter(|s| *s == SERVING) }).await;
    assert_eq!(up, Some(SERVING));
    assert_eq!(health(&addr, "liveness").await, Some(SERVING));
    // server.worker_threads = 1: the runtime has one worker thread (the production profile's).
    let started = std::fs::read_to_string(log.path()).unwrap();
    assert!(started.contains(r#""worker_threads":1"#), "{started}");

    terminate(&running.0);
    // During the drain delay readiness says NOT_SERVING while the server still answers.
    let draining =
        eventually(Duration::from_secs(2), || async { health(&addr, "readiness").await.filter(|s| *s == NOT_SERVING) })
            .await;
    assert_eq!(draining, Some(NOT_SERVING));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let exited = loop {
        if let Some(status) = running.0.try_wait().unwrap() {
            break Some(status);
        }
        if tokio::time::Instant::now() >= deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(exited.and_then(|s| s.code()), Some(0), "exit 0 after draining");
}

#[tokio::test]
async fn bad_configuration_exits_64_naming_the_key() {
    let cases = [
        ("KAIGO_SERVER__LISTEN", "nowhere", "server.listen (environment variable KAIGO_SERVER__LISTEN): must be"),
        ("KAIGO_SERVER__MAX_MESSAGE_BYTES", "lots", "KAIGO_SERVER__MAX_MESSAGE_BYTES"),
        (
            "KAIGO_SERVER__WORKER_THREADS",
            "5000",
            "server.worker_threads (environment variable KAIGO_SERVER__WORKER_THREADS): must be at most 1024",
        ),
        ("KAIGO_DATABASE__PASSWORD", "x", "KAIGO_DATABASE__PASSWORD"),
        (
            "KAIGO_TELEMETRY__LOG_FORMAT",
            "xml",
            "telemetry.log_format (environment variable KAIGO_TELEMETRY__LOG_FORMAT)",
        ),
        ("KAIGO_REDIS__URL", "memcached://x", "redis.url (environment variable KAIGO_REDIS__URL)"),
        ("KAIGO_SERVER_LISTEN", "127.0.0.1:1", "did you mean KAIGO_SERVER__LISTEN?"),
        ("KAIGO_INTERNAL_AUTH_SECRET", SECRET, "did you mean KAIGO_INTERNAL_AUTH__SECRET?"),
    ];
    for (key, value, named) in cases {
        let out = kaigo()
            .args(["serve", "eligibility"])
            .env("KAIGO_INTERNAL_AUTH__SECRET", SECRET)
            .env(key, value)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64), "{key}={value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(named), "{key}: {stderr}");
        assert!(!stderr.contains("``"), "{key}: {stderr}");
        assert!(!stderr.contains(SECRET), "{key}: a secret is never echoed: {stderr}");
    }
    // A value from the file names the file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kaigo.toml");
    std::fs::write(&file, "[server]\nlisten = \"nowhere\"\n").unwrap();
    let out = kaigo()
        .args(["serve", "eligibility"])
        .env("KAIGO_INTERNAL_AUTH__SECRET", SECRET)
        .env("KAIGO_CONFIG", &file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("server.listen (file {})", file.display())), "{stderr}");
    let out = kaigo().args(["serve", "eligibility"]).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("internal_auth.secret"));
}

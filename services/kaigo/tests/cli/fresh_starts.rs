//! `kaigo dev` started fresh, again and again, each start followed at once by an import
//! (issue #17, item 12: SQLite answered `database is locked` — UNAVAILABLE — about one run in
//! 6–10, also right after start, and the outbox relay logged the same). Every start gets an
//! empty data directory; the import is sent as soon as the eligibility service is SERVING,
//! while the relay and the other services' start-up work run beside it.
//!
//! `make test` runs [`DEFAULT_STARTS`] starts; `make dev-fresh-starts` runs 50
//! (`KAIGO_DEV_FRESH_STARTS` sets the count).

use std::time::Duration;

use kaigo_platform::testkit::eventually;

use crate::support::{Running, SERVING, free_port, health, kaigo, mint};

/// Starts in `make test` (each about a second once built, on 2 cores).
const DEFAULT_STARTS: usize = 5;

/// How many fresh starts to run: `KAIGO_DEV_FRESH_STARTS`, else [`DEFAULT_STARTS`].
fn starts() -> usize {
    match std::env::var("KAIGO_DEV_FRESH_STARTS") {
        Ok(n) => n.parse().unwrap_or_else(|_| panic!("KAIGO_DEV_FRESH_STARTS={n:?} is not a count")),
        Err(_) => DEFAULT_STARTS,
    }
}

/// The rows every start imports: generated once (insurer 435073, fixed seed).
fn extract(rows: usize) -> String {
    let out = kaigo()
        .args(["gen", "insured", "--count", &rows.to_string(), "--insurer", "435073", "--seed", "17"])
        .output()
        .unwrap();
    assert!(out.status.success(), "kaigo gen insured: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// One fresh start and its import: `Err` describes what went wrong (with the log).
async fn fresh_start_imports(file: &std::path::Path, rows: usize) -> Result<(), String> {
    let data = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let log = data.path().join("dev.log");
    let child = kaigo()
        .args(["dev", "--listen", &addr, "--data-dir"])
        .arg(data.path().join("data"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let running = Running(child);
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let service = "kaigo.eligibility.v1.EligibilityService";
    let up =
        eventually(Duration::from_secs(60), || async { health(&addr, service).await.filter(|s| *s == SERVING) }).await;
    if up.is_none() {
        return Err(format!("kaigo dev did not serve within 60 s; log:\n{}", read_log()));
    }
    let key = kaigo_gateway::DevKey::load_or_create(&data.path().join("data")).unwrap();
    let token = mint(&key, "insurer", Some("435073"));
    let out = kaigo()
        .args(["import", "insured"])
        .arg(file)
        .args(["--endpoint", &addr])
        .env("KAIGO_TOKEN", &token)
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // Stop the server before reading its log, so every line it wrote is there.
    drop(running);
    let logged = read_log();
    if out.status.code() != Some(0) || !stdout.contains(&format!("{rows} rows")) || !stdout.contains("0 rejected") {
        return Err(format!(
            "import exited {:?}\nstdout: {stdout}\nstderr: {stderr}\nkaigo dev log:\n{logged}",
            out.status.code()
        ));
    }
    if logged.contains("database is locked") || logged.contains("UNAVAILABLE") {
        return Err(format!("the import passed, but kaigo dev logged a lock:\n{logged}"));
    }
    Ok(())
}

#[tokio::test]
async fn dev_imports_on_every_fresh_start_without_unavailable() {
    let count = starts();
    let rows = 200;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("persons.csv");
    std::fs::write(&file, extract(rows)).unwrap();
    let mut failures = Vec::new();
    for start in 1..=count {
        if let Err(why) = fresh_start_imports(&file, rows).await {
            failures.push(format!("start {start} of {count}: {why}"));
        }
    }
    println!("kaigo dev: {} of {count} fresh starts imported {rows} rows without UNAVAILABLE", count - failures.len());
    assert!(failures.is_empty(), "{} of {count} fresh starts failed:\n{}", failures.len(), failures.join("\n\n"));
}

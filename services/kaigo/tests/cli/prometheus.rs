//! Debian's Prometheus (`/usr/bin/prometheus`, which CI installs: scripts/image/install-tools.sh)
//! scrapes running `kaigo serve` processes, as an operator's would: a private server on a free
//! loopback port with its data in a temporary directory, asked through its HTTP API. And the
//! label values of the metrics each process exports stay within their bounded sets.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kaigo_platform::testkit::eventually;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Running, Stack, free_port};

/// `GET <path>` over HTTP/1.0 (one answer, no chunking, then the server closes): status line and
/// body, or `None` while nothing listens.
async fn get(addr: &str, path: &str) -> Option<(String, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes()).await.ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_owned(), body.to_owned()))
}

/// `query` percent-encoded for a URL's query string.
fn encode(query: &str) -> String {
    query
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The instant vector Prometheus answers for `query`: each series' labels and value.
async fn query(prometheus: &str, query: &str) -> Option<Vec<(BTreeMap<String, String>, String)>> {
    let (status, body) = get(prometheus, &format!("/api/v1/query?query={}", encode(query))).await?;
    if !status.contains(" 200 ") {
        return None;
    }
    let answer: serde_json::Value = serde_json::from_str(&body).ok()?;
    let series = answer.pointer("/data/result")?.as_array()?;
    Some(
        series
            .iter()
            .filter_map(|s| {
                let labels =
                    s["metric"].as_object()?.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()));
                Some((labels.collect(), s.pointer("/value/1")?.as_str()?.to_owned()))
            })
            .collect(),
    )
}

/// Every sample of family `name` in a text exposition: its labels.
fn samples(exposition: &str, name: &str) -> Vec<BTreeMap<String, String>> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            let labels = match rest.strip_prefix('{') {
                Some(rest) => rest.split_once('}')?.0,
                None if rest.starts_with(' ') => "",
                None => return None,
            };
            Some(
                labels
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .filter_map(|p| p.split_once('='))
                    .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
                    .collect(),
            )
        })
        .collect()
}

/// Asserts that every sample of `name` has exactly the label names of `allowed` (plus `le` for
/// a histogram's buckets), each with one of the values listed.
fn assert_bounded(exposition: &str, name: &str, allowed: &[(&str, &[&str])]) {
    let found = samples(exposition, name);
    assert!(!found.is_empty(), "{name} is not exported:\n{exposition}");
    for labels in found {
        let names: BTreeSet<&str> = labels.keys().map(String::as_str).filter(|k| *k != "le").collect();
        let expected: BTreeSet<&str> = allowed.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, expected, "{name}: {labels:?}");
        for (key, values) in allowed {
            assert!(values.contains(&labels[*key].as_str()), "{name}: {key}={} is not one of {values:?}", labels[*key]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_running_services_and_their_labels_stay_bounded() {
    let Some(binary) = which("prometheus") else {
        println!("SKIPPED: no prometheus binary on PATH (apt-get install prometheus; CI installs it)");
        return;
    };
    let mut stack = Stack::new(&["eligibility", "certification"]).await;
    let eligibility = format!("127.0.0.1:{}", free_port());
    let certification = format!("127.0.0.1:{}", free_port());
    stack.start_with("eligibility", &[("KAIGO_TELEMETRY__METRICS_LISTEN", eligibility.clone())]).await;
    stack.start_with("certification", &[("KAIGO_TELEMETRY__METRICS_LISTEN", certification.clone())]).await;

    // The label sets of the metrics added for operators (README "Observability"), read
    // straight from each endpoint once every one has reported.
    let exposition = eventually(Duration::from_secs(60), || async {
        let body = get(&eligibility, "/metrics").await?.1;
        let ready = [
            "db_client_connections_wait_time_seconds_count",
            "kaigo_events_backlog{",
            "kaigo_eligibility_cache_l2_resting",
        ]
        .iter()
        .all(|name| body.contains(name));
        ready.then_some(body)
    })
    .await
    .unwrap_or_else(|| panic!("eligibility's endpoint lacks the new metrics; log:\n{}", stack.log("eligibility")));
    assert_bounded(&exposition, "db_client_connections_wait_time_seconds_bucket", &[("pool_name", &["eligibility"])]);
    assert_bounded(&exposition, "kaigo_eligibility_cache_l2_resting", &[]);
    // The topics eligibility consumes, and the groups that read them (its own, and the access
    // copy every service keeps).
    let topics = [
        "certification.decided",
        "eligibility.changed",
        kaigo_eligibility::NOTIFICATION_ACCEPTED_TOPIC,
        kaigo_platform::access::TOPIC_REGISTRATION_CHANGED,
        kaigo_platform::access::TOPIC_CONSENT_CHANGED,
        kaigo_platform::access::TOPIC_IDENTITY_LINK_CHANGED,
    ];
    let groups =
        ["eligibility", "eligibility-cache", "eligibility-notifications", "eligibility-access", "certification-access"];
    for labels in samples(&exposition, "kaigo_events_backlog") {
        assert_eq!(labels.len(), 2, "{labels:?}");
        assert!(topics.contains(&labels["topic"].as_str()) && groups.contains(&labels["group"].as_str()), "{labels:?}");
    }
    let figures = eventually(Duration::from_secs(60), || async {
        let body = get(&certification, "/metrics").await?.1;
        body.contains("kaigo_certification_applications_open{").then_some(body)
    })
    .await
    .unwrap_or_else(|| {
        panic!("certification's endpoint lacks its deadline figures; log:\n{}", stack.log("certification"))
    });
    let standings: &[&str] = &["on_track", "at_risk", "extended", "overdue"];
    assert_bounded(&figures, "kaigo_certification_applications_open", &[("deadline_status", standings)]);
    assert_eq!(samples(&figures, "kaigo_certification_applications_open").len(), 4, "{figures}");

    // A private Prometheus scraping both every second.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  \
             - job_name: kaigo-eligibility\n    static_configs:\n      - targets: ['{eligibility}']\n  \
             - job_name: kaigo-certification\n    static_configs:\n      - targets: ['{certification}']\n"
        ),
    )
    .unwrap();
    let web = format!("127.0.0.1:{}", free_port());
    let log = dir.path().join("prometheus.log");
    let _prometheus = Running(
        std::process::Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address={web}"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let scraped = eventually(Duration::from_secs(90), || async {
        let up = query(&web, "up").await?;
        let healthy = |job: &str| {
            up.iter().any(|(labels, value)| labels.get("job").map(String::as_str) == Some(job) && value == "1")
        };
        (healthy("kaigo-eligibility") && healthy("kaigo-certification")).then_some(up)
    })
    .await;
    let Some(up) = scraped else {
        panic!(
            "Prometheus did not scrape both services; its log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    };
    let instances: BTreeSet<&str> =
        up.iter().filter_map(|(labels, _)| labels.get("instance").map(String::as_str)).collect();
    assert_eq!(instances, BTreeSet::from([eligibility.as_str(), certification.as_str()]));

    // kaigo's own metrics, as stored by Prometheus: eligibility's pool limit (16 by default)
    // and certification's open applications by standing (none open in a new database).
    let pool =
        query(&web, r#"db_client_connections_max{job="kaigo-eligibility",pool_name="eligibility"}"#).await.unwrap();
    assert_eq!(pool.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>(), ["16"], "{pool:?}");
    let open = query(&web, r#"sum(kaigo_certification_applications_open{job="kaigo-certification"})"#).await.unwrap();
    assert_eq!(open.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>(), ["0"], "{open:?}");
}

/// The path of `program` on PATH.
fn which(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file())
}

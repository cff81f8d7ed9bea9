//! `kaigo bench CONFIG`: runs a ghz config (loadtest/scenarios/*.json) where ghz is not
//! installed and prints ghz's summary or JSON report.
//!
//! Requests are encoded from the config's JSON `data` with the compiled descriptor sets, so
//! any unary RPC can be driven without code per RPC. Runs are bounded in count and time and
//! go to loopback unless an endpoint is named explicitly with `--endpoint`.

mod config;
mod histogram;
mod lines;
mod open_loop;
mod payload;
mod report;
mod runner;

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};

use crate::cli::Exit;

/// At most this many calls in one run.
const MAX_TOTAL: u64 = 10_000_000;
/// At most this long for one run, whatever the config says.
const MAX_RUN: Duration = Duration::from_secs(600);
/// At most this many calls in flight.
const MAX_CONCURRENCY: u64 = 10_000;
/// At most this many calls per second for `--rps`.
const MAX_RATE: f64 = 1_000_000.0;

#[derive(Args)]
pub struct BenchArgs {
    /// A ghz config file (JSON), e.g. loadtest/scenarios/eligibility-check-mix.json.
    config: PathBuf,
    /// Where to send the calls, e.g. 127.0.0.1:50051 or http://127.0.0.1:50051. Without it the
    /// config's `host` is used, and only when it is a loopback address.
    #[arg(long)]
    endpoint: Option<String>,
    /// Bearer token for the `${KAIGO_TOKEN}` placeholder in the config's metadata.
    #[arg(long, env = "KAIGO_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Number of calls (overrides `total`; clears the config's `duration`).
    #[arg(long)]
    total: Option<u64>,
    /// Calls in flight at once (overrides `concurrency`); with --rps, the most in flight.
    #[arg(long)]
    concurrency: Option<u64>,
    /// Open loop: start N calls per second on a fixed schedule whether or not earlier calls
    /// have been answered, each call timed from its scheduled start (overrides `rps`; 0: closed
    /// loop). Unlike ghz's `rps`, which limits the rate of its closed-loop workers. A call due
    /// while --concurrency calls are in flight waits for room and is reported as late.
    #[arg(long, value_name = "N")]
    rps: Option<f64>,
    /// HTTP/2 connections the calls are spread over (overrides `connections`).
    #[arg(long)]
    connections: Option<u64>,
    /// Run for this long instead of a count, e.g. 10s (overrides `duration`; clears `total`).
    #[arg(long)]
    duration: Option<String>,
    /// Calls at the start not counted, to warm connections and caches (overrides `skipFirst`).
    #[arg(long)]
    skip_first: Option<u64>,
    /// summary (ghz's text), json or pretty (ghz's JSON report).
    #[arg(long)]
    format: Option<String>,
    /// Send the calls of this file instead of the config's `data`: one JSON object per line,
    /// `{"data": {…request…}, "metadata": {…}}`, `metadata` optional and added over the
    /// config's, `${NAME}` in its values filled from the environment. Lines go out in order,
    /// round robin like `data` (not a ghz option: for key distributions over many persons).
    #[arg(long, value_name = "FILE")]
    data_lines: Option<PathBuf>,
    /// Exit 1 (after printing the report) when more than this percentage of the counted calls
    /// did not end OK, so a CI step fails on a run that mostly failed; 100 never fails.
    #[arg(long, default_value_t = 50.0, value_name = "PERCENT")]
    max_error_percent: f64,
}

pub async fn run(args: BenchArgs) -> Result<(), Exit> {
    let scenario = config::load(&args.config).map_err(Exit::config)?;
    let pool = payload::descriptor_pool().map_err(Exit::failure)?;
    let method = payload::find_method(&pool, &scenario.call).map_err(Exit::config)?;
    let endpoint = resolve_endpoint(args.endpoint.as_deref(), scenario.host.as_deref()).map_err(Exit::config)?;
    let base = metadata(&scenario.metadata, args.token.as_deref()).map_err(Exit::config)?;
    let (payloads, metadata, metadata_of) = match &args.data_lines {
        None => (payload::encode_all(&method, &scenario.data).map_err(Exit::config)?, vec![base], Vec::new()),
        Some(path) => {
            let file =
                std::fs::File::open(path).map_err(|e| Exit::config(format!("--data-lines {}: {e}", path.display())))?;
            let read = lines::read(&method, std::io::BufReader::new(file), |name| std::env::var(name).ok())
                .map_err(|e| Exit::config(format!("--data-lines {}: {e}", path.display())))?;
            let sets = read
                .metadata
                .iter()
                .map(|set| with_entries(&base, set))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| Exit::config(format!("--data-lines {}: {e}", path.display())))?;
            (read.payloads, sets, read.metadata_of)
        }
    };

    let cli_duration = args
        .duration
        .as_deref()
        .map(|d| config::parse_duration(d).map_err(|e| Exit::config(format!("--duration: {e}"))))
        .transpose()?;
    // ghz: a duration replaces the count; a count given on the command line replaces both.
    let duration = match (args.total, cli_duration) {
        (_, Some(d)) => Some(d),
        (Some(_), None) => None,
        (None, None) => scenario.duration,
    };
    let total = match (args.total, duration) {
        (Some(n), _) => n,
        (None, Some(_)) => MAX_TOTAL,
        (None, None) => scenario.total.unwrap_or(200),
    };
    let concurrency = args.concurrency.or(scenario.concurrency).unwrap_or(50);
    let connections = args.connections.or(scenario.connections).unwrap_or(1);
    let skip_first = args.skip_first.unwrap_or(scenario.skip_first);
    check_bounds(total, concurrency, connections, duration).map_err(Exit::config)?;
    let rate = open_loop_rate(args.rps.or(scenario.rps)).map_err(Exit::config)?;
    if duration.is_none() && skip_first >= total {
        return Err(Exit::config(format!(
            "skipFirst {skip_first} leaves none of {total} calls to count; pass --skip-first"
        )));
    }
    if !(0.0..=100.0).contains(&args.max_error_percent) {
        return Err(Exit::config(format!("--max-error-percent {}: must be 0 to 100", args.max_error_percent)));
    }
    let format = args.format.or(scenario.format.clone()).unwrap_or_else(|| "summary".to_owned());
    if !matches!(format.as_str(), "summary" | "json" | "pretty") {
        return Err(Exit::config(format!("format {format:?}: kaigo bench prints summary, json or pretty")));
    }

    let plan = runner::Plan {
        endpoint: endpoint.clone(),
        path: payload::path(&method).parse().map_err(|_| Exit::failure("the method path is not a valid URI path"))?,
        payloads,
        metadata,
        metadata_of,
        total,
        duration,
        max_duration: scenario.max_duration.unwrap_or(MAX_RUN).min(MAX_RUN),
        concurrency: concurrency as usize,
        connections: connections as usize,
        timeout: scenario.timeout.unwrap_or(Duration::from_secs(20)),
        connect_timeout: scenario.connect_timeout.unwrap_or(Duration::from_secs(10)),
        skip_first,
        rate,
    };
    let cpu_before = runner::process_cpu_time();
    let channels = runner::connect(&plan).await.map_err(Exit::failure)?;
    let plan = std::sync::Arc::new(plan);
    let outcome = match plan.rate {
        Some(rate) => open_loop::run(plan, channels, rate).await,
        None => runner::run(plan, channels).await,
    }
    .map_err(Exit::failure)?;
    let cpu = runner::process_cpu_time().zip(cpu_before).map(|(after, before)| after.saturating_sub(before));

    let info = report::RunInfo {
        name: scenario.name.as_deref(),
        call: &scenario.call,
        host: &endpoint,
        total,
        concurrency: concurrency as usize,
        connections: connections as usize,
        skip_first,
        rate,
        date: chrono::Utc::now().to_rfc3339(),
    };
    match format.as_str() {
        "summary" => print!("{}", report::summary(&info, &outcome)),
        "json" => println!("{}", report::json(&info, &outcome)),
        _ => println!(
            "{}",
            serde_json::to_string_pretty(&report::json(&info, &outcome)).map_err(|e| Exit::failure(e.to_string()))?
        ),
    }
    // The driver's own cost, on stderr so stdout stays ghz's format: compare it with the
    // server's CPU per call to know whether the driver or the server set the ceiling.
    if let Some(cpu) = cpu {
        let calls = outcome.tally.latencies.count().max(1);
        eprintln!(
            "kaigo bench: driver CPU {:.0} ms for {calls} calls ({:.1} µs per call)",
            cpu.as_secs_f64() * 1e3,
            cpu.as_secs_f64() * 1e6 / calls as f64
        );
    }
    check_errors(&outcome.tally.statuses, args.max_error_percent).map_err(Exit::failure)
}

/// Fails when more than `max_percent` of the counted calls did not end OK.
fn check_errors(statuses: &std::collections::BTreeMap<&'static str, u64>, max_percent: f64) -> Result<(), String> {
    let counted: u64 = statuses.values().sum();
    let failed = counted - statuses.get("OK").copied().unwrap_or(0);
    if counted == 0 {
        return Err("no call was counted".to_owned());
    }
    let percent = failed as f64 * 100.0 / counted as f64;
    if percent > max_percent {
        return Err(format!(
            "{failed} of {counted} calls failed ({percent:.1} %), more than --max-error-percent {max_percent}"
        ));
    }
    Ok(())
}

/// The open-loop rate, if any: ghz's `rps` 0 means no rate, so 0 (or none) runs closed loop.
fn open_loop_rate(rps: Option<f64>) -> Result<Option<f64>, String> {
    match rps {
        None => Ok(None),
        Some(0.0) => Ok(None),
        Some(r) if r.is_finite() && r > 0.0 && r <= MAX_RATE => Ok(Some(r)),
        Some(r) => Err(format!("rps {r}: must be 0 (closed loop) or above 0 and at most {MAX_RATE}")),
    }
}

fn check_bounds(total: u64, concurrency: u64, connections: u64, duration: Option<Duration>) -> Result<(), String> {
    if total == 0 || total > MAX_TOTAL {
        return Err(format!("total must be 1 to {MAX_TOTAL}"));
    }
    if concurrency == 0 || concurrency > MAX_CONCURRENCY {
        return Err(format!("concurrency must be 1 to {MAX_CONCURRENCY}"));
    }
    if connections == 0 || connections > concurrency {
        return Err("connections must be 1 to concurrency (as in ghz)".to_owned());
    }
    if duration.is_some_and(|d| d.is_zero() || d > MAX_RUN) {
        return Err(format!("duration must be above 0 and at most {}s", MAX_RUN.as_secs()));
    }
    Ok(())
}

/// `--endpoint` as given (plaintext http only), else the config's `host` when it is loopback.
fn resolve_endpoint(explicit: Option<&str>, host: Option<&str>) -> Result<String, String> {
    if let Some(url) = explicit {
        let url = crate::cli::endpoint_url(url);
        if !url.starts_with("http://") {
            return Err(format!("--endpoint {url}: kaigo bench speaks plaintext http:// only (use ghz for TLS)"));
        }
        return Ok(url);
    }
    let host = host.ok_or("the config has no `host`; pass --endpoint")?;
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    let loopback = name == "localhost"
        || name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return Err(format!("config host {host} is not loopback; name the target explicitly with --endpoint"));
    }
    Ok(format!("http://{host}"))
}

/// `base` with `entries` added (replacing entries of the same name).
fn with_entries(
    base: &MetadataMap,
    entries: &std::collections::BTreeMap<String, String>,
) -> Result<MetadataMap, String> {
    let mut map = base.clone();
    for (key, value) in entries {
        let name: MetadataKey<_> = key.parse().map_err(|_| format!("metadata key {key:?} is not a header name"))?;
        let value: MetadataValue<_> =
            value.parse().map_err(|_| format!("metadata {key:?} is not a valid header value"))?;
        map.insert(name, value);
    }
    Ok(map)
}

/// The config's metadata with the token placeholder filled; an `authorization` header is
/// added for a given token when the config has none.
fn metadata(entries: &std::collections::BTreeMap<String, String>, token: Option<&str>) -> Result<MetadataMap, String> {
    let mut map = MetadataMap::new();
    for (key, value) in entries {
        let value = if value.contains(config::TOKEN_PLACEHOLDER) {
            let token = token.ok_or("the config needs a token: pass --token or set KAIGO_TOKEN")?;
            value.replace(config::TOKEN_PLACEHOLDER, token.trim())
        } else {
            value.clone()
        };
        let key: MetadataKey<_> = key.parse().map_err(|_| format!("metadata key {key:?} is not a header name"))?;
        let value: MetadataValue<_> =
            value.parse().map_err(|_| format!("metadata {key:?} is not a valid header value"))?;
        map.insert(key, value);
    }
    if let Some(token) = token
        && !map.contains_key("authorization")
    {
        let value = format!("Bearer {}", token.trim()).parse().map_err(|_| "the token is not a valid header value")?;
        map.insert("authorization", value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_loopback_unless_named() {
        assert_eq!(resolve_endpoint(None, Some("127.0.0.1:50051")).unwrap(), "http://127.0.0.1:50051");
        assert_eq!(resolve_endpoint(None, Some("localhost:50051")).unwrap(), "http://localhost:50051");
        assert_eq!(resolve_endpoint(None, Some("[::1]:50051")).unwrap(), "http://[::1]:50051");
        assert!(resolve_endpoint(None, Some("kaigo-gateway.kaigo.svc:50051")).is_err());
        assert!(resolve_endpoint(None, None).is_err());
        let named = resolve_endpoint(Some("http://10.0.0.5:50051"), Some("127.0.0.1:1")).unwrap();
        assert_eq!(named, "http://10.0.0.5:50051");
        assert!(resolve_endpoint(Some("https://kaigo.example.jp"), None).is_err());
        assert_eq!(resolve_endpoint(Some("10.0.0.5:50051"), None).unwrap(), "http://10.0.0.5:50051");
    }

    #[test]
    fn the_token_fills_the_placeholder_and_is_never_required_otherwise() {
        let mut entries = std::collections::BTreeMap::new();
        entries.insert("authorization".to_owned(), "Bearer ${KAIGO_TOKEN}".to_owned());
        let map = metadata(&entries, Some("abc.def.ghi\n")).unwrap();
        assert_eq!(map.get("authorization").unwrap(), "Bearer abc.def.ghi");
        assert!(metadata(&entries, None).unwrap_err().contains("KAIGO_TOKEN"));
        let none = std::collections::BTreeMap::new();
        assert!(metadata(&none, None).unwrap().is_empty());
        assert_eq!(metadata(&none, Some("t")).unwrap().get("authorization").unwrap(), "Bearer t");
    }

    #[test]
    fn a_run_fails_when_more_calls_failed_than_allowed() {
        let statuses = |ok: u64, failed: u64| {
            let mut map = std::collections::BTreeMap::new();
            map.insert("OK", ok);
            map.insert("ResourceExhausted", failed);
            map
        };
        let err = check_errors(&statuses(24, 4476), 50.0).unwrap_err();
        assert!(err.contains("4476 of 4500 calls failed (99.5 %)"), "{err}");
        assert!(check_errors(&statuses(24, 4476), 100.0).is_ok());
        assert!(check_errors(&statuses(50, 50), 50.0).is_ok());
        assert!(check_errors(&statuses(49, 51), 50.0).is_err());
        assert!(check_errors(&statuses(100, 0), 0.0).is_ok());
        assert!(check_errors(&statuses(99, 1), 0.0).is_err());
    }

    #[test]
    fn bounds_are_enforced() {
        assert!(check_bounds(100, 10, 2, None).is_ok());
        assert!(check_bounds(0, 10, 1, None).is_err());
        assert!(check_bounds(MAX_TOTAL + 1, 10, 1, None).is_err());
        assert!(check_bounds(100, 2, 3, None).is_err());
        assert!(check_bounds(100, 10, 1, Some(Duration::from_secs(3600))).is_err());
    }

    #[test]
    fn rates_are_open_loop_above_zero_and_bounded() {
        assert_eq!(open_loop_rate(None), Ok(None));
        assert_eq!(open_loop_rate(Some(0.0)), Ok(None));
        assert_eq!(open_loop_rate(Some(7_500.0)), Ok(Some(7_500.0)));
        assert_eq!(open_loop_rate(Some(0.5)), Ok(Some(0.5)));
        for bad in [-1.0, f64::NAN, f64::INFINITY, MAX_RATE * 2.0] {
            assert!(open_loop_rate(Some(bad)).is_err(), "{bad}");
        }
    }
}

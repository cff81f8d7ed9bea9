//! ghz configuration files (JSON; keys are ghz's long flag names) as `kaigo bench` reads them.
//!
//! Every ghz key is recognised; the ones that shape a run this driver does not implement
//! (load schedules, TLS, streaming) are refused by name rather than silently ignored, so a
//! figure from `kaigo bench` always means what the config says. `rps` is read, and means an
//! open-loop rate here (calls start on a fixed schedule, timed from it; `open_loop.rs`), where
//! ghz's limits the rate of closed-loop workers: the same rate below the server's capacity,
//! different latencies when it stalls.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};

/// The placeholder a config's metadata carries for the bearer token; filled from `--token` /
/// `KAIGO_TOKEN` (ghz users substitute it with `loadtest/run.sh` or `-m`).
pub const TOKEN_PLACEHOLDER: &str = "${KAIGO_TOKEN}";

/// Keys `kaigo bench` implements.
const SUPPORTED: &[&str] = &[
    "call",
    "host",
    "insecure",
    "total",
    "concurrency",
    "connections",
    "duration",
    "max-duration",
    "timeout",
    "connect-timeout",
    "data",
    "data-file",
    "metadata",
    "skipFirst",
    "rps",
    "format",
    "name",
    "tags",
    // Where ghz finds the schema; the driver uses the compiled descriptor set instead.
    "proto",
    "protoset",
    "import-paths",
];

/// ghz keys that change what a run means and that this driver does not implement.
const REFUSED: &[&str] = &[
    "cacert",
    "cert",
    "key",
    "skipTLS",
    "cname",
    "authority",
    "async",
    "qps",
    "concurrency-schedule",
    "concurrency-start",
    "concurrency-end",
    "concurrency-step",
    "concurrency-step-duration",
    "concurrency-max-duration",
    "duration-stop",
    "binary-file",
    "metadata-file",
    "stream-interval",
    "stream-call-duration",
    "stream-call-count",
    "stream-dynamic-messages",
    "output",
    "keepalive",
    "cpus",
    "reflect-metadata",
    "debug",
    "enable-compression",
    "load-schedule",
    "load-start",
    "load-end",
    "load-step",
    "load-step-duration",
    "load-max-duration",
    "count-errors",
    "lb-strategy",
];

/// A run as the config describes it, before command-line overrides.
#[derive(Debug)]
pub struct Scenario {
    pub name: Option<String>,
    pub call: String,
    pub host: Option<String>,
    pub total: Option<u64>,
    pub concurrency: Option<u64>,
    pub connections: Option<u64>,
    pub duration: Option<Duration>,
    pub max_duration: Option<Duration>,
    pub timeout: Option<Duration>,
    pub connect_timeout: Option<Duration>,
    pub skip_first: u64,
    /// Calls per second, open loop (0: none, as in ghz).
    pub rps: Option<f64>,
    pub format: Option<String>,
    /// Request messages as JSON objects, sent round-robin.
    pub data: Vec<Map<String, Value>>,
    pub metadata: BTreeMap<String, String>,
}

pub fn load(path: &Path) -> Result<Scenario, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
    parse(&value, Path::new(".")).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads a config; `data-file` paths resolve against `base` (ghz: the working directory).
pub fn parse(value: &Value, base: &Path) -> Result<Scenario, String> {
    let object = value.as_object().ok_or("a ghz config is a JSON object")?;
    for key in object.keys() {
        if REFUSED.contains(&key.as_str()) {
            return Err(format!("`{key}` is a ghz option kaigo bench does not implement; run this config with ghz"));
        }
        if !SUPPORTED.contains(&key.as_str()) {
            return Err(format!("`{key}` is not a ghz option"));
        }
    }
    let string = |key: &str| -> Result<Option<String>, String> {
        match object.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("`{key}` must be a string")),
        }
    };
    let number = |key: &str| -> Result<Option<u64>, String> {
        match object.get(key) {
            None => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| format!("`{key}` must be a whole number >= 0")),
        }
    };
    let duration = |key: &str| -> Result<Option<Duration>, String> {
        string(key)?.map(|s| parse_duration(&s).map_err(|e| format!("`{key}`: {e}"))).transpose()
    };
    if let Some(v) = object.get("insecure")
        && v != &Value::Bool(true)
    {
        return Err("`insecure` must be true: kaigo bench speaks plaintext HTTP/2 (use ghz for TLS)".to_owned());
    }
    let call = string("call")?.ok_or("`call` is required")?;
    let data = match (object.get("data"), string("data-file")?) {
        (Some(_), Some(_)) => return Err("give `data` or `data-file`, not both".to_owned()),
        (Some(data), None) => data_entries(data)?,
        (None, Some(file)) => {
            let path = base.join(&file);
            let text = std::fs::read_to_string(&path).map_err(|e| format!("`data-file` {}: {e}", path.display()))?;
            let value: Value =
                serde_json::from_str(&text).map_err(|e| format!("`data-file` {}: not JSON: {e}", path.display()))?;
            data_entries(&value).map_err(|e| format!("`data-file` {}: {e}", path.display()))?
        }
        // ghz sends an empty message when there is no data.
        (None, None) => vec![Map::new()],
    };
    let metadata = match object.get("metadata") {
        None => BTreeMap::new(),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| v.as_str().map(|s| (k.to_ascii_lowercase(), s.to_owned())))
            .collect::<Option<_>>()
            .ok_or("`metadata` values must be strings")?,
        Some(_) => return Err("`metadata` must be an object of strings".to_owned()),
    };
    if metadata.values().any(|v| v.contains("{{")) {
        return Err("ghz templates ({{…}}) in `metadata` are not supported by kaigo bench".to_owned());
    }
    Ok(Scenario {
        name: string("name")?,
        call,
        host: string("host")?,
        total: number("total")?,
        concurrency: number("concurrency")?,
        connections: number("connections")?,
        duration: duration("duration")?,
        max_duration: duration("max-duration")?,
        timeout: duration("timeout")?,
        connect_timeout: duration("connect-timeout")?,
        skip_first: number("skipFirst")?.unwrap_or(0),
        rps: match object.get("rps") {
            None => None,
            Some(v) => Some(v.as_f64().filter(|r| *r >= 0.0).ok_or("`rps` must be a number >= 0")?),
        },
        format: string("format")?,
        data,
        metadata,
    })
}

/// ghz's `data`: one object, or a non-empty array of objects sent round-robin.
fn data_entries(data: &Value) -> Result<Vec<Map<String, Value>>, String> {
    let entries = match data {
        Value::Object(one) => vec![one.clone()],
        Value::Array(many) if many.is_empty() => return Err("`data` must not be an empty array".to_owned()),
        Value::Array(many) => many
            .iter()
            .map(|entry| entry.as_object().cloned())
            .collect::<Option<Vec<_>>>()
            .ok_or("every `data` entry must be a JSON object")?,
        _ => return Err("`data` must be an object or an array of objects".to_owned()),
    };
    if entries.iter().any(|e| Value::Object(e.clone()).to_string().contains("{{")) {
        return Err("ghz templates ({{…}}) in `data` are not supported by kaigo bench".to_owned());
    }
    Ok(entries)
}

/// Go duration syntax as ghz takes it, limited to one number and unit: `500ms`, `10s`, `2m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: f64 = number.parse().map_err(|_| format!("{text:?} is not a duration like 10s or 500ms"))?;
    let seconds = match unit {
        "ns" => n / 1e9,
        "us" | "µs" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{text:?} is not a duration like 10s or 500ms")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{text:?} is out of range"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_a_ghz_config() {
        let s = parse(
            &json!({
                "call": "kaigo.eligibility.v1.EligibilityService.CheckEligibility",
                "host": "127.0.0.1:50051", "insecure": true, "total": 2000, "concurrency": 50,
                "connections": 2, "skipFirst": 100, "timeout": "5s",
                "data": [{"insurer_number": "435073", "insured_number": "0000000001"}],
                "metadata": {"Authorization": "Bearer ${KAIGO_TOKEN}"}
            }),
            Path::new("."),
        )
        .unwrap();
        assert_eq!((s.total, s.concurrency, s.connections, s.skip_first), (Some(2000), Some(50), Some(2), 100));
        assert_eq!(s.timeout, Some(Duration::from_secs(5)));
        assert_eq!(s.data.len(), 1);
        assert_eq!(s.metadata["authorization"], "Bearer ${KAIGO_TOKEN}");
    }

    #[test]
    fn refuses_what_it_does_not_implement_and_what_ghz_does_not_know() {
        let base = Path::new(".");
        let err = parse(&json!({"call": "a.B.C", "load-schedule": "step"}), base).unwrap_err();
        assert!(err.contains("`load-schedule`") && err.contains("ghz"), "{err}");
        let err = parse(&json!({"call": "a.B.C", "totl": 100}), base).unwrap_err();
        assert!(err.contains("not a ghz option"), "{err}");
        assert!(parse(&json!({"host": "x"}), base).unwrap_err().contains("`call`"));
        assert!(parse(&json!({"call": "a.B.C", "data": []}), base).is_err());
        assert!(parse(&json!({"call": "a.B.C", "data": [1]}), base).is_err());
        assert!(parse(&json!({"call": "a.B.C", "data": {"id": "{{.UUID}}"}}), base).is_err());
        assert!(parse(&json!({"call": "a.B.C", "insecure": false}), base).is_err());
        assert!(parse(&json!({"call": "a.B.C", "total": -1}), base).is_err());
    }

    #[test]
    fn reads_rps_as_an_open_loop_rate() {
        let base = Path::new(".");
        assert_eq!(parse(&json!({"call": "a.B.C", "rps": 7500}), base).unwrap().rps, Some(7500.0));
        assert_eq!(parse(&json!({"call": "a.B.C"}), base).unwrap().rps, None);
        assert!(parse(&json!({"call": "a.B.C", "rps": -5}), base).unwrap_err().contains("`rps`"));
        assert!(parse(&json!({"call": "a.B.C", "rps": "fast"}), base).is_err());
    }

    #[test]
    fn durations_take_go_units() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("s").is_err());
    }
}

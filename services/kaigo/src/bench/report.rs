//! ghz's output formats: the `summary` text and the `json` report (without per-call details,
//! which a histogram does not keep).

use std::fmt::Write;
use std::time::Duration;

use serde_json::{Value, json};

use super::histogram::Histogram;
use super::runner::Outcome;

/// The percentiles ghz prints.
const PERCENTILES: [f64; 7] = [10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0];
/// An open-loop run adds the tail a latency target is written against.
const OPEN_LOOP_PERCENTILES: [f64; 8] = [10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9];
/// ghz's histogram: ten equal steps from fastest to slowest.
const STEPS: usize = 10;

/// Run facts that belong in the report beside the measurements.
pub struct RunInfo<'a> {
    pub name: Option<&'a str>,
    pub call: &'a str,
    pub host: &'a str,
    pub total: u64,
    pub concurrency: usize,
    pub connections: usize,
    pub skip_first: u64,
    /// `--rps`, for an open-loop run.
    pub rate: Option<f64>,
    pub date: String,
}

fn percentiles(outcome: &Outcome) -> &'static [f64] {
    if outcome.open_loop.is_some() { &OPEN_LOOP_PERCENTILES } else { &PERCENTILES }
}

fn millis(nanos: u64) -> f64 {
    nanos as f64 / 1e6
}

/// ghz's formatNanoUnit: seconds from one second up, milliseconds below.
fn format_duration(nanos: u64) -> String {
    if nanos >= 1_000_000_000 { format!("{:4.2} s", nanos as f64 / 1e9) } else { format!("{:4.2} ms", millis(nanos)) }
}

fn requests_per_second(count: u64, total: Duration) -> f64 {
    if total.is_zero() { 0.0 } else { count as f64 / total.as_secs_f64() }
}

/// (mark in nanoseconds, count): counts of latencies in (previous mark, mark].
fn histogram_marks(h: &Histogram) -> Vec<(u64, u64)> {
    if h.count() == 0 {
        return Vec::new();
    }
    let (fastest, slowest) = (h.min(), h.max());
    let step = (slowest - fastest) as f64 / STEPS as f64;
    let mut marks: Vec<(u64, u64)> =
        (0..=STEPS).map(|i| (if i == STEPS { slowest } else { fastest + (step * i as f64) as u64 }, 0)).collect();
    for (value, n) in h.buckets() {
        let slot = marks.iter().position(|(mark, _)| value <= *mark).unwrap_or(STEPS);
        marks[slot].1 += n;
    }
    marks
}

pub fn summary(info: &RunInfo<'_>, outcome: &Outcome) -> String {
    let h = &outcome.tally.latencies;
    let total_nanos = u64::try_from(outcome.total_time.as_nanos()).unwrap_or(u64::MAX);
    let mut out = String::new();
    // `write!` to a String cannot fail.
    let _ = writeln!(out, "\nSummary:");
    if let Some(name) = info.name {
        let _ = writeln!(out, "  Name:\t\t{name}");
    }
    let _ = writeln!(out, "  Count:\t{}", h.count());
    let _ = writeln!(out, "  Total:\t{}", format_duration(total_nanos));
    let _ = writeln!(out, "  Slowest:\t{}", format_duration(h.max()));
    let _ = writeln!(out, "  Fastest:\t{}", format_duration(h.min()));
    let _ = writeln!(out, "  Average:\t{}", format_duration(h.mean()));
    let _ = writeln!(out, "  Requests/sec:\t{:4.2}", requests_per_second(h.count(), outcome.total_time));
    let _ = writeln!(out, "\nResponse time histogram:");
    let marks = histogram_marks(h);
    let most = marks.iter().map(|(_, n)| *n).max().unwrap_or(0);
    for (mark, n) in &marks {
        let bar = (n * 40 + most / 2).checked_div(most).unwrap_or(0);
        let _ = writeln!(out, "  {:4.3} [{n}]\t|{}", millis(*mark), "∎".repeat(bar as usize));
    }
    if let Some(open) = &outcome.open_loop {
        let lag = &open.send_lag;
        let _ =
            writeln!(out, "\nOpen loop (calls start on a fixed schedule; latency from each call's scheduled start):");
        let _ = writeln!(out, "  Target rate:\t{:4.2}/s", open.rate);
        let _ = writeln!(
            out,
            "  Sent rate:\t{:4.2}/s ({} of {} scheduled calls sent in {})",
            open.sent_rate(),
            open.sent,
            open.scheduled,
            format_duration(u64::try_from(open.send_window.as_nanos()).unwrap_or(u64::MAX))
        );
        let _ = writeln!(out, "  Late:\t\t{} (waited for one of {} calls in flight to end)", open.late, open.cap);
        let _ = writeln!(out, "  Unsent:\t{} (due, still waiting when the time was up)", open.unsent);
        let _ = writeln!(
            out,
            "  Send lag:\t50 % in {}, 99 % in {}, slowest {} (the driver's delay, inside the latencies)",
            format_duration(lag.percentile(50.0)),
            format_duration(lag.percentile(99.0)),
            format_duration(lag.max())
        );
    }
    let _ = write!(out, "\nLatency distribution:");
    for p in percentiles(outcome) {
        let _ = write!(out, "\n  {p} % in {} ", format_duration(h.percentile(*p)));
    }
    let _ = writeln!(out, "\n");
    if !outcome.tally.statuses.is_empty() {
        let _ = writeln!(out, "Status code distribution:");
        for (code, n) in &outcome.tally.statuses {
            let _ = writeln!(out, "  [{code}]\t{n} responses\t");
        }
    }
    if !outcome.tally.errors.is_empty() {
        let _ = writeln!(out, "\nError distribution:");
        for (error, n) in &outcome.tally.errors {
            let _ = writeln!(out, "  [{n}]\t{error}\t");
        }
    }
    out
}

/// A whole percentage as ghz writes it (`99`), a fraction as a number (`99.9`).
fn percentage(p: f64) -> Value {
    if p.fract() == 0.0 { json!(p as u64) } else { json!(p) }
}

/// ghz's JSON report: durations in nanoseconds, histogram marks in seconds.
pub fn json(info: &RunInfo<'_>, outcome: &Outcome) -> Value {
    let h = &outcome.tally.latencies;
    let count = h.count();
    let latency_distribution: Vec<Value> = percentiles(outcome)
        .iter()
        .map(|p| json!({"percentage": percentage(*p), "latency": h.percentile(*p)}))
        .collect();
    let histogram: Vec<Value> = histogram_marks(h)
        .into_iter()
        .map(|(mark, n)| json!({"mark": mark as f64 / 1e9, "count": n, "frequency": n as f64 / count as f64}))
        .collect();
    let mut report = json!({
        "name": info.name.unwrap_or_default(),
        "endReason": outcome.end_reason.as_str(),
        "options": {
            "call": info.call,
            "host": info.host,
            "total": info.total,
            "concurrency": info.concurrency,
            "connections": info.connections,
            "skipFirst": info.skip_first,
            "rps": info.rate.unwrap_or(0.0),
            "insecure": true,
        },
        "date": info.date,
        "count": count,
        "total": u64::try_from(outcome.total_time.as_nanos()).unwrap_or(u64::MAX),
        "average": h.mean(),
        "fastest": h.min(),
        "slowest": h.max(),
        "rps": requests_per_second(count, outcome.total_time),
        "errorDistribution": outcome.tally.errors,
        "statusCodeDistribution": outcome.tally.statuses,
        "latencyDistribution": latency_distribution,
        "histogram": histogram,
        "details": [],
    });
    // Not in ghz's report: what the open-loop schedule did (durations in nanoseconds).
    if let Some(open) = &outcome.open_loop {
        report["openLoop"] = json!({
            "targetRps": open.rate,
            "sentRps": open.sent_rate(),
            "scheduled": open.scheduled,
            "sent": open.sent,
            "late": open.late,
            "unsent": open.unsent,
            "inFlightCap": open.cap,
            "sendWindow": u64::try_from(open.send_window.as_nanos()).unwrap_or(u64::MAX),
            "sendLag": {
                "p50": open.send_lag.percentile(50.0),
                "p99": open.send_lag.percentile(99.0),
                "max": open.send_lag.max(),
            },
        });
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::runner::{EndReason, Tally};

    fn outcome() -> Outcome {
        let mut tally = Tally::default();
        for i in 1..=100u64 {
            tally.latencies.record(i * 100_000); // 0.1 ms … 10 ms
        }
        tally.statuses.insert("OK", 99);
        tally.statuses.insert("Unavailable", 1);
        tally.errors.insert("rpc error: code = Unavailable desc = circuit open".to_owned(), 1);
        Outcome { tally, total_time: Duration::from_millis(500), end_reason: EndReason::Normal, open_loop: None }
    }

    fn info() -> RunInfo<'static> {
        RunInfo {
            name: Some("eligibility-check-hot"),
            call: "kaigo.eligibility.v1.EligibilityService.CheckEligibility",
            host: "127.0.0.1:50051",
            total: 100,
            concurrency: 4,
            connections: 1,
            skip_first: 0,
            rate: None,
            date: "2026-11-29T00:00:00Z".to_owned(),
        }
    }

    #[test]
    fn summary_has_every_ghz_section() {
        let text = summary(&info(), &outcome());
        for needle in [
            "Summary:",
            "  Count:\t100",
            "  Total:\t500.00 ms",
            "  Slowest:\t10.00 ms",
            "  Fastest:\t0.10 ms",
            "  Requests/sec:\t200.00",
            "Response time histogram:",
            "  0.100 [1]\t|",
            "  10.000 [",
            "Latency distribution:",
            "  50 % in 5.0",
            "  99 % in 9.9",
            "Status code distribution:\n  [OK]\t99 responses",
            "Error distribution:\n  [1]\trpc error: code = Unavailable desc = circuit open",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        let bars: u64 = text.lines().filter(|l| l.contains("|")).count() as u64;
        assert_eq!(bars, 11);
    }

    #[test]
    fn histogram_counts_add_up() {
        let marks = histogram_marks(&outcome().tally.latencies);
        assert_eq!(marks.len(), 11);
        assert_eq!(marks.iter().map(|(_, n)| n).sum::<u64>(), 100);
        assert!(marks.windows(2).all(|w| w[0].0 <= w[1].0));
    }

    #[test]
    fn json_is_ghz_shaped() {
        let report = json(&info(), &outcome());
        assert_eq!(report["count"], 100);
        assert_eq!(report["total"], 500_000_000u64);
        assert_eq!(report["statusCodeDistribution"]["OK"], 99);
        assert_eq!(report["latencyDistribution"].as_array().unwrap().len(), 7);
        assert_eq!(report["endReason"], "normal");
        assert!((report["rps"].as_f64().unwrap() - 200.0).abs() < 1e-9);
        assert_eq!(report["latencyDistribution"][6]["percentage"], 99);
        assert!(report.get("openLoop").is_none());
    }

    fn open_outcome() -> Outcome {
        let mut send_lag = Histogram::default();
        send_lag.record(20_000);
        send_lag.record(3_000_000);
        let open = crate::bench::runner::OpenLoop {
            rate: 250.0,
            cap: 4,
            scheduled: 125,
            sent: 120,
            late: 7,
            unsent: 5,
            send_window: Duration::from_millis(480),
            send_lag,
        };
        Outcome { open_loop: Some(open), ..outcome() }
    }

    #[test]
    fn an_open_loop_run_reports_its_schedule_and_the_tail() {
        let text = summary(&RunInfo { rate: Some(250.0), ..info() }, &open_outcome());
        for needle in [
            "Open loop (calls start on a fixed schedule; latency from each call's scheduled start):",
            "  Target rate:\t250.00/s",
            "  Sent rate:\t250.00/s (120 of 125 scheduled calls sent in 480.00 ms)",
            "  Late:\t\t7 (waited for one of 4 calls in flight to end)",
            "  Unsent:\t5 ",
            "  Send lag:\t50 % in 0.02 ms, 99 % in 3.00 ms, slowest 3.00 ms",
            "  99 % in 9.9",
            "  99.9 % in 10.00 ms",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        let report = json(&RunInfo { rate: Some(250.0), ..info() }, &open_outcome());
        assert_eq!(report["options"]["rps"], 250.0);
        assert_eq!(report["latencyDistribution"].as_array().unwrap().len(), 8);
        assert_eq!(report["latencyDistribution"][7]["percentage"], 99.9);
        let open = &report["openLoop"];
        assert_eq!((open["scheduled"].as_u64(), open["sent"].as_u64()), (Some(125), Some(120)));
        assert_eq!((open["late"].as_u64(), open["unsent"].as_u64()), (Some(7), Some(5)));
        assert_eq!(open["inFlightCap"], 4);
        assert_eq!(open["sendLag"]["max"], 3_000_000);
        assert!((open["sentRps"].as_f64().unwrap() - 250.0).abs() < 1e-9);
    }
}

//! The load loop: `connections` HTTP/2 connections, `concurrency` workers spread over them,
//! each with one call in flight, taking request numbers from one shared counter so the
//! `data` entries go out round-robin exactly as ghz sends them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use tokio::time::Instant;
use tonic::client::Grpc;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use super::histogram::Histogram;

/// What to send, how hard, and for how long.
pub struct Plan {
    pub endpoint: String,
    pub path: PathAndQuery,
    pub payloads: Vec<Bytes>,
    /// The metadata sets the calls carry; call `n` carries `metadata[metadata_of[n]]`, or
    /// `metadata[0]` when `metadata_of` is empty.
    pub metadata: Vec<MetadataMap>,
    pub metadata_of: Vec<u32>,
    pub total: u64,
    /// Stop issuing calls after this long (ghz `duration`), if set.
    pub duration: Option<Duration>,
    /// Hard limit on the whole run (ghz `max-duration`, capped by the driver).
    pub max_duration: Duration,
    pub concurrency: usize,
    pub connections: usize,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub skip_first: u64,
    /// `--rps`: calls per second on a fixed schedule (open loop, `open_loop.rs`), with
    /// `concurrency` the most in flight; None: `concurrency` workers, one call each (closed loop).
    pub rate: Option<f64>,
}

/// Why the run ended, in ghz's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    Normal,
    Timeout,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Normal => "normal",
            EndReason::Timeout => "timeout",
        }
    }
}

/// What one worker saw; merged into the run's totals at the end.
#[derive(Default)]
pub struct Tally {
    pub latencies: Histogram,
    /// gRPC status code (ghz's names) → count.
    pub statuses: BTreeMap<&'static str, u64>,
    /// ghz's `rpc error: code = … desc = …` → count.
    pub errors: BTreeMap<String, u64>,
}

impl Tally {
    pub(super) fn record(&mut self, elapsed: Duration, outcome: Result<(), Status>) {
        self.latencies.record(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX));
        let code = match &outcome {
            Ok(()) => Code::Ok,
            Err(status) => status.code(),
        };
        *self.statuses.entry(go_code_name(code)).or_default() += 1;
        if let Err(status) = outcome {
            let line = format!("rpc error: code = {} desc = {}", go_code_name(status.code()), status.message());
            *self.errors.entry(line).or_default() += 1;
        }
    }

    pub(super) fn merge(&mut self, other: Tally) {
        self.latencies.merge(&other.latencies);
        for (code, n) in other.statuses {
            *self.statuses.entry(code).or_default() += n;
        }
        for (error, n) in other.errors {
            *self.errors.entry(error).or_default() += n;
        }
    }
}

/// What the open-loop schedule did, beside the latencies.
pub struct OpenLoop {
    /// Calls per second the schedule asked for.
    pub rate: f64,
    /// The most calls in flight at once.
    pub cap: usize,
    /// Calls the schedule held for the run (its `total`, or the slots before its `duration`).
    pub scheduled: u64,
    pub sent: u64,
    /// Calls that went out only after waiting for one of the `cap` calls in flight to end.
    pub late: u64,
    /// Calls that were due but still waiting for room when the run's time was up.
    pub unsent: u64,
    /// The time the sent calls took to go out: their schedule's span (`sent / rate`), or up
    /// to the last send when that was later.
    pub send_window: Duration,
    /// How long after its scheduled start each counted call went out (nanoseconds): the
    /// driver's own delay, already inside the latencies.
    pub send_lag: Histogram,
}

impl OpenLoop {
    /// Calls sent per second over the time the schedule ran.
    pub fn sent_rate(&self) -> f64 {
        if self.send_window.is_zero() { 0.0 } else { self.sent as f64 / self.send_window.as_secs_f64() }
    }
}

/// The result of a run.
pub struct Outcome {
    pub tally: Tally,
    pub total_time: Duration,
    pub end_reason: EndReason,
    /// What the schedule did, for an open-loop run.
    pub open_loop: Option<OpenLoop>,
}

/// One HTTP/2 connection per `plan.connections` (ghz `connections`), each its own Channel.
pub async fn connect(plan: &Plan) -> Result<Vec<Channel>, String> {
    let endpoint = Endpoint::from_shared(plan.endpoint.clone())
        .map_err(|_| format!("{} is not a URL", plan.endpoint))?
        .connect_timeout(plan.connect_timeout)
        .tcp_nodelay(true);
    let mut channels = Vec::with_capacity(plan.connections);
    for _ in 0..plan.connections {
        let channel = endpoint.connect().await.map_err(|e| format!("cannot connect to {}: {e}", plan.endpoint))?;
        channels.push(channel);
    }
    Ok(channels)
}

/// Runs `plan` closed-loop: `plan.concurrency` workers over `channels`, one call each at a time.
pub async fn run(plan: Arc<Plan>, channels: Vec<Channel>) -> Result<Outcome, String> {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + plan.duration.unwrap_or(plan.max_duration).min(plan.max_duration);
    let workers: Vec<_> = (0..plan.concurrency)
        .map(|worker| {
            let channel = channels[worker % channels.len()].clone();
            tokio::spawn(work(channel, plan.clone(), next.clone(), deadline))
        })
        .collect();
    let mut tally = Tally::default();
    for worker in workers {
        tally.merge(worker.await.map_err(|e| format!("a worker failed: {e}"))?);
    }
    let total_time = started.elapsed();
    let issued = next.load(Ordering::Relaxed).min(plan.total);
    // ghz: a run cut short by `duration` (or the hard limit) ends with reason "timeout".
    let end_reason = if issued < plan.total { EndReason::Timeout } else { EndReason::Normal };
    Ok(Outcome { tally, total_time, end_reason, open_loop: None })
}

async fn work(channel: Channel, plan: Arc<Plan>, next: Arc<AtomicU64>, deadline: Instant) -> Tally {
    let mut grpc = Grpc::new(channel);
    let mut tally = Tally::default();
    let len = plan.payloads.len() as u64;
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= plan.total || Instant::now() >= deadline {
            return tally;
        }
        let i = (n % len) as usize;
        let payload = plan.payloads[i].clone();
        let mut request = tonic::Request::new(payload);
        let which = plan.metadata_of.get(i).map_or(0, |&m| m as usize);
        *request.metadata_mut() = plan.metadata[which].clone();
        let sent = Instant::now();
        let outcome = tokio::time::timeout(plan.timeout, call(&mut grpc, request, plan.path.clone())).await;
        let elapsed = sent.elapsed();
        // ghz `skipFirst`: the first calls warm connections and caches and are not counted.
        if n < plan.skip_first {
            continue;
        }
        let outcome = outcome.unwrap_or_else(|_| Err(Status::deadline_exceeded("context deadline exceeded")));
        tally.record(elapsed, outcome);
    }
}

pub(super) async fn call(
    grpc: &mut Grpc<Channel>,
    request: tonic::Request<Bytes>,
    path: PathAndQuery,
) -> Result<(), Status> {
    grpc.ready().await.map_err(|e| Status::unavailable(format!("connection: {e}")))?;
    grpc.unary::<Bytes, Bytes, RawCodec>(request, path, RawCodec).await.map(|_| ())
}

/// Passes already-encoded messages through tonic's gRPC framing untouched.
#[derive(Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// gRPC codes as ghz (grpc-go's `codes.Code.String()`) prints them.
pub fn go_code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

/// CPU time (user + system) this process has used, from /proc (Linux); None elsewhere.
pub fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux platform we build for.
    Some(Duration::from_millis(ticks * 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_statuses_and_errors_in_ghz_words() {
        let mut tally = Tally::default();
        tally.record(Duration::from_millis(1), Ok(()));
        tally.record(Duration::from_millis(2), Err(Status::permission_denied("not your insured")));
        let mut other = Tally::default();
        other.record(Duration::from_millis(3), Err(Status::permission_denied("not your insured")));
        tally.merge(other);
        assert_eq!(tally.statuses["OK"], 1);
        assert_eq!(tally.statuses["PermissionDenied"], 2);
        assert_eq!(tally.errors["rpc error: code = PermissionDenied desc = not your insured"], 2);
        assert_eq!(tally.latencies.count(), 3);
    }

    #[test]
    fn reads_its_own_cpu_time() {
        if cfg!(target_os = "linux") {
            assert!(process_cpu_time().is_some());
        }
    }
}

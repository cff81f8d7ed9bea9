//! `--rps N`: an open-loop run. Call `n` is due at `n / N` seconds after the start, whether or
//! not earlier calls have been answered, and its latency is measured from that scheduled start,
//! not from the moment it went out: a stall of the server (or of the driver) shows as latency
//! of every call due during it, not as fewer calls (no coordinated omission).
//!
//! The schedule is kept by a thread of its own that sleeps until the next call is due and then
//! sends every call due by now (the deficit), so timer precision sets how calls are grouped,
//! never how many go out. At most `cap` calls are in flight; a call due while `cap` are in
//! flight waits for one of them to end — it goes out late, its wait counted in its latency and
//! the call counted as `late`. Calls still waiting when the run's time is up are `unsent`.
//! Both are reported, never dropped silently.
//!
//! ghz's own `rps` is a closed-loop rate limit: its workers wait for a token before each call
//! and time the call from when it goes out, so a server that stalls for 100 ms is simply sent
//! fewer calls and the stall shows in one call per worker. Here the same stall shows in every
//! call that was due during it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, Semaphore};
use tonic::Status;
use tonic::client::Grpc;
use tonic::transport::Channel;

use super::histogram::Histogram;
use super::runner::{self, OpenLoop, Plan, Tally};

/// Shards of the run's tally, so calls on different threads rarely wait for one lock.
const SHARDS: usize = 16;

/// Nanoseconds between scheduled starts at `rate` calls per second.
pub fn period_nanos(rate: f64) -> f64 {
    1e9 / rate
}

/// When call `n` is due, counted from the start of the run.
pub fn scheduled_at(n: u64, period: f64) -> Duration {
    Duration::from_nanos((n as f64 * period) as u64)
}

/// How many calls are due `elapsed` after the start: every `n` with `scheduled_at(n) <=
/// elapsed` (call 0 is due at once). Computed from the elapsed time, not counted per timer
/// tick, so a late wake-up sends the whole deficit.
pub fn due_by(elapsed: Duration, period: f64) -> u64 {
    let mut due = (elapsed.as_nanos() as f64 / period).floor() as u64 + 1;
    // Floating-point rounding: make the count agree exactly with `scheduled_at`.
    while due > 0 && scheduled_at(due - 1, period) > elapsed {
        due -= 1;
    }
    while scheduled_at(due, period) <= elapsed {
        due += 1;
    }
    due
}

/// Calls the schedule holds: `total`, or fewer when a `duration` ends the schedule first (the
/// slots that start before it).
pub fn scheduled_calls(total: u64, duration: Option<Duration>, period: f64) -> u64 {
    match duration {
        None => total,
        Some(d) => {
            let before = if d.is_zero() { 0 } else { due_by(d - Duration::from_nanos(1), period) };
            before.min(total)
        }
    }
}

/// Runs `plan` open-loop at `rate` calls per second, at most `plan.concurrency` in flight.
pub async fn run(plan: Arc<Plan>, channels: Vec<Channel>, rate: f64) -> Result<runner::Outcome, String> {
    let period = period_nanos(rate);
    let cap = plan.concurrency;
    let scheduled = scheduled_calls(plan.total, plan.duration, period);
    let shards: Arc<Vec<Mutex<Shard>>> = Arc::new((0..SHARDS).map(|_| Mutex::default()).collect());
    let room = Arc::new(Semaphore::new(cap));
    let handle = tokio::runtime::Handle::current();

    let started = Instant::now();
    let limit = plan.duration.unwrap_or(plan.max_duration).min(plan.max_duration);
    let deadline = started + limit;
    let schedule = {
        let (plan, shards, room) = (plan.clone(), shards.clone(), room.clone());
        tokio::task::spawn_blocking(move || {
            keep_schedule(&handle, &plan, &channels, &shards, &room, started, deadline, scheduled, period)
        })
    };
    let (sent, late, unsent, send_window) = schedule.await.map_err(|e| format!("the scheduler failed: {e}"))?;
    // Every call in flight has ended (each is bounded by the call timeout) once all the room is back.
    let all = u32::try_from(cap).map_err(|_| "concurrency out of range".to_owned())?;
    drop(room.acquire_many(all).await.map_err(|e| format!("the scheduler failed: {e}"))?);
    let total_time = started.elapsed();

    let mut tally = Tally::default();
    let mut send_lag = Histogram::default();
    for shard in shards.iter() {
        let shard = std::mem::take(&mut *shard.lock().await);
        tally.merge(shard.tally);
        send_lag.merge(&shard.send_lag);
    }
    let end_reason = if sent < plan.total { runner::EndReason::Timeout } else { runner::EndReason::Normal };
    Ok(runner::Outcome {
        tally,
        total_time,
        end_reason,
        open_loop: Some(OpenLoop { rate, cap, scheduled, sent, late, unsent, send_window, send_lag }),
    })
}

#[derive(Default)]
struct Shard {
    tally: Tally,
    send_lag: Histogram,
}

/// The scheduler's loop, on a blocking thread: (sent, late, unsent, time to the last send).
#[allow(clippy::too_many_arguments)]
fn keep_schedule(
    handle: &tokio::runtime::Handle,
    plan: &Arc<Plan>,
    channels: &[Channel],
    shards: &Arc<Vec<Mutex<Shard>>>,
    room: &Arc<Semaphore>,
    started: Instant,
    deadline: Instant,
    scheduled: u64,
    period: f64,
) -> (u64, u64, u64, Duration) {
    let (mut sent, mut late) = (0u64, 0u64);
    let mut last_send = started;
    'schedule: while sent < scheduled {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let due = due_by(now - started, period).min(scheduled);
        if sent >= due {
            let next = (started + scheduled_at(sent, period)).min(deadline);
            // This is a blocking-pool thread, not a runtime worker, and tokio's timer counts
            // whole milliseconds: at thousands of calls a second the schedule needs the OS sleep.
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(next.saturating_duration_since(now));
            continue;
        }
        while sent < due {
            let permit = match room.clone().try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) => {
                    let wait =
                        tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), room.clone().acquire_owned());
                    match handle.block_on(wait) {
                        Ok(Ok(permit)) => {
                            late += 1;
                            permit
                        }
                        // Time is up while every slot is taken: the rest of the due calls stay unsent.
                        _ => break 'schedule,
                    }
                }
            };
            let n = sent;
            let at = started + scheduled_at(n, period);
            let channel = channels[(n % channels.len() as u64) as usize].clone();
            let (plan, shards) = (plan.clone(), shards.clone());
            handle.spawn(async move {
                let outcome = one_call(&plan, channel, n).await;
                let elapsed = at.elapsed();
                if n >= plan.skip_first {
                    let lag = outcome.1.saturating_duration_since(at);
                    let mut shard = shards[(n % SHARDS as u64) as usize].lock().await;
                    shard.tally.record(elapsed, outcome.0);
                    shard.send_lag.record(u64::try_from(lag.as_nanos()).unwrap_or(u64::MAX));
                }
                // Only now: the run's end waits for all the room, so every call is recorded by then.
                drop(permit);
            });
            sent += 1;
            last_send = Instant::now();
        }
    }
    let end = Instant::now().min(deadline).max(started);
    let due_at_end = if sent >= scheduled { scheduled } else { due_by(end - started, period).min(scheduled) };
    // The schedule's own span, or longer when calls went out after it: the sent rate is the
    // rate asked for exactly when every call went out on time.
    let window = (last_send - started).max(scheduled_at(sent, period));
    (sent, late, due_at_end.saturating_sub(sent), window)
}

/// Call `n` of the plan: its outcome and the moment it went out.
async fn one_call(plan: &Plan, channel: Channel, n: u64) -> (Result<(), Status>, Instant) {
    let mut grpc = Grpc::new(channel);
    let i = (n % plan.payloads.len() as u64) as usize;
    let mut request = tonic::Request::new(plan.payloads[i].clone());
    let which = plan.metadata_of.get(i).map_or(0, |&m| m as usize);
    *request.metadata_mut() = plan.metadata[which].clone();
    let sent = Instant::now();
    let outcome = tokio::time::timeout(plan.timeout, runner::call(&mut grpc, request, plan.path.clone()))
        .await
        .unwrap_or_else(|_| Err(Status::deadline_exceeded("context deadline exceeded")));
    (outcome, sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_due_at_fixed_intervals_from_the_start() {
        let period = period_nanos(1000.0); // 1 ms
        assert_eq!(scheduled_at(0, period), Duration::ZERO);
        assert_eq!(scheduled_at(3, period), Duration::from_millis(3));
        assert_eq!(due_by(Duration::ZERO, period), 1);
        assert_eq!(due_by(Duration::from_micros(999), period), 1);
        assert_eq!(due_by(Duration::from_millis(1), period), 2);
        // A wake-up 250 ms late owes the whole deficit, not one call.
        assert_eq!(due_by(Duration::from_millis(250), period), 251);
    }

    #[test]
    fn the_due_count_agrees_with_the_schedule_at_awkward_rates() {
        for rate in [3.0, 7.0, 333.3, 7_919.0, 20_000.0, 123_456.7] {
            let period = period_nanos(rate);
            for n in [0u64, 1, 2, 99, 1_000, 123_457, 1_000_003] {
                let at = scheduled_at(n, period);
                assert!(due_by(at, period) > n, "rate {rate}: call {n} not due at its own slot");
                if !at.is_zero() {
                    assert!(due_by(at - Duration::from_nanos(1), period) <= n, "rate {rate}: call {n} due early");
                }
            }
            let mut last = 0;
            for micros in (0..2_000_000u64).step_by(997) {
                let due = due_by(Duration::from_micros(micros), period);
                assert!(due >= last, "rate {rate}: the due count went back");
                last = due;
            }
        }
    }

    #[test]
    fn a_duration_holds_the_slots_that_start_before_it() {
        let period = period_nanos(100.0);
        assert_eq!(scheduled_calls(1_000_000, Some(Duration::from_secs(10)), period), 1_000);
        assert_eq!(scheduled_calls(1_000_000, Some(Duration::from_millis(10_005)), period), 1_001);
        assert_eq!(scheduled_calls(500, Some(Duration::from_secs(10)), period), 500);
        assert_eq!(scheduled_calls(500, None, period), 500);
        assert_eq!(scheduled_calls(500, Some(Duration::ZERO), period), 0);
        // The rate over the schedule is the rate asked for.
        let rate = 7_919.0;
        let n = scheduled_calls(u64::MAX, Some(Duration::from_secs(10)), period_nanos(rate));
        assert_eq!(n, 79_190);
    }

    #[test]
    fn the_sent_rate_is_over_the_time_the_schedule_ran() {
        let run = OpenLoop {
            rate: 100.0,
            cap: 10,
            scheduled: 1_000,
            sent: 1_000,
            late: 0,
            unsent: 0,
            send_window: Duration::from_secs(10),
            send_lag: Histogram::default(),
        };
        assert!((run.sent_rate() - 100.0).abs() < 1e-9, "{}", run.sent_rate());
        let behind = OpenLoop { send_window: Duration::from_secs(20), ..run };
        assert!((behind.sent_rate() - 50.0).abs() < 1e-9, "{}", behind.sent_rate());
    }
}

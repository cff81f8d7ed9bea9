//! Per-caller rate limits: a token bucket per (token subject, role).

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use parking_lot::Mutex;
use tokio::time::Instant;

/// A token bucket: `burst` tokens, refilled at `rate` per second.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    /// A full bucket.
    pub(crate) fn full(burst: u32, now: Instant) -> Self {
        Self { tokens: f64::from(burst), updated: now }
    }

    /// Takes one token, or says how long until one is there.
    pub(crate) fn take(&mut self, now: Instant, rate: f64, burst: u32) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(f64::from(burst));
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate))
        }
    }
}

/// The buckets of every recent caller; idle ones are forgotten (they would be full anyway).
#[derive(Clone)]
pub(crate) struct RateLimiter {
    /// Keyed by `<role>\n<subject>` ([`crate::auth::Authenticated::rate_key`]).
    buckets: Cache<String, Arc<Mutex<Bucket>>>,
}

impl RateLimiter {
    pub(crate) fn new() -> Self {
        Self { buckets: Cache::builder().max_capacity(1_000_000).time_to_idle(Duration::from_secs(600)).build() }
    }

    /// Admits one call of the caller whose bucket is `key`, or returns the delay before the
    /// next would be. A known caller's bucket is found without allocating.
    pub(crate) fn admit(&self, key: &str, rate: f64, burst: u32) -> Result<(), Duration> {
        let now = Instant::now();
        let bucket = match self.buckets.get(key) {
            Some(bucket) => bucket,
            None => self.buckets.get_with(key.to_owned(), || Arc::new(Mutex::new(Bucket::full(burst, now)))),
        };
        bucket.lock().take(now, rate, burst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_the_burst_then_the_rate() {
        let start = Instant::now();
        let mut bucket = Bucket::full(3, start);
        for _ in 0..3 {
            assert!(bucket.take(start, 10.0, 3).is_ok());
        }
        let wait = bucket.take(start, 10.0, 3).unwrap_err();
        assert!(wait > Duration::from_millis(90) && wait <= Duration::from_millis(100), "{wait:?}");
        assert!(bucket.take(start + Duration::from_millis(100), 10.0, 3).is_ok());
        // A long pause refills to the burst, not beyond.
        let later = start + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(bucket.take(later, 10.0, 3).is_ok());
        }
        assert!(bucket.take(later, 10.0, 3).is_err());
    }

    #[test]
    fn callers_have_their_own_buckets() {
        let limiter = RateLimiter::new();
        assert!(limiter.admit("insurer\na", 1.0, 1).is_ok());
        assert!(limiter.admit("insurer\na", 1.0, 1).is_err());
        assert!(limiter.admit("insurer\nb", 1.0, 1).is_ok());
        assert!(limiter.admit("operator\na", 1.0, 1).is_ok());
    }
}

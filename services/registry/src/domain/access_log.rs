//! The person's access log across services (docs/domain/access.md#access-log): one order over
//! every service's reads, the page token that continues it in each, and the merge.
//!
//! Reads are ordered newest first by (read time, service name, the read's number in its
//! service's trail), a total order across services. A page token is the position of the last
//! read shown; each service is then asked for the reads after that position in the same order
//! ([`before_for`]), so a page neither repeats nor skips a read of a service that answers.

use chrono::{DateTime, Utc};
use kaigo_proto::kaigo::audit::v1::AuditedRead;

/// The most characters a page token has (the contract documents it).
pub const MAX_TOKEN_CHARS: usize = 64;
/// The most characters of a service's name in a token.
pub const MAX_SERVICE_CHARS: usize = 32;

/// A position in the merged log: the last read of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Its time, in nanoseconds since the Unix epoch.
    pub at_nanos: i64,
    /// Its service.
    pub service: String,
    /// Its number in that service's trail.
    pub sequence: i64,
}

impl Cursor {
    /// The page token: `<nanos>.<service>.<sequence>`.
    pub fn token(&self) -> String {
        format!("{}.{}.{}", self.at_nanos, self.service, self.sequence)
    }

    /// Reads a page token; `None` when it is not one this service wrote.
    pub fn parse(token: &str) -> Option<Self> {
        if token.len() > MAX_TOKEN_CHARS {
            return None;
        }
        let mut parts = token.split('.');
        let (at, service, sequence) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || !is_service_name(service) {
            return None;
        }
        let number = |s: &str| -> Option<i64> {
            // Digits only, no sign and no leading zero: one spelling per position.
            let canonical = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
            if canonical { s.parse().ok() } else { None }
        };
        Some(Self { at_nanos: number(at)?, service: service.to_owned(), sequence: number(sequence)? })
    }

    /// The position's time.
    pub fn at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(self.at_nanos)
    }
}

/// A service's name as the log and its tokens carry it: 1–32 lower-case letters.
pub fn is_service_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_SERVICE_CHARS && name.bytes().all(|b| b.is_ascii_lowercase())
}

/// What to ask `service` for after `cursor`: the reads before (time, sequence) in its trail.
/// A service ordered before the cursor's (by name) still has the reads made at the cursor's
/// very instant to show, one ordered after it has shown them already.
pub fn before_for(cursor: Option<&Cursor>, service: &str) -> Option<(DateTime<Utc>, i64)> {
    let cursor = cursor?;
    let sequence = match service.cmp(cursor.service.as_str()) {
        std::cmp::Ordering::Less => i64::MAX,
        std::cmp::Ordering::Equal => cursor.sequence,
        std::cmp::Ordering::Greater => 0,
    };
    Some((cursor.at(), sequence))
}

/// A read with its service.
#[derive(Debug, Clone, PartialEq)]
pub struct Sourced {
    /// The service whose trail holds it.
    pub service: String,
    /// The read.
    pub read: AuditedRead,
}

impl Sourced {
    fn at_nanos(&self) -> i64 {
        self.read
            .read_time
            .as_ref()
            .map_or(i64::MIN, |t| t.seconds.saturating_mul(1_000_000_000).saturating_add(i64::from(t.nanos)))
    }

    /// Its position, for the next page's token.
    pub fn cursor(&self) -> Cursor {
        Cursor { at_nanos: self.at_nanos(), service: self.service.clone(), sequence: self.read.sequence }
    }
}

/// Merges the services' answers (each newest first, each at most `page_size + 1` reads) into
/// one page of `page_size`, newest first, and the token of the next page when there is more.
pub fn merge(answers: Vec<Sourced>, page_size: usize) -> (Vec<Sourced>, Option<String>) {
    let mut all = answers;
    all.sort_by(|a, b| {
        (b.at_nanos(), b.service.as_str(), b.read.sequence).cmp(&(a.at_nanos(), a.service.as_str(), a.read.sequence))
    });
    if all.len() <= page_size {
        return (all, None);
    }
    all.truncate(page_size);
    let token = all.last().map(|last| last.cursor().token());
    (all, token)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn read(service: &str, seconds: i64, sequence: i64) -> Sourced {
        Sourced {
            service: service.to_owned(),
            read: AuditedRead {
                read_time: Some(prost_types::Timestamp { seconds, nanos: 0 }),
                sequence,
                ..Default::default()
            },
        }
    }

    fn keys(page: &[Sourced]) -> Vec<(String, i64, i64)> {
        page.iter().map(|s| (s.service.clone(), s.read.read_time.unwrap().seconds, s.read.sequence)).collect()
    }

    #[test]
    fn tokens_round_trip_and_anything_else_is_refused() {
        let c = Cursor { at_nanos: 1_764_810_000_123_456_789, service: "eligibility".into(), sequence: 42 };
        assert_eq!(c.token(), "1764810000123456789.eligibility.42");
        assert_eq!(Cursor::parse(&c.token()), Some(c.clone()));
        assert_eq!(c.at().timestamp_subsec_nanos(), 123_456_789);
        for bad in [
            "",
            "x",
            "1.eligibility",
            "1.eligibility.2.3",
            "-1.eligibility.2",
            "1.Eligibility.2",
            "1..2",
            "01.eligibility.2",
            "1.eligibility.+2",
            "99999999999999999999.eligibility.2",
            &format!("1.{}.2", "a".repeat(33)),
            &format!("{}.eligibility.2", "1".repeat(60)),
        ] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn each_service_continues_after_the_cursor_in_the_one_order() {
        let c = Cursor { at_nanos: 5_000_000_000, service: "documents".into(), sequence: 9 };
        let at = c.at();
        assert_eq!(before_for(None, "eligibility"), None);
        assert_eq!(before_for(Some(&c), "documents"), Some((at, 9)));
        assert_eq!(before_for(Some(&c), "certification"), Some((at, i64::MAX)));
        assert_eq!(before_for(Some(&c), "registry"), Some((at, 0)));
    }

    #[test]
    fn pages_merge_newest_first_without_repeating_or_skipping() {
        // Three services; two reads share an instant across services.
        let eligibility = vec![read("eligibility", 50, 3), read("eligibility", 30, 2), read("eligibility", 10, 1)];
        let certification = vec![read("certification", 40, 8), read("certification", 30, 7)];
        let registry = vec![read("registry", 20, 5)];
        let everything: Vec<Sourced> = eligibility.iter().chain(&certification).chain(&registry).cloned().collect();
        let (page, token) = merge(everything.clone(), 3);
        assert_eq!(
            keys(&page),
            [("eligibility".into(), 50, 3), ("certification".into(), 40, 8), ("eligibility".into(), 30, 2)]
        );
        let cursor = Cursor::parse(&token.unwrap()).unwrap();
        // Each service answers what comes after the cursor in its own trail.
        let after = |reads: &[Sourced], service: &str| -> Vec<Sourced> {
            let (at, sequence) = before_for(Some(&cursor), service).unwrap();
            let at = at.timestamp();
            reads
                .iter()
                .filter(|r| {
                    let t = r.read.read_time.unwrap().seconds;
                    t < at || (t == at && r.read.sequence < sequence)
                })
                .cloned()
                .collect()
        };
        let next: Vec<Sourced> =
            [after(&eligibility, "eligibility"), after(&certification, "certification"), after(&registry, "registry")]
                .concat();
        let (page, token) = merge(next, 3);
        assert_eq!(
            keys(&page),
            [("certification".into(), 30, 7), ("registry".into(), 20, 5), ("eligibility".into(), 10, 1)]
        );
        assert_eq!(token, None);
        let (all, none) = merge(everything, 6);
        assert_eq!(all.len(), 6);
        assert_eq!(none, None);
    }
}

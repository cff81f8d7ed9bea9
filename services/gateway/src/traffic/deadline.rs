//! `grpc-timeout`: parsed, capped by the caller's role, and passed on to the service.

use std::time::Duration;

/// Parses a `grpc-timeout` value (`<up to 8 digits><H|M|S|m|u|n>`).
pub(crate) fn parse(value: &str) -> Option<Duration> {
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.checked_mul(3600)?),
        "M" => Duration::from_secs(n.checked_mul(60)?),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Formats a deadline as `grpc-timeout` (milliseconds, rounded up, at most 8 digits).
#[cfg(test)]
pub(crate) fn format(timeout: Duration) -> String {
    header(timeout).to_str().unwrap_or_default().to_owned()
}

/// [`format`] as a header value, written without an intermediate string.
pub(crate) fn header(timeout: Duration) -> http::HeaderValue {
    use std::io::Write;
    let millis = timeout.as_micros().div_ceil(1000).clamp(1, 99_999_999);
    let mut text = [0u8; 9];
    let mut rest = &mut text[..];
    // At most 8 digits and the unit: always fits, always visible ASCII.
    let _ = write!(rest, "{millis}m");
    let len = 9 - rest.len();
    http::HeaderValue::from_bytes(&text[..len]).unwrap_or_else(|_| http::HeaderValue::from_static("1m"))
}

/// The deadline of a call: what it asked for, at most `cap`; `cap` when it asked for none or
/// for something unreadable.
pub(crate) fn effective(requested: Option<&str>, cap: Duration) -> Duration {
    requested.and_then(parse).map_or(cap, |d| d.min(cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_parses() {
        assert_eq!(parse("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse("3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse("7u"), Some(Duration::from_micros(7)));
        assert_eq!(parse("99999999n"), Some(Duration::from_nanos(99_999_999)));
    }

    #[test]
    fn malformed_values_are_ignored() {
        for bad in ["", "S", "5", "5s", "-5S", "123456789S", "1.5S"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_deadline_is_capped_and_defaulted() {
        let cap = Duration::from_secs(30);
        assert_eq!(effective(Some("1H"), cap), cap);
        assert_eq!(effective(Some("100m"), cap), Duration::from_millis(100));
        assert_eq!(effective(None, cap), cap);
        assert_eq!(effective(Some("junk"), cap), cap);
        assert_eq!(format(Duration::from_micros(1500)), "2m");
        assert_eq!(parse(&format(cap)), Some(cap));
    }
}

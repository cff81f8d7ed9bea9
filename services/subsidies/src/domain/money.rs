//! Integer yen arithmetic: subsidy rates as fractions and the rounding a programme states.
//!
//! Money is never a float here. A rate is `numerator / denominator`; applying it to a cost gives
//! a whole part and a remainder, and the programme's [`Rounding`] decides what the remainder
//! becomes.

use serde::{Deserialize, Serialize};

/// How a yen amount with a fractional part is rounded after a rate is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// 切り捨て: truncate to the yen (the default).
    #[default]
    Down,
    /// 四捨五入: half a yen or more rounds up.
    HalfUp,
    /// 切り上げ: any fraction rounds up.
    Up,
}

impl Rounding {
    /// The Japanese name shown in explanations.
    pub fn label(self) -> &'static str {
        match self {
            Rounding::Down => "1円未満切り捨て",
            Rounding::HalfUp => "1円未満四捨五入",
            Rounding::Up => "1円未満切り上げ",
        }
    }

    /// The rule in English, for explanations.
    pub fn label_en(self) -> &'static str {
        match self {
            Rounding::Down => "fractions of a yen dropped",
            Rounding::HalfUp => "fractions of a yen rounded half up",
            Rounding::Up => "fractions of a yen rounded up",
        }
    }
}

/// A subsidy rate such as 10/10, 1/2 or 3/4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Numerator, ≥ 1.
    pub numerator: i64,
    /// Denominator, ≥ the numerator (a subsidy never pays more than the cost).
    pub denominator: i64,
}

impl Rate {
    /// Why the rate is unusable, if it is.
    pub fn problem(&self) -> Option<&'static str> {
        if self.numerator < 1 {
            Some("numerator must be at least 1")
        } else if self.denominator < 1 {
            Some("denominator must be at least 1")
        } else if self.numerator > self.denominator {
            Some("rate must not exceed 1 (numerator <= denominator)")
        } else if self.denominator > 1_000 {
            Some("denominator must be at most 1000")
        } else {
            None
        }
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.numerator, self.denominator)
    }
}

/// A rate applied to a non-negative amount, before and after rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The whole yen of `amount × rate`.
    pub whole: i64,
    /// The fractional part as `remainder / denominator` yen (0 when exact).
    pub remainder: i64,
    /// What rounding adds to `whole`: 0 or 1 yen.
    pub adjustment: i64,
}

impl Applied {
    /// The rounded result.
    pub fn rounded(&self) -> i64 {
        self.whole + self.adjustment
    }
}

/// Applies `rate` to `amount_yen` (≥ 0) and rounds as `rounding` says. Amounts are bounded by
/// validation far below `i64::MAX / 1000`, so the product cannot overflow; it saturates anyway
/// rather than wrap.
pub fn apply_rate(amount_yen: i64, rate: Rate, rounding: Rounding) -> Applied {
    let amount = amount_yen.max(0);
    let denominator = rate.denominator.max(1);
    let product = amount.saturating_mul(rate.numerator.max(0));
    let whole = product / denominator;
    let remainder = product % denominator;
    let adjustment = match rounding {
        _ if remainder == 0 => 0,
        Rounding::Down => 0,
        Rounding::Up => 1,
        Rounding::HalfUp => i64::from(remainder.saturating_mul(2) >= denominator),
    };
    Applied { whole, remainder, adjustment }
}

/// Formats yen with thousands separators: `64,000円`.
/// An amount as English explanations write it: `55,000 yen`.
pub fn yen_en(amount: i64) -> String {
    let mut s = yen(amount);
    s.pop();
    s.push_str(" yen");
    s
}

/// An amount as the explanations write it: `55,000円`.
pub fn yen(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 2);
    if amount < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out.push('円');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const THREE_QUARTERS: Rate = Rate { numerator: 3, denominator: 4 };

    #[test]
    fn each_rounding_mode_on_fractions_below_at_and_above_half() {
        // 1,001 × 3/4 = 750.75; 1,002 × 3/4 = 751.5; 1,003 × 3/4 = 752.25; 1,000 × 3/4 = 750.
        let cases = [
            (1_001, Rounding::Down, 750),
            (1_001, Rounding::HalfUp, 751),
            (1_001, Rounding::Up, 751),
            (1_002, Rounding::Down, 751),
            (1_002, Rounding::HalfUp, 752),
            (1_002, Rounding::Up, 752),
            (1_003, Rounding::Down, 752),
            (1_003, Rounding::HalfUp, 752),
            (1_003, Rounding::Up, 753),
            (1_000, Rounding::Down, 750),
            (1_000, Rounding::HalfUp, 750),
            (1_000, Rounding::Up, 750),
        ];
        for (amount, rounding, expected) in cases {
            assert_eq!(apply_rate(amount, THREE_QUARTERS, rounding).rounded(), expected, "{amount} {rounding:?}");
        }
    }

    #[test]
    fn rates_above_one_or_empty_are_refused() {
        assert!(Rate { numerator: 11, denominator: 10 }.problem().is_some());
        assert!(Rate { numerator: 0, denominator: 10 }.problem().is_some());
        assert!(Rate { numerator: 1, denominator: 0 }.problem().is_some());
        assert!(Rate { numerator: 10, denominator: 10 }.problem().is_none());
    }

    #[test]
    fn yen_is_grouped_by_thousands() {
        assert_eq!(yen(0), "0円");
        assert_eq!(yen(999), "999円");
        assert_eq!(yen(64_000), "64,000円");
        assert_eq!(yen(1_234_567), "1,234,567円");
        assert_eq!(yen(-5_000), "-5,000円");
    }
}

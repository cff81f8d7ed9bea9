//! ケアプランデータ連携 licences: one per office number, a paid year at the annual fee, and the
//! free-pass campaign (first-time, current, returning users and the April–May 2025 renewers),
//! with the campaign rules as data (`spec/licence.toml`).

use chrono::{Datelike, Days, Months, NaiveDate};
use serde::Deserialize;

/// The embedded licence rules.
pub const EMBEDDED: &str = include_str!("../../spec/licence.toml");

/// Licence and campaign rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenceRules {
    pub annual_fee_yen: i64,
    pub campaigns: Vec<Campaign>,
}

/// One free-pass campaign.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    pub id: String,
    pub window_start: NaiveDate,
    pub window_end: NaiveDate,
    pub free_years: u32,
    pub spring_renewal_start: NaiveDate,
    pub spring_renewal_end: NaiveDate,
}

impl LicenceRules {
    pub fn embedded() -> Result<Self, toml::de::Error> {
        toml::from_str(EMBEDDED)
    }
}

/// Paid, or granted by a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodKind {
    Paid,
    FreePass,
}

/// Days covered by a licence, inclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub kind: PeriodKind,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub fee_yen: i64,
    /// The campaign that granted a free pass; empty for a paid year.
    pub rule_set_id: String,
}

impl Period {
    pub fn covers(&self, day: NaiveDate) -> bool {
        self.start <= day && day <= self.end
    }
}

/// The last day of `years` years starting on `start` (民法143: the day before the corresponding
/// day; from 29 February, the last day of February).
pub fn years_end(start: NaiveDate, years: u32) -> NaiveDate {
    let Some(same_day) = start.checked_add_months(Months::new(12 * years)) else { return NaiveDate::MAX };
    if same_day.day() != start.day() {
        // No corresponding day (29 February → a common year): the month's last day.
        return same_day;
    }
    same_day.checked_sub_days(Days::new(1)).unwrap_or(same_day)
}

/// State of a licence on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Never registered.
    None,
    Active,
    Expired,
}

pub fn status(periods: &[Period], today: NaiveDate) -> Status {
    if periods.is_empty() {
        Status::None
    } else if periods.iter().any(|p| p.covers(today)) {
        Status::Active
    } else {
        Status::Expired
    }
}

/// The last covered day of the run of periods that covers `day` (back-to-back periods join).
fn covered_until(periods: &[Period], day: NaiveDate) -> Option<NaiveDate> {
    let mut end = periods.iter().find(|p| p.covers(day))?.end;
    while let Some(next) = end.succ_opt().and_then(|d| periods.iter().find(|p| p.covers(d))) {
        end = next.end;
    }
    Some(end)
}

/// A paid year: from `start`, or else the day after the current run ends, or else `today`.
pub fn paid_year(periods: &[Period], start: Option<NaiveDate>, today: NaiveDate, rules: &LicenceRules) -> Period {
    let start = start.unwrap_or_else(|| covered_until(periods, today).and_then(|e| e.succ_opt()).unwrap_or(today));
    Period {
        kind: PeriodKind::Paid,
        start,
        end: years_end(start, 1),
        fee_yen: rules.annual_fee_yen,
        rule_set_id: String::new(),
    }
}

/// Which campaign group an applicant falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreePassCategory {
    FirstTime,
    Current,
    Returning,
    SpringRenewer,
}

/// A granted free pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreePass {
    pub category: FreePassCategory,
    pub period: Period,
    pub explanation: String,
}

/// Why a free pass is refused: the rule (a FAILED_PRECONDITION reason) and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: &'static str,
    pub message: String,
}

/// Applies the free-pass campaign open on `applied_on`.
pub fn apply_free_pass(periods: &[Period], applied_on: NaiveDate, rules: &LicenceRules) -> Result<FreePass, Refusal> {
    let Some(campaign) = rules.campaigns.iter().find(|c| c.window_start <= applied_on && applied_on <= c.window_end)
    else {
        let windows: Vec<_> =
            rules.campaigns.iter().map(|c| format!("{} to {}", c.window_start, c.window_end)).collect();
        return Err(Refusal {
            reason: "FREE_PASS_WINDOW",
            message: format!("free-pass applications are accepted only from {}", windows.join(", ")),
        });
    };
    if periods.iter().any(|p| p.kind == PeriodKind::FreePass) {
        return Err(Refusal {
            reason: "FREE_PASS_ALREADY_USED",
            message: "the free pass is granted once per office number".to_owned(),
        });
    }
    let (category, start, explanation) = match covered_until(periods, applied_on) {
        None if periods.is_empty() => (
            FreePassCategory::FirstTime,
            applied_on,
            format!("first-time user: free for {} year(s) from the application date", campaign.free_years),
        ),
        None => (
            FreePassCategory::Returning,
            applied_on,
            format!("returning user: free for {} year(s) from the application date", campaign.free_years),
        ),
        Some(end) => {
            let renewal = end.succ_opt().unwrap_or(end);
            let spring = periods.iter().any(|p| {
                p.kind == PeriodKind::Paid
                    && p.covers(applied_on)
                    && campaign.spring_renewal_start <= p.start
                    && p.start <= campaign.spring_renewal_end
            });
            if spring {
                (
                    FreePassCategory::SpringRenewer,
                    renewal,
                    format!("applied or renewed in April–May 2025: free at the renewal of {renewal}"),
                )
            } else {
                (FreePassCategory::Current, renewal, format!("current user: free at the next renewal, {renewal}"))
            }
        }
    };
    let period = Period {
        kind: PeriodKind::FreePass,
        start,
        end: years_end(start, campaign.free_years),
        fee_yen: 0,
        rule_set_id: campaign.id.clone(),
    };
    Ok(FreePass { category, period, explanation })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn rules() -> LicenceRules {
        LicenceRules::embedded().unwrap()
    }

    fn paid(start: NaiveDate) -> Period {
        paid_year(&[], Some(start), start, &rules())
    }

    #[test]
    fn a_year_ends_the_day_before_the_same_date() {
        assert_eq!(years_end(d(2025, 6, 1), 1), d(2026, 5, 31));
        assert_eq!(years_end(d(2025, 1, 1), 1), d(2025, 12, 31));
        assert_eq!(years_end(d(2024, 2, 29), 1), d(2025, 2, 28));
        assert_eq!(years_end(d(2025, 3, 1), 1), d(2026, 2, 28));
        assert_eq!(years_end(d(2023, 3, 1), 1), d(2024, 2, 29));
    }

    #[test]
    fn a_paid_year_costs_the_annual_fee_and_follows_the_current_one() {
        let first = paid(d(2025, 7, 1));
        assert_eq!((first.end, first.fee_yen), (d(2026, 6, 30), 21000));
        let next = paid_year(std::slice::from_ref(&first), None, d(2026, 6, 1), &rules());
        assert_eq!(next.start, d(2026, 7, 1));
        let lapsed = paid_year(std::slice::from_ref(&first), None, d(2026, 9, 1), &rules());
        assert_eq!(lapsed.start, d(2026, 9, 1));
    }

    #[test]
    fn status_is_active_only_inside_a_period() {
        let p = [paid(d(2025, 7, 1))];
        assert_eq!(status(&[], d(2025, 7, 1)), Status::None);
        assert_eq!(status(&p, d(2025, 6, 30)), Status::Expired);
        assert_eq!(status(&p, d(2025, 7, 1)), Status::Active);
        assert_eq!(status(&p, d(2026, 6, 30)), Status::Active);
        assert_eq!(status(&p, d(2026, 7, 1)), Status::Expired);
    }

    #[test]
    fn the_campaign_window_edges() {
        let r = rules();
        assert_eq!(apply_free_pass(&[], d(2025, 5, 31), &r).unwrap_err().reason, "FREE_PASS_WINDOW");
        let first = apply_free_pass(&[], d(2025, 6, 1), &r).unwrap();
        assert_eq!(first.category, FreePassCategory::FirstTime);
        assert_eq!((first.period.start, first.period.end, first.period.fee_yen), (d(2025, 6, 1), d(2026, 5, 31), 0));
        let last = apply_free_pass(&[], d(2026, 5, 31), &r).unwrap();
        assert_eq!(last.period.end, d(2027, 5, 30));
        assert_eq!(apply_free_pass(&[], d(2026, 6, 1), &r).unwrap_err().reason, "FREE_PASS_WINDOW");
    }

    #[test]
    fn current_users_are_free_at_the_next_renewal() {
        let current = [paid(d(2024, 10, 1))];
        let pass = apply_free_pass(&current, d(2025, 6, 15), &rules()).unwrap();
        assert_eq!(pass.category, FreePassCategory::Current);
        assert_eq!((pass.period.start, pass.period.end), (d(2025, 10, 1), d(2026, 9, 30)));
    }

    #[test]
    fn april_may_2025_renewers_are_free_at_their_2026_renewal() {
        for start in [d(2025, 4, 1), d(2025, 5, 31)] {
            let pass = apply_free_pass(&[paid(start)], d(2025, 6, 1), &rules()).unwrap();
            assert_eq!(pass.category, FreePassCategory::SpringRenewer);
            assert_eq!(pass.period.start, years_end(start, 1).succ_opt().unwrap());
        }
        // Renewed on 31 March or 1 June 2025: an ordinary current user.
        for start in [d(2025, 3, 31), d(2025, 6, 1)] {
            let pass = apply_free_pass(&[paid(start)], d(2025, 6, 1), &rules()).unwrap();
            assert_eq!(pass.category, FreePassCategory::Current, "{start}");
        }
    }

    #[test]
    fn returning_users_are_free_from_the_application_and_only_once() {
        let lapsed = [paid(d(2023, 4, 1))];
        let pass = apply_free_pass(&lapsed, d(2025, 8, 1), &rules()).unwrap();
        assert_eq!(pass.category, FreePassCategory::Returning);
        assert_eq!(pass.period.start, d(2025, 8, 1));
        let used = [lapsed[0].clone(), pass.period];
        assert_eq!(apply_free_pass(&used, d(2026, 1, 1), &rules()).unwrap_err().reason, "FREE_PASS_ALREADY_USED");
    }
}

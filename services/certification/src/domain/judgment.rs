//! 一次判定 (primary judgment): the level that follows from the 要介護認定等基準時間.
//!
//! A simplified estimate (docs/domain/certification.md#simplified-estimate): the minutes and the
//! band indicators are taken as recorded with the survey, not derived from the 74 items as the
//! national 認定ソフト does; the software's own result is recorded as EXTERNAL instead.
//!
//! Thresholds (docs/domain/certification.md#primary-judgment; sources https://allabout.co.jp/gm/gc/295659 and
//! https://meno-pcis.com/care-glossary/nursing-care-condition.html), in minutes a day:
//! < 25 非該当; 25 to < 32 要支援1; 32 to < 50 要支援2 or 要介護1; 50 to < 70 要介護2;
//! 70 to < 90 要介護3; 90 to < 110 要介護4; ≥ 110 要介護5.
//!
//! The 32–50 band (since the 2009 model; docs/domain/certification.md#split-band, field
//! 「認知機能及び状態安定性から推定される給付区分」): the national software splits 要支援2 from
//! 要介護1 by two indicators, the stability of the condition (状態の安定性) and the likelihood
//! that 認知症高齢者の日常生活自立度 is Ⅱ or above. An **unstable** condition **or** dementia
//! **Ⅱ or above** points to 要介護1; a stable condition with dementia below Ⅱ (自立 or Ⅰ) gives
//! 要支援2 (docs/domain/certification.md#primary-judgment). The national software estimates the
//! dementia indicator as a probability from the survey items; this service takes the estimated
//! level as recorded with the survey and applies the rule. The board may still change the level
//! (二次判定).

use super::types::{CareLevel, DementiaLevel, Stability};

/// Minutes are kept in tenths (325 = 32.5 minutes), as the survey reports them.
pub type TenthMinutes = i32;

/// The band boundaries in tenths of a minute.
const NOT_APPLICABLE_BELOW: TenthMinutes = 250;
const SUPPORT_1_BELOW: TenthMinutes = 320;
const SPLIT_BAND_BELOW: TenthMinutes = 500;
const CARE_2_BELOW: TenthMinutes = 700;
const CARE_3_BELOW: TenthMinutes = 900;
const CARE_4_BELOW: TenthMinutes = 1100;

/// True when `minutes` falls in the 32–50 band, where the indicators are needed.
pub fn in_split_band(minutes: TenthMinutes) -> bool {
    (SUPPORT_1_BELOW..SPLIT_BAND_BELOW).contains(&minutes)
}

/// The indicators used in the 32–50 band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BandIndicators {
    /// 状態の安定性.
    pub stability: Stability,
    /// Estimated 認知症高齢者の日常生活自立度.
    pub dementia: DementiaLevel,
}

/// The outcome and a plain explanation of the rule applied (no personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgment {
    /// The level.
    pub level: CareLevel,
    /// Which rule gave it.
    pub explanation: String,
}

/// Why no judgment can be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JudgmentError {
    /// Negative minutes.
    #[error("the standard time must not be negative")]
    NegativeTime,
    /// In the 32–50 band without the stability and dementia indicators.
    #[error("the standard time is in the 32–50 minute band, which needs the stability and dementia indicators")]
    IndicatorsMissing,
}

fn fmt_minutes(t: TenthMinutes) -> String {
    format!("{}.{}", t / 10, t % 10)
}

/// The national 認定ソフト versions an external result may name (docs/domain/certification.md#codes).
pub const SOFTWARE_VERSIONS: [&str; 5] = ["99A", "02A", "06A", "09A", "09B"];

/// A primary judgment given by the national 認定ソフト: its level and, when known, its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct External {
    /// The level the software gave.
    pub level: CareLevel,
    /// One of [`SOFTWARE_VERSIONS`], or empty.
    pub software_version: String,
}

/// The primary judgment for `minutes` (tenths), with the band indicators when recorded.
pub fn primary_judgment(minutes: TenthMinutes, indicators: Option<BandIndicators>) -> Result<Judgment, JudgmentError> {
    if minutes < 0 {
        return Err(JudgmentError::NegativeTime);
    }
    let m = fmt_minutes(minutes);
    let simple = |level: CareLevel, band: &str| Judgment {
        level,
        explanation: format!("{m} min in {band} → {}", level.label()),
    };
    Ok(match minutes {
        t if t < NOT_APPLICABLE_BELOW => simple(CareLevel::NotApplicable, "<25"),
        t if t < SUPPORT_1_BELOW => simple(CareLevel::Support1, "25–<32"),
        t if t < SPLIT_BAND_BELOW => {
            let ind = indicators.ok_or(JudgmentError::IndicatorsMissing)?;
            let unstable = ind.stability == Stability::Unstable;
            let dementia = ind.dementia.is_ii_or_above();
            let level = if unstable || dementia { CareLevel::Care1 } else { CareLevel::Support2 };
            let why = match (unstable, dementia) {
                (true, true) => "unstable condition and dementia Ⅱ or above",
                (true, false) => "unstable condition",
                (false, true) => "dementia Ⅱ or above",
                (false, false) => "stable condition, dementia below Ⅱ",
            };
            Judgment { level, explanation: format!("{m} min in 32–<50, {why} → {}", level.label()) }
        }
        t if t < CARE_2_BELOW => simple(CareLevel::Care2, "50–<70"),
        t if t < CARE_3_BELOW => simple(CareLevel::Care3, "70–<90"),
        t if t < CARE_4_BELOW => simple(CareLevel::Care4, "90–<110"),
        _ => simple(CareLevel::Care5, "≥110"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stable_clear() -> Option<BandIndicators> {
        Some(BandIndicators { stability: Stability::Stable, dementia: DementiaLevel::I })
    }

    #[test]
    fn every_threshold_is_inclusive_below_and_exclusive_above() {
        let cases = [
            (0, CareLevel::NotApplicable),
            (249, CareLevel::NotApplicable),
            (250, CareLevel::Support1),
            (319, CareLevel::Support1),
            (320, CareLevel::Support2),
            (499, CareLevel::Support2),
            (500, CareLevel::Care2),
            (699, CareLevel::Care2),
            (700, CareLevel::Care3),
            (899, CareLevel::Care3),
            (900, CareLevel::Care4),
            (1099, CareLevel::Care4),
            (1100, CareLevel::Care5),
            (3000, CareLevel::Care5),
        ];
        for (minutes, level) in cases {
            assert_eq!(primary_judgment(minutes, stable_clear()).unwrap().level, level, "{minutes}");
        }
    }

    #[test]
    fn the_split_band_needs_both_indicators() {
        assert_eq!(primary_judgment(400, None), Err(JudgmentError::IndicatorsMissing));
        // Outside the band nothing is needed.
        assert_eq!(primary_judgment(310, None).unwrap().level, CareLevel::Support1);
        assert_eq!(primary_judgment(500, None).unwrap().level, CareLevel::Care2);
        assert!(in_split_band(320) && in_split_band(499) && !in_split_band(319) && !in_split_band(500));
    }

    #[test]
    fn unstable_or_dementia_two_gives_care_1() {
        let j = |stability, dementia| primary_judgment(400, Some(BandIndicators { stability, dementia })).unwrap();
        assert_eq!(j(Stability::Stable, DementiaLevel::Independent).level, CareLevel::Support2);
        assert_eq!(j(Stability::Stable, DementiaLevel::I).level, CareLevel::Support2);
        assert_eq!(j(Stability::Stable, DementiaLevel::IIa).level, CareLevel::Care1);
        assert_eq!(j(Stability::Unstable, DementiaLevel::Independent).level, CareLevel::Care1);
        assert_eq!(j(Stability::Unstable, DementiaLevel::IIIb).level, CareLevel::Care1);
        assert!(j(Stability::Unstable, DementiaLevel::I).explanation.contains("unstable condition"));
    }

    #[test]
    fn negative_time_is_refused_and_explanations_show_minutes() {
        assert_eq!(primary_judgment(-1, None), Err(JudgmentError::NegativeTime));
        assert_eq!(
            primary_judgment(325, stable_clear()).unwrap().explanation,
            "32.5 min in 32–<50, stable condition, dementia below Ⅱ → 要支援2"
        );
    }
}

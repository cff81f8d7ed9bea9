//! 負担限度額 daily caps by stage and date (docs/domain/eligibility.md#daily-caps).
//!
//! The national table is data, not code: `services/eligibility/data/daily_caps.csv`, one row per
//! stage and start date, embedded at build time. A cost-limit period takes the caps in force on
//! its first day; a period that starts before the table's first date has no caps kaigo knows
//! (the stages themselves were split in 2021-08), and is refused on write.

use std::sync::LazyLock;

use chrono::NaiveDate;

use super::timeline::{CostStage, DailyCaps};

/// The embedded national table.
const NATIONAL_TABLE: &str = include_str!("../../data/daily_caps.csv");

/// One row: from this day on, these caps for this stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Row {
    from: NaiveDate,
    stage: CostStage,
    caps: DailyCaps,
}

/// A daily-cap table: rows by start date.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CapTable {
    rows: Vec<Row>,
}

fn stage_of(code: &str) -> Option<CostStage> {
    match code {
        "1" => Some(CostStage::First),
        "2" => Some(CostStage::Second),
        "3-1" => Some(CostStage::Third1),
        "3-2" => Some(CostStage::Third2),
        _ => None,
    }
}

impl CapTable {
    /// Parses the CSV form: `#` comments, a header line, then `from,stage,` and seven yen amounts.
    /// Every line is checked; the first problem is reported with its line number.
    pub fn parse(text: &str) -> Result<CapTable, String> {
        let mut rows = Vec::new();
        let mut header_seen = false;
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if !header_seen {
                header_seen = true;
                if !line.starts_with("from,stage,") {
                    return Err(format!("line {n}: the header must start with from,stage,"));
                }
                continue;
            }
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            if cells.len() != 9 {
                return Err(format!("line {n}: 9 columns expected, found {}", cells.len()));
            }
            let from = NaiveDate::parse_from_str(cells[0], "%Y-%m-%d")
                .map_err(|_| format!("line {n}: `from` must be a date YYYY-MM-DD"))?;
            let stage = stage_of(cells[1]).ok_or_else(|| format!("line {n}: stage must be 1, 2, 3-1 or 3-2"))?;
            let mut yen = [0u32; 7];
            for (slot, cell) in yen.iter_mut().zip(&cells[2..]) {
                *slot = cell
                    .parse::<u32>()
                    .ok()
                    .filter(|v| *v <= 100_000)
                    .ok_or_else(|| format!("line {n}: amounts must be whole yen from 0 to 100000"))?;
            }
            let [meal_facility, meal_short_stay, unit_private, unit_semi_private, welfare, health, multi_bed] = yen;
            let row = Row {
                from,
                stage,
                caps: DailyCaps {
                    meal_facility,
                    meal_short_stay,
                    unit_private,
                    unit_semi_private,
                    conventional_private_welfare: welfare,
                    conventional_private_health: health,
                    multi_bed,
                },
            };
            if rows.iter().any(|r: &Row| r.from == from && r.stage == stage) {
                return Err(format!("line {n}: a second row for the same stage and date"));
            }
            rows.push(row);
        }
        if rows.is_empty() {
            return Err("the table has no rows".to_owned());
        }
        rows.sort_by_key(|r| r.from);
        Ok(CapTable { rows })
    }

    /// The caps of `stage` in force on `day`: the latest row of that stage starting on or before
    /// it. `None` before the table's first row for the stage.
    pub fn caps_on(&self, stage: CostStage, day: NaiveDate) -> Option<DailyCaps> {
        self.rows.iter().filter(|r| r.stage == stage && r.from <= day).max_by_key(|r| r.from).map(|r| r.caps)
    }

    /// The first day the table covers for every stage.
    pub fn first_day(&self) -> Option<NaiveDate> {
        self.rows.iter().map(|r| r.from).min()
    }
}

static NATIONAL: LazyLock<CapTable> = LazyLock::new(|| CapTable::parse(NATIONAL_TABLE).unwrap_or_default());

/// The national table embedded in the build (a unit test proves it parses).
pub fn national() -> &'static CapTable {
    &NATIONAL
}

/// The national daily caps of `stage` in force on `day` (the period's first day).
pub fn national_caps(stage: CostStage, day: NaiveDate) -> Option<DailyCaps> {
    national().caps_on(stage, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn the_embedded_table_parses_and_covers_every_stage_from_2021_08() {
        let table = CapTable::parse(NATIONAL_TABLE).unwrap();
        assert_eq!(table.first_day(), Some(d(2021, 8, 1)));
        for stage in [CostStage::First, CostStage::Second, CostStage::Third1, CostStage::Third2] {
            assert!(table.caps_on(stage, d(2021, 8, 1)).is_some());
            assert!(table.caps_on(stage, d(2021, 7, 31)).is_none());
        }
    }

    #[test]
    fn the_period_start_picks_the_table_and_housing_rose_60_yen_in_2024_08() {
        let before = national_caps(CostStage::Second, d(2024, 7, 31)).unwrap();
        let after = national_caps(CostStage::Second, d(2024, 8, 1)).unwrap();
        assert_eq!((before.unit_private, after.unit_private), (820, 880));
        assert_eq!((before.multi_bed, after.multi_bed), (370, 430));
        assert_eq!((before.conventional_private_welfare, after.conventional_private_welfare), (420, 480));
        // Meals did not change in 2024-08.
        assert_eq!((before.meal_facility, after.meal_facility), (390, 390));
        assert_eq!(before.meal_short_stay, after.meal_short_stay);
        // Stage 1 multi-bed rooms stayed free; stage 3② meals cost 1,360.
        assert_eq!(national_caps(CostStage::First, d(2023, 1, 1)).unwrap().multi_bed, 0);
        assert_eq!(national_caps(CostStage::First, d(2025, 1, 1)).unwrap().multi_bed, 0);
        assert_eq!(national_caps(CostStage::Third2, d(2025, 1, 1)).unwrap().meal_facility, 1_360);
        assert_eq!(national_caps(CostStage::Third1, d(2022, 1, 1)).unwrap().unit_private, 1_310);
    }

    #[test]
    fn a_broken_table_is_refused_with_its_line() {
        let head = "from,stage,a,b,c,d,e,f,g\n";
        assert!(CapTable::parse("").is_err());
        let err = CapTable::parse(&format!("{head}2024-08-01,4,1,2,3,4,5,6,7\n")).unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
        let err = CapTable::parse(&format!("{head}2024-08-01,1,1,2,3\n")).unwrap_err();
        assert!(err.contains("9 columns"), "{err}");
        let err = CapTable::parse(&format!("{head}2024-08-01,1,1,2,3,4,5,6,-7\n")).unwrap_err();
        assert!(err.contains("whole yen"), "{err}");
        let twice = format!("{head}2024-08-01,1,1,2,3,4,5,6,7\n2024-08-01,1,1,2,3,4,5,6,7\n");
        assert!(CapTable::parse(&twice).unwrap_err().contains("second row"));
        assert!(CapTable::parse("2024-08-01,1,1,2,3,4,5,6,7\n").unwrap_err().contains("header"));
    }
}

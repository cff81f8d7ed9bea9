//! 負担限度額 daily caps by stage (docs/domain/eligibility.md#daily-caps, values from 2024-08-01).

use super::timeline::{CostStage, DailyCaps};

/// The national daily caps of `stage` in force from 2024-08-01. A municipality may record
/// other caps explicitly; these fill in when a record gives none.
pub fn national_caps(stage: CostStage) -> DailyCaps {
    let (meal_facility, meal_short_stay, unit_private, unit_semi_private, welfare, health, multi_bed) = match stage {
        CostStage::First => (300, 300, 880, 550, 380, 550, 0),
        CostStage::Second => (390, 600, 880, 550, 480, 550, 430),
        CostStage::Third1 => (650, 1_000, 1_370, 1_370, 880, 1_370, 430),
        CostStage::Third2 => (1_360, 1_300, 1_370, 1_370, 880, 1_370, 430),
    };
    DailyCaps {
        meal_facility,
        meal_short_stay,
        unit_private,
        unit_semi_private,
        conventional_private_welfare: welfare,
        conventional_private_health: health,
        multi_bed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_one_multi_bed_stays_free_and_stage_three_two_meals_cost_1360() {
        assert_eq!(national_caps(CostStage::First).multi_bed, 0);
        assert_eq!(national_caps(CostStage::Third2).meal_facility, 1_360);
        assert_eq!(national_caps(CostStage::Second).meal_short_stay, 600);
    }
}

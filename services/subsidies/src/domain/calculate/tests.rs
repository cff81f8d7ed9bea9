//! Table-driven tests of the calculation under the FY2025 programme, the check that the FY2025
//! file reproduces the published tables (docs/domain/subsidies.md#fy2025), and a property test
//! of the limits.

use kaigo_platform::ids::{CareOfficeNumber, MedicalInstitutionCode, check_digit};
use proptest::prelude::*;

use super::*;
use crate::domain::costs::ReaderPurchase;
use crate::domain::money::Rounding;
use crate::domain::programme::parse_programme;

fn fy2025() -> Programme {
    parse_programme("fy2025.toml", crate::catalogue::FY2025).unwrap()
}

fn with_check_digit(payload: &str) -> String {
    format!("{payload}{}", check_digit(payload.as_bytes()).unwrap())
}

fn office() -> CareOfficeNumber {
    CareOfficeNumber::parse(&with_check_digit("131234567")).unwrap()
}

fn institution() -> MedicalInstitutionCode {
    MedicalInstitutionCode::parse(&with_check_digit("271234567")).unwrap()
}

fn care(categories: &[&str], readers: &[(i64, i64)], connection: i64, setup: i64) -> Costs {
    Costs::CareOffice(CareOfficeCosts {
        office_number: office(),
        category_ids: categories.iter().map(|c| (*c).to_owned()).collect(),
        readers: readers
            .iter()
            .map(|&(quantity, unit_price_yen)| ReaderPurchase { quantity, unit_price_yen })
            .collect(),
        connection_support_cost_yen: connection,
        careplan_setup_cost_yen: setup,
    })
}

fn medical_costs(institution_type: InstitutionType, beds: i64, cost: i64) -> Costs {
    Costs::Medical(MedicalCosts {
        institution_code: institution(),
        institution_type,
        beds,
        software_change_cost_yen: cost,
    })
}

fn codes(c: &Calculation) -> Vec<&str> {
    c.lines.iter().map(|l| l.code.as_str()).collect()
}

const VISIT: &str = "visit_day_short_stay";
const RESIDENTIAL: &str = "residential";
const OTHER: &str = "other";

struct Case {
    name: &'static str,
    costs: Costs,
    total: i64,
    eligible_cost: i64,
    amount: i64,
    /// A line that must be present, with its limit id.
    line: Option<(&'static str, &'static str)>,
}

#[test]
fn care_office_cases_under_fy2025() {
    let cases = [
        Case {
            name: "訪問・通所・短期滞在系 under its cap",
            costs: care(&[VISIT], &[(3, 8_000)], 30_000, 0),
            total: 54_000,
            eligible_cost: 54_000,
            amount: 54_000,
            line: None,
        },
        Case {
            name: "訪問・通所・短期滞在系 capped at 64,000",
            costs: care(&[VISIT], &[(3, 10_000)], 50_000, 0),
            total: 80_000,
            eligible_cost: 80_000,
            amount: 64_000,
            line: Some(("CAP_APPLIED", VISIT)),
        },
        Case {
            name: "居住・入所系 capped at 55,000",
            costs: care(&[RESIDENTIAL], &[(2, 10_000)], 40_000, 0),
            total: 60_000,
            eligible_cost: 60_000,
            amount: 55_000,
            line: Some(("CAP_APPLIED", RESIDENTIAL)),
        },
        Case {
            name: "その他 capped at 42,000",
            costs: care(&[OTHER], &[(1, 12_000)], 35_000, 0),
            total: 47_000,
            eligible_cost: 47_000,
            amount: 42_000,
            line: Some(("CAP_APPLIED", OTHER)),
        },
        Case {
            name: "exactly at the cap is not reduced",
            costs: care(&[OTHER], &[(1, 12_000)], 30_000, 0),
            total: 42_000,
            eligible_cost: 42_000,
            amount: 42_000,
            line: Some(("CATEGORY_CAP", OTHER)),
        },
        Case {
            name: "two categories at one office: caps add up to 119,000",
            costs: care(&[VISIT, RESIDENTIAL], &[(3, 10_000)], 100_000, 0),
            total: 130_000,
            eligible_cost: 130_000,
            amount: 119_000,
            line: Some(("CAP_APPLIED", "visit_day_short_stay+residential")),
        },
        Case {
            name: "three categories at one office: caps add up to 161,000",
            costs: care(&[OTHER, RESIDENTIAL, VISIT], &[(3, 10_000)], 200_000, 0),
            total: 230_000,
            eligible_cost: 230_000,
            amount: 161_000,
            line: Some(("CAP_APPLIED", "other+residential+visit_day_short_stay")),
        },
        Case {
            name: "readers over the limit: 4 bought, residential allows 2",
            costs: care(&[RESIDENTIAL], &[(4, 10_000)], 0, 0),
            total: 40_000,
            eligible_cost: 20_000,
            amount: 20_000,
            line: Some(("READER_LIMIT", RESIDENTIAL)),
        },
        Case {
            name: "readers over the limit count the dearest first",
            costs: care(&[RESIDENTIAL], &[(2, 8_000), (2, 12_000)], 0, 0),
            total: 40_000,
            eligible_cost: 24_000,
            amount: 24_000,
            line: Some(("READER_LIMIT", RESIDENTIAL)),
        },
        Case {
            name: "reader limits do not add up in FY2025: the largest (3) applies",
            costs: care(&[VISIT, RESIDENTIAL, OTHER], &[(6, 10_000)], 0, 0),
            total: 60_000,
            eligible_cost: 30_000,
            amount: 30_000,
            line: Some(("READER_LIMIT", VISIT)),
        },
        Case {
            name: "set-up support alone is not eligible",
            costs: care(&[VISIT], &[], 0, 30_000),
            total: 30_000,
            eligible_cost: 0,
            amount: 0,
            line: Some(("SETUP_NOT_ELIGIBLE", "")),
        },
        Case {
            name: "set-up support with connection support counts",
            costs: care(&[VISIT], &[], 20_000, 30_000),
            total: 50_000,
            eligible_cost: 50_000,
            amount: 50_000,
            line: Some(("SETUP_SUPPORT", "")),
        },
        Case {
            name: "readers and set-up without connection support: only the readers",
            costs: care(&[VISIT], &[(2, 9_000)], 0, 30_000),
            total: 48_000,
            eligible_cost: 18_000,
            amount: 18_000,
            line: Some(("SETUP_NOT_ELIGIBLE", "")),
        },
    ];
    let programme = fy2025();
    for case in cases {
        let c = calculate(&programme, &case.costs).unwrap_or_else(|p| panic!("{}: {p:?}", case.name));
        assert_eq!(c.total_cost_yen, case.total, "{}: total", case.name);
        assert_eq!(c.eligible_cost_yen, case.eligible_cost, "{}: eligible cost", case.name);
        assert_eq!(c.eligible_amount_yen, case.amount, "{}: amount", case.name);
        if let Some((code, limit)) = case.line {
            assert!(
                c.lines.iter().any(|l| l.code == code && l.limit_id == limit),
                "{}: expected {code} with limit {limit:?}; got {:?}",
                case.name,
                c.lines
            );
        }
        // The explanation adds up: cost lines, exclusions and reductions give the amount.
        assert_eq!(c.programme_id, "fy2025");
        assert!(c.tier_id.is_none());
    }
}

#[test]
fn reader_limits_add_up_when_the_programme_says_so() {
    let mut programme = fy2025();
    programme.care_office.as_mut().unwrap().reader_limits_add_up = true;
    let c = calculate(&programme, &care(&[VISIT, RESIDENTIAL], &[(6, 10_000)], 0, 0)).unwrap();
    // 3 + 2 = 5 readers count.
    assert_eq!(c.eligible_cost_yen, 50_000);
    let limit = c.lines.iter().find(|l| l.code == "READER_LIMIT").unwrap();
    assert_eq!(limit.limit_id, "visit_day_short_stay+residential");
    assert_eq!(limit.amount_yen, -10_000);
}

#[test]
fn an_explanation_lists_its_steps_in_order() {
    let c = calculate(&fy2025(), &care(&[RESIDENTIAL], &[(3, 10_000)], 40_000, 5_000)).unwrap();
    assert_eq!(
        codes(&c),
        [
            "READER_COST",
            "READER_LIMIT",
            "CONNECTION_SUPPORT",
            "SETUP_SUPPORT",
            "ELIGIBLE_COST",
            "RATE",
            "CATEGORY_CAP",
            "CAP_APPLIED"
        ]
    );
    let limit = &c.lines[1];
    assert!(limit.description.contains("3台 → 上限 2台"), "{}", limit.description);
    assert_eq!(c.eligible_amount_yen, 55_000);
}

struct MedicalCase {
    name: &'static str,
    kind: InstitutionType,
    beds: i64,
    cost: i64,
    rounding: Rounding,
    tier: &'static str,
    amount: i64,
    capped: bool,
}

#[test]
fn medical_tiers_under_fy2025() {
    use InstitutionType::{Clinic, Hospital};
    use Rounding::{Down, HalfUp, Up};
    const BIG: &str = "hospital_200_plus";
    const SMALL: &str = "hospital_199_or_fewer_or_clinic";
    let cases = [
        MedicalCase {
            name: "200 beds: 1/2",
            kind: Hospital,
            beds: 200,
            cost: 400_000,
            rounding: Down,
            tier: BIG,
            amount: 200_000,
            capped: false,
        },
        MedicalCase {
            name: "199 beds: 3/4",
            kind: Hospital,
            beds: 199,
            cost: 400_000,
            rounding: Down,
            tier: SMALL,
            amount: 300_000,
            capped: false,
        },
        MedicalCase {
            name: "200 beds capped at 550,000",
            kind: Hospital,
            beds: 200,
            cost: 2_000_000,
            rounding: Down,
            tier: BIG,
            amount: 550_000,
            capped: true,
        },
        MedicalCase {
            name: "199 beds capped at 398,000",
            kind: Hospital,
            beds: 199,
            cost: 1_000_000,
            rounding: Down,
            tier: SMALL,
            amount: 398_000,
            capped: true,
        },
        MedicalCase {
            name: "1,000 beds",
            kind: Hospital,
            beds: 1_000,
            cost: 1_100_000,
            rounding: Down,
            tier: BIG,
            amount: 550_000,
            capped: false,
        },
        MedicalCase {
            name: "20 beds",
            kind: Hospital,
            beds: 20,
            cost: 100_000,
            rounding: Down,
            tier: SMALL,
            amount: 75_000,
            capped: false,
        },
        MedicalCase {
            name: "clinic without beds",
            kind: Clinic,
            beds: 0,
            cost: 200_000,
            rounding: Down,
            tier: SMALL,
            amount: 150_000,
            capped: false,
        },
        MedicalCase {
            name: "clinic with 19 beds",
            kind: Clinic,
            beds: 19,
            cost: 600_000,
            rounding: Down,
            tier: SMALL,
            amount: 398_000,
            capped: true,
        },
        // 100,001 × 3/4 = 75,000.75 and 100,001 × 1/2 = 50,000.5.
        MedicalCase {
            name: "3/4 rounds down",
            kind: Hospital,
            beds: 199,
            cost: 100_001,
            rounding: Down,
            tier: SMALL,
            amount: 75_000,
            capped: false,
        },
        MedicalCase {
            name: "3/4 rounds half up",
            kind: Hospital,
            beds: 199,
            cost: 100_001,
            rounding: HalfUp,
            tier: SMALL,
            amount: 75_001,
            capped: false,
        },
        MedicalCase {
            name: "3/4 rounds up",
            kind: Hospital,
            beds: 199,
            cost: 100_001,
            rounding: Up,
            tier: SMALL,
            amount: 75_001,
            capped: false,
        },
        MedicalCase {
            name: "1/2 of an odd cost rounds down",
            kind: Hospital,
            beds: 250,
            cost: 100_001,
            rounding: Down,
            tier: BIG,
            amount: 50_000,
            capped: false,
        },
        MedicalCase {
            name: "a half rounds half up",
            kind: Hospital,
            beds: 250,
            cost: 100_001,
            rounding: HalfUp,
            tier: BIG,
            amount: 50_001,
            capped: false,
        },
        MedicalCase {
            name: "a quarter stays down under half up",
            kind: Clinic,
            beds: 0,
            cost: 100_003,
            rounding: HalfUp,
            tier: SMALL,
            amount: 75_002,
            capped: false,
        },
    ];
    for case in cases {
        let mut programme = fy2025();
        programme.rounding = case.rounding;
        let c = calculate(&programme, &medical_costs(case.kind, case.beds, case.cost))
            .unwrap_or_else(|p| panic!("{}: {p:?}", case.name));
        assert_eq!(c.tier_id.as_deref(), Some(case.tier), "{}", case.name);
        assert_eq!(c.eligible_amount_yen, case.amount, "{}", case.name);
        assert_eq!(
            c.lines.iter().any(|l| l.code == "TIER_CAP" && l.limit_id == case.tier),
            case.capped,
            "{}",
            case.name
        );
        let rounded = c.lines.iter().any(|l| l.code == "ROUNDING");
        assert_eq!(
            rounded,
            (case.cost * 3) % 4 != 0 && case.tier == SMALL || case.cost % 2 != 0 && case.tier == BIG,
            "{}",
            case.name
        );
    }
}

#[test]
fn rounding_lines_state_the_mode_and_the_adjustment() {
    let mut programme = fy2025();
    programme.rounding = Rounding::HalfUp;
    let c = calculate(&programme, &medical_costs(InstitutionType::Hospital, 199, 100_002)).unwrap();
    // 100,002 × 3/4 = 75,001.5 → 75,002.
    let rounding = c.lines.iter().find(|l| l.code == "ROUNDING").unwrap();
    assert_eq!(rounding.amount_yen, 1);
    assert!(rounding.description.contains("四捨五入"), "{}", rounding.description);
    assert_eq!(c.eligible_amount_yen, 75_002);
}

#[test]
fn bad_claims_are_refused_field_by_field() {
    let programme = fy2025();
    let cases: [(&str, Costs, &[&str]); 9] = [
        ("negative connection cost", care(&[VISIT], &[], -1, 0), &["connection_support_cost_yen"]),
        ("absurd set-up cost", care(&[VISIT], &[], 10, 1_000_000_000_000), &["careplan_setup_cost_yen"]),
        ("unknown category", care(&["spa"], &[(1, 10_000)], 0, 0), &["category_ids[0]"]),
        ("no category", care(&[], &[(1, 10_000)], 0, 0), &["category_ids"]),
        ("category twice", care(&[VISIT, VISIT], &[(1, 10_000)], 0, 0), &["category_ids[1]"]),
        (
            "zero readers, free readers",
            care(&[VISIT], &[(0, 0)], 0, 0),
            &["readers[0].quantity", "readers[0].unit_price_yen"],
        ),
        ("nothing claimed", care(&[VISIT], &[], 0, 0), &["readers"]),
        ("hospital without beds", medical_costs(InstitutionType::Hospital, 0, 100_000), &["beds"]),
        ("negative software cost", medical_costs(InstitutionType::Clinic, 0, -5), &["software_change_cost_yen"]),
    ];
    for (name, costs, fields) in cases {
        let problems = calculate(&programme, &costs).unwrap_err();
        let got: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(got, fields, "{name}");
    }
    // A clinic cannot have 20 beds, nor a hospital 19.
    assert!(calculate(&programme, &medical_costs(InstitutionType::Clinic, 20, 1_000)).is_err());
    assert!(calculate(&programme, &medical_costs(InstitutionType::Hospital, 19, 1_000)).is_err());
}

/// The FY2025 file says what the published tables say (the Gifu-city briefing's reproduction of
/// 別添1 and the 国保中央会 leaflet; docs/domain/subsidies.md#fy2025), value by value.
#[test]
fn the_fy2025_file_reproduces_the_seed_tables() {
    let p = fy2025();
    assert_eq!(p.programme_id, "fy2025");
    assert_eq!(p.fiscal_year, 2025);
    // 今年度の助成金申請手続きは2026年3月13日(金)まで
    let window = p.window(crate::domain::programme::ApplicantKind::CareOffice).unwrap();
    assert_eq!(window.deadline.to_string(), "2026-03-13");
    // The 介護情報基盤ポータル opened in August 2025 (the day is not stated).
    assert_eq!(window.open_date.unwrap().to_string(), "2025-08-01");
    // 消費税分（10%）も助成対象
    assert!(p.tax_included);
    assert_eq!(p.rounding, Rounding::Down);

    let rules = p.care_office.as_ref().unwrap();
    // 対象（介護サービス種別） / カードリーダーの助成限度台数 / 助成限度額（①②を合算した限度額）
    let table: Vec<(&str, i64, i64)> =
        rules.categories.iter().map(|c| (c.name.as_str(), c.max_readers, c.cap_yen)).collect();
    assert_eq!(table, [("訪問・通所・短期滞在系", 3, 64_000), ("居住・入所系", 2, 55_000), ("その他", 1, 42_000)]);
    // 同一事業所で複数のサービスを提供する場合には…助成限度額の合計を助成限度額とすることができます
    assert!(rules.caps_add_up);
    // なお、助成率は10/10になります
    assert_eq!((rules.rate.numerator, rules.rate.denominator), (10, 10));
    // 『②介護情報基盤との接続サポート等経費』と一体的に受けることが条件
    assert!(rules.setup_requires_connection_support);

    // 対象 / 補助率 / 助成限度額
    let tiers: Vec<_> = p
        .medical_tiers
        .iter()
        .map(|t| (t.name.as_str(), t.min_beds, t.max_beds, t.rate.numerator, t.rate.denominator, t.cap_yen))
        .collect();
    assert_eq!(
        tiers,
        [("200床以上の病院", 200, None, 1, 2, 550_000), ("199床以下の病院または診療所", 0, Some(199), 3, 4, 398_000),]
    );
    assert_eq!(p.medical_tiers[0].institution_types, [InstitutionType::Hospital]);
    assert_eq!(p.medical_tiers[1].institution_types, [InstitutionType::Hospital, InstitutionType::Clinic]);
}

fn care_costs_strategy() -> impl Strategy<Value = Costs> {
    (
        proptest::sample::subsequence(vec![VISIT, RESIDENTIAL, OTHER], 1..=3),
        proptest::collection::vec((1i64..=20, 1i64..=200_000), 0..5),
        0i64..=500_000,
        0i64..=500_000,
    )
        .prop_filter("claims something", |(_, readers, connection, setup)| {
            !readers.is_empty() || *connection > 0 || *setup > 0
        })
        .prop_map(|(categories, readers, connection, setup)| care(&categories, &readers, connection, setup))
}

proptest! {
    /// Whatever the claim, the subsidy never exceeds the cost, the eligible cost, or the
    /// summed caps of the office's categories.
    #[test]
    fn the_amount_never_exceeds_the_cost_or_the_summed_cap(
        costs in care_costs_strategy(),
        adds_up in any::<bool>(),
        rounding in prop_oneof![Just(Rounding::Down), Just(Rounding::HalfUp), Just(Rounding::Up)],
    ) {
        let mut programme = fy2025();
        programme.rounding = rounding;
        programme.care_office.as_mut().unwrap().reader_limits_add_up = adds_up;
        let c = calculate(&programme, &costs).unwrap();
        let Costs::CareOffice(claim) = &costs else { unreachable!() };
        let rules = programme.care_office.as_ref().unwrap();
        let summed_cap: i64 = claim.category_ids.iter().map(|id| rules.category(id).unwrap().cap_yen).sum();
        prop_assert!(c.eligible_amount_yen >= 0);
        prop_assert!(c.eligible_amount_yen <= c.eligible_cost_yen);
        prop_assert!(c.eligible_cost_yen <= c.total_cost_yen);
        prop_assert!(c.eligible_amount_yen <= summed_cap);
    }

    /// A medical institution's subsidy never exceeds the cost or its tier's cap.
    #[test]
    fn the_medical_amount_never_exceeds_the_cost_or_the_tier_cap(
        hospital in any::<bool>(),
        beds in 0i64..=3_000,
        cost in 1i64..=5_000_000,
        rounding in prop_oneof![Just(Rounding::Down), Just(Rounding::HalfUp), Just(Rounding::Up)],
    ) {
        let (kind, beds) = if hospital {
            (InstitutionType::Hospital, beds.max(20))
        } else {
            (InstitutionType::Clinic, beds % 20)
        };
        let mut programme = fy2025();
        programme.rounding = rounding;
        let c = calculate(&programme, &medical_costs(kind, beds, cost)).unwrap();
        let tier = programme.tier_for(kind, beds).unwrap();
        prop_assert!(c.eligible_amount_yen <= cost);
        prop_assert!(c.eligible_amount_yen <= tier.cap_yen);
        prop_assert_eq!(c.tier_id.as_deref(), Some(tier.id.as_str()));
    }
}

/// Every line of an explanation is kept in English too, so a caller who prefers English reads
/// it in English (docs/domain/subsidies.md#calculation).
#[test]
fn every_line_has_an_english_explanation() {
    let p = fy2025();
    let claims = [
        care(&[VISIT, RESIDENTIAL], &[(5, 30_000)], 80_000, 11_000),
        care(&[OTHER], &[(1, 9_999)], 0, 5_000),
        medical_costs(InstitutionType::Hospital, 250, 1_320_001),
        medical_costs(InstitutionType::Clinic, 0, 10_001),
    ];
    for costs in claims {
        let c = calculate(&p, &costs).unwrap();
        for l in &c.lines {
            assert!(!l.description_en.is_empty(), "{}: no English", l.code);
            // Japanese only in the programme's own names (categories, tiers).
            let japanese = l.description_en.chars().any(|ch| ('\u{3040}'..='\u{9fff}').contains(&ch));
            assert!(!japanese || l.code == "CATEGORY_CAP" || l.code == "TIER", "{}: {}", l.code, l.description_en);
            assert!(!l.description_en.contains('円'), "{}: {}", l.code, l.description_en);
        }
    }
}

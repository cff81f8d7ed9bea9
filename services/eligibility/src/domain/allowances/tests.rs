use chrono::NaiveDate;

use super::*;
use crate::domain::timeline::{PersonCore, Record};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn certification(id: i64, start: NaiveDate, end: NaiveDate, level: CareLevel) -> Record {
    Record {
        id,
        start,
        end: Some(end),
        detail: Detail::Certification {
            level,
            certified: start,
            limit_units: level.default_limit_units().unwrap_or(0),
            board_opinion: String::new(),
            designated_service_types: vec![],
            service_type_limits: vec![],
            application_id: String::new(),
        },
    }
}

fn copayment(id: i64, start: NaiveDate, end: NaiveDate, tenths: u8) -> Record {
    Record { id, start, end: Some(end), detail: Detail::Copayment { tenths } }
}

fn timeline(records: Vec<Record>) -> Timeline {
    Timeline {
        person: PersonCore { category: 1, acquired: Some(d(2020, 4, 1)), lost: None, version: 1, changed_at: 0 },
        records,
    }
}

/// 要介護1 until 2026-09-30, then `later` from 2026-10-01; 1割 until 2026-07-31, 2割 after.
fn person_with(later: CareLevel) -> Timeline {
    timeline(vec![
        certification(1, d(2025, 4, 1), d(2026, 9, 30), CareLevel::Care1),
        certification(2, d(2026, 10, 1), d(2028, 9, 30), later),
        copayment(3, d(2025, 8, 1), d(2026, 7, 31), 1),
        copayment(4, d(2026, 8, 1), d(2027, 7, 31), 2),
    ])
}

fn home(id: i64, receipt: NaiveDate, cost: i64, dwelling: &str) -> AllowanceUse {
    AllowanceUse {
        id,
        facts: UseFacts {
            kind: UseKind::HomeModification,
            reference: format!("H{id}"),
            receipt,
            cost_yen: cost,
            dwelling: dwelling.to_owned(),
            description: String::new(),
        },
    }
}

fn purchase(id: i64, receipt: NaiveDate, cost: i64) -> AllowanceUse {
    AllowanceUse {
        id,
        facts: UseFacts {
            kind: UseKind::EquipmentPurchase,
            reference: format!("P{id}"),
            receipt,
            cost_yen: cost,
            dwelling: String::new(),
            description: "腰掛便座".to_owned(),
        },
    }
}

fn codes(s: &Status) -> Vec<&'static str> {
    s.lines.iter().map(|l| l.code).collect()
}

#[test]
fn yen_is_written_with_thousands_separators() {
    assert_eq!(yen(200_000), "200,000円");
    assert_eq!(yen(999), "999円");
    assert_eq!(yen(1_000), "1,000円");
    assert_eq!(yen(-1_500), "-1,500円");
}

#[test]
fn the_fiscal_year_turns_between_march_31_and_april_1() {
    assert_eq!(fiscal_year(d(2027, 3, 31)), (d(2026, 4, 1), d(2027, 3, 31)));
    assert_eq!(fiscal_year(d(2027, 4, 1)), (d(2027, 4, 1), d(2028, 3, 31)));
}

#[test]
fn purchases_count_within_their_fiscal_year_only() {
    let t = person_with(CareLevel::Care1);
    let uses = [purchase(10, d(2026, 6, 1), 60_000), purchase(11, d(2027, 3, 31), 30_000)];
    let rules = AllowanceRules::default();
    let march = equipment_purchase(&uses, &t, d(2027, 3, 31), &rules);
    assert_eq!((march.used_yen, march.remaining_yen), (90_000, 10_000));
    assert_eq!(march.counted_over, Some((d(2026, 4, 1), d(2027, 3, 31))));
    let april = equipment_purchase(&uses, &t, d(2027, 4, 1), &rules);
    assert_eq!((april.used_yen, april.remaining_yen), (0, 100_000));
    assert_eq!(codes(&april), [LIMIT, REMAINING]);
    // A purchase after the date asked about is not counted yet.
    let before = equipment_purchase(&uses, &t, d(2027, 3, 30), &rules);
    assert_eq!(before.used_yen, 60_000);
}

#[test]
fn the_ratio_on_the_receipt_date_applies() {
    let t = person_with(CareLevel::Care1);
    let uses = [purchase(10, d(2026, 7, 31), 10_000), purchase(11, d(2026, 8, 1), 10_000)];
    let s = equipment_purchase(&uses, &t, d(2026, 8, 1), &AllowanceRules::default());
    let used: Vec<_> = s.lines.iter().filter(|l| l.code == USE).collect();
    assert_eq!((used[0].copayment_tenths, used[0].benefit_yen, used[0].user_pays_yen), (Some(1), 9_000, 1_000));
    assert_eq!((used[1].copayment_tenths, used[1].benefit_yen, used[1].user_pays_yen), (Some(2), 8_000, 2_000));
}

#[test]
fn a_purchase_beyond_the_limit_is_counted_up_to_it_and_the_rest_paid_by_the_user() {
    let t = person_with(CareLevel::Care1);
    let uses = [purchase(10, d(2026, 5, 1), 70_000), purchase(11, d(2026, 6, 1), 50_000)];
    let s = equipment_purchase(&uses, &t, d(2026, 6, 1), &AllowanceRules::default());
    assert_eq!((s.used_yen, s.remaining_yen), (100_000, 0));
    assert_eq!(codes(&s), [LIMIT, USE, USE, OVER_LIMIT, REMAINING]);
    assert_eq!((s.lines[2].amount_yen, s.lines[3].amount_yen, s.lines[3].user_pays_yen), (30_000, 20_000, 20_000));
}

#[test]
fn without_a_ratio_in_force_the_benefit_is_not_computed() {
    let t = timeline(vec![certification(1, d(2025, 4, 1), d(2027, 3, 31), CareLevel::Care1)]);
    let s = equipment_purchase(&[purchase(10, d(2026, 5, 1), 10_000)], &t, d(2026, 5, 1), &AllowanceRules::default());
    assert_eq!(codes(&s), [LIMIT, USE, NO_COPAYMENT_RATIO, REMAINING]);
    assert_eq!((s.lines[1].copayment_tenths, s.lines[1].benefit_yen), (None, 0));
    assert_eq!(s.remaining_yen, 90_000);
}

#[test]
fn home_modification_is_counted_per_dwelling_and_a_move_opens_a_new_allowance() {
    let t = person_with(CareLevel::Care1);
    let rules = AllowanceRules::default();
    let uses = [home(1, d(2026, 5, 1), 150_000, "A"), home(2, d(2026, 6, 1), 30_000, "B")];
    // On the latest use's dwelling (B): a fresh allowance after the move.
    let s = home_modification(&uses, &t, d(2026, 6, 1), None, &rules);
    assert_eq!((s.dwelling.as_str(), s.used_yen, s.remaining_yen), ("B", 30_000, 170_000));
    assert_eq!(codes(&s), [NEW_DWELLING, USE, REMAINING]);
    // Dwelling A keeps its own count.
    let a = home_modification(&uses, &t, d(2026, 6, 1), Some("A"), &rules);
    assert_eq!((a.used_yen, a.remaining_yen), (150_000, 50_000));
    // Before the move only A is known; a dwelling never used has the whole allowance.
    let before = home_modification(&uses, &t, d(2026, 5, 31), None, &rules);
    assert_eq!((before.dwelling.as_str(), before.remaining_yen), ("A", 50_000));
    let elsewhere = home_modification(&uses, &t, d(2026, 5, 31), Some("C"), &rules);
    assert_eq!((elsewhere.remaining_yen, codes(&elsewhere)), (200_000, vec![NEW_DWELLING, REMAINING]));
}

#[test]
fn a_person_without_uses_has_the_whole_allowance() {
    let s = home_modification(&[], &person_with(CareLevel::Care1), d(2026, 5, 1), None, &AllowanceRules::default());
    assert_eq!((s.used_yen, s.remaining_yen, s.dwelling.as_str()), (0, 200_000, ""));
    assert_eq!(codes(&s), [LIMIT, REMAINING]);
}

#[test]
fn a_rise_of_three_steps_renews_the_allowance_once() {
    // 要介護1 (step 2) → 要介護4 (step 5): three steps.
    let t = person_with(CareLevel::Care4);
    let rules = AllowanceRules::default();
    let uses = [home(1, d(2026, 5, 1), 180_000, "A")];
    // Before the rise: 20,000 left.
    assert_eq!(home_modification(&uses, &t, d(2026, 9, 30), None, &rules).remaining_yen, 20_000);
    // On the day of the rise the next work may use a new allowance.
    let s = home_modification(&uses, &t, d(2026, 10, 1), None, &rules);
    assert_eq!((s.used_yen, s.remaining_yen), (0, 200_000));
    assert_eq!(codes(&s), [EARLIER_ALLOWANCE, CARE_NEED_RISE_AVAILABLE, REMAINING]);
    assert_eq!(s.lines[0].amount_yen, 180_000);
    // The work after the rise renews it, and only once.
    let more = [uses[0].clone(), home(2, d(2026, 11, 1), 50_000, "A")];
    let s = home_modification(&more, &t, d(2026, 11, 1), None, &rules);
    assert_eq!((s.used_yen, s.remaining_yen), (50_000, 150_000));
    assert_eq!(codes(&s), [EARLIER_ALLOWANCE, CARE_NEED_RISE, USE, REMAINING]);
}

#[test]
fn a_rise_of_two_steps_does_not_renew() {
    // 要介護1 (step 2) → 要介護3 (step 4).
    let t = person_with(CareLevel::Care3);
    let uses = [home(1, d(2026, 5, 1), 180_000, "A")];
    let s = home_modification(&uses, &t, d(2026, 10, 1), None, &AllowanceRules::default());
    assert_eq!(s.remaining_yen, 20_000);
    assert!(!codes(&s).contains(&CARE_NEED_RISE_AVAILABLE));
}

#[test]
fn the_renewal_is_used_once_in_a_life() {
    // 要支援1 (step 1) → 要介護3 (4) renews; 要介護3 (4) → 要介護5 (set to 7 here) would again, but
    // the renewal is spent.
    let t = timeline(vec![
        certification(1, d(2024, 4, 1), d(2025, 3, 31), CareLevel::Support1),
        certification(2, d(2025, 4, 1), d(2026, 3, 31), CareLevel::Care3),
        certification(3, d(2026, 4, 1), d(2028, 3, 31), CareLevel::Care5),
        copayment(4, d(2024, 4, 1), d(2028, 3, 31), 1),
    ]);
    let rules = AllowanceRules {
        care_need_steps: CareNeedSteps { care5: 7, ..CareNeedSteps::default() },
        ..Default::default()
    };
    let uses = [home(1, d(2024, 6, 1), 100_000, "A"), home(2, d(2025, 6, 1), 100_000, "A")];
    let s = home_modification(&uses, &t, d(2026, 6, 1), None, &rules);
    // The first rise (1 → 4) renewed at the 2025 work; the next (4 → 7) finds it used.
    assert_eq!((s.used_yen, s.remaining_yen), (100_000, 100_000));
    assert_eq!(codes(&s), [EARLIER_ALLOWANCE, CARE_NEED_RISE, USE, CARE_NEED_RISE_USED, REMAINING]);
}

#[test]
fn the_step_table_is_a_setting() {
    let steps = CareNeedSteps::default();
    assert_eq!(steps.of(CareLevel::Support2), steps.of(CareLevel::Care1));
    assert_eq!(steps.of(CareLevel::NotApplicable), None);
    assert!(steps.is_ordered());
    let bad = AllowanceRules {
        care_need_steps: CareNeedSteps { care3: 1, ..CareNeedSteps::default() },
        rise_steps: 0,
        ..Default::default()
    };
    let fields: Vec<_> = bad.problems().into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, ["rise_steps", "care_need_steps"]);
    assert!(AllowanceRules::default().problems().is_empty());
}

#[test]
fn a_claim_reference_is_held_by_one_active_use_of_a_kind() {
    let existing = [home(1, d(2026, 5, 1), 10_000, "A")];
    let same = home(9, d(2026, 6, 1), 10_000, "A").facts;
    assert!(reference_in_use(&existing, &UseFacts { reference: "H1".into(), ..same.clone() }, None));
    assert!(!reference_in_use(&existing, &UseFacts { reference: "H1".into(), ..same.clone() }, Some(1)));
    let purchase = UseFacts { kind: UseKind::EquipmentPurchase, reference: "H1".into(), ..same };
    assert!(!reference_in_use(&existing, &purchase, None));
}

#[test]
fn providers_see_the_totals_only() {
    use kaigo_platform::auth::Role;
    assert_eq!(view_of(Role::ServiceProvider), AllowanceView::TotalsOnly);
    assert_eq!(view_of(Role::CareOffice), AllowanceView::Uses);
    assert_eq!(view_of(Role::InsuredPerson), AllowanceView::Uses);
    let line = Line::note(USE, String::new(), 1, None);
    assert!(line.reveals_use() && !Line::note(REMAINING, String::new(), 1, None).reveals_use());
}

#[test]
fn an_import_corrects_by_claim_reference_adds_the_new_and_leaves_the_rest() {
    let stored =
        [home(1, d(2026, 5, 1), 10_000, "A"), purchase(2, d(2026, 5, 1), 5_000), purchase(3, d(2026, 6, 1), 7_000)];
    let same = stored[0].facts.clone();
    let corrected = UseFacts { cost_yen: 6_000, ..stored[1].facts.clone() };
    let new = purchase(9, d(2026, 7, 1), 1_000).facts;
    // The same reference under the other kind is another use.
    let other_kind = UseFacts { kind: UseKind::EquipmentPurchase, dwelling: String::new(), ..stored[0].facts.clone() };
    let wanted = [same, corrected.clone(), new.clone(), other_kind.clone()];
    let changes = import_changes(&stored, &wanted);
    assert_eq!(changes, [(Some(2), &corrected), (None, &new), (None, &other_kind)]);
    assert!(import_changes(&stored, &[stored[2].facts.clone()]).is_empty());
}

use chrono::NaiveDate;

use super::*;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn person() -> PersonCore {
    PersonCore { category: 1, acquired: Some(d(2020, 4, 1)), lost: None, version: 1, changed_at: 0 }
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

#[test]
fn a_certified_person_is_eligible_through_the_last_day_of_validity_inclusive() {
    let t =
        Timeline { person: person(), records: vec![certification(1, d(2025, 4, 1), d(2026, 3, 31), CareLevel::Care2)] };
    assert_eq!(t.assess(d(2025, 3, 31)).verdict, Verdict::NotCertified);
    assert_eq!(t.assess(d(2025, 4, 1)).verdict, Verdict::Eligible);
    assert_eq!(t.assess(d(2026, 3, 31)).verdict, Verdict::Eligible);
    assert_eq!(t.assess(d(2026, 4, 1)).verdict, Verdict::CertificationExpired);
}

#[test]
fn the_ratio_changes_on_august_first_not_the_day_before() {
    let t = Timeline {
        person: person(),
        records: vec![
            certification(1, d(2025, 1, 1), d(2026, 12, 31), CareLevel::Support1),
            copayment(2, d(2024, 8, 1), d(2025, 7, 31), 1),
            copayment(3, d(2025, 8, 1), d(2026, 7, 31), 2),
        ],
    };
    let before = t.assess(d(2025, 7, 31));
    let after = t.assess(d(2025, 8, 1));
    assert_eq!(before.copayment.map(|r| &r.detail), Some(&Detail::Copayment { tenths: 1 }));
    assert_eq!(after.copayment.map(|r| &r.detail), Some(&Detail::Copayment { tenths: 2 }));
}

#[test]
fn the_qualification_lost_date_is_the_first_day_without_insurance() {
    let mut p = person();
    p.lost = Some(d(2026, 2, 10));
    let t = Timeline { person: p, records: vec![certification(1, d(2025, 4, 1), d(2026, 3, 31), CareLevel::Care1)] };
    assert_eq!(t.assess(d(2026, 2, 9)).verdict, Verdict::Eligible);
    assert_eq!(t.assess(d(2026, 2, 10)).verdict, Verdict::QualificationLost);
}

#[test]
fn before_acquisition_the_person_is_not_yet_qualified() {
    let t = Timeline { person: person(), records: vec![] };
    assert_eq!(t.assess(d(2020, 3, 31)).verdict, Verdict::NotYetQualified);
    assert_eq!(t.assess(d(2020, 4, 1)).verdict, Verdict::NotCertified);
}

#[test]
fn non_applicable_and_programme_only_are_their_own_verdicts() {
    let t = Timeline {
        person: person(),
        records: vec![certification(1, d(2025, 4, 1), d(2025, 9, 30), CareLevel::NotApplicable)],
    };
    assert_eq!(t.assess(d(2025, 5, 1)).verdict, Verdict::AssessedNotApplicable);
    // An expired 非該当 is not an expired certification.
    assert_eq!(t.assess(d(2025, 10, 1)).verdict, Verdict::NotCertified);
    let t = Timeline {
        person: person(),
        records: vec![certification(1, d(2025, 4, 1), d(2025, 9, 30), CareLevel::ProgrammeEligible)],
    };
    assert_eq!(t.assess(d(2025, 5, 1)).verdict, Verdict::ProgrammeOnly);
}

#[test]
fn overlap_detects_shared_days_only() {
    let r = copayment(1, d(2025, 8, 1), d(2026, 7, 31), 1);
    assert!(r.overlaps(d(2026, 7, 31), None));
    assert!(!r.overlaps(d(2026, 8, 1), None));
    assert!(!r.overlaps(d(2024, 8, 1), Some(d(2025, 7, 31))));
    assert!(r.overlaps(d(2024, 8, 1), Some(d(2025, 8, 1))));
    let open = Record { end: None, ..r };
    assert!(open.overlaps(d(2030, 1, 1), Some(d(2030, 1, 2))));
}

#[test]
fn restrictions_and_residence_exception_apply_whether_or_not_certified() {
    let t = Timeline {
        person: person(),
        records: vec![
            Record {
                id: 5,
                start: d(2025, 1, 1),
                end: None,
                detail: Detail::ResidenceException {
                    facility_municipality: "131016".into(),
                    facility_name: "ホーム".into(),
                },
            },
            Record {
                id: 6,
                start: d(2025, 6, 1),
                end: Some(d(2025, 11, 30)),
                detail: Detail::BenefitRestriction {
                    kind: RestrictionKind::PaymentMethodChange,
                    reduced_copayment_percent: 0,
                    note: String::new(),
                },
            },
        ],
    };
    let a = t.assess(d(2025, 7, 1));
    assert_eq!(a.verdict, Verdict::NotCertified);
    assert!(a.residence_exception.is_some());
    assert_eq!(a.restrictions.len(), 1);
    assert!(t.assess(d(2025, 12, 1)).restrictions.is_empty());
}

#[test]
fn an_expired_verdict_carries_the_latest_lapsed_certification() {
    let t = Timeline {
        person: person(),
        records: vec![
            certification(1, d(2022, 4, 1), d(2023, 3, 31), CareLevel::Support2),
            certification(2, d(2023, 4, 1), d(2025, 3, 31), CareLevel::Care3),
            // A 非該当 that ended later is not a lapsed certification.
            certification(3, d(2025, 4, 1), d(2025, 9, 30), CareLevel::NotApplicable),
        ],
    };
    let a = t.assess(d(2025, 12, 1));
    assert_eq!(a.verdict, Verdict::CertificationExpired);
    assert_eq!(a.certification.map(|r| r.id), Some(2));
    let a = t.assess(d(2023, 4, 1));
    assert_eq!(a.verdict, Verdict::Eligible);
    assert_eq!(a.certification.map(|r| r.id), Some(2));
    // Never certified: nothing to show.
    let t = Timeline { person: person(), records: vec![] };
    assert_eq!(t.assess(d(2025, 12, 1)).certification, None);
}

fn restriction(id: i64, start: NaiveDate, end: Option<NaiveDate>, kind: RestrictionKind, percent: u8) -> Record {
    Record {
        id,
        start,
        end,
        detail: Detail::BenefitRestriction { kind, reduced_copayment_percent: percent, note: String::new() },
    }
}

fn cost_limit(id: i64, start: NaiveDate, end: NaiveDate) -> Record {
    Record {
        id,
        start,
        end: Some(end),
        detail: Detail::CostLimit { stage: CostStage::Second, caps: DailyCaps::default() },
    }
}

#[test]
fn a_benefit_reduction_raises_the_ratio_and_suspends_the_cost_limit() {
    let t = Timeline {
        person: person(),
        records: vec![
            certification(1, d(2025, 4, 1), d(2026, 3, 31), CareLevel::Care1),
            copayment(2, d(2025, 8, 1), d(2026, 7, 31), 1),
            cost_limit(3, d(2025, 8, 1), d(2026, 7, 31)),
            restriction(4, d(2025, 10, 1), Some(d(2025, 12, 31)), RestrictionKind::BenefitReduction, 30),
            restriction(5, d(2025, 10, 1), None, RestrictionKind::PaymentMethodChange, 0),
        ],
    };
    // Before the reduction: the certificate's ratio and the cost limit.
    let before = t.assess(d(2025, 9, 30));
    let e = before.effective_copayment().unwrap();
    assert_eq!((e.tenths, e.certified_tenths, e.raised, e.record.id), (1, Some(1), false, 2));
    assert_eq!(before.cost_limit.map(|r| r.id), Some(3));
    // During it: 3割 and no 負担限度額.
    let during = t.assess(d(2025, 10, 1));
    let e = during.effective_copayment().unwrap();
    assert_eq!((e.tenths, e.certified_tenths, e.raised, e.record.id), (3, Some(1), true, 2));
    assert_eq!(during.cost_limit, None);
    // After it: back to the certificate (the payment-method change alone changes neither).
    let after = t.assess(d(2026, 1, 1));
    assert_eq!(after.effective_copayment().unwrap().tenths, 1);
    assert_eq!(after.cost_limit.map(|r| r.id), Some(3));
}

#[test]
fn someone_already_at_three_tenths_pays_four_and_a_reduction_alone_still_shows() {
    let t = Timeline {
        person: person(),
        records: vec![
            copayment(2, d(2025, 8, 1), d(2026, 7, 31), 3),
            restriction(4, d(2025, 10, 1), None, RestrictionKind::BenefitReduction, 40),
        ],
    };
    let e = t.assess(d(2025, 11, 1)).effective_copayment().unwrap();
    assert_eq!((e.tenths, e.certified_tenths, e.raised), (4, Some(3), true));
    // A recorded 30 % never lowers a 3割 certificate.
    let t = Timeline {
        person: person(),
        records: vec![
            copayment(2, d(2025, 8, 1), d(2026, 7, 31), 3),
            restriction(4, d(2025, 10, 1), None, RestrictionKind::BenefitReduction, 30),
        ],
    };
    let e = t.assess(d(2025, 11, 1)).effective_copayment().unwrap();
    assert_eq!((e.tenths, e.raised), (3, false));
    // Without a 負担割合証 the reduction's own ratio and period are the answer.
    let t = Timeline {
        person: person(),
        records: vec![restriction(4, d(2025, 10, 1), None, RestrictionKind::BenefitReduction, 30)],
    };
    let e = t.assess(d(2025, 11, 1)).effective_copayment().unwrap();
    assert_eq!((e.tenths, e.certified_tenths, e.record.id), (3, None, 4));
    assert!(t.assess(d(2025, 9, 1)).effective_copayment().is_none());
}

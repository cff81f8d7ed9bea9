//! Synthetic insured persons: the demo data of `kaigo dev`, and the extracts of
//! `kaigo gen insured`.
//!
//! The mix follows the national figures (docs/domain/volumes.md#national-figures): about
//! 19.4 % of 第1号被保険者 are certified; by level 要支援 28 % (split evenly), 要介護1 20.5 %, 2 17.1 %, 3 13.2 %,
//! 4 12.3 %, 5 8.7 % (Dec 2020). Co-payment ratios of certified persons: 1割 about 91 %,
//! 2割 5 %, 3割 4 %. Names are invented from a small syllable table; no real person.

pub mod allowances;

use chrono::{Datelike, NaiveDate};
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::idempotency::IdempotencyKey;
use kaigo_platform::ids::{InsuredNumber, InsurerNumber, check_digit};
use kaigo_platform::time::Clock;
use sea_orm::DatabaseConnection;

use crate::domain::caps::national_caps;
use crate::domain::qualification;
use crate::domain::timeline::CostStage;
use crate::domain::{CareLevel, Detail};
use crate::key::PersonKey;
use crate::store::write::Author;
use crate::store::{self, person};

/// Real insurer numbers used by the demo (docs/domain/identifiers.md#test-values): 水上村, 市原市,
/// 木更津市, 岐阜市.
pub const DEMO_INSURERS: [&str; 4] = ["435073", "122192", "122069", "212019"];
/// Persons per demo insurer.
pub const DEMO_PER_INSURER: u32 = 100;
/// The care office (居宅介護支援事業所) person 1 of every demo insurer is registered with: the
/// demo care office of certification and careplan, so that signing in as it shows the name.
pub const DEMO_CARE_OFFICE: &str = "4371000128";

/// One synthetic person with their periods.
#[derive(Debug, Clone)]
pub struct Synthetic {
    /// The person row (id and version unset).
    pub person: person::Model,
    /// Their periods.
    pub periods: Vec<crate::domain::Period>,
}

impl Synthetic {
    /// The person's timeline as a load from the database would build it (records numbered in
    /// order), for measurements that fill the caches without a database.
    pub fn timeline(&self) -> crate::domain::Timeline {
        let records = self
            .periods
            .iter()
            .enumerate()
            .map(|(i, (start, end, detail))| crate::domain::Record {
                id: i as i64,
                start: *start,
                end: *end,
                detail: detail.clone(),
            })
            .collect();
        crate::domain::Timeline {
            person: crate::domain::PersonCore {
                category: 1,
                acquired: self.person.acquired_date,
                lost: None,
                version: 1,
                changed_at: 1_764_000_000,
            },
            records,
        }
    }
}

/// A small deterministic generator (xorshift64*), so the same seed gives the same extract.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const FAMILY: [(&str, &str); 8] = [
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
];
const GIVEN: [(&str, &str); 8] = [
    ("花子", "ハナコ"),
    ("太郎", "タロウ"),
    ("幸子", "サチコ"),
    ("清", "キヨシ"),
    ("和子", "カズコ"),
    ("茂", "シゲル"),
    ("節子", "セツコ"),
    ("勇", "イサム"),
];

fn level_for(r: u64) -> CareLevel {
    // Per-mille cut points of the national level mix.
    match r % 1000 {
        0..=139 => CareLevel::Support1,
        140..=279 => CareLevel::Support2,
        280..=484 => CareLevel::Care1,
        485..=655 => CareLevel::Care2,
        656..=787 => CareLevel::Care3,
        788..=910 => CareLevel::Care4,
        _ => CareLevel::Care5,
    }
}

/// `count` synthetic persons of `insurer`, numbered from `first` (the insured number is the
/// sequence number, zero-padded to ten digits), as of `today`.
pub fn generate(insurer: &InsurerNumber, first: u64, count: u64, seed: u64, today: NaiveDate) -> Vec<Synthetic> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let fiscal_year = if today.month() >= 8 { today.year() } else { today.year() - 1 };
    let ratio_start = NaiveDate::from_ymd_opt(fiscal_year, 8, 1).unwrap_or(today);
    let ratio_end = NaiveDate::from_ymd_opt(fiscal_year + 1, 7, 31).unwrap_or(today);
    (first..first + count)
        .map(|n| {
            let (family, family_kana) = FAMILY[rng.below(8) as usize];
            let (given, given_kana) = GIVEN[rng.below(8) as usize];
            let age = 65 + rng.below(30) as i32;
            let birth = NaiveDate::from_ymd_opt(today.year() - age, 1 + rng.below(12) as u32, 1 + rng.below(28) as u32)
                .unwrap_or(today);
            let turned_65 = birth.with_year(birth.year() + 65).unwrap_or(birth);
            let sex = 1 + (rng.below(2) as i16);
            let mut periods = Vec::new();
            // Person 1 of each insurer is always certified: a predictable first call.
            let certified = n == first || rng.below(1000) < 194;
            if certified {
                let level = if n == first { CareLevel::Care2 } else { level_for(rng.next()) };
                let start = NaiveDate::from_ymd_opt(
                    today.year() - 1 + i32::from(today.month() > 6),
                    1 + rng.below(12) as u32,
                    1,
                )
                .unwrap_or(today)
                .min(today);
                let months = [12u32, 24, 36][rng.below(3) as usize];
                let end =
                    start.checked_add_months(chrono::Months::new(months)).and_then(|d| d.pred_opt()).unwrap_or(start);
                periods.push((
                    start,
                    Some(end),
                    Detail::Certification {
                        level,
                        certified: start.pred_opt().unwrap_or(start),
                        limit_units: level.default_limit_units().unwrap_or(0),
                        board_opinion: String::new(),
                        designated_service_types: vec![],
                        service_type_limits: vec![],
                        application_id: String::new(),
                    },
                ));
                let tenths = match rng.below(100) {
                    0..=90 => 1,
                    91..=95 => 2,
                    _ => 3,
                };
                // Not yet 65 when the ratio starts: a 第2号 pays 1割
                // (docs/domain/eligibility.md#category-at-65).
                let first_day = crate::domain::validity::first_category_from(birth).unwrap_or(birth);
                let tenths = if ratio_start < first_day { 1 } else { tenths };
                periods.push((
                    ratio_start,
                    Some(ratio_end),
                    Detail::Copayment { tenths: if n == first { 1 } else { tenths } },
                ));
                if rng.below(10) == 0 {
                    let stage = [CostStage::First, CostStage::Second, CostStage::Third1, CostStage::Third2]
                        [rng.below(4) as usize];
                    if let Some(caps) = national_caps(stage, ratio_start) {
                        periods.push((ratio_start, Some(ratio_end), Detail::CostLimit { stage, caps }));
                    }
                }
                // A registered care-management office with a valid check digit; person 1's is
                // the demo care office, like its level and ratio (the README's first call).
                let payload = format!("{}7{:02}{:04}", &insurer.as_str()[..2], rng.below(100), rng.below(10_000));
                let cd = check_digit(payload.as_bytes()).unwrap_or(0);
                let office_number = if n == first { DEMO_CARE_OFFICE.to_owned() } else { format!("{payload}{cd}") };
                periods.push((
                    start,
                    None,
                    Detail::CareManagement {
                        kind: if level.is_support() { 2 } else { 1 },
                        office_number,
                        office_name: "デモ居宅介護支援事業所".to_owned(),
                        notified: Some(start),
                    },
                ));
            }
            Synthetic {
                person: person::Model {
                    id: 0,
                    insurer_number: insurer.as_str().to_owned(),
                    insured_number: format!("{n:010}"),
                    name_kanji: format!("{family} {given}"),
                    name_kana: format!("{family_kana} {given_kana}"),
                    birth_date: Some(birth),
                    sex,
                    category: 1,
                    acquired_date: Some(turned_65),
                    lost_date: None,
                    card_issued_date: Some(turned_65),
                    version: 0,
                    // Stamped when saved.
                    updated_at: chrono::DateTime::UNIX_EPOCH,
                },
                periods,
            }
        })
        .collect()
}

/// Seeds the demo persons once (the seeding is itself an idempotent write).
pub async fn seed(db: &DatabaseConnection, clock: &dyn Clock) -> Result<(), kaigo_platform::service::StartError> {
    let done = IdempotencyKey::with_party("DemoSeed", "system:kaigo-dev".to_owned(), "kaigo-dev-demo-seed-v1", &());
    match done.replay(db).await {
        Ok(Some(_)) => return Ok(()),
        // Seeded by the version before, whose record hashed a version tag instead.
        Err(err) if err.reason() == "REQUEST_ID_REUSED" => return Ok(()),
        Err(err) => return Err(err.to_string().into()),
        Ok(None) => {}
    }
    let mut tx = store::begin_write(db, clock.now()).await?;
    let caller = Caller {
        subject: "kaigo-dev".into(),
        role: Role::Operator,
        insurer: None,
        office: None,
        institution: None,
        scopes: vec![],
        consents: vec![],
    };
    let author = Author { caller: &caller, reason: "demo data" };
    let today = clock.today_jst();
    for (i, insurer) in DEMO_INSURERS.iter().enumerate() {
        let insurer = InsurerNumber::parse(insurer)?;
        for synthetic in generate(&insurer, 1, u64::from(DEMO_PER_INSURER), i as u64 + 1, today) {
            let insured = InsuredNumber::parse(&synthetic.person.insured_number)?;
            let key = PersonKey::new(&insurer, &insured);
            let pair = synthetic.person.acquired_date.map(|acquired| (acquired, synthetic.person.lost_date));
            let saved = tx.save_person(&key, None, synthetic.person).await?;
            // The person's qualification as a span (docs/domain/eligibility.md#qualification).
            if let Some((start, end)) = pair.and_then(|(acquired, lost)| qualification::record_period(acquired, lost)) {
                // 年齢到達: insured from the day they reached 65.
                let span = Detail::Qualification { acquisition: 2, loss: 0 };
                tx.insert_record(saved.id, &span, start, end, None, &author).await?;
            }
            for (start, end, detail) in &synthetic.periods {
                tx.insert_record(saved.id, detail, *start, *end, None, &author).await?;
            }
        }
    }
    tx.commit(Some(&done), &[]).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::validity::{ValidityRules, check_record};
    use crate::domain::{Record, Timeline};

    #[test]
    fn generated_persons_are_valid_and_deterministic() {
        let insurer = InsurerNumber::parse("435073").unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        let a = generate(&insurer, 1, 500, 7, today);
        let b = generate(&insurer, 1, 500, 7, today);
        assert_eq!(a.len(), 500);
        assert_eq!(format!("{:?}", a[10].periods), format!("{:?}", b[10].periods));
        let certified = a.iter().filter(|s| !s.periods.is_empty()).count();
        assert!((50..=150).contains(&certified), "about 19.4% certified, got {certified}");
        for s in &a {
            let mut existing: Vec<Record> = Vec::new();
            for (i, (start, end, detail)) in s.periods.iter().enumerate() {
                check_record(&existing, detail, *start, *end, None, &ValidityRules::default()).unwrap();
                existing.push(Record { id: i as i64, start: *start, end: *end, detail: detail.clone() });
            }
            assert!(InsuredNumber::parse(&s.person.insured_number).is_ok());
            let _ = Timeline {
                person: crate::domain::PersonCore {
                    category: 1,
                    acquired: s.person.acquired_date,
                    lost: None,
                    version: 1,
                    changed_at: 0,
                },
                records: existing,
            };
        }
        // Person 1 is certified 要介護2 with 1割, registered with the demo care office: the
        // README's first call.
        assert!(matches!(a[0].periods[0].2, Detail::Certification { level: CareLevel::Care2, .. }));
        assert!(a[0].periods.iter().any(
            |(_, _, d)| matches!(d, Detail::CareManagement { office_number, .. } if office_number == DEMO_CARE_OFFICE)
        ));
    }
}

//! Demo 住宅改修 and 福祉用具購入 history for `kaigo dev` (docs/domain/eligibility.md#allowances):
//! for each demo insurer, the first two persons certified with a 負担割合 in force today get
//! uses in this fiscal year, so that 「支給限度額の残り」 has something to explain. Person 1 (the
//! demo care office's) bought two items and had handrails fitted; the second had work at one
//! dwelling, moved, had work at the new one, and bought beyond the year's limit.

use chrono::{Days, NaiveDate};
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::idempotency::IdempotencyKey;
use kaigo_platform::ids::{InsuredNumber, InsurerNumber};
use kaigo_platform::time::Clock;
use sea_orm::DatabaseConnection;

use super::{DEMO_INSURERS, DEMO_PER_INSURER};
use crate::domain::Verdict;
use crate::domain::allowances::{UseFacts, UseKind, fiscal_year};
use crate::key::PersonKey;
use crate::store::write::Author;
use crate::store::{self, allowances as uses};

/// One demo use: kind, reference suffix, fraction (quarters) of the way from the first
/// possible receipt date to today, cost, dwelling, description.
type Demo = (UseKind, &'static str, u64, i64, &'static str, &'static str);

const FIRST: [Demo; 3] = [
    (UseKind::EquipmentPurchase, "P1", 0, 35_000, "", "腰掛便座"),
    (UseKind::HomeModification, "H1", 1, 150_000, "DEMO-HOME-1", "手すりの取付け"),
    (UseKind::EquipmentPurchase, "P2", 3, 28_000, "", "入浴補助用具"),
];

const SECOND: [Demo; 4] = [
    (UseKind::HomeModification, "H1", 0, 180_000, "DEMO-HOME-2", "段差の解消"),
    (UseKind::EquipmentPurchase, "P1", 1, 90_000, "", "自動排泄処理装置の交換可能部品"),
    (UseKind::HomeModification, "H2", 2, 40_000, "DEMO-HOME-3", "引き戸への取替え (転居後)"),
    (UseKind::EquipmentPurchase, "P2", 4, 30_000, "", "簡易浴槽"),
];

/// Seeds the demo uses once (an idempotent write of its own, so a database seeded before the
/// allowances existed gets them too).
pub async fn seed(db: &DatabaseConnection, clock: &dyn Clock) -> Result<(), kaigo_platform::service::StartError> {
    let done = IdempotencyKey::with_party(
        "DemoSeedAllowances",
        "system:kaigo-dev".to_owned(),
        "kaigo-dev-demo-allowances-v1",
        &(),
    );
    if done.replay(db).await.map_err(|e| e.to_string())?.is_some() {
        return Ok(());
    }
    let today = clock.today_jst();
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
    let mut tx = store::begin_write(db, clock.now()).await?;
    for insurer in DEMO_INSURERS {
        let insurer = InsurerNumber::parse(insurer)?;
        let mut seeded = 0;
        for n in 1..=DEMO_PER_INSURER {
            if seeded == 2 {
                break;
            }
            let insured = InsuredNumber::parse(&format!("{n:010}"))?;
            let key = PersonKey::new(&insurer, &insured);
            // Read in the write's own transaction: on SQLite (`kaigo dev`) it holds the one writer.
            let Some((timeline, _)) = store::timeline(tx.connection(), &key).await? else { continue };
            let assessment = timeline.assess(today);
            let (Some(certification), Some(copayment)) = (assessment.certification, assessment.copayment) else {
                continue;
            };
            if assessment.verdict != Verdict::Eligible {
                continue;
            }
            // Every receipt within this fiscal year, the certification and the ratio in force.
            let Some(person) = tx.lock_person(&key).await? else { continue };
            let from = certification.start.max(copayment.start).max(fiscal_year(today).0);
            let demo: &[Demo] = if seeded == 0 { &FIRST } else { &SECOND };
            for &(kind, suffix, quarter, cost_yen, dwelling, description) in demo {
                let facts = UseFacts {
                    kind,
                    reference: format!("DEMO-{n}-{suffix}"),
                    receipt: receipt(from, today, quarter),
                    cost_yen,
                    dwelling: dwelling.to_owned(),
                    description: description.to_owned(),
                };
                uses::insert(&tx, person.id, &facts, None, &author).await?;
            }
            tx.touch_person(&key, &person).await?;
            seeded += 1;
        }
    }
    tx.commit(Some(&done), &[]).await?;
    Ok(())
}

/// `quarter` quarters of the way from `from` to `today` (both inclusive).
fn receipt(from: NaiveDate, today: NaiveDate, quarter: u64) -> NaiveDate {
    let days = u64::try_from((today - from).num_days()).unwrap_or(0);
    from.checked_add_days(Days::new(days * quarter.min(4) / 4)).unwrap_or(today).min(today).max(from.min(today))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_fall_between_the_first_possible_day_and_today() {
        let from = NaiveDate::from_ymd_opt(2026, 8, 1).unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(receipt(from, today, 0), from);
        assert_eq!(receipt(from, today, 4), today);
        assert_eq!(receipt(from, today, 2), NaiveDate::from_ymd_opt(2026, 10, 1).unwrap());
    }
}

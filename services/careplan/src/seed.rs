//! Demo data of `kaigo dev`: a care office and a provider, each registered with an active paid
//! licence, so a bundle can be sent at once. The golden files' two offices are registered too,
//! so `tests/golden/valid` can be sent as they are. Idempotent: an office that already has an
//! active licence is left alone.

use kaigo_platform::time::Clock;
use sea_orm::DatabaseConnection;

use crate::api::licences::{claim_office, period, record_period};
use crate::domain::licence::{self, LicenceRules};
use crate::store;

/// The demo 居宅介護支援事業所 (check digit valid).
pub const DEMO_CARE_OFFICE: &str = "4371000128";
/// The demo サービス事業所 (check digit valid).
pub const DEMO_PROVIDER: &str = "4371000201";

/// (office number, registry role, name) of every demo office.
pub const DEMO_OFFICES: [(&str, &str, &str); 4] = [
    (DEMO_CARE_OFFICE, "care_office", "デモ居宅介護支援事業所"),
    (DEMO_PROVIDER, "provider", "デモ訪問介護事業所"),
    ("1370000018", "care_office", "ゴールデンファイル居宅介護支援事業所"),
    ("1370000026", "provider", "ゴールデンファイル訪問介護事業所"),
];

/// Registers the demo offices with a paid year from today (by `clock`) where none is active.
pub async fn seed(
    conn: &DatabaseConnection,
    rules: &LicenceRules,
    clock: &dyn Clock,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let now = clock.now();
    let today = kaigo_platform::time::jst_date(now);
    for (number, role, name) in DEMO_OFFICES {
        let tx = kaigo_platform::db::begin_write(conn).await?;
        let periods: Vec<_> = store::licence_periods(&tx, number).await?.iter().filter_map(period).collect();
        if licence::status(&periods, today) == licence::Status::Active {
            continue;
        }
        let version = store::get_office(&tx, number).await?.map_or(0, |o| o.version);
        claim_office(&tx, number, version, Some(role), name, now).await.map_err(|e| format!("{e:?}"))?;
        let year = licence::paid_year(&periods, None, today, rules);
        record_period(&tx, number, &year, "demo", now).await.map_err(|e| format!("{e:?}"))?;
        tx.commit().await?;
    }
    Ok(())
}

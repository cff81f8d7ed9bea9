//! The demo data of `kaigo dev`: with `registry.virtual_cards_dir`, a virtual card for each of
//! the first demo persons of 水上村 (435073), linked in the identity-link table, so the virtual
//! card reader can confirm them and the person's own view can be tried with their link id;
//! and the demo organisations registered for those persons with their consent (recorded by
//! the insurer), so that the screens of the care office, the provider and the medical
//! institution see them: the facts reach the other services through the registry's events,
//! as in production (docs/domain/access.md#facts-copy).

use std::path::Path;

use chrono::{DateTime, Utc};
use kaigo_platform::service::StartError;
use sea_orm::DatabaseConnection;

use kaigo_access::{Category, OrganizationKind};

use crate::cards::{VirtualCa, VirtualCard};
use crate::domain::Evidence;
use crate::recorded::{self, Recorded};
use crate::store::{self, identity_link};
use crate::{Config, changes};

/// The demo insurer.
pub const DEMO_INSURER: &str = "435073";
/// Demo persons with a virtual card: 0000000001 … this many.
pub const DEMO_CARDS: u32 = 3;

/// The link id (card serial) of demo person `n`.
pub fn demo_link_id(n: u32) -> String {
    format!("d{n:09}")
}

/// The demo organisations of `kaigo dev` (kaigo_platform::testkit::orgs) and what each is
/// registered as, with the categories the demo persons consented to.
pub const DEMO_RELATIONSHIPS: [(OrganizationKind, &str, &[Category]); 3] = [
    (OrganizationKind::CareOffice, "4371000128", &Category::ALL),
    (OrganizationKind::ServiceProvider, "4371000201", &Category::ALL),
    (OrganizationKind::MedicalInstitution, "1311234569", &[Category::InsuranceCertificates]),
];

/// The demo person who also lets the demo medical institution read their care plan (its
/// 介護情報の閲覧 screen; docs/domain/access.md#rule-table): 0000000001, whose plan the care-plan
/// demo data carries. The other demo persons consented to its 被保険者証等 only.
pub const DEMO_CARE_PLAN_FOR_INSTITUTION: u32 = 1;

/// What demo person `n` consented to for the organisation of `kind`, given the row's categories.
fn demo_categories(kind: OrganizationKind, n: u32, categories: &'static [Category]) -> &'static [Category] {
    if kind == OrganizationKind::MedicalInstitution && n == DEMO_CARE_PLAN_FOR_INSTITUTION {
        &[Category::InsuranceCertificates, Category::CarePlan]
    } else {
        categories
    }
}

/// Registers the demo organisations for demo persons 0000000001 … [`DEMO_CARDS`] of 水上村 from
/// 2020-04-01, with their consents, once (a second run changes nothing).
pub async fn seed_relationships(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<(), StartError> {
    let by: crate::changes::By = ("insurer".to_owned(), "system:kaigo-dev".to_owned(), DEMO_INSURER.to_owned());
    let start = chrono::NaiveDate::from_ymd_opt(2020, 4, 1).ok_or("demo start date")?;
    let txn = kaigo_platform::db::begin_write(db).await?;
    for n in 1..=DEMO_CARDS {
        let insured = format!("{n:010}");
        for (kind, organization, categories) in DEMO_RELATIONSHIPS {
            let r = Recorded {
                kind,
                organization,
                insurer: DEMO_INSURER,
                insured: &insured,
                start,
                evidence: Evidence::InsurerManual,
                categories: demo_categories(kind, n, categories),
                purpose: 0,
                served_on: Some(kaigo_platform::time::jst_date(now)),
            };
            recorded::record(&txn, &r, &by, now).await?;
        }
    }
    txn.commit().await?;
    Ok(())
}

/// Creates the cards and links once (a second run changes nothing), and the demo
/// relationships.
pub async fn seed(db: &DatabaseConnection, config: &Config, now: DateTime<Utc>) -> Result<(), StartError> {
    seed_relationships(db, now).await?;
    if config.virtual_cards_dir.is_empty() {
        return Ok(());
    }
    let dir = Path::new(&config.virtual_cards_dir);
    let ca = VirtualCa::load_or_create(dir)?;
    for n in 1..=DEMO_CARDS {
        let card = VirtualCard::load_or_issue(&ca, dir, &demo_link_id(n))?;
        // Immediate on SQLite: the relay and other writers run beside the seed (platform::db::begin_write).
        let txn = kaigo_platform::db::begin_write(db).await?;
        // A link made by an earlier run is published again: a copy made before links were
        // published gets it, and one that has it keeps it (the same version changes nothing).
        if let Some(existing) = store::identity_link(&txn, card.link_id()).await? {
            store::publish_identity_link(&txn, &existing).await?;
        } else {
            let row = identity_link::Model {
                link_id: card.link_id().to_owned(),
                insurer_number: DEMO_INSURER.to_owned(),
                insured_number: format!("{n:010}"),
                revoked: false,
                updated_at: now,
                updated_by: "system:kaigo-dev".to_owned(),
                version: 1,
            };
            changes::put_identity_link(&txn, row, None).await?;
        }
        txn.commit().await?;
    }
    Ok(())
}

//! The demo data of `kaigo dev`: with `registry.virtual_cards_dir`, a virtual card for each of
//! the first demo persons of 水上村 (435073), linked in the identity-link table, so the virtual
//! card reader can confirm them and the person's own view can be tried with their link id.

use std::path::Path;

use chrono::{DateTime, Utc};
use kaigo_platform::service::StartError;
use sea_orm::DatabaseConnection;

use crate::Config;
use crate::cards::{VirtualCa, VirtualCard};
use crate::store::{self, identity_link};

/// The demo insurer.
pub const DEMO_INSURER: &str = "435073";
/// Demo persons with a virtual card: 0000000001 … this many.
pub const DEMO_CARDS: u32 = 3;

/// The link id (card serial) of demo person `n`.
pub fn demo_link_id(n: u32) -> String {
    format!("d{n:09}")
}

/// Creates the cards and links once (a second run changes nothing).
pub async fn seed(db: &DatabaseConnection, config: &Config, now: DateTime<Utc>) -> Result<(), StartError> {
    if config.virtual_cards_dir.is_empty() {
        return Ok(());
    }
    let dir = Path::new(&config.virtual_cards_dir);
    let ca = VirtualCa::load_or_create(dir)?;
    for n in 1..=DEMO_CARDS {
        let card = VirtualCard::load_or_issue(&ca, dir, &demo_link_id(n))?;
        if store::identity_link(db, card.link_id()).await?.is_some() {
            continue;
        }
        let row = identity_link::Model {
            link_id: card.link_id().to_owned(),
            insurer_number: DEMO_INSURER.to_owned(),
            insured_number: format!("{n:010}"),
            revoked: false,
            updated_at: now,
            updated_by: "system:kaigo-dev".to_owned(),
        };
        store::put_identity_link(db, row, false).await?;
    }
    Ok(())
}

//! The demo data of `kaigo dev`: virtual cards for the demo persons, linked, usable at once.

use kaigo_platform::testkit::context;
use kaigo_proto::kaigo::registry::v1 as pb;
use kaigo_registry::Config;
use kaigo_registry::cards::{VirtualCa, VirtualCard};

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_cards_are_issued_once_linked_and_confirm_their_person() {
    let dir = tempfile::tempdir().unwrap();
    let cards = dir.path().join("cards").display().to_string();
    let adjusted = cards.clone();
    let r = Registry::start_with(move |c| c.virtual_cards_dir = adjusted).await;
    let config = Config { virtual_cards_dir: cards.clone(), ..Config::default() };
    let (ctx, _control) = context(kaigo_registry::NAME, r.db.clone());
    kaigo_registry::seed_demo(&ctx, &config).await.unwrap();
    kaigo_registry::seed_demo(&ctx, &config).await.unwrap();
    assert_eq!(r.count("SELECT COUNT(*) FROM identity_links").await, 3);
    // The demo care office, provider and institution are registered for the three demo
    // persons with their consents, once, and every change is in the outbox for the other
    // services' copies (docs/domain/access.md#facts-copy).
    assert_eq!(r.count("SELECT COUNT(*) FROM registrations").await, 9);
    assert_eq!(r.count("SELECT COUNT(*) FROM consents").await, 9);
    assert_eq!(
        r.count(
            "SELECT COUNT(*) FROM outbox WHERE topic IN ('registry.registration_changed', 'registry.consent_changed')"
        )
        .await,
        18
    );
    // Each demo card's link is published for the other services' copies, at version 1
    // (published again by a later run, which the copies ignore: the same version).
    assert_eq!(
        r.count("SELECT COUNT(DISTINCT key) FROM outbox WHERE topic = 'registry.identity_link_changed'").await,
        3
    );
    assert_eq!(r.count("SELECT MAX(version) FROM identity_links").await, 1);
    assert!(allowed(&r.check(office(), "0000000001", pb::Category::CostShare).await));
    // The demo institution reads person 1's care plan (介護情報の閲覧), not the others'.
    let clinic = kaigo_platform::testkit::caller_for(kaigo_platform::auth::Role::MedicalInstitution, INSTITUTION);
    assert!(allowed(&r.check(clinic.clone(), "0000000001", pb::Category::CarePlan).await));
    let other = r.check(clinic, "0000000002", pb::Category::CarePlan).await;
    assert_eq!(other.denial_reason, "CONSENT_REQUIRED");
    // The virtual card reader signs with the card kept on disk; the service trusts the virtual CA.
    let ca = VirtualCa::load_or_create(std::path::Path::new(&cards)).unwrap();
    let card = VirtualCard::load_or_issue(&ca, std::path::Path::new(&cards), "d000000001").unwrap();
    assert_eq!(card.link_id(), "d000000001");
    let confirmed = r.confirm(office(), &card).await;
    assert_eq!(confirmed.person, Some(person("0000000001")));
    r.harness.shutdown().await;
}

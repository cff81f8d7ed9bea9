//! Identity confirmation by card: the happy path and every refusal, nothing stored when
//! refused (docs/domain/access.md#card-flow).

use kaigo_platform::auth::Role;
use kaigo_platform::testkit::caller_for;
use kaigo_proto::kaigo::registry::v1 as pb;
use kaigo_registry::cards::{VirtualCa, VirtualCard};
use tonic::Code;
use tonic_types::StatusExt;

use crate::harness::*;

async fn start(client: &mut Client) -> pb::StartCardConfirmationResponse {
    client.start_card_confirmation(pb::StartCardConfirmationRequest { request_id: id() }).await.unwrap().into_inner()
}

fn complete(
    started: &pb::StartCardConfirmationResponse,
    card: &VirtualCard,
    challenge: &[u8],
) -> pb::CompleteCardConfirmationRequest {
    pb::CompleteCardConfirmationRequest {
        request_id: id(),
        confirmation_id: started.confirmation_id.clone(),
        signature: card.sign(challenge).unwrap(),
        certificate: card.certificate_der().to_vec(),
        intermediates: vec![],
    }
}

fn refused(
    result: Result<tonic::Response<pb::CompleteCardConfirmationResponse>, tonic::Status>,
    code: Code,
    why: &str,
) {
    let status = result.expect_err(why);
    assert_eq!(status.code(), code, "{why}: {status:?}");
    assert_eq!(reason(&status), why);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_confirms_its_person_once_and_every_refusal_stores_nothing() {
    let r = Registry::start().await;
    r.link("a1", "0000000001", false).await;
    r.link("a2", "0000000002", true).await;
    let card = r.card("a1");
    let mut client = r.client(office()).await;

    // Happy path: the person, usable for a while.
    let started = start(&mut client).await;
    assert_eq!(started.challenge.len(), 32);
    let request = complete(&started, &card, &started.challenge);
    let done = client.complete_card_confirmation(request.clone()).await.unwrap().into_inner();
    assert_eq!(done.person, Some(person("0000000001")));
    assert_eq!(done.confirmation_id, started.confirmation_id);
    // The same request again is its first answer; a new request with the used challenge is a replay.
    let again = client.complete_card_confirmation(request.clone()).await.unwrap().into_inner();
    assert_eq!(again, done);
    let replay = pb::CompleteCardConfirmationRequest { request_id: id(), ..request };
    refused(client.complete_card_confirmation(replay).await, Code::FailedPrecondition, "CHALLENGE_ALREADY_USED");

    // Another organisation's challenge.
    let started = start(&mut client).await;
    let mut provider = r.client(caller_for(Role::ServiceProvider, OTHER_OFFICE)).await;
    refused(
        provider.complete_card_confirmation(complete(&started, &card, &started.challenge)).await,
        Code::PermissionDenied,
        "CONFIRMATION_OF_ANOTHER_ORGANIZATION",
    );
    // A bad signature (over something else).
    refused(
        client.complete_card_confirmation(complete(&started, &card, b"something else")).await,
        Code::PermissionDenied,
        "CARD_SIGNATURE_INVALID",
    );
    // A card from a CA that is not the trust anchor.
    let stranger = VirtualCard::issue(&VirtualCa::generate().unwrap(), "a1", false).unwrap();
    refused(
        client.complete_card_confirmation(complete(&started, &stranger, &started.challenge)).await,
        Code::PermissionDenied,
        "CARD_CERTIFICATE_UNTRUSTED",
    );
    // An expired card certificate.
    let expired = VirtualCard::issue(&r.ca, "a1", true).unwrap();
    refused(
        client.complete_card_confirmation(complete(&started, &expired, &started.challenge)).await,
        Code::FailedPrecondition,
        "CARD_CERTIFICATE_EXPIRED",
    );
    // A revoked card, and a card no insurer linked.
    refused(
        client.complete_card_confirmation(complete(&started, &r.card("a2"), &started.challenge)).await,
        Code::FailedPrecondition,
        "CARD_REVOKED",
    );
    refused(
        client.complete_card_confirmation(complete(&started, &r.card("a3"), &started.challenge)).await,
        Code::FailedPrecondition,
        "CARD_NOT_LINKED",
    );
    // A certificate that does not parse.
    let mut bad = complete(&started, &card, &started.challenge);
    bad.certificate = b"not DER".to_vec();
    let status = client.complete_card_confirmation(bad).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<String> =
        status.get_error_details().bad_request().unwrap().field_violations.iter().map(|f| f.field.clone()).collect();
    assert_eq!(fields, ["certificate"]);
    // An expired challenge: past its lifetime on the service's clock.
    r.clock.set(t0() + chrono::Duration::seconds(121));
    refused(
        client.complete_card_confirmation(complete(&started, &card, &started.challenge)).await,
        Code::FailedPrecondition,
        "CHALLENGE_EXPIRED",
    );
    r.clock.set(t0());
    // An unknown confirmation.
    let unknown = pb::StartCardConfirmationResponse { confirmation_id: id(), ..started.clone() };
    refused(
        client.complete_card_confirmation(complete(&unknown, &card, &started.challenge)).await,
        Code::NotFound,
        "CONFIRMATION_NOT_FOUND",
    );
    // Nothing of the refusals was stored: one completed confirmation, no link changed.
    assert_eq!(r.count("SELECT COUNT(*) FROM card_confirmations WHERE completed_at IS NOT NULL").await, 1);
    assert_eq!(r.count("SELECT COUNT(*) FROM registrations").await, 0);
    // The refused challenge still works for its own organisation and card.
    let ok = client.complete_card_confirmation(complete(&started, &card, &started.challenge)).await.unwrap();
    assert_eq!(ok.into_inner().person, Some(person("0000000001")));
    r.harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_organisations_confirm_cards_and_bad_input_is_reported_field_by_field() {
    let r = Registry::start().await;
    for role in [Role::Insurer, Role::InsuredPerson, Role::Operator] {
        let status = r
            .client(kaigo_platform::testkit::caller(role))
            .await
            .start_card_confirmation(pb::StartCardConfirmationRequest { request_id: id() })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{role:?}");
    }
    let status = r
        .client(office())
        .await
        .complete_card_confirmation(pb::CompleteCardConfirmationRequest {
            request_id: "x".into(),
            confirmation_id: String::new(),
            signature: vec![],
            certificate: vec![0; 9000],
            intermediates: vec![vec![]; 5],
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<String> =
        status.get_error_details().bad_request().unwrap().field_violations.iter().map(|f| f.field.clone()).collect();
    assert_eq!(fields, ["request_id", "confirmation_id", "signature", "certificate", "intermediates"]);
    // Links: only the insurer, for its own insured, in the link-id form.
    let status = r
        .client(office())
        .await
        .load_identity_links(pb::LoadIdentityLinksRequest {
            request_id: id(),
            insurer_number: INSURER.into(),
            links: vec![pb::IdentityLink { link_id: "ab".into(), insured_number: "0000000001".into(), revoked: false }],
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = r
        .client(insurer())
        .await
        .load_identity_links(pb::LoadIdentityLinksRequest {
            request_id: id(),
            insurer_number: INSURER.into(),
            links: vec![
                pb::IdentityLink { link_id: "AB".into(), insured_number: "0000000001".into(), revoked: false },
                pb::IdentityLink { link_id: "cd".into(), insured_number: "x".into(), revoked: false },
            ],
        })
        .await
        .unwrap_err();
    let fields: Vec<String> =
        status.get_error_details().bad_request().unwrap().field_violations.iter().map(|f| f.field.clone()).collect();
    assert_eq!(fields, ["links[0].link_id", "links[1].insured_number"]);
    r.harness.shutdown().await;
}

/// Every change of an identity link is published with its version, in the load's
/// transaction, for the other services' copies (docs/domain/access.md#own-view); a load that
/// changes nothing publishes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_identity_link_change_is_published_with_its_version() {
    use prost::Message;
    use sea_orm::{ConnectionTrait, Statement};

    let r = Registry::start().await;
    r.link("b1", "0000000001", false).await;
    r.link("b1", "0000000001", false).await;
    r.link("b1", "0000000001", true).await;
    let sql = "SELECT payload FROM outbox WHERE topic = 'registry.identity_link_changed' AND key = 'b1' ORDER BY seq";
    let rows = r.db.query_all_raw(Statement::from_string(r.db.get_database_backend(), sql.to_owned())).await.unwrap();
    let changes: Vec<pb::IdentityLinkChanged> = rows
        .iter()
        .map(|row| pb::IdentityLinkChanged::decode(row.try_get::<Vec<u8>>("", "payload").unwrap().as_slice()).unwrap())
        .collect();
    let seen: Vec<(i64, bool)> = changes.iter().map(|c| (c.version, c.revoked)).collect();
    assert_eq!(seen, vec![(1, false), (2, true)]);
    assert_eq!(changes[0].person, Some(person("0000000001")));
    assert!(changes.iter().all(|c| c.link_id == "b1" && c.change_time.is_some()));
    r.harness.shutdown().await;
}

/// The links loaded before they were published are handed to the other services' copies by
/// the upgrade itself, once, at version 1 (docs/domain/access.md#own-view).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upgrade_publishes_the_links_loaded_before() {
    use kaigo_platform::testkit::TestDatabase;
    use prost::Message;
    use sea_orm::{ConnectionTrait, Statement};
    use sea_orm_migration::MigratorTrait;

    let db = TestDatabase::create().await;
    let conn = kaigo_platform::db::connect(&db.config(), kaigo_registry::NAME).await.unwrap();
    // Every step before the links' versions, then a link as the older build stored it.
    let before = kaigo_registry::Migrator::migrations()
        .iter()
        .position(|m| m.name() == "m20261204_000011_registry_identity_link_version")
        .unwrap();
    kaigo_registry::Migrator::up(&conn, Some(u32::try_from(before).unwrap())).await.unwrap();
    let insert = "INSERT INTO identity_links (link_id, insurer_number, insured_number, revoked, updated_at, updated_by) \
                  VALUES ('c1', '435073', '0000000003', false, now(), 'insurer:435073')";
    conn.execute_raw(Statement::from_string(conn.get_database_backend(), insert.to_owned())).await.unwrap();
    kaigo_registry::Migrator::up(&conn, None).await.unwrap();
    kaigo_registry::Migrator::up(&conn, None).await.unwrap();
    let sql = "SELECT payload FROM outbox WHERE topic = 'registry.identity_link_changed'";
    let rows = conn.query_all_raw(Statement::from_string(conn.get_database_backend(), sql.to_owned())).await.unwrap();
    assert_eq!(rows.len(), 1);
    let link = pb::IdentityLinkChanged::decode(rows[0].try_get::<Vec<u8>>("", "payload").unwrap().as_slice()).unwrap();
    assert_eq!((link.link_id.as_str(), link.version, link.revoked), ("c1", 1, false));
    assert_eq!(link.person, Some(person("0000000003")));
}

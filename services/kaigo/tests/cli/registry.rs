//! The registry through the real binary (issue 14): `kaigo dev` with its virtual cards, the card
//! flow end to end through the gateway with `kaigo card sign` as the reader, the person's own
//! view with a token whose subject is their identity link; and `kaigo serve registry` on
//! PostgreSQL and Redis.

use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kaigo_platform::testkit::eventually;
use kaigo_proto::kaigo::common::v1::Purpose;
use kaigo_proto::kaigo::registry::v1 as pb;
use kaigo_proto::kaigo::registry::v1::registry_service_client::RegistryServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::support::{Bearer, Running, SERVING, Stack, free_port, health, kaigo, mint};

const REGISTRY: &str = "kaigo.registry.v1.RegistryService";
/// A care office the demo seed did not register: the seed registers the demo care office of
/// `kaigo dev` for the demo persons already (docs/domain/access.md#facts-copy), so the card
/// flow is shown by another office.
const OFFICE: &str = "0300000106";
const INSURER: &str = "435073";
/// Demo person 435073:0000000001's virtual card, and so their identity link.
const LINK: &str = "d000000001";

type Client = RegistryServiceClient<InterceptedService<Channel, Bearer>>;

fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn person() -> pb::PersonRef {
    pb::PersonRef { insurer_number: INSURER.to_owned(), insured_number: "0000000001".to_owned() }
}

fn client(addr: &str, token: &str) -> Client {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap().connect_lazy();
    RegistryServiceClient::with_interceptor(channel, Bearer::new(token))
}

/// `kaigo card sign`: the virtual reader signs `challenge` with demo card `serial`.
fn card_sign(data: &std::path::Path, serial: &str, challenge: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let out = kaigo()
        .args(["card", "sign", "--serial", serial, "--challenge", &STANDARD.encode(challenge), "--data-dir"])
        .arg(data)
        .output()
        .unwrap();
    assert!(out.status.success(), "kaigo card sign: {}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let field = |name: &str| STANDARD.decode(json[name].as_str().unwrap()).unwrap();
    (field("signature"), field("certificate"))
}

#[tokio::test]
async fn dev_runs_the_card_flow_and_the_person_sees_the_office_and_its_read() {
    let data = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let log = data.path().join("dev.log");
    let child = kaigo()
        .args(["dev", "--listen", &addr, "--data-dir"])
        .arg(data.path())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let _running = Running(child);
    let up =
        eventually(Duration::from_secs(60), || async { health(&addr, REGISTRY).await.filter(|s| *s == SERVING) }).await;
    assert_eq!(up, Some(SERVING), "{}", std::fs::read_to_string(&log).unwrap_or_default());
    // `kaigo dev` made the test CA and the demo cards under its data directory.
    for file in ["ca.pem", "card-d000000001.der", "card-d000000003-key.pem"] {
        assert!(data.path().join("registry-cards").join(file).is_file(), "{file}");
    }
    let key = kaigo_gateway::DevKey::load(data.path()).unwrap();
    let mut office = client(&addr, &mint(&key, "care_office", Some(OFFICE)));

    // The office starts a confirmation; the card signs the challenge; the office completes it.
    let started = office
        .start_card_confirmation(pb::StartCardConfirmationRequest { request_id: rid() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(started.challenge.len(), 32);
    let (signature, certificate) = card_sign(data.path(), LINK, &started.challenge);
    let completed = office
        .complete_card_confirmation(pb::CompleteCardConfirmationRequest {
            request_id: rid(),
            confirmation_id: started.confirmation_id.clone(),
            signature: signature.clone(),
            certificate: certificate.clone(),
            intermediates: Vec::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(completed.person, Some(person()));
    // The same signed challenge again is a replay.
    let replay = office
        .complete_card_confirmation(pb::CompleteCardConfirmationRequest {
            request_id: rid(),
            confirmation_id: started.confirmation_id.clone(),
            signature,
            certificate,
            intermediates: Vec::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(replay.code(), tonic::Code::FailedPrecondition, "{replay:?}");

    // The office registers itself and records the person's consent given at its reader.
    let registration = office
        .register_organization(pb::RegisterOrganizationRequest {
            request_id: rid(),
            person: Some(person()),
            organization: None,
            evidence: pb::Evidence::CardConfirmation as i32,
            card_confirmation_id: completed.confirmation_id.clone(),
            start_date: None,
        })
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    let consent = office
        .record_consent(pb::RecordConsentRequest {
            request_id: rid(),
            person: Some(person()),
            grantee: Some(pb::Grantee {
                grantee: Some(pb::grantee::Grantee::Organization(pb::Organization {
                    kind: pb::OrganizationKind::CareOffice as i32,
                    number: OFFICE.to_owned(),
                })),
            }),
            categories: vec![pb::Category::InsuranceCertificates as i32, pb::Category::CarePlan as i32],
            purpose: Purpose::CarePlanning as i32,
            source: pb::ConsentSource::CardReader as i32,
            card_confirmation_id: completed.confirmation_id.clone(),
            valid_from: None,
            valid_until: None,
        })
        .await
        .unwrap()
        .into_inner()
        .consent
        .unwrap();
    // The office reads the person's consents: an audited read of their record.
    let listed = office
        .list_consents(pb::ListConsentsRequest { person: Some(person()), include_inactive: false })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.consents.iter().any(|c| c.consent_id == consent.consent_id));

    // The person, signed in with their identity link as token subject (`kaigo token`, as the
    // operator's identity provider would issue it).
    let out = kaigo()
        .args(["token", "--role", "insured_person", "--subject", LINK, "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut me = client(&addr, String::from_utf8(out.stdout).unwrap().trim());
    let mine = me
        .get_my_relationships(pb::GetMyRelationshipsRequest { identity_link: LINK.to_owned(), include_inactive: false })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.person, Some(person()));
    assert!(mine.registrations.iter().any(|r| r.registration_id == registration.registration_id));
    assert!(mine.consents.iter().any(|c| c.consent_id == consent.consent_id));
    // Another person's link is refused.
    let other = me
        .get_my_relationships(pb::GetMyRelationshipsRequest {
            identity_link: "d000000002".to_owned(),
            include_inactive: false,
        })
        .await
        .unwrap_err();
    assert_eq!(other.code(), tonic::Code::PermissionDenied, "{other:?}");

    // Who read my record: the office's read of a moment ago (the audit is written in batches).
    let reads = eventually(Duration::from_secs(15), || {
        let mut me = me.clone();
        async move {
            let reads = me
                .list_my_record_reads(pb::ListMyRecordReadsRequest {
                    identity_link: LINK.to_owned(),
                    page_size: 0,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .reads;
            reads.iter().any(|r| r.reader_organization == OFFICE).then_some(reads)
        }
    })
    .await;
    assert!(reads.is_some(), "the office's read is in the person's access log");
}

#[tokio::test]
async fn serve_registry_answers_health_on_postgres_and_redis() {
    let mut stack = Stack::new(&["registry"]).await;
    stack.start("registry").await;
    assert_eq!(health(&stack.addr("registry"), REGISTRY).await, Some(SERVING));
    assert_eq!(health(&stack.addr("registry"), "liveness").await, Some(SERVING));
}

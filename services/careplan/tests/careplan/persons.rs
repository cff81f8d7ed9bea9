//! One person's bundles (ListPersonBundles) by the registry's facts: the person's insurer, and
//! an organisation only registered as the person's 担当 with a consent covering CARE_PLAN — not
//! because it sent or received a bundle — and no longer once the consent is withdrawn or the
//! registration ended. The exchange itself stays between the two offices
//! (docs/domain/access.md#in-kaigo).

use kaigo_platform::access::{Category, OrganizationKind};
use kaigo_platform::auth::Role;
use kaigo_platform::testkit::access as facts;
use kaigo_platform::testkit::caller_for;
use kaigo_proto::kaigo::careplan::v1::{GetBundleRequest, ListPersonBundlesRequest};
use tonic_types::StatusExt;

use crate::evidence::evidence;
use crate::exchange::{CARE, OTHER, PROV, licensed, rid, usage_files, usage_request};
use crate::harness::{TestServer, reason};

fn refusal(status: &tonic::Status) -> (tonic::Code, String, String) {
    let category = status.get_details_error_info().and_then(|i| i.metadata.get("category").cloned());
    (status.code(), reason(status), category.unwrap_or_default())
}

#[tokio::test]
async fn a_persons_bundles_are_listed_only_as_the_registrys_facts_allow() {
    // The registry's facts arrive as its events on Redis Streams.
    let server = TestServer::start_on_redis().await;
    let (mut care, _) = licensed(&server, Role::CareOffice, CARE).await;
    let (mut prov, _) = licensed(&server, Role::ServiceProvider, PROV).await;
    let (mut other, _) = licensed(&server, Role::ServiceProvider, OTHER).await;
    let sent = care.send_bundle(usage_request(&rid(), usage_files())).await.unwrap().into_inner().bundle.unwrap();
    // A person of the unit, as its service evidence names them.
    let person = evidence(&server).await[0].1.person.clone().unwrap();
    let (insurer, insured) = (person.insurer_number.clone(), person.insured_number.clone());
    let list = || ListPersonBundlesRequest {
        insurer_number: insurer.clone(),
        insured_number: insured.clone(),
        ..Default::default()
    };
    let care_plan = Category::CarePlan.as_str().to_owned();

    // Sending or receiving the person's bundle grants nothing: both offices, and an institution,
    // are not registered.
    let mut clinic = server.client(Some(caller_for(Role::MedicalInstitution, "1311234569"))).await;
    for client in [&mut care, &mut prov, &mut clinic] {
        let err = client.list_person_bundles(list()).await.unwrap_err();
        assert_eq!(refusal(&err), (tonic::Code::PermissionDenied, "NOT_REGISTERED".into(), care_plan.clone()));
    }

    // Registered, consented to everything but CARE_PLAN: refused, naming it.
    let start = kaigo_platform::time::today_jst() - chrono::Days::new(30);
    let others = [Category::InsuranceCertificates, Category::CostShare, Category::Certification];
    let registration =
        facts::register(&server.feed, OrganizationKind::CareOffice, CARE, &insurer, &insured, start).await;
    facts::consent(&server.feed, OrganizationKind::CareOffice, CARE, &insurer, &insured, &others, start).await;
    let err = care.list_person_bundles(list()).await.unwrap_err();
    assert_eq!(refusal(&err), (tonic::Code::PermissionDenied, "CONSENT_REQUIRED".into(), care_plan.clone()));

    // With CARE_PLAN: exactly the person's bundle, as metadata.
    let consent = facts::consent(
        &server.feed,
        OrganizationKind::CareOffice,
        CARE,
        &insurer,
        &insured,
        &[Category::CarePlan],
        start,
    )
    .await;
    let listed = care.list_person_bundles(list()).await.unwrap().into_inner();
    assert_eq!(listed.bundles.iter().map(|b| b.bundle_id.as_str()).collect::<Vec<_>>(), [sent.bundle_id.as_str()]);
    assert!(listed.next_page_token.is_empty());
    // The provider is still not registered.
    assert_eq!(reason(&prov.list_person_bundles(list()).await.unwrap_err()), "NOT_REGISTERED");

    // A third office registered with the consent sees that the bundle exists, not its files:
    // the exchange stays between its two offices.
    facts::register_with_consent(&server.feed, OrganizationKind::ServiceProvider, OTHER, &insurer, &insured, start)
        .await;
    assert_eq!(other.list_person_bundles(list()).await.unwrap().into_inner().bundles.len(), 1);
    let err = other.get_bundle(GetBundleRequest { bundle_id: sent.bundle_id.clone() }).await.unwrap_err();
    assert_eq!(reason(&err), "NOT_A_PARTY");

    // The person's insurer reads; another insurer and operators never.
    let mut own = server.client(Some(caller_for(Role::Insurer, &insurer))).await;
    assert_eq!(own.list_person_bundles(list()).await.unwrap().into_inner().bundles.len(), 1);
    let stranger = if insurer == "131011" { "435073" } else { "131011" };
    let mut foreign = server.client(Some(caller_for(Role::Insurer, stranger))).await;
    assert_eq!(reason(&foreign.list_person_bundles(list()).await.unwrap_err()), "NOT_PERMITTED");
    let mut ops = server.client(Some(kaigo_platform::testkit::caller(Role::Operator))).await;
    assert_eq!(reason(&ops.list_person_bundles(list()).await.unwrap_err()), "NOT_PERMITTED");

    // The person reads their own plans once their identity link (the token's subject) is
    // published; another person is refused as an unregistered office is
    // (docs/domain/access.md#own-view).
    let me = kaigo_platform::auth::Caller {
        subject: "e000000001".into(),
        ..kaigo_platform::testkit::caller(Role::InsuredPerson)
    };
    let mut person_client = server.client(Some(me)).await;
    assert_eq!(reason(&person_client.list_person_bundles(list()).await.unwrap_err()), "NOT_REGISTERED");
    facts::link(&server.feed, "e000000001", &insurer, &insured).await;
    assert_eq!(person_client.list_person_bundles(list()).await.unwrap().into_inner().bundles.len(), 1);
    let someone = kaigo_platform::auth::Caller {
        subject: "e000000002".into(),
        ..kaigo_platform::testkit::caller(Role::InsuredPerson)
    };
    let mut someone = server.client(Some(someone)).await;
    assert_eq!(reason(&someone.list_person_bundles(list()).await.unwrap_err()), "NOT_REGISTERED");

    // A withdrawal stops it at once; so does the end of the registration.
    facts::withdraw(&server.feed, &consent, chrono::Utc::now()).await;
    let err = care.list_person_bundles(list()).await.unwrap_err();
    assert_eq!(refusal(&err), (tonic::Code::PermissionDenied, "CONSENT_REQUIRED".into(), care_plan.clone()));
    facts::consent(&server.feed, OrganizationKind::CareOffice, CARE, &insurer, &insured, &[Category::CarePlan], start)
        .await;
    assert!(care.list_person_bundles(list()).await.is_ok());
    facts::end_registration(&server.feed, &registration, chrono::Utc::now() - chrono::Duration::days(1)).await;
    assert_eq!(reason(&care.list_person_bundles(list()).await.unwrap_err()), "NOT_REGISTERED");

    // Bad input is reported per field, before any decision.
    let err = care
        .list_person_bundles(ListPersonBundlesRequest { insurer_number: "12".into(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    server.shutdown().await;
}

//! Who reads an opinion, from the registry's facts (docs/domain/access.md#in-kaigo): the
//! institution asked by the request itself; any other organisation only registered as the
//! person's 担当 with a consent covering CERTIFICATION, and no longer once it is withdrawn or
//! the registration ended. The facts arrive as the registry's events on Redis Streams.

use kaigo_platform::access::{Category, OrganizationKind};
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::testkit::caller_for;
use kaigo_proto::kaigo::documents::v1::*;
use tonic::Code;

use crate::flow::{request, today};
use crate::harness::*;

/// A registered service provider.
const PROVIDER: &str = kaigo_platform::testkit::orgs::PROVIDER;

fn refusal(status: &tonic::Status) -> (Code, String, String) {
    (status.code(), reason(status), error_metadata(status, "category"))
}

#[tokio::test]
async fn organisations_read_opinions_only_as_the_registrys_facts_allow() {
    let server = TestServer::start_on_redis().await;
    let req = request(&server, "app-access-1").await;
    let mut doctor = server.client(institution(INSTITUTION)).await;
    let opinion = kaigo_documents::seed::sample_opinion(&req.opinion_request_id, today());
    let opinion = doctor
        .submit_opinion(SubmitOpinionRequest { request_id: rid(), opinion: Some(opinion) })
        .await
        .unwrap()
        .into_inner()
        .opinion
        .unwrap();
    let get = || GetOpinionRequest { opinion_id: opinion.opinion_id.clone(), purpose: 0 };
    let list =
        || ListOpinionsRequest { insurer_number: INSURER.into(), insured_number: INSURED.into(), ..Default::default() };
    // The institution asked needs no registration: the request grants it.
    assert!(doctor.get_opinion(get()).await.is_ok());

    // Without a registration every organisation is refused, whatever its token claims.
    let claimed = format!("{INSURER}:{INSURED}");
    let mut office = server.client(care_office(CARE_OFFICE, &[&claimed])).await;
    let mut provider = server.client(caller_for(Role::ServiceProvider, PROVIDER)).await;
    let mut clinic = server.client(institution(OTHER_INSTITUTION)).await;
    for client in [&mut office, &mut provider, &mut clinic] {
        let err = client.get_opinion(get()).await.unwrap_err();
        assert_eq!(
            refusal(&err),
            (Code::PermissionDenied, "NOT_REGISTERED".into(), Category::Certification.as_str().into())
        );
    }
    for client in [&mut office, &mut provider] {
        let err = client.list_opinions(list()).await.unwrap_err();
        assert_eq!((err.code(), reason(&err).as_str()), (Code::PermissionDenied, "NOT_REGISTERED"));
    }

    // Registered, with a consent to everything but CERTIFICATION: still refused, naming it.
    let others = [Category::InsuranceCertificates, Category::CostShare, Category::CarePlan];
    let (registration, _) = server.grant(OrganizationKind::CareOffice, CARE_OFFICE, &others).await;
    let err = office.get_opinion(get()).await.unwrap_err();
    assert_eq!(
        refusal(&err),
        (Code::PermissionDenied, "CONSENT_REQUIRED".into(), Category::Certification.as_str().into())
    );
    assert_eq!(reason(&office.list_opinions(list()).await.unwrap_err()), "CONSENT_REQUIRED");

    // With CERTIFICATION: the opinion and the person's list.
    let feed = server.feed();
    let consent = facts::consent(
        &feed,
        OrganizationKind::CareOffice,
        CARE_OFFICE,
        INSURER,
        INSURED,
        &[Category::Certification],
        facts_start(),
    )
    .await;
    assert_eq!(office.get_opinion(get()).await.unwrap().into_inner().opinion.unwrap().opinion_id, opinion.opinion_id);
    assert_eq!(office.list_opinions(list()).await.unwrap().into_inner().opinions.len(), 1);
    // The request itself (the applicant's details) stays with the insurer and the institution.
    let err = office
        .get_opinion_request(GetOpinionRequestRequest { opinion_request_id: req.opinion_request_id.clone() })
        .await
        .unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::PermissionDenied, "NOT_A_PARTY"));
    // The consent was to the care office: the provider is still not registered.
    assert_eq!(reason(&provider.get_opinion(get()).await.unwrap_err()), "NOT_REGISTERED");

    // A medical institution registered as such never sees CERTIFICATION, even consented.
    server.grant(OrganizationKind::MedicalInstitution, OTHER_INSTITUTION, &[Category::Certification]).await;
    let err = clinic.get_opinion(get()).await.unwrap_err();
    assert_eq!(
        refusal(&err),
        (Code::PermissionDenied, "NOT_PERMITTED".into(), Category::Certification.as_str().into())
    );

    // A withdrawal stops it at once; so does the end of the registration.
    facts::withdraw(&feed, &consent, chrono::Utc::now()).await;
    let err = office.get_opinion(get()).await.unwrap_err();
    assert_eq!(
        refusal(&err),
        (Code::PermissionDenied, "CONSENT_REQUIRED".into(), Category::Certification.as_str().into())
    );
    facts::consent(
        &feed,
        OrganizationKind::CareOffice,
        CARE_OFFICE,
        INSURER,
        INSURED,
        &[Category::Certification],
        facts_start(),
    )
    .await;
    assert!(office.get_opinion(get()).await.is_ok());
    facts::end_registration(&feed, &registration, chrono::Utc::now() - chrono::Duration::days(1)).await;
    assert_eq!(reason(&office.get_opinion(get()).await.unwrap_err()), "NOT_REGISTERED");

    // Roles the rules never admit are refused before any facts.
    let mut ops = server.client(operator()).await;
    assert_eq!(reason(&ops.get_opinion(get()).await.unwrap_err()), "NOT_A_PARTY");
    let person: Caller = kaigo_platform::testkit::caller(Role::InsuredPerson);
    let mut person = server.client(person).await;
    assert_eq!(reason(&person.get_opinion(get()).await.unwrap_err()), "NOT_A_PARTY");
    server.shutdown().await;
}

//! Registrations, consents and the decision (docs/domain/access.md#registry).

use kaigo_platform::auth::Role;
use kaigo_platform::testkit::caller_for;
use kaigo_proto::kaigo::registry::v1 as pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_and_consent_grant_exactly_the_consented_categories_until_withdrawn() {
    let r = Registry::start().await;
    let insured = "0000000003";
    // Before anything: not registered, for every category, even for a consent-less check.
    for category in [pb::Category::InsuranceCertificates, pb::Category::CostShare] {
        let d = r.check(office(), insured, category).await;
        assert_eq!((d.decision, d.denial_reason.as_str()), (pb::Decision::Denied as i32, "NOT_REGISTERED"));
    }
    r.register_with_consent("b1", insured, &[pb::Category::InsuranceCertificates, pb::Category::CarePlan]).await;
    assert!(allowed(&r.check(office(), insured, pb::Category::InsuranceCertificates).await));
    assert!(allowed(&r.check(office(), insured, pb::Category::CarePlan).await));
    let cost = r.check(office(), insured, pb::Category::CostShare).await;
    assert_eq!(cost.denial_reason, "CONSENT_REQUIRED");
    assert_eq!(cost.consent_required, pb::Category::CostShare as i32);
    // Another organisation is not registered; a medical institution neither; the insurer sees all.
    let other = r.check(caller_for(Role::ServiceProvider, OTHER_OFFICE), insured, pb::Category::CarePlan).await;
    assert_eq!(other.denial_reason, "NOT_REGISTERED");
    let institution = r.check(caller_for(Role::MedicalInstitution, INSTITUTION), insured, pb::Category::CarePlan).await;
    assert_eq!(institution.denial_reason, "NOT_REGISTERED");
    assert!(allowed(&r.check(insurer(), insured, pb::Category::CostShare).await));

    // A medical institution the insurer registers, with a paper consent to every medical
    // institution for all categories: 被保険者証 facts yes, 負担割合・負担限度額 never.
    let mut insurer_client = r.client(insurer()).await;
    insurer_client
        .register_organization(pb::RegisterOrganizationRequest {
            request_id: id(),
            person: Some(person(insured)),
            organization: Some(pb::Organization {
                kind: pb::OrganizationKind::MedicalInstitution as i32,
                number: INSTITUTION.into(),
            }),
            evidence: pb::Evidence::InsurerManual as i32,
            card_confirmation_id: String::new(),
            start_date: None,
        })
        .await
        .unwrap();
    insurer_client
        .record_consent(pb::RecordConsentRequest {
            request_id: id(),
            person: Some(person(insured)),
            grantee: Some(pb::Grantee {
                grantee: Some(pb::grantee::Grantee::OrganizationKind(pb::OrganizationKind::MedicalInstitution as i32)),
            }),
            categories: vec![
                pb::Category::InsuranceCertificates as i32,
                pb::Category::CostShare as i32,
                pb::Category::Certification as i32,
                pb::Category::CarePlan as i32,
            ],
            purpose: kaigo_proto::kaigo::common::v1::Purpose::ServiceProvision as i32,
            source: pb::ConsentSource::PaperRecordedByInsurer as i32,
            card_confirmation_id: String::new(),
            valid_from: None,
            valid_until: None,
        })
        .await
        .unwrap();
    let hospital = caller_for(Role::MedicalInstitution, INSTITUTION);
    assert!(allowed(&r.check(hospital.clone(), insured, pb::Category::InsuranceCertificates).await));
    assert_eq!(r.check(hospital, insured, pb::Category::CostShare).await.denial_reason, "NOT_PERMITTED");
    // The insurer asks on an organisation's behalf.
    let for_office = insurer_client
        .check_access(pb::CheckAccessRequest {
            person: Some(person(insured)),
            category: pb::Category::CostShare as i32,
            date: None,
            organization: Some(pb::Organization {
                kind: pb::OrganizationKind::CareOffice as i32,
                number: OFFICE.into(),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(for_office.denial_reason, "CONSENT_REQUIRED");

    // The office lists the consent that concerns it (not the institutions'); it may not
    // withdraw it; the insurer may.
    let consents = r
        .client(office())
        .await
        .list_consents(pb::ListConsentsRequest { person: Some(person(insured)), include_inactive: false })
        .await
        .unwrap()
        .into_inner()
        .consents;
    assert_eq!(consents.len(), 1);
    let consent_id = consents[0].consent_id.clone();
    let status = r
        .client(office())
        .await
        .withdraw_consent(pb::WithdrawConsentRequest { request_id: id(), consent_id: consent_id.clone() })
        .await
        .unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::PermissionDenied, "WITHDRAWAL_NOT_ALLOWED"));
    let status = r
        .client(caller_for(Role::Insurer, OTHER_INSURER))
        .await
        .withdraw_consent(pb::WithdrawConsentRequest { request_id: id(), consent_id: consent_id.clone() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let withdrawn = r
        .client(insurer())
        .await
        .withdraw_consent(pb::WithdrawConsentRequest { request_id: id(), consent_id: consent_id.clone() })
        .await
        .unwrap()
        .into_inner()
        .consent
        .unwrap();
    assert_eq!(withdrawn.version, 2);
    assert!(withdrawn.withdraw_time.is_some());
    // Effective at once.
    let plan = r.check(office(), insured, pb::Category::CarePlan).await;
    assert_eq!(plan.denial_reason, "CONSENT_REQUIRED");
    // Full history: two versions, two events.
    assert_eq!(r.count(&format!("SELECT COUNT(*) FROM consent_versions WHERE consent_id = '{consent_id}'")).await, 2);
    assert_eq!(r.count("SELECT COUNT(*) FROM outbox WHERE topic = 'registry.consent_changed'").await, 3);
    assert_eq!(r.count("SELECT COUNT(*) FROM outbox WHERE topic = 'registry.registration_changed'").await, 2);
    r.harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_ends_by_itself_after_the_no_service_period() {
    let r = Registry::start_with(|c| c.no_service_months = 6).await;
    let insured = "0000000004";
    let registration = r.register_with_consent("c1", insured, &[pb::Category::CarePlan]).await;
    // Service on 2027-01-10 restarts the period.
    r.clock.set(t0() + chrono::Duration::days(37));
    r.client(office())
        .await
        .record_service_evidence(pb::RecordServiceEvidenceRequest {
            request_id: id(),
            person: Some(person(insured)),
            organization: None,
            service_date: Some(date(2027, 1, 10)),
        })
        .await
        .unwrap();
    // 2027-07-09: six months after the start, not after the service: still registered.
    r.clock.set(chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2027, 7, 9, 1, 0, 0).unwrap());
    let ended = kaigo_registry::sweep::sweep_once(&r.db, &r.clock, 6).await.unwrap();
    assert_eq!(ended, 0);
    assert!(allowed(&r.check(office(), insured, pb::Category::CarePlan).await));
    // 2027-07-10: six months after the last service: the background sweep ends it.
    r.clock.set(chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2027, 7, 10, 1, 0, 0).unwrap());
    let listed = kaigo_platform::testkit::eventually(std::time::Duration::from_secs(10), || async {
        let list = r
            .client(insurer())
            .await
            .list_registrations(pb::ListRegistrationsRequest {
                person: Some(person(insured)),
                include_ended: true,
                page_size: 0,
                page_token: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .registrations;
        list.into_iter().find(|x| x.registration_id == registration.registration_id && x.end_time.is_some())
    })
    .await
    .expect("the sweep ends the registration");
    assert_eq!(listed.end_reason, pb::EndReason::NoService as i32);
    assert_eq!(listed.ended_by.unwrap().role, kaigo_proto::kaigo::common::v1::Role::System as i32);
    assert_eq!(listed.version, 2);
    let d = r.check(office(), insured, pb::Category::CarePlan).await;
    assert_eq!(d.denial_reason, "NOT_REGISTERED");
    r.harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_are_refused_for_others_and_ended_only_by_their_parties() {
    let r = Registry::start().await;
    r.link("e1", "0000000005", false).await;
    let confirmed = r.confirm(office(), &r.card("e1")).await;
    let register = |p: &str, org: Option<&str>, confirmation: &str| pb::RegisterOrganizationRequest {
        request_id: id(),
        person: Some(person(p)),
        organization: org.map(|n| pb::Organization { kind: pb::OrganizationKind::CareOffice as i32, number: n.into() }),
        evidence: pb::Evidence::CardConfirmation as i32,
        card_confirmation_id: confirmation.into(),
        start_date: None,
    };
    let mut client = r.client(office()).await;
    // For another office, for another person than the card's, with another office's confirmation.
    let s = client
        .register_organization(register("0000000005", Some(OTHER_OFFICE), &confirmed.confirmation_id))
        .await
        .unwrap_err();
    assert_eq!((s.code(), reason(&s).as_str()), (Code::PermissionDenied, "FOR_ANOTHER_ORGANIZATION"));
    let s = client.register_organization(register("0000000006", None, &confirmed.confirmation_id)).await.unwrap_err();
    assert_eq!((s.code(), reason(&s).as_str()), (Code::FailedPrecondition, "CONFIRMATION_OF_ANOTHER_PERSON"));
    let s = r
        .client(caller_for(Role::CareOffice, OTHER_OFFICE))
        .await
        .register_organization(register("0000000005", None, &confirmed.confirmation_id))
        .await
        .unwrap_err();
    assert_eq!((s.code(), reason(&s).as_str()), (Code::PermissionDenied, "CONFIRMATION_OF_ANOTHER_ORGANIZATION"));
    // A medical institution may not register itself as a provider.
    let as_provider = pb::RegisterOrganizationRequest {
        organization: Some(pb::Organization {
            kind: pb::OrganizationKind::ServiceProvider as i32,
            number: INSTITUTION.into(),
        }),
        ..register("0000000005", None, &confirmed.confirmation_id)
    };
    let s = r
        .client(caller_for(Role::MedicalInstitution, INSTITUTION))
        .await
        .register_organization(as_provider)
        .await
        .unwrap_err();
    assert_eq!((s.code(), reason(&s).as_str()), (Code::PermissionDenied, "FOR_ANOTHER_ORGANIZATION"));
    // An office may not register on its own word.
    let manual = pb::RegisterOrganizationRequest {
        evidence: pb::Evidence::InsurerManual as i32,
        card_confirmation_id: String::new(),
        ..register("0000000005", None, "")
    };
    let s = client.register_organization(manual.clone()).await.unwrap_err();
    assert_eq!((s.code(), reason(&s).as_str()), (Code::PermissionDenied, "EVIDENCE_NOT_ALLOWED"));
    // A confirmation too old to use.
    r.clock.set(t0() + chrono::Duration::seconds(1801));
    let s = client.register_organization(register("0000000005", None, &confirmed.confirmation_id)).await.unwrap_err();
    assert_eq!(reason(&s), "CONFIRMATION_EXPIRED");
    r.clock.set(t0());
    assert_eq!(r.count("SELECT COUNT(*) FROM registrations").await, 0, "nothing stored");

    let registered = client
        .register_organization(register("0000000005", None, &confirmed.confirmation_id))
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    assert_eq!(registered.evidence, pb::Evidence::CardConfirmation as i32);
    let s = client.register_organization(register("0000000005", None, &confirmed.confirmation_id)).await.unwrap_err();
    assert_eq!(reason(&s), "ALREADY_REGISTERED");
    // Consents with unknown or repeated categories.
    let mut bad =
        consent_request("0000000005", &confirmed.confirmation_id, &[pb::Category::CarePlan, pb::Category::CarePlan]);
    bad.categories.push(99);
    let s = client.record_consent(bad).await.unwrap_err();
    let fields: Vec<String> =
        s.get_error_details().bad_request().unwrap().field_violations.iter().map(|f| f.field.clone()).collect();
    assert_eq!(fields, ["categories[1]", "categories[2]"]);

    // The insurer registers a provider by hand; another insurer may not.
    let by_insurer = pb::RegisterOrganizationRequest {
        organization: Some(pb::Organization {
            kind: pb::OrganizationKind::ServiceProvider as i32,
            number: OTHER_OFFICE.into(),
        }),
        ..manual
    };
    let s = r
        .client(caller_for(Role::Insurer, OTHER_INSURER))
        .await
        .register_organization(by_insurer.clone())
        .await
        .unwrap_err();
    assert_eq!((s.code(), reason(&s).as_str()), (Code::PermissionDenied, "NOT_OWN_INSURED"));
    r.client(insurer()).await.register_organization(by_insurer).await.unwrap();

    // Ended by another office: refused; by itself: ended, a second time: refused.
    let end = |id_: &str| pb::EndRegistrationRequest {
        request_id: id(),
        registration_id: id_.into(),
        note: "契約終了".into(),
    };
    let s = r
        .client(caller_for(Role::ServiceProvider, OTHER_OFFICE))
        .await
        .end_registration(end(&registered.registration_id))
        .await
        .unwrap_err();
    assert_eq!((s.code(), reason(&s).as_str()), (Code::PermissionDenied, "NOT_YOUR_REGISTRATION"));
    let ended =
        client.end_registration(end(&registered.registration_id)).await.unwrap().into_inner().registration.unwrap();
    assert_eq!(ended.end_reason, pb::EndReason::ByOrganization as i32);
    assert_eq!(ended.end_note, "契約終了");
    let s = client.end_registration(end(&registered.registration_id)).await.unwrap_err();
    assert_eq!(reason(&s), "ALREADY_ENDED");
    let versions = r
        .count(&format!(
            "SELECT COUNT(*) FROM registration_versions WHERE registration_id = '{}'",
            registered.registration_id
        ))
        .await;
    assert_eq!(versions, 2);
    // Its own list shows it ended; the active list no longer.
    let list = |include_ended| pb::ListRegistrationsRequest {
        person: None,
        include_ended,
        page_size: 0,
        page_token: String::new(),
    };
    assert_eq!(client.list_registrations(list(true)).await.unwrap().into_inner().registrations.len(), 1);
    assert!(client.list_registrations(list(false)).await.unwrap().into_inner().registrations.is_empty());
    r.harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_evidence_arrives_as_an_event_once() {
    use kaigo_platform::events::{Bus, Event, RedisBus};
    use prost::Message;

    let r = Registry::start().await;
    let insured = "0000000014";
    let registration = r.register_with_consent("ab1", insured, &[]).await;
    let observed = |day: i32| pb::ServiceEvidenceObserved {
        person: Some(person(insured)),
        organization: Some(pb::Organization { kind: pb::OrganizationKind::CareOffice as i32, number: OFFICE.into() }),
        service_date: Some(date(2026, 12, day)),
    };
    let event = |id: &str, day: i32| Event {
        id: id.into(),
        topic: kaigo_registry::events::TOPIC_SERVICE_EVIDENCE.into(),
        key: "bundle-1".into(),
        payload: observed(day).encode_to_vec(),
        trace: vec![],
        created_at: t0(),
    };
    let bus = Bus::Redis(RedisBus::new(r.redis_handle.clone(), 1000));
    let first = uuid::Uuid::now_v7().to_string();
    bus.publish(&event(&first, 3)).await.unwrap();
    bus.publish(&event(&first, 3)).await.unwrap(); // published twice: applied once
    // Not registered: ignored; in the future: ignored.
    let mut stranger = observed(3);
    stranger.organization.as_mut().unwrap().number = OTHER_OFFICE.into();
    let mut e = event(&uuid::Uuid::now_v7().to_string(), 3);
    e.payload = stranger.encode_to_vec();
    bus.publish(&e).await.unwrap();
    bus.publish(&event(&uuid::Uuid::now_v7().to_string(), 20)).await.unwrap();
    let list = || async {
        r.client(office())
            .await
            .list_registrations(pb::ListRegistrationsRequest {
                person: Some(person(insured)),
                include_ended: false,
                page_size: 0,
                page_token: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .registrations
    };
    let seen = kaigo_platform::testkit::eventually(std::time::Duration::from_secs(10), || async {
        (r.count("SELECT COUNT(*) FROM processed_events WHERE consumer_group = 'registry'").await == 3).then_some(())
    })
    .await;
    assert!(seen.is_some(), "the consumer handles the three distinct events");
    assert_eq!(r.count("SELECT COUNT(*) FROM service_evidence").await, 1);
    let listed = list().await;
    assert_eq!(listed[0].registration_id, registration.registration_id);
    // The start (today) is later than the evidence: the period runs from the start.
    assert_eq!(listed[0].last_service_date, Some(date(2026, 12, 4)));
    r.harness.shutdown().await;
}

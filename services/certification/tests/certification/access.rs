//! Only the insurer, the person who filed, and organisations the registry's facts admit
//! (registered as the person's 担当 with a consent covering CERTIFICATION) may read or watch
//! (docs/domain/access.md#in-kaigo).

use kaigo_platform::audit;
use kaigo_platform::auth::Role;
use kaigo_platform::ids::MedicalInstitutionCode;
use kaigo_proto::kaigo::certification::v1 as pb;

use crate::driver::Driver;
use crate::support::{
    Harness, INSURER, caller, d, insurer_caller, new_application, office, office_caller, reason, rid, signed, wire,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_insurer_the_registered_office_and_the_person_may_read() {
    let h = Harness::new(d(2026, 4, 10)).await;
    let replica = h.replica().await;
    let acting = office("437100003");
    let app = Driver::submit(&replica, new_application("0000060001", d(2026, 4, 1), &acting)).await.unwrap();
    // The acting office reads as the person's registered office with a consent; the office
    // named on the application is not enough by itself (see the test below).
    h.follow(&acting, "0000060001").await;
    let mut client = replica.client.clone();
    let get = |id: &str| pb::GetApplicationProgressRequest { application_id: id.to_owned() };

    for allowed in [insurer_caller(INSURER), office_caller(&acting)] {
        let p = client
            .get_application_progress(signed(&replica.keys, &allowed, "GetApplicationProgress", get(&app.id)))
            .await
            .unwrap();
        assert_eq!(p.into_inner().progress.unwrap().application_id, app.id);
    }
    let doctor = kaigo_platform::auth::Caller {
        institution: Some(MedicalInstitutionCode::parse("0110113719").unwrap()),
        ..caller(Role::MedicalInstitution)
    };
    let strangers = [
        insurer_caller("122192"),
        office_caller(&office("437100004")),
        caller(Role::InsuredPerson),
        caller(Role::Operator),
        doctor,
    ];
    for stranger in strangers {
        let err = client
            .get_application_progress(signed(&replica.keys, &stranger, "GetApplicationProgress", get(&app.id)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied, "{:?}", stranger.role);
        let w = pb::WatchApplicationRequest { application_id: app.id.clone(), after_sequence: 0 };
        let err = client.watch_application(signed(&replica.keys, &stranger, "WatchApplication", w)).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        let g = pb::GetApplicationRequest { application_id: app.id.clone() };
        assert_eq!(
            client.get_application(signed(&replica.keys, &stranger, "GetApplication", g)).await.unwrap_err().code(),
            tonic::Code::PermissionDenied
        );
    }
    // The acting office may not record steps.
    let r = pb::RecordSurveyScheduledRequest {
        request_id: rid(),
        application_id: app.id.clone(),
        expected_version: 1,
        scheduled_date: Some(wire(d(2026, 4, 5))),
        surveyor: String::new(),
        occur_time: None,
    };
    let err = client
        .record_survey_scheduled(signed(&replica.keys, &office_caller(&acting), "RecordSurveyScheduled", r))
        .await
        .unwrap_err();
    assert_eq!((err.code(), reason(&err)), (tonic::Code::PermissionDenied, "STEP_NOT_ALLOWED".into()));

    // The person who filed on-line may follow their own application; another person may not.
    let person = caller(Role::InsuredPerson);
    let mut own = new_application("0000060002", d(2026, 4, 2), "");
    own.applicant = Some(pb::Applicant { kind: pb::ApplicantKind::Self_ as i32, ..Default::default() });
    let r = pb::SubmitApplicationRequest { request_id: rid(), application: Some(own) };
    let filed = client
        .submit_application(signed(&replica.keys, &person, "SubmitApplication", r))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    let p = client
        .get_application_progress(signed(&replica.keys, &person, "GetApplicationProgress", get(&filed.application_id)))
        .await;
    assert!(p.is_ok());
    let someone = kaigo_platform::auth::Caller { subject: "acct-other".to_owned(), ..caller(Role::InsuredPerson) };
    let err = client
        .get_application_progress(signed(&replica.keys, &someone, "GetApplicationProgress", get(&filed.application_id)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);

    // A list is one record naming every person listed.
    let list = pb::ListApplicationsRequest::default();
    let listed = client
        .list_applications(signed(&replica.keys, &insurer_caller(INSURER), "ListApplications", list))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.applications.len(), 2);
    // Asking for an application that does not exist is on record too.
    let unknown = pb::GetApplicationRequest { application_id: uuid::Uuid::new_v4().to_string() };
    let err = client
        .get_application(signed(&replica.keys, &insurer_caller(INSURER), "GetApplication", unknown))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);

    // Every read, allowed or refused, is audited, naming the person (the trail is written in
    // batches: stopping the replica flushes it).
    replica.stop().await;
    let person = audit::person(INSURER, "0000060001");
    assert_eq!(audit::count_for_person(&h.conn, &person).await.unwrap(), 2 + 5 * 3 + 1);
    let reads = audit::reads_of_person(&h.conn, &person, 100).await.unwrap();
    let outcome = |o: &str| reads.iter().filter(|r| r.outcome == o).count();
    assert_eq!((outcome(audit::ALLOWED), outcome(audit::DENIED)), (3, 15));
    assert!(reads.iter().all(|r| r.category == "application"));
    let lists: Vec<_> = reads.iter().filter(|r| r.rpc == "ListApplications").collect();
    assert_eq!(lists.len(), 1);
    assert_eq!(lists[0].caller_party, INSURER);
    let filer = audit::person(INSURER, "0000060002");
    // The list, the person's own read and another person's refused one.
    assert_eq!(audit::count_for_person(&h.conn, &filer).await.unwrap(), 3);
    // One record per call: 17 of the first person, 2 of the second, the list, the unknown id.
    assert_eq!(audit::count_all(&h.conn).await.unwrap(), 17 + 2 + 1 + 1);
}

fn refusal(status: &tonic::Status) -> (tonic::Code, String, String) {
    (status.code(), reason(status), crate::support::metadata(status, "category"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organisations_follow_applications_only_as_the_registrys_facts_allow() {
    use crate::support::{Category, OrganizationKind, facts};
    use kaigo_platform::testkit::{caller_for, orgs};
    let h = Harness::new(d(2026, 4, 10)).await;
    let replica = h.replica().await;
    let mut client = replica.client.clone();
    let keys = replica.keys.clone();
    // The family files for P; office X files for Q as the acting office.
    let (p, q) = ("0000061001", "0000061002");
    let acting = office("437100011");
    let mut for_p = Driver::submit(&replica, new_application(p, d(2026, 4, 1), "")).await.unwrap();
    let for_q = Driver::submit(&replica, new_application(q, d(2026, 4, 2), &acting)).await.unwrap();
    let manager = office("437100012");
    let certification = Category::Certification.as_str().to_owned();

    let progress = |id: &str| pb::GetApplicationProgressRequest { application_id: id.to_owned() };
    let list_all = pb::ListApplicationsRequest::default;
    let list_of = |insured: &str| pb::ListApplicationsRequest {
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        ..Default::default()
    };

    // Without a registration every organisation is refused every read, the acting office too,
    // and its lists are empty.
    let x = office_caller(&acting);
    let provider = caller_for(Role::ServiceProvider, orgs::PROVIDER);
    let clinic = caller_for(Role::MedicalInstitution, orgs::INSTITUTION);
    for who in [&x, &provider, &clinic] {
        for id in [&for_p.id, &for_q.id] {
            let err = client
                .get_application_progress(signed(&keys, who, "GetApplicationProgress", progress(id)))
                .await
                .unwrap_err();
            assert_eq!(refusal(&err), (tonic::Code::PermissionDenied, "NOT_REGISTERED".into(), certification.clone()));
            let g = pb::GetApplicationRequest { application_id: id.clone() };
            let err = client.get_application(signed(&keys, who, "GetApplication", g)).await.unwrap_err();
            assert_eq!(reason(&err), "NOT_REGISTERED");
            let w = pb::WatchApplicationRequest { application_id: id.clone(), after_sequence: 0 };
            let err = client.watch_application(signed(&keys, who, "WatchApplication", w)).await.unwrap_err();
            assert_eq!(reason(&err), "NOT_REGISTERED");
        }
        let listed = client.list_applications(signed(&keys, who, "ListApplications", list_all())).await.unwrap();
        assert!(listed.into_inner().applications.is_empty());
        let err = client.list_applications(signed(&keys, who, "ListApplications", list_of(q))).await.unwrap_err();
        assert_eq!(reason(&err), "NOT_REGISTERED");
    }

    // The care manager registered for P, with a consent to every other category: refused,
    // naming CERTIFICATION.
    let m = office_caller(&manager);
    let others = [Category::InsuranceCertificates, Category::CostShare, Category::CarePlan];
    let (registration, _) = h.grant(OrganizationKind::CareOffice, &manager, p, &others).await;
    let err = client
        .get_application_progress(signed(&keys, &m, "GetApplicationProgress", progress(&for_p.id)))
        .await
        .unwrap_err();
    assert_eq!(refusal(&err), (tonic::Code::PermissionDenied, "CONSENT_REQUIRED".into(), certification.clone()));

    // With CERTIFICATION it follows the application the family filed (issue 16 item 7), lists
    // exactly P's, and still nothing of Q.
    let feed = h.feed();
    let consent = facts::consent(
        &feed,
        OrganizationKind::CareOffice,
        &manager,
        INSURER,
        p,
        &[Category::Certification],
        d(2026, 1, 1),
    )
    .await;
    let seen = client
        .get_application_progress(signed(&keys, &m, "GetApplicationProgress", progress(&for_p.id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen.progress.unwrap().application_id, for_p.id);
    let listed =
        client.list_applications(signed(&keys, &m, "ListApplications", list_all())).await.unwrap().into_inner();
    assert_eq!(listed.applications.iter().map(|a| a.application_id.clone()).collect::<Vec<_>>(), [for_p.id.clone()]);
    assert_eq!(listed.total_size, 1);
    let listed = client.list_applications(signed(&keys, &m, "ListApplications", list_of(p))).await.unwrap();
    assert_eq!(listed.into_inner().applications.len(), 1);
    let err = client.list_applications(signed(&keys, &m, "ListApplications", list_of(q))).await.unwrap_err();
    assert_eq!(reason(&err), "NOT_REGISTERED");
    let err = client
        .get_application_progress(signed(&keys, &m, "GetApplicationProgress", progress(&for_q.id)))
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "NOT_REGISTERED");
    // Reading is not writing: the registered office records no steps.
    let r = pb::RecordSurveyScheduledRequest {
        request_id: rid(),
        application_id: for_p.id.clone(),
        expected_version: 1,
        scheduled_date: Some(wire(d(2026, 4, 5))),
        surveyor: String::new(),
        occur_time: None,
    };
    let err = client.record_survey_scheduled(signed(&keys, &m, "RecordSurveyScheduled", r)).await.unwrap_err();
    assert_eq!(reason(&err), "STEP_NOT_ALLOWED");

    // A provider registered with the consent follows it too; a medical institution registered
    // as such never does.
    h.grant(OrganizationKind::ServiceProvider, orgs::PROVIDER, p, &[Category::Certification]).await;
    assert!(
        client
            .get_application_progress(signed(&keys, &provider, "GetApplicationProgress", progress(&for_p.id)))
            .await
            .is_ok()
    );
    h.grant(OrganizationKind::MedicalInstitution, orgs::INSTITUTION, p, &[Category::Certification]).await;
    let err = client
        .get_application_progress(signed(&keys, &clinic, "GetApplicationProgress", progress(&for_p.id)))
        .await
        .unwrap_err();
    assert_eq!(refusal(&err), (tonic::Code::PermissionDenied, "NOT_PERMITTED".into(), certification.clone()));

    // A withdrawal ends a running watch at its next read and refuses every read after it.
    let w = pb::WatchApplicationRequest { application_id: for_p.id.clone(), after_sequence: 0 };
    let mut stream = client.watch_application(signed(&keys, &m, "WatchApplication", w)).await.unwrap().into_inner();
    let first = tokio::time::timeout(std::time::Duration::from_secs(5), stream.message()).await.unwrap().unwrap();
    assert_eq!(first.unwrap().step.unwrap().kind, pb::StepKind::Received as i32);
    facts::withdraw(&feed, &consent, crate::support::noon_jst(d(2026, 4, 10))).await;
    for_p.survey_scheduled(d(2026, 4, 12)).await.unwrap();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), stream.message()).await.unwrap();
    let err = ended.expect_err("the watch ends with the refusal");
    assert_eq!(refusal(&err), (tonic::Code::PermissionDenied, "CONSENT_REQUIRED".into(), certification.clone()));
    let err = client
        .get_application_progress(signed(&keys, &m, "GetApplicationProgress", progress(&for_p.id)))
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "CONSENT_REQUIRED");
    let listed =
        client.list_applications(signed(&keys, &m, "ListApplications", list_all())).await.unwrap().into_inner();
    assert!(listed.applications.is_empty());

    // Consented again, then the registration ends: NOT_REGISTERED.
    facts::consent(
        &feed,
        OrganizationKind::CareOffice,
        &manager,
        INSURER,
        p,
        &[Category::Certification],
        d(2026, 1, 1),
    )
    .await;
    assert!(
        client.get_application_progress(signed(&keys, &m, "GetApplicationProgress", progress(&for_p.id))).await.is_ok()
    );
    facts::end_registration(&feed, &registration, crate::support::noon_jst(d(2026, 4, 9))).await;
    let err = client
        .get_application_progress(signed(&keys, &m, "GetApplicationProgress", progress(&for_p.id)))
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "NOT_REGISTERED");
    replica.stop().await;
}

/// The person's own view (docs/domain/access.md#own-view): a person follows the application
/// the family filed for them when their identity link (the token subject) binds them to the
/// record; another person's application is refused as an unregistered office's read, and a
/// revoked link stops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_follows_their_own_application_by_their_identity_link() {
    use crate::support::facts;
    let h = Harness::new(d(2026, 4, 10)).await;
    let replica = h.replica().await;
    let mut client = replica.client.clone();
    let keys = replica.keys.clone();
    let (p, q) = ("0000062001", "0000062002");
    let for_p = Driver::submit(&replica, new_application(p, d(2026, 4, 1), "")).await.unwrap();
    let for_q = Driver::submit(&replica, new_application(q, d(2026, 4, 2), "")).await.unwrap();
    let feed = h.feed();
    let link = facts::link(&feed, "d000062001", INSURER, p).await;
    facts::link(&feed, "d000062002", INSURER, q).await;
    let me = kaigo_platform::auth::Caller { subject: "d000062001".to_owned(), ..caller(Role::InsuredPerson) };
    let progress = |id: &str| pb::GetApplicationProgressRequest { application_id: id.to_owned() };

    let mine = client
        .get_application_progress(signed(&keys, &me, "GetApplicationProgress", progress(&for_p.id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.progress.unwrap().application_id, for_p.id);
    let err = client
        .get_application_progress(signed(&keys, &me, "GetApplicationProgress", progress(&for_q.id)))
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "NOT_REGISTERED");

    // The person's list holds exactly their own application.
    let list = |k: &_| signed(k, &me, "ListApplications", pb::ListApplicationsRequest::default());
    let listed = client.list_applications(list(&keys)).await.unwrap().into_inner();
    let ids: Vec<&str> = listed.applications.iter().map(|a| a.application_id.as_str()).collect();
    assert_eq!(ids, [for_p.id.as_str()]);

    facts::revoke_link(&feed, &link).await;
    let err = client
        .get_application_progress(signed(&keys, &me, "GetApplicationProgress", progress(&for_p.id)))
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "NOT_REGISTERED");
    assert!(client.list_applications(list(&keys)).await.unwrap().into_inner().applications.is_empty());
}

//! Only the insurer, the acting care office and the person may read or watch.

use kaigo_platform::audit;
use kaigo_platform::auth::Role;
use kaigo_platform::ids::MedicalInstitutionCode;
use kaigo_proto::kaigo::certification::v1 as pb;

use crate::driver::Driver;
use crate::support::{
    Harness, INSURER, caller, d, insurer_caller, new_application, office, office_caller, reason, rid, signed, wire,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_insurer_the_acting_office_and_the_person_may_read() {
    let h = Harness::new(d(2026, 4, 10)).await;
    let replica = h.replica().await;
    let acting = office("437100003");
    let app = Driver::submit(&replica, new_application("0000060001", d(2026, 4, 1), &acting)).await.unwrap();
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

//! 作成依頼 → submit → receive → `opinion.received`, the wrong institution, version chains.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use kaigo_documents::seed::sample_opinion;
use kaigo_platform::events::{Consumer, ConsumerOptions, Event, EventHandler, HandlerError};
use kaigo_platform::testkit::eventually;
use kaigo_proto::kaigo::common::v1::{InsuredCategory, Sex};
use kaigo_proto::kaigo::documents::v1::*;
use parking_lot::Mutex;
use prost::Message;
use sea_orm::DatabaseTransaction;
use tonic::Code;

use kaigo_platform::time::Clock;

use crate::harness::*;

/// Stands in for certification's consumer: records what it would apply.
struct Recorder(Arc<Mutex<Vec<OpinionReceivedEvent>>>);

impl EventHandler for Recorder {
    fn handle<'a>(
        &'a self,
        event: &'a Event,
        _txn: &'a DatabaseTransaction,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let payload = OpinionReceivedEvent::decode(event.payload.as_slice())?;
            assert_eq!(event.key, payload.application_id, "events are keyed by application");
            self.0.lock().push(payload);
            Ok(())
        })
    }
}

pub fn today() -> kaigo_proto::google::r#type::Date {
    kaigo_proto::from_naive_date(kaigo_platform::time::today_jst())
}

pub fn new_request(application_id: &str, category: InsuredCategory) -> RequestOpinionRequest {
    RequestOpinionRequest {
        request_id: rid(),
        opinion_request: Some(OpinionRequest {
            application_id: application_id.to_owned(),
            insured_number: INSURED.to_owned(),
            institution_code: INSTITUTION.to_owned(),
            care_office_number: CARE_OFFICE.to_owned(),
            kind: OpinionRequestKind::First as i32,
            applicant: Some(ApplicantDetails {
                name_kanji: "試験 花子".into(),
                name_kana: "シケン ハナコ".into(),
                birth_date: Some(kaigo_proto::google::r#type::Date { year: 1958, month: 2, day: 3 }),
                sex: Sex::Female as i32,
                insured_category: category as i32,
                ..Default::default()
            }),
            ..Default::default()
        }),
    }
}

/// Requests an opinion as the insurer; returns the request.
pub async fn request(server: &TestServer, application_id: &str) -> OpinionRequest {
    let mut client = server.client(insurer(INSURER)).await;
    client
        .request_opinion(new_request(application_id, InsuredCategory::First))
        .await
        .expect("request opinion")
        .into_inner()
        .opinion_request
        .expect("request")
}

fn submit(request_id: &str, previous: &str) -> SubmitOpinionRequest {
    let mut opinion = sample_opinion(request_id, today());
    opinion.previous_opinion_id = previous.to_owned();
    SubmitOpinionRequest { request_id: rid(), opinion: Some(opinion) }
}

#[tokio::test]
async fn request_submit_receive_publishes_opinion_received() {
    let server = TestServer::start().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let consumer = Consumer::new(
        server.db().clone(),
        server.ctx.bus.clone(),
        ConsumerOptions::new("certification", &[kaigo_documents::api::OPINION_RECEIVED]),
        Arc::new(Recorder(seen.clone())),
    );
    let stopping = server.ctx.background.stopping();
    tokio::spawn(consumer.run(stopping.wait()));

    let req = request(&server, "app-flow-1").await;
    assert_eq!(req.status, OpinionRequestStatus::Requested as i32);
    assert_eq!(req.insurer_number, INSURER);

    let mut doctor = server.client(institution(INSTITUTION)).await;
    let listed = doctor.list_opinion_requests(ListOpinionRequestsRequest::default()).await.unwrap().into_inner();
    assert_eq!(listed.opinion_requests.len(), 1, "the institution sees the request addressed to it");
    let submitted = doctor.submit_opinion(submit(&req.opinion_request_id, "")).await.unwrap().into_inner();
    let opinion = submitted.opinion.unwrap();
    assert_eq!((opinion.revision, opinion.status), (1, OpinionStatus::Submitted as i32));
    assert_eq!(opinion.institution_code, INSTITUTION);

    let mut city = server.client(insurer(INSURER)).await;
    let receive = ReceiveOpinionRequest { request_id: rid(), opinion_id: opinion.opinion_id.clone() };
    let received = city.receive_opinion(receive.clone()).await.unwrap().into_inner().opinion.unwrap();
    assert_eq!(received.status, OpinionStatus::Received as i32);
    assert!(received.received_by.is_some());
    // A retry returns the first result and publishes nothing more.
    let again = city.receive_opinion(receive).await.unwrap().into_inner().opinion.unwrap();
    assert_eq!(again, received);
    let second =
        city.receive_opinion(ReceiveOpinionRequest { request_id: rid(), opinion_id: opinion.opinion_id.clone() }).await;
    assert_eq!(reason(&second.unwrap_err()), "OPINION_ALREADY_RECEIVED");

    let event = eventually(Duration::from_secs(10), || {
        let seen = seen.clone();
        async move { seen.lock().first().cloned() }
    })
    .await
    .expect("opinion.received reached the consumer");
    assert_eq!(event.application_id, "app-flow-1");
    assert_eq!(event.opinion_id, opinion.opinion_id);
    assert_eq!(event.opinion_request_id, req.opinion_request_id);
    assert_eq!(
        (event.insurer_number.as_str(), event.institution_code.as_str(), event.revision),
        (INSURER, INSTITUTION, 1)
    );
    assert_eq!(server.count("outbox").await, 1, "exactly one event for one receipt");

    let req_after = city
        .get_opinion_request(GetOpinionRequestRequest { opinion_request_id: req.opinion_request_id.clone() })
        .await
        .unwrap()
        .into_inner()
        .opinion_request
        .unwrap();
    assert_eq!(req_after.status, OpinionRequestStatus::Received as i32);
    assert_eq!(req_after.latest_opinion_id, opinion.opinion_id);
    server.shutdown().await;
}

#[tokio::test]
async fn only_the_requested_institution_submits_and_parties_read() {
    let mut server = TestServer::start().await;
    let req = request(&server, "app-flow-2").await;

    let mut stranger = server.client(institution(OTHER_INSTITUTION)).await;
    let err = stranger.submit_opinion(submit(&req.opinion_request_id, "")).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::PermissionDenied, "NOT_REQUESTED_INSTITUTION"));
    let err = stranger
        .get_opinion_request(GetOpinionRequestRequest { opinion_request_id: req.opinion_request_id.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(server.count("opinions").await, 0, "nothing stored");

    let mut doctor = server.client(institution(INSTITUTION)).await;
    let opinion =
        doctor.submit_opinion(submit(&req.opinion_request_id, "")).await.unwrap().into_inner().opinion.unwrap();
    let get = || GetOpinionRequest { opinion_id: opinion.opinion_id.clone(), purpose: 0 };

    assert_eq!(stranger.get_opinion(get()).await.unwrap_err().code(), Code::PermissionDenied);
    let mut other_city = server.client(insurer(OTHER_INSURER)).await;
    assert_eq!(other_city.get_opinion(get()).await.unwrap_err().code(), Code::PermissionDenied);
    let mut ops = server.client(operator()).await;
    assert_eq!(ops.get_opinion(get()).await.unwrap_err().code(), Code::PermissionDenied);
    // The care office the insurer named on the request, with a consent reference in its token:
    // neither grants anything (docs/domain/access.md#consent).
    let consent = format!("{INSURER}:{INSURED}");
    let mut office = server.client(care_office(CARE_OFFICE, &[&consent])).await;
    let err = office.get_opinion(get()).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::PermissionDenied, "NOT_REGISTERED"));
    // Registered as the person's 担当, without a consent covering CERTIFICATION.
    use kaigo_platform::access::{Category, OrganizationKind};
    let (_, consent) =
        server.grant(OrganizationKind::CareOffice, CARE_OFFICE, &[Category::InsuranceCertificates]).await;
    assert!(consent.is_some());
    let err = office.get_opinion(get()).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::PermissionDenied, "CONSENT_REQUIRED"));
    assert_eq!(error_metadata(&err, "category"), Category::Certification.as_str());
    let feed = server.feed();
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
    assert_eq!(office.get_opinion(get()).await.unwrap().into_inner().opinion.unwrap().opinion_id, opinion.opinion_id);
    let listed = office
        .list_opinions(ListOpinionsRequest {
            insurer_number: INSURER.into(),
            insured_number: INSURED.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.opinions.len(), 1);
    let mut city = server.client(insurer(INSURER)).await;
    assert!(city.get_opinion(get()).await.is_ok());
    // The institution sees the opinions it wrote; another one sees none of them.
    let mine = doctor.list_opinions(ListOpinionsRequest::default()).await.unwrap().into_inner();
    assert_eq!(mine.opinions.len(), 1);
    let err = stranger
        .list_opinions(ListOpinionsRequest { institution_code: INSTITUTION.into(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    server.stop().await;
    let db = server.db().clone();
    // Every read is in the audit trail, refusals included (flushed at shutdown).
    use sea_orm::{ConnectionTrait, Statement};
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT rpc, outcome, caller_role, array_to_string(persons, ',') AS persons FROM audit_trail ORDER BY id",
        ))
        .await
        .unwrap();
    let trail: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (r.try_get("", "rpc").unwrap(), r.try_get("", "outcome").unwrap(), r.try_get("", "caller_role").unwrap())
        })
        .collect();
    let denied = trail.iter().filter(|(_, outcome, _)| outcome == "denied").count();
    // The other institution's request and opinion, the other insurer, the operator, the
    // unregistered office and the registered one without consent.
    assert_eq!(denied, 6, "{trail:?}");
    assert!(trail.contains(&("GetOpinion".into(), "allowed".into(), "care_office".into())), "{trail:?}");
    assert!(trail.contains(&("ListOpinions".into(), "allowed".into(), "medical_institution".into())), "{trail:?}");
    let operator_row = ("GetOpinion".to_owned(), "denied".to_owned(), "operator".to_owned());
    assert!(trail.contains(&operator_row), "{trail:?}");
    for (row, entry) in rows.iter().zip(&trail) {
        let whose: String = row.try_get("", "persons").unwrap();
        let person = kaigo_platform::audit::person(INSURER, INSURED);
        assert_eq!(whose, if *entry == operator_row { "" } else { person.as_str() }, "{entry:?}");
    }
}

#[tokio::test]
async fn corrections_form_a_version_chain() {
    let server = TestServer::start().await;
    let req = request(&server, "app-flow-3").await;
    let mut doctor = server.client(institution(INSTITUTION)).await;
    let first_call = submit(&req.opinion_request_id, "");
    let v1 = doctor.submit_opinion(first_call.clone()).await.unwrap().into_inner().opinion.unwrap();
    // Same request_id: the first result; same id with another body: refused.
    let retry = doctor.submit_opinion(first_call.clone()).await.unwrap().into_inner().opinion.unwrap();
    assert_eq!(retry.opinion_id, v1.opinion_id);
    let mut changed = first_call.clone();
    changed.opinion.as_mut().unwrap().remarks = "changed".into();
    assert_eq!(doctor.submit_opinion(changed).await.unwrap_err().code(), Code::AlreadyExists);

    let err = doctor.submit_opinion(submit(&req.opinion_request_id, "")).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::FailedPrecondition, "CORRECTION_LINK_REQUIRED"));
    let v2 = doctor
        .submit_opinion(submit(&req.opinion_request_id, &v1.opinion_id))
        .await
        .unwrap()
        .into_inner()
        .opinion
        .unwrap();
    assert_eq!((v2.revision, v2.previous_opinion_id.as_str()), (2, v1.opinion_id.as_str()));
    let err = doctor.submit_opinion(submit(&req.opinion_request_id, &v1.opinion_id)).await.unwrap_err();
    assert_eq!(reason(&err), "PREVIOUS_OPINION_NOT_LATEST");

    let mut city = server.client(insurer(INSURER)).await;
    let err = city
        .receive_opinion(ReceiveOpinionRequest { request_id: rid(), opinion_id: v1.opinion_id.clone() })
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "OPINION_SUPERSEDED");
    city.receive_opinion(ReceiveOpinionRequest { request_id: rid(), opinion_id: v2.opinion_id.clone() }).await.unwrap();
    // A correction after receipt is a third version, received again.
    let v3 = doctor
        .submit_opinion(submit(&req.opinion_request_id, &v2.opinion_id))
        .await
        .unwrap()
        .into_inner()
        .opinion
        .unwrap();
    assert_eq!(v3.revision, 3);
    city.receive_opinion(ReceiveOpinionRequest { request_id: rid(), opinion_id: v3.opinion_id.clone() }).await.unwrap();

    let current = doctor.list_opinions(ListOpinionsRequest::default()).await.unwrap().into_inner().opinions;
    assert_eq!(current.iter().map(|o| o.revision).collect::<Vec<_>>(), [3], "only the latest is current");
    let superseded = doctor
        .list_opinions(ListOpinionsRequest { statuses: vec![OpinionStatus::Superseded as i32], ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .opinions;
    assert_eq!(
        superseded.iter().map(|o| o.opinion_id.clone()).collect::<Vec<_>>(),
        [v2.opinion_id.clone(), v1.opinion_id.clone()]
    );
    // Submissions never change: v1 still reads as it was submitted.
    let v1_again = city
        .get_opinion(GetOpinionRequest { opinion_id: v1.opinion_id.clone(), purpose: 0 })
        .await
        .unwrap()
        .into_inner()
        .opinion
        .unwrap();
    assert_eq!((v1_again.basics, v1_again.disease), (v1.basics, v1.disease));
    assert_eq!(server.count("outbox").await, 2);
    server.shutdown().await;
}

#[tokio::test]
async fn invalid_content_and_requests_are_refused_field_by_field() {
    let server = TestServer::start().await;
    let mut city = server.client(insurer(INSURER)).await;
    let second = city.request_opinion(new_request("app-flow-4", InsuredCategory::Second)).await.unwrap().into_inner();
    let req = second.opinion_request.unwrap();
    // One open request per application.
    let err = city.request_opinion(new_request("app-flow-4", InsuredCategory::Second)).await.unwrap_err();
    assert_eq!(reason(&err), "OPINION_REQUEST_ALREADY_OPEN");
    let mut bad = new_request("app-flow-5", InsuredCategory::First);
    bad.opinion_request.as_mut().unwrap().institution_code = "1311234560".into();
    let err = city.request_opinion(bad).await.unwrap_err();
    assert_eq!(violations(&err), ["opinion_request.institution_code"]);
    let mut doctor = server.client(institution(INSTITUTION)).await;
    let err = doctor.request_opinion(new_request("app-flow-6", InsuredCategory::First)).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let mut call = submit(&req.opinion_request_id, "");
    let o = call.opinion.as_mut().unwrap();
    o.disease.as_mut().unwrap().diagnoses[0].specified_disease = 0;
    o.mental_physical.as_mut().unwrap().dementia_level = 42;
    let err = doctor.submit_opinion(call).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violations(&err), ["disease.diagnoses", "mental_physical.dementia_level"]);
    assert_eq!(server.count("opinions").await, 0);
    server.shutdown().await;
}

#[tokio::test]
async fn the_due_date_is_checked_against_today_in_tokyo_by_the_services_clock() {
    use chrono::TimeZone;
    // 23:59 on 31 March 2026 in Tokyo.
    let clock = kaigo_platform::time::SetClock::new(chrono::Utc.with_ymd_and_hms(2026, 3, 31, 14, 59, 0).unwrap());
    let db = kaigo_platform::testkit::TestDatabase::create().await;
    let conn = kaigo_platform::db::connect(&db.config(), kaigo_documents::NAME).await.unwrap();
    let (config, dir) = local_config(1024 * 1024);
    let server = TestServer::start_with_clock(config, Some(dir), db, conn, Arc::new(clock.clone())).await;
    let mut city = server.client(insurer(INSURER)).await;
    let due = |application: &str| {
        let mut call = new_request(application, InsuredCategory::First);
        call.opinion_request.as_mut().unwrap().due_date =
            Some(kaigo_proto::google::r#type::Date { year: 2026, month: 3, day: 31 });
        call
    };
    let asked = city.request_opinion(due("app-clock-1")).await.unwrap().into_inner().opinion_request.unwrap();
    assert_eq!(asked.create_time.unwrap().seconds, clock.now().timestamp(), "stamped by the service's clock");
    // 15:00 UTC is 1 April in Tokyo: 31 March is in the past.
    clock.set(chrono::Utc.with_ymd_and_hms(2026, 3, 31, 15, 0, 0).unwrap());
    let err = city.request_opinion(due("app-clock-2")).await.unwrap_err();
    assert_eq!(violations(&err), ["opinion_request.due_date"]);
    server.shutdown().await;
}

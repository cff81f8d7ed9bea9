//! The payment facts of an opinion (docs/domain/opinion.md#payment-facts): 在宅/施設, 新規/継続
//! and 主治医/指定医 on the request and on the opinion, validated, and in the insurer's lists —
//! through the real server and PostgreSQL.

use kaigo_documents::seed::sample_opinion;
use kaigo_proto::kaigo::common::v1::InsuredCategory;
use kaigo_proto::kaigo::documents::v1::*;
use tonic::Code;

use crate::flow::{new_request, today};
use crate::harness::*;

fn stating(
    application_id: &str,
    setting: OpinionSetting,
    kind: PhysicianKind,
    count: OpinionCount,
) -> RequestOpinionRequest {
    let mut request = new_request(application_id, InsuredCategory::First);
    let r = request.opinion_request.as_mut().unwrap();
    r.setting = setting as i32;
    r.physician_kind = kind as i32;
    r.opinion_count = count as i32;
    request
}

fn basics_of(opinion: &Opinion) -> &OpinionBasics {
    opinion.basics.as_ref().unwrap()
}

#[tokio::test]
async fn the_payment_facts_travel_from_the_request_to_the_opinion_and_the_insurers_lists() {
    let server = TestServer::start().await;
    let mut clerk = server.client(insurer(INSURER)).await;
    let mut doctor = server.client(institution(INSTITUTION)).await;

    // A designated doctor asked for a 施設・継続 opinion.
    let asked = clerk
        .request_opinion(stating(
            "app-pay-1",
            OpinionSetting::Facility,
            PhysicianKind::Designated,
            OpinionCount::SecondOrLater,
        ))
        .await
        .unwrap()
        .into_inner()
        .opinion_request
        .unwrap();
    assert_eq!(
        (asked.setting, asked.physician_kind, asked.opinion_count),
        (OpinionSetting::Facility as i32, PhysicianKind::Designated as i32, OpinionCount::SecondOrLater as i32)
    );

    // The opinion says nothing of its own: it takes the request's setting and physician kind.
    let opinion = sample_opinion(&asked.opinion_request_id, today());
    assert_eq!(basics_of(&opinion).setting, 0);
    let submitted = doctor
        .submit_opinion(SubmitOpinionRequest { request_id: rid(), opinion: Some(opinion.clone()) })
        .await
        .unwrap()
        .into_inner()
        .opinion
        .unwrap();
    assert_eq!(basics_of(&submitted).setting, OpinionSetting::Facility as i32);
    assert_eq!(basics_of(&submitted).physician_kind, PhysicianKind::Designated as i32);

    // The insurer's lists show them: the requests it sent and the opinions it awaits.
    let requests = clerk.list_opinion_requests(ListOpinionRequestsRequest::default()).await.unwrap().into_inner();
    let listed = requests.opinion_requests.iter().find(|r| r.opinion_request_id == asked.opinion_request_id).unwrap();
    assert_eq!(
        (listed.setting, listed.physician_kind, listed.opinion_count),
        (OpinionSetting::Facility as i32, PhysicianKind::Designated as i32, OpinionCount::SecondOrLater as i32)
    );
    let opinions = clerk.list_opinions(ListOpinionsRequest::default()).await.unwrap().into_inner();
    let listed = opinions.opinions.iter().find(|o| o.opinion_id == submitted.opinion_id).unwrap();
    // 施設 from the request; 新規 is the doctor's own count on the form.
    assert_eq!(basics_of(listed).setting, OpinionSetting::Facility as i32);
    assert_eq!(basics_of(listed).opinion_count, basics_of(&opinion).opinion_count);
    assert_eq!(basics_of(listed).physician_kind, PhysicianKind::Designated as i32);

    // A correction that claims another physician kind is refused against its field.
    let mut correction = sample_opinion(&asked.opinion_request_id, today());
    correction.previous_opinion_id = submitted.opinion_id.clone();
    correction.basics.as_mut().unwrap().physician_kind = PhysicianKind::Attending as i32;
    let err = doctor
        .submit_opinion(SubmitOpinionRequest { request_id: rid(), opinion: Some(correction.clone()) })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violations(&err), vec!["basics.physician_kind".to_owned()]);
    // The doctor may state where the applicant lives now: 在宅 wins over the request's 施設.
    correction.basics.as_mut().unwrap().physician_kind = 0;
    correction.basics.as_mut().unwrap().setting = OpinionSetting::Home as i32;
    let corrected = doctor
        .submit_opinion(SubmitOpinionRequest { request_id: rid(), opinion: Some(correction) })
        .await
        .unwrap()
        .into_inner()
        .opinion
        .unwrap();
    assert_eq!(basics_of(&corrected).setting, OpinionSetting::Home as i32);
    assert_eq!(basics_of(&corrected).physician_kind, PhysicianKind::Designated as i32);
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_payment_codes_are_refused_and_unstated_ones_stay_unstated() {
    let server = TestServer::start().await;
    let mut clerk = server.client(insurer(INSURER)).await;
    let mut bad = new_request("app-pay-2", InsuredCategory::First);
    let r = bad.opinion_request.as_mut().unwrap();
    r.setting = 7;
    r.physician_kind = 9;
    r.opinion_count = 3;
    let err = clerk.request_opinion(bad).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        violations(&err),
        vec![
            "opinion_request.setting".to_owned(),
            "opinion_request.physician_kind".to_owned(),
            "opinion_request.opinion_count".to_owned()
        ]
    );
    assert_eq!(server.count("opinion_requests").await, 0);

    // A request that states nothing is accepted, and so is an opinion that states nothing.
    let asked = clerk.request_opinion(new_request("app-pay-3", InsuredCategory::First)).await.unwrap().into_inner();
    let asked = asked.opinion_request.unwrap();
    assert_eq!((asked.setting, asked.physician_kind, asked.opinion_count), (0, 0, 0));
    let mut doctor = server.client(institution(INSTITUTION)).await;
    let mut opinion = sample_opinion(&asked.opinion_request_id, today());
    opinion.basics.as_mut().unwrap().setting = 5;
    let err = doctor
        .submit_opinion(SubmitOpinionRequest { request_id: rid(), opinion: Some(opinion.clone()) })
        .await
        .unwrap_err();
    assert_eq!(violations(&err), vec!["basics.setting".to_owned()]);
    opinion.basics.as_mut().unwrap().setting = 0;
    let submitted = doctor
        .submit_opinion(SubmitOpinionRequest { request_id: rid(), opinion: Some(opinion) })
        .await
        .unwrap()
        .into_inner()
        .opinion
        .unwrap();
    assert_eq!((basics_of(&submitted).setting, basics_of(&submitted).physician_kind), (0, 0));
    server.shutdown().await;
}

#[tokio::test]
async fn requests_stored_before_the_payment_facts_keep_their_data() {
    use sea_orm::ConnectionTrait;
    use sea_orm_migration::MigratorTrait;
    let db = kaigo_platform::testkit::TestDatabase::create().await;
    let conn = kaigo_platform::db::connect(&db.config(), kaigo_documents::NAME).await.unwrap();
    // Every migration before this one, and a request stored by that schema.
    let before = kaigo_documents::Migrator::migrations()
        .iter()
        .position(|m| m.name() == "m20261204_000100_opinion_request_payment_facts")
        .unwrap();
    kaigo_documents::Migrator::up(&conn, Some(u32::try_from(before).unwrap())).await.unwrap();
    conn.execute_unprepared(
        "INSERT INTO opinion_requests (id, application_id, insurer_number, insured_number, institution_code, \
         care_office_number, physician_name, kind, due_date, applicant, status, latest_opinion_id, \
         requested_by_subject, created_at, updated_at) VALUES ('0191d3c8-5f4e-7c2a-9b1d-2f6a8e4c1b00', \
         'app-old-1', '435073', '0000000123', '1311234569', NULL, '医師 太郎', 1, NULL, '\\x', 1, NULL, \
         'clerk', now(), now())",
    )
    .await
    .unwrap();
    kaigo_documents::Migrator::up(&conn, None).await.unwrap();
    let stored =
        kaigo_documents::store::get_request(&conn, "0191d3c8-5f4e-7c2a-9b1d-2f6a8e4c1b00").await.unwrap().unwrap();
    assert_eq!((stored.application_id.as_str(), stored.physician_name.as_str()), ("app-old-1", "医師 太郎"));
    assert_eq!((stored.setting, stored.physician_kind, stored.opinion_count), (0, 0, 0));
    // Running the migrations again changes nothing.
    kaigo_documents::Migrator::up(&conn, None).await.unwrap();
}

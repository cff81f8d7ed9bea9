//! The one idempotency contract (kaigo_platform::testkit::idempotency_contract) on the service's
//! writes: an identical retry replays, a reused request_id with another body is ALREADY_EXISTS,
//! another caller's request_id is its own write, a caller not authorised for the application is
//! refused even with a request_id someone authorised already used; and a retry of a step whose
//! expected_version has since gone stale still gets its answer.

use kaigo_platform::auth::Caller;
use kaigo_platform::ids::InsurerNumber;
use kaigo_platform::testkit::{IdempotentWrite, idempotency_contract};
use kaigo_proto::kaigo::certification::v1 as pb;
use prost::Message;

use crate::driver::Driver;
use crate::support::{Harness, INSURER, d, insurer_caller, new_application, rid, signed, wire};

/// A valid 保険者番号 beginning with `payload` (5 digits), its check digit found.
fn insurer_number(payload: &str) -> String {
    (0..10).map(|c| format!("{payload}{c}")).find(|n| InsurerNumber::parse(n).is_ok()).unwrap()
}

fn survey_scheduled(application_id: &str, request_id: String, variant: u8) -> pb::RecordSurveyScheduledRequest {
    pb::RecordSurveyScheduledRequest {
        request_id,
        application_id: application_id.to_owned(),
        expected_version: 1,
        scheduled_date: Some(wire(d(2026, 4, 5 + u32::from(variant)))),
        surveyor: String::new(),
        occur_time: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_writes_keep_the_idempotency_contract() {
    let h = Harness::new(d(2026, 4, 10)).await;
    let replica = h.replica().await;
    let other_insurer = insurer_number("13101");
    let mine = Driver::submit(&replica, new_application("0000090001", d(2026, 4, 1), "")).await.unwrap();
    let mut theirs_app = new_application("0000090002", d(2026, 4, 1), "");
    theirs_app.insurer_number = other_insurer.clone();
    let theirs = {
        let request = pb::SubmitApplicationRequest { request_id: rid(), application: Some(theirs_app) };
        let mut client = replica.client.clone();
        let caller = insurer_caller(&other_insurer);
        client
            .submit_application(signed(&replica.keys, &caller, "SubmitApplication", request))
            .await
            .unwrap()
            .into_inner()
            .application
            .unwrap()
            .application_id
    };
    let other = insurer_caller(&other_insurer);
    let write = |caller: Caller, request_id: String, variant: u8| {
        let mut client = replica.client.clone();
        let keys = replica.keys.clone();
        // Each insurer writes on its own application; the refused caller on the first's.
        let id = if caller == other { theirs.clone() } else { mine.id.clone() };
        async move {
            let request = survey_scheduled(&id, request_id, variant);
            let response =
                client.record_survey_scheduled(signed(&keys, &caller, "RecordSurveyScheduled", request)).await?;
            Ok(response.into_inner().encode_to_vec())
        }
    };
    idempotency_contract(IdempotentWrite {
        rpc: "RecordSurveyScheduled",
        allowed: insurer_caller(INSURER),
        other: other.clone(),
        refused: insurer_caller("122192"),
        write,
        stale_version: Some("VERSION_MISMATCH"),
    })
    .await;

    replica.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_keep_the_idempotency_contract() {
    let h = Harness::new(d(2026, 4, 10)).await;
    let replica = h.replica().await;
    let other_insurer = insurer_number("13102");
    let other = insurer_caller(&other_insurer);
    let write = |caller: Caller, request_id: String, variant: u8| {
        let mut client = replica.client.clone();
        let keys = replica.keys.clone();
        // Each insurer files for its own insured; the refused caller files for the first's.
        let insurer = if caller == other { other_insurer.clone() } else { INSURER.to_owned() };
        async move {
            let mut application = new_application(&format!("000009100{variant}"), d(2026, 4, 1), "");
            application.insurer_number = insurer;
            let request = pb::SubmitApplicationRequest { request_id, application: Some(application) };
            let response = client.submit_application(signed(&keys, &caller, "SubmitApplication", request)).await?;
            Ok(response.into_inner().encode_to_vec())
        }
    };
    idempotency_contract(IdempotentWrite {
        rpc: "SubmitApplication",
        allowed: insurer_caller(INSURER),
        other: other.clone(),
        refused: insurer_caller("122192"),
        write,
        stale_version: None,
    })
    .await;
    replica.stop().await;
}

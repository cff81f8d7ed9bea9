//! The person's own view: my registrations and consents, withdrawing and ending, and who read
//! my record (docs/domain/access.md#own-view).

use std::time::Duration;

use kaigo_platform::auth::Role;
use kaigo_platform::testkit::{caller_for, eventually};
use kaigo_proto::kaigo::common::v1::Role as PbRole;
use kaigo_proto::kaigo::registry::v1 as pb;
use tonic::Code;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_person_sees_withdraws_ends_and_knows_who_read_their_record() {
    let r = Registry::start().await;
    let insured = "0000000009";
    let registration = r.register_with_consent("f1", insured, &[pb::Category::CarePlan]).await;
    r.link("f3", "0000000010", false).await;
    let me = || pb::GetMyRelationshipsRequest { identity_link: "f1".into(), include_inactive: false };
    let mut mine = r.client(person_caller("f1")).await;
    let view = mine.get_my_relationships(me()).await.unwrap().into_inner();
    assert_eq!(view.person, Some(person(insured)));
    assert_eq!(view.registrations.len(), 1);
    assert_eq!(view.consents.len(), 1);

    // Nobody else gets this view: another person's link, an unknown link, an office.
    let s = r.client(person_caller("f3")).await.get_my_relationships(me()).await.unwrap_err();
    assert_eq!((s.code(), reason(&s).as_str()), (Code::PermissionDenied, "IDENTITY_LINK_NOT_CALLERS"));
    let unknown = pb::GetMyRelationshipsRequest { identity_link: "ff".into(), include_inactive: false };
    let s = r.client(person_caller("ff")).await.get_my_relationships(unknown).await.unwrap_err();
    assert_eq!(reason(&s), "IDENTITY_LINK_UNKNOWN");
    let s = r.client(office()).await.get_my_relationships(me()).await.unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied);

    // The office reads; seconds later the person sees that read.
    assert!(allowed(&r.check(office(), insured, pb::Category::CarePlan).await));
    r.clock.set(t0() + chrono::Duration::seconds(5));
    let reads = eventually(Duration::from_secs(10), || async {
        let reads = r
            .client(person_caller("f1"))
            .await
            .list_my_record_reads(pb::ListMyRecordReadsRequest {
                identity_link: "f1".into(),
                page_size: 0,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .reads;
        reads.iter().any(|x| x.reader_organization == OFFICE && x.category == "access_decision").then_some(reads)
    })
    .await
    .expect("the office's read appears in the person's access log");
    let read = reads.iter().find(|x| x.reader_organization == OFFICE && x.category == "access_decision").unwrap();
    assert_eq!(read.reader_role, PbRole::CareOffice as i32);
    assert_eq!(read.outcome, "allowed");
    assert_eq!(read.service, "registry");
    assert!(read.read_time.as_ref().unwrap().seconds <= (t0() + chrono::Duration::seconds(5)).timestamp());
    // The person's own reads show no account name.
    assert!(
        reads
            .iter()
            .filter(|x| x.reader_role == PbRole::InsuredPerson as i32)
            .all(|x| x.reader_organization.is_empty())
    );

    // Another person may not withdraw this consent; the person may, at once effective.
    let consent_id = view.consents[0].consent_id.clone();
    let s = r
        .client(person_caller("f3"))
        .await
        .withdraw_my_consent(pb::WithdrawMyConsentRequest {
            request_id: id(),
            identity_link: "f3".into(),
            consent_id: consent_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!((s.code(), reason(&s).as_str()), (Code::PermissionDenied, "NOT_YOUR_RECORD"));
    let withdrawn = mine
        .withdraw_my_consent(pb::WithdrawMyConsentRequest { request_id: id(), identity_link: "f1".into(), consent_id })
        .await
        .unwrap()
        .into_inner()
        .consent
        .unwrap();
    assert_eq!(withdrawn.withdrawn_by.unwrap().role, PbRole::InsuredPerson as i32);
    assert_eq!(r.check(office(), insured, pb::Category::CarePlan).await.denial_reason, "CONSENT_REQUIRED");

    // The person ends the registration.
    let ended = mine
        .end_my_registration(pb::EndMyRegistrationRequest {
            request_id: id(),
            identity_link: "f1".into(),
            registration_id: registration.registration_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    assert_eq!(ended.end_reason, pb::EndReason::ByPerson as i32);
    assert_eq!(r.check(office(), insured, pb::Category::CarePlan).await.denial_reason, "NOT_REGISTERED");
    let view = mine.get_my_relationships(me()).await.unwrap().into_inner();
    assert!(view.registrations.is_empty() && view.consents.is_empty());
    let all = mine
        .get_my_relationships(pb::GetMyRelationshipsRequest { identity_link: "f1".into(), include_inactive: true })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((all.registrations.len(), all.consents.len()), (1, 1));
    // A revoked link closes the view.
    r.link("f1", insured, true).await;
    let s = mine.get_my_relationships(me()).await.unwrap_err();
    assert_eq!(reason(&s), "IDENTITY_LINK_REVOKED");
    let _ = caller_for(Role::Insurer, INSURER);
    r.harness.shutdown().await;
}

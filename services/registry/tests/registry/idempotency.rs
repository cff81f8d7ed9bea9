//! The idempotency contract every write keeps (kaigo_platform::testkit::idempotency_contract).

use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::testkit::{IdempotentWrite, caller_for, idempotency_contract};
use kaigo_proto::kaigo::registry::v1 as pb;
use prost::Message;

use crate::harness::*;

/// The person a caller writes about: its own insurer's.
fn person_of(caller: &Caller, insured: &str) -> pb::PersonRef {
    let insurer = caller.insurer.as_ref().map_or(INSURER, |i| i.as_str());
    let insurer = if insurer == OTHER_INSURER { OTHER_INSURER } else { INSURER };
    pb::PersonRef { insurer_number: insurer.into(), insured_number: insured.into() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_keep_the_idempotency_contract() {
    let r = Registry::start().await;
    let refused = caller_for(Role::Insurer, "122069");
    idempotency_contract(IdempotentWrite {
        rpc: "RegisterOrganization",
        allowed: insurer(),
        other: caller_for(Role::Insurer, OTHER_INSURER),
        refused: refused.clone(),
        write: |caller: Caller, request_id: String, variant: u8| {
            let r = &r;
            async move {
                let target = if caller.insurer.as_ref().is_some_and(|i| i.as_str() == "122069") {
                    insurer()
                } else {
                    caller.clone()
                };
                let request = pb::RegisterOrganizationRequest {
                    request_id,
                    person: Some(person_of(&target, "0000000011")),
                    organization: Some(pb::Organization {
                        kind: pb::OrganizationKind::CareOffice as i32,
                        number: if variant == 0 { OFFICE.into() } else { OTHER_OFFICE.into() },
                    }),
                    evidence: pb::Evidence::InsurerManual as i32,
                    card_confirmation_id: String::new(),
                    start_date: None,
                };
                r.client(caller).await.register_organization(request).await.map(|x| x.into_inner().encode_to_vec())
            }
        },
        stale_version: None,
    })
    .await;
    idempotency_contract(IdempotentWrite {
        rpc: "RecordConsent",
        allowed: insurer(),
        other: caller_for(Role::Insurer, OTHER_INSURER),
        refused,
        write: |caller: Caller, request_id: String, variant: u8| {
            let r = &r;
            async move {
                let target = if caller.insurer.as_ref().is_some_and(|i| i.as_str() == "122069") {
                    insurer()
                } else {
                    caller.clone()
                };
                let request = pb::RecordConsentRequest {
                    request_id,
                    person: Some(person_of(&target, "0000000012")),
                    grantee: Some(pb::Grantee {
                        grantee: Some(pb::grantee::Grantee::OrganizationKind(
                            pb::OrganizationKind::MedicalInstitution as i32,
                        )),
                    }),
                    categories: vec![if variant == 0 {
                        pb::Category::InsuranceCertificates
                    } else {
                        pb::Category::CarePlan
                    } as i32],
                    purpose: kaigo_proto::kaigo::common::v1::Purpose::ServiceProvision as i32,
                    source: pb::ConsentSource::PaperRecordedByInsurer as i32,
                    card_confirmation_id: String::new(),
                    valid_from: None,
                    valid_until: None,
                };
                r.client(caller).await.record_consent(request).await.map(|x| x.into_inner().encode_to_vec())
            }
        },
        stale_version: None,
    })
    .await;
    idempotency_contract(IdempotentWrite {
        rpc: "SubmitCarePlanNotification",
        allowed: office(),
        other: caller_for(Role::CareOffice, OTHER_OFFICE),
        refused: caller_for(Role::ServiceProvider, OTHER_OFFICE),
        write: |caller: Caller, request_id: String, variant: u8| {
            let r = &r;
            async move {
                let request = pb::SubmitCarePlanNotificationRequest {
                    request_id,
                    person: Some(person("0000000013")),
                    start_date: Some(date(2026, 12, if variant == 0 { 10 } else { 11 })),
                };
                r.client(caller)
                    .await
                    .submit_care_plan_notification(request)
                    .await
                    .map(|x| x.into_inner().encode_to_vec())
            }
        },
        stale_version: None,
    })
    .await;
    r.harness.shutdown().await;
}

//! The person's access log across services (issue 14, "the person sees their access log,
//! including a read made seconds before"; docs/domain/access.md#access-log), as production runs
//! it: `kaigo serve` for eligibility, certification, documents, the registry and the gateway on
//! PostgreSQL and Redis, every call through the gateway with a signed token. The registry asks
//! each service's trail (`registry.audit_sources`) at the moment of the question.
//!
//! The person reads their eligibility and their application's progress; a care office that is
//! not registered tries their eligibility (refused, and audited as such); another person reads
//! their own. The person's ListMyRecordReads lists the three reads of their record, from two
//! services, and none of the other person's; pages continue across services without repeating
//! a read; a bad page token is INVALID_ARGUMENT; with documents down the answer is partial and
//! names it.

use std::time::Duration;

use kaigo_platform::testkit::eventually;
use kaigo_proto::kaigo::certification::v1 as cert;
use kaigo_proto::kaigo::certification::v1::certification_service_client::CertificationServiceClient;
use kaigo_proto::kaigo::common::v1 as common;
use kaigo_proto::kaigo::eligibility::v1 as elig;
use kaigo_proto::kaigo::eligibility::v1::eligibility_service_client::EligibilityServiceClient;
use kaigo_proto::kaigo::registry::v1 as pb;
use kaigo_proto::kaigo::registry::v1::registry_service_client::RegistryServiceClient;
use tonic::transport::Channel;

use crate::support::{Bearer, Stack, mint};

const INSURER: &str = "435073";
const OFFICE: &str = "4371000128";
const ME: &str = "0000000701";
const MY_LINK: &str = "a7010001";
const OTHER: &str = "0000000702";
const OTHER_LINK: &str = "a7020002";

fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn channel(addr: &str) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap().connect_lazy()
}

/// A token of the person whose identity link is `link` (its subject), as the operator's
/// identity provider issues it.
fn person_token(key: &kaigo_gateway::DevKey, link: &str) -> Bearer {
    let now = chrono::Utc::now().timestamp();
    let claims = kaigo_gateway::Claims {
        iss: "kaigo-dev".to_owned(),
        aud: "kaigo".to_owned(),
        sub: link.to_owned(),
        exp: now + 3600,
        nbf: now,
        iat: now,
        role: "insured_person".to_owned(),
        insurer_number: None,
        office_number: None,
        institution_code: None,
        scope: String::new(),
        consents: Vec::new(),
    };
    Bearer::new(&key.mint(&claims).unwrap())
}

fn check(insured: &str) -> elig::CheckEligibilityRequest {
    elig::CheckEligibilityRequest {
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        ..Default::default()
    }
}

async fn register(
    client: &mut EligibilityServiceClient<tonic::service::interceptor::InterceptedService<Channel, Bearer>>,
    insured: &str,
) {
    let person = elig::InsuredPerson {
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        name_kanji: "介護 花子".into(),
        name_kana: "カイゴ ハナコ".into(),
        birth_date: Some(kaigo_proto::google::r#type::Date { year: 1950, month: 5, day: 3 }),
        sex: common::Sex::Female as i32,
        insured_category: common::InsuredCategory::First as i32,
        qualification_acquired_date: Some(kaigo_proto::google::r#type::Date { year: 2020, month: 4, day: 1 }),
        ..Default::default()
    };
    let request = elig::UpsertInsuredPersonRequest { request_id: rid(), person: Some(person), expected_version: 0 };
    let done = eventually(Duration::from_secs(30), || {
        let (mut client, request) = (client.clone(), request.clone());
        async move { client.upsert_insured_person(request).await.ok() }
    })
    .await;
    assert!(done.is_some(), "UpsertInsuredPerson");
}

#[tokio::test]
async fn access_log_lists_every_services_reads_of_the_person_and_says_who_did_not_answer() {
    let mut stack = Stack::new(&["eligibility", "certification", "documents", "registry"]).await;
    for service in ["eligibility", "certification", "documents"] {
        stack.start(service).await;
    }
    let sources: Vec<(String, String)> = ["eligibility", "certification", "documents"]
        .iter()
        .map(|s| {
            (format!("KAIGO_REGISTRY__AUDIT_SOURCES__{}", s.to_ascii_uppercase()), format!("http://{}", stack.addr(s)))
        })
        .collect();
    let extra: Vec<(&str, String)> = sources.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    stack.start_with("registry", &extra).await;
    stack.start("gateway").await;
    let gateway = channel(&stack.addr("gateway"));
    let insurer = Bearer::new(&mint(&stack.key, "insurer", Some(INSURER)));

    // The insurer registers both persons in eligibility and links their identities.
    let mut eligibility = EligibilityServiceClient::with_interceptor(gateway.clone(), insurer.clone());
    register(&mut eligibility, ME).await;
    register(&mut eligibility, OTHER).await;
    let mut registry = RegistryServiceClient::with_interceptor(gateway.clone(), insurer.clone());
    let links = [(MY_LINK, ME), (OTHER_LINK, OTHER)]
        .iter()
        .map(|(link, insured)| pb::IdentityLink {
            link_id: (*link).into(),
            insured_number: (*insured).into(),
            revoked: false,
        })
        .collect();
    registry
        .load_identity_links(pb::LoadIdentityLinksRequest { request_id: rid(), insurer_number: INSURER.into(), links })
        .await
        .unwrap();
    // An application for the person, filed by the insurer.
    let application = cert::Application {
        insurer_number: INSURER.into(),
        insured_number: ME.into(),
        r#type: cert::ApplicationType::New as i32,
        application_date: Some(kaigo_proto::from_naive_date(kaigo_platform::time::today_jst())),
        applicant: Some(cert::Applicant {
            kind: cert::ApplicantKind::Family as i32,
            family_member_name: "山田 花子".into(),
            family_relationship: "長女".into(),
            office_number: String::new(),
        }),
        insured_category: common::InsuredCategory::First as i32,
        ..Default::default()
    };
    let filed = CertificationServiceClient::with_interceptor(gateway.clone(), insurer.clone())
        .submit_application(cert::SubmitApplicationRequest { request_id: rid(), application: Some(application) })
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();

    // The person reads their eligibility and their application's progress, once each service
    // holds their identity link (the registry's event).
    let me = person_token(&stack.key, MY_LINK);
    let my_eligibility = EligibilityServiceClient::with_interceptor(gateway.clone(), me.clone());
    let read = eventually(Duration::from_secs(30), || {
        let mut client = my_eligibility.clone();
        async move { client.check_eligibility(check(ME)).await.ok() }
    })
    .await;
    assert!(read.is_some(), "the person reads their eligibility; log:\n{}", stack.log("eligibility"));
    let my_certification = CertificationServiceClient::with_interceptor(gateway.clone(), me.clone());
    let progress = eventually(Duration::from_secs(30), || {
        let mut client = my_certification.clone();
        let request = cert::GetApplicationProgressRequest { application_id: filed.application_id.clone() };
        async move { client.get_application_progress(request).await.ok() }
    })
    .await;
    assert!(progress.is_some(), "the person reads their application's progress");
    // An office that is not the person's 担当 tries their eligibility: refused, and audited.
    let office = Bearer::new(&mint(&stack.key, "care_office", Some(OFFICE)));
    let refused = EligibilityServiceClient::with_interceptor(gateway.clone(), office)
        .check_eligibility(check(ME))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    // The other person reads their own eligibility: never in my log.
    let other = EligibilityServiceClient::with_interceptor(gateway.clone(), person_token(&stack.key, OTHER_LINK));
    let theirs = eventually(Duration::from_secs(30), || {
        let mut client = other.clone();
        async move { client.check_eligibility(check(OTHER)).await.ok() }
    })
    .await;
    assert!(theirs.is_some(), "the other person reads their own eligibility");

    // Seconds later, my access log holds all three reads (each service writes its trail in
    // batches, off the request path: asked until they are there).
    let mut mine = RegistryServiceClient::with_interceptor(gateway.clone(), me.clone());
    let list = |page_size: i32, page_token: String| pb::ListMyRecordReadsRequest {
        identity_link: MY_LINK.into(),
        page_size,
        page_token,
    };
    let wanted = |reads: &[pb::RecordRead]| {
        let has = |service: &str, category: &str, is_self: bool, org: &str| {
            reads.iter().any(|r| {
                r.service == service
                    && r.category == category
                    && r.reader_is_self == is_self
                    && r.reader_organization == org
            })
        };
        has("eligibility", "eligibility", true, "")
            && has("certification", "application", true, "")
            && has("eligibility", "eligibility", false, OFFICE)
    };
    let log = eventually(Duration::from_secs(30), || {
        let mut client = mine.clone();
        let request = list(0, String::new());
        async move {
            let log = client.list_my_record_reads(request).await.ok()?.into_inner();
            wanted(&log.reads).then_some(log)
        }
    })
    .await
    .unwrap_or_else(|| panic!("the access log lacks a read; registry log:\n{}", stack.log("registry")));
    assert!(!log.partial, "{:?}", log.unanswered_services);
    assert!(log.unanswered_services.is_empty());
    let office_read = log.reads.iter().find(|r| r.reader_organization == OFFICE).unwrap();
    assert_eq!(office_read.outcome, "denied");
    assert_eq!(office_read.reader_role, common::Role::CareOffice as i32);
    // Another person's reads never appear: every read listed is of my record, and the only
    // person's reads are mine (self), none by the other person's account.
    assert!(log.reads.iter().all(|r| r.reader_role != common::Role::InsuredPerson as i32 || r.reader_is_self));
    let times: Vec<_> = log.reads.iter().map(|r| r.read_time.unwrap()).collect();
    assert!(times.windows(2).all(|w| (w[0].seconds, w[0].nanos) >= (w[1].seconds, w[1].nanos)), "newest first");

    // Pages of one continue across services: the same reads, none twice.
    let mut paged = Vec::new();
    let mut token = String::new();
    for _ in 0..100 {
        let page = mine.list_my_record_reads(list(1, token.clone())).await.unwrap().into_inner();
        assert!(page.reads.len() <= 1);
        paged.extend(page.reads);
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert!(token.is_empty(), "the pages end");
    let key = |r: &pb::RecordRead| {
        (r.service.clone(), r.read_time.unwrap().seconds, r.read_time.unwrap().nanos, r.rpc.clone())
    };
    let mut seen: Vec<_> = paged.iter().map(key).collect();
    let count = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), count, "no read twice");
    assert!(wanted(&paged));

    // A page token this list never wrote.
    let bad = mine.list_my_record_reads(list(0, "not-a-token".into())).await.unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    let bad = mine.list_my_record_reads(list(0, "1.eligibility.2.3".into())).await.unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);

    // Documents goes down: the log still answers, marked partial, naming it.
    stack.kill("documents");
    let partial = mine.list_my_record_reads(list(0, String::new())).await.unwrap().into_inner();
    assert!(partial.partial);
    assert_eq!(partial.unanswered_services, ["documents"]);
    assert!(wanted(&partial.reads), "the services that answered are listed");
}

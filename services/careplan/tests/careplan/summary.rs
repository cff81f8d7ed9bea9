//! One person's care plan in summary (GetCarePlanSummary) for a medical institution with the
//! person's consent: the plan of 第1表/第2表 and the services of the month from the units
//! exchanged, decided on the registry's facts (CARE_PLAN) like ListPersonBundles — without the
//! consent nothing, unregistered nothing, the person their own — and every call audited
//! (docs/domain/careplan-csv.md#summary, docs/domain/access.md#in-kaigo).

use std::time::Duration;

use kaigo_platform::access::{Category, OrganizationKind};
use kaigo_platform::auth::Role;
use kaigo_platform::testkit::access as facts;
use kaigo_platform::testkit::caller_for;
use kaigo_proto::kaigo::careplan::v1::{
    Bundle, BundleFileContent, CarePlanSummary, GetCarePlanSummaryRequest, SendBundleRequest, SendUnitKind,
};
use kaigo_proto::kaigo::common::v1::YearMonth;
use sea_orm::ConnectionTrait;
use tonic_types::StatusExt;

use crate::exchange::{CARE, Client, OTHER, PROV, golden, licensed, rid, usage_files, usage_request};
use crate::harness::{TestServer, reason};

const INSURER: &str = "435073";
const INSURED: &str = "0000000001";
const CLINIC: &str = "1311234569";

fn refusal(status: &tonic::Status) -> (tonic::Code, String, String) {
    let category = status.get_details_error_info().and_then(|i| i.metadata.get("category").cloned());
    (status.code(), reason(status), category.unwrap_or_default())
}

fn ask(month: Option<(i32, i32)>) -> GetCarePlanSummaryRequest {
    GetCarePlanSummaryRequest {
        insurer_number: INSURER.to_owned(),
        insured_number: INSURED.to_owned(),
        service_month: month.map(|(year, month)| YearMonth { year, month }),
    }
}

/// A unit of the care office to the provider without a month (a plan, its deletion).
fn unit(kind: SendUnitKind, seq: &str, files: Vec<BundleFileContent>) -> SendBundleRequest {
    let month = matches!(kind, SendUnitKind::UsageTicketDelete).then_some(YearMonth { year: 2025, month: 5 });
    SendBundleRequest {
        request_id: rid(),
        bundle: Some(Bundle {
            sender_office_number: CARE.to_owned(),
            sender_service_type: "43".to_owned(),
            receiver_office_number: PROV.to_owned(),
            receiver_service_type: "11".to_owned(),
            service_month: month,
            kind: kind as i32,
            file_sequence: seq.to_owned(),
            ..Bundle::default()
        }),
        files,
    }
}

/// The golden plan unit of the person: its files without the records of the other person
/// (the golden 第1表 and 補足 hold a second person whose plan date differs, kept last).
fn plan_files() -> Vec<BundleFileContent> {
    let tail = format!("{CARE}_43_{PROV}_11_20250425103000.CSV");
    ["UP1KYO_", "UP2KYO_", "UP3KYO_", "UPHOSOKU_000000_"]
        .iter()
        .map(|p| {
            let mut file = golden("valid", &format!("{p}{tail}"));
            let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&file.content);
            assert!(!bad);
            let kept = text.find("202407,122192,").map_or(&*text, |at| &text[..at]);
            let (bytes, _, bad) = encoding_rs::SHIFT_JIS.encode(kept);
            assert!(!bad);
            file.content = bytes.into_owned();
            file
        })
        .collect()
}

async fn summary(client: &mut Client, month: Option<(i32, i32)>) -> CarePlanSummary {
    client.get_care_plan_summary(ask(month)).await.unwrap().into_inner().summary.unwrap()
}

/// The summary calls of the audit trail about the person: (party, outcome, resources), oldest
/// first, once there are `expected` of them.
async fn trail(server: &TestServer, expected: usize) -> Vec<(String, String, Vec<String>)> {
    let conn = &server.conn;
    kaigo_platform::testkit::eventually(Duration::from_secs(10), || async move {
        let rows = conn
            .query_all_raw(sea_orm::Statement::from_sql_and_values(
                conn.get_database_backend(),
                "SELECT caller_party, outcome, resources FROM audit_trail \
                 WHERE rpc = 'GetCarePlanSummary' AND $1 = ANY(persons) ORDER BY id",
                [format!("{INSURER}:{INSURED}").into()],
            ))
            .await
            .expect("read the trail");
        let reads: Vec<(String, String, Vec<String>)> = rows
            .iter()
            .map(|r| {
                (
                    r.try_get("", "caller_party").unwrap(),
                    r.try_get("", "outcome").unwrap(),
                    r.try_get("", "resources").unwrap(),
                )
            })
            .collect();
        (reads.len() >= expected).then_some(reads)
    })
    .await
    .expect("every call reaches the trail")
}

#[tokio::test]
async fn a_medical_institution_reads_the_plan_and_the_months_services_only_with_the_persons_consent() {
    // The registry's facts arrive as its events on Redis Streams.
    let server = TestServer::start_on_redis().await;
    let (mut care, _) = licensed(&server, Role::CareOffice, CARE).await;
    licensed(&server, Role::ServiceProvider, PROV).await;
    let (mut other, _) = licensed(&server, Role::ServiceProvider, OTHER).await;
    let plan = care.send_bundle(unit(SendUnitKind::Plan, "20250425103000", plan_files())).await.unwrap().into_inner();
    let plan_id = plan.bundle.unwrap().bundle_id;
    let usage = care.send_bundle(usage_request(&rid(), usage_files())).await.unwrap().into_inner();
    let usage_id = usage.bundle.unwrap().bundle_id;
    let care_plan = Category::CarePlan.as_str().to_owned();
    let mut clinic = server.client(Some(caller_for(Role::MedicalInstitution, CLINIC))).await;

    // Unregistered: nothing, whatever it asks; the unrelated provider neither.
    let err = clinic.get_care_plan_summary(ask(Some((2025, 5)))).await.unwrap_err();
    assert_eq!(refusal(&err), (tonic::Code::PermissionDenied, "NOT_REGISTERED".into(), care_plan.clone()));
    assert_eq!(reason(&other.get_care_plan_summary(ask(None)).await.unwrap_err()), "NOT_REGISTERED");

    // Registered as the person's medical institution with a consent to the 被保険者証 only:
    // the care plan is refused, naming the category.
    let start = kaigo_platform::time::today_jst() - chrono::Days::new(30);
    let kind = OrganizationKind::MedicalInstitution;
    facts::register(&server.feed, kind, CLINIC, INSURER, INSURED, start).await;
    facts::consent(&server.feed, kind, CLINIC, INSURER, INSURED, &[Category::InsuranceCertificates], start).await;
    let err = clinic.get_care_plan_summary(ask(Some((2025, 5)))).await.unwrap_err();
    assert_eq!(refusal(&err), (tonic::Code::PermissionDenied, "CONSENT_REQUIRED".into(), care_plan.clone()));

    // With the person's consent to CARE_PLAN: the plan and May's services.
    let consent = facts::consent(&server.feed, kind, CLINIC, INSURER, INSURED, &[Category::CarePlan], start).await;
    let may = summary(&mut clinic, Some((2025, 5))).await;
    assert_eq!((may.insurer_number.as_str(), may.insured_number.as_str()), (INSURER, INSURED));
    assert_eq!(may.service_month, Some(YearMonth { year: 2025, month: 5 }));
    let outline = may.plan.clone().expect("the plan of 20250420");
    assert_eq!(outline.bundle_id, plan_id);
    assert_eq!((outline.office_number.as_str(), outline.office_name.as_str()), (CARE, "みずかみ居宅介護支援センター"));
    assert_eq!(outline.planner_name, "介護　支援子");
    let date = |d: &Option<kaigo_proto::google::r#type::Date>| d.as_ref().map(|d| (d.year, d.month, d.day));
    assert_eq!(date(&outline.plan_date), Some((2025, 4, 20)));
    assert_eq!(date(&outline.first_plan_date), Some((2023, 4, 1)));
    assert!(outline.policy.starts_with("週３回の訪問介護で、入浴・掃除を支援する。"), "{}", outline.policy);
    assert!(outline.assessment.contains("自宅で、できるだけ長く暮らしたい"));
    // 第2表: two needs in print order; the second row's blank 目標 repeats the first's.
    let needs: Vec<_> = outline.needs.iter().map(|n| (n.number, n.need.as_str())).collect();
    assert_eq!(needs, [(1, "一人で入浴ができない"), (2, "転倒の不安")]);
    let bathing = &outline.needs[0].goals[0];
    assert_eq!(
        (bathing.long_term_goal.as_str(), bathing.short_term_goal.as_str()),
        ("安全に入浴できる", "週３回入浴する")
    );
    assert_eq!(bathing.long_term_period, "2025/05～2026/03");
    let supports: Vec<_> = bathing
        .supports
        .iter()
        .map(|s| (s.service_content.as_str(), s.insurance_covered, s.frequency.as_str()))
        .collect();
    assert_eq!(supports, [("入浴介助", true, "週３回"), ("見守り（家族）", false, "毎日")]);
    assert_eq!(bathing.supports[0].provider_number, PROV);
    // 第6表 予定 of May: the person's rows only (the file holds another person), grouped.
    let services: Vec<_> = may
        .services
        .iter()
        .map(|s| (s.provider_number.as_str(), s.service_code.as_str(), s.days.clone(), s.times))
        .collect();
    assert_eq!(services, [(PROV, "111211", vec![5, 7], 2), (OTHER, "171001", vec![1], 1)]);
    let home_help = &may.services[0];
    assert_eq!((home_help.start_time.as_str(), home_help.end_time.as_str()), ("1000", "1100"));
    assert_eq!(home_help.provider_name, "みずかみヘルパーステーション");
    assert!(may.services[1].start_time.is_empty(), "a service without a time (9999) has none");
    let ticket = may.usage_ticket.clone().unwrap();
    assert_eq!((ticket.bundle_id.as_str(), ticket.office_number.as_str()), (usage_id.as_str(), CARE));

    // Another month: the same plan, no 予定 of that month; a month before the plan: nothing.
    let june = summary(&mut clinic, Some((2025, 6))).await;
    assert_eq!(june.plan.map(|p| p.bundle_id), Some(plan_id.clone()));
    assert!(june.services.is_empty() && june.usage_ticket.is_none());
    let march = summary(&mut clinic, Some((2025, 3))).await;
    assert!(march.plan.is_none() && march.services.is_empty());

    // The person reads their own on their identity link; another person is refused as an
    // unregistered office is.
    let me = kaigo_platform::auth::Caller {
        subject: "e000000001".into(),
        ..kaigo_platform::testkit::caller(Role::InsuredPerson)
    };
    let mut person = server.client(Some(me)).await;
    assert_eq!(reason(&person.get_care_plan_summary(ask(None)).await.unwrap_err()), "NOT_REGISTERED");
    facts::link(&server.feed, "e000000001", INSURER, INSURED).await;
    assert_eq!(summary(&mut person, Some((2025, 5))).await, may);
    // The person's insurer reads too; operators never.
    let mut insurer = server.client(Some(caller_for(Role::Insurer, INSURER))).await;
    assert_eq!(summary(&mut insurer, Some((2025, 5))).await, may);
    let mut ops = server.client(Some(kaigo_platform::testkit::caller(Role::Operator))).await;
    assert_eq!(reason(&ops.get_care_plan_summary(ask(None)).await.unwrap_err()), "NOT_PERMITTED");

    // Deletions withdraw what they name: the 第6表 of May, then the plan of 20250420.
    let dltplan = golden("valid", &format!("DLTPLAN_202505_{CARE}_43_{PROV}_11_20250502090000.CSV"));
    care.send_bundle(unit(SendUnitKind::UsageTicketDelete, "20250502090000", vec![dltplan])).await.unwrap();
    let deleted = summary(&mut clinic, Some((2025, 5))).await;
    assert!(deleted.services.is_empty() && deleted.usage_ticket.is_none());
    assert!(deleted.plan.is_some());
    let dlt1kyo = golden("valid", &format!("DLT1KYO_{CARE}_43_{PROV}_11_20250501090000.CSV"));
    care.send_bundle(unit(SendUnitKind::PlanDelete, "20250501090000", vec![dlt1kyo])).await.unwrap();
    assert!(summary(&mut clinic, Some((2025, 5))).await.plan.is_none());

    // A withdrawal stops the institution at once.
    facts::withdraw(&server.feed, &consent, chrono::Utc::now()).await;
    let err = clinic.get_care_plan_summary(ask(None)).await.unwrap_err();
    assert_eq!(refusal(&err), (tonic::Code::PermissionDenied, "CONSENT_REQUIRED".into(), care_plan));

    // Every call is audited with its outcome, the allowed ones with the bundles read.
    let reads = trail(&server, 13).await;
    let of = |party: &str| reads.iter().filter(|r| r.0 == party).map(|r| r.1.as_str()).collect::<Vec<_>>();
    assert_eq!(of(CLINIC), ["denied", "denied", "allowed", "allowed", "allowed", "allowed", "allowed", "denied"]);
    assert_eq!(of(OTHER), ["denied"]);
    let first = reads.iter().find(|r| r.0 == CLINIC && r.1 == "allowed").unwrap();
    assert_eq!(first.2, [plan_id, usage_id]);
    assert!(reads.iter().filter(|r| r.1 == "denied").all(|r| r.2.is_empty()));

    // Bad input is reported per field, before any decision.
    let bad = GetCarePlanSummaryRequest {
        insurer_number: "12".into(),
        insured_number: "0000000001X".into(),
        service_month: Some(YearMonth { year: 2025, month: 13 }),
    };
    let err = clinic.get_care_plan_summary(bad).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let fields: Vec<_> =
        err.get_error_details().bad_request().unwrap().field_violations.iter().map(|v| v.field.clone()).collect();
    assert_eq!(fields, ["insurer_number", "insured_number", "service_month"]);
    server.shutdown().await;
}

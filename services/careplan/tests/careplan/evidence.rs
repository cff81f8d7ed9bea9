//! Service evidence: exchanging a 予定 or 実績 for a person publishes
//! `careplan.service_evidence` through the outbox, in the bundle's transaction, once per
//! person, office and service month — not once per row or per bundle — and nothing for a
//! deletion (docs/domain/access.md#registrations).

use std::collections::{BTreeMap, BTreeSet};

use kaigo_careplan::api::SERVICE_EVIDENCE;
use kaigo_platform::auth::Role;
use kaigo_proto::kaigo::careplan::v1::{Bundle, SendBundleRequest, SendUnitKind};
use kaigo_proto::kaigo::common::v1::YearMonth;
use kaigo_proto::kaigo::registry::v1 as registry;
use prost::Message;
use sea_orm::{ConnectionTrait, Statement};

use crate::exchange::{CARE, PROV, golden, licensed, rid, usage_files, usage_request};
use crate::harness::TestServer;

/// Every service-evidence event in the outbox, with the bundle id it is keyed by.
pub async fn evidence(server: &TestServer) -> Vec<(String, registry::ServiceEvidenceObserved)> {
    let conn = &server.conn;
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "SELECT key, payload FROM outbox WHERE topic = $1 ORDER BY seq",
            [SERVICE_EVIDENCE.into()],
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            let payload: Vec<u8> = r.try_get("", "payload").unwrap();
            (r.try_get("", "key").unwrap(), registry::ServiceEvidenceObserved::decode(payload.as_slice()).unwrap())
        })
        .collect()
}

fn back(kind: SendUnitKind, name: &str, seq: &str) -> SendBundleRequest {
    SendBundleRequest {
        request_id: rid(),
        bundle: Some(Bundle {
            sender_office_number: PROV.to_owned(),
            sender_service_type: "11".to_owned(),
            receiver_office_number: CARE.to_owned(),
            receiver_service_type: "43".to_owned(),
            service_month: Some(YearMonth { year: 2025, month: 5 }),
            kind: kind as i32,
            file_sequence: seq.to_owned(),
            ..Bundle::default()
        }),
        files: vec![golden("valid", name)],
    }
}

#[tokio::test]
async fn a_usage_ticket_and_actuals_publish_evidence_once_per_person_office_and_month() {
    let server = TestServer::start().await;
    let (mut care, _) = licensed(&server, Role::CareOffice, CARE).await;
    let (mut prov, _) = licensed(&server, Role::ServiceProvider, PROV).await;

    // The 予定: every person of the unit, for the care office and the provider.
    let sent = care.send_bundle(usage_request(&rid(), usage_files())).await.unwrap().into_inner().bundle.unwrap();
    let first = evidence(&server).await;
    let persons = usize::try_from(sent.person_count).unwrap();
    assert!(persons > 0);
    assert_eq!(first.len(), 2 * persons, "one per person and office, not per row");
    assert!(first.iter().all(|(key, _)| *key == sent.bundle_id), "keyed by the bundle, never by a person");
    let mut offices: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (_, e) in &first {
        let person = e.person.clone().unwrap();
        let org = e.organization.clone().unwrap();
        let expected = if org.number == CARE {
            registry::OrganizationKind::CareOffice
        } else {
            assert_eq!(org.number, PROV);
            registry::OrganizationKind::ServiceProvider
        };
        assert_eq!(org.kind, expected as i32);
        // May 2025 has ended: the evidence is dated its last day.
        assert_eq!(e.service_date, Some(kaigo_proto::google::r#type::Date { year: 2025, month: 5, day: 31 }));
        offices.entry((person.insurer_number, person.insured_number)).or_default().insert(org.number);
    }
    assert_eq!(offices.len(), persons);
    assert!(offices.values().all(|o| o.len() == 2));

    // A retry of the same unit publishes nothing more.
    care.send_bundle(usage_request(&rid(), usage_files())).await.unwrap();
    assert_eq!(evidence(&server).await.len(), first.len());

    // The 実績 of the same month: only persons not yet evidenced for these offices this month.
    let actuals = format!("UPJSK_202505_{PROV}_11_{CARE}_43_20250601090000.CSV");
    let back_sent = prov
        .send_bundle(back(SendUnitKind::Actuals, &actuals, "20250601090000"))
        .await
        .unwrap()
        .into_inner()
        .bundle
        .unwrap();
    let after = evidence(&server).await;
    let new: Vec<_> = after[first.len()..].iter().collect();
    assert!(new.iter().all(|(key, _)| *key == back_sent.bundle_id));
    for (_, e) in &new {
        let p = e.person.clone().unwrap();
        assert!(
            !offices.contains_key(&(p.insurer_number, p.insured_number)),
            "a person evidenced this month is not evidenced again"
        );
    }
    let unique: BTreeSet<_> = after
        .iter()
        .map(|(_, e)| (e.person.clone().unwrap(), e.organization.clone().unwrap().number))
        .map(|(p, o)| (p.insurer_number, p.insured_number, o))
        .collect();
    assert_eq!(unique.len(), after.len(), "once per person, office and month");

    // A deletion is no evidence.
    let delete = format!("DLTJSK_202505_{PROV}_11_{CARE}_43_20250602090000.CSV");
    prov.send_bundle(back(SendUnitKind::ActualsDelete, &delete, "20250602090000")).await.unwrap();
    assert_eq!(evidence(&server).await.len(), after.len());
    server.shutdown().await;
}

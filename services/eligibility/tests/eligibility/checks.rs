//! Verdicts, date boundaries, who sees what, batches and audit.

use kaigo_platform::access::{Category, OrganizationKind};
use kaigo_platform::auth::Role;
use kaigo_platform::testkit::TestDatabase;
use kaigo_proto::kaigo::common::v1 as common;
use kaigo_proto::kaigo::eligibility::v1 as pb;
use pb::EligibilityVerdict as V;

use crate::support::*;

#[tokio::test]
async fn every_verdict_and_every_date_boundary() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut client = server.client(insurer(INSURER)).await;

    // Unknown person: a verdict, not an error.
    assert_eq!(verdict(&check(&mut client, "9999999999", date(2026, 1, 1)).await), V::NotInsured);

    let v = create_person(&mut client, "0000000001").await;
    assert_eq!(verdict(&check(&mut client, "0000000001", date(2020, 3, 31)).await), V::NotYetQualified);
    assert_eq!(verdict(&check(&mut client, "0000000001", date(2025, 1, 1)).await), V::NotCertified);

    // 要介護2 from 2025-04-01 to 2026-03-31 (12 months).
    let v = certify(&mut client, "0000000001", v, common::CareLevel::Care2, date(2025, 4, 1), date(2026, 3, 31)).await;
    let last_day = check(&mut client, "0000000001", date(2026, 3, 31)).await;
    assert_eq!(verdict(&last_day), V::Eligible, "the last day of validity is inclusive");
    let cert = last_day.certification.unwrap();
    assert_eq!(cert.care_level, common::CareLevel::Care2 as i32);
    assert_eq!(cert.limit_units_per_month, 19_705, "the docs/domain/eligibility.md#benefit-caps limit fills in");
    assert_eq!(verdict(&check(&mut client, "0000000001", date(2026, 4, 1)).await), V::CertificationExpired);

    // 負担割合: 1割 until 2025-07-31, 2割 from 2025-08-01.
    let mut v = v;
    for (start, end, ratio) in [
        (date(2024, 8, 1), date(2025, 7, 31), pb::CopaymentRatio::OneTenth),
        (date(2025, 8, 1), date(2026, 7, 31), pb::CopaymentRatio::TwoTenths),
    ] {
        v = client
            .record_copayment_ratio(pb::RecordCopaymentRatioRequest {
                request_id: rid(),
                insurer_number: INSURER.into(),
                insured_number: "0000000001".into(),
                expected_version: v,
                copayment: Some(pb::CopaymentPeriod { ratio: ratio as i32, period: period(start, Some(end)) }),
            })
            .await
            .unwrap()
            .into_inner()
            .person_version;
    }
    let day_before = check(&mut client, "0000000001", date(2025, 7, 31)).await;
    let day_of = check(&mut client, "0000000001", date(2025, 8, 1)).await;
    assert_eq!(day_before.copayment.unwrap().ratio, pb::CopaymentRatio::OneTenth as i32);
    assert_eq!(day_of.copayment.unwrap().ratio, pb::CopaymentRatio::TwoTenths as i32);

    // 資格喪失: insured through the day before the lost date.
    let mut person = client
        .get_eligibility_history(pb::GetEligibilityHistoryRequest {
            insurer_number: INSURER.into(),
            insured_number: "0000000001".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .person
        .unwrap();
    assert_eq!(person.version, v);
    person.qualification_lost_date = Some(date(2026, 2, 10));
    client
        .upsert_insured_person(pb::UpsertInsuredPersonRequest {
            request_id: rid(),
            person: Some(person),
            expected_version: v,
        })
        .await
        .unwrap();
    assert_eq!(verdict(&check(&mut client, "0000000001", date(2026, 2, 9)).await), V::Eligible);
    assert_eq!(verdict(&check(&mut client, "0000000001", date(2026, 2, 10)).await), V::QualificationLost);

    // 非該当 and 事業対象者.
    for (insured, level, expected) in [
        ("0000000002", common::CareLevel::NotApplicable, V::AssessedNotApplicable),
        ("0000000003", common::CareLevel::ProgrammeEligible, V::ProgrammeOnly),
    ] {
        let v = create_person(&mut client, insured).await;
        certify(&mut client, insured, v, level, date(2025, 4, 1), date(2025, 9, 30)).await;
        assert_eq!(verdict(&check(&mut client, insured, date(2025, 5, 1)).await), expected);
    }
    server.stop().await;
}

#[tokio::test]
async fn who_sees_what() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut municipality = server.client(insurer(INSURER)).await;
    let v = create_person(&mut municipality, "0000000010").await;
    let v = certify(&mut municipality, "0000000010", v, common::CareLevel::Care1, date(2025, 4, 1), date(2026, 3, 31))
        .await;
    municipality
        .record_care_management(pb::RecordCareManagementRequest {
            request_id: rid(),
            insurer_number: INSURER.into(),
            insured_number: "0000000010".into(),
            expected_version: v,
            care_management: Some(pb::CareManagementPeriod {
                kind: pb::CareManagementKind::HomeCareSupport as i32,
                office_number: OFFICE.into(),
                office_name: "居宅介護支援 さくら".into(),
                notification_date: Some(date(2025, 3, 25)),
                period: period(date(2025, 4, 1), None),
            }),
        })
        .await
        .unwrap();
    let as_of = date(2025, 10, 1);

    // The insurer sees everything.
    let all = check(&mut municipality, "0000000010", as_of).await;
    assert_eq!(all.person.as_ref().unwrap().name_kanji, "介護 花子");
    assert!(all.withheld.is_empty());

    // docs/domain/access.md#in-kaigo: the registered office with the person's consent sees
    // everything.
    server.grant(OrganizationKind::CareOffice, OFFICE, "0000000010", &Category::ALL).await;
    let mut registered = server.client(office(Role::CareOffice, OFFICE)).await;
    let seen = check(&mut registered, "0000000010", as_of).await;
    assert!(seen.person.is_some() && seen.certification.is_some() && seen.care_management.is_some());
    assert!(seen.withheld.is_empty());

    // An office without a registration sees nothing, whatever consent it claims itself.
    let mut other = server.client(office(Role::ServiceProvider, OTHER_OFFICE)).await;
    let query = pb::CheckEligibilityRequest {
        insurer_number: INSURER.into(),
        insured_number: "0000000010".into(),
        as_of: Some(as_of),
        consent_reference: "consent-123".into(),
        ..Default::default()
    };
    let mut claiming = office(Role::ServiceProvider, OTHER_OFFICE);
    claiming.consents = vec![format!("{INSURER}:0000000010")];
    for client in [&mut other, &mut server.client(claiming).await] {
        let err = client.check_eligibility(query.clone()).await.unwrap_err();
        assert_eq!((err.code(), reason(&err).as_str()), (tonic::Code::PermissionDenied, "NOT_REGISTERED"));
    }
    // Registered with a consent to the certificates only: the answer without the cost share,
    // marked so.
    server
        .grant(OrganizationKind::ServiceProvider, OTHER_OFFICE, "0000000010", &[Category::InsuranceCertificates])
        .await;
    let seen = check(&mut other, "0000000010", as_of).await;
    assert!(seen.person.is_some() && seen.certification.is_some());
    assert!(seen.copayment.is_none() && seen.cost_limit.is_none());
    assert!(seen.withheld.contains(&(pb::WithheldSection::Copayment as i32)));
    assert!(seen.withheld.contains(&(pb::WithheldSection::CostLimit as i32)));

    // A medical institution: nothing unregistered, the certificate only with consent, never
    // ratio or cost limit.
    let mut clinic_client = server.client(clinic(vec!["consent-9".into()])).await;
    let err = clinic_client.check_eligibility(query.clone()).await.unwrap_err();
    assert_eq!(reason(&err), "NOT_REGISTERED");
    server.grant(OrganizationKind::MedicalInstitution, "0110113719", "0000000010", &[]).await;
    let err = clinic_client.check_eligibility(query.clone()).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (tonic::Code::PermissionDenied, "CONSENT_REQUIRED"));
    use tonic_types::StatusExt;
    let info = err.get_error_details().error_info().cloned().unwrap();
    assert_eq!(info.metadata.get("category").map(String::as_str), Some("insurance_certificates"));
    server.grant(OrganizationKind::MedicalInstitution, "0110113719", "0000000010", &Category::ALL).await;
    let seen = check(&mut clinic_client, "0000000010", as_of).await;
    assert!(seen.certification.is_some());
    assert!(seen.copayment.is_none() && seen.cost_limit.is_none());
    assert!(seen.withheld.contains(&(pb::WithheldSection::Copayment as i32)));

    // Another insurer is refused before any lookup, for reads, history and writes.
    let mut stranger = server.client(insurer(OTHER_INSURER)).await;
    let err = stranger
        .check_eligibility(pb::CheckEligibilityRequest {
            insurer_number: INSURER.into(),
            insured_number: "0000000010".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (tonic::Code::PermissionDenied, "NOT_PERMITTED"));
    assert!(!err.message().contains("0000000010"), "no personal data in errors");
    let err = stranger
        .get_eligibility_history(pb::GetEligibilityHistoryRequest {
            insurer_number: INSURER.into(),
            insured_number: "0000000010".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    let err = stranger
        .record_copayment_ratio(pb::RecordCopaymentRatioRequest {
            request_id: rid(),
            insurer_number: INSURER.into(),
            insured_number: "0000000010".into(),
            expected_version: 1,
            copayment: Some(pb::CopaymentPeriod {
                ratio: pb::CopaymentRatio::OneTenth as i32,
                period: period(date(2025, 8, 1), Some(date(2026, 7, 31))),
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);

    // Every read was audited, denials included, one record per call; flushed on a clean stop.
    let conn = kaigo_platform::db::connect(&db.config(), "eligibility").await.unwrap();
    server.stop().await;
    let person = kaigo_platform::audit::person(INSURER, "0000000010");
    assert_eq!(
        kaigo_platform::audit::count_for_person(&conn, &person).await.unwrap(),
        10,
        "10 reads, denials included"
    );
    let reads = kaigo_platform::audit::reads_of_person(&conn, &person, 100).await.unwrap();
    assert!(reads.iter().all(|r| r.category == "eligibility"), "{reads:?}");
    assert_eq!(reads.iter().filter(|r| r.outcome == "denied").count(), 6, "{reads:?}");
}

#[tokio::test]
async fn bad_input_is_reported_field_by_field_and_batches_answer_per_entry() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut client = server.client(office(Role::ServiceProvider, OFFICE)).await;
    let err = client
        .check_eligibility(pb::CheckEligibilityRequest {
            insurer_number: "001220".into(),
            insured_number: "０００００００００１".into(),
            as_of: Some(date(2025, 2, 30)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    use tonic_types::StatusExt;
    let fields: Vec<String> =
        err.get_details_bad_request().unwrap().field_violations.into_iter().map(|v| v.field).collect();
    assert_eq!(fields, ["insurer_number", "insured_number", "as_of"]);

    let mut municipality = server.client(insurer(INSURER)).await;
    create_person(&mut municipality, "0000000020").await;
    // The provider serves both persons (the second not yet recorded here).
    for insured in ["0000000020", "0000000021"] {
        server.grant(OrganizationKind::ServiceProvider, OFFICE, insured, &Category::ALL).await;
    }
    let queries = vec![
        pb::EligibilityQuery {
            insurer_number: INSURER.into(),
            insured_number: "0000000020".into(),
            ..Default::default()
        },
        pb::EligibilityQuery {
            insurer_number: "43507X".into(),
            insured_number: "0000000020".into(),
            ..Default::default()
        },
        pb::EligibilityQuery {
            insurer_number: INSURER.into(),
            insured_number: "0000000021".into(),
            ..Default::default()
        },
    ];
    let entries = client
        .batch_check_eligibility(pb::BatchCheckEligibilityRequest { queries, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(entries.len(), 3);
    use pb::batch_check_eligibility_entry::Outcome;
    assert!(matches!(&entries[0].outcome, Some(Outcome::Result(r)) if r.verdict == V::NotCertified as i32));
    match &entries[1].outcome {
        Some(Outcome::Error(e)) => {
            assert_eq!(e.index, 1);
            assert_eq!(e.violations[0].field, "queries[1].insurer_number");
        }
        other => panic!("entry 1 should be an error: {other:?}"),
    }
    assert!(matches!(&entries[2].outcome, Some(Outcome::Result(r)) if r.verdict == V::NotInsured as i32));

    let too_many = vec![pb::EligibilityQuery::default(); 1_001];
    let err = client
        .batch_check_eligibility(pb::BatchCheckEligibilityRequest { queries: too_many, ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);

    // The batch is one audit record naming both valid persons (the malformed entry names
    // nobody); the refused calls read nobody.
    let conn = kaigo_platform::db::connect(&db.config(), "eligibility").await.unwrap();
    server.stop().await;
    assert_eq!(kaigo_platform::audit::count_all(&conn).await.unwrap(), 1);
    for insured in ["0000000020", "0000000021"] {
        let reads = kaigo_platform::audit::reads_of_person(&conn, &kaigo_platform::audit::person(INSURER, insured), 10)
            .await
            .unwrap();
        let seen: Vec<_> =
            reads.iter().map(|r| (r.rpc.as_str(), r.outcome.as_str(), r.caller_party.as_str())).collect();
        assert_eq!(seen, [("BatchCheckEligibility", "allowed", OFFICE)]);
    }
}

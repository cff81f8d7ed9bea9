//! Writes: overlap, validity, idempotency, optimistic concurrency, corrections keep history.

use kaigo_platform::testkit::TestDatabase;
use kaigo_proto::kaigo::common::v1 as common;
use kaigo_proto::kaigo::eligibility::v1 as pb;

use crate::support::*;

fn copay(
    insured: &str,
    version: i64,
    start: kaigo_proto::google::r#type::Date,
    end: kaigo_proto::google::r#type::Date,
) -> pb::RecordCopaymentRatioRequest {
    pb::RecordCopaymentRatioRequest {
        request_id: rid(),
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        expected_version: version,
        copayment: Some(pb::CopaymentPeriod {
            ratio: pb::CopaymentRatio::OneTenth as i32,
            period: period(start, Some(end)),
        }),
    }
}

#[tokio::test]
async fn overlaps_validity_retries_and_stale_versions() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut client = server.client(insurer(INSURER)).await;
    let v = create_person(&mut client, "0000000100").await;

    // An idempotent retry returns the first answer and changes nothing more.
    let request = copay("0000000100", v, date(2025, 8, 1), date(2026, 7, 31));
    let first = client.record_copayment_ratio(request.clone()).await.unwrap().into_inner();
    let again = client.record_copayment_ratio(request.clone()).await.unwrap().into_inner();
    assert_eq!(first, again);
    assert_eq!(first.person_version, v + 1);
    // The same request_id with another body is refused.
    let mut changed = request.clone();
    changed.copayment.as_mut().unwrap().ratio = pb::CopaymentRatio::ThreeTenths as i32;
    let err = client.record_copayment_ratio(changed).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::AlreadyExists);

    // A stale version is ABORTED.
    let err =
        client.record_copayment_ratio(copay("0000000100", v, date(2026, 8, 1), date(2027, 7, 31))).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Aborted);
    assert_eq!(reason(&err), "STALE_VERSION");

    // Same-kind periods never overlap.
    let v = first.person_version;
    let err =
        client.record_copayment_ratio(copay("0000000100", v, date(2026, 1, 1), date(2026, 7, 31))).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert_eq!(reason(&err), "PERIOD_OVERLAP");
    // A ratio period must not cross July 31.
    let err =
        client.record_copayment_ratio(copay("0000000100", v, date(2026, 8, 1), date(2027, 8, 31))).await.unwrap_err();
    assert_eq!(reason(&err), "COPAYMENT_PERIOD_CROSSES_JULY_31");

    // Certification validity follows docs/domain/certification.md#validity: 3 to 48 months.
    let short = pb::RecordCertificationRequest {
        request_id: rid(),
        insurer_number: INSURER.into(),
        insured_number: "0000000100".into(),
        expected_version: v,
        certification: Some(pb::CertificationPeriod {
            care_level: common::CareLevel::Care1 as i32,
            certified_date: Some(date(2025, 4, 1)),
            validity: period(date(2025, 4, 1), Some(date(2025, 5, 31))),
            ..Default::default()
        }),
    };
    let err = client.record_certification(short).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert_eq!(reason(&err), "CERTIFICATION_VALIDITY_OUT_OF_RANGE");

    // Nothing half-written: the person's version did not move through the refusals.
    let history = client
        .get_eligibility_history(pb::GetEligibilityHistoryRequest {
            insurer_number: INSURER.into(),
            insured_number: "0000000100".into(),
            include_inactive: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.person.unwrap().version, v);
    assert_eq!(periods(history.records).len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn corrections_supersede_and_history_keeps_both() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut client = server.client(insurer(INSURER)).await;
    let v = create_person(&mut client, "0000000200").await;
    let v = certify(&mut client, "0000000200", v, common::CareLevel::Care1, date(2025, 4, 1), date(2026, 3, 31)).await;
    let record_id = client
        .get_eligibility_history(pb::GetEligibilityHistoryRequest {
            insurer_number: INSURER.into(),
            insured_number: "0000000200".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .records
        .into_iter()
        .find(|r| r.kind == pb::RecordKind::Certification as i32)
        .unwrap()
        .record_id;
    let corrected = client
        .correct_record(pb::CorrectRecordRequest {
            request_id: rid(),
            insurer_number: INSURER.into(),
            insured_number: "0000000200".into(),
            expected_version: v,
            record_id: record_id.clone(),
            reason: "区分変更".into(),
            replacement: Some(pb::correct_record_request::Replacement::Certification(pb::CertificationPeriod {
                care_level: common::CareLevel::Care3 as i32,
                certified_date: Some(date(2025, 4, 1)),
                validity: period(date(2025, 4, 1), Some(date(2026, 3, 31))),
                ..Default::default()
            })),
        })
        .await
        .unwrap()
        .into_inner();
    let result = check(&mut client, "0000000200", date(2025, 6, 1)).await;
    assert_eq!(result.certification.unwrap().care_level, common::CareLevel::Care3 as i32);
    let history = client
        .get_eligibility_history(pb::GetEligibilityHistoryRequest {
            insurer_number: INSURER.into(),
            insured_number: "0000000200".into(),
            include_inactive: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let records = periods(history.records);
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].state, pb::RecordState::Superseded as i32);
    assert_eq!(records[0].superseded_by_record_id, corrected.record.as_ref().unwrap().record_id);

    // Close early (e.g. a new application), then void by mistake entered.
    let closed = client
        .close_record(pb::CloseRecordRequest {
            request_id: rid(),
            insurer_number: INSURER.into(),
            insured_number: "0000000200".into(),
            expected_version: corrected.person_version,
            record_id: corrected.record.unwrap().record_id,
            end_date: Some(date(2025, 9, 30)),
            reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        verdict(&check(&mut client, "0000000200", date(2025, 10, 1)).await),
        pb::EligibilityVerdict::CertificationExpired
    );
    client
        .void_record(pb::VoidRecordRequest {
            request_id: rid(),
            insurer_number: INSURER.into(),
            insured_number: "0000000200".into(),
            expected_version: closed.person_version,
            record_id: closed.record.unwrap().record_id,
            reason: "entered in error".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        verdict(&check(&mut client, "0000000200", date(2025, 6, 1)).await),
        pb::EligibilityVerdict::NotCertified
    );
    server.stop().await;
}

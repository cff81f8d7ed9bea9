//! Every string and list of a request has a documented maximum (issue 21 item 2): beyond it the
//! call is INVALID_ARGUMENT with one field violation naming the field's path; an import chunk
//! beyond its row count ends the import before any of its rows is applied.

use kaigo_platform::testkit::TestDatabase;
use kaigo_proto::kaigo::common::v1 as common;
use kaigo_proto::kaigo::eligibility::v1 as pb;
use pb::import_insured_persons_request::Payload;
use pb::import_insured_persons_response::Event;
use tonic::Code;

use crate::rules::field_violations;
use crate::support::*;

#[tokio::test]
async fn strings_and_lists_beyond_their_maximum_are_refused_naming_the_field() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut client = server.client(insurer(INSURER)).await;
    let version = create_person(&mut client, "0000002101").await;

    // 21 designated service types where 20 are taken; a repeated one is refused as well.
    let certification = |designated: Vec<String>| pb::RecordCertificationRequest {
        request_id: rid(),
        insurer_number: INSURER.into(),
        insured_number: "0000002101".into(),
        expected_version: version,
        certification: Some(pb::CertificationPeriod {
            care_level: common::CareLevel::Care1 as i32,
            certified_date: Some(date(2025, 4, 1)),
            validity: period(date(2025, 4, 1), Some(date(2026, 3, 31))),
            designated_service_types: designated,
            ..Default::default()
        }),
    };
    let codes: Vec<String> = (10..31).map(|n| n.to_string()).collect();
    let err = client.record_certification(certification(codes)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&err), ["certification.designated_service_types"]);
    let err = client.record_certification(certification(vec!["11".into(), "11".into()])).await.unwrap_err();
    assert_eq!(field_violations(&err), ["certification.designated_service_types[1]"]);

    // One character beyond: an office name of 101, a reason of 501, a record id of 20 digits.
    let err = client
        .record_care_management(pb::RecordCareManagementRequest {
            request_id: rid(),
            insurer_number: INSURER.into(),
            insured_number: "0000002101".into(),
            expected_version: version,
            care_management: Some(pb::CareManagementPeriod {
                kind: pb::CareManagementKind::HomeCareSupport as i32,
                office_number: OFFICE.into(),
                office_name: "事".repeat(101),
                period: period(date(2025, 4, 1), None),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&err), ["care_management.office_name"]);
    let err = client
        .void_record(pb::VoidRecordRequest {
            request_id: rid(),
            insurer_number: INSURER.into(),
            insured_number: "0000002101".into(),
            expected_version: version,
            record_id: "1".into(),
            reason: "理".repeat(501),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&err), ["reason"]);
    let err = client
        .void_record(pb::VoidRecordRequest {
            request_id: rid(),
            insurer_number: INSURER.into(),
            insured_number: "0000002101".into(),
            expected_version: version,
            record_id: format!("{}1", "0".repeat(19)),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(field_violations(&err), ["record_id"]);

    // A consent reference of 129 characters.
    let err = client
        .check_eligibility(pb::CheckEligibilityRequest {
            insurer_number: INSURER.into(),
            insured_number: "0000002101".into(),
            consent_reference: "c".repeat(129),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&err), ["consent_reference"]);
    server.stop().await;
}

#[tokio::test]
async fn an_import_chunk_or_row_beyond_its_maximum_is_refused_naming_the_field() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut client = server.client(insurer(INSURER)).await;
    let header = || pb::ImportHeader { request_id: rid(), insurer_number: INSURER.into(), ..Default::default() };

    // A row with 101 copayment periods is a bad row naming the list; the import goes on.
    let person = pb::InsuredPerson {
        insurer_number: INSURER.into(),
        insured_number: "0000002102".into(),
        name_kanji: "介護 花子".into(),
        name_kana: "カイゴ ハナコ".into(),
        birth_date: Some(date(1950, 5, 3)),
        sex: common::Sex::Female as i32,
        insured_category: common::InsuredCategory::First as i32,
        qualification_acquired_date: Some(date(2020, 4, 1)),
        ..Default::default()
    };
    let row = pb::ImportRow {
        line_number: 2,
        person: Some(person),
        copayments: vec![pb::CopaymentPeriod::default(); 101],
        ..Default::default()
    };
    let messages = vec![
        pb::ImportInsuredPersonsRequest { payload: Some(Payload::Header(header())) },
        pb::ImportInsuredPersonsRequest { payload: Some(Payload::Chunk(pb::ImportChunk { rows: vec![row] })) },
    ];
    let mut stream = client.import_insured_persons(tokio_stream::iter(messages)).await.unwrap().into_inner();
    let mut fields = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        if let Some(Event::RowError(e)) = message.event {
            fields.extend(e.violations.into_iter().map(|v| v.field));
        }
    }
    assert_eq!(fields, ["copayments"]);

    // A chunk of 10,001 rows ends the import, naming `chunk.rows`, with no row reported.
    let messages = vec![
        pb::ImportInsuredPersonsRequest { payload: Some(Payload::Header(header())) },
        pb::ImportInsuredPersonsRequest {
            payload: Some(Payload::Chunk(pb::ImportChunk { rows: vec![pb::ImportRow::default(); 10_001] })),
        },
    ];
    let mut stream = client.import_insured_persons(tokio_stream::iter(messages)).await.unwrap().into_inner();
    let err = loop {
        match stream.message().await {
            Ok(Some(message)) => assert!(!matches!(message.event, Some(Event::RowError(_))), "a row was read"),
            Ok(None) => panic!("the import ended without refusing the chunk"),
            Err(err) => break err,
        }
    };
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&err), ["chunk.rows"]);

    // A header whose idempotency key is not a 36-character UUID is refused before any chunk.
    let bad = pb::ImportHeader { request_id: "r".repeat(37), ..header() };
    let messages = vec![pb::ImportInsuredPersonsRequest { payload: Some(Payload::Header(bad)) }];
    let err = client.import_insured_persons(tokio_stream::iter(messages)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&err), ["header.request_id"]);
    server.stop().await;
}

//! The certificate rules a check answers with (issue 16 items 8–11): the lapsed certification,
//! what a write keeps, 給付額減額 and the daily caps by date — through the real server, with
//! PostgreSQL and Redis behind it.

use kaigo_platform::testkit::{TestDatabase, TestRedis};
use kaigo_proto::google::r#type::Date;
use kaigo_proto::kaigo::common::v1 as common;
use kaigo_proto::kaigo::eligibility::v1 as pb;

use crate::support::*;

async fn record_copayment(client: &mut Client, insured: &str, version: i64, tenths: pb::CopaymentRatio) -> i64 {
    let request = pb::RecordCopaymentRatioRequest {
        request_id: rid(),
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        expected_version: version,
        copayment: Some(pb::CopaymentPeriod {
            ratio: tenths as i32,
            period: period(date(2025, 8, 1), Some(date(2026, 7, 31))),
        }),
    };
    client.record_copayment_ratio(request).await.unwrap().into_inner().person_version
}

fn cost_limit_request(insured: &str, version: i64, start: Date, end: Date) -> pb::RecordCostLimitRequest {
    pb::RecordCostLimitRequest {
        request_id: rid(),
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        expected_version: version,
        cost_limit: Some(pb::CostLimitPeriod {
            stage: pb::CostLimitStage::Second as i32,
            period: period(start, Some(end)),
            daily_caps: None,
        }),
    }
}

fn restriction_request(
    insured: &str,
    version: i64,
    kind: pb::BenefitRestrictionKind,
    percent: i32,
    start: Date,
    end: Option<Date>,
) -> pb::RecordBenefitRestrictionRequest {
    pb::RecordBenefitRestrictionRequest {
        request_id: rid(),
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        expected_version: version,
        benefit_restriction: Some(pb::BenefitRestrictionPeriod {
            kind: kind as i32,
            period: period(start, end),
            reduced_copayment_percent: percent,
            note: String::new(),
        }),
    }
}

/// The fields an INVALID_ARGUMENT names, in order.
pub fn field_violations(err: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    err.get_details_bad_request().map(|b| b.field_violations.into_iter().map(|v| v.field).collect()).unwrap_or_default()
}

fn ratio(result: &pb::EligibilityResult) -> pb::CopaymentRatio {
    pb::CopaymentRatio::try_from(result.copayment.as_ref().unwrap().ratio).unwrap()
}

#[tokio::test]
async fn an_expired_check_shows_the_certification_that_lapsed() {
    let db = TestDatabase::create().await;
    let redis = TestRedis::create().await;
    let server = Server::start(&db, Some(redis.config())).await;
    let mut client = server.client(insurer(INSURER)).await;
    let v = create_person(&mut client, "0000000801").await;
    let v =
        certify(&mut client, "0000000801", v, common::CareLevel::Support2, date(2023, 4, 1), date(2024, 3, 31)).await;
    certify(&mut client, "0000000801", v, common::CareLevel::Care3, date(2024, 4, 1), date(2025, 3, 31)).await;

    // Twice: the first answer fills the caches, the second comes from them.
    for _ in 0..2 {
        let result = check(&mut client, "0000000801", date(2025, 6, 1)).await;
        assert_eq!(verdict(&result), pb::EligibilityVerdict::CertificationExpired);
        let lapsed = result.certification.expect("the lapsed certification");
        assert_eq!(lapsed.care_level, common::CareLevel::Care3 as i32);
        assert_eq!(lapsed.validity, period(date(2024, 4, 1), Some(date(2025, 3, 31))));
    }
    // A person never certified has none to show.
    create_person(&mut client, "0000000802").await;
    let result = check(&mut client, "0000000802", date(2025, 6, 1)).await;
    assert_eq!(verdict(&result), pb::EligibilityVerdict::NotCertified);
    assert!(result.certification.is_none());
    server.stop().await;
}

#[tokio::test]
async fn a_benefit_reduction_raises_the_copayment_and_suspends_the_cost_limit() {
    let db = TestDatabase::create().await;
    let redis = TestRedis::create().await;
    let server = Server::start(&db, Some(redis.config())).await;
    let mut client = server.client(insurer(INSURER)).await;

    // 1割 on the certificate, raised to 3割 from October to December.
    let insured = "0000001001";
    let v = create_person(&mut client, insured).await;
    let v = certify(&mut client, insured, v, common::CareLevel::Care1, date(2025, 4, 1), date(2026, 3, 31)).await;
    let v = record_copayment(&mut client, insured, v, pb::CopaymentRatio::OneTenth).await;
    let v = client
        .record_cost_limit(cost_limit_request(insured, v, date(2025, 8, 1), date(2026, 7, 31)))
        .await
        .unwrap()
        .into_inner()
        .person_version;
    let reduction = restriction_request(
        insured,
        v,
        pb::BenefitRestrictionKind::BenefitReduction,
        30,
        date(2025, 10, 1),
        Some(date(2025, 12, 31)),
    );
    client.record_benefit_restriction(reduction).await.unwrap();

    let before = check(&mut client, insured, date(2025, 9, 30)).await;
    assert_eq!(ratio(&before), pb::CopaymentRatio::OneTenth);
    assert_eq!(before.certificate_copayment_ratio, pb::CopaymentRatio::Unspecified as i32);
    assert!(before.cost_limit.is_some());

    let during = check(&mut client, insured, date(2025, 11, 15)).await;
    assert_eq!(ratio(&during), pb::CopaymentRatio::ThreeTenths);
    assert_eq!(during.certificate_copayment_ratio, pb::CopaymentRatio::OneTenth as i32);
    assert_eq!(during.copayment.as_ref().unwrap().period, period(date(2025, 8, 1), Some(date(2026, 7, 31))));
    assert!(during.cost_limit.is_none(), "no 負担限度額 under 給付額減額");
    assert_eq!(during.benefit_restrictions.len(), 1);

    let after = check(&mut client, insured, date(2026, 1, 1)).await;
    assert_eq!(ratio(&after), pb::CopaymentRatio::OneTenth);
    assert!(after.cost_limit.is_some());

    // Someone already at 3割 pays 4割.
    let insured = "0000001002";
    let v = create_person(&mut client, insured).await;
    let v = record_copayment(&mut client, insured, v, pb::CopaymentRatio::ThreeTenths).await;
    let reduction =
        restriction_request(insured, v, pb::BenefitRestrictionKind::BenefitReduction, 40, date(2025, 10, 1), None);
    client.record_benefit_restriction(reduction).await.unwrap();
    let during = check(&mut client, insured, date(2025, 11, 15)).await;
    assert_eq!(ratio(&during), pb::CopaymentRatio::FourTenths);
    assert_eq!(during.certificate_copayment_ratio, pb::CopaymentRatio::ThreeTenths as i32);

    // 4割 is an answer, never a certificate: refused on write.
    let insured = "0000001003";
    let v = create_person(&mut client, insured).await;
    let mut request = pb::RecordCopaymentRatioRequest {
        request_id: rid(),
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        expected_version: v,
        copayment: Some(pb::CopaymentPeriod {
            ratio: pb::CopaymentRatio::FourTenths as i32,
            period: period(date(2025, 8, 1), Some(date(2026, 7, 31))),
        }),
    };
    let err = client.record_copayment_ratio(request.clone()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert_eq!(field_violations(&err), vec!["copayment.ratio".to_owned()]);
    request.request_id = rid();
    request.copayment.as_mut().unwrap().ratio = pb::CopaymentRatio::TwoTenths as i32;
    client.record_copayment_ratio(request).await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn daily_caps_come_from_the_table_of_the_period_start_and_are_never_written() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut client = server.client(insurer(INSURER)).await;
    let insured = "0000001101";
    let v = create_person(&mut client, insured).await;

    // A period that started before 2024-08 keeps the caps of its start; the next one has the new.
    let old = client
        .record_cost_limit(cost_limit_request(insured, v, date(2023, 8, 1), date(2024, 7, 31)))
        .await
        .unwrap()
        .into_inner();
    let pb::eligibility_record::Details::CostLimit(old_limit) = old.record.unwrap().details.unwrap() else {
        panic!("a cost limit");
    };
    let caps = old_limit.daily_caps.unwrap();
    assert_eq!((caps.unit_private_room_yen, caps.multi_bed_room_yen, caps.meal_facility_yen), (820, 370, 390));
    let v = client
        .record_cost_limit(cost_limit_request(insured, old.person_version, date(2024, 8, 1), date(2025, 7, 31)))
        .await
        .unwrap()
        .into_inner()
        .person_version;
    let result = check(&mut client, insured, date(2024, 7, 31)).await;
    assert_eq!(result.cost_limit.unwrap().daily_caps.unwrap().unit_private_room_yen, 820);
    let result = check(&mut client, insured, date(2024, 8, 1)).await;
    assert_eq!(result.cost_limit.unwrap().daily_caps.unwrap().unit_private_room_yen, 880);

    // Caps sent on write are refused (OUTPUT_ONLY), as is a period before the table.
    let mut with_caps = cost_limit_request(insured, v, date(2025, 8, 1), date(2026, 7, 31));
    with_caps.cost_limit.as_mut().unwrap().daily_caps =
        Some(pb::DailyCostCaps { meal_facility_yen: 300, ..Default::default() });
    let err = client.record_cost_limit(with_caps).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert_eq!(field_violations(&err), vec!["cost_limit.daily_caps".to_owned()]);
    let err = client
        .record_cost_limit(cost_limit_request(insured, v, date(2021, 7, 1), date(2021, 7, 31)))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&err), vec!["cost_limit.period.start".to_owned()]);
    // Nothing was written by the refusals.
    let history = client
        .get_eligibility_history(pb::GetEligibilityHistoryRequest {
            insurer_number: INSURER.into(),
            insured_number: insured.into(),
            include_inactive: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.person.unwrap().version, v);
    assert_eq!(periods(history.records).len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn what_a_write_sends_is_kept_and_returned_or_refused_by_field() {
    let db = TestDatabase::create().await;
    let redis = TestRedis::create().await;
    let server = Server::start(&db, Some(redis.config())).await;
    let mut client = server.client(insurer(INSURER)).await;
    let insured = "0000000901";
    let v = create_person(&mut client, insured).await;

    let limits = vec![
        pb::ServiceTypeLimit { service_type: "11".into(), limit_units_per_month: 12_000 },
        pb::ServiceTypeLimit { service_type: "15".into(), limit_units_per_month: 8_000 },
    ];
    let application_id = "0191d3c8-5f4e-7c2a-9b1d-2f6a8e4c1b00".to_owned();
    let certification = pb::CertificationPeriod {
        care_level: common::CareLevel::Care2 as i32,
        certified_date: Some(date(2025, 3, 25)),
        validity: period(date(2025, 4, 1), Some(date(2026, 3, 31))),
        service_type_limits: limits.clone(),
        application_id: application_id.clone(),
        ..Default::default()
    };
    let request = |version: i64, certification: pb::CertificationPeriod| pb::RecordCertificationRequest {
        request_id: rid(),
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        expected_version: version,
        certification: Some(certification),
    };
    let written = client.record_certification(request(v, certification.clone())).await.unwrap().into_inner();
    let mut restriction = restriction_request(
        insured,
        written.person_version,
        pb::BenefitRestrictionKind::PaymentMethodChange,
        0,
        date(2025, 6, 1),
        None,
    );
    restriction.benefit_restriction.as_mut().unwrap().note = "支払方法変更 (保険料滞納)".into();
    let v = client.record_benefit_restriction(restriction).await.unwrap().into_inner().person_version;

    // The history and the check (twice: database, then cache) carry them.
    let history = client
        .get_eligibility_history(pb::GetEligibilityHistoryRequest {
            insurer_number: INSURER.into(),
            insured_number: insured.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let stored = history
        .records
        .iter()
        .find_map(|r| match &r.details {
            Some(pb::eligibility_record::Details::Certification(c)) => Some(c.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(stored.service_type_limits, limits);
    assert_eq!(stored.application_id, application_id);
    for _ in 0..2 {
        let result = check(&mut client, insured, date(2025, 7, 1)).await;
        let c = result.certification.unwrap();
        assert_eq!((c.service_type_limits, c.application_id), (limits.clone(), application_id.clone()));
        assert_eq!(result.benefit_restrictions[0].note, "支払方法変更 (保険料滞納)");
    }

    // Bad values are refused, each against its field; nothing is written.
    let bad = pb::CertificationPeriod {
        validity: period(date(2026, 4, 1), Some(date(2027, 3, 31))),
        service_type_limits: vec![
            pb::ServiceTypeLimit { service_type: "１１".into(), limit_units_per_month: 100 },
            pb::ServiceTypeLimit { service_type: "15".into(), limit_units_per_month: 0 },
            pb::ServiceTypeLimit { service_type: "15".into(), limit_units_per_month: 10 },
        ],
        application_id: "not an id!".into(),
        ..certification
    };
    let err = client.record_certification(request(v, bad)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        field_violations(&err),
        vec![
            "certification.service_type_limits[0].service_type",
            "certification.service_type_limits[1].limit_units_per_month",
            "certification.service_type_limits[2].service_type",
            "certification.application_id",
        ]
    );
    let mut long_note =
        restriction_request(insured, v, pb::BenefitRestrictionKind::PaymentSuspension, 0, date(2025, 6, 1), None);
    long_note.benefit_restriction.as_mut().unwrap().note = "あ".repeat(501);
    let err = client.record_benefit_restriction(long_note).await.unwrap_err();
    assert_eq!(field_violations(&err), vec!["benefit_restriction.note"]);
    server.stop().await;
}

/// The descriptions an INVALID_ARGUMENT gives, in order.
fn descriptions(err: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    err.get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.description).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn what_people_type_is_checked_and_refusals_say_what_was_expected() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut client = server.client(insurer(INSURER)).await;
    let insured = "0000001301";
    let v = create_person(&mut client, insured).await;
    let residence = |version: i64, code: &str| pb::RecordResidenceExceptionRequest {
        request_id: rid(),
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        expected_version: version,
        residence_exception: Some(pb::ResidenceExceptionPeriod {
            facility_municipality_code: code.into(),
            facility_name: "ホーム".into(),
            period: period(date(2025, 4, 1), None),
        }),
    };
    // 住所地特例: the six digits with their modulus-11 check digit.
    for (code, expected) in
        [("13101", "exactly 6 characters"), ("131017", "modulus 11"), ("１３１０１６", "full-width")]
    {
        let err = client.record_residence_exception(residence(v, code)).await.unwrap_err();
        assert_eq!(field_violations(&err), vec!["residence_exception.facility_municipality_code"], "{code}");
        assert!(descriptions(&err)[0].contains(expected), "{code}: {:?}", descriptions(&err));
    }
    let stored = client.record_residence_exception(residence(v, "131016")).await.unwrap().into_inner();
    assert_eq!(stored.person_version, v + 1);

    // A full-width number (IME on) is refused as full-width, at the position of the first one.
    let err = client
        .check_eligibility(pb::CheckEligibilityRequest {
            insurer_number: "４３５０７３".into(),
            insured_number: insured.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(field_violations(&err), vec!["insurer_number"]);
    let text = &descriptions(&err)[0];
    assert!(text.contains("half-width") && text.contains("position 1"), "{text}");
    assert!(!text.contains("characters, got"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn a_second_category_person_pays_one_tenth_until_the_day_before_turning_65() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut client = server.client(insurer(INSURER)).await;
    // Born 1960-08-03: 第2号 until 2025-08-01, 第1号 from 2025-08-02 (the day before the birthday).
    let insured = "0000001201";
    let person = pb::InsuredPerson {
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        name_kanji: "介護 次郎".into(),
        name_kana: "カイゴ ジロウ".into(),
        birth_date: Some(date(1960, 8, 3)),
        sex: common::Sex::Male as i32,
        insured_category: common::InsuredCategory::Second as i32,
        qualification_acquired_date: Some(date(2000, 4, 1)),
        ..Default::default()
    };
    let v = client
        .upsert_insured_person(pb::UpsertInsuredPersonRequest {
            request_id: rid(),
            person: Some(person),
            expected_version: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .person
        .unwrap()
        .version;
    let copay = |version: i64, ratio: pb::CopaymentRatio, start: Date, end: Date| pb::RecordCopaymentRatioRequest {
        request_id: rid(),
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        expected_version: version,
        copayment: Some(pb::CopaymentPeriod { ratio: ratio as i32, period: period(start, Some(end)) }),
    };
    let err = client
        .record_copayment_ratio(copay(v, pb::CopaymentRatio::TwoTenths, date(2024, 8, 1), date(2025, 7, 31)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert_eq!(reason(&err), "SECOND_CATEGORY_PAYS_ONE_TENTH");
    let v = client
        .record_copayment_ratio(copay(v, pb::CopaymentRatio::OneTenth, date(2024, 8, 1), date(2025, 7, 31)))
        .await
        .unwrap()
        .into_inner()
        .person_version;
    // From 2025-08-02 the person is 第1号: a 2割 period starting then is theirs to have.
    let err = client
        .record_copayment_ratio(copay(v, pb::CopaymentRatio::TwoTenths, date(2025, 8, 1), date(2026, 7, 31)))
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "SECOND_CATEGORY_PAYS_ONE_TENTH");
    client
        .record_copayment_ratio(copay(v, pb::CopaymentRatio::TwoTenths, date(2025, 8, 2), date(2026, 7, 31)))
        .await
        .unwrap();

    // An extract follows the same rule: its row is refused, naming the rule.
    use pb::import_insured_persons_request::Payload;
    use pb::import_insured_persons_response::Event;
    let mut young = person_of_1970("0000001202");
    young.copayments.push(pb::CopaymentPeriod {
        ratio: pb::CopaymentRatio::ThreeTenths as i32,
        period: period(date(2025, 8, 1), Some(date(2026, 7, 31))),
    });
    let header = pb::ImportHeader { request_id: rid(), insurer_number: INSURER.into(), ..Default::default() };
    let messages = vec![
        pb::ImportInsuredPersonsRequest { payload: Some(Payload::Header(header)) },
        pb::ImportInsuredPersonsRequest { payload: Some(Payload::Chunk(pb::ImportChunk { rows: vec![young] })) },
    ];
    let mut stream = client.import_insured_persons(tokio_stream::iter(messages)).await.unwrap().into_inner();
    let mut reasons = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        if let Some(Event::RowError(e)) = message.event {
            reasons.push(e.reason);
        }
    }
    assert_eq!(reasons, vec!["SECOND_CATEGORY_PAYS_ONE_TENTH".to_owned()]);
    server.stop().await;
}

/// An import row of a 第2号 person born in 1970.
fn person_of_1970(insured: &str) -> pb::ImportRow {
    pb::ImportRow {
        line_number: 2,
        person: Some(pb::InsuredPerson {
            insurer_number: INSURER.into(),
            insured_number: insured.into(),
            name_kanji: "介護 三郎".into(),
            name_kana: "カイゴ サブロウ".into(),
            birth_date: Some(date(1970, 5, 5)),
            sex: common::Sex::Male as i32,
            insured_category: common::InsuredCategory::Second as i32,
            qualification_acquired_date: Some(date(2010, 5, 4)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_decided_certification_keeps_its_application() {
    use kaigo_proto::kaigo::certification::v1::CertificationDecidedEvent;
    use sea_orm::TransactionTrait;
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut client = server.client(insurer(INSURER)).await;
    let insured = "0000000902";
    create_person(&mut client, insured).await;
    // The consumer's write, in the consumer's transaction.
    let conn = kaigo_platform::db::connect(&db.config(), "eligibility").await.unwrap();
    let event = CertificationDecidedEvent {
        application_id: "0191d3c8-5f4e-7c2a-9b1d-2f6a8e4c1b01".into(),
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        care_level: common::CareLevel::Care1 as i32,
        certified_date: Some(date(2025, 3, 28)),
        validity: period(date(2025, 4, 1), Some(date(2026, 3, 31))),
        ..Default::default()
    };
    let txn = conn.begin().await.unwrap();
    server.api.apply_decision(&txn, "evt-902", &event).await.unwrap();
    txn.commit().await.unwrap();
    let result = check(&mut client, insured, date(2025, 6, 1)).await;
    assert_eq!(result.certification.unwrap().application_id, "0191d3c8-5f4e-7c2a-9b1d-2f6a8e4c1b01");
    server.stop().await;
}

//! Qualification as a history of spans (docs/domain/eligibility.md#qualification): moving
//! away and back, the category at 65, corrections with history, overlaps refused, retries,
//! imports, the migration of the single pair, and what the cache keeps.

use std::time::{Duration, Instant};

use kaigo_eligibility::key::PersonKey;
use kaigo_platform::ids::{InsuredNumber, InsurerNumber};
use kaigo_platform::testkit::{TestDatabase, TestRedis};
use kaigo_proto::kaigo::common::v1 as common;
use kaigo_proto::kaigo::eligibility::v1 as pb;
use pb::EligibilityVerdict as V;
use pb::import_insured_persons_request::Payload;
use pb::import_insured_persons_response::Event;
use sea_orm::{ConnectionTrait, Statement};
use sea_orm_migration::{MigrationTrait, SchemaManager};
use tonic::Code;

use crate::support::*;

/// A person born `birth`, insured from `acquired` (lost `lost`); returns the version.
async fn person(
    client: &mut Client,
    insured: &str,
    birth: kaigo_proto::google::r#type::Date,
    acquired: kaigo_proto::google::r#type::Date,
    lost: Option<kaigo_proto::google::r#type::Date>,
    expected_version: i64,
) -> Result<pb::InsuredPerson, tonic::Status> {
    let person = pb::InsuredPerson {
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        name_kanji: "資格 一郎".into(),
        name_kana: "シカク イチロウ".into(),
        birth_date: Some(birth),
        sex: common::Sex::Male as i32,
        insured_category: common::InsuredCategory::Second as i32,
        qualification_acquired_date: Some(acquired),
        qualification_lost_date: lost,
        ..Default::default()
    };
    let request = pb::UpsertInsuredPersonRequest { request_id: rid(), person: Some(person), expected_version };
    Ok(client.upsert_insured_person(request).await?.into_inner().person.unwrap())
}

fn span(
    acquired: kaigo_proto::google::r#type::Date,
    lost: Option<kaigo_proto::google::r#type::Date>,
    acquisition: pb::QualificationAcquisitionReason,
    loss: pb::QualificationLossReason,
) -> pb::QualificationSpan {
    pb::QualificationSpan {
        acquired_date: Some(acquired),
        lost_date: lost,
        acquisition_reason: acquisition as i32,
        loss_reason: loss as i32,
    }
}

fn record_span(insured: &str, version: i64, span: pb::QualificationSpan) -> pb::RecordQualificationRequest {
    pb::RecordQualificationRequest {
        request_id: rid(),
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        expected_version: version,
        qualification: Some(span),
    }
}

async fn history(client: &mut Client, insured: &str, include_inactive: bool) -> pb::GetEligibilityHistoryResponse {
    client
        .get_eligibility_history(pb::GetEligibilityHistoryRequest {
            insurer_number: INSURER.into(),
            insured_number: insured.into(),
            include_inactive,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
}

fn spans(history: &pb::GetEligibilityHistoryResponse) -> Vec<(pb::RecordState, pb::QualificationSpan)> {
    history
        .records
        .iter()
        .filter_map(|r| match &r.details {
            Some(pb::eligibility_record::Details::Qualification(s)) => {
                Some((pb::RecordState::try_from(r.state).unwrap(), *s))
            }
            _ => None,
        })
        .collect()
}

fn category(result: &pb::EligibilityResult) -> common::InsuredCategory {
    common::InsuredCategory::try_from(result.insured_category).unwrap()
}

#[tokio::test]
async fn moving_away_and_back_is_two_spans_and_the_gap_is_not_insured() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut client = server.client(insurer(INSURER)).await;
    let insured = "0000000701";

    // Insured from 2020-04-01 (the pair becomes the first span); moved out, lost 2022-10-01.
    let p = person(&mut client, insured, date(1950, 5, 3), date(2020, 4, 1), None, 0).await.unwrap();
    let p = person(&mut client, insured, date(1950, 5, 3), date(2020, 4, 1), Some(date(2022, 10, 1)), p.version)
        .await
        .unwrap();
    assert_eq!(p.qualification_lost_date, Some(date(2022, 10, 1)));
    // Moved back: a second span from 2024-01-15.
    let back = span(
        date(2024, 1, 15),
        None,
        pb::QualificationAcquisitionReason::MovedIn,
        pb::QualificationLossReason::Unspecified,
    );
    let recorded = client.record_qualification(record_span(insured, p.version, back)).await.unwrap().into_inner();
    assert_eq!(recorded.record.unwrap().kind, pb::RecordKind::Qualification as i32);

    let before = check(&mut client, insured, date(2020, 3, 31)).await;
    assert_eq!(verdict(&before), V::NotYetQualified);
    assert_eq!(before.insured_category, 0, "no category on a day not insured");
    let first_day = check(&mut client, insured, date(2020, 4, 1)).await;
    assert_eq!(verdict(&first_day), V::NotCertified);
    assert_eq!(category(&first_day), common::InsuredCategory::First);
    // The lost date is exclusive: insured through the day before.
    let last_day = check(&mut client, insured, date(2022, 9, 30)).await;
    assert_eq!(verdict(&last_day), V::NotCertified);
    let lost = check(&mut client, insured, date(2022, 10, 1)).await;
    assert_eq!(verdict(&lost), V::QualificationLost);
    assert_eq!(lost.qualification_acquired_date, Some(date(2020, 4, 1)));
    assert_eq!(lost.qualification_lost_date, Some(date(2022, 10, 1)));
    assert_eq!(lost.insured_category, 0);
    // The gap, to the day before the return.
    assert_eq!(verdict(&check(&mut client, insured, date(2024, 1, 14)).await), V::QualificationLost);
    let returned = check(&mut client, insured, date(2024, 1, 15)).await;
    assert_eq!(verdict(&returned), V::NotCertified);
    assert_eq!(returned.qualification_acquired_date, Some(date(2024, 1, 15)));
    assert_eq!(returned.qualification_lost_date, None);

    // The history: two active spans, the corrected first one kept as SUPERSEDED; the person's
    // own pair shows the latest span.
    let all = history(&mut client, insured, true).await;
    let states: Vec<pb::RecordState> = spans(&all).iter().map(|(state, _)| *state).collect();
    assert_eq!(states, [pb::RecordState::Superseded, pb::RecordState::Active, pb::RecordState::Active]);
    let person = all.person.unwrap();
    assert_eq!(person.qualification_acquired_date, Some(date(2024, 1, 15)));
    assert_eq!(person.qualification_lost_date, None);
    let active = history(&mut client, insured, false).await;
    let active_spans = spans(&active);
    assert_eq!(active_spans.len(), 2);
    assert_eq!(active_spans[1].1.acquisition_reason, pb::QualificationAcquisitionReason::MovedIn as i32);
    // Born 1950: 第1号 over both spans, with the gap between them.
    let periods: Vec<(i32, Option<common::Period>)> =
        active.category_periods.iter().map(|p| (p.category, p.period)).collect();
    assert_eq!(
        periods,
        [
            (common::InsuredCategory::First as i32, period(date(2020, 4, 1), Some(date(2022, 9, 30)))),
            (common::InsuredCategory::First as i32, period(date(2024, 1, 15), None)),
        ]
    );
    server.stop().await;
}

#[tokio::test]
async fn the_category_changes_on_the_day_before_the_65th_birthday_through_every_cache_tier() {
    let redis = TestRedis::create().await;
    let db = TestDatabase::create().await;
    let a = Server::start(&db, Some(redis.config())).await;
    let b = Server::start(&db, Some(redis.config())).await;
    let mut via_a = a.client(insurer(INSURER)).await;
    let mut via_b = b.client(insurer(INSURER)).await;
    let insured = "0000000702";
    // Born 1960-08-02: insured at 40 (第2号) from 2000-08-01; 65 is reached on 2025-08-01.
    person(&mut via_a, insured, date(1960, 8, 2), date(2000, 8, 1), None, 0).await.unwrap();

    let day_before = check(&mut via_a, insured, date(2025, 7, 31)).await;
    assert_eq!(category(&day_before), common::InsuredCategory::Second);
    assert_eq!(category(&check(&mut via_a, insured, date(2025, 8, 1)).await), common::InsuredCategory::First);

    // A's read filled L2; B answers from it (its L1 empty), at both days.
    let l2 = b.api.cache().l2().unwrap().clone();
    let key = PersonKey::new(&InsurerNumber::parse(INSURER).unwrap(), &InsuredNumber::parse(insured).unwrap());
    let raw = || {
        let (l2, bucket) = (l2.clone(), l2.bucket_key(&key));
        async move {
            let mut conn = l2.redis().conn();
            redis::AsyncCommands::hget::<_, _, Option<Vec<u8>>>(&mut conn, bucket, key.as_bytes().as_slice())
                .await
                .unwrap()
        }
    };
    // A Redis that is busy may refuse a fill (best effort): read again until it lands.
    let deadline = Instant::now() + Duration::from_secs(15);
    let value = loop {
        if let Some(value) = raw().await {
            break value;
        }
        assert!(Instant::now() < deadline, "a read filled L2");
        a.api.cache().invalidate_local(&key).await;
        check(&mut via_a, insured, date(2025, 7, 31)).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // What Redis keeps of the qualification is the span: its dates and codes, nothing derived
    // from the birth date (the timeline has no place for it).
    let timeline = kaigo_eligibility::cache::codec::decode(&value).expect("a timeline");
    let kinds: Vec<_> = timeline.records.iter().map(|r| r.detail.kind()).collect();
    assert_eq!(kinds, [kaigo_eligibility::domain::Kind::Qualification]);
    assert_eq!(timeline.records[0].start, chrono::NaiveDate::from_ymd_opt(2000, 8, 1).unwrap());

    assert_eq!(category(&check(&mut via_b, insured, date(2025, 7, 31)).await), common::InsuredCategory::Second);
    assert_eq!(category(&check(&mut via_b, insured, date(2025, 8, 1)).await), common::InsuredCategory::First);
    // 29 February: the day before is the 28th.
    person(&mut via_a, "0000000703", date(1960, 2, 29), date(2000, 2, 28), None, 0).await.unwrap();
    assert_eq!(category(&check(&mut via_b, "0000000703", date(2025, 2, 27)).await), common::InsuredCategory::Second);
    assert_eq!(category(&check(&mut via_b, "0000000703", date(2025, 2, 28)).await), common::InsuredCategory::First);

    // The history splits the span on that day.
    let periods: Vec<(i32, Option<common::Period>)> =
        history(&mut via_a, insured, false).await.category_periods.iter().map(|p| (p.category, p.period)).collect();
    assert_eq!(
        periods,
        [
            (common::InsuredCategory::Second as i32, period(date(2000, 8, 1), Some(date(2025, 7, 31)))),
            (common::InsuredCategory::First as i32, period(date(2025, 8, 1), None)),
        ]
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_correction_replaces_a_span_with_history_kept_and_a_retry_changes_nothing() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut client = server.client(insurer(INSURER)).await;
    let insured = "0000000704";
    let p = person(&mut client, insured, date(1940, 1, 10), date(2005, 1, 9), None, 0).await.unwrap();
    let record_id = history(&mut client, insured, false)
        .await
        .records
        .into_iter()
        .find(|r| r.kind == pb::RecordKind::Qualification as i32)
        .unwrap()
        .record_id;

    // 死亡 on 2026-03-04: lost from the next day.
    let request = pb::CorrectRecordRequest {
        request_id: rid(),
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        expected_version: p.version,
        record_id: record_id.clone(),
        reason: "死亡届".into(),
        replacement: Some(pb::correct_record_request::Replacement::Qualification(span(
            date(2005, 1, 9),
            Some(date(2026, 3, 5)),
            pb::QualificationAcquisitionReason::AgeReached,
            pb::QualificationLossReason::Death,
        ))),
    };
    let first = client.correct_record(request.clone()).await.unwrap().into_inner();
    assert_eq!(first.person_version, p.version + 1);
    // The retry answers the first answer and writes nothing.
    let again = client.correct_record(request).await.unwrap().into_inner();
    assert_eq!(again, first);
    let all = history(&mut client, insured, true).await;
    assert_eq!(all.person.as_ref().unwrap().version, p.version + 1);
    assert_eq!(all.person.as_ref().unwrap().qualification_lost_date, Some(date(2026, 3, 5)));
    let kept = spans(&all);
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[0].0, pb::RecordState::Superseded);
    assert_eq!(kept[1].0, pb::RecordState::Active);
    assert_eq!(kept[1].1.loss_reason, pb::QualificationLossReason::Death as i32);
    let old = all.records.iter().find(|r| r.record_id == record_id).unwrap();
    assert_eq!(old.superseded_by_record_id, first.record.as_ref().unwrap().record_id);

    assert_eq!(verdict(&check(&mut client, insured, date(2026, 3, 4)).await), V::NotCertified);
    assert_eq!(verdict(&check(&mut client, insured, date(2026, 3, 5)).await), V::QualificationLost);

    // The only span may be corrected, not voided.
    let void = pb::VoidRecordRequest {
        request_id: rid(),
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        expected_version: first.person_version,
        record_id: first.record.unwrap().record_id,
        reason: "誤登録".into(),
    };
    let refused = client.void_record(void).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "QUALIFICATION_SPAN_REQUIRED");
    server.stop().await;
}

#[tokio::test]
async fn overlapping_or_malformed_spans_are_refused_and_nothing_is_written() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut client = server.client(insurer(INSURER)).await;
    let insured = "0000000705";
    let p = person(&mut client, insured, date(1950, 5, 3), date(2020, 4, 1), Some(date(2022, 10, 1)), 0).await.unwrap();
    let none = pb::QualificationLossReason::Unspecified;
    let moved_in = pb::QualificationAcquisitionReason::MovedIn;

    // Starting on the old lost date is not an overlap (the lost date is exclusive) …
    let touching = record_span(insured, p.version, span(date(2022, 10, 1), Some(date(2023, 1, 1)), moved_in, none));
    let v = client.record_qualification(touching).await.unwrap().into_inner().person_version;
    // … starting on the day before is.
    for overlapping in [
        span(date(2022, 9, 30), Some(date(2022, 10, 1)), moved_in, none),
        span(date(2019, 1, 1), None, moved_in, none),
        span(date(2022, 12, 31), None, moved_in, none),
    ] {
        let err = client.record_qualification(record_span(insured, v, overlapping)).await.unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
        assert_eq!(reason(&err), "PERIOD_OVERLAP");
    }
    // Through the person's own pair too: a new acquisition date inside a span.
    let err = person(&mut client, insured, date(1950, 5, 3), date(2021, 6, 1), None, v).await.unwrap_err();
    assert_eq!(reason(&err), "PERIOD_OVERLAP");

    // Bad input: one violation per problem.
    let bad = [
        (span(date(2024, 1, 1), Some(date(2024, 1, 1)), moved_in, none), "qualification.lost_date"),
        (span(date(2024, 1, 1), None, moved_in, pb::QualificationLossReason::MovedOut), "qualification.loss_reason"),
        (span(date(1950, 5, 2), Some(date(1951, 1, 1)), moved_in, none), "qualification.acquired_date"),
        (
            pb::QualificationSpan { acquisition_reason: 42, ..span(date(2024, 1, 1), None, moved_in, none) },
            "qualification.acquisition_reason",
        ),
    ];
    for (bad, field) in bad {
        let err = client.record_qualification(record_span(insured, v, bad)).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        let violations = violations(&err);
        assert_eq!(violations, [field.to_owned()], "{err:?}");
    }
    // The person's own pair: a loss on or before the acquisition is the lost date's violation
    // (the write takes the validated period; no other answer is left for it).
    for lost in [date(2024, 1, 1), date(2023, 12, 31)] {
        let err = person(&mut client, insured, date(1950, 5, 3), date(2024, 1, 1), Some(lost), v).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert_eq!(violations(&err), ["person.qualification_lost_date".to_owned()], "{err:?}");
    }
    // Nothing of it was written.
    let after = history(&mut client, insured, true).await;
    assert_eq!(after.person.as_ref().unwrap().version, v);
    assert_eq!(spans(&after).len(), 2, "the first span and the touching one, nothing else");
    server.stop().await;
}

#[tokio::test]
async fn a_second_category_pays_one_tenth_over_the_whole_history() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut client = server.client(insurer(INSURER)).await;
    let insured = "0000000706";
    // Born 1960-08-02: 第1号 from 2025-08-01, so 2割 from then is allowed.
    let p = person(&mut client, insured, date(1960, 8, 2), date(2000, 8, 1), None, 0).await.unwrap();
    let v = client
        .record_copayment_ratio(pb::RecordCopaymentRatioRequest {
            request_id: rid(),
            insurer_number: INSURER.into(),
            insured_number: insured.into(),
            expected_version: p.version,
            copayment: Some(pb::CopaymentPeriod {
                ratio: pb::CopaymentRatio::TwoTenths as i32,
                period: period(date(2025, 8, 1), Some(date(2026, 7, 31))),
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .person_version;
    // A birth date corrected to a day later would leave 2割 on a 第2号 day: refused.
    let err = person(&mut client, insured, date(1960, 8, 3), date(2000, 8, 1), None, v).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "SECOND_CATEGORY_PAYS_ONE_TENTH");
    // A day earlier keeps it right.
    person(&mut client, insured, date(1960, 8, 1), date(2000, 8, 1), None, v).await.unwrap();
    server.stop().await;
}

async fn import(client: &mut Client, rows: Vec<pb::ImportRow>) -> (pb::ImportProgress, Vec<pb::ImportRowError>) {
    let header = pb::ImportHeader { request_id: rid(), insurer_number: INSURER.into(), ..Default::default() };
    let messages = vec![
        pb::ImportInsuredPersonsRequest { payload: Some(Payload::Header(header)) },
        pb::ImportInsuredPersonsRequest { payload: Some(Payload::Chunk(pb::ImportChunk { rows })) },
    ];
    let mut stream = client.import_insured_persons(tokio_stream::iter(messages)).await.unwrap().into_inner();
    let (mut totals, mut errors) = (None, Vec::new());
    while let Some(message) = stream.message().await.unwrap() {
        match message.event {
            Some(Event::Summary(s)) => totals = s.totals,
            Some(Event::RowError(e)) => errors.push(e),
            _ => {}
        }
    }
    (totals.expect("a summary"), errors)
}

fn import_row(line: i64, insured: &str, acquired: kaigo_proto::google::r#type::Date) -> pb::ImportRow {
    pb::ImportRow {
        line_number: line,
        person: Some(pb::InsuredPerson {
            insurer_number: INSURER.into(),
            insured_number: insured.into(),
            name_kanji: "取込 花子".into(),
            name_kana: "トリコミ ハナコ".into(),
            birth_date: Some(date(1950, 5, 3)),
            sex: common::Sex::Female as i32,
            insured_category: common::InsuredCategory::First as i32,
            qualification_acquired_date: Some(acquired),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_import_carries_spans_and_an_old_row_is_one_span() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut client = server.client(insurer(INSURER)).await;
    let none = pb::QualificationLossReason::Unspecified;
    // Line 2: the old single pair. Line 3: moved away and back (the pair is the latest span).
    // Line 4: two spans that overlap.
    let old = import_row(2, "0000000801", date(2020, 4, 1));
    let mut moved = import_row(3, "0000000802", date(2024, 1, 15));
    moved.qualifications = vec![
        span(
            date(2015, 5, 2),
            Some(date(2022, 10, 1)),
            pb::QualificationAcquisitionReason::AgeReached,
            pb::QualificationLossReason::MovedOut,
        ),
        span(date(2024, 1, 15), None, pb::QualificationAcquisitionReason::MovedIn, none),
    ];
    let mut overlapping = import_row(4, "0000000803", date(2024, 1, 15));
    overlapping.qualifications =
        vec![span(date(2020, 1, 1), Some(date(2024, 2, 1)), pb::QualificationAcquisitionReason::MovedIn, none)];
    let rows = vec![old, moved, overlapping];

    let (totals, errors) = import(&mut client, rows.clone()).await;
    assert_eq!((totals.persons_created, totals.rows_rejected), (2, 1));
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].line_number, errors[0].reason.as_str()), (4, "PERIOD_OVERLAP"));

    assert_eq!(spans(&history(&mut client, "0000000801", false).await).len(), 1);
    assert_eq!(verdict(&check(&mut client, "0000000801", date(2020, 4, 1)).await), V::NotCertified);
    let moved_spans = spans(&history(&mut client, "0000000802", false).await);
    assert_eq!(moved_spans.len(), 2, "the pair equal to an entry counts once");
    assert_eq!(verdict(&check(&mut client, "0000000802", date(2022, 9, 30)).await), V::NotCertified);
    assert_eq!(verdict(&check(&mut client, "0000000802", date(2023, 6, 1)).await), V::QualificationLost);
    assert_eq!(verdict(&check(&mut client, "0000000802", date(2024, 1, 15)).await), V::NotCertified);

    // The same rows again change nothing.
    let (totals, _) = import(&mut client, rows).await;
    assert_eq!((totals.persons_created, totals.persons_changed, totals.persons_unchanged), (0, 0, 2));
    server.stop().await;
}

#[tokio::test]
async fn the_migration_makes_each_single_pair_one_span_once() {
    let db = TestDatabase::create().await;
    let conn = kaigo_platform::db::connect(&db.config(), "eligibility").await.unwrap();
    <kaigo_eligibility::Migrator as sea_orm_migration::MigratorTrait>::up(&conn, None).await.unwrap();
    // Persons as an older build stored them: the pair on the row, no span.
    let backend = conn.get_database_backend();
    for (number, lost) in [("0000000901", Some("2022-10-01")), ("0000000902", None)] {
        conn.execute_raw(Statement::from_sql_and_values(
            backend,
            "INSERT INTO persons (insurer_number, insured_number, name_kanji, name_kana, birth_date, sex, category, \
             acquired_date, lost_date, card_issued_date, version, updated_at) \
             VALUES ($1, $2, '移行 太郎', 'イコウ タロウ', '1950-05-03', 1, 1, '2020-04-01', $3::date, NULL, 3, now())",
            [INSURER.into(), number.into(), lost.map(str::to_owned).into()],
        ))
        .await
        .unwrap();
    }
    let migration = kaigo_eligibility::store::migrate_qualification::QualificationSpans;
    let manager = SchemaManager::new(&conn);
    migration.up(&manager).await.unwrap();
    // A second run adds nothing.
    migration.up(&manager).await.unwrap();

    let server = Server::serve(conn, None).await;
    let mut client = server.client(insurer(INSURER)).await;
    let lost = history(&mut client, "0000000901", false).await;
    let migrated = spans(&lost);
    assert_eq!(migrated.len(), 1);
    assert_eq!(migrated[0].1.acquired_date, Some(date(2020, 4, 1)));
    assert_eq!(migrated[0].1.lost_date, Some(date(2022, 10, 1)));
    assert_eq!(lost.person.unwrap().version, 3, "the migration changes no answer, so no version");
    let record = lost.records.iter().find(|r| r.kind == pb::RecordKind::Qualification as i32).unwrap();
    assert_eq!(record.recorded_by.as_ref().unwrap().role, common::Role::System as i32);
    assert_eq!(verdict(&check(&mut client, "0000000901", date(2022, 9, 30)).await), V::NotCertified);
    assert_eq!(verdict(&check(&mut client, "0000000901", date(2022, 10, 1)).await), V::QualificationLost);
    let open = spans(&history(&mut client, "0000000902", false).await);
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].1.lost_date, None);
    server.stop().await;
}

fn violations(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

//! ImportInsuredPersons: bad rows reported, the rest loaded; re-running changes nothing.

use kaigo_eligibility::extract::{COLUMNS, Header, parse_row, to_csv};
use kaigo_eligibility::seed::generate;
use kaigo_platform::ids::InsurerNumber;
use kaigo_platform::testkit::TestDatabase;
use kaigo_proto::kaigo::eligibility::v1 as pb;
use pb::import_insured_persons_request::Payload;
use pb::import_insured_persons_response::Event;

use crate::support::*;

async fn import(client: &mut Client, rows: Vec<pb::ImportRow>) -> (pb::ImportProgress, Vec<pb::ImportRowError>) {
    let header = pb::ImportHeader { request_id: rid(), insurer_number: INSURER.into(), ..Default::default() };
    let mut messages = vec![pb::ImportInsuredPersonsRequest { payload: Some(Payload::Header(header)) }];
    for chunk in rows.chunks(300) {
        messages.push(pb::ImportInsuredPersonsRequest {
            payload: Some(Payload::Chunk(pb::ImportChunk { rows: chunk.to_vec() })),
        });
    }
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

#[tokio::test]
async fn an_extract_loads_reports_bad_rows_and_reloads_as_a_no_op() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut client = server.client(insurer(INSURER)).await;
    let insurer_number = InsurerNumber::parse(INSURER).unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
    let header = Header::parse(&COLUMNS.join(",")).unwrap();
    let mut people = generate(&insurer_number, 1, 1_000, 42, today);
    let rows = |people: &[kaigo_eligibility::seed::Synthetic]| -> Vec<pb::ImportRow> {
        let mut rows: Vec<pb::ImportRow> =
            people.iter().enumerate().map(|(i, p)| parse_row(&header, i as i64 + 2, &to_csv(p)).unwrap()).collect();
        // Line 5: an impossible birth date; line 9: another insurer's person.
        rows[3].person.as_mut().unwrap().birth_date = Some(date(1950, 2, 30));
        rows[7].person.as_mut().unwrap().insurer_number = OTHER_INSURER.into();
        rows
    };

    let (totals, errors) = import(&mut client, rows(&people)).await;
    assert_eq!((totals.rows_received, totals.persons_created, totals.rows_rejected), (1_000, 998, 2));
    let lines: Vec<i64> = errors.iter().map(|e| e.line_number).collect();
    assert_eq!(lines, [5, 9]);
    assert_eq!(errors[0].violations[0].field, "person.birth_date");

    // The same file again changes nothing.
    let (totals, _) = import(&mut client, rows(&people)).await;
    assert_eq!((totals.persons_created, totals.persons_changed, totals.persons_unchanged), (0, 0, 998));

    // One changed person: only that one is updated, and checks see it at once.
    let before = check(&mut client, "0000000001", date(2026, 11, 29)).await;
    assert_eq!(before.person.unwrap().name_kanji, people[0].person.name_kanji);
    people[0].person.name_kanji = "改姓 花子".into();
    let (totals, _) = import(&mut client, rows(&people)).await;
    assert_eq!((totals.persons_changed, totals.persons_unchanged), (1, 997));
    let after = check(&mut client, "0000000001", date(2026, 11, 29)).await;
    assert_eq!(after.person.unwrap().name_kanji, "改姓 花子");

    // Another insurer may not import into this one.
    let mut stranger = server.client(insurer(OTHER_INSURER)).await;
    let header = pb::ImportHeader { request_id: rid(), insurer_number: INSURER.into(), ..Default::default() };
    let err = stranger
        .import_insured_persons(tokio_stream::iter(vec![pb::ImportInsuredPersonsRequest {
            payload: Some(Payload::Header(header)),
        }]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    server.stop().await;
}

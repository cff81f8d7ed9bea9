//! An import whose chunks wait (its transaction held by a lock) does not hold back the other
//! calls on its HTTP/2 connection: a gateway sends imports and checks over the same few upstream
//! connections (loadtest/README.md#import-under-load).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use kaigo_eligibility::extract::{COLUMNS, Header, parse_row, to_csv};
use kaigo_eligibility::seed::generate;
use kaigo_platform::ids::InsurerNumber;
use kaigo_platform::testkit::TestDatabase;
use kaigo_proto::kaigo::eligibility::v1 as pb;
use pb::import_insured_persons_request::Payload;
use pb::import_insured_persons_response::Event;
use sea_orm::{ConnectionTrait, TransactionTrait};

use crate::import::import;
use crate::support::*;

/// Rows a request message of the import carries.
const ROWS_A_MESSAGE: usize = 300;

#[tokio::test]
async fn a_check_is_answered_on_the_connection_of_an_import_whose_chunks_wait_unread() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut client = server.client(insurer(INSURER)).await;
    let insurer_number = InsurerNumber::parse(INSURER).unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
    let header = Header::parse(&COLUMNS.join(",")).unwrap();
    let rows: Vec<pb::ImportRow> = generate(&insurer_number, 1, 3_001, 7, today)
        .iter()
        .enumerate()
        .map(|(i, p)| parse_row(&header, i as i64 + 2, &to_csv(p)).unwrap())
        .collect();
    // The person the check reads.
    let (totals, _) = import(&mut client, rows[..1].to_vec()).await;
    assert_eq!(totals.persons_created, 1);

    // Writes to persons wait for this transaction; reads do not.
    let blocker = kaigo_platform::db::connect(&db.config(), "eligibility").await.unwrap();
    let lock = blocker.begin().await.unwrap();
    lock.execute_unprepared("LOCK TABLE persons IN EXCLUSIVE MODE").await.unwrap();

    // Two imports that send the other 3,000 persons over and over until told to stop, on the
    // check's own connection (clones of its client). Their first chunks' transactions wait for
    // the lock, so the server stops reading them and their messages fill their streams'
    // windows; the second takes whatever of the connection's window the first left.
    let stop = Arc::new(AtomicBool::new(false));
    let imports: Vec<_> = (0..2).map(|_| start_import(&client, &rows[1..], stop.clone())).collect();
    for (sent, _) in &imports {
        stalled(sent).await;
    }

    // A check on the same connection is answered while the imports' streams hold their windows.
    let checked =
        tokio::time::timeout(Duration::from_secs(30), check(&mut client, "0000000001", date(2026, 11, 29))).await;
    assert!(checked.is_ok(), "a check on the imports' connection waited for them");

    // Released, each import takes every row it was sent.
    stop.store(true, Ordering::SeqCst);
    lock.rollback().await.unwrap();
    let mut created = 0;
    for (sent, importing) in imports {
        let totals = importing.await.unwrap();
        assert_eq!(totals.rows_received as usize, sent.load(Ordering::SeqCst) * ROWS_A_MESSAGE);
        assert_eq!(totals.persons_created + totals.persons_unchanged, totals.rows_received);
        created += totals.persons_created;
    }
    assert_eq!(created, 3_000);
    blocker.close().await.unwrap();
    server.stop().await;
}

/// An import over `client`'s connection sending `rows` in messages of [`ROWS_A_MESSAGE`], over
/// and over until `stop`: how many messages it has sent, and its summary's totals once it ends.
fn start_import(
    client: &Client,
    rows: &[pb::ImportRow],
    stop: Arc<AtomicBool>,
) -> (Arc<AtomicUsize>, tokio::task::JoinHandle<pb::ImportProgress>) {
    let (messages, requests) = tokio::sync::mpsc::channel::<pb::ImportInsuredPersonsRequest>(1);
    let sent = Arc::new(AtomicUsize::new(0));
    let header = pb::ImportHeader { request_id: rid(), insurer_number: INSURER.into(), ..Default::default() };
    let chunks: Vec<Vec<pb::ImportRow>> = rows.chunks(ROWS_A_MESSAGE).map(<[_]>::to_vec).collect();
    let counter = sent.clone();
    tokio::spawn(async move {
        if messages.send(pb::ImportInsuredPersonsRequest { payload: Some(Payload::Header(header)) }).await.is_err() {
            return;
        }
        for chunk in chunks.iter().cycle() {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let message = pb::ImportInsuredPersonsRequest {
                payload: Some(Payload::Chunk(pb::ImportChunk { rows: chunk.clone() })),
            };
            if messages.send(message).await.is_err() {
                return;
            }
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let mut client = client.clone();
    let importing = tokio::spawn(async move {
        let requests = tokio_stream::wrappers::ReceiverStream::new(requests);
        let mut responses = client.import_insured_persons(requests).await.unwrap().into_inner();
        let mut totals = None;
        while let Some(message) = responses.message().await.unwrap() {
            if let Some(Event::Summary(summary)) = message.event {
                totals = summary.totals;
            }
        }
        totals.expect("a summary")
    });
    (sent, importing)
}

/// Returns once `sent` has not moved for 2 s (the import's sender is held by flow control);
/// fails the test if it keeps moving for a minute (the import is being read on).
async fn stalled(sent: &AtomicUsize) {
    let (mut last, mut still) = (0, 0);
    for _ in 0..240 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = sent.load(Ordering::SeqCst);
        (last, still) = if now == last { (now, still + 1) } else { (now, 0) };
        if still == 8 && now > 0 {
            // More rows than the server holds in its stages (three messages): the rest wait
            // in the stream's window.
            assert!(now > 10, "only {now} messages sent before the import stalled");
            return;
        }
    }
    panic!("the import kept being read: its chunks should be waiting for the lock");
}

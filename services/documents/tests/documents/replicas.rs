//! The reads against a real streaming replica (docs/architecture.md#read-replicas): a private
//! primary and a `pg_basebackup -R` replica of it on loopback ports of their own
//! (`testkit::TestPostgres`), replay paused to make the replica's view differ from the
//! primary's.

use std::time::Duration;

use kaigo_documents::seed::sample_opinion;
use kaigo_platform::access::{Category, OrganizationKind};
use kaigo_platform::config::{DatabaseConfig, Secret};
use kaigo_platform::db::ReadPool;
use kaigo_platform::testkit::{TestPostgres, eventually};
use kaigo_proto::kaigo::documents::v1::document_service_client::DocumentServiceClient;
use kaigo_proto::kaigo::documents::v1::*;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use sea_orm_migration::MigratorTrait;

use crate::attachments::{download, messages, metadata, small_pdf};
use crate::flow::{new_request, today};
use crate::harness::*;

/// Long enough for a loaded 2-core machine; a healthy run needs well under a second each.
const PATIENCE: Duration = Duration::from_secs(60);

type Client = DocumentServiceClient<Signed>;

/// Checks until the reads of every party of `keys` go to the replica: it has replayed every
/// write fenced for them.
async fn replayed(reads: &ReadPool, keys: &[&str]) {
    let caught_up = eventually(PATIENCE, || async {
        reads.check_now().await;
        keys.iter().all(|k| reads.for_key(k.as_bytes()).on_replica()).then_some(())
    })
    .await;
    assert!(caught_up.is_some(), "the replica never replayed the writes");
}

async fn ask(client: &mut Client, application_id: &str) -> String {
    let request = new_request(application_id, kaigo_proto::kaigo::common::v1::InsuredCategory::First);
    client.request_opinion(request).await.unwrap().into_inner().opinion_request.unwrap().opinion_request_id
}

async fn requests(client: &mut Client) -> Vec<String> {
    let page = client.list_opinion_requests(ListOpinionRequestsRequest::default()).await.unwrap().into_inner();
    page.opinion_requests.into_iter().map(|r| r.opinion_request_id).collect()
}

/// The person's opinions as `client` lists them.
async fn opinions(client: &mut Client) -> Vec<String> {
    let request = ListOpinionsRequest {
        insurer_number: INSURER.to_owned(),
        insured_number: INSURED.to_owned(),
        ..Default::default()
    };
    let page = client.list_opinions(request).await.unwrap().into_inner();
    page.opinions.into_iter().map(|o| o.opinion_id).collect()
}

/// The read audit of `rpc` by `party`, once there: the resources of each record.
async fn audited(server: &TestServer, rpc: &str, party: &str) -> Vec<Vec<String>> {
    let sql = "SELECT array_to_string(resources, ' ') FROM audit_trail WHERE rpc = $1 AND caller_party = $2 \
               ORDER BY id";
    let db = server.db();
    eventually(PATIENCE, || async move {
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, [rpc.into(), party.into()]))
            .await
            .unwrap();
        let records: Vec<Vec<String>> = rows
            .iter()
            .map(|r| r.try_get_by_index::<String>(0).unwrap().split(' ').map(str::to_owned).collect())
            .collect();
        (!records.is_empty()).then_some(records)
    })
    .await
    .expect("the read reaches the audit trail")
}

/// The 作成依頼, opinion and attachment reads go to the replica; the writer reads its own
/// write (the fence); a row the replica lacks is still found by id; the reads are audited; a
/// stopped replica fails no read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_read_the_replica_never_stale_for_the_writer() {
    let primary = tokio::task::spawn_blocking(TestPostgres::start).await.unwrap();
    let conn = kaigo_platform::db::connect(&primary.config(), kaigo_documents::NAME).await.unwrap();
    kaigo_documents::Migrator::up(&conn, None).await.unwrap();
    let replica = tokio::task::block_in_place(|| TestPostgres::start_replica_of(&primary));
    // The lag bound and the check interval far away: the test drives the checks, and paused
    // replay must not take the replica out.
    let database = DatabaseConfig {
        read_urls: vec![Secret::new(replica.url())],
        max_replica_lag_ms: 600_000,
        replica_check_ms: 60_000,
        ..primary.config()
    };
    let (server, reads) = TestServer::start_with_replicas(conn, &database).await;
    // The care office reads the person's opinions by the registry's facts (decided on the
    // primary's copy).
    server.grant(OrganizationKind::CareOffice, CARE_OFFICE, &[Category::Certification]).await;
    let mut city = server.client(insurer(INSURER)).await;
    let mut doctor = server.client(institution(INSTITUTION)).await;
    let mut office = server.client(care_office(CARE_OFFICE, &[])).await;

    let first = ask(&mut city, "app-replica-1").await;
    replayed(&reads, &[INSURER, INSTITUTION, CARE_OFFICE]).await;

    // Replay paused: what the primary commits from now on is not on the replica.
    let admin = Database::connect(replica.url()).await.unwrap();
    admin.execute_unprepared("SELECT pg_wal_replay_pause()").await.unwrap();
    let second = ask(&mut city, "app-replica-2").await;

    // The insurer reads its own request (the fence sends it to the primary), also once the
    // fence has its WAL position ...
    assert_eq!(requests(&mut city).await, [second.clone(), first.clone()]);
    reads.check_now().await;
    assert_eq!(requests(&mut city).await, [second.clone(), first.clone()], "still after the fence resolved");
    // ... while the institution's listing is the replica's: the second request is not there,
    // and the read is audited with what it returned.
    assert_eq!(requests(&mut doctor).await, std::slice::from_ref(&first));
    assert_eq!(audited(&server, "ListOpinionRequests", INSTITUTION).await, [vec![first.clone()]]);
    // By id, a request the replica lacks is found on the primary.
    let got = doctor
        .get_opinion_request(GetOpinionRequestRequest { opinion_request_id: second.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.opinion_request.unwrap().opinion_request_id, second);

    // The institution submits an opinion and uploads a file: it reads both at once ...
    let opinion = doctor
        .submit_opinion(SubmitOpinionRequest { request_id: rid(), opinion: Some(sample_opinion(&first, today())) })
        .await
        .unwrap()
        .into_inner()
        .opinion
        .unwrap()
        .opinion_id;
    let pdf = small_pdf(10_000);
    let file = doctor
        .upload_attachment(futures::stream::iter(messages(metadata(&first, pdf.len(), ""), &pdf)))
        .await
        .unwrap()
        .into_inner()
        .attachment
        .unwrap()
        .attachment_id;
    assert_eq!(opinions(&mut doctor).await, std::slice::from_ref(&opinion));
    let own = doctor.get_attachment(GetAttachmentRequest { attachment_id: file.clone() }).await.unwrap();
    assert_eq!(own.into_inner().attachment.unwrap().attachment_id, file);
    assert_eq!(requests(&mut doctor).await, [second.clone(), first.clone()], "now from the primary");
    // ... the care office's listing is the replica's, without the opinion; by id it finds
    // the opinion and the file (its metadata on the primary, its bytes in storage).
    assert!(opinions(&mut office).await.is_empty());
    let read = office
        .get_opinion(GetOpinionRequest { opinion_id: opinion.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.opinion.unwrap().opinion_id, opinion);
    assert_eq!(download(&mut office, &file).await.unwrap(), pdf);
    assert_eq!(audited(&server, "GetOpinion", CARE_OFFICE).await, [vec![opinion.clone()]]);

    // Replay resumed: once the replica has the institution's writes, the office lists them.
    admin.execute_unprepared("SELECT pg_wal_replay_resume()").await.unwrap();
    admin.close().await.unwrap();
    replayed(&reads, &[INSURER, INSTITUTION, CARE_OFFICE]).await;
    assert_eq!(opinions(&mut office).await, std::slice::from_ref(&opinion));

    // The replica stops: every read answers from the primary.
    tokio::task::block_in_place(|| replica.stop());
    assert_eq!(requests(&mut doctor).await, [second.clone(), first.clone()]);
    reads.check_now().await;
    assert!(!reads.for_key(CARE_OFFICE.as_bytes()).on_replica());
    assert_eq!(opinions(&mut office).await, std::slice::from_ref(&opinion));
    assert_eq!(download(&mut office, &file).await.unwrap(), pdf);

    server.shutdown().await;
    drop(replica);
    drop(primary);
}

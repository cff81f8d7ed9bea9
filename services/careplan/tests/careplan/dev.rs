//! `kaigo dev`: the demo offices on SQLite, seeded once however often the seed runs, and a
//! bundle exchanged between the golden files' offices on that database.

use std::time::Duration;

use kaigo_careplan::{Config, seed, seed_demo, store};
use kaigo_platform::auth::Role;
use kaigo_platform::config::{DatabaseConfig, Secret};
use kaigo_proto::kaigo::careplan::v1::{BundleStatus, ListInboxRequest};
use sea_orm_migration::MigratorTrait;

use crate::exchange::{CARE, PROV, download, rid, usage_files, usage_request};
use crate::harness::{TestServer, office};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_offices_are_seeded_once_on_sqlite_and_can_exchange() {
    let dir = std::env::temp_dir().join(format!("kaigo-careplan-dev-{}", uuid::Uuid::new_v4().simple()));
    let config = DatabaseConfig {
        url: Secret::new(format!("sqlite://{}", dir.display())),
        max_connections: 4,
        ..DatabaseConfig::default()
    };
    let db = kaigo_platform::db::connect(&config, kaigo_careplan::NAME).await.unwrap();
    kaigo_careplan::Migrator::up(&db, None).await.unwrap();
    let (ctx, control) = kaigo_platform::testkit::context(kaigo_careplan::NAME, db.clone());
    seed_demo(&ctx, &Config::default()).await.unwrap();
    seed_demo(&ctx, &Config::default()).await.unwrap();
    for (number, role, _) in seed::DEMO_OFFICES {
        let office = store::get_office(&db, number).await.unwrap().unwrap();
        assert_eq!((office.role.as_str(), office.version), (role, 1), "{number}");
        assert_eq!(store::licence_periods(&db, number).await.unwrap().len(), 1, "{number}");
    }
    control.stop(Duration::from_secs(2)).await;

    // The seeded golden-file offices exchange a unit on SQLite.
    let server = TestServer::start_on(db.clone(), None).await;
    let mut care = server.client(Some(office(Role::CareOffice, CARE))).await;
    let mut prov = server.client(Some(office(Role::ServiceProvider, PROV))).await;
    let sent = care.send_bundle(usage_request(&rid(), usage_files())).await.unwrap().into_inner().bundle.unwrap();
    let inbox = prov.list_inbox(ListInboxRequest::default()).await.unwrap().into_inner();
    assert_eq!(inbox.bundles[0].bundle_id, sent.bundle_id);
    let (meta, files) = download(&mut prov, &sent.bundle_id).await;
    assert_eq!(meta.status, BundleStatus::Delivered as i32);
    assert_eq!(files, usage_files().into_iter().map(|f| (f.file_name, f.content)).collect::<Vec<_>>());
    server.shutdown().await;
    drop(db);
    let _ = std::fs::remove_dir_all(dir);
}

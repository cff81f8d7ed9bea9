//! `kaigo dev`: SQLite, attachment storage and key under the data directory, the demo seed.

use std::time::Duration;

use kaigo_documents::{Config, Migrator, seed};
use kaigo_platform::config::{DatabaseConfig, Secret};
use kaigo_platform::testkit::context;
use sea_orm_migration::MigratorTrait;

#[tokio::test]
async fn dev_defaults_live_in_the_data_directory_and_the_seed_is_idempotent() {
    let data = tempfile::tempdir().unwrap();
    let database = DatabaseConfig {
        url: Secret::new(format!("sqlite://{}", data.path().join("db").display())),
        max_connections: 4,
        ..DatabaseConfig::default()
    };
    let db = kaigo_platform::db::connect(&database, kaigo_documents::NAME).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    let (ctx, control) = context(kaigo_documents::NAME, db);
    kaigo_documents::seed_demo(&ctx, &Config::default()).await.unwrap();
    kaigo_documents::seed_demo(&ctx, &Config::default()).await.unwrap();
    let seeded = kaigo_documents::store::list_requests(
        &ctx.db,
        &kaigo_documents::store::ListFilter { limit: 10, ..Default::default() },
    )
    .await
    .unwrap();
    assert_eq!(seeded.len(), 1);
    assert_eq!(seeded[0].id, seed::DEMO_OPINION_REQUEST_ID);
    assert_eq!(seeded[0].application_id, seed::DEMO_APPLICATION_ID);

    let (_, keys) = kaigo_documents::resolve_storage(&ctx, &Config::default()).await.unwrap();
    let key_file = std::fs::metadata(data.path().join("documents-dev.key")).unwrap();
    assert!(key_file.is_file());
    let (_, again) = kaigo_documents::resolve_storage(&ctx, &Config::default()).await.unwrap();
    assert_eq!(keys.active_id(), again.active_id());
    kaigo_documents::start(&ctx, &Config::default()).await.unwrap();
    assert!(std::fs::metadata(data.path().join("files")).unwrap().is_dir());
    control.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn production_refuses_to_start_without_storage_or_keys() {
    let db = kaigo_platform::testkit::TestDatabase::create().await;
    let conn = kaigo_platform::db::connect(&db.config(), kaigo_documents::NAME).await.unwrap();
    let (ctx, _control) = context(kaigo_documents::NAME, conn);
    let err = kaigo_documents::start(&ctx, &Config::default()).await.err().unwrap();
    assert!(err.to_string().contains("documents.storage_url"), "{err}");
    let config = Config { storage_url: "file:///tmp/kaigo-documents-never-used".into(), ..Config::default() };
    let err = kaigo_documents::resolve_storage(&ctx, &config).await.err().unwrap();
    assert!(err.to_string().contains("documents.encryption_keys"), "{err}");
}

//! The demo data of `kaigo dev`: written once, on PostgreSQL and on SQLite (what `kaigo dev`
//! uses), and a second run changes nothing.

use kaigo_platform::config::{DatabaseConfig, Secret};
use kaigo_platform::testkit::{TestDatabase, context};
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};
use sea_orm_migration::MigratorTrait;

async fn seed_twice_and_report(db: DatabaseConnection) {
    kaigo_subsidies::Migrator::up(&db, None).await.unwrap();
    let (ctx, _control) = context(kaigo_subsidies::NAME, db.clone());
    let config = kaigo_subsidies::Config::default();
    kaigo_subsidies::seed_demo(&ctx, &config).await.unwrap();
    kaigo_subsidies::seed_demo(&ctx, &config).await.unwrap();
    let count = kaigo_subsidies::store::application::Entity::find().count(&db).await.unwrap();
    assert_eq!(count, 2);
    let rows = kaigo_subsidies::store::report(&db, "fy2025", None).await.unwrap();
    let keys: Vec<_> =
        rows.iter().map(|r| (r.prefecture_code.as_str(), r.category_key.as_str(), r.submitted_count)).collect();
    assert_eq!(keys, [("01", "hospital_200_plus", 1), ("21", "residential+visit_day_short_stay", 1)]);
    let gifu = kaigo_subsidies::store::report(&db, "fy2025", Some("21")).await.unwrap();
    assert_eq!(gifu.len(), 1);
}

#[tokio::test]
async fn demo_data_is_idempotent_on_postgresql() {
    let database = TestDatabase::create().await;
    let db = kaigo_platform::db::connect(&database.config(), kaigo_subsidies::NAME).await.unwrap();
    seed_twice_and_report(db).await;
}

#[tokio::test]
async fn demo_data_is_idempotent_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let config = DatabaseConfig {
        url: Secret::new(format!("sqlite://{}", dir.path().display())),
        max_connections: 4,
        ..DatabaseConfig::default()
    };
    let db = kaigo_platform::db::connect(&config, kaigo_subsidies::NAME).await.unwrap();
    seed_twice_and_report(db).await;
}

//! The history-and-returns migration on a database filled by the migrations before it: every
//! application stays, with attempt 1, no return reasons and one `recorded` history entry; the
//! service then works on it.

use kaigo_platform::testkit::TestDatabase;
use kaigo_proto::kaigo::subsidies::v1 as pb;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::MigratorTrait;

use crate::harness::{Service, care_costs, create_care, in_window, new_id, office};

/// The migrations before `HistoryAndReturns`.
const BEFORE: u32 = 6;

#[tokio::test]
async fn applications_written_before_the_upgrade_keep_everything_and_gain_a_recorded_history() {
    let database = TestDatabase::create().await;
    let db = kaigo_platform::db::connect(&database.config(), kaigo_subsidies::NAME).await.unwrap();
    kaigo_subsidies::Migrator::up(&db, Some(BEFORE)).await.unwrap();

    // An approved application as the version before stored it (its columns only).
    let number = office("21", 71);
    let id = uuid::Uuid::now_v7().to_string();
    let costs = format!(
        r#"{{"care_office":{{"office_number":"{number}","category_ids":["residential"],"readers":[{{"quantity":1,"unit_price_yen":20000}}],"connection_support_cost_yen":30000,"careplan_setup_cost_yen":0}}}}"#
    );
    let calculation = r#"{"programme_id":"fy2025","total_cost_yen":50000,"eligible_cost_yen":50000,"eligible_amount_yen":50000,"lines":[{"code":"ELIGIBLE_COST","description":"助成対象経費 50,000円（消費税込み）","amount_yen":50000,"limit_id":""}],"tier_id":null}"#;
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO applications (id, programme_id, applicant_kind, applicant_number, prefecture_code, \
           category_key, costs, calculation, eligible_amount_yen, status, approved_amount_yen, submitted_at, \
           created_at, updated_at, updated_by_role, updated_by_subject, updated_by_org, version) \
         VALUES ($1, 'fy2025', 'care_office', $2, '21', 'residential', $3, $4, 50000, 'approved', 45000, $5, $5, $5, \
           'operator', 'operator-7', '', 4)",
        [id.clone().into(), number.clone().into(), costs.into(), calculation.into(), in_window().into()],
    ))
    .await
    .unwrap();

    kaigo_subsidies::Migrator::up(&db, None).await.unwrap();
    let svc = Service::serve(database, db).await;

    // The office reads it as before, with its history since the upgrade.
    let app = svc
        .office_client(&number)
        .await
        .get_application(pb::GetApplicationRequest { application_id: id.clone() })
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    assert_eq!(app.status, pb::ApplicationStatus::Approved as i32);
    assert_eq!((app.approved_amount_yen, app.version, app.attempt), (45_000, 4, 1));
    assert!(app.return_reasons.is_empty());
    assert_eq!(app.calculation.unwrap().eligible_amount_yen, 50_000);
    let history: Vec<_> = app
        .history
        .iter()
        .map(|e| (e.version, e.action.as_str(), e.to_status, e.amount_yen, e.actor.as_ref().unwrap().subject.as_str()))
        .collect();
    assert_eq!(history, [(4, "recorded", pb::ApplicationStatus::Approved as i32, 45_000, "operator-7")]);
    assert_eq!(app.history[0].time.as_ref().map(|t| t.seconds), Some(in_window().timestamp()));

    // The one-per-applicant rule still holds on the migrated row (fy2025 allows no second one).
    let again = svc
        .office_client(&number)
        .await
        .create_application(create_care(care_costs(&number, &["residential"], &[(1, 10_000)], 0, 0)))
        .await
        .unwrap_err();
    assert_eq!(again.code(), tonic::Code::AlreadyExists);

    // A new application's history starts at its creation.
    let other = office("21", 72);
    let mut client = svc.office_client(&other).await;
    let mut create = create_care(care_costs(&other, &["other"], &[(1, 10_000)], 0, 0));
    create.request_id = new_id();
    let created = client.create_application(create).await.unwrap().into_inner().application.unwrap();
    let read = client
        .get_application(pb::GetApplicationRequest { application_id: created.application_id })
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    let actions: Vec<_> = read.history.iter().map(|e| (e.version, e.action.as_str())).collect();
    assert_eq!(actions, [(1, "create")]);
}

/// The same upgrade on SQLite, as a `kaigo dev` data directory of the version before meets it:
/// the row keeps its values, gains attempt 1 and a `recorded` entry, and the new unique index
/// is per attempt.
#[tokio::test]
async fn a_kaigo_dev_database_of_the_version_before_is_upgraded_in_place() {
    use kaigo_platform::config::{DatabaseConfig, Secret};
    let dir = tempfile::tempdir().unwrap();
    let config = DatabaseConfig {
        url: Secret::new(format!("sqlite://{}", dir.path().display())),
        max_connections: 4,
        ..DatabaseConfig::default()
    };
    let db = kaigo_platform::db::connect(&config, kaigo_subsidies::NAME).await.unwrap();
    kaigo_subsidies::Migrator::up(&db, Some(BEFORE)).await.unwrap();
    let number = office("21", 73);
    let insert = |id: String, extra: &'static str| {
        let db = db.clone();
        let number = number.clone();
        async move {
            db.execute_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                format!(
                    "INSERT INTO applications (id, programme_id, applicant_kind, applicant_number, prefecture_code, \
                       category_key, costs, calculation, eligible_amount_yen, status, rejection_reason, created_at, \
                       updated_at, updated_by_role, updated_by_subject, updated_by_org, version{}) \
                     VALUES (?, 'fy2025', 'care_office', ?, '21', 'other', '{{}}', '{{}}', 10000, 'rejected', 'no', ?, ?, \
                       'operator', 'operator-2', '', 3{})",
                    if extra.is_empty() { "" } else { ", attempt" },
                    extra
                ),
                [id.into(), number.into(), in_window().into(), in_window().into()],
            ))
            .await
        }
    };
    let id = uuid::Uuid::now_v7().to_string();
    insert(id.clone(), "").await.unwrap();

    kaigo_subsidies::Migrator::up(&db, None).await.unwrap();
    let latest = kaigo_subsidies::store::latest_by_applicant(&db, "fy2025", &number).await.unwrap().unwrap();
    assert_eq!((latest.id.as_str(), latest.attempt, latest.version), (id.as_str(), 1, 3));
    assert_eq!((latest.status.as_str(), latest.rejection_reason.as_deref()), ("rejected", Some("no")));
    assert_eq!(latest.return_reasons, None);
    let history = kaigo_subsidies::store::history_of(&db, &id).await.unwrap();
    let entries: Vec<_> = history
        .iter()
        .map(|e| (e.version, e.action.as_str(), e.to_status.as_str(), e.actor_subject.as_str()))
        .collect();
    assert_eq!(entries, [(3, "recorded", "rejected", "operator-2")]);
    // A second attempt is a new row; a second first attempt is refused by the database.
    assert!(insert(uuid::Uuid::now_v7().to_string(), ", 2").await.is_ok());
    let twice = insert(uuid::Uuid::now_v7().to_string(), ", 1").await.unwrap_err();
    assert!(kaigo_platform::db::is_unique_violation(&twice), "{twice}");
}

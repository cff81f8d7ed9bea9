//! Who a bundle is about: `service_evidence_sent`, which (person, office, service month) this
//! service has already published as `careplan.service_evidence`, so that a month's evidence
//! goes out once (docs/domain/access.md#registrations) whatever the number of bundles and
//! rows; and `bundle_persons`, the persons each bundle carries, so that one person's bundles
//! can be listed.

use sea_orm::{ConnectionTrait, DbErr, Statement, Value};
use sea_orm_migration::prelude::*;

/// Creates `service_evidence_sent`.
pub struct ServiceEvidenceMigration;

impl MigrationName for ServiceEvidenceMigration {
    fn name(&self) -> &str {
        "m20261204_000040_careplan_service_evidence_sent"
    }
}

#[derive(DeriveIden)]
enum ServiceEvidenceSent {
    Table,
    InsurerNumber,
    InsuredNumber,
    OfficeNumber,
    ServiceMonth,
    BundleId,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for ServiceEvidenceMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ServiceEvidenceSent as T;
        manager
            .create_table(
                Table::create()
                    .table(T::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(T::InsurerNumber).string_len(6).not_null())
                    .col(ColumnDef::new(T::InsuredNumber).string_len(10).not_null())
                    .col(ColumnDef::new(T::OfficeNumber).string_len(10).not_null())
                    .col(ColumnDef::new(T::ServiceMonth).string_len(6).not_null())
                    .col(ColumnDef::new(T::BundleId).string_len(36).not_null())
                    .primary_key(
                        Index::create()
                            .col(T::InsurerNumber)
                            .col(T::InsuredNumber)
                            .col(T::OfficeNumber)
                            .col(T::ServiceMonth),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ServiceEvidenceSent::Table).if_exists().to_owned()).await
    }
}

/// Notes that the evidence of (person, office, month) goes out with `bundle_id`; false when it
/// already went out (nothing written).
pub async fn note_evidence(
    conn: &impl ConnectionTrait,
    insurer: &str,
    insured: &str,
    office: &str,
    month: &str,
    bundle_id: &str,
) -> Result<bool, DbErr> {
    let pg = kaigo_platform::db::is_postgres(conn);
    let p = |n: usize| if pg { format!("${n}") } else { "?".to_owned() };
    let sql = format!(
        "INSERT INTO service_evidence_sent (insurer_number, insured_number, office_number, service_month, bundle_id) \
         VALUES ({}, {}, {}, {}, {}) ON CONFLICT DO NOTHING",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5)
    );
    let values: Vec<Value> = vec![insurer.into(), insured.into(), office.into(), month.into(), bundle_id.into()];
    let done = conn.execute_raw(Statement::from_sql_and_values(conn.get_database_backend(), sql, values)).await?;
    Ok(done.rows_affected() > 0)
}

/// Creates `bundle_persons`: which persons each bundle (sent from now on) carries, so that
/// one person's bundles can be listed (docs/domain/access.md#in-kaigo).
pub struct BundlePersonsMigration;

impl MigrationName for BundlePersonsMigration {
    fn name(&self) -> &str {
        "m20261204_000041_careplan_bundle_persons"
    }
}

#[derive(DeriveIden)]
enum BundlePersons {
    Table,
    InsurerNumber,
    InsuredNumber,
    BundleId,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for BundlePersonsMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use BundlePersons as T;
        manager
            .create_table(
                Table::create()
                    .table(T::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(T::InsurerNumber).string_len(6).not_null())
                    .col(ColumnDef::new(T::InsuredNumber).string_len(10).not_null())
                    .col(ColumnDef::new(T::BundleId).string_len(36).not_null())
                    .primary_key(Index::create().col(T::InsurerNumber).col(T::InsuredNumber).col(T::BundleId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(BundlePersons::Table).if_exists().to_owned()).await
    }
}

/// Rows per INSERT of [`insert_bundle_persons`] (three values each).
const PERSONS_PER_INSERT: usize = 500;

/// Records the persons of bundle `bundle_id`, a few hundred rows per statement.
pub async fn insert_bundle_persons(
    conn: &impl ConnectionTrait,
    bundle_id: &str,
    persons: &[(String, String)],
) -> Result<(), DbErr> {
    let pg = kaigo_platform::db::is_postgres(conn);
    for chunk in persons.chunks(PERSONS_PER_INSERT) {
        let mut rows = Vec::with_capacity(chunk.len());
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 3);
        for (i, (insurer, insured)) in chunk.iter().enumerate() {
            rows.push(if pg {
                format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3)
            } else {
                "(?, ?, ?)".to_owned()
            });
            values.extend([insurer.as_str().into(), insured.as_str().into(), bundle_id.into()]);
        }
        let sql = format!(
            "INSERT INTO bundle_persons (insurer_number, insured_number, bundle_id) VALUES {} ON CONFLICT DO NOTHING",
            rows.join(", ")
        );
        conn.execute_raw(Statement::from_sql_and_values(conn.get_database_backend(), sql, values)).await?;
    }
    Ok(())
}

/// The ids of the bundles carrying the person, newest first, before `before_id` (exclusive).
pub async fn person_bundle_ids(
    conn: &impl ConnectionTrait,
    insurer: &str,
    insured: &str,
    before_id: Option<&str>,
    limit: u64,
) -> Result<Vec<String>, DbErr> {
    let pg = kaigo_platform::db::is_postgres(conn);
    let p = |n: usize| if pg { format!("${n}") } else { "?".to_owned() };
    let mut values: Vec<Value> = vec![insurer.into(), insured.into()];
    let mut sql =
        format!("SELECT bundle_id FROM bundle_persons WHERE insurer_number = {} AND insured_number = {}", p(1), p(2));
    if let Some(before) = before_id {
        sql.push_str(&format!(" AND bundle_id < {}", p(3)));
        values.push(before.into());
    }
    sql.push_str(&format!(" ORDER BY bundle_id DESC LIMIT {limit}"));
    let rows = conn.query_all_raw(Statement::from_sql_and_values(conn.get_database_backend(), sql, values)).await?;
    rows.iter().map(|r| r.try_get::<String>("", "bundle_id")).collect()
}

/// The ids of the bundles carrying the person (保険者番号, 被保険者番号) whose kind is one of `kinds` — those of
/// `monthly_kinds` only for service month `month` (YYYYMM) — newest first, before `before_id`
/// (exclusive): the units a care-plan summary reads (docs/domain/careplan-csv.md#summary).
pub async fn person_units(
    conn: &impl ConnectionTrait,
    (insurer, insured): (&str, &str),
    kinds: &[i32],
    monthly_kinds: &[i32],
    month: &str,
    before_id: Option<&str>,
    limit: u64,
) -> Result<Vec<String>, DbErr> {
    let pg = kaigo_platform::db::is_postgres(conn);
    let mut values: Vec<Value> = Vec::new();
    let mut p = |v: Value| {
        values.push(v);
        if pg { format!("${}", values.len()) } else { "?".to_owned() }
    };
    let (insurer, insured) = (p(insurer.into()), p(insured.into()));
    // Kinds are the contract's enum values, numbers not text: listed inline.
    let list = |k: &[i32]| {
        if k.is_empty() { "NULL".to_owned() } else { k.iter().map(i32::to_string).collect::<Vec<_>>().join(", ") }
    };
    let month = p(month.into());
    let mut sql = format!(
        "SELECT b.id FROM bundle_persons p JOIN bundles b ON b.id = p.bundle_id \
         WHERE p.insurer_number = {insurer} AND p.insured_number = {insured} \
         AND (b.kind IN ({}) OR (b.kind IN ({}) AND b.service_month = {month}))",
        list(kinds),
        list(monthly_kinds)
    );
    if let Some(before) = before_id {
        let before = p(before.into());
        sql.push_str(&format!(" AND b.id < {before}"));
    }
    sql.push_str(&format!(" ORDER BY b.id DESC LIMIT {limit}"));
    let rows = conn.query_all_raw(Statement::from_sql_and_values(conn.get_database_backend(), sql, values)).await?;
    rows.iter().map(|r| r.try_get::<String>("", "id")).collect()
}

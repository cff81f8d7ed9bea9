//! The eligibility schema: persons, their periods, idempotency keys and the audit log.

use kaigo_platform::idempotency::migration::LegacyTable;
use kaigo_platform::legacy::{LegacyCopy, LegacyKitMigration};
use sea_orm_migration::prelude::*;

/// Creates the eligibility tables.
pub struct CreateTables;

impl MigrationName for CreateTables {
    fn name(&self) -> &str {
        "m20261129_000100_eligibility_tables"
    }
}

#[derive(DeriveIden)]
pub enum Persons {
    Table,
    Id,
    InsurerNumber,
    InsuredNumber,
    NameKanji,
    NameKana,
    BirthDate,
    Sex,
    Category,
    AcquiredDate,
    LostDate,
    CardIssuedDate,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub enum Records {
    Table,
    Id,
    PersonId,
    Kind,
    State,
    StartDate,
    EndDate,
    Detail,
    Supersedes,
    SupersededBy,
    RecordedAt,
    RecordedByRole,
    RecordedBySubject,
    RecordedByOrg,
    ChangeReason,
}

#[derive(DeriveIden)]
pub enum Requests {
    Table,
    RequestId,
    Operation,
    RequestHash,
    Response,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum AuditLog {
    Table,
    Id,
    At,
    CallerRole,
    CallerOrg,
    CallerSubject,
    Rpc,
    Purpose,
    InsurerNumber,
    InsuredNumber,
    Outcome,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for CreateTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Persons::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Persons::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(Persons::InsurerNumber).string_len(6).not_null())
                    .col(ColumnDef::new(Persons::InsuredNumber).string_len(10).not_null())
                    .col(ColumnDef::new(Persons::NameKanji).text().not_null())
                    .col(ColumnDef::new(Persons::NameKana).text().not_null())
                    .col(ColumnDef::new(Persons::BirthDate).date().null())
                    .col(ColumnDef::new(Persons::Sex).small_integer().not_null())
                    .col(ColumnDef::new(Persons::Category).small_integer().not_null())
                    .col(ColumnDef::new(Persons::AcquiredDate).date().null())
                    .col(ColumnDef::new(Persons::LostDate).date().null())
                    .col(ColumnDef::new(Persons::CardIssuedDate).date().null())
                    .col(ColumnDef::new(Persons::Version).big_integer().not_null())
                    .col(ColumnDef::new(Persons::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("persons_by_number")
                    .table(Persons::Table)
                    .col(Persons::InsurerNumber)
                    .col(Persons::InsuredNumber)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Records::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Records::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(Records::PersonId).big_integer().not_null())
                    .col(ColumnDef::new(Records::Kind).small_integer().not_null())
                    .col(ColumnDef::new(Records::State).small_integer().not_null())
                    .col(ColumnDef::new(Records::StartDate).date().not_null())
                    .col(ColumnDef::new(Records::EndDate).date().null())
                    .col(ColumnDef::new(Records::Detail).text().not_null())
                    .col(ColumnDef::new(Records::Supersedes).big_integer().null())
                    .col(ColumnDef::new(Records::SupersededBy).big_integer().null())
                    .col(ColumnDef::new(Records::RecordedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Records::RecordedByRole).string().not_null())
                    .col(ColumnDef::new(Records::RecordedBySubject).string().not_null())
                    .col(ColumnDef::new(Records::RecordedByOrg).string().not_null())
                    .col(ColumnDef::new(Records::ChangeReason).text().not_null())
                    .foreign_key(
                        ForeignKey::create().from(Records::Table, Records::PersonId).to(Persons::Table, Persons::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("records_by_person")
                    .table(Records::Table)
                    .col(Records::PersonId)
                    .col(Records::State)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Requests::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Requests::RequestId).string_len(64).not_null().primary_key())
                    .col(ColumnDef::new(Requests::Operation).string().not_null())
                    .col(ColumnDef::new(Requests::RequestHash).string_len(64).not_null())
                    .col(ColumnDef::new(Requests::Response).binary().not_null())
                    .col(ColumnDef::new(Requests::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(AuditLog::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(AuditLog::At).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(AuditLog::CallerRole).string().not_null())
                    .col(ColumnDef::new(AuditLog::CallerOrg).string().not_null())
                    .col(ColumnDef::new(AuditLog::CallerSubject).string().not_null())
                    .col(ColumnDef::new(AuditLog::Rpc).string().not_null())
                    .col(ColumnDef::new(AuditLog::Purpose).string().not_null())
                    .col(ColumnDef::new(AuditLog::InsurerNumber).string_len(6).not_null())
                    .col(ColumnDef::new(AuditLog::InsuredNumber).string_len(10).not_null())
                    .col(ColumnDef::new(AuditLog::Outcome).string().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_by_person")
                    .table(AuditLog::Table)
                    .col(AuditLog::InsurerNumber)
                    .col(AuditLog::InsuredNumber)
                    .col(AuditLog::At)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditLog::Table.into_iden(),
            Requests::Table.into_iden(),
            Records::Table.into_iden(),
            Persons::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

/// Moves the stored answers in `requests` into the platform's `idempotency_records` and drops
/// the old table, so a retry that arrives across the upgrade still gets its first answer. The
/// old hash was SHA-256 of the encoded request, as the platform's is, so a reused request id
/// with another body is still refused; the old table did not record the caller, so the copied
/// answers have no party (they replay to any caller authorised for the person, as before).
pub fn copy_requests() -> LegacyKitMigration {
    LegacyKitMigration {
        name: "m20261204_000100_eligibility_idempotency_records",
        copy: LegacyCopy::Idempotency(LegacyTable {
            table: "requests",
            party_column: None,
            rpc_column: Some("operation"),
            rpc_default: "",
            response_column: "response",
            created_column: "created_at",
            compatible_hash_column: Some("request_hash"),
        }),
    }
}

/// Moves the read audit of `audit_log` into the platform's `audit_trail` and drops the old
/// table: every past read stays on record, one record per old row, naming its person. The
/// old outcome words for a refusal, an unknown person and a history read become the trail's
/// `denied`, `not_found` and `allowed`; verdicts stay as they were recorded. Reads by callers
/// without an organisation are attributed to `<role>:<subject>`, the platform's party.
pub fn copy_audit_log() -> LegacyKitMigration {
    LegacyKitMigration {
        name: "m20261204_000200_eligibility_audit_trail",
        copy: LegacyCopy::Audit {
            table: "audit_log",
            select: "SELECT at, caller_role, \
             CASE WHEN caller_org = '' THEN caller_role || ':' || caller_subject ELSE caller_org END AS caller_party, \
             caller_subject, rpc, 'eligibility' AS category, purpose, \
             CASE outcome WHEN 'DENIED' THEN 'denied' WHEN 'NOT_FOUND' THEN 'not_found' WHEN 'OK' THEN 'allowed' \
             ELSE outcome END AS outcome, \
             insurer_number || ':' || insured_number AS person, '' AS resource FROM audit_log"
                .to_owned(),
        },
    }
}

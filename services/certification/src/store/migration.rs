//! The certification schema. Applied after the platform's event tables; columns and indexes
//! spelt with the platform's `db::schema` helpers (the same SQL as when it was released).

use kaigo_platform::db::schema;
use sea_orm_migration::prelude::*;

/// Creates the workflow tables.
pub struct CertificationTables;

impl MigrationName for CertificationTables {
    fn name(&self) -> &str {
        "m20261201_000001_certification_tables"
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Applications {
    Table,
    Id,
    InsurerNumber,
    InsuredNumber,
    ActingOfficeNumber,
    Status,
    ApplicationDate,
    DecisionDate,
    LegalDeadline,
    EffectiveDeadline,
    Version,
    Body,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ApplicationSteps {
    Table,
    ApplicationId,
    Sequence,
    Kind,
    OccurTime,
    RecordTime,
    ActorRole,
    ActorSubject,
    ActorOrganization,
    Summary,
}

#[derive(DeriveIden, Clone, Copy)]
enum DelayNotices {
    Table,
    ApplicationId,
    Ordinal,
    NoticeDate,
    ExpectedDate,
    Reason,
    ReasonText,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Certifications {
    Table,
    ApplicationId,
    InsurerNumber,
    InsuredNumber,
    CareLevel,
    ValidityStart,
    ValidityEnd,
    DecisionDate,
}

#[derive(DeriveIden, Clone, Copy)]
enum IdempotencyKeys {
    Table,
    RequestId,
    Rpc,
    RequestHash,
    Response,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ReadAudit {
    Table,
    Id,
    ReadAt,
    Rpc,
    CallerRole,
    CallerSubject,
    CallerOrganization,
    ApplicationId,
    Outcome,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for CertificationTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Applications::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Applications::Id).string_len(36).not_null().primary_key())
                    .col(ColumnDef::new(Applications::InsurerNumber).string_len(6).not_null())
                    .col(ColumnDef::new(Applications::InsuredNumber).string_len(10).not_null())
                    .col(ColumnDef::new(Applications::ActingOfficeNumber).string_len(10).null())
                    .col(ColumnDef::new(Applications::Status).string_len(20).not_null())
                    .col(ColumnDef::new(Applications::ApplicationDate).date().not_null())
                    .col(ColumnDef::new(Applications::DecisionDate).date().null())
                    .col(ColumnDef::new(Applications::LegalDeadline).date().not_null())
                    .col(ColumnDef::new(Applications::EffectiveDeadline).date().not_null())
                    .col(schema::big_int(Applications::Version))
                    .col(ColumnDef::new(Applications::Body).json_binary().not_null())
                    .col(schema::time(Applications::CreatedAt))
                    .col(schema::time(Applications::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // Overdue / at-risk queries: an insurer's open applications by deadline.
        schema::index(
            manager,
            Index::create()
                .name("applications_insurer_status_deadline")
                .table(Applications::Table)
                .col(Applications::InsurerNumber)
                .col(Applications::Status)
                .col(Applications::EffectiveDeadline)
                .to_owned(),
        )
        .await?;
        // Statistics and lists by application date.
        schema::index(
            manager,
            Index::create()
                .name("applications_insurer_date")
                .table(Applications::Table)
                .col(Applications::InsurerNumber)
                .col(Applications::ApplicationDate)
                .to_owned(),
        )
        .await?;
        // A care office's applications.
        schema::index(
            manager,
            Index::create()
                .name("applications_office")
                .table(Applications::Table)
                .col(Applications::ActingOfficeNumber)
                .col(Applications::ApplicationDate)
                .to_owned(),
        )
        .await?;
        // One person's applications (the "one open application" rule).
        schema::index(
            manager,
            Index::create()
                .name("applications_person")
                .table(Applications::Table)
                .col(Applications::InsurerNumber)
                .col(Applications::InsuredNumber)
                .to_owned(),
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApplicationSteps::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(ApplicationSteps::ApplicationId).string_len(36).not_null())
                    .col(schema::big_int(ApplicationSteps::Sequence))
                    .col(schema::int(ApplicationSteps::Kind))
                    .col(schema::time(ApplicationSteps::OccurTime))
                    .col(schema::time(ApplicationSteps::RecordTime))
                    .col(schema::int(ApplicationSteps::ActorRole))
                    .col(schema::text(ApplicationSteps::ActorSubject))
                    .col(schema::text(ApplicationSteps::ActorOrganization))
                    .col(ColumnDef::new(ApplicationSteps::Summary).text().not_null())
                    .primary_key(Index::create().col(ApplicationSteps::ApplicationId).col(ApplicationSteps::Sequence))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DelayNotices::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(DelayNotices::ApplicationId).string_len(36).not_null())
                    .col(schema::int(DelayNotices::Ordinal))
                    .col(ColumnDef::new(DelayNotices::NoticeDate).date().not_null())
                    .col(ColumnDef::new(DelayNotices::ExpectedDate).date().not_null())
                    .col(schema::int(DelayNotices::Reason))
                    .col(ColumnDef::new(DelayNotices::ReasonText).text().not_null())
                    .col(schema::time(DelayNotices::CreatedAt))
                    .primary_key(Index::create().col(DelayNotices::ApplicationId).col(DelayNotices::Ordinal))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Certifications::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Certifications::ApplicationId).string_len(36).not_null().primary_key())
                    .col(ColumnDef::new(Certifications::InsurerNumber).string_len(6).not_null())
                    .col(ColumnDef::new(Certifications::InsuredNumber).string_len(10).not_null())
                    .col(ColumnDef::new(Certifications::CareLevel).string_len(2).not_null())
                    .col(ColumnDef::new(Certifications::ValidityStart).date().null())
                    .col(ColumnDef::new(Certifications::ValidityEnd).date().null())
                    .col(ColumnDef::new(Certifications::DecisionDate).date().not_null())
                    .to_owned(),
            )
            .await?;
        schema::index(
            manager,
            Index::create()
                .name("certifications_person")
                .table(Certifications::Table)
                .col(Certifications::InsurerNumber)
                .col(Certifications::InsuredNumber)
                .to_owned(),
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(IdempotencyKeys::RequestId).string_len(64).not_null().primary_key())
                    .col(ColumnDef::new(IdempotencyKeys::Rpc).string_len(64).not_null())
                    .col(ColumnDef::new(IdempotencyKeys::RequestHash).string_len(64).not_null())
                    .col(ColumnDef::new(IdempotencyKeys::Response).binary().not_null())
                    .col(schema::time(IdempotencyKeys::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ReadAudit::Table)
                    .if_not_exists()
                    .col(schema::serial(ReadAudit::Id))
                    .col(schema::time(ReadAudit::ReadAt))
                    .col(ColumnDef::new(ReadAudit::Rpc).string_len(64).not_null())
                    .col(ColumnDef::new(ReadAudit::CallerRole).string_len(32).not_null())
                    .col(schema::text(ReadAudit::CallerSubject))
                    .col(schema::text(ReadAudit::CallerOrganization))
                    .col(ColumnDef::new(ReadAudit::ApplicationId).string_len(36).not_null())
                    .col(ColumnDef::new(ReadAudit::Outcome).string_len(32).not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in
            ["read_audit", "idempotency_keys", "certifications", "delay_notices", "application_steps", "applications"]
        {
            manager.drop_table(Table::drop().table(Alias::new(table)).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}

/// Adds `applications.on_time_until`: the last day a decision counts as on time — the 30-day
/// deadline, or for a renewal the end of the certification it renews
/// (docs/domain/certification.md#renewal-deadline). Rows stored before get their legal deadline.
pub struct OnTimeUntil;

impl MigrationName for OnTimeUntil {
    fn name(&self) -> &str {
        "m20261204_170000_certification_on_time_until"
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum OnTime {
    OnTimeUntil,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for OnTimeUntil {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .add_column(ColumnDef::new(OnTime::OnTimeUntil).date().null())
                    .to_owned(),
            )
            .await?;
        let fill = Query::update()
            .table(Applications::Table)
            .value(OnTime::OnTimeUntil, Expr::col(Applications::LegalDeadline))
            .to_owned();
        manager.exec_stmt(fill).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Applications::Table).drop_column(OnTime::OnTimeUntil).to_owned()).await
    }
}

//! The certification schema. Applied after the platform's event tables.

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
                    .col(ColumnDef::new(Applications::Version).big_integer().not_null())
                    .col(ColumnDef::new(Applications::Body).json_binary().not_null())
                    .col(ColumnDef::new(Applications::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Applications::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        // Overdue / at-risk queries: an insurer's open applications by deadline.
        index(
            manager,
            "applications_insurer_status_deadline",
            Applications::Table,
            &[Applications::InsurerNumber, Applications::Status, Applications::EffectiveDeadline],
        )
        .await?;
        // Statistics and lists by application date.
        index(
            manager,
            "applications_insurer_date",
            Applications::Table,
            &[Applications::InsurerNumber, Applications::ApplicationDate],
        )
        .await?;
        // A care office's applications.
        index(
            manager,
            "applications_office",
            Applications::Table,
            &[Applications::ActingOfficeNumber, Applications::ApplicationDate],
        )
        .await?;
        // One person's applications (the "one open application" rule).
        index(
            manager,
            "applications_person",
            Applications::Table,
            &[Applications::InsurerNumber, Applications::InsuredNumber],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApplicationSteps::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(ApplicationSteps::ApplicationId).string_len(36).not_null())
                    .col(ColumnDef::new(ApplicationSteps::Sequence).big_integer().not_null())
                    .col(ColumnDef::new(ApplicationSteps::Kind).integer().not_null())
                    .col(ColumnDef::new(ApplicationSteps::OccurTime).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(ApplicationSteps::RecordTime).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(ApplicationSteps::ActorRole).integer().not_null())
                    .col(ColumnDef::new(ApplicationSteps::ActorSubject).string().not_null())
                    .col(ColumnDef::new(ApplicationSteps::ActorOrganization).string().not_null())
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
                    .col(ColumnDef::new(DelayNotices::Ordinal).integer().not_null())
                    .col(ColumnDef::new(DelayNotices::NoticeDate).date().not_null())
                    .col(ColumnDef::new(DelayNotices::ExpectedDate).date().not_null())
                    .col(ColumnDef::new(DelayNotices::Reason).integer().not_null())
                    .col(ColumnDef::new(DelayNotices::ReasonText).text().not_null())
                    .col(ColumnDef::new(DelayNotices::CreatedAt).timestamp_with_time_zone().not_null())
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
        index(
            manager,
            "certifications_person",
            Certifications::Table,
            &[Certifications::InsurerNumber, Certifications::InsuredNumber],
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
                    .col(ColumnDef::new(IdempotencyKeys::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ReadAudit::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(ReadAudit::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(ReadAudit::ReadAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(ReadAudit::Rpc).string_len(64).not_null())
                    .col(ColumnDef::new(ReadAudit::CallerRole).string_len(32).not_null())
                    .col(ColumnDef::new(ReadAudit::CallerSubject).string().not_null())
                    .col(ColumnDef::new(ReadAudit::CallerOrganization).string().not_null())
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

async fn index<T: Iden + Clone + 'static>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    cols: &[T],
) -> Result<(), DbErr> {
    let mut stmt = Index::create();
    stmt.name(name).table(table).if_not_exists();
    for col in cols {
        stmt.col(col.clone());
    }
    manager.create_index(stmt.to_owned()).await
}

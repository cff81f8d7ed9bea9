//! The documents schema. Constraints carry the workflow invariants too: one version per
//! (request, revision) and one successor per version, so two racing submissions cannot both
//! become "the next version".

use kaigo_platform::db::schema::{big_int, bytes, id, index, int, nullable_text, nullable_time, serial, text, time};
use sea_orm_migration::prelude::*;

/// Creates the documents tables.
pub struct DocumentsTablesMigration;

impl MigrationName for DocumentsTablesMigration {
    fn name(&self) -> &str {
        "m20261201_000001_documents_tables"
    }
}

#[derive(DeriveIden)]
enum OpinionRequests {
    Table,
    Id,
    ApplicationId,
    InsurerNumber,
    InsuredNumber,
    InstitutionCode,
    CareOfficeNumber,
    PhysicianName,
    Kind,
    DueDate,
    Applicant,
    Status,
    LatestOpinionId,
    RequestedBySubject,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Opinions {
    Table,
    Id,
    OpinionRequestId,
    ApplicationId,
    InsurerNumber,
    InsuredNumber,
    InstitutionCode,
    CareOfficeNumber,
    PreviousOpinionId,
    Revision,
    Status,
    FormEdition,
    Content,
    SubmittedBySubject,
    SubmittedAt,
    ReceivedBySubject,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum Attachments {
    Table,
    Id,
    Purpose,
    SubjectId,
    FileName,
    ContentType,
    SizeBytes,
    Sha256Hex,
    KeyId,
    BlobKey,
    UploadedByRole,
    UploadedBySubject,
    UploadedByOrg,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Idempotency {
    Table,
    RequestId,
    Rpc,
    CallerOrg,
    RequestHash,
    Response,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    ActorRole,
    ActorSubject,
    ActorOrg,
    Action,
    ResourceKind,
    ResourceId,
    InsurerNumber,
    InsuredNumber,
    Purpose,
    Outcome,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for DocumentsTablesMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OpinionRequests::Table)
                    .if_not_exists()
                    .col(id(OpinionRequests::Id))
                    .col(text(OpinionRequests::ApplicationId))
                    .col(text(OpinionRequests::InsurerNumber))
                    .col(text(OpinionRequests::InsuredNumber))
                    .col(text(OpinionRequests::InstitutionCode))
                    .col(nullable_text(OpinionRequests::CareOfficeNumber))
                    .col(text(OpinionRequests::PhysicianName))
                    .col(int(OpinionRequests::Kind))
                    .col(ColumnDef::new(OpinionRequests::DueDate).date().null())
                    .col(bytes(OpinionRequests::Applicant))
                    .col(int(OpinionRequests::Status))
                    .col(nullable_text(OpinionRequests::LatestOpinionId))
                    .col(text(OpinionRequests::RequestedBySubject))
                    .col(time(OpinionRequests::CreatedAt))
                    .col(time(OpinionRequests::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("opinion_requests_by_institution", OpinionRequests::InstitutionCode),
            ("opinion_requests_by_insurer", OpinionRequests::InsurerNumber),
            ("opinion_requests_by_application", OpinionRequests::ApplicationId),
        ] {
            index(
                manager,
                Index::create().name(name).table(OpinionRequests::Table).col(col).col(OpinionRequests::Id).to_owned(),
            )
            .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Opinions::Table)
                    .if_not_exists()
                    .col(id(Opinions::Id))
                    .col(text(Opinions::OpinionRequestId))
                    .col(text(Opinions::ApplicationId))
                    .col(text(Opinions::InsurerNumber))
                    .col(text(Opinions::InsuredNumber))
                    .col(text(Opinions::InstitutionCode))
                    .col(nullable_text(Opinions::CareOfficeNumber))
                    .col(nullable_text(Opinions::PreviousOpinionId))
                    .col(int(Opinions::Revision))
                    .col(int(Opinions::Status))
                    .col(int(Opinions::FormEdition))
                    .col(bytes(Opinions::Content))
                    .col(text(Opinions::SubmittedBySubject))
                    .col(time(Opinions::SubmittedAt))
                    .col(nullable_text(Opinions::ReceivedBySubject))
                    .col(nullable_time(Opinions::ReceivedAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            Index::create()
                .name("opinions_one_version_per_revision")
                .table(Opinions::Table)
                .col(Opinions::OpinionRequestId)
                .col(Opinions::Revision)
                .unique()
                .to_owned(),
        )
        .await?;
        // NULLs are distinct in a unique index: many first versions, one successor each.
        index(
            manager,
            Index::create()
                .name("opinions_one_successor")
                .table(Opinions::Table)
                .col(Opinions::PreviousOpinionId)
                .unique()
                .to_owned(),
        )
        .await?;
        for (name, col) in [
            ("opinions_by_institution", Opinions::InstitutionCode),
            ("opinions_by_insurer", Opinions::InsurerNumber),
            ("opinions_by_application", Opinions::ApplicationId),
        ] {
            index(manager, Index::create().name(name).table(Opinions::Table).col(col).col(Opinions::Id).to_owned())
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Attachments::Table)
                    .if_not_exists()
                    .col(id(Attachments::Id))
                    .col(int(Attachments::Purpose))
                    .col(text(Attachments::SubjectId))
                    .col(text(Attachments::FileName))
                    .col(text(Attachments::ContentType))
                    .col(big_int(Attachments::SizeBytes))
                    .col(text(Attachments::Sha256Hex))
                    .col(text(Attachments::KeyId))
                    .col(text(Attachments::BlobKey))
                    .col(text(Attachments::UploadedByRole))
                    .col(text(Attachments::UploadedBySubject))
                    .col(text(Attachments::UploadedByOrg))
                    .col(time(Attachments::CreatedAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            Index::create()
                .name("attachments_by_subject")
                .table(Attachments::Table)
                .col(Attachments::SubjectId)
                .to_owned(),
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Idempotency::Table)
                    .if_not_exists()
                    .col(id(Idempotency::RequestId))
                    .col(text(Idempotency::Rpc))
                    .col(text(Idempotency::CallerOrg))
                    .col(text(Idempotency::RequestHash))
                    .col(bytes(Idempotency::Response))
                    .col(time(Idempotency::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .if_not_exists()
                    .col(serial(AuditLog::Id))
                    .col(time(AuditLog::At))
                    .col(text(AuditLog::ActorRole))
                    .col(text(AuditLog::ActorSubject))
                    .col(text(AuditLog::ActorOrg))
                    .col(text(AuditLog::Action))
                    .col(text(AuditLog::ResourceKind))
                    .col(text(AuditLog::ResourceId))
                    .col(text(AuditLog::InsurerNumber))
                    .col(text(AuditLog::InsuredNumber))
                    .col(int(AuditLog::Purpose))
                    .col(text(AuditLog::Outcome))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            Index::create()
                .name("audit_log_by_person")
                .table(AuditLog::Table)
                .col(AuditLog::InsurerNumber)
                .col(AuditLog::InsuredNumber)
                .col(AuditLog::At)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditLog::Table.into_iden(),
            Idempotency::Table.into_iden(),
            Attachments::Table.into_iden(),
            Opinions::Table.into_iden(),
            OpinionRequests::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}

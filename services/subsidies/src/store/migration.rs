//! The subsidies schema: applications, their evidence references, idempotency keys and the
//! read audit.

use sea_orm_migration::prelude::*;

/// Creates the subsidies tables.
pub struct ApplicationTablesMigration;

impl MigrationName for ApplicationTablesMigration {
    fn name(&self) -> &str {
        "m20261201_000001_subsidy_applications"
    }
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
    ProgrammeId,
    ApplicantKind,
    ApplicantNumber,
    PrefectureCode,
    CategoryKey,
    Costs,
    Calculation,
    EligibleAmountYen,
    Status,
    ApprovedAmountYen,
    RejectionReason,
    PaidAmountYen,
    PaidDate,
    PaymentReference,
    SubmittedAt,
    CreatedAt,
    UpdatedAt,
    UpdatedByRole,
    UpdatedBySubject,
    UpdatedByOrg,
    Version,
}

#[derive(DeriveIden)]
enum ApplicationEvidence {
    Table,
    ApplicationId,
    AttachmentId,
    Kind,
    Description,
    AttachedAt,
    AttachedBySubject,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    RequestId,
    RequestHash,
    Response,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApplicationReads {
    Table,
    Id,
    ReadAt,
    Rpc,
    Subject,
    Role,
    Organization,
    ApplicationId,
    Purpose,
    Outcome,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for ApplicationTablesMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Applications as A;
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(A::Id).string_len(36).not_null().primary_key())
                    .col(ColumnDef::new(A::ProgrammeId).string_len(64).not_null())
                    .col(ColumnDef::new(A::ApplicantKind).string_len(32).not_null())
                    .col(ColumnDef::new(A::ApplicantNumber).string_len(10).not_null())
                    .col(ColumnDef::new(A::PrefectureCode).string_len(2).not_null())
                    .col(ColumnDef::new(A::CategoryKey).string_len(256).not_null())
                    .col(ColumnDef::new(A::Costs).text().not_null())
                    .col(ColumnDef::new(A::Calculation).text().not_null())
                    .col(ColumnDef::new(A::EligibleAmountYen).big_integer().not_null())
                    .col(ColumnDef::new(A::Status).string_len(16).not_null())
                    .col(ColumnDef::new(A::ApprovedAmountYen).big_integer().null())
                    .col(ColumnDef::new(A::RejectionReason).text().null())
                    .col(ColumnDef::new(A::PaidAmountYen).big_integer().null())
                    .col(ColumnDef::new(A::PaidDate).date().null())
                    .col(ColumnDef::new(A::PaymentReference).string_len(64).null())
                    .col(ColumnDef::new(A::SubmittedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(A::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(A::UpdatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(A::UpdatedByRole).string_len(32).not_null())
                    .col(ColumnDef::new(A::UpdatedBySubject).string_len(256).not_null())
                    .col(ColumnDef::new(A::UpdatedByOrg).string_len(10).not_null())
                    .col(ColumnDef::new(A::Version).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        // One application per applicant per programme ("申請は1回のみ"): the database holds
        // the rule even when two requests race.
        manager
            .create_index(
                Index::create()
                    .name("applications_one_per_applicant")
                    .table(A::Table)
                    .col(A::ProgrammeId)
                    .col(A::ApplicantNumber)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("applications_by_prefecture")
                    .table(A::Table)
                    .col(A::ProgrammeId)
                    .col(A::PrefectureCode)
                    .col(A::Status)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        use ApplicationEvidence as E;
        manager
            .create_table(
                Table::create()
                    .table(E::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(E::ApplicationId).string_len(36).not_null())
                    .col(ColumnDef::new(E::AttachmentId).string_len(64).not_null())
                    .col(ColumnDef::new(E::Kind).string_len(16).not_null())
                    .col(ColumnDef::new(E::Description).text().not_null())
                    .col(ColumnDef::new(E::AttachedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(E::AttachedBySubject).string_len(256).not_null())
                    .primary_key(Index::create().col(E::ApplicationId).col(E::AttachmentId))
                    .foreign_key(
                        ForeignKey::create()
                            .name("application_evidence_application")
                            .from(E::Table, E::ApplicationId)
                            .to(A::Table, A::Id),
                    )
                    .to_owned(),
            )
            .await?;

        use IdempotencyKeys as K;
        manager
            .create_table(
                Table::create()
                    .table(K::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(K::RequestId).string_len(36).not_null().primary_key())
                    .col(ColumnDef::new(K::RequestHash).string_len(64).not_null())
                    .col(ColumnDef::new(K::Response).binary().not_null())
                    .col(ColumnDef::new(K::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;

        use ApplicationReads as R;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(R::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(R::ReadAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(R::Rpc).string_len(64).not_null())
                    .col(ColumnDef::new(R::Subject).string_len(256).not_null())
                    .col(ColumnDef::new(R::Role).string_len(32).not_null())
                    .col(ColumnDef::new(R::Organization).string_len(10).not_null())
                    .col(ColumnDef::new(R::ApplicationId).string_len(36).not_null())
                    .col(ColumnDef::new(R::Purpose).string_len(32).not_null())
                    .col(ColumnDef::new(R::Outcome).string_len(16).not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("application_reads_by_application")
                    .table(R::Table)
                    .col(R::ApplicationId)
                    .col(R::ReadAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ApplicationReads::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(IdempotencyKeys::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(ApplicationEvidence::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Applications::Table).to_owned()).await
    }
}

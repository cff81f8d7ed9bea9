//! The subsidies schema: applications, their evidence references, idempotency keys and the
//! read audit.

use kaigo_platform::idempotency::migration::LegacyTable;
use kaigo_platform::legacy::{LegacyCopy, LegacyKitMigration};
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

/// The writes whose answers `idempotency_keys` held. All of them answer with the application
/// (field 1 of every response), so a stored answer decodes as any of them.
const WRITE_RPCS: [&str; 8] = [
    "CreateApplication",
    "UpdateApplication",
    "SubmitApplication",
    "AttachEvidence",
    "ReviewApplication",
    "ApproveApplication",
    "RejectApplication",
    "RecordPayment",
];

/// Moves the answers in `idempotency_keys` into the platform's `idempotency_records` and drops
/// the old table, so a retry that arrives across the upgrade still gets its first answer.
///
/// The old table keyed answers by request id alone and hashed the RPC and the caller into the
/// request hash: neither the RPC nor the caller can be read back. Each old answer is therefore
/// copied once per write RPC (a request id is a fresh UUID per write, so only its own RPC will
/// ask for it), with no party and no hash: it replays on the key alone, after the caller has
/// been authorised for the application like every replay.
pub fn copy_idempotency_keys() -> LegacyKitMigration {
    let rpcs: Vec<String> = WRITE_RPCS.iter().map(|rpc| format!("SELECT '{rpc}' AS rpc")).collect();
    LegacyKitMigration {
        name: "m20261204_000100_subsidies_idempotency_records",
        copy: LegacyCopy::ReshapedIdempotency {
            source: "idempotency_keys",
            select: format!(
                "SELECT k.request_id AS request_id, r.rpc AS rpc, k.response AS response, k.created_at AS created_at \
                 FROM idempotency_keys k CROSS JOIN ({}) r",
                rpcs.join(" UNION ALL ")
            ),
            legacy: LegacyTable {
                table: "subsidies_idempotency_staging",
                party_column: None,
                rpc_column: Some("rpc"),
                rpc_default: "",
                response_column: "response",
                created_column: "created_at",
                compatible_hash_column: None,
            },
        },
    }
}

/// Moves the read audit of `application_reads` into the platform's `audit_trail` and drops the
/// old table: every past read stays on record. Old rows were one per application read; each
/// becomes a record naming that application (none for a report). Operators' reads, recorded
/// without an organisation, are attributed to `operator:<subject>` as the platform's party;
/// the old word `granted` becomes the trail's `allowed`.
pub fn copy_application_reads() -> LegacyKitMigration {
    LegacyKitMigration {
        name: "m20261204_000200_subsidies_audit_trail",
        copy: LegacyCopy::Audit {
            table: "application_reads",
            select: "SELECT read_at AS at, role AS caller_role, \
             CASE WHEN organization = '' THEN role || ':' || subject ELSE organization END AS caller_party, \
             subject AS caller_subject, rpc, \
             CASE WHEN application_id = '' THEN 'subsidy_report' ELSE 'subsidy_application' END AS category, \
             purpose, CASE WHEN outcome = 'granted' THEN 'allowed' ELSE outcome END AS outcome, \
             '' AS person, application_id AS resource FROM application_reads"
                .to_owned(),
        },
    }
}

#[derive(DeriveIden)]
enum ApplicationEvents {
    Table,
    ApplicationId,
    Version,
    Action,
    FromStatus,
    ToStatus,
    At,
    ActorRole,
    ActorSubject,
    ActorOrg,
    EligibleAmountYen,
    AmountYen,
    Reasons,
    Costs,
}

#[derive(DeriveIden)]
enum NewApplicationColumns {
    ReturnReasons,
    Attempt,
}

/// Returns for correction, applying again after a rejection, and the history of every change
/// (docs/domain/subsidies.md#workflow):
///
/// - `applications.return_reasons` (the latest return's reasons) and `applications.attempt`
///   (1 for every existing row);
/// - the one-per-applicant unique index becomes one per applicant and attempt, so a programme
///   that allows it can take a new application after a rejection while a race still cannot
///   create two;
/// - `application_events`, filled with one `recorded` entry per existing application: its state,
///   costs and last actor at the upgrade (the changes before it were not recorded, and the entry
///   says so rather than inventing them).
pub struct HistoryAndReturns;

impl MigrationName for HistoryAndReturns {
    fn name(&self) -> &str {
        "m20261204_000300_subsidies_history_and_returns"
    }
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for HistoryAndReturns {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Applications as A;
        use NewApplicationColumns as N;
        // One column per statement: SQLite alters one thing at a time.
        manager
            .alter_table(
                Table::alter().table(A::Table).add_column(ColumnDef::new(N::ReturnReasons).text().null()).to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(A::Table)
                    .add_column(ColumnDef::new(N::Attempt).integer().not_null().default(1))
                    .to_owned(),
            )
            .await?;
        manager.drop_index(Index::drop().name("applications_one_per_applicant").table(A::Table).to_owned()).await?;
        manager
            .create_index(
                Index::create()
                    .name("applications_one_per_attempt")
                    .table(A::Table)
                    .col(A::ProgrammeId)
                    .col(A::ApplicantNumber)
                    .col(N::Attempt)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        use ApplicationEvents as E;
        manager
            .create_table(
                Table::create()
                    .table(E::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(E::ApplicationId).string_len(36).not_null())
                    .col(ColumnDef::new(E::Version).big_integer().not_null())
                    .col(ColumnDef::new(E::Action).string_len(32).not_null())
                    .col(ColumnDef::new(E::FromStatus).string_len(16).not_null())
                    .col(ColumnDef::new(E::ToStatus).string_len(16).not_null())
                    .col(ColumnDef::new(E::At).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(E::ActorRole).string_len(32).not_null())
                    .col(ColumnDef::new(E::ActorSubject).string_len(256).not_null())
                    .col(ColumnDef::new(E::ActorOrg).string_len(10).not_null())
                    .col(ColumnDef::new(E::EligibleAmountYen).big_integer().not_null())
                    .col(ColumnDef::new(E::AmountYen).big_integer().null())
                    .col(ColumnDef::new(E::Reasons).text().not_null())
                    .col(ColumnDef::new(E::Costs).text().not_null())
                    .primary_key(Index::create().col(E::ApplicationId).col(E::Version))
                    .foreign_key(
                        ForeignKey::create()
                            .name("application_events_application")
                            .from(E::Table, E::ApplicationId)
                            .to(A::Table, A::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO application_events (application_id, version, action, from_status, to_status, at, \
                   actor_role, actor_subject, actor_org, eligible_amount_yen, amount_yen, reasons, costs) \
                 SELECT id, version, 'recorded', '', status, updated_at, updated_by_role, updated_by_subject, \
                   updated_by_org, eligible_amount_yen, \
                   CASE status WHEN 'paid' THEN paid_amount_yen WHEN 'approved' THEN approved_amount_yen END, \
                   '[]', costs FROM applications",
            )
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Applications as A;
        manager.drop_table(Table::drop().table(ApplicationEvents::Table).to_owned()).await?;
        manager.drop_index(Index::drop().name("applications_one_per_attempt").table(A::Table).to_owned()).await?;
        manager
            .create_index(
                Index::create()
                    .name("applications_one_per_applicant")
                    .table(A::Table)
                    .col(A::ProgrammeId)
                    .col(A::ApplicantNumber)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(Table::alter().table(A::Table).drop_column(NewApplicationColumns::Attempt).to_owned())
            .await?;
        manager
            .alter_table(Table::alter().table(A::Table).drop_column(NewApplicationColumns::ReturnReasons).to_owned())
            .await
    }
}

//! The careplan schema. Constraints carry the exchange's invariants: one bundle per
//! (sender, receiver, file sequence), so two racing sends of the same unit cannot both land.

use kaigo_platform::db::schema::{big_int, bytes, id, index, int, nullable_text, nullable_time, serial, text, time};
use sea_orm_migration::prelude::*;

/// Creates the registry, licence, bundle, idempotency and read-audit tables.
pub struct CarePlanTablesMigration;

impl MigrationName for CarePlanTablesMigration {
    fn name(&self) -> &str {
        "m20261129_000001_careplan_tables"
    }
}

#[derive(DeriveIden)]
enum Offices {
    Table,
    OfficeNumber,
    Role,
    Name,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum LicencePeriods {
    Table,
    Id,
    OfficeNumber,
    Kind,
    StartDate,
    EndDate,
    FeeYen,
    RuleSetId,
    PaymentReference,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Bundles {
    Table,
    Id,
    SenderOffice,
    SenderServiceType,
    ReceiverOffice,
    ReceiverServiceType,
    ServiceMonth,
    Kind,
    FileSequence,
    ContentHash,
    PersonCount,
    InsurerNumbers,
    Status,
    SentAt,
    SentBySubject,
    DeliveredAt,
    AcknowledgedAt,
    AcknowledgedBySubject,
    AcknowledgeNote,
    RequestId,
}

#[derive(DeriveIden)]
enum BundleFiles {
    Table,
    BundleId,
    Position,
    FileName,
    Kind,
    CsvVersion,
    SizeBytes,
    Sha256Hex,
    RecordCount,
    Content,
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
enum ReadAudit {
    Table,
    Id,
    At,
    ActorRole,
    ActorSubject,
    ActorOrg,
    Action,
    BundleId,
    Outcome,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for CarePlanTablesMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Offices::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Offices::OfficeNumber).string_len(10).not_null().primary_key())
                    .col(text(Offices::Role))
                    .col(text(Offices::Name))
                    .col(big_int(Offices::Version))
                    .col(time(Offices::CreatedAt))
                    .col(time(Offices::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LicencePeriods::Table)
                    .if_not_exists()
                    .col(serial(LicencePeriods::Id))
                    .col(text(LicencePeriods::OfficeNumber))
                    .col(int(LicencePeriods::Kind))
                    .col(ColumnDef::new(LicencePeriods::StartDate).date().not_null())
                    .col(ColumnDef::new(LicencePeriods::EndDate).date().not_null())
                    .col(big_int(LicencePeriods::FeeYen))
                    .col(text(LicencePeriods::RuleSetId))
                    .col(text(LicencePeriods::PaymentReference))
                    .col(time(LicencePeriods::CreatedAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            Index::create()
                .name("licence_periods_by_office")
                .table(LicencePeriods::Table)
                .col(LicencePeriods::OfficeNumber)
                .to_owned(),
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Bundles::Table)
                    .if_not_exists()
                    .col(id(Bundles::Id))
                    .col(text(Bundles::SenderOffice))
                    .col(text(Bundles::SenderServiceType))
                    .col(text(Bundles::ReceiverOffice))
                    .col(text(Bundles::ReceiverServiceType))
                    .col(text(Bundles::ServiceMonth))
                    .col(int(Bundles::Kind))
                    .col(text(Bundles::FileSequence))
                    .col(text(Bundles::ContentHash))
                    .col(int(Bundles::PersonCount))
                    .col(text(Bundles::InsurerNumbers))
                    .col(int(Bundles::Status))
                    .col(time(Bundles::SentAt))
                    .col(text(Bundles::SentBySubject))
                    .col(nullable_time(Bundles::DeliveredAt))
                    .col(nullable_time(Bundles::AcknowledgedAt))
                    .col(nullable_text(Bundles::AcknowledgedBySubject))
                    .col(text(Bundles::AcknowledgeNote))
                    .col(text(Bundles::RequestId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            Index::create()
                .name("bundles_one_per_sequence")
                .table(Bundles::Table)
                .col(Bundles::SenderOffice)
                .col(Bundles::ReceiverOffice)
                .col(Bundles::FileSequence)
                .unique()
                .to_owned(),
        )
        .await?;
        index(
            manager,
            Index::create()
                .name("bundles_inbox")
                .table(Bundles::Table)
                .col(Bundles::ReceiverOffice)
                .col(Bundles::FileSequence)
                .col(Bundles::Id)
                .to_owned(),
        )
        .await?;
        index(
            manager,
            Index::create()
                .name("bundles_sent")
                .table(Bundles::Table)
                .col(Bundles::SenderOffice)
                .col(Bundles::Id)
                .to_owned(),
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(BundleFiles::Table)
                    .if_not_exists()
                    .col(text(BundleFiles::BundleId))
                    .col(int(BundleFiles::Position))
                    .col(text(BundleFiles::FileName))
                    .col(int(BundleFiles::Kind))
                    .col(text(BundleFiles::CsvVersion))
                    .col(big_int(BundleFiles::SizeBytes))
                    .col(text(BundleFiles::Sha256Hex))
                    .col(int(BundleFiles::RecordCount))
                    .col(bytes(BundleFiles::Content))
                    .primary_key(Index::create().col(BundleFiles::BundleId).col(BundleFiles::Position))
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
                    .table(ReadAudit::Table)
                    .if_not_exists()
                    .col(serial(ReadAudit::Id))
                    .col(time(ReadAudit::At))
                    .col(text(ReadAudit::ActorRole))
                    .col(text(ReadAudit::ActorSubject))
                    .col(text(ReadAudit::ActorOrg))
                    .col(text(ReadAudit::Action))
                    .col(text(ReadAudit::BundleId))
                    .col(text(ReadAudit::Outcome))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            Index::create().name("read_audit_by_bundle").table(ReadAudit::Table).col(ReadAudit::BundleId).to_owned(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ReadAudit::Table.into_iden(),
            Idempotency::Table.into_iden(),
            BundleFiles::Table.into_iden(),
            Bundles::Table.into_iden(),
            LicencePeriods::Table.into_iden(),
            Offices::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}

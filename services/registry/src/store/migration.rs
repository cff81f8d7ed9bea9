//! The registry schema: card confirmations, identity links, registrations and consents (each
//! with its append-only versions), service evidence and 作成依頼届出.

use kaigo_platform::db::schema::{big_int, bytes, id, index, nullable_text, nullable_time, serial, text, time};
use sea_orm_migration::prelude::*;

/// Creates the registry tables.
pub struct RegistryTablesMigration;

impl MigrationName for RegistryTablesMigration {
    fn name(&self) -> &str {
        "m20261204_000001_registry_tables"
    }
}

#[derive(DeriveIden)]
enum CardConfirmations {
    Table,
    Id,
    Party,
    Challenge,
    CreatedAt,
    ExpiresAt,
    CompletedAt,
    LinkId,
    InsurerNumber,
    InsuredNumber,
    UsableUntil,
}

#[derive(DeriveIden)]
enum IdentityLinks {
    Table,
    LinkId,
    InsurerNumber,
    InsuredNumber,
    Revoked,
    UpdatedAt,
    UpdatedBy,
}

#[derive(DeriveIden)]
enum Registrations {
    Table,
    Id,
    Version,
    OrgKind,
    OrgNumber,
    InsurerNumber,
    InsuredNumber,
    StartDate,
    Evidence,
    CardConfirmationId,
    NotificationId,
    RegisteredByRole,
    RegisteredBySubject,
    RegisteredByOrg,
    CreatedAt,
    LastServiceOn,
    EndedAt,
    EndReason,
    EndedByRole,
    EndedBySubject,
    EndedByOrg,
    EndNote,
    ActiveKey,
}

#[derive(DeriveIden)]
enum RegistrationVersions {
    Table,
    RegistrationId,
    Version,
    ChangedAt,
    Snapshot,
}

#[derive(DeriveIden)]
enum ServiceEvidence {
    Table,
    Id,
    RegistrationId,
    ServiceDate,
    RecordedAt,
    RecordedBy,
}

#[derive(DeriveIden)]
enum Consents {
    Table,
    Id,
    Version,
    InsurerNumber,
    InsuredNumber,
    GranteeKind,
    GranteeNumber,
    Categories,
    Purpose,
    Source,
    CardConfirmationId,
    ValidFrom,
    ValidUntil,
    RecordedByRole,
    RecordedBySubject,
    RecordedByOrg,
    CreatedAt,
    WithdrawnAt,
    WithdrawnByRole,
    WithdrawnBySubject,
    WithdrawnByOrg,
}

#[derive(DeriveIden)]
enum ConsentVersions {
    Table,
    ConsentId,
    Version,
    ChangedAt,
    Snapshot,
}

#[derive(DeriveIden)]
enum CarePlanNotifications {
    Table,
    Id,
    Version,
    InsurerNumber,
    InsuredNumber,
    OfficeNumber,
    StartDate,
    Status,
    SubmittedAt,
    SubmittedBySubject,
    DecidedAt,
    DecidedByRole,
    DecidedBySubject,
    DecidedByOrg,
    ReturnReason,
    RegistrationId,
}

fn date(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).date().not_null().to_owned()
}

fn nullable_date(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).date().null().to_owned()
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for RegistryTablesMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use CardConfirmations as C;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .if_not_exists()
                    .col(id(C::Id))
                    .col(text(C::Party))
                    .col(bytes(C::Challenge))
                    .col(time(C::CreatedAt))
                    .col(time(C::ExpiresAt))
                    .col(nullable_time(C::CompletedAt))
                    .col(nullable_text(C::LinkId))
                    .col(nullable_text(C::InsurerNumber))
                    .col(nullable_text(C::InsuredNumber))
                    .col(nullable_time(C::UsableUntil))
                    .to_owned(),
            )
            .await?;

        use IdentityLinks as L;
        manager
            .create_table(
                Table::create()
                    .table(L::Table)
                    .if_not_exists()
                    .col(id(L::LinkId))
                    .col(text(L::InsurerNumber))
                    .col(text(L::InsuredNumber))
                    .col(ColumnDef::new(L::Revoked).boolean().not_null())
                    .col(time(L::UpdatedAt))
                    .col(text(L::UpdatedBy))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            Index::create()
                .name("identity_links_person")
                .table(L::Table)
                .col(L::InsurerNumber)
                .col(L::InsuredNumber)
                .to_owned(),
        )
        .await?;

        use Registrations as R;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .if_not_exists()
                    .col(id(R::Id))
                    .col(big_int(R::Version))
                    .col(text(R::OrgKind))
                    .col(text(R::OrgNumber))
                    .col(text(R::InsurerNumber))
                    .col(text(R::InsuredNumber))
                    .col(date(R::StartDate))
                    .col(text(R::Evidence))
                    .col(nullable_text(R::CardConfirmationId))
                    .col(nullable_text(R::NotificationId))
                    .col(text(R::RegisteredByRole))
                    .col(text(R::RegisteredBySubject))
                    .col(text(R::RegisteredByOrg))
                    .col(time(R::CreatedAt))
                    .col(nullable_date(R::LastServiceOn))
                    .col(nullable_time(R::EndedAt))
                    .col(nullable_text(R::EndReason))
                    .col(nullable_text(R::EndedByRole))
                    .col(nullable_text(R::EndedBySubject))
                    .col(nullable_text(R::EndedByOrg))
                    .col(nullable_text(R::EndNote))
                    .col(nullable_text(R::ActiveKey))
                    .to_owned(),
            )
            .await?;
        // One active registration per organisation and person, held by the database even when
        // two requests race: active_key is set while active and NULL once ended.
        index(
            manager,
            Index::create().name("registrations_one_active").table(R::Table).col(R::ActiveKey).unique().to_owned(),
        )
        .await?;
        index(
            manager,
            Index::create()
                .name("registrations_person")
                .table(R::Table)
                .col(R::InsurerNumber)
                .col(R::InsuredNumber)
                .to_owned(),
        )
        .await?;
        index(manager, Index::create().name("registrations_org").table(R::Table).col(R::OrgNumber).to_owned()).await?;

        use RegistrationVersions as RV;
        manager
            .create_table(
                Table::create()
                    .table(RV::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(RV::RegistrationId).string_len(64).not_null())
                    .col(big_int(RV::Version))
                    .col(time(RV::ChangedAt))
                    .col(bytes(RV::Snapshot))
                    .primary_key(Index::create().col(RV::RegistrationId).col(RV::Version))
                    .to_owned(),
            )
            .await?;

        use ServiceEvidence as S;
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .if_not_exists()
                    .col(serial(S::Id))
                    .col(text(S::RegistrationId))
                    .col(date(S::ServiceDate))
                    .col(time(S::RecordedAt))
                    .col(text(S::RecordedBy))
                    .to_owned(),
            )
            .await?;

        use Consents as K;
        manager
            .create_table(
                Table::create()
                    .table(K::Table)
                    .if_not_exists()
                    .col(id(K::Id))
                    .col(big_int(K::Version))
                    .col(text(K::InsurerNumber))
                    .col(text(K::InsuredNumber))
                    .col(text(K::GranteeKind))
                    .col(nullable_text(K::GranteeNumber))
                    .col(text(K::Categories))
                    .col(ColumnDef::new(K::Purpose).integer().not_null())
                    .col(text(K::Source))
                    .col(nullable_text(K::CardConfirmationId))
                    .col(date(K::ValidFrom))
                    .col(nullable_date(K::ValidUntil))
                    .col(text(K::RecordedByRole))
                    .col(text(K::RecordedBySubject))
                    .col(text(K::RecordedByOrg))
                    .col(time(K::CreatedAt))
                    .col(nullable_time(K::WithdrawnAt))
                    .col(nullable_text(K::WithdrawnByRole))
                    .col(nullable_text(K::WithdrawnBySubject))
                    .col(nullable_text(K::WithdrawnByOrg))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            Index::create()
                .name("consents_person")
                .table(K::Table)
                .col(K::InsurerNumber)
                .col(K::InsuredNumber)
                .to_owned(),
        )
        .await?;

        use ConsentVersions as KV;
        manager
            .create_table(
                Table::create()
                    .table(KV::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(KV::ConsentId).string_len(64).not_null())
                    .col(big_int(KV::Version))
                    .col(time(KV::ChangedAt))
                    .col(bytes(KV::Snapshot))
                    .primary_key(Index::create().col(KV::ConsentId).col(KV::Version))
                    .to_owned(),
            )
            .await?;

        use CarePlanNotifications as N;
        manager
            .create_table(
                Table::create()
                    .table(N::Table)
                    .if_not_exists()
                    .col(id(N::Id))
                    .col(big_int(N::Version))
                    .col(text(N::InsurerNumber))
                    .col(text(N::InsuredNumber))
                    .col(text(N::OfficeNumber))
                    .col(date(N::StartDate))
                    .col(text(N::Status))
                    .col(time(N::SubmittedAt))
                    .col(text(N::SubmittedBySubject))
                    .col(nullable_time(N::DecidedAt))
                    .col(nullable_text(N::DecidedByRole))
                    .col(nullable_text(N::DecidedBySubject))
                    .col(nullable_text(N::DecidedByOrg))
                    .col(nullable_text(N::ReturnReason))
                    .col(nullable_text(N::RegistrationId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            Index::create()
                .name("notifications_insurer")
                .table(N::Table)
                .col(N::InsurerNumber)
                .col(N::Status)
                .to_owned(),
        )
        .await?;
        index(manager, Index::create().name("notifications_office").table(N::Table).col(N::OfficeNumber).to_owned())
            .await?;
        Ok(())
    }
}

/// Gives each identity link a version (1 for the links loaded before), so that the
/// `registry.identity_link_changed` events that carry them can be applied in any order, and
/// publishes the links loaded before (docs/domain/access.md#own-view).
pub struct IdentityLinkVersionMigration;

impl MigrationName for IdentityLinkVersionMigration {
    fn name(&self) -> &str {
        "m20261204_000011_registry_identity_link_version"
    }
}

#[derive(DeriveIden)]
enum IdentityLinkVersion {
    Version,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for IdentityLinkVersionMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(IdentityLinks::Table)
                    .add_column(ColumnDef::new(IdentityLinkVersion::Version).big_integer().not_null().default(1))
                    .to_owned(),
            )
            .await?;
        // The links loaded before they were published reach the other services' copies now,
        // once: this step's own transaction writes them into the outbox.
        let conn = manager.get_connection();
        let links = <super::identity_link::Entity as sea_orm::EntityTrait>::find().all(conn).await?;
        for link in &links {
            super::publish_identity_link(conn, link).await?;
        }
        tracing::info!(links = links.len(), "identity links handed to the other services");
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(IdentityLinks::Table).drop_column(IdentityLinkVersion::Version).to_owned(),
            )
            .await
    }
}

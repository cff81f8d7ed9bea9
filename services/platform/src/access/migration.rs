//! The service's local copy of the registry's facts: `access_registrations` and
//! `access_consents`, included in the migrator of every service that decides access
//! (docs/domain/access.md#facts-copy).

use sea_orm_migration::prelude::*;

/// Creates the copy tables in the service's schema.
pub struct AccessFactsMigration;

impl MigrationName for AccessFactsMigration {
    fn name(&self) -> &str {
        "m20261204_000000_platform_access_facts"
    }
}

#[derive(DeriveIden)]
enum AccessRegistrations {
    Table,
    RegistrationId,
    Version,
    InsurerNumber,
    InsuredNumber,
    OrgKind,
    OrgNumber,
    StartDate,
    EndDate,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AccessConsents {
    Table,
    ConsentId,
    Version,
    InsurerNumber,
    InsuredNumber,
    GranteeKind,
    GranteeNumber,
    Categories,
    ValidFrom,
    ValidUntil,
    WithdrawnOn,
    UpdatedAt,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for AccessFactsMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use AccessRegistrations as R;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(R::RegistrationId).string_len(36).not_null().primary_key())
                    .col(ColumnDef::new(R::Version).big_integer().not_null())
                    .col(ColumnDef::new(R::InsurerNumber).string_len(6).not_null())
                    .col(ColumnDef::new(R::InsuredNumber).string_len(10).not_null())
                    .col(ColumnDef::new(R::OrgKind).string_len(32).not_null())
                    .col(ColumnDef::new(R::OrgNumber).string_len(10).not_null())
                    .col(ColumnDef::new(R::StartDate).date().not_null())
                    .col(ColumnDef::new(R::EndDate).date().null())
                    .col(ColumnDef::new(R::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("access_registrations_person")
                    .table(R::Table)
                    .col(R::InsurerNumber)
                    .col(R::InsuredNumber)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        use AccessConsents as C;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(C::ConsentId).string_len(36).not_null().primary_key())
                    .col(ColumnDef::new(C::Version).big_integer().not_null())
                    .col(ColumnDef::new(C::InsurerNumber).string_len(6).not_null())
                    .col(ColumnDef::new(C::InsuredNumber).string_len(10).not_null())
                    .col(ColumnDef::new(C::GranteeKind).string_len(32).not_null())
                    .col(ColumnDef::new(C::GranteeNumber).string_len(10).null())
                    .col(ColumnDef::new(C::Categories).string_len(200).not_null())
                    .col(ColumnDef::new(C::ValidFrom).date().not_null())
                    .col(ColumnDef::new(C::ValidUntil).date().null())
                    .col(ColumnDef::new(C::WithdrawnOn).date().null())
                    .col(ColumnDef::new(C::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("access_consents_person")
                    .table(C::Table)
                    .col(C::InsurerNumber)
                    .col(C::InsuredNumber)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AccessConsents::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(AccessRegistrations::Table).to_owned()).await
    }
}

/// Adds the copy of the person's identity links (`access_identity_links`), a later step of the
/// same copy: the links that bind an `insured_person` caller to their own record
/// (docs/domain/access.md#own-view). Listed after [`AccessFactsMigration`].
pub struct AccessIdentityLinksMigration;

impl MigrationName for AccessIdentityLinksMigration {
    fn name(&self) -> &str {
        "m20261204_000010_platform_access_identity_links"
    }
}

#[derive(DeriveIden)]
enum AccessIdentityLinks {
    Table,
    LinkId,
    Version,
    InsurerNumber,
    InsuredNumber,
    Revoked,
    UpdatedAt,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for AccessIdentityLinksMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use AccessIdentityLinks as L;
        manager
            .create_table(
                Table::create()
                    .table(L::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(L::LinkId).string_len(64).not_null().primary_key())
                    .col(ColumnDef::new(L::Version).big_integer().not_null())
                    .col(ColumnDef::new(L::InsurerNumber).string_len(6).not_null())
                    .col(ColumnDef::new(L::InsuredNumber).string_len(10).not_null())
                    .col(ColumnDef::new(L::Revoked).boolean().not_null())
                    .col(ColumnDef::new(L::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("access_identity_links_person")
                    .table(L::Table)
                    .col(L::InsurerNumber)
                    .col(L::InsuredNumber)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AccessIdentityLinks::Table).to_owned()).await
    }
}

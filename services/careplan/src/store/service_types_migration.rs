//! `office_service_types`: the service types an office registered (issue 17 item 2). One office
//! number often runs 居宅介護支援 (43) and a service such as 訪問介護 (11); it sends and receives
//! under each type it registered (docs/domain/careplan-csv.md#office-types).

use sea_orm_migration::prelude::*;

/// Creates `office_service_types` (office number, service type).
pub struct OfficeServiceTypesMigration;

impl MigrationName for OfficeServiceTypesMigration {
    fn name(&self) -> &str {
        "m20261204_000030_careplan_office_service_types"
    }
}

#[derive(DeriveIden)]
enum OfficeServiceTypes {
    Table,
    OfficeNumber,
    ServiceType,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for OfficeServiceTypesMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OfficeServiceTypes::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(OfficeServiceTypes::OfficeNumber).string_len(10).not_null())
                    .col(ColumnDef::new(OfficeServiceTypes::ServiceType).string_len(2).not_null())
                    .primary_key(
                        Index::create().col(OfficeServiceTypes::OfficeNumber).col(OfficeServiceTypes::ServiceType),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(OfficeServiceTypes::Table).if_exists().to_owned()).await
    }
}

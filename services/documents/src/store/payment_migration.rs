//! The payment facts of an opinion request (docs/domain/opinion.md#payment-facts): three
//! columns added to `opinion_requests`, 0 (not stated) for the requests made before them, so
//! every stored request keeps its data. One column per statement: SQLite adds one at a time.

use sea_orm_migration::prelude::*;

/// Adds `setting`, `physician_kind` and `opinion_count` to `opinion_requests`.
pub struct RequestPaymentFactsMigration;

impl MigrationName for RequestPaymentFactsMigration {
    fn name(&self) -> &str {
        "m20261204_000100_opinion_request_payment_facts"
    }
}

#[derive(DeriveIden)]
enum OpinionRequests {
    Table,
    Setting,
    PhysicianKind,
    OpinionCount,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for RequestPaymentFactsMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [OpinionRequests::Setting, OpinionRequests::PhysicianKind, OpinionRequests::OpinionCount] {
            if manager.has_column("opinion_requests", column.to_string().as_str()).await? {
                continue;
            }
            manager
                .alter_table(
                    Table::alter()
                        .table(OpinionRequests::Table)
                        .add_column(ColumnDef::new(column).integer().not_null().default(0))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [OpinionRequests::Setting, OpinionRequests::PhysicianKind, OpinionRequests::OpinionCount] {
            manager.alter_table(Table::alter().table(OpinionRequests::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

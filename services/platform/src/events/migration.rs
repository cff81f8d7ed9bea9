//! The `outbox` and `processed_events` tables, included in every service's migrator.

use sea_orm_migration::prelude::*;

/// Creates the event tables in the service's schema.
pub struct EventTablesMigration;

impl MigrationName for EventTablesMigration {
    fn name(&self) -> &str {
        "m20261129_000000_platform_event_tables"
    }
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Seq,
    EventId,
    Topic,
    Key,
    Payload,
    Trace,
    CreatedAt,
    PublishedAt,
}

#[derive(DeriveIden)]
enum ProcessedEvents {
    Table,
    ConsumerGroup,
    EventId,
    ProcessedAt,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for EventTablesMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Outbox::Seq).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(Outbox::EventId).string_len(36).not_null().unique_key())
                    .col(ColumnDef::new(Outbox::Topic).string().not_null())
                    .col(ColumnDef::new(Outbox::Key).string().not_null())
                    .col(ColumnDef::new(Outbox::Payload).binary().not_null())
                    .col(ColumnDef::new(Outbox::Trace).text().not_null())
                    .col(ColumnDef::new(Outbox::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Outbox::PublishedAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        // The relay scans for unpublished rows in order; a partial index keeps that scan small
        // however long the outbox grows.
        manager
            .create_index(
                Index::create()
                    .name("outbox_unpublished")
                    .table(Outbox::Table)
                    .col(Outbox::Seq)
                    .and_where(Expr::col(Outbox::PublishedAt).is_null())
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProcessedEvents::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(ProcessedEvents::ConsumerGroup).string().not_null())
                    .col(ColumnDef::new(ProcessedEvents::EventId).string_len(36).not_null())
                    .col(ColumnDef::new(ProcessedEvents::ProcessedAt).timestamp_with_time_zone().not_null())
                    .primary_key(Index::create().col(ProcessedEvents::ConsumerGroup).col(ProcessedEvents::EventId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ProcessedEvents::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Outbox::Table).to_owned()).await
    }
}

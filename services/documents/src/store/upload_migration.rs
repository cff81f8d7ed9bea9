//! Upload sessions of the unary upload RPCs (browsers on gRPC-Web cannot stream to the
//! server). One row per session; its chunks live encrypted as part objects in the blob store.

use kaigo_platform::db::schema::{big_int, id, index, text, time};
use sea_orm_migration::prelude::*;

/// Creates `upload_sessions`.
pub struct UploadSessionsMigration;

impl MigrationName for UploadSessionsMigration {
    fn name(&self) -> &str {
        "m20261202_000001_upload_sessions"
    }
}

#[derive(DeriveIden)]
enum UploadSessions {
    Table,
    Id,
    RequestId,
    CallerOrg,
    CallerRole,
    CallerSubject,
    Metadata,
    KeyId,
    ReceivedBytes,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for UploadSessionsMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UploadSessions::Table)
                    .if_not_exists()
                    .col(id(UploadSessions::Id))
                    .col(text(UploadSessions::RequestId))
                    .col(text(UploadSessions::CallerOrg))
                    .col(text(UploadSessions::CallerRole))
                    .col(text(UploadSessions::CallerSubject))
                    .col(ColumnDef::new(UploadSessions::Metadata).binary().not_null())
                    .col(text(UploadSessions::KeyId))
                    .col(big_int(UploadSessions::ReceivedBytes))
                    .col(time(UploadSessions::CreatedAt))
                    .col(time(UploadSessions::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // A retried Start resumes its session instead of opening a second one.
        index(
            manager,
            Index::create()
                .unique()
                .name("upload_sessions_by_request")
                .table(UploadSessions::Table)
                .col(UploadSessions::CallerOrg)
                .col(UploadSessions::RequestId)
                .to_owned(),
        )
        .await?;
        index(
            manager,
            Index::create()
                .name("upload_sessions_by_update")
                .table(UploadSessions::Table)
                .col(UploadSessions::UpdatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(UploadSessions::Table).if_exists().to_owned()).await
    }
}

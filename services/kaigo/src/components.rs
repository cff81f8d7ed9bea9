//! The five services, by name: how to migrate each and how to add it to a server.

use kaigo_platform::server::GrpcServices;
use kaigo_platform::service::ServiceContext;
use sea_orm::{DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;

/// Every service, in dependency order.
pub const SERVICES: [&str; 5] = ["eligibility", "certification", "documents", "careplan", "subsidies"];

/// Applies `service`'s migrations.
pub async fn migrate(service: &str, db: &DatabaseConnection) -> Result<(), DbErr> {
    match service {
        "eligibility" => kaigo_eligibility::Migrator::up(db, None).await,
        "certification" => kaigo_certification::Migrator::up(db, None).await,
        "documents" => kaigo_documents::Migrator::up(db, None).await,
        "careplan" => kaigo_careplan::Migrator::up(db, None).await,
        "subsidies" => kaigo_subsidies::Migrator::up(db, None).await,
        other => Err(DbErr::Custom(format!("unknown service {other}"))),
    }
}

/// How many of `service`'s migrations are not applied yet.
pub async fn pending_migrations(service: &str, db: &DatabaseConnection) -> Result<usize, DbErr> {
    Ok(match service {
        "eligibility" => kaigo_eligibility::Migrator::get_pending_migrations(db).await?.len(),
        "certification" => kaigo_certification::Migrator::get_pending_migrations(db).await?.len(),
        "documents" => kaigo_documents::Migrator::get_pending_migrations(db).await?.len(),
        "careplan" => kaigo_careplan::Migrator::get_pending_migrations(db).await?.len(),
        "subsidies" => kaigo_subsidies::Migrator::get_pending_migrations(db).await?.len(),
        other => return Err(DbErr::Custom(format!("unknown service {other}"))),
    })
}

/// Adds `ctx.name`'s gRPC service to `services`.
pub fn add(services: GrpcServices, ctx: &ServiceContext) -> GrpcServices {
    match ctx.name {
        "eligibility" => services.with_service(kaigo_eligibility::service(ctx)),
        "certification" => services.with_service(kaigo_certification::service(ctx)),
        "documents" => services.with_service(kaigo_documents::service(ctx)),
        "careplan" => services.with_service(kaigo_careplan::service(ctx)),
        _ => services.with_service(kaigo_subsidies::service(ctx)),
    }
}

/// The `&'static str` name of a service, if it is one.
pub fn service_name(name: &str) -> Option<&'static str> {
    SERVICES.into_iter().find(|s| *s == name)
}

//! kaigo-certification: the 要介護認定 workflow from application to decision, with progress care managers can follow.
//!
//! Shape (ARCHITECTURE.md): `api` decodes and validates requests and maps results, `domain`
//! holds the rules as plain functions, `store` is the only place with SQL. The RPCs of
//! `kaigo.certification.v1.CertificationService` are implemented by this service's own issue; until then they answer UNIMPLEMENTED.

use kaigo_platform::events::EventTablesMigration;
use kaigo_platform::service::ServiceContext;
use kaigo_proto::kaigo::certification::v1::certification_service_server::{
    CertificationService, CertificationServiceServer,
};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

/// The service's name: its database schema and its event consumer group.
pub const NAME: &str = "certification";

/// The gRPC API.
#[derive(Clone)]
pub struct Api {
    #[allow(dead_code)] // used by the RPCs this service's issue adds
    ctx: ServiceContext,
}

#[tonic::async_trait]
impl CertificationService for Api {}

/// The tonic server for this service, with the configured message limits.
pub fn service(ctx: &ServiceContext) -> CertificationServiceServer<Api> {
    kaigo_platform::limit_messages!(CertificationServiceServer::new(Api { ctx: ctx.clone() }), ctx)
}

/// This service's migrations, applied by `kaigo migrate certification`.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(EventTablesMigration)]
    }
}

//! kaigo-subsidies: the card-reader, connection-support and opinion-sending subsidies and their applications.
//!
//! Shape (ARCHITECTURE.md): `api` decodes and validates requests and maps results, `domain`
//! holds the rules as plain functions, `store` is the only place with SQL. The RPCs of
//! `kaigo.subsidies.v1.SubsidyService` are implemented by this service's own issue; until then they answer UNIMPLEMENTED.

use kaigo_platform::events::EventTablesMigration;
use kaigo_platform::service::ServiceContext;
use kaigo_proto::kaigo::subsidies::v1::subsidy_service_server::{SubsidyService, SubsidyServiceServer};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

/// The service's name: its database schema and its event consumer group.
pub const NAME: &str = "subsidies";

/// The gRPC API.
#[derive(Clone)]
pub struct Api {
    #[allow(dead_code)] // used by the RPCs this service's issue adds
    ctx: ServiceContext,
}

#[tonic::async_trait]
impl SubsidyService for Api {}

/// The tonic server for this service, with the configured message limits.
pub fn service(ctx: &ServiceContext) -> SubsidyServiceServer<Api> {
    kaigo_platform::limit_messages!(SubsidyServiceServer::new(Api { ctx: ctx.clone() }), ctx)
}

/// This service's migrations, applied by `kaigo migrate subsidies`.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(EventTablesMigration)]
    }
}

//! kaigo-eligibility: 介護保険資格確認 — is this person insured, at what care level, with which co-payment ratio and cost limits, on a given date.
//!
//! Shape (ARCHITECTURE.md): `api` decodes and validates requests and maps results, `domain`
//! holds the rules as plain functions, `store` is the only place with SQL. The RPCs of
//! `kaigo.eligibility.v1.EligibilityService` are implemented by this service's own issue; until then they answer UNIMPLEMENTED.

use kaigo_platform::events::EventTablesMigration;
use kaigo_platform::service::ServiceContext;
use kaigo_proto::kaigo::eligibility::v1::eligibility_service_server::{EligibilityService, EligibilityServiceServer};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

/// The service's name: its database schema and its event consumer group.
pub const NAME: &str = "eligibility";

/// The gRPC API.
#[derive(Clone)]
pub struct Api {
    #[allow(dead_code)] // used by the RPCs this service's issue adds
    ctx: ServiceContext,
}

#[tonic::async_trait]
impl EligibilityService for Api {}

/// The tonic server for this service, with the configured message limits.
pub fn service(ctx: &ServiceContext) -> EligibilityServiceServer<Api> {
    kaigo_platform::limit_messages!(EligibilityServiceServer::new(Api { ctx: ctx.clone() }), ctx)
}

/// This service's migrations, applied by `kaigo migrate eligibility`.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(EventTablesMigration)]
    }
}

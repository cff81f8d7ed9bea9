//! kaigo-careplan: ケアプランデータ連携 — plans and actuals exchanged between care offices and providers in the standard CSV format.
//!
//! Shape (ARCHITECTURE.md): `api` decodes and validates requests and maps results, `domain`
//! holds the rules as plain functions, `store` is the only place with SQL. The RPCs of
//! `kaigo.careplan.v1.CarePlanService` are implemented by this service's own issue; until then they answer UNIMPLEMENTED.

use kaigo_platform::events::EventTablesMigration;
use kaigo_platform::service::ServiceContext;
use kaigo_proto::kaigo::careplan::v1::care_plan_service_server::{CarePlanService, CarePlanServiceServer};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

/// The service's name: its database schema and its event consumer group.
pub const NAME: &str = "careplan";

/// The gRPC API.
#[derive(Clone)]
pub struct Api {
    #[allow(dead_code)] // used by the RPCs this service's issue adds
    ctx: ServiceContext,
}

#[tonic::async_trait]
impl CarePlanService for Api {}

/// The tonic server for this service, with the configured message limits.
pub fn service(ctx: &ServiceContext) -> CarePlanServiceServer<Api> {
    kaigo_platform::limit_messages!(CarePlanServiceServer::new(Api { ctx: ctx.clone() }), ctx)
}

/// This service's migrations, applied by `kaigo migrate careplan`.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(EventTablesMigration)]
    }
}

//! The six services, by name: how to migrate, start and seed each.

use std::sync::Arc;

use kaigo_gateway::LocalService;
use kaigo_platform::auth::{CallerKeys, CallerLayer};
use kaigo_platform::server::GrpcServices;
use kaigo_platform::service::{ServiceContext, StartError};
use sea_orm::{DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;
use tower::Layer;
use tower::util::BoxCloneSyncService;

use crate::config::KaigoConfig;

/// Every service, in dependency order (eligibility before certification, which asks it about
/// applicants).
pub const SERVICES: [&str; 6] = ["eligibility", "certification", "documents", "careplan", "subsidies", "registry"];

/// Applies `service`'s migrations.
pub async fn migrate(service: &str, db: &DatabaseConnection) -> Result<(), DbErr> {
    match service {
        "eligibility" => kaigo_eligibility::Migrator::up(db, None).await,
        "certification" => kaigo_certification::Migrator::up(db, None).await,
        "documents" => kaigo_documents::Migrator::up(db, None).await,
        "careplan" => kaigo_careplan::Migrator::up(db, None).await,
        "subsidies" => kaigo_subsidies::Migrator::up(db, None).await,
        "registry" => kaigo_registry::Migrator::up(db, None).await,
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
        "registry" => kaigo_registry::Migrator::get_pending_migrations(db).await?.len(),
        other => return Err(DbErr::Custom(format!("unknown service {other}"))),
    })
}

/// The services that audit reads of persons and serve their trail to the registry's access
/// log (`kaigo.audit.v1.AuditTrailService`, docs/domain/access.md#access-log).
pub const AUDITED: [&str; 4] = ["eligibility", "certification", "documents", "careplan"];

/// How a service reaches the others.
#[derive(Clone)]
pub struct Peers {
    /// The internal key calls between services are signed with (the gateway's).
    pub keys: CallerKeys,
    /// Eligibility for certification's applicant check: `None` over the network
    /// (`certification.eligibility_url`, `kaigo serve`), or its in-process routes (`kaigo dev`).
    pub eligibility: Option<LocalService>,
    /// The audited services' trails in process, for the registry's access log (`kaigo dev`,
    /// where every service shares one set of routes, so none mounts its own trail); `None`:
    /// each audited service serves its trail on its port and the registry asks
    /// `registry.audit_sources` over the network (`kaigo serve`).
    pub audit_trails: Option<Vec<(&'static str, LocalService)>>,
}

/// `db`'s read audit trail as an in-process service, verifying the caller as every service does.
pub fn local_trail(db: &DatabaseConnection, keys: &CallerKeys) -> LocalService {
    let routes = tonic::service::Routes::new(kaigo_platform::audit::trail::server(db.clone()));
    BoxCloneSyncService::new(CallerLayer::new(keys.clone()).layer(routes))
}

/// Starts `ctx.name` (its background tasks too) and adds its gRPC service to `services`, with
/// its read audit trail when it audits reads of persons and serves alone (`kaigo serve`).
pub async fn start(
    services: GrpcServices,
    ctx: &ServiceContext,
    config: &KaigoConfig,
    peers: &Peers,
) -> Result<GrpcServices, StartError> {
    // The trail is read from the primary: a read made seconds before must be listed.
    let services = if peers.audit_trails.is_none() && AUDITED.contains(&ctx.name) {
        services.with_service(kaigo_platform::audit::trail::server(ctx.db.clone()))
    } else {
        services
    };
    Ok(match ctx.name {
        "eligibility" => services.with_service(kaigo_eligibility::start(ctx, &config.eligibility).await?),
        "certification" => services.with_service(start_certification(ctx, config, peers).await?),
        "documents" => services.with_service(kaigo_documents::start(ctx, &config.documents).await?),
        "careplan" => services.with_service(kaigo_careplan::start(ctx, &config.careplan).await?),
        "subsidies" => services.with_service(kaigo_subsidies::start(ctx, &config.subsidies).await?),
        "registry" => services.with_service(start_registry(ctx, config, peers).await?),
        other => return Err(format!("unknown service {other}").into()),
    })
}

async fn start_certification(
    ctx: &ServiceContext,
    config: &KaigoConfig,
    peers: &Peers,
) -> Result<kaigo_certification::CertificationServer, StartError> {
    use kaigo_certification::people::EligibilityDirectory;
    let config = &config.certification;
    match &peers.eligibility {
        None => kaigo_certification::start(ctx, config, &peers.keys).await,
        Some(local) => {
            let people = EligibilityDirectory::new(local.clone(), peers.keys.clone(), config.eligibility_policy());
            tracing::info!("certification: applicants are checked against eligibility in process");
            let deps = kaigo_certification::Dependencies { people: Arc::new(people), ..Default::default() };
            kaigo_certification::start_with(ctx, config, deps).await
        }
    }
}

async fn start_registry(
    ctx: &ServiceContext,
    config: &KaigoConfig,
    peers: &Peers,
) -> Result<kaigo_registry::RegistryServer, StartError> {
    use kaigo_platform::audit::trail::{ReadSource, TrailClient};
    let config = &config.registry;
    match &peers.audit_trails {
        None => kaigo_registry::start(ctx, config, &peers.keys).await,
        Some(trails) => {
            let timeout = std::time::Duration::from_millis(config.audit_timeout_ms);
            let sources: Vec<(String, Arc<dyn ReadSource>)> = trails
                .iter()
                .map(|(name, local)| {
                    let client = TrailClient::new(local.clone(), peers.keys.clone(), timeout);
                    ((*name).to_owned(), Arc::new(client) as Arc<dyn ReadSource>)
                })
                .collect();
            tracing::info!("registry: the access log gathers the other services' trails in process");
            kaigo_registry::start_with(ctx, config, ctx.clock.clone(), Arc::new(sources)).await
        }
    }
}

/// Loads `ctx.name`'s demo data (kaigo dev).
pub async fn seed_demo(ctx: &ServiceContext, config: &KaigoConfig) -> Result<(), StartError> {
    match ctx.name {
        "eligibility" => kaigo_eligibility::seed_demo(ctx, &config.eligibility).await,
        "certification" => kaigo_certification::seed_demo(ctx, &config.certification).await,
        "documents" => kaigo_documents::seed_demo(ctx, &config.documents).await,
        "careplan" => kaigo_careplan::seed_demo(ctx, &config.careplan).await,
        "subsidies" => kaigo_subsidies::seed_demo(ctx, &config.subsidies).await,
        "registry" => kaigo_registry::seed_demo(ctx, &config.registry).await,
        other => Err(format!("unknown service {other}").into()),
    }
}

/// The `&'static str` name of a service, if it is one.
pub fn service_name(name: &str) -> Option<&'static str> {
    SERVICES.into_iter().find(|s| *s == name)
}

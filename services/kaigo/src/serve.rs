//! `kaigo serve <component>`: one component against PostgreSQL and Redis.

use std::collections::HashMap;
use std::time::Duration;

use clap::{Args, ValueEnum};
use kaigo_gateway::{Front, Gateway, RemoteUpstream, TokenVerifier, Upstream};
use kaigo_platform::auth::{CallerKeys, CallerLayer};
use kaigo_platform::config::ConfigSource;
use kaigo_platform::events::{Bus, RedisBus};
use kaigo_platform::redis::RedisHandle;
use kaigo_platform::server::{self, GrpcServices, ServeOptions};
use kaigo_platform::service::{Background, ServiceContext};
use tower::Layer;

use crate::cli::Exit;
use crate::components;
use crate::config::KaigoConfig;

#[derive(Clone, Copy, ValueEnum)]
enum Component {
    Gateway,
    Eligibility,
    Certification,
    Documents,
    Careplan,
    Subsidies,
    Registry,
}

#[derive(Args)]
pub struct ServeArgs {
    /// The component to run.
    #[arg(value_enum)]
    component: Component,
}

/// Streams keep about this many entries per topic.
const STREAM_MAX_LEN: usize = 1_000_000;

/// The configuration `kaigo serve` runs with (kaigo.toml, `KAIGO_*`), read and validated
/// before the runtime starts.
pub fn load_config() -> Result<KaigoConfig, Exit> {
    ConfigSource::from_process().load().map_err(Exit::config)
}

pub async fn run(args: ServeArgs, config: KaigoConfig) -> Result<(), Exit> {
    let name: &'static str = match args.component {
        Component::Gateway => "gateway",
        Component::Eligibility => "eligibility",
        Component::Certification => "certification",
        Component::Documents => "documents",
        Component::Careplan => "careplan",
        Component::Subsidies => "subsidies",
        Component::Registry => "registry",
    };
    let keys = CallerKeys::from_config(&config.internal_auth).ok_or_else(|| {
        Exit::config(
            "invalid configuration: internal_auth.secret (not set; KAIGO_INTERNAL_AUTH__SECRET): required by kaigo serve",
        )
    })?;
    let telemetry = kaigo_platform::telemetry::init(&config.telemetry, name).map_err(Exit::failure)?;
    let result = match name {
        "gateway" => serve_gateway(&config, keys).await,
        service => serve_service(&config, service, keys).await,
    };
    telemetry.shutdown().await;
    result
}

async fn serve_gateway(config: &KaigoConfig, keys: CallerKeys) -> Result<(), Exit> {
    let verifier = TokenVerifier::from_config(&config.auth).await.map_err(Exit::config)?;
    let tls = kaigo_gateway::server_tls(&config.gateway.tls).map_err(Exit::config)?;
    let mut upstreams = HashMap::new();
    for (short, url) in &config.gateway.upstreams {
        let remote = RemoteUpstream::new(url).map_err(|e| Exit::config(format!("gateway.upstreams.{short}: {e}")))?;
        if let Err(err) = remote.resolve().await {
            // The service may simply not be up yet; the refresh loop keeps trying.
            tracing::warn!(service = %short, error = %err, "upstream does not resolve yet");
        }
        upstreams.insert(short.clone(), Upstream::Remote(Box::new(remote)));
    }
    let local = kaigo_proto::SERVICE_NAMES
        .iter()
        .fold(GrpcServices::new(&config.server).map_err(Exit::failure)?, |s, full| s.report_name(full));
    let health = local.health();
    let gateway =
        Gateway::new(upstreams, local.into_routes(), verifier, keys, &config.gateway).map_err(Exit::config)?;
    gateway.spawn_refresh(health.clone(), Duration::from_secs(config.gateway.refresh_secs.unwrap_or(5)));
    let listener = server::bind(&config.server.listen)
        .await
        .map_err(|e| Exit::failure(format!("cannot listen on {}: {e}", config.server.listen)))?;
    // No demo sign-in outside `kaigo dev`: people sign in with the operator's OpenID provider.
    let front = Front::new(gateway, &config.gateway.web, None).map_err(Exit::config)?;
    let options = ServeOptions { accept_http1: true, tls };
    server::serve_with(listener, front, health, &config.server, options, server::shutdown_signal())
        .await
        .map_err(|e| Exit::failure(format!("server: {e}")))
}

async fn serve_service(config: &KaigoConfig, name: &'static str, keys: CallerKeys) -> Result<(), Exit> {
    if config.redis.url.is_empty() {
        return Err(Exit::config(
            "invalid configuration: redis.url (not set; KAIGO_REDIS__URL): required by kaigo serve",
        ));
    }
    let db = kaigo_platform::db::connect(&config.database, name)
        .await
        .map_err(|e| Exit::failure(format!("cannot connect to the database: {e}")))?;
    let pending =
        components::pending_migrations(name, &db).await.map_err(|e| Exit::failure(format!("migrations: {e}")))?;
    if pending > 0 {
        return Err(Exit::failure(format!(
            "{pending} migrations of {name} are not applied; run `kaigo migrate {name}` first"
        )));
    }
    let redis = RedisHandle::connect(&config.redis)
        .await
        .map_err(|e| Exit::failure(format!("cannot connect to Redis: {e}")))?
        .ok_or_else(|| Exit::config("redis.url is required"))?;
    let bus = Bus::Redis(RedisBus::new(redis.clone(), STREAM_MAX_LEN));
    let (background_control, background) = Background::new();
    let seal =
        kaigo_platform::seal::SealSecrets::new(&config.internal_auth.secret, &config.internal_auth.previous_secret);
    // The replicas of database.read_urls, health-checked in the background (none: the primary).
    let reads = kaigo_platform::db::ReadPool::connect(&config.database, name, db.clone(), &background)
        .await
        .map_err(|e| Exit::failure(format!("read replicas: {e}")))?;
    let clock = kaigo_platform::time::system_clock();
    let ctx = ServiceContext {
        name,
        server: config.server.clone(),
        db,
        reads,
        redis: Some(redis),
        bus,
        background,
        seal,
        clock,
    };

    // Calls to other services (certification → eligibility) go over the network, signed with
    // the same internal key the gateway uses.
    let peers = components::Peers { keys: keys.clone(), eligibility: None, audit_trails: None };
    let services = components::start(GrpcServices::new(&config.server).map_err(Exit::failure)?, &ctx, config, &peers)
        .await
        .map_err(|e| Exit::failure(format!("{name}: cannot start: {e}")))?;
    kaigo_platform::retention::spawn(&ctx, &config.retention);
    let health = services.health();
    let routes = CallerLayer::new(keys).layer(services.into_routes());

    let listener = server::bind(&config.server.listen)
        .await
        .map_err(|e| Exit::failure(format!("cannot listen on {}: {e}", config.server.listen)))?;
    let served = server::serve(listener, routes, health, &config.server, server::shutdown_signal()).await;
    // Background tasks finish their unit of work (the relay makes a last pass, buffers are
    // flushed) so that a clean shutdown loses nothing.
    background_control.stop(config.server.shutdown_grace()).await;
    served.map_err(|e| Exit::failure(format!("server: {e}")))
}

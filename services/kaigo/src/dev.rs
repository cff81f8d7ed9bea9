//! `kaigo dev`: everything in one process on loopback, with no setup.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use clap::Args;
use kaigo_gateway::{AuthConfig, DevKey, DevSignIn, Front, Gateway, LocalService, TokenVerifier, Upstream};
use kaigo_platform::auth::{CallerKeys, CallerLayer};
use kaigo_platform::config::{ConfigSource, Secret};
use kaigo_platform::events::{Bus, LocalBus};
use kaigo_platform::server::{self, GrpcServices, ServeOptions};
use kaigo_platform::service::{Background, ServiceContext};
use tower::util::BoxCloneSyncService;
use tower::{Layer, ServiceExt};

use crate::cli::Exit;
use crate::config::KaigoConfig;
use crate::{components, demo_identities};

/// Where `npm run build` puts the web screens, relative to the checkout (`make dev` runs there).
const DEFAULT_WEB_ROOT: &str = "web/dist";

/// The issuer of dev tokens.
pub const DEV_ISSUER: &str = "kaigo-dev";
/// The audience of dev tokens.
pub const DEV_AUDIENCE: &str = "kaigo";

#[derive(Args)]
pub struct DevArgs {
    /// Where the gateway listens (loopback only); else KAIGO_SERVER__LISTEN
    /// (server.listen), else 127.0.0.1:50051.
    #[arg(long)]
    listen: Option<String>,
    /// Where SQLite files and the dev signing key live.
    #[arg(long, default_value_os_t = crate::cli::default_data_dir())]
    data_dir: PathBuf,
}

pub async fn run(args: DevArgs) -> Result<(), Exit> {
    let mut config: KaigoConfig =
        ConfigSource::from_process().with_env("KAIGO_TELEMETRY__LOG_FORMAT", "text").load().map_err(Exit::config)?;
    let (listen, from) = match args.listen {
        Some(listen) => (listen, "--listen"),
        None => (config.server.listen.clone(), "server.listen (KAIGO_SERVER__LISTEN, or kaigo.toml)"),
    };
    let loopback = listen.parse::<std::net::SocketAddr>().is_ok_and(|a| a.ip().is_loopback());
    if !loopback {
        return Err(Exit::config(format!(
            "{from} {listen}: kaigo dev listens on a loopback address and port only, e.g. 127.0.0.1:50052 \
             (its dev key signs any role)"
        )));
    }
    config.server.listen = listen;
    if !config.database.read_urls.is_empty() {
        return Err(Exit::config(
            "invalid configuration: database.read_urls: kaigo dev keeps each service in a SQLite file and has no \
             read replicas; unset KAIGO_DATABASE__READ_URLS (replicas are for kaigo serve on PostgreSQL)",
        ));
    }
    // Demos submit subsidy applications whatever the date: a demo programme open this year.
    config.subsidies.demo_programme = true;
    let data_dir = std::path::absolute(&args.data_dir).map_err(|e| Exit::config(format!("--data-dir: {e}")))?;
    // A test CA and virtual cards for the demo persons (`kaigo card sign` reads them), unless
    // the configuration names a directory of its own.
    if config.registry.virtual_cards_dir.is_empty() {
        config.registry.virtual_cards_dir = data_dir.join(crate::card::CARDS_DIR).display().to_string();
    }
    if config.gateway.web.root.is_empty() && std::path::Path::new(DEFAULT_WEB_ROOT).join("index.html").is_file() {
        config.gateway.web.root =
            std::path::absolute(DEFAULT_WEB_ROOT).map_or_else(|_| String::new(), |p| p.display().to_string());
    }
    config.database.url = Secret::new(format!("sqlite://{}", data_dir.join("db").display()));
    let telemetry = kaigo_platform::telemetry::init(&config.telemetry, "dev").map_err(Exit::failure)?;

    let dev_key = DevKey::load_or_create(&data_dir).map_err(|e| Exit::failure(format!("dev signing key: {e}")))?;
    let verifier = TokenVerifier::from_config(&AuthConfig {
        issuer: DEV_ISSUER.to_owned(),
        audience: DEV_AUDIENCE.to_owned(),
        public_key_files: vec![dev_key.public_key_file().display().to_string()],
        ..AuthConfig::default()
    })
    .await
    .map_err(Exit::config)?;

    // One in-process bus and one caller key shared by the gateway and every service.
    let bus = Bus::Local(LocalBus::new());
    let keys = CallerKeys::generate();
    let (background_control, background) = Background::new();
    // Certification checks applicants against eligibility through the same in-process routes
    // the gateway calls, bound once every service has started.
    let routes_when_started = Arc::new(OnceLock::new());
    // The registry gathers the access log from the audited services' trails, each in process
    // over its own database (they cannot share the one set of routes: same service name).
    let mut peers = components::Peers {
        keys: keys.clone(),
        eligibility: Some(late_routes(routes_when_started.clone())),
        audit_trails: Some(Vec::new()),
    };

    let mut services =
        GrpcServices::new(&kaigo_platform::config::ServerConfig { reflection: false, ..config.server.clone() })
            .map_err(Exit::failure)?;
    for name in components::SERVICES {
        let db = kaigo_platform::db::connect(&config.database, name)
            .await
            .map_err(|e| Exit::failure(format!("{name}: database: {e}")))?;
        components::migrate(name, &db).await.map_err(|e| Exit::failure(format!("{name}: migration: {e}")))?;
        if let (true, Some(trails)) = (components::AUDITED.contains(&name), peers.audit_trails.as_mut()) {
            trails.push((name, components::local_trail(&db, &keys)));
        }
        let ctx = ServiceContext {
            name,
            server: config.server.clone(),
            // kaigo dev keeps each service in a SQLite file: no replicas (database.read_urls
            // is refused at start).
            reads: kaigo_platform::db::ReadPool::primary_only(db.clone()),
            db,
            redis: None,
            bus: bus.clone(),
            background: background.clone(),
            // No Redis in `kaigo dev`: nothing is cached outside the process.
            seal: kaigo_platform::seal::SealSecrets::none(),
            clock: kaigo_platform::time::system_clock(),
        };
        // Seeding writes hundreds of rows and events: none of it is traced (issue #23).
        let seeding = kaigo_platform::telemetry::unsampled_span("demo.seed");
        tracing::Instrument::instrument(components::seed_demo(&ctx, &config), seeding)
            .await
            .map_err(|e| Exit::failure(format!("{name}: demo data: {e}")))?;
        services = components::start(services, &ctx, &config, &peers)
            .await
            .map_err(|e| Exit::failure(format!("{name}: cannot start: {e}")))?;
        kaigo_platform::retention::spawn(&ctx, &config.retention);
    }
    let routes = CallerLayer::new(keys.clone()).layer(services.into_routes());
    let local = BoxCloneSyncService::new(routes);
    let _ = routes_when_started.set(local.clone());

    let gateway_services = components::SERVICES
        .iter()
        .zip(kaigo_proto::SERVICE_NAMES)
        .fold(GrpcServices::new(&config.server).map_err(Exit::failure)?, |s, (_, full)| s.report_name(full));
    let health = gateway_services.health();
    let upstreams: HashMap<String, Upstream> =
        components::SERVICES.iter().map(|name| ((*name).to_owned(), Upstream::Local(local.clone()))).collect();
    let gateway = Gateway::new(upstreams, gateway_services.into_routes(), verifier, keys, &config.gateway)
        .map_err(Exit::config)?;
    // Demo organisations, unless an OpenID provider is configured (to try the screens'
    // production sign-in against a provider that signs with the dev key, as the browser tests do).
    let sign_in = (!config.gateway.web.oidc.enabled()).then(|| DevSignIn {
        key: dev_key,
        issuer: DEV_ISSUER.to_owned(),
        audience: DEV_AUDIENCE.to_owned(),
        identities: demo_identities::all(),
        ttl_secs: 8 * 3600,
    });
    let front = Front::new(gateway.clone(), &config.gateway.web, sign_in).map_err(Exit::config)?;

    let listener = server::bind(&config.server.listen)
        .await
        .map_err(|e| Exit::failure(format!("cannot listen on {}: {e}", config.server.listen)))?;
    gateway.spawn_refresh(health.clone(), Duration::from_secs(5));
    print_welcome(&config.server.listen, &data_dir, !config.gateway.web.root.is_empty());

    let options = ServeOptions { accept_http1: true, tls: None };
    let served = server::serve_with(listener, front, health, &config.server, options, server::shutdown_signal()).await;
    background_control.stop(config.server.shutdown_grace()).await;
    telemetry.shutdown().await;
    served.map_err(|e| Exit::failure(format!("server: {e}")))
}

/// `routes` once they are set; before that (nothing is served yet, so no call comes) UNAVAILABLE.
fn late_routes(routes: Arc<OnceLock<LocalService>>) -> LocalService {
    BoxCloneSyncService::new(tower::service_fn(move |request: tonic::codegen::http::Request<tonic::body::Body>| {
        let routes = routes.get().cloned();
        async move {
            match routes {
                Some(routes) => routes.oneshot(request).await,
                None => Ok::<_, Infallible>(tonic::Status::unavailable("the services are still starting").into_http()),
            }
        }
    }))
}

fn print_welcome(listen: &str, data_dir: &std::path::Path, web: bool) {
    let dir = data_dir.display();
    // This very binary, so the line works whether or not kaigo is on PATH.
    let kaigo = std::env::current_exe().map_or_else(|_| "kaigo".to_owned(), |p| p.display().to_string());
    let screens = if web {
        format!("Web screens: http://{listen}/ (sign in as a demo organisation)")
    } else {
        "Web screens: not built (make web, then restart)".to_owned()
    };
    println!(
        "\nkaigo dev is serving on {listen} (data in {dir})\n{screens}\n\n\
         First call:\n  \
         grpcurl -plaintext {listen} list\n  \
         grpcurl -plaintext -d '{{\"service\":\"kaigo.eligibility.v1.EligibilityService\"}}' {listen} grpc.health.v1.Health/Check\n\n\
         Calls to the services need a token:\n  \
         TOKEN=$({kaigo} token --data-dir {dir} --role insurer --insurer 435073)\n  \
         grpcurl -plaintext -H \"authorization: Bearer $TOKEN\" \\\n    \
         -d '{{\"insurer_number\":\"435073\",\"insured_number\":\"0000000001\"}}' \\\n    \
         {listen} kaigo.eligibility.v1.EligibilityService/CheckEligibility\n\n\
         The virtual card reader (demo persons 435073:0000000001-3 carry cards d000000001-3):\n  \
         {kaigo} card sign --data-dir {dir} --serial d000000001 --challenge <challenge of StartCardConfirmation>\n"
    );
}

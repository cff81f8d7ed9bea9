//! `[gateway]` and `[auth]` configuration.

use std::collections::BTreeMap;
use std::time::Duration;

use kaigo_platform::auth::Role;
use kaigo_platform::config::{Problems, Secret, Validate};
use serde::{Deserialize, Serialize};

/// The services the gateway routes (what `gateway.upstreams` may name): short name and gRPC
/// service name.
pub const SERVICES: [(&str, &str); 6] = [
    ("eligibility", "kaigo.eligibility.v1.EligibilityService"),
    ("certification", "kaigo.certification.v1.CertificationService"),
    ("documents", "kaigo.documents.v1.DocumentService"),
    ("careplan", "kaigo.careplan.v1.CarePlanService"),
    ("subsidies", "kaigo.subsidies.v1.SubsidyService"),
    ("registry", "kaigo.registry.v1.RegistryService"),
];

/// `[gateway]`: where each service lives and how much traffic each caller may send.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Upstream per service (`eligibility`, `certification`, `documents`, `careplan`,
    /// `subsidies`, `registry`): `http://host:port`. A DNS name that resolves to several addresses (a
    /// headless Service) is balanced per request and re-resolved periodically.
    pub upstreams: BTreeMap<String, String>,
    /// Seconds between DNS re-resolutions and upstream health checks.
    pub refresh_secs: Option<u64>,
    /// Longest wait for a service's answer (response headers), per service, in ms; services
    /// not named use `default_upstream_timeout_ms`.
    pub upstream_timeout_ms: BTreeMap<String, u64>,
    /// Upstream timeout of services not named in `upstream_timeout_ms`.
    pub default_upstream_timeout_ms: u64,
    /// Limits of callers whose role has no entry in `roles`.
    pub limits: RoleLimits,
    /// Limits per role (`insurer`, `care_office` …), replacing `limits` for that role.
    pub roles: BTreeMap<String, RoleLimits>,
    /// Full method paths (`/pkg.Service/Method`) that only read and may be retried.
    pub read_only_methods: Vec<String>,
    /// Retries may add at most this fraction of the calls (0.1 = 10 %).
    pub retry_budget_ratio: f64,
    /// Retries always allowed per second, whatever the ratio.
    pub retry_budget_min_per_sec: u32,
    /// Consecutive failures of a service that open its circuit breaker.
    pub breaker_failures: u32,
    /// Milliseconds an open breaker fails calls at once before letting one probe through.
    pub breaker_open_ms: u64,
    /// Serve TLS; `tls.client_ca_file` makes it mutual.
    pub tls: TlsConfig,
    /// The web screens: their files and how people sign in.
    pub web: WebConfig,
}

/// `[gateway.web]`: the web screens (介護WEBサービス) the gateway serves beside gRPC-Web.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Directory of the built screens (`web/dist`); empty: no screens (gRPC-Web still served).
    pub root: String,
    /// Sign-in with the operator's OpenID Connect provider; off while `client_id` is empty.
    pub oidc: OidcConfig,
    /// Origins (`https://web.example.jp`) whose pages may call the services with gRPC-Web from
    /// another origin (screens on a static host or CDN). Empty: same origin only.
    pub allowed_origins: Vec<String>,
}

/// `[gateway.web.oidc]`: authorization-code flow with PKCE, run by the browser as a public
/// client. The provider's tokens must carry kaigo's claims (role, insurer_number …) and be
/// accepted by `[auth]` (issuer, audience, keys).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OidcConfig {
    /// The provider's authorization endpoint (https).
    pub authorization_endpoint: String,
    /// The provider's token endpoint (https); it must allow the gateway's origin (CORS).
    pub token_endpoint: String,
    /// The client id registered for the screens; redirect URI `<origin>/auth/callback`.
    pub client_id: String,
    /// Scopes asked for.
    pub scope: String,
    /// Which token the screens send as Bearer: `access_token` or `id_token`.
    pub token: String,
    /// The provider's logout endpoint (optional): signing out also ends the provider's session.
    pub end_session_endpoint: String,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            authorization_endpoint: String::new(),
            token_endpoint: String::new(),
            client_id: String::new(),
            scope: "openid".to_owned(),
            token: "access_token".to_owned(),
            end_session_endpoint: String::new(),
        }
    }
}

impl OidcConfig {
    /// True when sign-in goes through the provider.
    pub fn enabled(&self) -> bool {
        !self.client_id.is_empty()
    }
}

/// An endpoint the browser is sent to: https, or http on loopback (a provider in tests).
fn browser_endpoint(url: &str) -> bool {
    url.starts_with("https://")
        || ["http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:", "http://localhost/", "http://[::1]:"]
            .iter()
            .any(|p| url.starts_with(p))
}

fn validate_web(web: &WebConfig, problems: &mut Problems) {
    if !web.root.is_empty() && !std::path::Path::new(&web.root).join("index.html").is_file() {
        problems.add("gateway.web.root", "must be a directory holding the built screens (index.html)");
    }
    for origin in &web.allowed_origins {
        let rest = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
        let bare = rest.is_some_and(|r| !r.is_empty() && !r.contains('/') && !r.contains('*'));
        if !bare || (origin.starts_with("http://") && !browser_endpoint(&format!("{origin}/"))) {
            problems.add(
                "gateway.web.allowed_origins",
                format!("{origin:?} is not an origin (https://host[:port], no path or wildcard)"),
            );
        }
    }
    let oidc = &web.oidc;
    if !oidc.enabled() {
        return;
    }
    for (key, url, required) in [
        ("authorization_endpoint", &oidc.authorization_endpoint, true),
        ("token_endpoint", &oidc.token_endpoint, true),
        ("end_session_endpoint", &oidc.end_session_endpoint, false),
    ] {
        if (required || !url.is_empty()) && !browser_endpoint(url) {
            problems.add(&format!("gateway.web.oidc.{key}"), "must be an https:// URL");
        }
    }
    if !oidc.scope.split(' ').any(|s| s == "openid") {
        problems.add("gateway.web.oidc.scope", "must include openid");
    }
    if oidc.token != "access_token" && oidc.token != "id_token" {
        problems.add("gateway.web.oidc.token", "must be access_token or id_token");
    }
}

/// `[gateway.limits]` / `[gateway.roles.<role>]`: traffic limits of one role.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RoleLimits {
    /// Sustained calls per second per caller (token subject + role).
    pub rate_per_sec: f64,
    /// Calls a caller may make at once above the sustained rate (the bucket size).
    pub burst: u32,
    /// Calls of this role in flight at once in this gateway; more are refused (UNAVAILABLE).
    pub max_concurrency: usize,
    /// Largest request message, in bytes.
    pub max_message_bytes: usize,
    /// The longest deadline a call may ask for (`grpc-timeout`), in ms; also the deadline of
    /// calls that set none.
    pub max_timeout_ms: u64,
}

impl Default for RoleLimits {
    fn default() -> Self {
        Self {
            rate_per_sec: 100.0,
            burst: 200,
            max_concurrency: 1024,
            max_message_bytes: 4 << 20,
            max_timeout_ms: 30_000,
        }
    }
}

/// `[gateway.tls]`: the gateway's own certificate and, for mTLS, the CA of client certificates.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain of the gateway; TLS is on when set.
    pub cert_file: String,
    /// PEM private key of the gateway.
    pub key_file: String,
    /// PEM CA certificates client certificates must chain to; when set every client must
    /// present one, and its organisation number must match the token's.
    pub client_ca_file: String,
}

impl TlsConfig {
    /// True when the gateway serves TLS.
    pub fn enabled(&self) -> bool {
        !self.cert_file.is_empty()
    }
}

/// Idempotent reads of the six services, retried on a failed connection or UNAVAILABLE.
pub const DEFAULT_READ_ONLY_METHODS: [&str; 22] = [
    "/kaigo.eligibility.v1.EligibilityService/CheckEligibility",
    "/kaigo.eligibility.v1.EligibilityService/BatchCheckEligibility",
    "/kaigo.eligibility.v1.EligibilityService/GetEligibilityHistory",
    "/kaigo.certification.v1.CertificationService/GetApplication",
    "/kaigo.certification.v1.CertificationService/ListApplications",
    "/kaigo.certification.v1.CertificationService/GetApplicationProgress",
    "/kaigo.certification.v1.CertificationService/GetInsurerStatistics",
    "/kaigo.documents.v1.DocumentService/GetOpinionRequest",
    "/kaigo.documents.v1.DocumentService/ListOpinionRequests",
    "/kaigo.documents.v1.DocumentService/GetOpinion",
    "/kaigo.documents.v1.DocumentService/ListOpinions",
    "/kaigo.careplan.v1.CarePlanService/ListInbox",
    "/kaigo.careplan.v1.CarePlanService/GetBundle",
    "/kaigo.subsidies.v1.SubsidyService/ListProgrammes",
    "/kaigo.subsidies.v1.SubsidyService/GetProgramme",
    "/kaigo.subsidies.v1.SubsidyService/ListApplications",
    "/kaigo.registry.v1.RegistryService/ListRegistrations",
    "/kaigo.registry.v1.RegistryService/ListConsents",
    "/kaigo.registry.v1.RegistryService/CheckAccess",
    "/kaigo.registry.v1.RegistryService/ListCarePlanNotifications",
    "/kaigo.registry.v1.RegistryService/GetMyRelationships",
    "/kaigo.registry.v1.RegistryService/ListMyRecordReads",
];

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            upstreams: BTreeMap::new(),
            refresh_secs: None,
            upstream_timeout_ms: BTreeMap::new(),
            default_upstream_timeout_ms: 10_000,
            limits: RoleLimits::default(),
            roles: BTreeMap::new(),
            read_only_methods: DEFAULT_READ_ONLY_METHODS.iter().map(|m| (*m).to_owned()).collect(),
            retry_budget_ratio: 0.1,
            retry_budget_min_per_sec: 10,
            breaker_failures: 5,
            breaker_open_ms: 5_000,
            tls: TlsConfig::default(),
            web: WebConfig::default(),
        }
    }
}

impl GatewayConfig {
    /// The limits of `role`.
    pub fn limits_for(&self, role: Role) -> &RoleLimits {
        self.roles.get(role.as_str()).unwrap_or(&self.limits)
    }

    /// The upstream timeout of service `short` (`eligibility` …).
    pub fn upstream_timeout(&self, short: &str) -> Duration {
        Duration::from_millis(*self.upstream_timeout_ms.get(short).unwrap_or(&self.default_upstream_timeout_ms))
    }
}

fn validate_limits(key: &str, limits: &RoleLimits, problems: &mut Problems) {
    if !(limits.rate_per_sec > 0.0 && limits.rate_per_sec.is_finite()) {
        problems.add(&format!("{key}.rate_per_sec"), "must be a positive number");
    }
    if limits.burst == 0 {
        problems.add(&format!("{key}.burst"), "must be at least 1");
    }
    if limits.max_concurrency == 0 {
        problems.add(&format!("{key}.max_concurrency"), "must be at least 1");
    }
    if limits.max_message_bytes < 1024 {
        problems.add(&format!("{key}.max_message_bytes"), "must be at least 1024");
    }
    if !(1..=3_600_000).contains(&limits.max_timeout_ms) {
        problems.add(&format!("{key}.max_timeout_ms"), "must be between 1 and 3600000");
    }
}

impl Validate for GatewayConfig {
    fn validate(&self, problems: &mut Problems) {
        let is_service = |name: &str| SERVICES.iter().any(|(short, _)| *short == name);
        for (name, url) in &self.upstreams {
            if !is_service(name) {
                problems.add(&format!("gateway.upstreams.{name}"), "is not a kaigo service");
            }
            if !url.starts_with("http://") {
                problems.add(&format!("gateway.upstreams.{name}"), "must be an http://host:port URL");
            }
        }
        for (name, ms) in &self.upstream_timeout_ms {
            if !is_service(name) {
                problems.add(&format!("gateway.upstream_timeout_ms.{name}"), "is not a kaigo service");
            }
            if *ms == 0 {
                problems.add(&format!("gateway.upstream_timeout_ms.{name}"), "must be at least 1");
            }
        }
        if self.default_upstream_timeout_ms == 0 {
            problems.add("gateway.default_upstream_timeout_ms", "must be at least 1");
        }
        validate_limits("gateway.limits", &self.limits, problems);
        validate_web(&self.web, problems);
        for (role, limits) in &self.roles {
            if role.parse::<Role>().is_err() {
                problems.add(&format!("gateway.roles.{role}"), "is not a role");
            }
            validate_limits(&format!("gateway.roles.{role}"), limits, problems);
        }
        for method in &self.read_only_methods {
            if !method.starts_with("/kaigo.") || method.matches('/').count() != 2 {
                problems.add("gateway.read_only_methods", format!("{method} is not a /package.Service/Method path"));
            }
        }
        if !(0.0..=1.0).contains(&self.retry_budget_ratio) {
            problems.add("gateway.retry_budget_ratio", "must be between 0 and 1");
        }
        if self.breaker_failures == 0 {
            problems.add("gateway.breaker_failures", "must be at least 1");
        }
        if self.breaker_open_ms == 0 {
            problems.add("gateway.breaker_open_ms", "must be at least 1");
        }
        if self.tls.cert_file.is_empty() != self.tls.key_file.is_empty() {
            problems.add("gateway.tls.key_file", "cert_file and key_file go together");
        }
        if !self.tls.client_ca_file.is_empty() && !self.tls.enabled() {
            problems.add("gateway.tls.client_ca_file", "mutual TLS needs gateway.tls.cert_file and key_file");
        }
    }
}

/// `[auth]`: which tokens the gateway accepts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The `iss` every token must carry.
    pub issuer: String,
    /// The `aud` every token must carry.
    pub audience: String,
    /// PEM files of public keys (Ed25519, P-256 or RSA); each key is pinned to its algorithm.
    pub public_key_files: Vec<String>,
    /// A JWKS file (`{"keys":[…]}`), re-read in the background.
    pub jwks_file: String,
    /// A JWKS URL (`https://idp/.well-known/jwks.json`), re-fetched in the background.
    pub jwks_url: String,
    /// Seconds between background JWKS refreshes.
    pub jwks_refresh_secs: u64,
    /// Least seconds between two JWKS re-fetches caused by tokens with an unknown `kid`.
    pub jwks_min_refetch_secs: u64,
    /// A shared secret accepting HS256 tokens. Off unless set: HS* is refused by default.
    pub hs256_secret: Secret,
    /// Seconds of clock skew allowed on `exp` and `nbf`.
    pub leeway_secs: u64,
    /// Verified tokens remembered, so a repeated token costs a lookup (never past its `exp`).
    pub token_cache_size: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            issuer: "kaigo-dev".to_owned(),
            audience: "kaigo".to_owned(),
            public_key_files: Vec::new(),
            jwks_file: String::new(),
            jwks_url: String::new(),
            jwks_refresh_secs: 300,
            jwks_min_refetch_secs: 10,
            hs256_secret: Secret::default(),
            leeway_secs: 30,
            token_cache_size: 100_000,
        }
    }
}

impl Validate for AuthConfig {
    fn validate(&self, problems: &mut Problems) {
        if self.issuer.is_empty() {
            problems.add("auth.issuer", "must not be empty");
        }
        if self.audience.is_empty() {
            problems.add("auth.audience", "must not be empty");
        }
        if self.leeway_secs > 300 {
            problems.add("auth.leeway_secs", "must be at most 300");
        }
        if !self.jwks_url.is_empty() && !self.jwks_url.starts_with("https://") && !self.jwks_url.starts_with("http://")
        {
            problems.add("auth.jwks_url", "must be an https:// URL");
        }
        if self.jwks_refresh_secs == 0 {
            problems.add("auth.jwks_refresh_secs", "must be at least 1");
        }
        if !self.hs256_secret.is_empty() && self.hs256_secret.expose().len() < 32 {
            problems.add("auth.hs256_secret", "must be at least 32 bytes");
        }
    }
}

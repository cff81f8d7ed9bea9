//! The whole configuration of the `kaigo` binary: every section every component reads.

use kaigo_gateway::{AuthConfig, GatewayConfig};
use kaigo_platform::config::{
    DatabaseConfig, InternalAuthConfig, Problems, RedisConfig, ServerConfig, TelemetryConfig, Validate,
};
use serde::{Deserialize, Serialize};

/// `kaigo.toml` / `KAIGO_<SECTION>__<KEY>`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct KaigoConfig {
    /// `[server]`
    pub server: ServerConfig,
    /// `[database]`
    pub database: DatabaseConfig,
    /// `[redis]`
    pub redis: RedisConfig,
    /// `[telemetry]`
    pub telemetry: TelemetryConfig,
    /// `[internal_auth]`
    pub internal_auth: InternalAuthConfig,
    /// `[auth]` (gateway)
    pub auth: AuthConfig,
    /// `[gateway]`
    pub gateway: GatewayConfig,
    /// `[eligibility]`
    pub eligibility: kaigo_eligibility::Config,
    /// `[certification]`
    pub certification: kaigo_certification::Config,
    /// `[documents]`
    pub documents: kaigo_documents::Config,
    /// `[careplan]`
    pub careplan: kaigo_careplan::Config,
    /// `[subsidies]`
    pub subsidies: kaigo_subsidies::Config,
}

impl Validate for KaigoConfig {
    fn validate(&self, problems: &mut Problems) {
        self.server.validate(problems);
        self.database.validate(problems);
        self.redis.validate(problems);
        self.telemetry.validate(problems);
        self.internal_auth.validate(problems);
        self.auth.validate(problems);
        self.gateway.validate(problems);
        self.eligibility.validate(problems);
        self.certification.validate(problems);
        self.documents.validate(problems);
        self.careplan.validate(problems);
        self.subsidies.validate(problems);
    }
}

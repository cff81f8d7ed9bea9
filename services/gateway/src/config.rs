//! `[gateway]` and `[auth]` configuration.

use std::collections::BTreeMap;

use kaigo_platform::config::{Problems, Validate};
use serde::{Deserialize, Serialize};

/// `[gateway]`: where each service lives.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Upstream per service (`eligibility`, `certification`, `documents`, `careplan`,
    /// `subsidies`): `http://host:port`. A DNS name that resolves to several addresses (a
    /// headless Service) is balanced per request and re-resolved periodically.
    pub upstreams: BTreeMap<String, String>,
    /// Seconds between DNS re-resolutions and upstream health checks.
    pub refresh_secs: Option<u64>,
}

impl Validate for GatewayConfig {
    fn validate(&self, problems: &mut Problems) {
        for (name, url) in &self.upstreams {
            if !crate::router::SERVICES.iter().any(|(short, _)| short == name) {
                problems.add(&format!("gateway.upstreams.{name}"), "is not a kaigo service");
            }
            if !url.starts_with("http://") {
                problems.add(&format!("gateway.upstreams.{name}"), "must be an http://host:port URL");
            }
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
    /// Seconds of clock skew allowed on `exp` and `nbf`.
    pub leeway_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            issuer: "kaigo-dev".to_owned(),
            audience: "kaigo".to_owned(),
            public_key_files: Vec::new(),
            leeway_secs: 30,
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
    }
}

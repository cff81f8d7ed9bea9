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
    /// `[registry]`
    pub registry: kaigo_registry::Config,
    /// `[retention]`: how long idempotency records, audit records, event streams, published
    /// outbox rows and consumers' handled-event keys are kept (every service)
    pub retention: kaigo_platform::retention::RetentionConfig,
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
        self.registry.validate(problems);
        self.retention.validate(problems);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use kaigo_platform::config::ConfigSource;

    use super::KaigoConfig;

    /// The plain manifests (k8s/base), generated from the chart, name only settings this binary
    /// knows: a misspelt variable would otherwise stop a component at start (exit 64) only
    /// once deployed. Values of files and secrets are stand-ins; the names are what is checked.
    #[test]
    fn every_variable_the_manifests_set_is_a_setting_of_this_binary() {
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../k8s/base");
        let web = tempfile::tempdir().unwrap();
        std::fs::write(web.path().join("index.html"), "<!doctype html>").unwrap();
        let shared = env_file(&base.join("config.env"));
        let components = ["gateway", "eligibility", "certification", "documents", "careplan", "subsidies", "registry"];
        for component in components {
            let dir = base.join(component);
            let mut source = ConfigSource::new();
            let mut seen = Vec::new();
            for (key, value) in shared.iter().chain(&env_file(&dir.join("config.env"))) {
                seen.push(key.clone());
                source = source.with_env(key.clone(), stand_in(key, value, web.path()));
            }
            let deployment = std::fs::read_to_string(dir.join("deployment.yaml")).unwrap();
            for key in deployment.lines().filter_map(|l| l.trim().strip_prefix("- name: ")) {
                if key.starts_with("KAIGO_") {
                    seen.push(key.to_owned());
                    source = source.with_env(key, stand_in(key, "", web.path()));
                }
            }
            assert!(seen.iter().any(|k| k == "KAIGO_REDIS__URL"), "{component}: no variables read");
            if let Err(err) = source.load::<KaigoConfig>() {
                panic!("k8s/base/{component}: {err}");
            }
        }
    }

    /// The overlays' configMapGenerator literals (`- KAIGO_X=…`) are settings too.
    #[test]
    fn every_variable_the_overlays_add_is_a_setting_of_this_binary() {
        let overlays = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../k8s/overlays");
        let web = tempfile::tempdir().unwrap();
        std::fs::write(web.path().join("index.html"), "<!doctype html>").unwrap();
        for overlay in std::fs::read_dir(&overlays).unwrap().filter_map(Result::ok) {
            let Ok(text) = std::fs::read_to_string(overlay.path().join("kustomization.yaml")) else { continue };
            // The Secret's variables come from the base Deployments.
            let mut source = ConfigSource::new();
            for key in ["KAIGO_DATABASE__URL", "KAIGO_REDIS__URL", "KAIGO_INTERNAL_AUTH__SECRET"] {
                source = source.with_env(key, stand_in(key, "", web.path()));
            }
            for (key, value) in text
                .lines()
                .filter_map(|l| l.trim().strip_prefix("- "))
                .filter_map(|l| l.split_once('='))
                .filter(|(k, _)| k.starts_with("KAIGO_"))
            {
                source = source.with_env(key, stand_in(key, value, web.path()));
            }
            if let Err(err) = source.load::<KaigoConfig>() {
                panic!("{}: {err}", overlay.path().display());
            }
        }
    }

    /// The README's one-machine `kaigo.toml` is a configuration every component starts from:
    /// every key real, every value of the right form, everything `kaigo serve` requires set.
    #[test]
    fn the_readme_one_machine_kaigo_toml_has_what_every_component_needs() {
        let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).unwrap();
        let marker = "<!-- one-machine kaigo.toml: loaded by the tests -->\n```toml\n";
        let start = readme.find(marker).expect("the README's one-machine kaigo.toml") + marker.len();
        let toml = &readme[start..start + readme[start..].find("```").unwrap()];
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kaigo.toml");
        std::fs::write(&file, toml).unwrap();
        for (i, component) in
            ["gateway", "eligibility", "certification", "documents", "careplan", "subsidies", "registry"]
                .iter()
                .enumerate()
        {
            let config: KaigoConfig = ConfigSource::new()
                .with_file(&file)
                .with_env("KAIGO_SERVER__LISTEN", format!("127.0.0.1:{}", 50060 + i))
                .load()
                .unwrap_or_else(|e| panic!("{component}: {e}"));
            assert!(kaigo_platform::auth::CallerKeys::from_config(&config.internal_auth).is_some());
            assert!(config.database.url.expose().starts_with("postgres://"));
            assert!(config.redis.url.expose().starts_with("redis://"));
            assert_eq!(config.gateway.upstreams.len(), 6);
            assert!(!config.auth.public_key_files.is_empty());
            assert!(!config.certification.eligibility_url.is_empty());
            // The person's access log gathers every audited service's trail.
            assert_eq!(config.registry.audit_sources.len(), 4);
            assert!(config.documents.storage_url.starts_with("file:///"));
            kaigo_documents::blob::crypto::Keyring::parse(&config.documents.encryption_keys).unwrap();
        }
    }

    /// `KEY=VALUE` lines of a kustomize env file.
    fn env_file(path: &Path) -> Vec<(String, String)> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect()
    }

    /// A valid value for settings that name files or secrets the test machine does not have.
    fn stand_in(key: &str, value: &str, web_root: &Path) -> String {
        match key {
            "KAIGO_GATEWAY__WEB__ROOT" => web_root.display().to_string(),
            "KAIGO_DATABASE__URL" => "postgres://kaigo@db.invalid/kaigo".to_owned(),
            "KAIGO_REDIS__URL" => "redis://redis.invalid:6379".to_owned(),
            "KAIGO_INTERNAL_AUTH__SECRET" => "x".repeat(48),
            "KAIGO_DOCUMENTS__ENCRYPTION_KEYS" => kaigo_documents::blob::crypto::Keyring::generate_entry("k1"),
            _ => value.to_owned(),
        }
    }
}

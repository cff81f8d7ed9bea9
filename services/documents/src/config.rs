//! `[documents]` configuration (`KAIGO_DOCUMENTS__*`).

use kaigo_platform::access::AccessOptions;
use kaigo_platform::config::{Problems, Secret, Validate};
use serde::{Deserialize, Serialize};

use crate::blob::crypto::Keyring;
use crate::blob::storage::S3Options;

/// `[documents]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where attachment blobs go: `file:///absolute/dir` or `s3://bucket/prefix`. Empty: in
    /// `kaigo dev`, `<data dir>/files`; required otherwise.
    pub storage_url: String,
    /// Encryption keys as `kid:base64(32 bytes)`; the first encrypts new blobs, all decrypt
    /// (add a new key first to rotate, keep the old ones while blobs use them). Empty: in
    /// `kaigo dev`, a key generated into the data directory; required otherwise.
    #[serde(deserialize_with = "kaigo_platform::config::secrets_list")]
    pub encryption_keys: Vec<Secret>,
    /// Largest attachment accepted, in bytes.
    pub max_attachment_bytes: u64,
    /// Pending blobs (uploads whose metadata never committed) older than this are removed.
    pub pending_max_age_minutes: u64,
    /// How often the sweeper looks for them.
    pub sweep_interval_secs: u64,
    /// S3-compatible endpoint (`https://…`); empty = AWS (or `AWS_ENDPOINT`).
    pub s3_endpoint: String,
    /// S3 region; empty = `AWS_REGION` / `AWS_DEFAULT_REGION`.
    pub s3_region: String,
    /// S3 access key id; empty = `AWS_ACCESS_KEY_ID` or the instance/pod identity.
    pub s3_access_key_id: Secret,
    /// S3 secret access key; empty = `AWS_SECRET_ACCESS_KEY` or the instance/pod identity.
    pub s3_secret_access_key: Secret,
    /// Allow plain-HTTP endpoints (loopback test servers only).
    pub s3_allow_http: bool,
    /// The last written date (`YYYY-MM-DD`, JST) a 令和3年-form opinion is accepted for; unset:
    /// no end. UNCONFIRMED: the 2026-04-01 revision publishes no end for the old form.
    pub reiwa3_form_accepted_until: Option<chrono::NaiveDate>,
    /// The denied-lookup alert (docs/domain/access.md#facts-copy):
    /// `documents.access.denied_alert_per_minute`.
    pub access: AccessOptions,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            storage_url: String::new(),
            encryption_keys: Vec::new(),
            max_attachment_bytes: 20 * 1024 * 1024,
            pending_max_age_minutes: 60,
            sweep_interval_secs: 300,
            s3_endpoint: String::new(),
            s3_region: String::new(),
            s3_access_key_id: Secret::default(),
            s3_secret_access_key: Secret::default(),
            s3_allow_http: false,
            reiwa3_form_accepted_until: None,
            access: AccessOptions::default(),
        }
    }
}

impl Config {
    /// The S3 settings.
    pub fn s3(&self) -> S3Options {
        S3Options {
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            access_key_id: self.s3_access_key_id.expose().to_owned(),
            secret_access_key: self.s3_secret_access_key.expose().to_owned(),
            allow_http: self.s3_allow_http,
        }
    }
}

/// The ceiling for `max_attachment_bytes`: 1 GiB.
pub const MAX_ATTACHMENT_CEILING: u64 = 1 << 30;

impl Validate for Config {
    fn validate(&self, problems: &mut Problems) {
        let url = &self.storage_url;
        if !url.is_empty() && !url.starts_with("file:///") && !url.starts_with("s3://") {
            problems.add("documents.storage_url", "expected file:///absolute/dir or s3://bucket/prefix");
        }
        if !self.encryption_keys.is_empty()
            && let Err(err) = Keyring::parse(&self.encryption_keys)
        {
            problems.add("documents.encryption_keys", err);
        }
        if !(1..=MAX_ATTACHMENT_CEILING).contains(&self.max_attachment_bytes) {
            problems.add("documents.max_attachment_bytes", "between 1 and 1073741824 (1 GiB)");
        }
        if !(1..=7 * 24 * 60).contains(&self.pending_max_age_minutes) {
            problems.add("documents.pending_max_age_minutes", "between 1 and 10080 (a week)");
        }
        if !(1..=86_400).contains(&self.sweep_interval_secs) {
            problems.add("documents.sweep_interval_secs", "between 1 and 86400");
        }
        if !self.s3_endpoint.is_empty() && !self.s3_endpoint.starts_with("http") {
            problems.add("documents.s3_endpoint", "an http:// or https:// URL");
        }
        self.access.validate_in("documents.access", problems);
    }
}

#[cfg(test)]
mod tests {
    use kaigo_platform::config::ConfigSource;

    use super::*;

    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(default)]
    struct Root {
        documents: Config,
    }

    impl Validate for Root {
        fn validate(&self, problems: &mut Problems) {
            self.documents.validate(problems);
        }
    }

    #[test]
    fn keys_and_limits_come_from_the_environment() {
        let key = Keyring::generate_entry("k2");
        let root: Root = ConfigSource::new()
            .with_env("KAIGO_DOCUMENTS__ENCRYPTION_KEYS", format!("[{key}]"))
            .with_env("KAIGO_DOCUMENTS__MAX_ATTACHMENT_BYTES", "1048576")
            .with_env("KAIGO_DOCUMENTS__STORAGE_URL", "s3://bucket/kaigo")
            .load()
            .unwrap();
        assert_eq!(root.documents.max_attachment_bytes, 1_048_576);
        assert_eq!(Keyring::parse(&root.documents.encryption_keys).unwrap().active_id(), "k2");
    }

    #[test]
    fn the_old_form_end_is_a_date() {
        let root: Root =
            ConfigSource::new().with_env("KAIGO_DOCUMENTS__REIWA3_FORM_ACCEPTED_UNTIL", "2026-09-30").load().unwrap();
        assert_eq!(root.documents.reiwa3_form_accepted_until, chrono::NaiveDate::from_ymd_opt(2026, 9, 30));
        let err = ConfigSource::new()
            .with_env("KAIGO_DOCUMENTS__REIWA3_FORM_ACCEPTED_UNTIL", "30/09/2026")
            .load::<Root>()
            .unwrap_err();
        assert!(err.key.starts_with("documents.reiwa3_form_accepted_until"), "{err}");
    }

    /// A Kubernetes Secret holds one string: the keys comma-separated, newest first.
    #[test]
    fn keys_come_as_one_comma_separated_string_too() {
        let (k2, k1) = (Keyring::generate_entry("k2"), Keyring::generate_entry("k1"));
        let root: Root =
            ConfigSource::new().with_env("KAIGO_DOCUMENTS__ENCRYPTION_KEYS", format!("{k2}, {k1}")).load().unwrap();
        assert_eq!(root.documents.encryption_keys.len(), 2);
        assert_eq!(Keyring::parse(&root.documents.encryption_keys).unwrap().active_id(), "k2");
        let one: Root = ConfigSource::new().with_env("KAIGO_DOCUMENTS__ENCRYPTION_KEYS", k1).load().unwrap();
        assert_eq!(Keyring::parse(&one.documents.encryption_keys).unwrap().active_id(), "k1");
    }

    #[test]
    fn bad_values_name_their_key() {
        let err =
            ConfigSource::new().with_env("KAIGO_DOCUMENTS__ENCRYPTION_KEYS", "[k1:short]").load::<Root>().unwrap_err();
        assert!(err.key.contains("documents.encryption_keys"), "{err}");
        assert!(!err.message.contains("short"), "the key must not be echoed: {err}");
        let err = ConfigSource::new().with_env("KAIGO_DOCUMENTS__STORAGE_URL", "ftp://x").load::<Root>().unwrap_err();
        assert_eq!(err.key, "documents.storage_url (environment variable KAIGO_DOCUMENTS__STORAGE_URL)");
    }
}

//! The keys tokens are checked against: fixed ones (PEM files, an HS256 secret) and a JWKS
//! from a file or URL that is refreshed in the background and re-fetched, at most once per
//! `auth.jwks_min_refetch_secs`, when a token names a `kid` the gateway does not know yet.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::{Algorithm, DecodingKey};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::keys::{PinnedKey, pinned_from_jwks, pinned_from_pem};
use crate::config::AuthConfig;

/// A JWKS document larger than this is refused (identity providers publish a few keys).
const MAX_JWKS_BYTES: usize = 1 << 20;
/// How long one JWKS fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

enum Source {
    File(PathBuf),
    Url { uri: http::Uri, client: Box<HttpsClient> },
}

struct Fetched {
    keys: Vec<PinnedKey>,
    /// SHA-256 of the document, to notice when it changes.
    digest: [u8; 32],
}

/// The key set, swapped atomically on refresh.
pub(crate) struct KeyStore {
    fixed: Vec<PinnedKey>,
    jwks: ArcSwap<Fetched>,
    source: Option<Source>,
    /// Bumped whenever the JWKS changes; cached verifications of older generations are redone.
    generation: AtomicU64,
    /// When the last fetch started; guards re-fetches for unknown `kid`s.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
    min_refetch: Duration,
}

impl KeyStore {
    /// Loads the fixed keys and the first JWKS. A JWKS URL that does not answer yet is retried
    /// in the background; a JWKS file that cannot be read is a configuration error.
    pub(crate) async fn load(config: &AuthConfig) -> Result<Self, String> {
        let mut fixed = Vec::new();
        for file in &config.public_key_files {
            let pem = std::fs::read(file).map_err(|e| format!("auth.public_key_files: cannot read {file}: {e}"))?;
            fixed.push(pinned_from_pem(&pem).map_err(|e| format!("auth.public_key_files: {file}: {e}"))?);
        }
        if !config.hs256_secret.is_empty() {
            // Only an explicit shared secret enables HS256: then HS256 tokens are checked
            // against this secret and nothing else, never against a public key.
            let key = DecodingKey::from_secret(config.hs256_secret.expose().as_bytes())
                .map_err(|e| format!("auth.hs256_secret: {e}"))?;
            fixed.push(PinnedKey { kid: None, key, algorithm: Algorithm::HS256 });
        }
        let source = match (config.jwks_file.is_empty(), config.jwks_url.is_empty()) {
            (true, true) => None,
            (false, true) => Some(Source::File(PathBuf::from(&config.jwks_file))),
            (true, false) => {
                let uri: http::Uri = config.jwks_url.parse().map_err(|_| "auth.jwks_url: not a URL".to_owned())?;
                Some(Source::Url { uri, client: Box::new(https_client()?) })
            }
            (false, false) => return Err("auth.jwks_file and auth.jwks_url: set one, not both".to_owned()),
        };
        if fixed.is_empty() && source.is_none() {
            return Err(
                "auth: no key configured (public_key_files, jwks_file or jwks_url); the gateway would accept no token"
                    .to_owned(),
            );
        }
        let store = Self {
            fixed,
            jwks: ArcSwap::from_pointee(Fetched { keys: Vec::new(), digest: [0; 32] }),
            source,
            generation: AtomicU64::new(0),
            last_fetch: tokio::sync::Mutex::new(None),
            min_refetch: Duration::from_secs(config.jwks_min_refetch_secs),
        };
        match (&store.source, store.refresh().await) {
            (Some(Source::File(path)), Err(err)) => {
                return Err(format!("auth.jwks_file: {}: {err}", path.display()));
            }
            (_, Err(err)) => tracing::warn!(error = %err, "JWKS not loaded yet; retrying in the background"),
            _ => {}
        }
        Ok(store)
    }

    /// The current generation of the key set.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The keys a token with header `kid`/`alg` may be checked against: with a `kid`, the JWKS
    /// key of that id (and algorithm); without one, every fixed key of the algorithm.
    pub(crate) fn candidates(&self, kid: Option<&str>, alg: Algorithm) -> Vec<PinnedKey> {
        match kid {
            Some(kid) => self
                .jwks
                .load()
                .keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid) && k.algorithm == alg)
                .cloned()
                .collect(),
            None => self.fixed.iter().filter(|k| k.algorithm == alg).cloned().collect(),
        }
    }

    /// True when the JWKS holds a key with this id (of any algorithm).
    pub(crate) fn knows_kid(&self, kid: &str) -> bool {
        self.jwks.load().keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// Re-fetches the JWKS for a token naming an unknown `kid`, unless a fetch started less than
    /// `min_refetch` ago (a stream of made-up `kid`s must not hammer the identity provider).
    /// Concurrent callers wait for the one fetch.
    pub(crate) async fn refetch_for_unknown_kid(&self) {
        if self.source.is_none() {
            return;
        }
        let mut last = self.last_fetch.lock().await;
        if last.is_some_and(|t| t.elapsed() < self.min_refetch) {
            return;
        }
        *last = Some(Instant::now());
        if let Err(err) = self.fetch_and_swap().await {
            tracing::warn!(error = %err, "JWKS re-fetch for an unknown kid failed");
        }
    }

    /// Fetches the JWKS now; returns whether it changed.
    pub(crate) async fn refresh(&self) -> Result<bool, String> {
        *self.last_fetch.lock().await = Some(Instant::now());
        self.fetch_and_swap().await
    }

    async fn fetch_and_swap(&self) -> Result<bool, String> {
        let Some(source) = &self.source else { return Ok(false) };
        let document = match source {
            Source::File(path) => tokio::fs::read(path).await.map_err(|e| e.to_string())?,
            Source::Url { uri, client } => fetch(client, uri).await?,
        };
        let digest: [u8; 32] = Sha256::digest(&document).into();
        if digest == self.jwks.load().digest {
            return Ok(false);
        }
        let (keys, skipped) = pinned_from_jwks(&document)?;
        for why in skipped {
            tracing::warn!(reason = %why, "JWKS key skipped");
        }
        tracing::info!(keys = keys.len(), "JWKS loaded");
        self.jwks.store(Arc::new(Fetched { keys, digest }));
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(true)
    }

    /// Refreshes the JWKS every `period` until the process ends.
    pub(crate) fn spawn_refresh(self: &Arc<Self>, period: Duration) {
        if self.source.is_none() {
            return;
        }
        let store = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                let Some(store) = store.upgrade() else { return };
                if let Err(err) = store.refresh().await {
                    tracing::warn!(error = %err, "JWKS refresh failed; keeping the previous keys");
                }
            }
        });
    }
}

fn https_client() -> Result<HttpsClient, String> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|e| format!("auth.jwks_url: TLS: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

async fn fetch(client: &HttpsClient, uri: &http::Uri) -> Result<Vec<u8>, String> {
    let request = http::Request::get(uri.clone())
        .header(http::header::ACCEPT, "application/json")
        .body(Empty::new())
        .map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(FETCH_TIMEOUT, client.request(request))
        .await
        .map_err(|_| "JWKS fetch timed out".to_owned())?
        .map_err(|e| format!("JWKS fetch failed: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("JWKS fetch answered HTTP {}", response.status()));
    }
    let body = tokio::time::timeout(FETCH_TIMEOUT, Limited::new(response.into_body(), MAX_JWKS_BYTES).collect())
        .await
        .map_err(|_| "JWKS fetch timed out".to_owned())?
        .map_err(|e| format!("JWKS body: {e}"))?;
    Ok(body.to_bytes().to_vec())
}

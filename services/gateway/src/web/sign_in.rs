//! How the screens sign people in.
//!
//! `GET /auth/config` tells the screens the mode: `oidc` (the operator's OpenID Connect provider,
//! authorization code with PKCE run in the browser; the gateway only publishes the settings),
//! `dev` (`kaigo dev`: pick one of the demo organisations; tokens are minted with the dev key and
//! checked like any other) or `none` (no sign-in configured: only vendors with their own tokens).
//! `GET /auth/dev/identities` and `POST /auth/dev/token` exist in `dev` mode only.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use kaigo_platform::auth::Role;
use serde::{Deserialize, Serialize};
use tonic::body::Body;

use super::{plain, respond};
use crate::auth::{Claims, DevKey};
use crate::config::OidcConfig;

/// One demo organisation a person may sign in as in `kaigo dev`.
#[derive(Debug, Clone, Serialize)]
pub struct DevIdentity {
    /// Stable id the screens send back (`care_office` …).
    pub id: String,
    /// The role of its tokens.
    pub role: Role,
    /// What the sign-in page shows, in Japanese and in English.
    pub label_ja: String,
    pub label_en: String,
    /// 保険者番号 (insurer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insurer_number: Option<String>,
    /// 介護保険事業所番号 (care office, service provider).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub office_number: Option<String>,
    /// 医療機関コード (medical institution).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub institution_code: Option<String>,
    /// The token's subject; `dev-<id>` when absent. A demo person (role `insured_person`) has
    /// its identity link here, as the operator's identity provider would put it.
    #[serde(skip)]
    pub subject: Option<String>,
}

impl DevIdentity {
    /// The claims of a token for this organisation, valid from `now` for `ttl_secs`.
    pub fn claims(&self, issuer: &str, audience: &str, now: i64, ttl_secs: i64) -> Claims {
        Claims {
            iss: issuer.to_owned(),
            aud: audience.to_owned(),
            sub: self.subject.clone().unwrap_or_else(|| format!("dev-{}", self.id)),
            exp: now + ttl_secs,
            nbf: now,
            iat: now,
            role: self.role.as_str().to_owned(),
            insurer_number: self.insurer_number.clone(),
            office_number: self.office_number.clone(),
            institution_code: self.institution_code.clone(),
            scope: String::new(),
            consents: Vec::new(),
        }
    }
}

/// Sign-in with demo organisations: the dev key, the issuer and audience the gateway accepts,
/// and the organisations. Only `kaigo dev` builds one, and only on loopback.
pub struct DevSignIn {
    pub key: DevKey,
    pub issuer: String,
    pub audience: String,
    pub identities: Vec<DevIdentity>,
    /// Lifetime of a minted token, in seconds.
    pub ttl_secs: i64,
}

pub(super) struct SignIn {
    config: Bytes,
    dev: Option<DevSignIn>,
}

#[derive(Serialize)]
struct ConfigAnswer<'a> {
    mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    oidc: Option<&'a OidcConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenAsk {
    identity: String,
}

#[derive(Serialize)]
struct TokenAnswer {
    token: String,
    expires_at: i64,
}

/// The longest body `POST /auth/dev/token` reads.
const MAX_ASK_BYTES: usize = 1024;

impl SignIn {
    pub(super) fn new(oidc: &OidcConfig, dev: Option<DevSignIn>) -> Self {
        let answer = match (&dev, oidc.enabled()) {
            (Some(_), _) => ConfigAnswer { mode: "dev", oidc: None },
            (None, true) => ConfigAnswer { mode: "oidc", oidc: Some(oidc) },
            (None, false) => ConfigAnswer { mode: "none", oidc: None },
        };
        let config = serde_json::to_vec(&answer).unwrap_or_default().into();
        Self { config, dev }
    }

    pub(super) async fn answer(&self, request: http::Request<Body>) -> http::Response<Body> {
        let method = request.method().clone();
        match (request.uri().path(), &self.dev) {
            ("/auth/config", _) if method == http::Method::GET => json(self.config.clone()),
            ("/auth/dev/identities", Some(dev)) if method == http::Method::GET => {
                json(serde_json::to_vec(&dev.identities).unwrap_or_default().into())
            }
            ("/auth/dev/token", Some(dev)) if method == http::Method::POST => dev.mint(request).await,
            ("/auth/config" | "/auth/dev/identities" | "/auth/dev/token", _) if self.dev.is_some() => {
                plain(http::StatusCode::METHOD_NOT_ALLOWED, "wrong method")
            }
            _ => plain(http::StatusCode::NOT_FOUND, "not found"),
        }
    }
}

impl DevSignIn {
    async fn mint(&self, request: http::Request<Body>) -> http::Response<Body> {
        let json_body = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        // A JSON content type cannot be sent by a plain cross-site form: no token for other sites.
        if !json_body {
            return plain(http::StatusCode::UNSUPPORTED_MEDIA_TYPE, "send application/json");
        }
        let body = match Limited::new(request.into_body(), MAX_ASK_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return plain(http::StatusCode::PAYLOAD_TOO_LARGE, "body too large"),
        };
        let Ok(ask) = serde_json::from_slice::<TokenAsk>(&body) else {
            return plain(http::StatusCode::BAD_REQUEST, "expected {\"identity\": \"<id>\"}");
        };
        let Some(identity) = self.identities.iter().find(|i| i.id == ask.identity) else {
            return plain(http::StatusCode::NOT_FOUND, "no such demo identity");
        };
        let claims = identity.claims(&self.issuer, &self.audience, kaigo_platform::auth::unix_now(), self.ttl_secs);
        match self.key.mint(&claims) {
            Ok(token) => {
                let answer = TokenAnswer { token, expires_at: claims.exp };
                json(serde_json::to_vec(&answer).unwrap_or_default().into())
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot mint a dev token");
                plain(http::StatusCode::INTERNAL_SERVER_ERROR, "cannot mint a token")
            }
        }
    }
}

fn json(body: Bytes) -> http::Response<Body> {
    respond(http::StatusCode::OK, "application/json", body)
}

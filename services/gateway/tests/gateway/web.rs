//! What a browser gets at the gateway: gRPC-Web over HTTP/1.1 with the vendors' rules, the
//! demo sign-in of `kaigo dev`, the OpenID settings, and the screens' files.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kaigo_gateway::{AuthConfig, DevIdentity, DevKey, DevSignIn, GatewayConfig, OidcConfig, WebConfig};
use kaigo_platform::auth::{CallerKeys, Role};
use kaigo_proto::kaigo::subsidies::v1 as subs;
use prost::Message;

use crate::support::*;

const DEV_ISSUER: &str = "kaigo-dev-test";

struct Answer {
    status: http::StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
}

/// One HTTP/1.1 request, as a browser sends it.
async fn http1(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = http::Request::builder().method(method).uri(format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client.request(request.body(Full::new(Bytes::from(body))).unwrap()).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_11);
    let (parts, body) = response.into_parts();
    Answer { status: parts.status, headers: parts.headers, body: body.collect().await.unwrap().to_bytes() }
}

/// A gRPC-Web message frame (flag 0) around `message`.
fn frame(message: &impl Message) -> Vec<u8> {
    let bytes = message.encode_to_vec();
    let mut framed = vec![0u8];
    framed.extend_from_slice(&u32::try_from(bytes.len()).unwrap().to_be_bytes());
    framed.extend_from_slice(&bytes);
    framed
}

/// The data frames and the trailers (flag 0x80) of a gRPC-Web answer body.
fn unframe(mut body: &[u8]) -> (Vec<Vec<u8>>, String) {
    let (mut messages, mut trailers) = (Vec::new(), String::new());
    while body.len() >= 5 {
        let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        let payload = body[5..5 + len].to_vec();
        if body[0] & 0x80 != 0 {
            trailers.push_str(&String::from_utf8(payload).unwrap());
        } else {
            messages.push(payload);
        }
        body = &body[5 + len..];
    }
    (messages, trailers)
}

/// The grpc-status of a gRPC-Web answer: in the headers (trailers-only) or the trailer frame.
fn grpc_status(answer: &Answer) -> String {
    if let Some(status) = answer.headers.get("grpc-status") {
        return status.to_str().unwrap().to_owned();
    }
    let (_, trailers) = unframe(&answer.body);
    trailers
        .lines()
        .find_map(|l| l.strip_prefix("grpc-status:"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| panic!("no grpc-status in {trailers:?}"))
}

struct DevGateway {
    gw: TestGateway,
    _dir: tempfile::TempDir,
    _upstream: TestUpstream,
}

/// A gateway with the screens in a temporary directory and the demo sign-in of `kaigo dev`.
async fn dev_gateway() -> DevGateway {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir_all(site.join("assets")).unwrap();
    std::fs::write(site.join("index.html"), "<!doctype html><title>kaigo</title>").unwrap();
    std::fs::write(site.join("assets/app-3f2a.js"), "export {}").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "outside the web root").unwrap();
    let key = DevKey::load_or_create(&dir.path().join("keys")).unwrap();
    let auth = AuthConfig {
        issuer: DEV_ISSUER.to_owned(),
        audience: AUDIENCE.to_owned(),
        public_key_files: vec![key.public_key_file().display().to_string()],
        ..AuthConfig::default()
    };
    let dev = DevSignIn {
        key,
        issuer: DEV_ISSUER.to_owned(),
        audience: AUDIENCE.to_owned(),
        identities: vec![DevIdentity {
            id: "care_office".to_owned(),
            role: Role::CareOffice,
            label_ja: "居宅介護支援事業所".to_owned(),
            label_en: "Care office".to_owned(),
            insurer_number: None,
            office_number: Some(OFFICE.to_owned()),
            institution_code: None,
            subject: None,
        }],
        ttl_secs: 600,
    };
    let config = GatewayConfig {
        web: WebConfig { root: site.display().to_string(), ..WebConfig::default() },
        ..GatewayConfig::default()
    };
    let keys = CallerKeys::generate();
    let (upstream, server) = start_upstream("127.0.0.1:0", &keys, "a").await;
    let gw = start_front(auth, config, &keys, &[("subsidies", vec![upstream])], Some(dev)).await;
    DevGateway { gw, _dir: dir, _upstream: server }
}

async fn dev_token(addr: SocketAddr, identity: &str) -> String {
    let ask = serde_json::json!({ "identity": identity }).to_string().into_bytes();
    let answer = http1(addr, "POST", "/auth/dev/token", &[("content-type", "application/json")], ask).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let json: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert!(json["expires_at"].as_i64().unwrap() > now());
    json["token"].as_str().unwrap().to_owned()
}

const LIST_PROGRAMMES: &str = "/kaigo.subsidies.v1.SubsidyService/ListProgrammes";

#[tokio::test]
async fn a_browser_calls_a_service_with_grpc_web_over_http1_with_the_vendors_rules() {
    let dev = dev_gateway().await;
    let addr = dev.gw.addr;
    let token = dev_token(addr, "care_office").await;
    let bearer = format!("Bearer {token}");
    let body = frame(&subs::ListProgrammesRequest::default());

    let answer = http1(
        addr,
        "POST",
        LIST_PROGRAMMES,
        &[("content-type", "application/grpc-web+proto"), ("x-grpc-web", "1"), ("authorization", &bearer)],
        body.clone(),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["content-type"], "application/grpc-web+proto");
    assert_eq!(grpc_status(&answer), "0");
    // The service saw the caller the gateway verified, as for a vendor's gRPC call.
    assert_eq!(answer.headers["x-caller-role"], "care_office");
    let (messages, _) = unframe(&answer.body);
    assert_eq!(messages.len(), 1);
    subs::ListProgrammesResponse::decode(messages[0].as_slice()).unwrap();

    // The text encoding (base64) of older gRPC-Web clients works too.
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD.encode(&body).into_bytes();
    let answer = http1(
        addr,
        "POST",
        LIST_PROGRAMMES,
        &[
            ("content-type", "application/grpc-web-text"),
            ("accept", "application/grpc-web-text"),
            ("authorization", &bearer),
        ],
        text,
    )
    .await;
    assert!(answer.headers["content-type"].to_str().unwrap().starts_with("application/grpc-web-text"));
    // Each frame is encoded on its own, so padding may sit between frames.
    let text = String::from_utf8(answer.body.to_vec()).unwrap();
    let mut decoded = Vec::new();
    for chunk in text.split_inclusive('=').filter(|c| *c != "=") {
        let padded =
            if chunk.len() % 4 == 0 { chunk.to_owned() } else { format!("{chunk}{}", "=".repeat(4 - chunk.len() % 4)) };
        decoded.extend(
            base64::engine::general_purpose::STANDARD.decode(padded.trim_start_matches('=')).unwrap_or_default(),
        );
    }
    let (messages, trailers) = unframe(&decoded);
    assert_eq!(messages.len(), 1, "{text}");
    assert!(trailers.contains("grpc-status:0"), "{text}");

    // No token, a forged one: refused exactly as for vendors.
    for headers in [vec![], vec![("authorization", "Bearer not.a.token")]] {
        let mut all = vec![("content-type", "application/grpc-web+proto")];
        all.extend(headers);
        let answer = http1(addr, "POST", LIST_PROGRAMMES, &all, body.clone()).await;
        assert_eq!(grpc_status(&answer), "16", "UNAUTHENTICATED");
    }

    // Native gRPC over HTTP/2 still works on the same port.
    let channel = channel(addr).await;
    let response = list_programmes(&channel, Some(&token), &[]).await.unwrap();
    assert_eq!(response.metadata().get("x-caller-role").unwrap(), "care_office");
}

#[tokio::test]
async fn the_dev_sign_in_mints_tokens_only_for_its_demo_identities() {
    let dev = dev_gateway().await;
    let addr = dev.gw.addr;
    let config = http1(addr, "GET", "/auth/config", &[], vec![]).await;
    assert_eq!(config.status, 200);
    assert_eq!(config.headers["cache-control"], "no-store");
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&config.body).unwrap()["mode"], "dev");

    let identities = http1(addr, "GET", "/auth/dev/identities", &[], vec![]).await;
    let identities: serde_json::Value = serde_json::from_slice(&identities.body).unwrap();
    assert_eq!(identities[0]["id"], "care_office");
    assert_eq!(identities[0]["role"], "care_office");
    assert_eq!(identities[0]["office_number"], OFFICE);

    let json = [("content-type", "application/json")];
    let unknown = http1(addr, "POST", "/auth/dev/token", &json, br#"{"identity":"insurer"}"#.to_vec()).await;
    assert_eq!(unknown.status, 404);
    let garbage = http1(addr, "POST", "/auth/dev/token", &json, b"{role: insurer}".to_vec()).await;
    assert_eq!(garbage.status, 400);
    // A cross-site form cannot send JSON: a form-encoded ask is refused.
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let posted = http1(addr, "POST", "/auth/dev/token", &form, b"identity=care_office".to_vec()).await;
    assert_eq!(posted.status, 415);
    let oversized = vec![b' '; 4096];
    assert_eq!(http1(addr, "POST", "/auth/dev/token", &json, oversized).await.status, 413);
    assert_eq!(http1(addr, "GET", "/auth/dev/token", &[], vec![]).await.status, 405);
}

#[tokio::test]
async fn the_screens_files_are_served_with_a_strict_policy_and_nothing_outside_the_root() {
    let dev = dev_gateway().await;
    let addr = dev.gw.addr;

    for route in ["/", "/eligibility", "/applications/0192f0c1-7a3b-7c00-8000-00000000a001", "/auth/callback"] {
        let page = http1(addr, "GET", route, &[], vec![]).await;
        assert_eq!(page.status, 200, "{route}");
        assert!(String::from_utf8_lossy(&page.body).contains("<title>kaigo</title>"), "{route}");
        assert_eq!(page.headers["cache-control"], "no-cache", "{route}");
        let policy = page.headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("default-src 'self'") && policy.contains("frame-ancestors 'none'"));
        assert_eq!(page.headers["x-content-type-options"], "nosniff");
    }
    let asset = http1(addr, "GET", "/assets/app-3f2a.js", &[], vec![]).await;
    assert_eq!(asset.status, 200);
    assert_eq!(asset.body.as_ref(), b"export {}");
    assert_eq!(asset.headers["cache-control"], "public, max-age=31536000, immutable");

    assert_eq!(http1(addr, "GET", "/assets/missing.js", &[], vec![]).await.status, 404);
    for escape in ["/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt"] {
        let answer = http1(addr, "GET", escape, &[], vec![]).await;
        assert!(!String::from_utf8_lossy(&answer.body).contains("outside the web root"), "{escape}");
    }
    assert_eq!(http1(addr, "DELETE", "/eligibility", &[], vec![]).await.status, 405);
}

#[tokio::test]
async fn without_dev_sign_in_the_screens_learn_the_operators_openid_provider() {
    let keys = CallerKeys::generate();
    let (upstream, _server) = start_upstream("127.0.0.1:0", &keys, "a").await;
    let oidc = OidcConfig {
        authorization_endpoint: "https://idp.example.jp/authorize".to_owned(),
        token_endpoint: "https://idp.example.jp/token".to_owned(),
        client_id: "kaigo-web".to_owned(),
        scope: "openid profile".to_owned(),
        ..OidcConfig::default()
    };
    let config = GatewayConfig { web: WebConfig { oidc, ..WebConfig::default() }, ..GatewayConfig::default() };
    let idp = TestKey::ed25519("idp-1");
    let jwks_server = JwksServer::start(jwks(&[&idp])).await;
    let gw = start_front(auth_config(&jwks_server.url), config, &keys, &[("subsidies", vec![upstream])], None).await;

    let answer = http1(gw.addr, "GET", "/auth/config", &[], vec![]).await;
    let json: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(json["mode"], "oidc");
    assert_eq!(json["oidc"]["client_id"], "kaigo-web");
    assert_eq!(json["oidc"]["token"], "access_token");
    // The browser exchanges the code at the provider: the policy lets it connect there only.
    let policy = answer.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("connect-src 'self' https://idp.example.jp;"), "{policy}");
    // No demo sign-in outside kaigo dev.
    let json = [("content-type", "application/json")];
    let ask = br#"{"identity":"care_office"}"#.to_vec();
    assert_eq!(http1(gw.addr, "POST", "/auth/dev/token", &json, ask).await.status, 404);
    assert_eq!(http1(gw.addr, "GET", "/auth/dev/identities", &[], vec![]).await.status, 404);
    // No screens configured: says so.
    assert_eq!(http1(gw.addr, "GET", "/", &[], vec![]).await.status, 404);
}

/// Config refuses a provider the browser would reach over plain http, or without openid.
#[test]
fn openid_settings_are_checked_at_start() {
    use kaigo_platform::config::{Problems, Validate};
    let config = GatewayConfig {
        web: WebConfig {
            root: "/nonexistent/kaigo/web".to_owned(),
            oidc: OidcConfig {
                authorization_endpoint: "http://idp.example.jp/authorize".to_owned(),
                token_endpoint: "https://idp.example.jp/token".to_owned(),
                client_id: "kaigo-web".to_owned(),
                scope: "profile".to_owned(),
                token: "refresh_token".to_owned(),
                ..OidcConfig::default()
            },
            allowed_origins: vec!["https://web.kaigo.example.jp/screens".to_owned()],
        },
        ..GatewayConfig::default()
    };
    let mut problems = Problems::default();
    config.validate(&mut problems);
    let text = format!("{problems:?}");
    for key in [
        "gateway.web.root",
        "authorization_endpoint",
        "gateway.web.oidc.scope",
        "gateway.web.oidc.token",
        "gateway.web.allowed_origins",
    ] {
        assert!(text.contains(key), "{key} not reported in {text}");
    }
    assert!(!text.contains("token_endpoint"), "{text}");
}

#[tokio::test]
async fn screens_on_a_listed_origin_may_call_across_origins_and_others_may_not() {
    let keys = CallerKeys::generate();
    let (upstream, _server) = start_upstream("127.0.0.1:0", &keys, "a").await;
    let idp = TestKey::ed25519("idp-1");
    let jwks_server = JwksServer::start(jwks(&[&idp])).await;
    let web = WebConfig { allowed_origins: vec!["https://web.kaigo.example.jp".to_owned()], ..WebConfig::default() };
    let config = GatewayConfig { web, ..GatewayConfig::default() };
    let gw = start_front(auth_config(&jwks_server.url), config, &keys, &[("subsidies", vec![upstream])], None).await;
    let listed = "https://web.kaigo.example.jp";
    let preflight = |origin: &'static str, headers: &'static str| {
        let addr = gw.addr;
        async move {
            let asked = [
                ("origin", origin),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", headers),
            ];
            http1(addr, "OPTIONS", LIST_PROGRAMMES, &asked, vec![]).await
        }
    };

    // A listed origin's preflight for what a gRPC-Web client sends is allowed, for ten minutes.
    let ok = preflight(listed, "authorization, content-type, x-grpc-web, x-user-agent").await;
    assert_eq!(ok.status, 204);
    assert_eq!(ok.headers["access-control-allow-origin"], listed);
    assert!(ok.headers["access-control-allow-headers"].to_str().unwrap().contains("authorization"));
    assert_eq!(ok.headers["access-control-max-age"], "600");
    assert!(!ok.headers.contains_key("access-control-allow-credentials"), "tokens are headers, never cookies");
    // Another origin, or an unknown header, gets no CORS headers: the browser will not call.
    for (origin, headers) in [("https://evil.example", "content-type"), (listed, "content-type, cookie")] {
        let refused = preflight(origin, headers).await;
        assert_eq!(refused.status, 403, "{origin} {headers}");
        assert!(!refused.headers.contains_key("access-control-allow-origin"));
    }

    // The call itself: the listed origin may read the answer and its status headers.
    let token = idp.sign(&office_claims("u1"));
    let bearer = format!("Bearer {token}");
    let call = |origin: &'static str| {
        let (addr, bearer) = (gw.addr, bearer.clone());
        async move {
            let headers = [
                ("origin", origin),
                ("content-type", "application/grpc-web+proto"),
                ("authorization", bearer.as_str()),
            ];
            http1(addr, "POST", LIST_PROGRAMMES, &headers, frame(&subs::ListProgrammesRequest::default())).await
        }
    };
    let answer = call(listed).await;
    assert_eq!(grpc_status(&answer), "0");
    assert_eq!(answer.headers["access-control-allow-origin"], listed);
    assert!(answer.headers["access-control-expose-headers"].to_str().unwrap().contains("grpc-status"));
    let stranger = call("https://evil.example").await;
    assert!(!stranger.headers.contains_key("access-control-allow-origin"));
}

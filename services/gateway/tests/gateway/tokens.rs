//! Which tokens the gateway accepts: the refusal matrix, the three algorithms, JWKS rotation.

use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use kaigo_gateway::GatewayConfig;
use kaigo_platform::auth::CallerKeys;
use kaigo_platform::testkit::eventually;
use tonic::Code;

use crate::support::*;

#[tokio::test]
async fn bad_tokens_are_unauthenticated_and_good_ones_of_each_algorithm_pass() {
    let (ed, ec, rsa) = (TestKey::ed25519("ed-1"), TestKey::p256("ec-1"), TestKey::rsa("rsa-1"));
    let jwks_server = JwksServer::start(jwks(&[&ed, &ec, &rsa])).await;
    let keys = CallerKeys::generate();
    let (upstream, _server) = start_upstream("127.0.0.1:0", &keys, "a").await;
    let gw =
        start_gateway(auth_config(&jwks_server.url), GatewayConfig::default(), &keys, &[("subsidies", vec![upstream])])
            .await;
    let channel = channel(gw.addr).await;

    // RS256, ES256 and EdDSA tokens from the JWKS are accepted, and the caller reaches the
    // service signed by the gateway.
    for key in [&ed, &ec, &rsa] {
        let response = list_programmes(&channel, Some(&key.sign(&office_claims("u1"))), &[]).await;
        let response = response.unwrap_or_else(|s| panic!("{:?} refused: {s:?}", key.alg));
        assert_eq!(response.metadata().get("x-caller-role").unwrap(), "care_office");
    }

    let good = office_claims("u1");
    let stranger = TestKey::ed25519("not-published");
    let public_pem = std::fs::read("tests/gateway/keys/rsa.pub.pem").unwrap();
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some("rsa-1".to_owned());
    let hs256_with_public_key =
        jsonwebtoken::encode(&hs_header, &good, &EncodingKey::from_secret(&public_pem).unwrap()).unwrap();
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"ed-1"}"#),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&good).unwrap())
    );
    let tampered = {
        let token = ed.sign(&good);
        let (rest, signature) = token.rsplit_once('.').unwrap();
        let mut sig = URL_SAFE_NO_PAD.decode(signature).unwrap();
        sig[0] ^= 1;
        format!("{rest}.{}", URL_SAFE_NO_PAD.encode(sig))
    };
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("expired", Some(ed.sign(&Claims { exp: now() - 60, ..good.clone() }))),
        ("not yet valid", Some(ed.sign(&Claims { nbf: now() + 600, ..good.clone() }))),
        ("wrong audience", Some(ed.sign(&Claims { aud: "someone-else".to_owned(), ..good.clone() }))),
        ("wrong issuer", Some(ed.sign(&Claims { iss: "https://evil.test".to_owned(), ..good.clone() }))),
        ("alg none", Some(alg_none)),
        ("HS256 signed with the public key", Some(hs256_with_public_key)),
        ("tampered signature", Some(tampered)),
        ("unknown kid", Some(stranger.sign(&good))),
        ("not a JWT", Some("abc.def".to_owned())),
        ("unknown role", Some(ed.sign(&Claims { role: "admin".to_owned(), ..good.clone() }))),
    ];
    for (name, token) in cases {
        let status = list_programmes(&channel, token.as_deref(), &[]).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{name}: {status:?}");
        assert!(!status.message().contains("eyJ"), "{name}: the message must not quote the token");
    }

    // Within the leeway (5 s), a token a moment past exp still passes.
    let just_expired = ed.sign(&Claims { exp: now() - 2, ..good.clone() });
    assert!(list_programmes(&channel, Some(&just_expired), &[]).await.is_ok());
}

#[tokio::test]
async fn a_repeated_token_is_served_from_the_cache_until_its_exp() {
    let door = Door::open(GatewayConfig::default(), &["subsidies"]).await;
    let (gw, ed) = (&door.gw, &door.key);
    let channel = channel(gw.addr).await;
    let token = ed.sign(&office_claims("cached"));
    for _ in 0..5 {
        list_programmes(&channel, Some(&token), &[]).await.unwrap();
    }
    assert_eq!(gw.gateway.verifier().cached_tokens(), 1);

    // A token expiring in 2 s leaves the cache by then (the leeway applies to verification
    // only, never to the cache).
    let short = ed.sign(&Claims { exp: now() + 2, ..office_claims("short") });
    list_programmes(&channel, Some(&short), &[]).await.unwrap();
    assert_eq!(gw.gateway.verifier().cached_tokens(), 2);
    let gone =
        eventually(Duration::from_secs(5), || async { (gw.gateway.verifier().cached_tokens() == 1).then_some(()) })
            .await;
    assert!(gone.is_some(), "the cached entry outlived the token's exp");
}

#[tokio::test]
async fn jwks_rotation_is_picked_up_without_restart() {
    let (old, new) = (TestKey::ed25519("old"), TestKey::p256("new"));
    let jwks_server = JwksServer::start(jwks(&[&old])).await;
    let keys = CallerKeys::generate();
    let (upstream, _server) = start_upstream("127.0.0.1:0", &keys, "a").await;
    let mut auth = auth_config(&jwks_server.url);
    auth.jwks_refresh_secs = 1;
    auth.jwks_min_refetch_secs = 0;
    let gw = start_gateway(auth, GatewayConfig::default(), &keys, &[("subsidies", vec![upstream])]).await;
    let channel = channel(gw.addr).await;
    let old_token = old.sign(&office_claims("u"));
    let new_token = new.sign(&office_claims("u"));
    list_programmes(&channel, Some(&old_token), &[]).await.unwrap();
    assert_eq!(list_programmes(&channel, Some(&new_token), &[]).await.unwrap_err().code(), Code::Unauthenticated);

    // Published: the unknown kid triggers a re-fetch, no restart.
    jwks_server.publish(jwks(&[&old, &new]));
    list_programmes(&channel, Some(&new_token), &[]).await.unwrap();

    // Removed: refused after the next background refresh, cached verification or not.
    jwks_server.publish(jwks(&[&new]));
    let refused = eventually(Duration::from_secs(5), || async {
        list_programmes(&channel, Some(&old_token), &[]).await.err().filter(|s| s.code() == Code::Unauthenticated)
    })
    .await;
    assert!(refused.is_some(), "a removed key was still accepted");
    list_programmes(&channel, Some(&new_token), &[]).await.unwrap();
}

#[tokio::test]
async fn unknown_kids_refetch_the_jwks_at_most_once_per_interval() {
    let door = Door::open(GatewayConfig::default(), &["subsidies"]).await;
    let channel = channel(door.addr()).await;
    let loaded = door.jwks.hits.load(Ordering::SeqCst);
    assert_eq!(loaded, 1, "loaded once at start");
    for i in 0..10 {
        let made_up = TestKey::ed25519(&format!("made-up-{i}"));
        let status = list_programmes(&channel, Some(&made_up.sign(&office_claims("u"))), &[]).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
    }
    // The start-up fetch counts for the interval: the made-up kids cost nothing upstream.
    assert_eq!(door.jwks.hits.load(Ordering::SeqCst), 1);
}

use kaigo_gateway::Claims;

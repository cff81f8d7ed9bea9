//! Services trust only caller headers the gateway signed.

use kaigo_gateway::GatewayConfig;
use kaigo_platform::auth::{CALLER_HEADER, Caller, CallerKeys, Role, SIGNATURE_HEADER, unix_now};
use kaigo_platform::ids::InsurerNumber;
use tonic::Code;

use crate::support::*;

fn operator() -> Caller {
    Caller {
        subject: "attacker".to_owned(),
        role: Role::Operator,
        insurer: None,
        office: None,
        institution: None,
        scopes: vec!["admin".to_owned()],
        consents: Vec::new(),
    }
}

#[tokio::test]
async fn a_forged_caller_header_sent_straight_to_a_service_is_refused() {
    let gateway_keys = CallerKeys::generate();
    let (service, _server) = start_upstream("127.0.0.1:0", &gateway_keys, "a").await;
    let direct = channel(service).await;
    let path = "/kaigo.subsidies.v1.SubsidyService/ListProgrammes";

    // Signed with a key the service does not hold.
    let (payload, signature) = CallerKeys::generate().sign(&operator(), path, unix_now());
    let forged = list_programmes(&direct, None, &[(CALLER_HEADER, &payload), (SIGNATURE_HEADER, &signature)]).await;
    assert_eq!(forged.unwrap_err().code(), Code::Unauthenticated);

    // A genuine header altered to claim another role: the signature no longer verifies.
    let (payload, signature) = gateway_keys.sign(&operator(), path, unix_now());
    let mut altered = operator();
    altered.insurer = Some(InsurerNumber::parse("435073").unwrap());
    altered.role = Role::Insurer;
    let (altered_payload, _) = CallerKeys::generate().sign(&altered, path, unix_now());
    let forged =
        list_programmes(&direct, None, &[(CALLER_HEADER, &altered_payload), (SIGNATURE_HEADER, &signature)]).await;
    assert_eq!(forged.unwrap_err().code(), Code::Unauthenticated);

    // A genuine header replayed on another RPC path.
    let (other_payload, other_signature) =
        gateway_keys.sign(&operator(), "/kaigo.subsidies.v1.SubsidyService/GetProgramme", unix_now());
    let replayed =
        list_programmes(&direct, None, &[(CALLER_HEADER, &other_payload), (SIGNATURE_HEADER, &other_signature)]).await;
    assert_eq!(replayed.unwrap_err().code(), Code::Unauthenticated);

    // An expired genuine header.
    let (old_payload, old_signature) = gateway_keys.sign(&operator(), path, unix_now() - 3600);
    let stale =
        list_programmes(&direct, None, &[(CALLER_HEADER, &old_payload), (SIGNATURE_HEADER, &old_signature)]).await;
    assert_eq!(stale.unwrap_err().code(), Code::Unauthenticated);

    // No header at all.
    assert_eq!(list_programmes(&direct, None, &[]).await.unwrap_err().code(), Code::Unauthenticated);

    // The genuine header for this path passes: the refusals above are about the header.
    let ok = list_programmes(&direct, None, &[(CALLER_HEADER, &payload), (SIGNATURE_HEADER, &signature)]).await;
    assert_eq!(ok.unwrap().metadata().get("x-caller-role").unwrap(), "operator");
}

#[tokio::test]
async fn caller_headers_sent_to_the_gateway_are_replaced_by_the_token_s() {
    let door = Door::open(GatewayConfig::default(), &["subsidies"]).await;
    let (gw, ed, keys) = (&door.gw, &door.key, &door.keys);
    let channel = channel(gw.addr).await;
    let path = "/kaigo.subsidies.v1.SubsidyService/ListProgrammes";
    // Even a header validly signed for this path (leaked, say) does not override the token.
    let (payload, signature) = keys.sign(&operator(), path, unix_now());
    let token = ed.sign(&office_claims("u"));
    let response = list_programmes(
        &channel,
        Some(&token),
        &[(CALLER_HEADER, &payload), (SIGNATURE_HEADER, &signature), ("x-kaigo-consent", "consent-2, consent-3")],
    )
    .await
    .unwrap();
    assert_eq!(response.metadata().get("x-caller-role").unwrap(), "care_office");
    // Consent references: the token's, then the request header's.
    assert_eq!(response.metadata().get("x-caller-consents").unwrap(), "consent-1,consent-2,consent-3");
    // A malformed consent reference is bad input.
    let status = list_programmes(&channel, Some(&token), &[("x-kaigo-consent", "has space")]).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
}

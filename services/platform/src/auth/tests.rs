use super::*;

fn caller() -> Caller {
    Caller {
        subject: "acct-1".to_owned(),
        role: Role::CareOffice,
        insurer: None,
        office: Some(CareOfficeNumber::parse("0300000106").unwrap()),
        institution: None,
        scopes: vec!["eligibility.read".to_owned()],
        consents: vec![],
    }
}

const PATH: &str = "/kaigo.eligibility.v1.EligibilityService/CheckEligibility";

#[test]
fn a_signed_caller_verifies_for_its_path() {
    let keys = CallerKeys::generate();
    let (payload, signature) = keys.sign(&caller(), PATH, 1_000);
    assert_eq!(keys.verify(&payload, &signature, PATH, 1_010).unwrap(), caller());
}

#[test]
fn a_forged_or_altered_caller_is_refused() {
    let keys = CallerKeys::generate();
    let (payload, signature) = keys.sign(&caller(), PATH, 1_000);
    // Another key (a client making its own header).
    let forger = CallerKeys::generate();
    let (forged, forged_sig) = forger.sign(&Caller { role: Role::Operator, ..caller() }, PATH, 1_000);
    assert_eq!(keys.verify(&forged, &forged_sig, PATH, 1_000), Err(CallerError::BadSignature));
    // The same signature on a different payload.
    assert_eq!(keys.verify(&forged, &signature, PATH, 1_000), Err(CallerError::BadSignature));
    // Replayed to another RPC.
    let other = "/kaigo.eligibility.v1.EligibilityService/GetEligibilityHistory";
    assert_eq!(keys.verify(&payload, &signature, other, 1_000), Err(CallerError::BadSignature));
    // Unknown key id and garbage.
    assert_eq!(keys.verify(&payload, "zz.AAAA", PATH, 1_000), Err(CallerError::UnknownKey));
    assert_eq!(keys.verify(&payload, "no-dot", PATH, 1_000), Err(CallerError::Malformed));
}

#[test]
fn an_expired_caller_is_refused() {
    let keys = CallerKeys::generate();
    let (payload, signature) = keys.sign(&caller(), PATH, 1_000);
    assert_eq!(keys.verify(&payload, &signature, PATH, 1_061), Err(CallerError::Expired));
    assert_eq!(keys.verify(&payload, &signature, PATH, 900), Err(CallerError::Expired));
}

#[test]
fn the_previous_key_is_accepted_during_a_rotation() {
    let old = InternalAuthConfig {
        secret: crate::config::Secret::new("o".repeat(32)),
        key_id: "k1".to_owned(),
        ..InternalAuthConfig::default()
    };
    let new = InternalAuthConfig {
        secret: crate::config::Secret::new("n".repeat(32)),
        key_id: "k2".to_owned(),
        previous_secret: crate::config::Secret::new("o".repeat(32)),
        previous_key_id: "k1".to_owned(),
        ..InternalAuthConfig::default()
    };
    let (payload, signature) = CallerKeys::from_config(&old).unwrap().sign(&caller(), PATH, 1_000);
    assert!(CallerKeys::from_config(&new).unwrap().verify(&payload, &signature, PATH, 1_000).is_ok());
}

#[test]
fn roles_parse_by_name() {
    for role in Role::ALL {
        assert_eq!(role.as_str().parse::<Role>(), Ok(role));
    }
    assert!("admin".parse::<Role>().is_err());
}

#[test]
fn a_remembered_header_pair_answers_as_verifying_would() {
    let keys = CallerKeys::generate();
    let memory = verified::VerifiedCallers::default();
    let (payload, signature) = keys.sign(&caller(), PATH, 1_000);
    assert_eq!(memory.verify(&keys, &payload, &signature, PATH, 1_001).unwrap(), caller());
    assert_eq!(memory.len(), 1);
    // Seen again: the same caller, nothing new remembered.
    assert_eq!(memory.verify(&keys, &payload, &signature, PATH, 1_002).unwrap(), caller());
    assert_eq!(memory.len(), 1);
    // The remembered pair sent to another RPC, or its signature on another payload, is
    // verified and refused as before.
    let other = "/kaigo.eligibility.v1.EligibilityService/GetEligibilityHistory";
    assert_eq!(memory.verify(&keys, &payload, &signature, other, 1_002), Err(CallerError::BadSignature));
    let (forged, _) = keys.sign(&Caller { role: Role::Operator, ..caller() }, PATH, 1_000);
    assert_eq!(memory.verify(&keys, &forged, &signature, PATH, 1_002), Err(CallerError::BadSignature));
    // A remembered pair expires when the signed one does, and is not valid before its issue.
    assert_eq!(memory.verify(&keys, &payload, &signature, PATH, 1_061), Err(CallerError::Expired));
    assert_eq!(memory.verify(&keys, &payload, &signature, PATH, 994), Err(CallerError::Expired));
    // A refused pair is never remembered.
    assert_eq!(memory.len(), 1);
}

#[test]
fn the_memory_of_verified_pairs_is_bounded() {
    let keys = CallerKeys::generate();
    let memory = verified::VerifiedCallers::default();
    for i in 0..10_000 {
        let (payload, signature) = keys.sign(&Caller { subject: format!("acct-{i}"), ..caller() }, PATH, 1_000);
        assert_eq!(memory.verify(&keys, &payload, &signature, PATH, 1_000).unwrap().subject, format!("acct-{i}"));
    }
    assert!(memory.len() <= 16 * 256, "{}", memory.len());
}

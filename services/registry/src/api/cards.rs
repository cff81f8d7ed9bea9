//! Identity confirmation by card and the identity-link table
//! (docs/domain/access.md#card-flow).

use chrono::{DateTime, Utc};
use kaigo_platform::auth::Caller;
use kaigo_platform::errors::{self, ApiError, Violations};
use kaigo_platform::idempotency::write::{WriteError, replay};
use kaigo_platform::idempotency::{IdempotencyKey, check_request_id};
use kaigo_platform::ids::{InsuredNumber, InsurerNumber};
use kaigo_proto::kaigo::registry::v1 as pb;
use rand::RngCore;
use sea_orm::ConnectionTrait;

use super::convert::{self, Person};
use super::{Api, require_insurer, require_organization};
use crate::domain::card::{
    self, CHALLENGE_BYTES, Challenge, MAX_CERTIFICATE_BYTES, MAX_INTERMEDIATES, MAX_SIGNATURE_BYTES, Refusal,
};
use crate::store::{self, confirmation, identity_link};
use crate::wire;

/// Identity links per LoadIdentityLinks call at most.
pub const MAX_LINKS: usize = 1000;

const RACE: (&str, &str) = ("CONCURRENT_CHANGE", "another request changed the same record at the same time; retry");

/// The refusal as the caller's error.
pub(super) fn refusal(r: Refusal) -> ApiError {
    let message = r.to_string();
    match r {
        Refusal::OtherOrganization | Refusal::Untrusted | Refusal::BadSignature => {
            ApiError::permission_denied(r.reason(), message)
        }
        Refusal::Malformed => {
            let mut v = Violations::new();
            v.add("certificate", message);
            ApiError::invalid_argument(v)
        }
        Refusal::Expired | Refusal::Used | Refusal::CertificateExpired | Refusal::NotConfigured => {
            ApiError::failed_precondition(r.reason(), message)
        }
    }
}

/// The completed confirmation `id` of the calling organisation for `person`, still usable at
/// `now`: what a registration or a consent at the card reader cites.
pub(super) async fn usable_confirmation(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    id: &str,
    person: &Person,
    now: DateTime<Utc>,
) -> Result<confirmation::Model, ApiError> {
    let row = store::confirmation(conn, id)
        .await
        .map_err(errors::db)?
        .ok_or_else(|| ApiError::not_found("CONFIRMATION_NOT_FOUND", "no card confirmation with this id"))?;
    if row.party != caller.party() {
        return Err(refusal(Refusal::OtherOrganization));
    }
    let Some(usable_until) = row.usable_until.filter(|_| row.completed_at.is_some()) else {
        return Err(ApiError::failed_precondition(
            "CONFIRMATION_NOT_COMPLETED",
            "the card confirmation has not been completed; call CompleteCardConfirmation first",
        ));
    };
    if row.insurer_number.as_deref() != Some(person.insurer.as_str())
        || row.insured_number.as_deref() != Some(person.insured.as_str())
    {
        return Err(ApiError::failed_precondition(
            "CONFIRMATION_OF_ANOTHER_PERSON",
            "the card confirmation is of another person",
        ));
    }
    if now >= usable_until {
        return Err(ApiError::failed_precondition(
            "CONFIRMATION_EXPIRED",
            "the card confirmation is too old to register or record consent; confirm the card again",
        ));
    }
    Ok(row)
}

impl Api {
    pub(super) async fn start_confirmation(
        &self,
        caller: &Caller,
        req: &pb::StartCardConfirmationRequest,
    ) -> Result<pb::StartCardConfirmationResponse, ApiError> {
        let mut v = Violations::new();
        check_request_id(&mut v, "request_id", &req.request_id);
        v.into_result()?;
        require_organization(caller)?;
        let key = IdempotencyKey::new("StartCardConfirmation", caller, &req.request_id, req);
        let now = self.clock.now();
        let expires_at = now + self.settings.challenge_ttl;
        let party = caller.party();

        self.write(&key, RACE, move |txn, key| {
            Box::pin(async move {
                replay(txn, key).await?;
                let mut challenge = vec![0u8; CHALLENGE_BYTES];
                rand::rngs::OsRng.fill_bytes(&mut challenge);
                let id = uuid::Uuid::now_v7().to_string();
                let row = confirmation::Model {
                    id: id.clone(),
                    party,
                    challenge: challenge.clone(),
                    created_at: now,
                    expires_at,
                    completed_at: None,
                    link_id: None,
                    insurer_number: None,
                    insured_number: None,
                    usable_until: None,
                };
                store::insert_confirmation(txn, row).await?;
                Ok(pb::StartCardConfirmationResponse {
                    confirmation_id: id,
                    challenge,
                    expire_time: Some(wire::timestamp(expires_at)),
                })
            })
        })
        .await
    }

    pub(super) async fn complete_confirmation(
        &self,
        caller: &Caller,
        req: &pb::CompleteCardConfirmationRequest,
    ) -> Result<pb::CompleteCardConfirmationResponse, ApiError> {
        let mut v = Violations::new();
        check_request_id(&mut v, "request_id", &req.request_id);
        convert::id(&mut v, "confirmation_id", &req.confirmation_id);
        if req.signature.is_empty() {
            v.add("signature", "required: the challenge signed with the card's key");
        } else if req.signature.len() > MAX_SIGNATURE_BYTES {
            v.add("signature", format!("at most {MAX_SIGNATURE_BYTES} bytes"));
        }
        if req.certificate.is_empty() {
            v.add("certificate", "required: the card's certificate, DER");
        } else if req.certificate.len() > MAX_CERTIFICATE_BYTES {
            v.add("certificate", format!("at most {MAX_CERTIFICATE_BYTES} bytes"));
        }
        if kaigo_platform::validate::at_most(&mut v, "intermediates", &req.intermediates, MAX_INTERMEDIATES) {
            for (i, der) in req.intermediates.iter().enumerate() {
                if der.is_empty() || der.len() > MAX_CERTIFICATE_BYTES {
                    v.add(format!("intermediates[{i}]"), format!("1–{MAX_CERTIFICATE_BYTES} bytes"));
                }
            }
        }
        v.into_result()?;
        require_organization(caller)?;
        let key = IdempotencyKey::new("CompleteCardConfirmation", caller, &req.request_id, req);
        let now = self.clock.now();
        let usable_until = now + self.settings.confirmation_use;
        let party = caller.party();
        let anchors = self.anchors.clone();
        let req = req.clone();
        let confirmed = self
            .write(&key, RACE, move |txn, key| {
                Box::pin(async move {
                    let req = &req;
                    let row = store::confirmation(txn, &req.confirmation_id).await?.ok_or_else(|| {
                        ApiError::not_found("CONFIRMATION_NOT_FOUND", "no card confirmation with this id")
                    })?;
                    let challenge = Challenge {
                        party: row.party.clone(),
                        bytes: row.challenge.clone(),
                        expires_at: row.expires_at,
                        used: row.completed_at.is_some(),
                    };
                    if challenge.party != party {
                        return Err(refusal(Refusal::OtherOrganization).into());
                    }
                    // The caller is the organisation the challenge was issued to: a retry gets
                    // its first answer, before the challenge is found used.
                    replay(txn, key).await?;
                    card::check_challenge(&challenge, &party, now).map_err(refusal)?;
                    let link_id = card::verify(
                        &anchors,
                        &req.certificate,
                        &req.intermediates,
                        &challenge.bytes,
                        &req.signature,
                        now,
                    )
                    .map_err(refusal)?;
                    let link = store::identity_link(txn, &link_id).await?.ok_or_else(|| {
                        ApiError::failed_precondition(
                            "CARD_NOT_LINKED",
                            "no insurer has linked this card; the person's insurer loads the link",
                        )
                    })?;
                    if link.revoked {
                        return Err(ApiError::failed_precondition("CARD_REVOKED", "the card has been revoked").into());
                    }
                    let person = (link.insurer_number.as_str(), link.insured_number.as_str());
                    if !store::complete_confirmation(txn, &row.id, &link_id, person, now, usable_until).await? {
                        return Err(refusal(Refusal::Used).into());
                    }
                    Ok(pb::CompleteCardConfirmationResponse {
                        confirmation_id: row.id,
                        person: Some(pb::PersonRef {
                            insurer_number: link.insurer_number,
                            insured_number: link.insured_number,
                        }),
                        usable_until: Some(wire::timestamp(usable_until)),
                    })
                })
            })
            .await?;
        // Learning who the card belongs to is a read of the person's record.
        if let Some(p) = &confirmed.person {
            let person = kaigo_platform::audit::person(&p.insurer_number, &p.insured_number);
            self.audit(caller, "CompleteCardConfirmation", "identity", kaigo_platform::audit::ALLOWED, vec![person])
                .await;
        }
        Ok(confirmed)
    }

    pub(super) async fn load_links(
        &self,
        caller: &Caller,
        req: &pb::LoadIdentityLinksRequest,
    ) -> Result<pb::LoadIdentityLinksResponse, ApiError> {
        let mut v = Violations::new();
        check_request_id(&mut v, "request_id", &req.request_id);
        let insurer = v.check("insurer_number", InsurerNumber::parse(&req.insurer_number));
        if req.links.is_empty() {
            v.add("links", format!("required: 1–{MAX_LINKS} links"));
        }
        let mut seen = std::collections::HashSet::new();
        if kaigo_platform::validate::at_most(&mut v, "links", &req.links, MAX_LINKS) {
            for (i, link) in req.links.iter().enumerate() {
                if !card::is_link_id(&link.link_id) {
                    v.add(format!("links[{i}].link_id"), "1–64 lower-case hex digits (the certificate serial)");
                } else if !seen.insert(link.link_id.as_str()) {
                    v.add(format!("links[{i}].link_id"), "repeated link id");
                }
                v.check(&format!("links[{i}].insured_number"), InsuredNumber::parse(&link.insured_number));
            }
        }
        v.into_result()?;
        let insurer = insurer.map(|i| i.as_str().to_owned()).unwrap_or_default();
        require_insurer(caller, &insurer)?;
        let key = IdempotencyKey::new("LoadIdentityLinks", caller, &req.request_id, req);
        let now = self.clock.now();
        let by = caller.party();
        let req = req.clone();
        self.write(&key, RACE, move |txn, key| {
            Box::pin(async move {
                let req = &req;
                replay(txn, key).await?;
                let ids: Vec<String> = req.links.iter().map(|l| l.link_id.clone()).collect();
                let existing: std::collections::HashMap<String, identity_link::Model> =
                    store::identity_links(txn, ids).await?.into_iter().map(|l| (l.link_id.clone(), l)).collect();
                let (mut loaded, mut unchanged) = (0, 0);
                for (i, link) in req.links.iter().enumerate() {
                    let old = existing.get(&link.link_id);
                    if let Some(old) = old {
                        if old.insurer_number != insurer {
                            return Err(WriteError::Api(
                                ApiError::failed_precondition(
                                    "LINK_HELD_BY_ANOTHER_INSURER",
                                    "a link id is linked by another insurer; that insurer must remove it first",
                                )
                                .with_metadata("field", format!("links[{i}].link_id")),
                            ));
                        }
                        if old.insured_number == link.insured_number && old.revoked == link.revoked {
                            unchanged += 1;
                            continue;
                        }
                    }
                    let row = identity_link::Model {
                        link_id: link.link_id.clone(),
                        insurer_number: insurer.clone(),
                        insured_number: link.insured_number.clone(),
                        revoked: link.revoked,
                        updated_at: now,
                        updated_by: by.clone(),
                        version: 1,
                    };
                    // Stored and published in this transaction (the version follows the old one).
                    crate::changes::put_identity_link(txn, row, old).await?;
                    loaded += 1;
                }
                Ok(pb::LoadIdentityLinksResponse { loaded, unchanged })
            })
        })
        .await
    }
}

//! The person's own view (docs/domain/access.md#own-view).
//!
//! The caller (role `insured_person`) is bound to one person through the identity-link table.
//! The platform's `Caller` has no identity-link claim yet, so each RPC takes the link id and
//! accepts it only when it is the caller's token subject: the operator's identity provider
//! issues the person's token with the verified link as its subject.

use kaigo_platform::audit;
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::errors::{self, ApiError, Violations};
use kaigo_platform::idempotency::{IdempotencyKey, check_request_id};
use kaigo_proto::kaigo::registry::v1 as pb;
use sea_orm::ConnectionTrait;

use super::Api;
use super::convert::{self, Person};
use super::relationships::{end_active, withdraw_active};
use super::write::{idempotent, replay};
use crate::domain::EndReason;
use crate::domain::card::is_link_id;
use crate::store;

const RACE: (&str, &str) = ("CONCURRENT_CHANGE", "another request changed the same record at the same time; retry");

fn check_link(v: &mut Violations, link: &str) {
    if !is_link_id(link) {
        v.add("identity_link", "required: 1–64 lower-case hex digits");
    }
}

/// The person the calling insured person is, by their identity link.
async fn me(conn: &impl ConnectionTrait, caller: &Caller, link: &str) -> Result<Person, ApiError> {
    if caller.role != Role::InsuredPerson {
        return Err(ApiError::permission_denied("ROLE_NOT_ALLOWED", "only the insured person uses their own view"));
    }
    if caller.subject != link {
        return Err(ApiError::permission_denied(
            "IDENTITY_LINK_NOT_CALLERS",
            "the identity link is not the caller's own",
        ));
    }
    let row = store::identity_link(conn, link)
        .await
        .map_err(errors::db)?
        .ok_or_else(|| ApiError::permission_denied("IDENTITY_LINK_UNKNOWN", "no insurer has linked this identity"))?;
    if row.revoked {
        return Err(ApiError::permission_denied("IDENTITY_LINK_REVOKED", "the identity link has been revoked"));
    }
    Ok(Person { insurer: row.insurer_number, insured: row.insured_number })
}

fn not_yours() -> ApiError {
    ApiError::permission_denied("NOT_YOUR_RECORD", "this record is not the caller's")
}

impl Api {
    pub(super) async fn my_relationships(
        &self,
        caller: &Caller,
        req: &pb::GetMyRelationshipsRequest,
    ) -> Result<pb::GetMyRelationshipsResponse, ApiError> {
        let mut v = Violations::new();
        check_link(&mut v, &req.identity_link);
        v.into_result()?;
        let person = me(&self.db, caller, &req.identity_link).await?;
        let registrations =
            store::registrations_of_person(&self.db, &person.insurer, &person.insured, req.include_inactive, 500)
                .await
                .map_err(errors::db)?;
        let consents = store::consents_of_person(&self.db, &person.insurer, &person.insured, req.include_inactive, 500)
            .await
            .map_err(errors::db)?;
        self.audit(caller, "GetMyRelationships", "relationships", audit::ALLOWED, vec![person.audit_key()]).await;
        Ok(pb::GetMyRelationshipsResponse {
            person: Some(person.message()),
            registrations: registrations.iter().map(convert::registration).collect(),
            consents: consents.iter().map(convert::consent).collect(),
        })
    }

    pub(super) async fn withdraw_mine(
        &self,
        caller: &Caller,
        req: &pb::WithdrawMyConsentRequest,
    ) -> Result<pb::WithdrawMyConsentResponse, ApiError> {
        let mut v = Violations::new();
        check_request_id(&mut v, "request_id", &req.request_id);
        check_link(&mut v, &req.identity_link);
        convert::id(&mut v, "consent_id", &req.consent_id);
        v.into_result()?;
        let person = me(&self.db, caller, &req.identity_link).await?;
        let key = IdempotencyKey::new("WithdrawMyConsent", caller, &req.request_id, req);
        let now = self.clock.now();
        let (req, caller) = (req.clone(), caller.clone());
        idempotent(&self.db, &key, RACE, move |txn, key| {
            Box::pin(async move {
                let (req, caller) = (&req, &caller);
                let row = store::consent(txn, &req.consent_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("CONSENT_NOT_FOUND", "no consent with this id"))?;
                if row.insurer_number != person.insurer || row.insured_number != person.insured {
                    return Err(not_yours().into());
                }
                replay(txn, key).await?;
                let by = ("insured_person".to_owned(), caller.subject.clone(), String::new());
                let row = withdraw_active(txn, row, by, now).await?;
                Ok(pb::WithdrawMyConsentResponse { consent: Some(convert::consent(&row)) })
            })
        })
        .await
    }

    pub(super) async fn end_mine(
        &self,
        caller: &Caller,
        req: &pb::EndMyRegistrationRequest,
    ) -> Result<pb::EndMyRegistrationResponse, ApiError> {
        let mut v = Violations::new();
        check_request_id(&mut v, "request_id", &req.request_id);
        check_link(&mut v, &req.identity_link);
        convert::id(&mut v, "registration_id", &req.registration_id);
        v.into_result()?;
        let person = me(&self.db, caller, &req.identity_link).await?;
        let key = IdempotencyKey::new("EndMyRegistration", caller, &req.request_id, req);
        let now = self.clock.now();
        let (req, caller) = (req.clone(), caller.clone());
        idempotent(&self.db, &key, RACE, move |txn, key| {
            Box::pin(async move {
                let (req, caller) = (&req, &caller);
                let row = store::registration(txn, &req.registration_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("REGISTRATION_NOT_FOUND", "no registration with this id"))?;
                if row.insurer_number != person.insurer || row.insured_number != person.insured {
                    return Err(not_yours().into());
                }
                replay(txn, key).await?;
                let by = ("insured_person".to_owned(), caller.subject.clone(), String::new());
                let row = end_active(txn, row, EndReason::ByPerson, by, None, now).await?;
                Ok(pb::EndMyRegistrationResponse { registration: Some(convert::registration(&row)) })
            })
        })
        .await
    }

    pub(super) async fn my_reads(
        &self,
        caller: &Caller,
        req: &pb::ListMyRecordReadsRequest,
    ) -> Result<pb::ListMyRecordReadsResponse, ApiError> {
        let mut v = Violations::new();
        check_link(&mut v, &req.identity_link);
        let size = convert::page_size(&mut v, req.page_size);
        v.into_result()?;
        let person = me(&self.db, caller, &req.identity_link).await?;
        let reads = audit::reads_of_person(&self.db, &person.audit_key(), u32::try_from(size).unwrap_or(500))
            .await
            .map_err(errors::db)?;
        self.audit(caller, "ListMyRecordReads", "access_log", audit::ALLOWED, vec![person.audit_key()]).await;
        Ok(pb::ListMyRecordReadsResponse {
            reads: reads
                .into_iter()
                .map(|r| {
                    // An organisation is shown by its number; a person's or an operator's
                    // account only by its role.
                    let organization = if r.caller_party.contains(':') { String::new() } else { r.caller_party };
                    pb::RecordRead {
                        read_time: Some(convert::timestamp(r.at)),
                        reader_role: convert::role(&r.caller_role),
                        reader_organization: organization,
                        category: r.category,
                        rpc: r.rpc,
                        purpose: r.purpose,
                        outcome: r.outcome,
                        service: crate::NAME.to_owned(),
                    }
                })
                .collect(),
        })
    }
}

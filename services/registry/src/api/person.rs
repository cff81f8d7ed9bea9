//! The person's own view (docs/domain/access.md#own-view).
//!
//! The caller (role `insured_person`) is bound to one person through the identity-link table.
//! The platform's `Caller` has no identity-link claim yet, so each RPC takes the link id and
//! accepts it only when it is the caller's token subject: the operator's identity provider
//! issues the person's token with the verified link as its subject.

use kaigo_platform::audit;
use kaigo_platform::audit::trail;
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::errors::{self, ApiError, Violations};
use kaigo_platform::idempotency::write::replay;
use kaigo_platform::idempotency::{IdempotencyKey, check_request_id};
use kaigo_proto::kaigo::registry::v1 as pb;
use sea_orm::ConnectionTrait;

use super::Api;
use super::convert::{self, Person};
use super::relationships::{end_active, withdraw_active};
use crate::domain::EndReason;
use crate::domain::access_log::{self, Cursor, Sourced};
use crate::domain::card::is_link_id;
use crate::store;
use crate::wire;

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
            registrations: registrations.iter().map(wire::registration).collect(),
            consents: consents.iter().map(wire::consent).collect(),
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
        self.write(&key, RACE, move |txn, key| {
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
                Ok(pb::WithdrawMyConsentResponse { consent: Some(wire::consent(&row)) })
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
        self.write(&key, RACE, move |txn, key| {
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
                Ok(pb::EndMyRegistrationResponse { registration: Some(wire::registration(&row)) })
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
        let size = usize::try_from(convert::page_size(&mut v, req.page_size)).unwrap_or(500);
        let cursor = if req.page_token.is_empty() {
            None
        } else {
            let cursor = Cursor::parse(&req.page_token);
            if cursor.is_none() {
                v.add("page_token", "not a page token of this list (at most 64 characters, from next_page_token)");
            }
            cursor
        };
        v.into_result()?;
        let person = me(&self.db, caller, &req.identity_link).await?;
        let ask = u32::try_from(size + 1).unwrap_or(trail::MAX_PAGE);
        // Every service at once, this one's own trail beside them; each answers at most one
        // more read than the page shows, so the merge knows whether more follow.
        let others = self.sources.iter().map(|(name, source)| {
            let query = trail::Query {
                insurer_number: person.insurer.clone(),
                insured_number: person.insured.clone(),
                before: access_log::before_for(cursor.as_ref(), name),
                limit: ask,
            };
            async move { (name.as_str(), source.reads(caller, &query).await) }
        });
        let key = person.audit_key();
        let own =
            audit::reads_of_person_before(&self.db, &key, access_log::before_for(cursor.as_ref(), crate::NAME), ask);
        let (answers, own) = futures::join!(futures::future::join_all(others), own);
        let links = [req.identity_link.clone()];
        let mut reads: Vec<Sourced> = own
            .map_err(errors::db)?
            .iter()
            .map(|r| Sourced { service: crate::NAME.to_owned(), read: trail::audited_read(r, &links) })
            .collect();
        let mut unanswered = Vec::new();
        for (service, answer) in answers {
            match answer {
                Ok(found) => reads.extend(found.into_iter().map(|read| Sourced { service: service.to_owned(), read })),
                Err(status) => {
                    // The service and its answer's code only: never the person.
                    tracing::warn!(service, code = ?status.code(), "access log: a service's trail did not answer");
                    unanswered.push(service.to_owned());
                }
            }
        }
        unanswered.sort();
        let (page, next_page_token) = access_log::merge(reads, size);
        self.audit(caller, "ListMyRecordReads", "access_log", audit::ALLOWED, vec![person.audit_key()]).await;
        Ok(pb::ListMyRecordReadsResponse {
            reads: page
                .into_iter()
                .map(|Sourced { service, read }| pb::RecordRead {
                    read_time: read.read_time,
                    reader_role: read.reader_role,
                    reader_organization: read.reader_organization,
                    category: read.category,
                    rpc: read.rpc,
                    purpose: read.purpose,
                    outcome: read.outcome,
                    service,
                    reader_is_self: read.reader_is_self,
                })
                .collect(),
            next_page_token: next_page_token.unwrap_or_default(),
            partial: !unanswered.is_empty(),
            unanswered_services: unanswered,
        })
    }
}

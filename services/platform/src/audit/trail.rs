//! The read audit trail as other services ask for it (`kaigo.audit.v1.AuditTrailService`,
//! docs/domain/access.md#access-log): written once here, served by every service that audits
//! reads of persons over its own `audit_trail`, and asked by the registry for the person's
//! access log.
//!
//! - [`TrailService`] / [`server`]: `ListReadsOfPerson` over one service's trail. The caller is
//!   the person the registry asks for (role `insured_person`, signed with the internal key like
//!   every call between services; the gateway does not route the package): accepted only when
//!   its token subject is one of the person's unrevoked identity links in the service's copy of
//!   the registry's facts, else `NOT_REGISTERED` — so even a misrouted call shows a person no
//!   one else's reads. Nothing is written on the eligibility hot path: the trail is read at the
//!   moment of the question, never pushed per read.
//! - [`ReadSource`] and [`TrailClient`]: one service's trail as the registry asks it, over the
//!   network (`kaigo serve`) or in process (`kaigo dev`), signed as the person.
//! - [`audited_read`]: a stored read as the person may see it: the reader's role and
//!   organisation number, never an account (a person's or an operator's subject).

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use kaigo_proto::kaigo::audit::v1 as pb;
use kaigo_proto::kaigo::audit::v1::audit_trail_service_client::AuditTrailServiceClient;
use kaigo_proto::kaigo::audit::v1::audit_trail_service_server::{AuditTrailService, AuditTrailServiceServer};
use kaigo_proto::kaigo::common::v1 as common;
use sea_orm::DatabaseConnection;
use tonic::codegen::{Body, Bytes, StdError};
use tonic::{Request, Response, Status};

use super::sql::{PositionedRead, reads_of_person_before};
use crate::access::{self, PersonRef};
use crate::auth::{CALLER_HEADER, Caller, CallerKeys, Role, SIGNATURE_HEADER, unix_now};
use crate::errors::{self, ApiError, Violations};
use crate::ids::{InsuredNumber, InsurerNumber};

/// The path calls are signed for.
pub const LIST_READS_PATH: &str = "/kaigo.audit.v1.AuditTrailService/ListReadsOfPerson";

/// The most reads one call returns (a caller merging pages asks one more than it shows).
pub const MAX_PAGE: u32 = 501;

/// `ListReadsOfPerson` over one service's `audit_trail`.
#[derive(Clone)]
pub struct TrailService {
    db: DatabaseConnection,
}

/// The tonic server of `db`'s trail, for a service's routes (or, in `kaigo dev`, for the
/// registry's in-process source).
pub fn server(db: DatabaseConnection) -> AuditTrailServiceServer<TrailService> {
    AuditTrailServiceServer::new(TrailService { db })
}

/// The request's position: (time, sequence) or none.
fn position(v: &mut Violations, req: &pb::ListReadsOfPersonRequest) -> Option<(DateTime<Utc>, i64)> {
    let time = req.before_time.as_ref()?;
    if req.before_sequence < 0 {
        v.add("before_sequence", "must not be negative");
    }
    let Some(at) = u32::try_from(time.nanos).ok().and_then(|nanos| DateTime::from_timestamp(time.seconds, nanos))
    else {
        v.add("before_time", "not a valid time");
        return None;
    };
    Some((at, req.before_sequence))
}

/// A page size from the request: 0 = 50, at most [`MAX_PAGE`].
fn page_size(v: &mut Violations, size: i32) -> u32 {
    match size {
        0 => 50,
        n if n < 0 => {
            v.add("page_size", "must not be negative");
            50
        }
        n => u32::try_from(n).unwrap_or(MAX_PAGE).min(MAX_PAGE),
    }
}

impl TrailService {
    async fn list(
        &self,
        caller: &Caller,
        req: &pb::ListReadsOfPersonRequest,
    ) -> Result<pb::ListReadsOfPersonResponse, ApiError> {
        let mut v = Violations::new();
        v.check("insurer_number", InsurerNumber::parse(&req.insurer_number));
        v.check("insured_number", InsuredNumber::parse(&req.insured_number));
        let limit = page_size(&mut v, req.page_size);
        let before = position(&mut v, req);
        v.into_result()?;
        if caller.role != Role::InsuredPerson {
            return Err(ApiError::permission_denied(
                "ROLE_NOT_ALLOWED",
                "only the person's own view lists their reads",
            ));
        }
        let person = PersonRef::new(&req.insurer_number, &req.insured_number);
        let facts = access::load(&self.db, person).await.map_err(errors::db)?;
        if !facts.links.contains(&caller.subject) {
            return Err(ApiError::permission_denied(
                "NOT_REGISTERED",
                "the caller's identity link does not bind this person in this service",
            ));
        }
        let key = super::person(&req.insurer_number, &req.insured_number);
        let reads = reads_of_person_before(&self.db, &key, before, limit).await.map_err(errors::db)?;
        Ok(pb::ListReadsOfPersonResponse { reads: reads.iter().map(|r| audited_read(r, &facts.links)).collect() })
    }
}

#[tonic::async_trait]
impl AuditTrailService for TrailService {
    async fn list_reads_of_person(
        &self,
        request: Request<pb::ListReadsOfPersonRequest>,
    ) -> Result<Response<pb::ListReadsOfPersonResponse>, Status> {
        let caller = Caller::from_request(&request)?.clone();
        Ok(Response::new(self.list(&caller, request.get_ref()).await?))
    }
}

/// A timestamp of the contract.
pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: at.timestamp(), nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0) }
}

/// The contract's role of a stored role word.
pub fn role_message(role: &str) -> common::Role {
    // `system`: work the platform does on its own (seeding, consumers), not a caller's role.
    if role == "system" {
        return common::Role::System;
    }
    match role.parse::<Role>() {
        Ok(Role::Insurer) => common::Role::Insurer,
        Ok(Role::CareOffice) => common::Role::CareOffice,
        Ok(Role::ServiceProvider) => common::Role::ServiceProvider,
        Ok(Role::MedicalInstitution) => common::Role::MedicalInstitution,
        Ok(Role::InsuredPerson) => common::Role::InsuredPerson,
        Ok(Role::Operator) => common::Role::Operator,
        Err(_) => common::Role::Unspecified,
    }
}

/// `r` as the person sees it: the reader's organisation by its number (a party with `:` is a
/// person's or an operator's account, shown by its role only), and whether the reader was the
/// person, by one of `links` (the person's identity links).
pub fn audited_read(r: &PositionedRead, links: &[String]) -> pb::AuditedRead {
    let read = &r.read;
    let organization = if read.caller_party.contains(':') { String::new() } else { read.caller_party.clone() };
    let is_self = read.caller_role == Role::InsuredPerson.as_str() && links.contains(&r.caller_subject);
    pb::AuditedRead {
        read_time: Some(timestamp(read.at)),
        sequence: r.sequence,
        reader_role: role_message(&read.caller_role) as i32,
        reader_organization: organization,
        reader_is_self: is_self,
        category: read.category.clone(),
        rpc: read.rpc.clone(),
        purpose: read.purpose.clone(),
        outcome: read.outcome.clone(),
    }
}

/// What the registry asks one service's trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// 保険者番号.
    pub insurer_number: String,
    /// 被保険者番号.
    pub insured_number: String,
    /// Reads before this position (time, sequence), or from the newest.
    pub before: Option<(DateTime<Utc>, i64)>,
    /// At most this many (≤ [`MAX_PAGE`]).
    pub limit: u32,
}

/// One service's trail, as the registry asks it on behalf of `caller` (the person).
pub trait ReadSource: Send + Sync + 'static {
    /// The reads of the query's person, newest first. Errors are the source's answer (or the
    /// transport's), for the caller to report as a source that did not answer.
    fn reads<'a>(&'a self, caller: &'a Caller, query: &'a Query)
    -> BoxFuture<'a, Result<Vec<pb::AuditedRead>, Status>>;
}

/// [`ReadSource`] over gRPC: a channel to the service (`kaigo serve`) or its in-process
/// routes (`kaigo dev`), each call signed with the internal key as the person, bounded by
/// `timeout`.
#[derive(Clone)]
pub struct TrailClient<T> {
    client: AuditTrailServiceClient<T>,
    keys: CallerKeys,
    timeout: Duration,
}

impl<T> std::fmt::Debug for TrailClient<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrailClient").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl<T> TrailClient<T>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<StdError>,
    T::ResponseBody: Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as Body>::Error: Into<StdError> + Send,
{
    /// A source calling over `transport`, signing with `keys`.
    pub fn new(transport: T, keys: CallerKeys, timeout: Duration) -> Self {
        Self { client: AuditTrailServiceClient::new(transport), keys, timeout }
    }
}

impl<T> ReadSource for TrailClient<T>
where
    T: tonic::client::GrpcService<tonic::body::Body> + Clone + Send + Sync + 'static,
    T::Future: Send,
    T::Error: Into<StdError>,
    T::ResponseBody: Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as Body>::Error: Into<StdError> + Send,
{
    fn reads<'a>(
        &'a self,
        caller: &'a Caller,
        query: &'a Query,
    ) -> BoxFuture<'a, Result<Vec<pb::AuditedRead>, Status>> {
        Box::pin(async move {
            let mut request = Request::new(pb::ListReadsOfPersonRequest {
                insurer_number: query.insurer_number.clone(),
                insured_number: query.insured_number.clone(),
                page_size: i32::try_from(query.limit.min(MAX_PAGE)).unwrap_or(50),
                before_time: query.before.map(|(at, _)| timestamp(at)),
                before_sequence: query.before.map_or(0, |(_, sequence)| sequence),
            });
            request.set_timeout(self.timeout);
            let (payload, signature) = self.keys.sign(caller, LIST_READS_PATH, unix_now());
            let (Ok(payload), Ok(signature)) = (payload.parse(), signature.parse()) else {
                return Err(Status::internal("cannot sign the call"));
            };
            request.metadata_mut().insert(CALLER_HEADER, payload);
            request.metadata_mut().insert(SIGNATURE_HEADER, signature);
            crate::telemetry::inject_metadata(request.metadata_mut());
            let mut client = self.client.clone();
            match tokio::time::timeout(self.timeout, client.list_reads_of_person(request)).await {
                Err(_) => Err(Status::deadline_exceeded("the trail did not answer in time")),
                Ok(answer) => answer.map(|r| r.into_inner().reads),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::audit::StoredRead;

    fn stored(role: &str, party: &str, subject: &str) -> PositionedRead {
        PositionedRead {
            sequence: 7,
            caller_subject: subject.to_owned(),
            read: StoredRead {
                at: DateTime::from_timestamp(1_764_810_000, 123_456_000).unwrap(),
                caller_role: role.to_owned(),
                caller_party: party.to_owned(),
                rpc: "CheckEligibility".to_owned(),
                category: "eligibility".to_owned(),
                purpose: "care_planning".to_owned(),
                outcome: "allowed".to_owned(),
            },
        }
    }

    #[test]
    fn an_organisation_is_shown_by_number_and_an_account_never() {
        let links = vec!["d000000001".to_owned()];
        let office = audited_read(&stored("care_office", "4371000128", "office-user-17"), &links);
        assert_eq!(office.reader_organization, "4371000128");
        assert_eq!(office.reader_role, common::Role::CareOffice as i32);
        assert!(!office.reader_is_self);
        assert_eq!(office.sequence, 7);
        assert_eq!(office.read_time.as_ref().unwrap().nanos, 123_456_000);
        let me = audited_read(&stored("insured_person", "insured_person:d000000001", "d000000001"), &links);
        assert_eq!(me.reader_organization, "");
        assert!(me.reader_is_self);
        // Another account of role insured_person (refused, but audited) is neither named nor self.
        let other = audited_read(&stored("insured_person", "insured_person:d000000002", "d000000002"), &links);
        assert_eq!(other.reader_organization, "");
        assert!(!other.reader_is_self);
        let operator = audited_read(&stored("operator", "operator:ops-1", "ops-1"), &links);
        assert_eq!((operator.reader_organization.as_str(), operator.reader_role), ("", common::Role::Operator as i32));
    }

    #[test]
    fn positions_and_sizes_are_checked() {
        let mut v = Violations::new();
        assert_eq!(page_size(&mut v, 0), 50);
        assert_eq!(page_size(&mut v, 9_999), MAX_PAGE);
        assert!(v.is_empty());
        page_size(&mut v, -1);
        let req = pb::ListReadsOfPersonRequest {
            before_time: Some(prost_types::Timestamp { seconds: 1, nanos: -5 }),
            before_sequence: -1,
            ..Default::default()
        };
        assert_eq!(position(&mut v, &req), None);
        let fields: Vec<&str> = v.as_slice().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["page_size", "before_sequence", "before_time"]);
        let mut v = Violations::new();
        let at = DateTime::from_timestamp(1_764_810_000, 5).unwrap();
        let req =
            pb::ListReadsOfPersonRequest { before_time: Some(timestamp(at)), before_sequence: 3, ..Default::default() };
        assert_eq!(position(&mut v, &req), Some((at, 3)));
        assert_eq!(position(&mut v, &pb::ListReadsOfPersonRequest::default()), None);
        assert!(v.is_empty());
    }
}

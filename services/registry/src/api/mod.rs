//! The tonic implementation of `kaigo.registry.v1.RegistryService`: decode and validate, call
//! the domain, map the result. SQL lives in `store`.

mod cards;
pub(crate) mod convert;
mod notifications;
mod person;
mod relationships;

use std::sync::Arc;

use kaigo_access::{OrganizationKind, RuleTable};
use kaigo_platform::audit::trail::ReadSource;
use kaigo_platform::audit::{Auditor, ReadRecord};
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::errors::ApiError;
use kaigo_platform::idempotency::IdempotencyKey;
use kaigo_platform::idempotency::write;
use kaigo_platform::time::Clock;
use kaigo_proto::kaigo::registry::v1 as pb;
use kaigo_proto::kaigo::registry::v1::registry_service_server::RegistryService;
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use tonic::{Request, Response, Status};

use crate::domain::card::TrustAnchors;
use crate::domain::own_organization;

/// Durations from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// A challenge's lifetime.
    pub challenge_ttl: chrono::Duration,
    /// How long a completed confirmation backs registrations and consents.
    pub confirmation_use: chrono::Duration,
}

/// The other services' read audit trails the person's access log is gathered from, by
/// service name (docs/domain/access.md#access-log).
pub type AuditSources = Arc<Vec<(String, Arc<dyn ReadSource>)>>;

/// The gRPC API.
#[derive(Clone)]
pub struct Api {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    auditor: Auditor,
    rules: Arc<RuleTable>,
    anchors: Arc<TrustAnchors>,
    settings: Settings,
    sources: AuditSources,
}

impl Api {
    /// The API over `db`, gathering the access log from `sources` besides its own trail.
    pub fn new(
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
        auditor: Auditor,
        rules: Arc<RuleTable>,
        anchors: Arc<TrustAnchors>,
        settings: Settings,
        sources: AuditSources,
    ) -> Self {
        Self { db, clock, auditor, rules, anchors, settings, sources }
    }

    /// Runs a write through the platform's runner ([`write::run`]) on the service's clock: one
    /// transaction with its idempotency record. A unique violation that is no concurrent retry
    /// of the same request is FAILED_PRECONDITION `reason`.
    async fn write<R, F>(
        &self,
        key: &IdempotencyKey,
        (reason, message): (&'static str, &'static str),
        work: F,
    ) -> Result<R, ApiError>
    where
        R: prost::Message + Default,
        F: for<'t> FnOnce(&'t DatabaseTransaction, &'t IdempotencyKey) -> write::Work<'t, R>,
    {
        write::run(&self.db, self.clock.as_ref(), key, || ApiError::failed_precondition(reason, message), work).await
    }

    /// Audits one read of `persons`' records.
    async fn audit(
        &self,
        caller: &Caller,
        rpc: &'static str,
        category: &'static str,
        outcome: &'static str,
        persons: Vec<String>,
    ) {
        let purpose = match caller.role {
            Role::Insurer => "administration",
            Role::InsuredPerson => "self_view",
            Role::Operator => "support",
            _ => "service_provision",
        };
        let read = ReadRecord { rpc, category, purpose: purpose.to_owned(), outcome, persons, resources: vec![] };
        self.auditor.record(caller, read).await;
    }
}

/// The organisation a caller acts for as a possible 担当, or PERMISSION_DENIED.
fn require_organization(caller: &Caller) -> Result<(OrganizationKind, String), ApiError> {
    own_organization(caller).ok_or_else(|| {
        ApiError::permission_denied(
            "ROLE_NOT_ALLOWED",
            "only care offices, service providers and medical institutions may do this",
        )
    })
}

/// PERMISSION_DENIED unless the caller is the insurer `insurer`.
fn require_insurer(caller: &Caller, insurer: &str) -> Result<(), ApiError> {
    if caller.role == Role::Insurer && caller.organization() == Some(insurer) {
        Ok(())
    } else {
        Err(ApiError::permission_denied("NOT_OWN_INSURED", "only the person's own insurer may do this"))
    }
}

macro_rules! rpc {
    ($self:ident, $request:ident, $method:ident) => {{
        let caller = Caller::from_request(&$request)?.clone();
        Ok(Response::new($self.$method(&caller, $request.get_ref()).await?))
    }};
}

#[tonic::async_trait]
impl RegistryService for Api {
    async fn start_card_confirmation(
        &self,
        request: Request<pb::StartCardConfirmationRequest>,
    ) -> Result<Response<pb::StartCardConfirmationResponse>, Status> {
        rpc!(self, request, start_confirmation)
    }

    async fn complete_card_confirmation(
        &self,
        request: Request<pb::CompleteCardConfirmationRequest>,
    ) -> Result<Response<pb::CompleteCardConfirmationResponse>, Status> {
        rpc!(self, request, complete_confirmation)
    }

    async fn load_identity_links(
        &self,
        request: Request<pb::LoadIdentityLinksRequest>,
    ) -> Result<Response<pb::LoadIdentityLinksResponse>, Status> {
        rpc!(self, request, load_links)
    }

    async fn register_organization(
        &self,
        request: Request<pb::RegisterOrganizationRequest>,
    ) -> Result<Response<pb::RegisterOrganizationResponse>, Status> {
        rpc!(self, request, register)
    }

    async fn end_registration(
        &self,
        request: Request<pb::EndRegistrationRequest>,
    ) -> Result<Response<pb::EndRegistrationResponse>, Status> {
        rpc!(self, request, end)
    }

    async fn record_service_evidence(
        &self,
        request: Request<pb::RecordServiceEvidenceRequest>,
    ) -> Result<Response<pb::RecordServiceEvidenceResponse>, Status> {
        rpc!(self, request, service_evidence)
    }

    async fn list_registrations(
        &self,
        request: Request<pb::ListRegistrationsRequest>,
    ) -> Result<Response<pb::ListRegistrationsResponse>, Status> {
        rpc!(self, request, list_registrations_of)
    }

    async fn record_consent(
        &self,
        request: Request<pb::RecordConsentRequest>,
    ) -> Result<Response<pb::RecordConsentResponse>, Status> {
        rpc!(self, request, consent)
    }

    async fn withdraw_consent(
        &self,
        request: Request<pb::WithdrawConsentRequest>,
    ) -> Result<Response<pb::WithdrawConsentResponse>, Status> {
        rpc!(self, request, withdraw)
    }

    async fn list_consents(
        &self,
        request: Request<pb::ListConsentsRequest>,
    ) -> Result<Response<pb::ListConsentsResponse>, Status> {
        rpc!(self, request, list_consents_of)
    }

    async fn check_access(
        &self,
        request: Request<pb::CheckAccessRequest>,
    ) -> Result<Response<pb::CheckAccessResponse>, Status> {
        rpc!(self, request, check)
    }

    async fn submit_care_plan_notification(
        &self,
        request: Request<pb::SubmitCarePlanNotificationRequest>,
    ) -> Result<Response<pb::SubmitCarePlanNotificationResponse>, Status> {
        rpc!(self, request, submit_notification)
    }

    async fn accept_care_plan_notification(
        &self,
        request: Request<pb::AcceptCarePlanNotificationRequest>,
    ) -> Result<Response<pb::AcceptCarePlanNotificationResponse>, Status> {
        rpc!(self, request, accept_notification)
    }

    async fn return_care_plan_notification(
        &self,
        request: Request<pb::ReturnCarePlanNotificationRequest>,
    ) -> Result<Response<pb::ReturnCarePlanNotificationResponse>, Status> {
        rpc!(self, request, return_notification)
    }

    async fn list_care_plan_notifications(
        &self,
        request: Request<pb::ListCarePlanNotificationsRequest>,
    ) -> Result<Response<pb::ListCarePlanNotificationsResponse>, Status> {
        rpc!(self, request, list_notifications)
    }

    async fn get_my_relationships(
        &self,
        request: Request<pb::GetMyRelationshipsRequest>,
    ) -> Result<Response<pb::GetMyRelationshipsResponse>, Status> {
        rpc!(self, request, my_relationships)
    }

    async fn withdraw_my_consent(
        &self,
        request: Request<pb::WithdrawMyConsentRequest>,
    ) -> Result<Response<pb::WithdrawMyConsentResponse>, Status> {
        rpc!(self, request, withdraw_mine)
    }

    async fn end_my_registration(
        &self,
        request: Request<pb::EndMyRegistrationRequest>,
    ) -> Result<Response<pb::EndMyRegistrationResponse>, Status> {
        rpc!(self, request, end_mine)
    }

    async fn list_my_record_reads(
        &self,
        request: Request<pb::ListMyRecordReadsRequest>,
    ) -> Result<Response<pb::ListMyRecordReadsResponse>, Status> {
        rpc!(self, request, my_reads)
    }
}

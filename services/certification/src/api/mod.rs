//! The tonic implementation of `kaigo.certification.v1.CertificationService`: decode and
//! validate, check the caller, call the domain through the store, map the result. No SQL here.

pub mod convert;
mod read;
mod steps;
mod submit;
mod watch;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use kaigo_platform::audit::Auditor;
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::errors::{ApiError, Violations};
use kaigo_platform::time::Clock;
use kaigo_proto::kaigo::certification::v1 as pb;
use kaigo_proto::kaigo::certification::v1::certification_service_server::CertificationService;
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;
use tonic::{Request, Response, Status};

use crate::domain::record::ActorRecord;
use crate::domain::validity::ValidityPolicy;
use crate::people::PersonDirectory;
use crate::signals::StepSignals;
use crate::store::Written;

/// Rule parameters the operator sets (see `Config`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Days after application from which an open application is at risk.
    pub at_risk_day: u32,
    /// A renewal decided inside the validity it renews is on time (docs/domain/certification.md#renewal-deadline).
    pub renewal_on_time_within_validity: bool,
    /// Days after moving in within which a 転入 carries the certification over (docs/domain/certification.md#transfer).
    pub transfer_window_days: u32,
    /// Validity rule parameters.
    pub validity: ValidityPolicy,
    /// How often a watcher re-reads without a signal.
    pub watch_poll: Duration,
}

pub(crate) struct Inner {
    /// The service's database (a pool: cheap to clone).
    pub db: DatabaseConnection,
    /// Where reads go: a replica, unless the caller has a write it has not replayed.
    pub reads: kaigo_platform::db::ReadPool,
    pub auditor: Auditor,
    pub clock: Arc<dyn Clock>,
    pub people: Arc<dyn PersonDirectory>,
    pub signals: StepSignals,
    pub settings: Settings,
    pub relay_waker: Option<Arc<Notify>>,
    /// The access decision on the copy of the registry's facts (docs/domain/access.md#facts-copy).
    pub gate: kaigo_platform::access::Gate,
}

/// The gRPC API.
#[derive(Clone)]
pub struct Api {
    inner: Arc<Inner>,
}

impl Api {
    pub(crate) fn new(inner: Inner) -> Self {
        Self { inner: Arc::new(inner) }
    }
}

/// A UUID in its hyphenated form, the only one the contract documents (36 characters).
fn is_uuid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

/// Checks an application id: REQUIRED, a hyphenated UUID (36 characters).
fn check_application_id(v: &mut Violations, application_id: &str) {
    if application_id.is_empty() {
        v.add("application_id", "required");
    } else if !is_uuid(application_id) {
        v.add("application_id", "must be a UUID (36 characters with hyphens)");
    }
}

/// The actor of a step written by `caller`.
fn actor(caller: &Caller) -> ActorRecord {
    use kaigo_proto::kaigo::common::v1::Role as W;
    let role = match caller.role {
        Role::Insurer => W::Insurer,
        Role::CareOffice => W::CareOffice,
        Role::ServiceProvider => W::ServiceProvider,
        Role::MedicalInstitution => W::MedicalInstitution,
        Role::InsuredPerson => W::InsuredPerson,
        Role::Operator => W::Operator,
    };
    ActorRecord {
        role: role as i32,
        subject: caller.subject.clone(),
        organization_number: caller.organization().unwrap_or_default().to_owned(),
    }
}

/// The actor of steps driven by events.
pub(crate) fn system_actor(subject: &str) -> ActorRecord {
    ActorRecord {
        role: kaigo_proto::kaigo::common::v1::Role::System as i32,
        subject: subject.to_owned(),
        organization_number: String::new(),
    }
}

impl Inner {
    /// After a write: the caller's reads go to the primary until the replicas have it
    /// (docs/architecture.md#read-replicas); wake watchers everywhere and the outbox relay;
    /// decode the response.
    async fn finish<R: prost::Message + Default>(&self, caller: &Caller, written: Written) -> Result<R, ApiError> {
        self.reads.fence(caller.party().as_bytes());
        if let Written::Fresh { application_id, .. } = &written {
            if let Some(waker) = &self.relay_waker {
                waker.notify_one();
            }
            self.signals.announce(application_id).await;
        }
        R::decode(written.response()).map_err(ApiError::internal)
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchApplicationResponse, Status>> + Send>>;

#[tonic::async_trait]
impl CertificationService for Api {
    async fn submit_application(
        &self,
        request: Request<pb::SubmitApplicationRequest>,
    ) -> Result<Response<pb::SubmitApplicationResponse>, Status> {
        let caller = Caller::from_request(&request)?.clone();
        Ok(Response::new(self.inner.submit(&caller, request.get_ref()).await?))
    }

    async fn get_application(
        &self,
        request: Request<pb::GetApplicationRequest>,
    ) -> Result<Response<pb::GetApplicationResponse>, Status> {
        let caller = Caller::from_request(&request)?.clone();
        Ok(Response::new(self.inner.get(&caller, request.get_ref()).await?))
    }

    async fn list_applications(
        &self,
        request: Request<pb::ListApplicationsRequest>,
    ) -> Result<Response<pb::ListApplicationsResponse>, Status> {
        let caller = Caller::from_request(&request)?.clone();
        Ok(Response::new(self.inner.list(&caller, request.get_ref()).await?))
    }

    async fn record_survey_scheduled(
        &self,
        request: Request<pb::RecordSurveyScheduledRequest>,
    ) -> Result<Response<pb::RecordSurveyScheduledResponse>, Status> {
        let caller = Caller::from_request(&request)?.clone();
        Ok(Response::new(self.inner.survey_scheduled(&caller, request.get_ref()).await?))
    }

    async fn record_survey_completed(
        &self,
        request: Request<pb::RecordSurveyCompletedRequest>,
    ) -> Result<Response<pb::RecordSurveyCompletedResponse>, Status> {
        let caller = Caller::from_request(&request)?.clone();
        Ok(Response::new(self.inner.survey_completed(&caller, request.get_ref()).await?))
    }

    async fn record_opinion_requested(
        &self,
        request: Request<pb::RecordOpinionRequestedRequest>,
    ) -> Result<Response<pb::RecordOpinionRequestedResponse>, Status> {
        let caller = Caller::from_request(&request)?.clone();
        Ok(Response::new(self.inner.opinion_requested(&caller, request.get_ref()).await?))
    }

    async fn record_opinion_received(
        &self,
        request: Request<pb::RecordOpinionReceivedRequest>,
    ) -> Result<Response<pb::RecordOpinionReceivedResponse>, Status> {
        let caller = Caller::from_request(&request)?.clone();
        Ok(Response::new(self.inner.opinion_received(&caller, request.get_ref()).await?))
    }

    async fn record_primary_judgment(
        &self,
        request: Request<pb::RecordPrimaryJudgmentRequest>,
    ) -> Result<Response<pb::RecordPrimaryJudgmentResponse>, Status> {
        let caller = Caller::from_request(&request)?.clone();
        Ok(Response::new(self.inner.primary_judgment(&caller, request.get_ref()).await?))
    }

    async fn schedule_review_board(
        &self,
        request: Request<pb::ScheduleReviewBoardRequest>,
    ) -> Result<Response<pb::ScheduleReviewBoardResponse>, Status> {
        let caller = Caller::from_request(&request)?.clone();
        Ok(Response::new(self.inner.review_board(&caller, request.get_ref()).await?))
    }

    async fn record_decision(
        &self,
        request: Request<pb::RecordDecisionRequest>,
    ) -> Result<Response<pb::RecordDecisionResponse>, Status> {
        let caller = Caller::from_request(&request)?.clone();
        Ok(Response::new(self.inner.decision(&caller, request.get_ref()).await?))
    }

    async fn record_notified(
        &self,
        request: Request<pb::RecordNotifiedRequest>,
    ) -> Result<Response<pb::RecordNotifiedResponse>, Status> {
        let caller = Caller::from_request(&request)?.clone();
        Ok(Response::new(self.inner.notified(&caller, request.get_ref()).await?))
    }

    async fn withdraw_application(
        &self,
        request: Request<pb::WithdrawApplicationRequest>,
    ) -> Result<Response<pb::WithdrawApplicationResponse>, Status> {
        let caller = Caller::from_request(&request)?.clone();
        Ok(Response::new(self.inner.withdraw(&caller, request.get_ref()).await?))
    }

    async fn cancel_application(
        &self,
        request: Request<pb::CancelApplicationRequest>,
    ) -> Result<Response<pb::CancelApplicationResponse>, Status> {
        let caller = Caller::from_request(&request)?.clone();
        Ok(Response::new(self.inner.cancel(&caller, request.get_ref()).await?))
    }

    async fn issue_delay_notice(
        &self,
        request: Request<pb::IssueDelayNoticeRequest>,
    ) -> Result<Response<pb::IssueDelayNoticeResponse>, Status> {
        let caller = Caller::from_request(&request)?.clone();
        Ok(Response::new(self.inner.delay_notice(&caller, request.get_ref()).await?))
    }

    async fn get_application_progress(
        &self,
        request: Request<pb::GetApplicationProgressRequest>,
    ) -> Result<Response<pb::GetApplicationProgressResponse>, Status> {
        let caller = Caller::from_request(&request)?.clone();
        Ok(Response::new(self.inner.progress(&caller, request.get_ref()).await?))
    }

    async fn watch_application(
        &self,
        request: Request<pb::WatchApplicationRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let caller = Caller::from_request(&request)?.clone();
        let stream = watch::watch(self.inner.clone(), &caller, request.get_ref()).await?;
        Ok(Response::new(stream))
    }

    async fn get_insurer_statistics(
        &self,
        request: Request<pb::GetInsurerStatisticsRequest>,
    ) -> Result<Response<pb::GetInsurerStatisticsResponse>, Status> {
        let caller = Caller::from_request(&request)?.clone();
        Ok(Response::new(self.inner.statistics(&caller, request.get_ref()).await?))
    }

    async fn request_resurvey(
        &self,
        request: Request<pb::RequestResurveyRequest>,
    ) -> Result<Response<pb::RequestResurveyResponse>, Status> {
        let caller = Caller::from_request(&request)?.clone();
        Ok(Response::new(self.inner.resurvey(&caller, request.get_ref()).await?))
    }

    async fn request_second_opinion(
        &self,
        request: Request<pb::RequestSecondOpinionRequest>,
    ) -> Result<Response<pb::RequestSecondOpinionResponse>, Status> {
        let caller = Caller::from_request(&request)?.clone();
        Ok(Response::new(self.inner.second_opinion(&caller, request.get_ref()).await?))
    }

    async fn defer_review(
        &self,
        request: Request<pb::DeferReviewRequest>,
    ) -> Result<Response<pb::DeferReviewResponse>, Status> {
        let caller = Caller::from_request(&request)?.clone();
        Ok(Response::new(self.inner.defer_review(&caller, request.get_ref()).await?))
    }
}

//! The tonic implementation of `kaigo.documents.v1.DocumentService`: each RPC takes the
//! verified caller, validates, applies the domain rules and maps the result. No SQL here.

mod attachments;
mod convert;
mod intake;
mod opinions;
mod requests;
mod uploads;

use std::sync::Arc;

use kaigo_platform::audit::{self, Auditor, ReadRecord};
use kaigo_platform::auth::Caller;
use kaigo_platform::db::{ReadConn, ReadPool};
use kaigo_platform::errors::ApiError;
use kaigo_proto::kaigo::documents::v1::document_service_server::DocumentService;
use kaigo_proto::kaigo::documents::v1::*;
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;
use tonic::{Request, Response, Status, Streaming};

pub use self::attachments::data_loss;
pub use self::opinions::OPINION_RECEIVED;
use crate::blob::crypto::Keyring;
use crate::blob::storage::BlobStore;
use crate::domain::access::Denied;
use crate::domain::flow::FlowError;

/// What the handlers share.
pub struct Inner {
    /// The service's schema: writes, the access facts, and the reads that must see the latest
    /// commit.
    pub db: DatabaseConnection,
    /// Where the read RPCs read: a replica of `database.read_urls` unless the caller has a
    /// write it has not replayed (docs/architecture.md#read-replicas); the primary without
    /// replicas.
    pub reads: ReadPool,
    /// The access decision on the copy of the registry's facts (docs/domain/access.md#facts-copy).
    pub gate: kaigo_platform::access::Gate,
    /// Attachment blobs.
    pub blobs: BlobStore,
    /// Encryption keys.
    pub keys: Keyring,
    /// The read audit trail.
    pub auditor: Auditor,
    /// "Now" for every record and rule.
    pub clock: Arc<dyn kaigo_platform::time::Clock>,
    /// `documents.max_attachment_bytes`.
    pub max_attachment_bytes: u64,
    /// `documents.reiwa3_form_accepted_until`.
    pub reiwa3_accepted_until: Option<chrono::NaiveDate>,
    /// Wakes the outbox relay after an event commits.
    pub relay_waker: Arc<Notify>,
}

/// The gRPC API.
#[derive(Clone)]
pub struct Api {
    inner: Arc<Inner>,
}

impl Api {
    /// An API over `inner`.
    pub fn new(inner: Inner) -> Self {
        Self { inner: Arc::new(inner) }
    }
}

/// PERMISSION_DENIED for a read rule.
pub(crate) fn denied(d: Denied) -> ApiError {
    let message = match d {
        Denied::NotAParty => "the caller is not a party to this opinion (docs/domain/access.md#in-kaigo)",
    };
    ApiError::permission_denied(d.reason(), message)
}

impl Inner {
    /// Where `caller`'s reads go: a replica that has replayed the caller's own writes, else
    /// the primary.
    pub(crate) fn reads_for(&self, caller: &Caller) -> ReadConn {
        self.reads.for_key(caller.party().as_bytes())
    }

    /// After a write RPC that succeeded: the caller's reads go to the primary until a replica
    /// has replayed it (a replayed answer fences too: a few primary reads, never a stale one).
    fn wrote<T>(&self, caller: &Caller, result: Result<T, ApiError>) -> Result<Response<T>, Status> {
        let response = result?;
        self.reads.fence(caller.party().as_bytes());
        Ok(Response::new(response))
    }

    /// The decision for an organisation that reads an opinion by the registry's facts, not as
    /// a party of the request: may it see `CERTIFICATION` of the person today? A refusal is
    /// PERMISSION_DENIED `NOT_REGISTERED`, `CONSENT_REQUIRED` or `NOT_PERMITTED`.
    pub(crate) async fn decide_certification(
        &self,
        caller: &Caller,
        insurer_number: &str,
        insured_number: &str,
    ) -> Result<(), ApiError> {
        use kaigo_platform::access::{self, Category, PersonRef};
        let person = PersonRef::new(insurer_number, insured_number);
        // On the primary: a consent withdrawn a moment ago refuses at once, never after a
        // replica's lag.
        let facts = access::load(&self.db, person).await.map_err(kaigo_platform::errors::db)?;
        self.gate.decide(caller, person, Category::Certification, self.clock.today_jst(), &facts)
    }

    /// Decides a read of an opinion of `parties`: the parties of the request by the request,
    /// everyone else by [`Inner::decide_certification`].
    pub(crate) async fn may_read_opinion(
        &self,
        caller: &Caller,
        parties: &crate::domain::access::Parties<'_>,
    ) -> Result<(), ApiError> {
        use crate::domain::access::{self, Reader};
        match access::opinion_reader(caller, parties) {
            Reader::Insurer | Reader::Institution => Ok(()),
            Reader::ByFacts => self.decide_certification(caller, parties.insurer_number, parties.insured_number).await,
            Reader::Nobody => Err(denied(Denied::NotAParty)),
        }
    }
}

/// The audit record of one call's read of records whose persons are `persons` (insurer,
/// insured pairs; none when not known), by id.
pub(crate) fn read_record<'a>(
    rpc: &'static str,
    category: &'static str,
    purpose: String,
    outcome: &'static str,
    persons: impl IntoIterator<Item = (&'a str, &'a str)>,
    resources: impl IntoIterator<Item = &'a str>,
) -> ReadRecord {
    let mut persons: Vec<String> =
        persons.into_iter().map(|(insurer, insured)| audit::person(insurer, insured)).collect();
    persons.sort();
    persons.dedup();
    ReadRecord {
        rpc,
        category,
        purpose,
        outcome,
        persons,
        resources: resources.into_iter().map(str::to_owned).collect(),
    }
}

/// The audit record of a read refused before the record was looked up (whose it is unknown).
pub(crate) fn attempt(rpc: &'static str, category: &'static str, id: &str, purpose: String) -> ReadRecord {
    read_record(rpc, category, purpose, audit::DENIED, [], [id])
}

/// FAILED_PRECONDITION naming the workflow rule.
pub(crate) fn flow_error(e: FlowError) -> ApiError {
    ApiError::failed_precondition(e.reason(), e.message())
}

fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    Ok(Caller::from_request(request)?.clone())
}

#[tonic::async_trait]
impl DocumentService for Api {
    async fn request_opinion(
        &self,
        request: Request<RequestOpinionRequest>,
    ) -> Result<Response<RequestOpinionResponse>, Status> {
        let caller = caller(&request)?;
        self.inner.wrote(&caller, requests::request_opinion(&self.inner, &caller, request.into_inner()).await)
    }

    async fn get_opinion_request(
        &self,
        request: Request<GetOpinionRequestRequest>,
    ) -> Result<Response<GetOpinionRequestResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(requests::get_request(&self.inner, &caller, request.into_inner()).await?))
    }

    async fn list_opinion_requests(
        &self,
        request: Request<ListOpinionRequestsRequest>,
    ) -> Result<Response<ListOpinionRequestsResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(requests::list_requests(&self.inner, &caller, request.into_inner()).await?))
    }

    async fn cancel_opinion_request(
        &self,
        request: Request<CancelOpinionRequestRequest>,
    ) -> Result<Response<CancelOpinionRequestResponse>, Status> {
        let caller = caller(&request)?;
        self.inner.wrote(&caller, requests::cancel_request(&self.inner, &caller, request.into_inner()).await)
    }

    async fn submit_opinion(
        &self,
        request: Request<SubmitOpinionRequest>,
    ) -> Result<Response<SubmitOpinionResponse>, Status> {
        let caller = caller(&request)?;
        self.inner.wrote(&caller, opinions::submit(&self.inner, &caller, request.into_inner()).await)
    }

    async fn get_opinion(&self, request: Request<GetOpinionRequest>) -> Result<Response<GetOpinionResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(opinions::get(&self.inner, &caller, request.into_inner()).await?))
    }

    async fn list_opinions(
        &self,
        request: Request<ListOpinionsRequest>,
    ) -> Result<Response<ListOpinionsResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(opinions::list(&self.inner, &caller, request.into_inner()).await?))
    }

    async fn receive_opinion(
        &self,
        request: Request<ReceiveOpinionRequest>,
    ) -> Result<Response<ReceiveOpinionResponse>, Status> {
        let caller = caller(&request)?;
        self.inner.wrote(&caller, opinions::receive(&self.inner, &caller, request.into_inner()).await)
    }

    async fn upload_attachment(
        &self,
        request: Request<Streaming<UploadAttachmentRequest>>,
    ) -> Result<Response<UploadAttachmentResponse>, Status> {
        let caller = caller(&request)?;
        self.inner.wrote(&caller, attachments::upload(&self.inner, &caller, request.into_inner()).await)
    }

    async fn start_attachment_upload(
        &self,
        request: Request<StartAttachmentUploadRequest>,
    ) -> Result<Response<StartAttachmentUploadResponse>, Status> {
        let caller = caller(&request)?;
        self.inner.wrote(&caller, uploads::start(&self.inner, &caller, request.into_inner()).await)
    }

    async fn append_attachment_chunk(
        &self,
        request: Request<AppendAttachmentChunkRequest>,
    ) -> Result<Response<AppendAttachmentChunkResponse>, Status> {
        let caller = caller(&request)?;
        self.inner.wrote(&caller, uploads::append(&self.inner, &caller, request.into_inner()).await)
    }

    async fn finish_attachment_upload(
        &self,
        request: Request<FinishAttachmentUploadRequest>,
    ) -> Result<Response<FinishAttachmentUploadResponse>, Status> {
        let caller = caller(&request)?;
        self.inner.wrote(&caller, uploads::finish(&self.inner, &caller, request.into_inner()).await)
    }

    async fn get_attachment(
        &self,
        request: Request<GetAttachmentRequest>,
    ) -> Result<Response<GetAttachmentResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(attachments::get(&self.inner, &caller, request.into_inner()).await?))
    }

    async fn download_attachment(
        &self,
        request: Request<DownloadAttachmentRequest>,
    ) -> Result<Response<tonic::codegen::BoxStream<DownloadAttachmentResponse>>, Status> {
        let caller = caller(&request)?;
        let stream = attachments::download(&self.inner, &caller, request.into_inner()).await?;
        Ok(Response::new(Box::pin(stream)))
    }
}

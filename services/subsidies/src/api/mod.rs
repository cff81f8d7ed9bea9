//! The tonic implementation of `kaigo.subsidies.v1.SubsidyService`: decode and validate,
//! call the domain, map the result. SQL lives in `store`.

mod access;
mod applications;
pub(crate) mod convert;
mod reads;
mod review;

use std::sync::Arc;

use kaigo_platform::audit::Auditor;
use kaigo_platform::auth::Caller;
use kaigo_platform::errors::{ApiError, Violations};
use kaigo_platform::idempotency::write;
use kaigo_proto::kaigo::subsidies::v1 as pb;
use kaigo_proto::kaigo::subsidies::v1::subsidy_service_server::SubsidyService;
use sea_orm::DatabaseConnection;
use tonic::{Request, Response, Status};

use crate::catalogue::Catalogue;
use crate::domain::calculate::calculate;
use crate::domain::programme::Programme;
use kaigo_platform::time::Clock;

/// The gRPC API.
#[derive(Clone)]
pub struct Api {
    db: DatabaseConnection,
    /// Where reads go: a replica, unless the caller has a write it has not replayed
    /// (docs/architecture.md#read-replicas).
    reads: kaigo_platform::db::ReadPool,
    catalogue: Arc<Catalogue>,
    clock: Arc<dyn Clock>,
    auditor: Auditor,
}

/// Another request changed the same application at the same time.
fn concurrent_change() -> ApiError {
    ApiError::aborted(
        "CONCURRENT_CHANGE",
        "another request changed the same application at the same time; read it again and retry",
    )
}

impl Api {
    /// The API over `db`, with these programmes, this clock and this audit trail.
    pub fn new(db: DatabaseConnection, catalogue: Arc<Catalogue>, clock: Arc<dyn Clock>, auditor: Auditor) -> Self {
        let reads = kaigo_platform::db::ReadPool::primary_only(db.clone());
        Self { db, reads, catalogue, clock, auditor }
    }

    /// Reads through `reads` (the service's replicas) instead of the primary.
    pub fn with_reads(mut self, reads: kaigo_platform::db::ReadPool) -> Self {
        self.reads = reads;
        self
    }

    /// The platform's write runner ([`write::run`]) on the primary and the service's clock; then
    /// the caller's reads go to the primary until the replicas have the write. A unique
    /// violation that is no concurrent retry of the same request is ABORTED
    /// `CONCURRENT_CHANGE`.
    async fn write<R, F>(&self, key: &kaigo_platform::idempotency::IdempotencyKey, work: F) -> Result<R, ApiError>
    where
        R: prost::Message + Default,
        F: for<'t> FnOnce(
            &'t sea_orm::DatabaseTransaction,
            &'t kaigo_platform::idempotency::IdempotencyKey,
        ) -> write::Work<'t, R>,
    {
        let response = write::run(&self.db, self.clock.as_ref(), key, concurrent_change, work).await?;
        self.reads.fence(key.party().as_bytes());
        Ok(response)
    }

    /// The programme named in a request, or a violation on `field`.
    fn programme(&self, v: &mut Violations, field: &str, id: &str) -> Option<Arc<Programme>> {
        if id.is_empty() {
            v.add(field, "required");
            return None;
        }
        if !kaigo_platform::validate::max_chars(v, field, id, MAX_PROGRAMME_ID) {
            return None;
        }
        let found = self.catalogue.get(id);
        if found.is_none() {
            v.add(field, "unknown programme; ListProgrammes names them");
        }
        found
    }
}

/// Longest programme id (characters), as the contract and the programme file check say.
const MAX_PROGRAMME_ID: usize = crate::domain::programme::MAX_ID_CHARS;
/// Longest ListProgrammes page token: an offset, a number of at most 16 characters.
const MAX_OFFSET_TOKEN: usize = 16;

/// Page size: 0 → 50; above 500 → 500; negative refused.
fn page_size(v: &mut Violations, size: i32) -> u64 {
    match size {
        0 => 50,
        n if n < 0 => {
            v.add("page_size", "must not be negative");
            50
        }
        n => u64::try_from(n.min(500)).unwrap_or(500),
    }
}

#[tonic::async_trait]
impl SubsidyService for Api {
    async fn list_programmes(
        &self,
        request: Request<pb::ListProgrammesRequest>,
    ) -> Result<Response<pb::ListProgrammesResponse>, Status> {
        // Programmes are public rules: any verified caller may read them.
        Caller::from_request(&request)?;
        let req = request.get_ref();
        let mut v = Violations::new();
        let size = page_size(&mut v, req.page_size);
        let offset = if req.page_token.is_empty() {
            0
        } else if req.page_token.len() > MAX_OFFSET_TOKEN {
            v.add("page_token", "not a token from this RPC (at most 16 characters)");
            0
        } else {
            v.check("page_token", req.page_token.parse::<usize>().map_err(|_| "not a token from this RPC"))
                .unwrap_or_default()
        };
        v.into_result()?;
        let matching: Vec<_> = self
            .catalogue
            .newest_first()
            .into_iter()
            .filter(|p| req.fiscal_year == 0 || p.fiscal_year == req.fiscal_year)
            .collect();
        let end = offset.saturating_add(usize::try_from(size).unwrap_or(50)).min(matching.len());
        let page = matching.get(offset.min(end)..end).unwrap_or_default();
        Ok(Response::new(pb::ListProgrammesResponse {
            programmes: page.iter().map(|p| convert::programme(p)).collect(),
            next_page_token: if end < matching.len() { end.to_string() } else { String::new() },
        }))
    }

    async fn get_programme(
        &self,
        request: Request<pb::GetProgrammeRequest>,
    ) -> Result<Response<pb::GetProgrammeResponse>, Status> {
        Caller::from_request(&request)?;
        let id = &request.get_ref().programme_id;
        let mut v = Violations::new();
        if id.is_empty() {
            v.add("programme_id", "required");
        }
        kaigo_platform::validate::max_chars(&mut v, "programme_id", id, MAX_PROGRAMME_ID);
        v.into_result()?;
        let programme = self
            .catalogue
            .get(id)
            .ok_or_else(|| ApiError::not_found("PROGRAMME_NOT_FOUND", "no programme with this id"))?;
        Ok(Response::new(pb::GetProgrammeResponse { programme: Some(convert::programme(&programme)) }))
    }

    async fn calculate_subsidy(
        &self,
        request: Request<pb::CalculateSubsidyRequest>,
    ) -> Result<Response<pb::CalculateSubsidyResponse>, Status> {
        access::require_participant(Caller::from_request(&request)?)?;
        let req = request.get_ref();
        let mut v = Violations::new();
        let programme = self.programme(&mut v, "programme_id", &req.programme_id);
        use pb::calculate_subsidy_request::Costs as C;
        // Cost fields are reported as `costs.care_office.readers[0].quantity`, as applications
        // report them under `application.costs.`.
        let costs = match &req.costs {
            Some(C::CareOffice(c)) => convert::decode_care_office(c, "costs.", &mut v),
            Some(C::MedicalInstitution(m)) => convert::decode_medical(m, "costs.", &mut v),
            None => {
                v.add("costs", "set care_office or medical_institution");
                None
            }
        };
        let (Some(programme), Some(costs)) = (programme, costs) else {
            return Err(ApiError::invalid_argument(v).into());
        };
        match calculate(&programme, &costs) {
            Ok(calculation) => {
                v.into_result()?;
                Ok(Response::new(pb::CalculateSubsidyResponse {
                    calculation: Some(convert::calculation(
                        &calculation,
                        convert::Lang::from_metadata(request.metadata()),
                    )),
                }))
            }
            Err(problems) => {
                convert::add_problems(&mut v, "costs.", &costs, problems);
                Err(ApiError::invalid_argument(v).into())
            }
        }
    }

    async fn create_application(
        &self,
        request: Request<pb::CreateApplicationRequest>,
    ) -> Result<Response<pb::CreateApplicationResponse>, Status> {
        Ok(Response::new(self.create(request).await?))
    }

    async fn update_application(
        &self,
        request: Request<pb::UpdateApplicationRequest>,
    ) -> Result<Response<pb::UpdateApplicationResponse>, Status> {
        Ok(Response::new(self.update(request).await?))
    }

    async fn submit_application(
        &self,
        request: Request<pb::SubmitApplicationRequest>,
    ) -> Result<Response<pb::SubmitApplicationResponse>, Status> {
        Ok(Response::new(self.submit(request).await?))
    }

    async fn review_application(
        &self,
        request: Request<pb::ReviewApplicationRequest>,
    ) -> Result<Response<pb::ReviewApplicationResponse>, Status> {
        Ok(Response::new(self.review(request).await?))
    }

    async fn approve_application(
        &self,
        request: Request<pb::ApproveApplicationRequest>,
    ) -> Result<Response<pb::ApproveApplicationResponse>, Status> {
        Ok(Response::new(self.approve(request).await?))
    }

    async fn reject_application(
        &self,
        request: Request<pb::RejectApplicationRequest>,
    ) -> Result<Response<pb::RejectApplicationResponse>, Status> {
        Ok(Response::new(self.reject(request).await?))
    }

    async fn return_application(
        &self,
        request: Request<pb::ReturnApplicationRequest>,
    ) -> Result<Response<pb::ReturnApplicationResponse>, Status> {
        Ok(Response::new(self.return_for_correction(request).await?))
    }

    async fn record_payment(
        &self,
        request: Request<pb::RecordPaymentRequest>,
    ) -> Result<Response<pb::RecordPaymentResponse>, Status> {
        Ok(Response::new(self.pay(request).await?))
    }

    async fn get_application(
        &self,
        request: Request<pb::GetApplicationRequest>,
    ) -> Result<Response<pb::GetApplicationResponse>, Status> {
        Ok(Response::new(self.get(request).await?))
    }

    async fn list_applications(
        &self,
        request: Request<pb::ListApplicationsRequest>,
    ) -> Result<Response<pb::ListApplicationsResponse>, Status> {
        Ok(Response::new(self.list(request).await?))
    }

    async fn get_report(
        &self,
        request: Request<pb::GetReportRequest>,
    ) -> Result<Response<pb::GetReportResponse>, Status> {
        Ok(Response::new(self.report(request).await?))
    }

    async fn attach_evidence(
        &self,
        request: Request<pb::AttachEvidenceRequest>,
    ) -> Result<Response<pb::AttachEvidenceResponse>, Status> {
        Ok(Response::new(self.attach(request).await?))
    }
}

//! The gRPC API: decode and validate, apply the rules, answer. No SQL here.

mod allowances;
pub mod convert;
mod decisions;
mod import;
mod notifications;
mod read;
mod write;

use std::sync::Arc;

use kaigo_platform::audit::Auditor;
use kaigo_platform::auth::Caller;
use kaigo_platform::time::Clock;
use kaigo_platform::{ApiError, Violations};
use sea_orm::DatabaseConnection;

use crate::cache::Cache;
use crate::domain::validity::ValidityRules;

/// The largest batch BatchCheckEligibility accepts.
pub const MAX_BATCH: usize = 1_000;

/// The EligibilityService implementation.
#[derive(Clone)]
pub struct Api {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// The service's database (a pool: cheap to clone).
    pub db: DatabaseConnection,
    pub cache: Cache,
    pub auditor: Auditor,
    pub rules: ValidityRules,
    /// "Now" and "today" (JST); injectable so date-dependent behaviour is testable.
    pub clock: Arc<dyn Clock>,
    /// Who may see which category of whom (docs/domain/access.md#facts-copy).
    pub gate: kaigo_platform::access::Gate,
    /// The 住宅改修費 and 福祉用具購入費 rules (docs/domain/eligibility.md#allowances).
    pub allowances: crate::domain::allowances::AllowanceRules,
}

impl Api {
    /// The API over its parts.
    pub(crate) fn new(inner: Inner) -> Self {
        Self { inner: Arc::new(inner) }
    }

    /// The cache (for the invalidation listener and consumers).
    pub fn cache(&self) -> &Cache {
        &self.inner.cache
    }
}

/// The value a request was validated into, or every violation found on the way.
pub(crate) fn validated<T>(violations: Violations, value: Option<T>) -> Result<T, ApiError> {
    match value {
        Some(value) if violations.is_empty() => Ok(value),
        _ => Err(ApiError::invalid_argument(violations)),
    }
}

#[tonic::async_trait]
impl kaigo_proto::kaigo::eligibility::v1::eligibility_service_server::EligibilityService for Api {
    async fn check_eligibility(
        &self,
        request: tonic::Request<kaigo_proto::kaigo::eligibility::v1::CheckEligibilityRequest>,
    ) -> Result<tonic::Response<kaigo_proto::kaigo::eligibility::v1::CheckEligibilityResponse>, tonic::Status> {
        Ok(tonic::Response::new(self.check(request).await?))
    }

    async fn batch_check_eligibility(
        &self,
        request: tonic::Request<kaigo_proto::kaigo::eligibility::v1::BatchCheckEligibilityRequest>,
    ) -> Result<tonic::Response<kaigo_proto::kaigo::eligibility::v1::BatchCheckEligibilityResponse>, tonic::Status>
    {
        Ok(tonic::Response::new(self.batch(request).await?))
    }

    async fn get_eligibility_history(
        &self,
        request: tonic::Request<kaigo_proto::kaigo::eligibility::v1::GetEligibilityHistoryRequest>,
    ) -> Result<tonic::Response<kaigo_proto::kaigo::eligibility::v1::GetEligibilityHistoryResponse>, tonic::Status>
    {
        Ok(tonic::Response::new(self.history(request).await?))
    }

    async fn upsert_insured_person(
        &self,
        request: tonic::Request<kaigo_proto::kaigo::eligibility::v1::UpsertInsuredPersonRequest>,
    ) -> Result<tonic::Response<kaigo_proto::kaigo::eligibility::v1::UpsertInsuredPersonResponse>, tonic::Status> {
        Ok(tonic::Response::new(self.upsert_person(request).await?))
    }

    async fn record_certification(
        &self,
        request: tonic::Request<kaigo_proto::kaigo::eligibility::v1::RecordCertificationRequest>,
    ) -> Result<tonic::Response<kaigo_proto::kaigo::eligibility::v1::RecordCertificationResponse>, tonic::Status> {
        let caller = Caller::from_request(&request)?.clone();
        let r = request.into_inner();
        let (record, person_version) = self
            .record_period(
                &caller,
                "RecordCertification",
                &r,
                &r.request_id,
                &r.insurer_number,
                &r.insured_number,
                r.expected_version,
                |v| convert::certification(v, "certification", r.certification.as_ref()),
            )
            .await?;
        Ok(tonic::Response::new(kaigo_proto::kaigo::eligibility::v1::RecordCertificationResponse {
            record,
            person_version,
        }))
    }

    async fn record_copayment_ratio(
        &self,
        request: tonic::Request<kaigo_proto::kaigo::eligibility::v1::RecordCopaymentRatioRequest>,
    ) -> Result<tonic::Response<kaigo_proto::kaigo::eligibility::v1::RecordCopaymentRatioResponse>, tonic::Status> {
        let caller = Caller::from_request(&request)?.clone();
        let r = request.into_inner();
        let (record, person_version) = self
            .record_period(
                &caller,
                "RecordCopaymentRatio",
                &r,
                &r.request_id,
                &r.insurer_number,
                &r.insured_number,
                r.expected_version,
                |v| convert::copayment(v, "copayment", r.copayment.as_ref()),
            )
            .await?;
        Ok(tonic::Response::new(kaigo_proto::kaigo::eligibility::v1::RecordCopaymentRatioResponse {
            record,
            person_version,
        }))
    }

    async fn record_cost_limit(
        &self,
        request: tonic::Request<kaigo_proto::kaigo::eligibility::v1::RecordCostLimitRequest>,
    ) -> Result<tonic::Response<kaigo_proto::kaigo::eligibility::v1::RecordCostLimitResponse>, tonic::Status> {
        let caller = Caller::from_request(&request)?.clone();
        let r = request.into_inner();
        let (record, person_version) = self
            .record_period(
                &caller,
                "RecordCostLimit",
                &r,
                &r.request_id,
                &r.insurer_number,
                &r.insured_number,
                r.expected_version,
                |v| convert::cost_limit(v, "cost_limit", r.cost_limit.as_ref()),
            )
            .await?;
        Ok(tonic::Response::new(kaigo_proto::kaigo::eligibility::v1::RecordCostLimitResponse {
            record,
            person_version,
        }))
    }

    async fn record_benefit_restriction(
        &self,
        request: tonic::Request<kaigo_proto::kaigo::eligibility::v1::RecordBenefitRestrictionRequest>,
    ) -> Result<tonic::Response<kaigo_proto::kaigo::eligibility::v1::RecordBenefitRestrictionResponse>, tonic::Status>
    {
        let caller = Caller::from_request(&request)?.clone();
        let r = request.into_inner();
        let (record, person_version) = self
            .record_period(
                &caller,
                "RecordBenefitRestriction",
                &r,
                &r.request_id,
                &r.insurer_number,
                &r.insured_number,
                r.expected_version,
                |v| convert::restriction(v, "benefit_restriction", r.benefit_restriction.as_ref()),
            )
            .await?;
        Ok(tonic::Response::new(kaigo_proto::kaigo::eligibility::v1::RecordBenefitRestrictionResponse {
            record,
            person_version,
        }))
    }

    async fn record_residence_exception(
        &self,
        request: tonic::Request<kaigo_proto::kaigo::eligibility::v1::RecordResidenceExceptionRequest>,
    ) -> Result<tonic::Response<kaigo_proto::kaigo::eligibility::v1::RecordResidenceExceptionResponse>, tonic::Status>
    {
        let caller = Caller::from_request(&request)?.clone();
        let r = request.into_inner();
        let (record, person_version) = self
            .record_period(
                &caller,
                "RecordResidenceException",
                &r,
                &r.request_id,
                &r.insurer_number,
                &r.insured_number,
                r.expected_version,
                |v| convert::residence(v, "residence_exception", r.residence_exception.as_ref()),
            )
            .await?;
        Ok(tonic::Response::new(kaigo_proto::kaigo::eligibility::v1::RecordResidenceExceptionResponse {
            record,
            person_version,
        }))
    }

    async fn record_care_management(
        &self,
        request: tonic::Request<kaigo_proto::kaigo::eligibility::v1::RecordCareManagementRequest>,
    ) -> Result<tonic::Response<kaigo_proto::kaigo::eligibility::v1::RecordCareManagementResponse>, tonic::Status> {
        let caller = Caller::from_request(&request)?.clone();
        let r = request.into_inner();
        let (record, person_version) = self
            .record_period(
                &caller,
                "RecordCareManagement",
                &r,
                &r.request_id,
                &r.insurer_number,
                &r.insured_number,
                r.expected_version,
                |v| convert::care_management(v, "care_management", r.care_management.as_ref()),
            )
            .await?;
        Ok(tonic::Response::new(kaigo_proto::kaigo::eligibility::v1::RecordCareManagementResponse {
            record,
            person_version,
        }))
    }

    async fn record_qualification(
        &self,
        request: tonic::Request<kaigo_proto::kaigo::eligibility::v1::RecordQualificationRequest>,
    ) -> Result<tonic::Response<kaigo_proto::kaigo::eligibility::v1::RecordQualificationResponse>, tonic::Status> {
        let caller = Caller::from_request(&request)?.clone();
        let r = request.into_inner();
        let (record, person_version) = self
            .record_period(
                &caller,
                "RecordQualification",
                &r,
                &r.request_id,
                &r.insurer_number,
                &r.insured_number,
                r.expected_version,
                |v| convert::qualification(v, "qualification", r.qualification.as_ref()),
            )
            .await?;
        Ok(tonic::Response::new(kaigo_proto::kaigo::eligibility::v1::RecordQualificationResponse {
            record,
            person_version,
        }))
    }

    async fn correct_record(
        &self,
        request: tonic::Request<kaigo_proto::kaigo::eligibility::v1::CorrectRecordRequest>,
    ) -> Result<tonic::Response<kaigo_proto::kaigo::eligibility::v1::CorrectRecordResponse>, tonic::Status> {
        let (record, person_version) = self.correct(request).await?;
        Ok(tonic::Response::new(kaigo_proto::kaigo::eligibility::v1::CorrectRecordResponse { record, person_version }))
    }

    async fn close_record(
        &self,
        request: tonic::Request<kaigo_proto::kaigo::eligibility::v1::CloseRecordRequest>,
    ) -> Result<tonic::Response<kaigo_proto::kaigo::eligibility::v1::CloseRecordResponse>, tonic::Status> {
        let (record, person_version) = self.close(request).await?;
        Ok(tonic::Response::new(kaigo_proto::kaigo::eligibility::v1::CloseRecordResponse { record, person_version }))
    }

    async fn import_insured_persons(
        &self,
        request: tonic::Request<tonic::Streaming<kaigo_proto::kaigo::eligibility::v1::ImportInsuredPersonsRequest>>,
    ) -> Result<tonic::Response<import::ImportStream>, tonic::Status> {
        Ok(tonic::Response::new(self.import(request).await?))
    }

    async fn void_record(
        &self,
        request: tonic::Request<kaigo_proto::kaigo::eligibility::v1::VoidRecordRequest>,
    ) -> Result<tonic::Response<kaigo_proto::kaigo::eligibility::v1::VoidRecordResponse>, tonic::Status> {
        let (record, person_version) = self.void(request).await?;
        Ok(tonic::Response::new(kaigo_proto::kaigo::eligibility::v1::VoidRecordResponse { record, person_version }))
    }

    async fn record_home_modification(
        &self,
        request: tonic::Request<kaigo_proto::kaigo::eligibility::v1::RecordHomeModificationRequest>,
    ) -> Result<tonic::Response<kaigo_proto::kaigo::eligibility::v1::RecordHomeModificationResponse>, tonic::Status>
    {
        Ok(tonic::Response::new(self.record_home_modification(request).await?))
    }

    async fn record_equipment_purchase(
        &self,
        request: tonic::Request<kaigo_proto::kaigo::eligibility::v1::RecordEquipmentPurchaseRequest>,
    ) -> Result<tonic::Response<kaigo_proto::kaigo::eligibility::v1::RecordEquipmentPurchaseResponse>, tonic::Status>
    {
        Ok(tonic::Response::new(self.record_equipment_purchase(request).await?))
    }

    async fn correct_allowance_use(
        &self,
        request: tonic::Request<kaigo_proto::kaigo::eligibility::v1::CorrectAllowanceUseRequest>,
    ) -> Result<tonic::Response<kaigo_proto::kaigo::eligibility::v1::CorrectAllowanceUseResponse>, tonic::Status> {
        Ok(tonic::Response::new(self.correct_allowance_use(request).await?))
    }

    async fn void_allowance_use(
        &self,
        request: tonic::Request<kaigo_proto::kaigo::eligibility::v1::VoidAllowanceUseRequest>,
    ) -> Result<tonic::Response<kaigo_proto::kaigo::eligibility::v1::VoidAllowanceUseResponse>, tonic::Status> {
        Ok(tonic::Response::new(self.void_allowance_use(request).await?))
    }

    async fn list_allowance_uses(
        &self,
        request: tonic::Request<kaigo_proto::kaigo::eligibility::v1::ListAllowanceUsesRequest>,
    ) -> Result<tonic::Response<kaigo_proto::kaigo::eligibility::v1::ListAllowanceUsesResponse>, tonic::Status> {
        Ok(tonic::Response::new(self.list_allowance_uses(request).await?))
    }

    async fn check_allowances(
        &self,
        request: tonic::Request<kaigo_proto::kaigo::eligibility::v1::CheckAllowancesRequest>,
    ) -> Result<tonic::Response<kaigo_proto::kaigo::eligibility::v1::CheckAllowancesResponse>, tonic::Status> {
        Ok(tonic::Response::new(self.check_allowances(request).await?))
    }
}

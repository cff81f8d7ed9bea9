//! The tonic implementation of `kaigo.careplan.v1.CarePlanService`: decode, validate, call the
//! codec and domain, map back. ValidateFiles lives here; the exchange is in `send` (SendBundle),
//! `inbox` (the reads, downloads and acknowledgements), `summary` (GetCarePlanSummary), `watch`
//! (WatchInbox) and `licences`.

mod convert;
mod inbox;
pub(crate) mod licences;
mod send;
mod summary;
mod watch;

pub(crate) use send::send_with;
pub use send::{BUNDLE_SENT, SERVICE_EVIDENCE};

use std::sync::Arc;

use kaigo_platform::audit::Auditor;
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::db::ReadConn;
use kaigo_platform::errors::{ApiError, Violations};
use kaigo_platform::ids::CareOfficeNumber;
use kaigo_platform::service::ServiceContext;
use kaigo_platform::time::Clock;
use kaigo_proto::kaigo::careplan::v1 as pb;
use kaigo_proto::kaigo::careplan::v1::care_plan_service_server::CarePlanService;
use tonic::{Request, Response, Status};

use crate::csv::scan_file;
use crate::domain::bundle::{FileSets, check_sets, check_unit};
use crate::domain::issue::{Issue, Severity};
use crate::domain::kind::{FormKind, UnitKind};
use crate::domain::licence::LicenceRules;
use crate::domain::spec::Spec;

/// Most files in one ValidateFiles call.
const MAX_FILES: usize = 64;

/// Longest file name taken (characters): every standard name is far shorter, so a longer one
/// is refused before any parsing.
const MAX_FILE_NAME: usize = 128;

/// A file name of a request: required and at most [`MAX_FILE_NAME`] characters.
fn check_file_name(v: &mut Violations, index: usize, name: &str) {
    if name.is_empty() {
        v.add(format!("files[{index}].file_name"), "required");
    } else if name.chars().count() > MAX_FILE_NAME {
        v.add(format!("files[{index}].file_name"), format!("at most {MAX_FILE_NAME} characters"));
    }
}

/// The office the caller acts for, when it is a care office or a provider.
pub(crate) fn caller_office(caller: &Caller) -> Result<&CareOfficeNumber, ApiError> {
    match (&caller.role, &caller.office) {
        (Role::CareOffice | Role::ServiceProvider, Some(office)) => Ok(office),
        _ => Err(ApiError::permission_denied(
            "OFFICE_CALLER_REQUIRED",
            "only care offices and service providers exchange care-plan bundles",
        )),
    }
}

/// An office number from a request: under `lettered_office_check_digit = "warn"` a number with
/// a letter at position 3 is taken even when its check digit fails (docs/domain/careplan-csv.md#settings).
pub(crate) fn parse_office(
    text: &str,
    check: crate::domain::spec::LetteredOfficeCheck,
) -> Result<CareOfficeNumber, kaigo_platform::ids::IdError> {
    match check {
        crate::domain::spec::LetteredOfficeCheck::Strict => CareOfficeNumber::parse(text),
        crate::domain::spec::LetteredOfficeCheck::Warn => {
            CareOfficeNumber::parse_letter_unverified(text).map(|(n, _)| n)
        }
    }
}

/// The gRPC API.
#[derive(Clone)]
pub struct Api {
    pub(crate) ctx: ServiceContext,
    pub(crate) spec: Arc<Spec>,
    pub(crate) rules: Arc<LicenceRules>,
    /// The read audit trail.
    pub(crate) auditor: Auditor,
    /// "Now" for every record and licence rule.
    pub(crate) clock: Arc<dyn Clock>,
    /// The access decision on the copy of the registry's facts (docs/domain/access.md#facts-copy).
    pub(crate) gate: kaigo_platform::access::Gate,
}

pub(crate) fn file_kind(kind: FormKind) -> pb::FileKind {
    match kind {
        FormKind::Supplement => pb::FileKind::Supplement,
        FormKind::Plan1 => pb::FileKind::PlanTable1,
        FormKind::Plan1Delete => pb::FileKind::PlanTable1Delete,
        FormKind::Plan2 => pb::FileKind::PlanTable2,
        FormKind::Plan3 => pb::FileKind::PlanTable3,
        FormKind::UsagePlan => pb::FileKind::UsageTicket,
        FormKind::UsagePlanDelete => pb::FileKind::UsageTicketDelete,
        FormKind::Actuals => pb::FileKind::Actuals,
        FormKind::ActualsDelete => pb::FileKind::ActualsDelete,
        FormKind::UsageAnnex => pb::FileKind::UsageTicketAnnex,
        FormKind::PreventionBasic => pb::FileKind::PreventionBasic,
        FormKind::PreventionBasicDelete => pb::FileKind::PreventionBasicDelete,
        FormKind::PreventionSchedule => pb::FileKind::PreventionSchedule,
        FormKind::PreventionHistory => pb::FileKind::PreventionHistory,
        FormKind::PreventionPlan => pb::FileKind::PreventionPlan,
        FormKind::PreventionPlanDetail => pb::FileKind::PreventionPlanDetail,
        FormKind::PreventionPlanDelete => pb::FileKind::PreventionPlanDelete,
    }
}

pub(crate) fn unit_kind(kind: pb::SendUnitKind) -> Option<UnitKind> {
    match kind {
        pb::SendUnitKind::Unspecified => None,
        pb::SendUnitKind::Plan => Some(UnitKind::Plan),
        pb::SendUnitKind::UsageTicket => Some(UnitKind::UsageTicket),
        pb::SendUnitKind::PlanDelete => Some(UnitKind::PlanDelete),
        pb::SendUnitKind::UsageTicketDelete => Some(UnitKind::UsageTicketDelete),
        pb::SendUnitKind::Actuals => Some(UnitKind::Actuals),
        pb::SendUnitKind::ActualsDelete => Some(UnitKind::ActualsDelete),
        pb::SendUnitKind::PreventionBasic => Some(UnitKind::PreventionBasic),
        pb::SendUnitKind::PreventionPlanWithBasic => Some(UnitKind::PreventionPlanWithBasic),
        pb::SendUnitKind::PreventionPlan => Some(UnitKind::PreventionPlan),
        pb::SendUnitKind::PreventionBasicDelete => Some(UnitKind::PreventionBasicDelete),
        pb::SendUnitKind::PreventionPlanDelete => Some(UnitKind::PreventionPlanDelete),
    }
}

pub(crate) fn issue_pb(issue: Issue) -> pb::ValidationIssue {
    let clamp = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    pb::ValidationIssue {
        file_name: issue.file_name,
        line: clamp(issue.line),
        column: clamp(issue.column),
        byte_offset: clamp(issue.byte_offset),
        code: issue.code.to_owned(),
        message: issue.message,
        severity: match issue.severity {
            Severity::Error => pb::IssueSeverity::Error,
            Severity::Warning => pb::IssueSeverity::Warning,
        } as i32,
    }
}

/// Parses every file and, when a unit kind is given, the unit rules; issues in file, line,
/// column order. Pure apart from the spec data.
pub fn validate_files(
    spec: &Spec,
    files: &[pb::BundleFileContent],
    kind: Option<UnitKind>,
) -> pb::ValidateFilesResponse {
    let mut summaries = Vec::with_capacity(files.len());
    let mut issues = Vec::new();
    let mut names = Vec::with_capacity(files.len());
    let mut sets = Vec::with_capacity(files.len());
    for file in files {
        let mut summary = scan_file(&file.file_name, &file.content, spec);
        if let Some(kind) = summary.kind {
            sets.push((kind, file.file_name.as_str(), std::mem::take(&mut summary.sets)));
        }
        summaries.push(pb::FileValidation {
            file_name: file.file_name.clone(),
            kind: summary.kind.map_or(pb::FileKind::Unspecified, file_kind) as i32,
            csv_version: summary.csv_version.clone().unwrap_or_default(),
            record_count: i32::try_from(summary.record_count).unwrap_or(i32::MAX),
            valid: summary.valid(),
        });
        issues.extend(summary.issues.iter().cloned());
        // Only the parsed name is kept for the unit check; rows were never kept.
        names.extend(summary.name);
    }
    if let Some(kind) = kind {
        let refs: Vec<_> = names.iter().collect();
        issues.extend(check_unit(kind, &refs, spec));
        // The records agree across the unit's files, once each file parsed.
        if !issues.iter().any(Issue::is_error) {
            let views: Vec<_> =
                sets.iter().map(|(kind, file_name, sets)| FileSets { kind: *kind, file_name, sets }).collect();
            issues.extend(check_sets(&views));
        }
    }
    let valid = !issues.iter().any(Issue::is_error);
    pb::ValidateFilesResponse { valid, files: summaries, issues: issues.into_iter().map(issue_pb).collect() }
}

/// Runs a handler with the verified caller and maps its error to a status.
macro_rules! handle {
    ($self:ident, $request:ident, $handler:path) => {{
        let caller = Caller::from_request(&$request)?.clone();
        $handler($self, &caller, $request.into_inner()).await.map(Response::new).map_err(Status::from)
    }};
}

/// [`handle!`] for a write: once it succeeded, the caller's reads go to the primary until a
/// replica has replayed it (a replayed answer fences too: a few primary reads, never a stale
/// one).
macro_rules! handle_write {
    ($self:ident, $request:ident, $handler:path) => {{
        let caller = Caller::from_request(&$request)?.clone();
        let response = $handler($self, &caller, $request.into_inner()).await.map_err(Status::from)?;
        $self.wrote(&caller);
        Ok(Response::new(response))
    }};
}

impl Api {
    /// Where `caller`'s reads go: a replica of `database.read_urls` that has replayed the
    /// caller's own writes, else the primary (docs/architecture.md#read-replicas).
    pub(crate) fn reads_for(&self, caller: &Caller) -> ReadConn {
        self.ctx.reads.for_key(caller.party().as_bytes())
    }

    /// `caller` has committed a write: its reads go to the primary until a replica has it.
    pub(crate) fn wrote(&self, caller: &Caller) {
        self.ctx.reads.fence(caller.party().as_bytes());
    }
}

#[tonic::async_trait]
impl CarePlanService for Api {
    async fn send_bundle(
        &self,
        request: Request<pb::SendBundleRequest>,
    ) -> Result<Response<pb::SendBundleResponse>, Status> {
        handle_write!(self, request, send::send_bundle)
    }

    async fn list_inbox(
        &self,
        request: Request<pb::ListInboxRequest>,
    ) -> Result<Response<pb::ListInboxResponse>, Status> {
        handle!(self, request, inbox::list_inbox)
    }

    async fn watch_inbox(
        &self,
        request: Request<pb::WatchInboxRequest>,
    ) -> Result<Response<inbox::BoxStream<pb::WatchInboxResponse>>, Status> {
        handle!(self, request, watch::watch_inbox)
    }

    async fn list_sent(&self, request: Request<pb::ListSentRequest>) -> Result<Response<pb::ListSentResponse>, Status> {
        handle!(self, request, inbox::list_sent)
    }

    async fn list_person_bundles(
        &self,
        request: Request<pb::ListPersonBundlesRequest>,
    ) -> Result<Response<pb::ListPersonBundlesResponse>, Status> {
        handle!(self, request, inbox::list_person_bundles)
    }

    async fn get_care_plan_summary(
        &self,
        request: Request<pb::GetCarePlanSummaryRequest>,
    ) -> Result<Response<pb::GetCarePlanSummaryResponse>, Status> {
        handle!(self, request, summary::get_care_plan_summary)
    }

    async fn get_bundle(
        &self,
        request: Request<pb::GetBundleRequest>,
    ) -> Result<Response<pb::GetBundleResponse>, Status> {
        handle!(self, request, inbox::get_bundle)
    }

    async fn download_bundle(
        &self,
        request: Request<pb::DownloadBundleRequest>,
    ) -> Result<Response<inbox::BoxStream<pb::DownloadBundleResponse>>, Status> {
        handle!(self, request, inbox::download_bundle)
    }

    async fn acknowledge_bundle(
        &self,
        request: Request<pb::AcknowledgeBundleRequest>,
    ) -> Result<Response<pb::AcknowledgeBundleResponse>, Status> {
        handle_write!(self, request, inbox::acknowledge_bundle)
    }

    async fn get_licence(
        &self,
        request: Request<pb::GetLicenceRequest>,
    ) -> Result<Response<pb::GetLicenceResponse>, Status> {
        handle!(self, request, licences::get_licence)
    }

    async fn register_licence(
        &self,
        request: Request<pb::RegisterLicenceRequest>,
    ) -> Result<Response<pb::RegisterLicenceResponse>, Status> {
        handle_write!(self, request, licences::register_licence)
    }

    async fn apply_free_pass(
        &self,
        request: Request<pb::ApplyFreePassRequest>,
    ) -> Result<Response<pb::ApplyFreePassResponse>, Status> {
        handle_write!(self, request, licences::apply_free_pass)
    }

    async fn validate_files(
        &self,
        request: Request<pb::ValidateFilesRequest>,
    ) -> Result<Response<pb::ValidateFilesResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        if !matches!(caller.role, Role::CareOffice | Role::ServiceProvider | Role::Insurer | Role::Operator) {
            return Err(ApiError::permission_denied(
                "ROLE_NOT_ALLOWED",
                "care offices, providers, insurers and operators validate care-plan files",
            )
            .into());
        }
        let request = request.into_inner();
        let mut violations = Violations::new();
        if request.files.is_empty() {
            violations.add("files", "at least one file is required");
        }
        if request.files.len() > MAX_FILES {
            violations.add("files", format!("at most {MAX_FILES} files per call"));
        }
        let kind = match pb::SendUnitKind::try_from(request.kind) {
            Ok(kind) => unit_kind(kind),
            Err(_) => {
                violations.add("kind", "unknown send unit kind");
                None
            }
        };
        for (i, file) in request.files.iter().enumerate() {
            check_file_name(&mut violations, i, &file.file_name);
        }
        violations.into_result()?;
        let spec = Arc::clone(&self.spec);
        // Parsing a large file is CPU work: keep it off the async workers.
        let response = tokio::task::spawn_blocking(move || validate_files(&spec, &request.files, kind))
            .await
            .map_err(ApiError::internal)?;
        Ok(Response::new(response))
    }
}

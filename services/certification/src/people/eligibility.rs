//! The production [`PersonDirectory`]: `CheckEligibility` on the eligibility service.
//!
//! The call is signed with the internal caller key (the one the gateway uses) as a caller of
//! role `insurer` for the application's insurer, subject [`SUBJECT`], purpose CERTIFICATION,
//! on the application date; eligibility audits it like any other read. Generic over the
//! transport: `kaigo serve` passes a [`Channel`] balanced over eligibility's pods
//! ([`balanced_channel`]), `kaigo dev` its in-process routes.
//!
//! Nothing personal is logged: a failed call logs the gRPC code and eligibility's message
//! (which by the platform's rules never holds personal data), never the numbers asked about.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::NaiveDate;
use futures::future::BoxFuture;
use kaigo_platform::auth::{CALLER_HEADER, Caller, CallerKeys, Role, SIGNATURE_HEADER, unix_now};
use kaigo_platform::errors::ApiError;
use kaigo_platform::ids::{InsuredNumber, InsurerNumber};
use kaigo_platform::service::Stopping;
use kaigo_proto::kaigo::common::v1 as common;
use kaigo_proto::kaigo::eligibility::v1 as elig;
use kaigo_proto::kaigo::eligibility::v1::eligibility_service_client::EligibilityServiceClient;
use tonic::codegen::{Body, Bytes, StdError};
use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint};

use super::{InForce, Person, PersonDirectory, PersonStatus};
use crate::domain::record::PreviousCertification;
use crate::domain::types::CareLevel;

/// The RPC the directory calls (the path its caller signature is bound to).
pub const CHECK_ELIGIBILITY_PATH: &str = "/kaigo.eligibility.v1.EligibilityService/CheckEligibility";

/// The subject of the signed caller: the service, not a person or an account.
pub const SUBJECT: &str = "service:certification";

/// How often [`Discovery`] re-resolves eligibility's name.
const REFRESH: Duration = Duration::from_secs(5);

/// What the directory does beyond asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EligibilityPolicy {
    /// The longest wait for one answer (also sent as `grpc-timeout`); beyond it the submission
    /// is UNAVAILABLE.
    pub timeout: Duration,
    /// Refuse a person who is known but not insured on the application date
    /// (QUALIFICATION_LOST, NOT_YET_QUALIFIED) instead of accepting them.
    pub refuse_unqualified: bool,
}

/// Asks eligibility whether the insurer knows the person.
#[derive(Clone)]
pub struct EligibilityDirectory<T> {
    client: EligibilityServiceClient<T>,
    keys: CallerKeys,
    policy: EligibilityPolicy,
}

impl<T> std::fmt::Debug for EligibilityDirectory<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EligibilityDirectory").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl<T> EligibilityDirectory<T>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<StdError>,
    T::ResponseBody: Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as Body>::Error: Into<StdError> + Send,
{
    /// A directory calling eligibility over `transport`, signing with `keys` (the internal
    /// secret eligibility verifies).
    pub fn new(transport: T, keys: CallerKeys, policy: EligibilityPolicy) -> Self {
        Self { client: EligibilityServiceClient::new(transport), keys, policy }
    }
}

/// Why a lookup failed; logged (never sent), with no personal data.
#[derive(Debug, thiserror::Error)]
enum LookupError {
    #[error("eligibility did not answer CheckEligibility within {0:?}")]
    TimedOut(Duration),
    #[error("eligibility answered CheckEligibility with {code:?}: {message}")]
    Refused { code: tonic::Code, message: String },
    #[error("eligibility answered CheckEligibility without a verdict ({0})")]
    NoVerdict(i32),
    #[error("cannot sign the call to eligibility")]
    Signing,
}

/// The caller eligibility sees: the application's insurer, acting through certification.
fn caller(insurer: &InsurerNumber) -> Caller {
    Caller {
        subject: SUBJECT.to_owned(),
        role: Role::Insurer,
        insurer: Some(insurer.clone()),
        office: None,
        institution: None,
        scopes: Vec::new(),
        consents: Vec::new(),
    }
}

/// A refusal by eligibility (or by the transport) as certification's answer: dependencies
/// that are down, slow or overloaded are UNAVAILABLE (a retry is safe); anything else means
/// the two services disagree (keys, contract) and is INTERNAL, its cause logged.
fn refused(status: tonic::Status) -> ApiError {
    let err = LookupError::Refused { code: status.code(), message: status.message().to_owned() };
    match status.code() {
        tonic::Code::Unavailable
        | tonic::Code::DeadlineExceeded
        | tonic::Code::ResourceExhausted
        | tonic::Code::Cancelled => ApiError::unavailable(err),
        _ => ApiError::internal(err),
    }
}

/// The verdict as certification's answer.
fn status_of(verdict: i32, policy: &EligibilityPolicy) -> Result<PersonStatus, ApiError> {
    use elig::EligibilityVerdict as V;
    match V::try_from(verdict) {
        Ok(V::NotInsured) => Ok(PersonStatus::Unknown),
        Ok(V::QualificationLost | V::NotYetQualified) if policy.refuse_unqualified => Ok(PersonStatus::NotQualified),
        Ok(
            V::Eligible
            | V::QualificationLost
            | V::NotYetQualified
            | V::NotCertified
            | V::CertificationExpired
            | V::AssessedNotApplicable
            | V::ProgrammeOnly,
        ) => Ok(PersonStatus::Known),
        Ok(V::Unspecified) | Err(_) => Err(ApiError::internal(LookupError::NoVerdict(verdict))),
    }
}

/// The 要支援 or 要介護 certification in force in eligibility's answer, which a renewal or a level
/// change works from: only with the verdict ELIGIBLE (非該当, 事業対象者, an expired certification
/// and none at all are not in force), a level certification decides, and an end date.
fn in_force(result: &elig::EligibilityResult) -> Option<PreviousCertification> {
    if result.verdict != elig::EligibilityVerdict::Eligible as i32 {
        return None;
    }
    let certification = result.certification.as_ref()?;
    let level = CareLevel::from_wire(certification.care_level)?;
    let end = certification.validity.as_ref()?.end.as_ref()?;
    let validity_end = kaigo_proto::to_naive_date(end).ok()?;
    Some(PreviousCertification { level, validity_end })
}

impl<T> PersonDirectory for EligibilityDirectory<T>
where
    T: tonic::client::GrpcService<tonic::body::Body> + Clone + Send + Sync + 'static,
    T::Future: Send,
    T::Error: Into<StdError>,
    T::ResponseBody: Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as Body>::Error: Into<StdError> + Send,
{
    fn lookup<'a>(
        &'a self,
        insurer: &'a InsurerNumber,
        insured: &'a InsuredNumber,
        as_of: NaiveDate,
    ) -> BoxFuture<'a, Result<Person, ApiError>> {
        Box::pin(async move {
            let mut request = tonic::Request::new(elig::CheckEligibilityRequest {
                insurer_number: insurer.as_str().to_owned(),
                insured_number: insured.as_str().to_owned(),
                as_of: Some(kaigo_proto::from_naive_date(as_of)),
                purpose: common::Purpose::Certification as i32,
                consent_reference: String::new(),
            });
            request.set_timeout(self.policy.timeout);
            let (payload, signature) = self.keys.sign(&caller(insurer), CHECK_ELIGIBILITY_PATH, unix_now());
            let (Ok(payload), Ok(signature)) = (payload.parse(), signature.parse()) else {
                return Err(ApiError::internal(LookupError::Signing));
            };
            request.metadata_mut().insert(CALLER_HEADER, payload);
            request.metadata_mut().insert(SIGNATURE_HEADER, signature);
            // The applicant check joins the trace of the call that asked for it.
            kaigo_platform::telemetry::inject_metadata(request.metadata_mut());
            let mut client = self.client.clone();
            let answer = match tokio::time::timeout(self.policy.timeout, client.check_eligibility(request)).await {
                Err(_) => return Err(ApiError::unavailable(LookupError::TimedOut(self.policy.timeout))),
                Ok(Err(status)) => return Err(refused(status)),
                Ok(Ok(answer)) => answer.into_inner(),
            };
            let verdict = answer.result.as_ref().map_or(elig::EligibilityVerdict::Unspecified as i32, |r| r.verdict);
            let status = status_of(verdict, &self.policy)?;
            Ok(Person { status, in_force: InForce::Eligibility(answer.result.as_ref().and_then(in_force)) })
        })
    }
}

/// A channel to `url` (`http://host:port`) balanced per request over every address `host`
/// resolves to (a headless Service: one per ready pod), connecting lazily, and the
/// [`Discovery`] that keeps the address list current (run it as a background task). Until the
/// name first resolves, calls wait for an address (the directory's timeout bounds the wait).
pub fn balanced_channel(url: &str, connect_timeout: Duration) -> Result<(Channel, Discovery), String> {
    let (host, port) = parse_url(url).map_err(|e| format!("{url} {e}"))?;
    let (channel, changes) = Channel::balance_channel::<SocketAddr>(64);
    Ok((channel, Discovery { host, port, connect_timeout, changes }))
}

/// The host and port of `certification.eligibility_url`: `http://host[:port]` (h2c inside the
/// cluster, like the gateway's upstreams), nothing after the port.
pub fn parse_url(url: &str) -> Result<(String, u16), String> {
    let uri: tonic::transport::Uri = url.parse().map_err(|_| "is not a URL".to_owned())?;
    if uri.scheme_str() != Some("http") {
        return Err("must be an http:// URL (h2c inside the cluster)".to_owned());
    }
    let host = uri.host().filter(|h| !h.is_empty()).ok_or_else(|| "has no host".to_owned())?;
    if uri.path_and_query().is_some_and(|p| p.as_str() != "/" && !p.as_str().is_empty()) {
        return Err("must be http://host:port, without a path".to_owned());
    }
    // A bracketed IPv6 literal resolves without its brackets.
    let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    Ok((host, uri.port_u16().unwrap_or(80)))
}

/// Re-resolves eligibility's name and tells the balanced channel which addresses came and went.
pub struct Discovery {
    host: String,
    port: u16,
    connect_timeout: Duration,
    changes: tokio::sync::mpsc::Sender<Change<SocketAddr, Endpoint>>,
}

impl Discovery {
    /// Resolves now and every few seconds until `stopping`.
    pub async fn run(self, stopping: Stopping) {
        let stop = stopping.wait();
        tokio::pin!(stop);
        let mut known = HashSet::new();
        loop {
            if !self.refresh(&mut known).await {
                return;
            }
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(REFRESH) => {}
            }
        }
    }

    /// One resolution; false when the channel is gone.
    async fn refresh(&self, known: &mut HashSet<SocketAddr>) -> bool {
        let found: HashSet<SocketAddr> = match tokio::net::lookup_host((self.host.as_str(), self.port)).await {
            Ok(addrs) => addrs.collect(),
            Err(err) => {
                // A headless Service without ready pods has no addresses: keep what we have.
                tracing::warn!(host = %self.host, error = %err, "certification: eligibility does not resolve");
                return true;
            }
        };
        for gone in known.difference(&found) {
            if self.changes.send(Change::Remove(*gone)).await.is_err() {
                return false;
            }
        }
        for new in found.difference(known) {
            let endpoint = match Endpoint::from_shared(format!("http://{new}")) {
                Ok(endpoint) => endpoint.connect_timeout(self.connect_timeout).tcp_nodelay(true),
                Err(_) => continue,
            };
            if self.changes.send(Change::Insert(*new, endpoint)).await.is_err() {
                return false;
            }
        }
        *known = found;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCEPT: EligibilityPolicy = EligibilityPolicy { timeout: Duration::from_secs(2), refuse_unqualified: false };
    const REFUSE: EligibilityPolicy = EligibilityPolicy { timeout: Duration::from_secs(2), refuse_unqualified: true };

    #[test]
    fn verdicts_map_to_the_person_status() {
        use elig::EligibilityVerdict as V;
        assert_eq!(status_of(V::NotInsured as i32, &ACCEPT).unwrap(), PersonStatus::Unknown);
        assert_eq!(status_of(V::NotInsured as i32, &REFUSE).unwrap(), PersonStatus::Unknown);
        for known in [V::Eligible, V::NotCertified, V::CertificationExpired, V::AssessedNotApplicable, V::ProgrammeOnly]
        {
            assert_eq!(status_of(known as i32, &ACCEPT).unwrap(), PersonStatus::Known, "{known:?}");
            assert_eq!(status_of(known as i32, &REFUSE).unwrap(), PersonStatus::Known, "{known:?}");
        }
        for unqualified in [V::QualificationLost, V::NotYetQualified] {
            assert_eq!(status_of(unqualified as i32, &ACCEPT).unwrap(), PersonStatus::Known);
            assert_eq!(status_of(unqualified as i32, &REFUSE).unwrap(), PersonStatus::NotQualified);
        }
        for bad in [V::Unspecified as i32, 99] {
            assert_eq!(status_of(bad, &ACCEPT).unwrap_err().code(), tonic::Code::Internal);
        }
    }

    #[test]
    fn only_a_level_certification_in_force_is_one_to_renew() {
        use kaigo_proto::google::r#type::Date;
        let certified =
            |verdict: elig::EligibilityVerdict, level: common::CareLevel, end: Option<Date>| elig::EligibilityResult {
                verdict: verdict as i32,
                certification: Some(elig::CertificationPeriod {
                    care_level: level as i32,
                    validity: Some(common::Period { start: Some(Date { year: 2025, month: 7, day: 1 }), end }),
                    ..Default::default()
                }),
                ..Default::default()
            };
        let end = Some(Date { year: 2026, month: 6, day: 30 });
        let care3 = certified(elig::EligibilityVerdict::Eligible, common::CareLevel::Care3, end);
        assert_eq!(
            in_force(&care3),
            Some(PreviousCertification {
                level: crate::domain::types::CareLevel::Care3,
                validity_end: NaiveDate::from_ymd_opt(2026, 6, 30).unwrap()
            })
        );
        let not_applicable =
            certified(elig::EligibilityVerdict::AssessedNotApplicable, common::CareLevel::NotApplicable, None);
        assert_eq!(in_force(&not_applicable), None);
        let programme = certified(elig::EligibilityVerdict::ProgrammeOnly, common::CareLevel::ProgrammeEligible, None);
        assert_eq!(in_force(&programme), None);
        let expired = certified(elig::EligibilityVerdict::CertificationExpired, common::CareLevel::Care3, end);
        assert_eq!(in_force(&expired), None);
        assert_eq!(in_force(&certified(elig::EligibilityVerdict::Eligible, common::CareLevel::Care3, None)), None);
        assert_eq!(in_force(&elig::EligibilityResult::default()), None);
    }

    #[test]
    fn dependency_trouble_is_unavailable_and_disagreement_internal() {
        for code in [tonic::Code::Unavailable, tonic::Code::DeadlineExceeded, tonic::Code::ResourceExhausted] {
            assert_eq!(refused(tonic::Status::new(code, "x")).code(), tonic::Code::Unavailable, "{code:?}");
        }
        for code in [tonic::Code::PermissionDenied, tonic::Code::Unauthenticated, tonic::Code::InvalidArgument] {
            assert_eq!(refused(tonic::Status::new(code, "x")).code(), tonic::Code::Internal, "{code:?}");
        }
    }

    #[test]
    fn the_url_must_be_plain_http_with_a_host() {
        assert_eq!(
            parse_url("http://kaigo-eligibility-headless:50051"),
            Ok(("kaigo-eligibility-headless".into(), 50051))
        );
        assert_eq!(parse_url("http://[::1]:7000"), Ok(("::1".into(), 7000)));
        assert_eq!(parse_url("http://eligibility"), Ok(("eligibility".into(), 80)));
        for bad in
            ["https://kaigo-eligibility-headless:50051", "kaigo-eligibility-headless", "http://", "http://e:1/x", ""]
        {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}

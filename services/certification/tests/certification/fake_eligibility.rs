//! A fake eligibility service for the applicant check: a real tonic server on 127.0.0.1 behind
//! CallerLayer (verifying the internal key, as eligibility does), answering CheckEligibility
//! with the verdict (and certification) set per 被保険者番号 (NOT_INSURED for everyone else), and recording who
//! asked, for which insurer, why and on which date.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kaigo_platform::auth::{Caller, CallerKeys, CallerLayer};
use kaigo_platform::config::ServerConfig;
use kaigo_platform::server::GrpcServices;
use kaigo_platform::service::{Background, BackgroundControl};
use kaigo_platform::testkit::TestServer;
use kaigo_proto::kaigo::eligibility::v1 as elig;
use kaigo_proto::kaigo::eligibility::v1::eligibility_service_server::{EligibilityService, EligibilityServiceServer};
use parking_lot::Mutex;
use tower::Layer;

/// One CheckEligibility the fake answered (or was answering).
#[derive(Debug, Clone)]
pub struct Asked {
    pub caller: Caller,
    pub request: elig::CheckEligibilityRequest,
}

/// What the fake knows and what it was asked; shared by the fake's runs (down, then back).
#[derive(Clone, Default)]
pub struct FakeState {
    verdicts: Arc<Mutex<HashMap<String, elig::EligibilityVerdict>>>,
    certifications: Arc<Mutex<HashMap<String, elig::CertificationPeriod>>>,
    slow: Arc<Mutex<HashSet<String>>>,
    asked: Arc<Mutex<Vec<Asked>>>,
}

impl FakeState {
    /// The insurer has `insured`, with this verdict.
    pub fn knows(&self, insured: &str, verdict: elig::EligibilityVerdict) -> &Self {
        self.verdicts.lock().insert(insured.to_owned(), verdict);
        self
    }

    /// The insurer has `insured`, certified `level` from `start` to `end` (ELIGIBLE on every
    /// date asked; the fake does not compare dates).
    pub fn certified(
        &self,
        insured: &str,
        level: kaigo_proto::kaigo::common::v1::CareLevel,
        start: chrono::NaiveDate,
        end: chrono::NaiveDate,
    ) -> &Self {
        use kaigo_proto::kaigo::common::v1 as common;
        let period = common::Period {
            start: Some(kaigo_proto::from_naive_date(start)),
            end: Some(kaigo_proto::from_naive_date(end)),
        };
        let certification = elig::CertificationPeriod {
            care_level: level as i32,
            certified_date: Some(kaigo_proto::from_naive_date(start)),
            validity: Some(period),
            ..Default::default()
        };
        self.certifications.lock().insert(insured.to_owned(), certification);
        self.knows(insured, elig::EligibilityVerdict::Eligible)
    }

    /// Questions about `insured` are answered only after a minute.
    pub fn slow(&self, insured: &str) -> &Self {
        self.slow.lock().insert(insured.to_owned());
        self
    }

    /// Every question so far, in order.
    pub fn asked(&self) -> Vec<Asked> {
        self.asked.lock().clone()
    }
}

struct Fake(FakeState);

#[tonic::async_trait]
impl EligibilityService for Fake {
    async fn check_eligibility(
        &self,
        request: tonic::Request<elig::CheckEligibilityRequest>,
    ) -> Result<tonic::Response<elig::CheckEligibilityResponse>, tonic::Status> {
        let caller = Caller::from_request(&request)?.clone();
        let r = request.into_inner();
        self.0.asked.lock().push(Asked { caller, request: r.clone() });
        if self.0.slow.lock().contains(&r.insured_number) {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        let verdict =
            self.0.verdicts.lock().get(&r.insured_number).copied().unwrap_or(elig::EligibilityVerdict::NotInsured);
        let certification = self.0.certifications.lock().get(&r.insured_number).cloned();
        let result = elig::EligibilityResult {
            verdict: verdict as i32,
            insurer_number: r.insurer_number,
            insured_number: r.insured_number,
            certification,
            as_of: r.as_of,
            ..Default::default()
        };
        Ok(tonic::Response::new(elig::CheckEligibilityResponse { result: Some(result) }))
    }
}

/// A running fake; stops when dropped.
pub struct FakeEligibility {
    pub addr: SocketAddr,
    _server: TestServer,
}

impl FakeEligibility {
    /// An address where nothing listens: eligibility down (start it there later).
    pub fn down() -> SocketAddr {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
    }

    /// A fake on a fresh port verifying callers with `keys`.
    pub async fn start(keys: &CallerKeys, state: &FakeState) -> Self {
        Self::start_at(keys, state, "127.0.0.1:0".parse().unwrap()).await
    }

    /// A fake on `addr`.
    pub async fn start_at(keys: &CallerKeys, state: &FakeState, addr: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let config = ServerConfig::default();
        let services =
            GrpcServices::new(&config).unwrap().with_service(EligibilityServiceServer::new(Fake(state.clone())));
        let health = services.health();
        let routes = CallerLayer::new(keys.clone()).layer(services.into_routes());
        let server = TestServer::start_on(listener, routes, health, &config).await;
        Self { addr: server.addr, _server: server }
    }
}

/// The production directory (balanced channel and its discovery) pointed at `addr`; the
/// discovery runs until the returned control is stopped.
pub fn directory_at(
    keys: &CallerKeys,
    addr: SocketAddr,
    policy: kaigo_certification::people::EligibilityPolicy,
) -> (Arc<dyn kaigo_certification::people::PersonDirectory>, BackgroundControl) {
    use kaigo_certification::people::{EligibilityDirectory, balanced_channel};
    let (channel, discovery) = balanced_channel(&format!("http://{addr}"), policy.timeout).unwrap();
    let (control, background) = Background::new();
    background.spawn("eligibility-discovery", move |stopping| discovery.run(stopping));
    (Arc::new(EligibilityDirectory::new(channel, keys.clone(), policy)), control)
}

//! A running subsidies service and clients that sign as any caller.

use std::sync::Arc;
use std::task::{Context, Poll};

use chrono::{DateTime, TimeZone, Utc};
use kaigo_platform::auth::{Caller, CallerKeys, CallerLayer, Role, unix_now};
use kaigo_platform::config::ServerConfig;
use kaigo_platform::events::{Bus, LocalBus};
use kaigo_platform::ids::{CareOfficeNumber, MedicalInstitutionCode, check_digit};
use kaigo_platform::server::{self, GrpcServices};
use kaigo_platform::service::{Background, ServiceContext};
use kaigo_platform::testkit::TestDatabase;
use kaigo_proto::kaigo::subsidies::v1 as pb;
use kaigo_proto::kaigo::subsidies::v1::subsidy_service_client::SubsidyServiceClient;
use kaigo_subsidies::{Config, SetClock};
use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;
use tonic::transport::Channel;
use tonic_types::StatusExt;
use tower::Layer;

/// A channel that signs every call as `caller`, as the gateway would.
#[derive(Clone)]
pub struct Signed {
    inner: Channel,
    keys: CallerKeys,
    caller: Caller,
}

impl tower::Service<http::Request<tonic::body::Body>> for Signed {
    type Response = <Channel as tower::Service<http::Request<tonic::body::Body>>>::Response;
    type Error = <Channel as tower::Service<http::Request<tonic::body::Body>>>::Error;
    type Future = <Channel as tower::Service<http::Request<tonic::body::Body>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower::Service::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, mut request: http::Request<tonic::body::Body>) -> Self::Future {
        let path = request.uri().path().to_owned();
        self.keys.insert_headers(request.headers_mut(), &self.caller, &path, unix_now());
        self.inner.call(request)
    }
}

pub type Client = SubsidyServiceClient<Signed>;

pub struct Service {
    pub db: DatabaseConnection,
    pub clock: SetClock,
    channel: Channel,
    keys: CallerKeys,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _database: TestDatabase,
}

/// 2026-02-02 10:00 JST: inside FY2025's window.
pub fn in_window() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 2, 2, 1, 0, 0).unwrap()
}

pub fn with_check_digit(payload: &str) -> String {
    format!("{payload}{}", check_digit(payload.as_bytes()).unwrap())
}

/// A care office number in prefecture `pref` (two digits), serial `n`.
pub fn office(pref: &str, n: u32) -> String {
    with_check_digit(&format!("{pref}7{n:06}"))
}

/// A medical institution code in prefecture `pref`, serial `n`.
pub fn institution(pref: &str, n: u32) -> String {
    with_check_digit(&format!("{pref}1{n:06}"))
}

impl Service {
    pub async fn start() -> Self {
        let database = TestDatabase::create().await;
        let db = kaigo_platform::db::connect(&database.config(), kaigo_subsidies::NAME).await.unwrap();
        kaigo_subsidies::Migrator::up(&db, None).await.unwrap();
        let (_control, background) = Background::new();
        let server_config = ServerConfig { reflection: false, ..ServerConfig::default() };
        let ctx = ServiceContext {
            name: kaigo_subsidies::NAME,
            server: server_config.clone(),
            db: db.clone(),
            redis: None,
            bus: Bus::Local(LocalBus::new()),
            background,
        };
        let clock = SetClock::new(in_window());
        let svc = kaigo_subsidies::start_with_clock(&ctx, &Config::default(), Arc::new(clock.clone())).await.unwrap();
        let services = GrpcServices::new(&server_config).unwrap().with_service(svc);
        let health = services.health();
        let keys = CallerKeys::generate();
        let routes = CallerLayer::new(keys.clone()).layer(services.into_routes());
        let listener = server::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            server::serve(listener, routes, health, &server_config, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
        Self { db, clock, channel, keys, stop: Some(stop), _database: database }
    }

    pub fn client(&self, caller: Caller) -> Client {
        SubsidyServiceClient::new(Signed { inner: self.channel.clone(), keys: self.keys.clone(), caller })
    }

    pub fn office_client(&self, number: &str) -> Client {
        self.client(Caller {
            subject: format!("office-user-{number}"),
            role: Role::CareOffice,
            insurer: None,
            office: Some(CareOfficeNumber::parse(number).unwrap()),
            institution: None,
            scopes: vec![],
            consents: vec![],
        })
    }

    pub fn institution_client(&self, code: &str) -> Client {
        self.client(Caller {
            subject: format!("doctor-office-{code}"),
            role: Role::MedicalInstitution,
            insurer: None,
            office: None,
            institution: Some(MedicalInstitutionCode::parse(code).unwrap()),
            scopes: vec![],
            consents: vec![],
        })
    }

    pub fn operator(&self) -> Client {
        self.client(Caller {
            subject: "operator-1".to_owned(),
            role: Role::Operator,
            insurer: None,
            office: None,
            institution: None,
            scopes: vec![],
            consents: vec![],
        })
    }

    pub fn insurer(&self) -> Client {
        self.client(Caller {
            subject: "insurer-1".to_owned(),
            role: Role::Insurer,
            insurer: Some("435073".parse().unwrap()),
            office: None,
            institution: None,
            scopes: vec![],
            consents: vec![],
        })
    }

    /// Rows in `applications`.
    pub async fn application_count(&self) -> u64 {
        use sea_orm::{EntityTrait, PaginatorTrait};
        kaigo_subsidies::store::application::Entity::find().count(&self.db).await.unwrap()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Care-office costs.
pub fn care_costs(
    office: &str,
    categories: &[&str],
    readers: &[(i32, i64)],
    connection: i64,
    setup: i64,
) -> pb::CareOfficeCosts {
    pb::CareOfficeCosts {
        office_number: office.to_owned(),
        category_ids: categories.iter().map(|c| (*c).to_owned()).collect(),
        readers: readers
            .iter()
            .map(|&(quantity, unit_price_yen)| pb::ReaderPurchase { quantity, unit_price_yen })
            .collect(),
        connection_support_cost_yen: connection,
        careplan_setup_cost_yen: setup,
    }
}

/// Medical costs.
pub fn medical_costs(code: &str, kind: pb::InstitutionType, beds: i32, cost: i64) -> pb::MedicalInstitutionCosts {
    pb::MedicalInstitutionCosts {
        institution_code: code.to_owned(),
        institution_type: kind as i32,
        beds,
        software_change_cost_yen: cost,
    }
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A create request for care-office costs under fy2025.
pub fn create_care(costs: pb::CareOfficeCosts) -> pb::CreateApplicationRequest {
    pb::CreateApplicationRequest {
        request_id: new_id(),
        application: Some(pb::Application {
            programme_id: "fy2025".to_owned(),
            costs: Some(pb::application::Costs::CareOffice(costs)),
            ..Default::default()
        }),
    }
}

/// A create request for medical costs under fy2025.
pub fn create_medical(costs: pb::MedicalInstitutionCosts) -> pb::CreateApplicationRequest {
    pb::CreateApplicationRequest {
        request_id: new_id(),
        application: Some(pb::Application {
            programme_id: "fy2025".to_owned(),
            costs: Some(pb::application::Costs::MedicalInstitution(costs)),
            ..Default::default()
        }),
    }
}

/// The ErrorInfo reason of a status.
pub fn reason(status: &tonic::Status) -> String {
    status.get_error_details().error_info().map(|i| i.reason.clone()).unwrap_or_default()
}

/// The BadRequest fields of a status.
pub fn fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

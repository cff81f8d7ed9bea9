//! `kaigo echo-server`: the benchmark baseline. A bare tonic server answering
//! CheckEligibility by echoing the two numbers, with no lookup, no caller check, no cache:
//! the ceiling of the stack on the machine, measured in the same run as kaigo's paths
//! (loadtest/README.md).

use clap::Args;
use kaigo_proto::kaigo::eligibility::v1 as pb;
use kaigo_proto::kaigo::eligibility::v1::eligibility_service_server::{EligibilityService, EligibilityServiceServer};

use crate::cli::Exit;

#[derive(Args)]
pub struct EchoArgs {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:50090")]
    listen: String,
}

struct Echo;

#[tonic::async_trait]
impl EligibilityService for Echo {
    async fn check_eligibility(
        &self,
        request: tonic::Request<pb::CheckEligibilityRequest>,
    ) -> Result<tonic::Response<pb::CheckEligibilityResponse>, tonic::Status> {
        let r = request.into_inner();
        let result = pb::EligibilityResult {
            insurer_number: r.insurer_number,
            insured_number: r.insured_number,
            ..Default::default()
        };
        Ok(tonic::Response::new(pb::CheckEligibilityResponse { result: Some(result) }))
    }
}

pub async fn run(args: EchoArgs) -> Result<(), Exit> {
    let addr = args.listen.parse().map_err(|_| Exit::config(format!("--listen {} is not an address", args.listen)))?;
    if !matches!(addr, std::net::SocketAddr::V4(a) if a.ip().is_loopback()) {
        return Err(Exit::config("the echo server listens on loopback only"));
    }
    tonic::transport::Server::builder()
        .add_service(EligibilityServiceServer::new(Echo))
        .serve_with_shutdown(addr, kaigo_platform::server::shutdown_signal())
        .await
        .map_err(|e| Exit::failure(format!("echo server: {e}")))
}

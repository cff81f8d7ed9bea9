//! `kaigo health`: a gRPC health probe for scripts, Docker HEALTHCHECK and `helm test`.

use std::time::Duration;

use clap::Args;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::cli::Exit;

#[derive(Args)]
pub struct HealthArgs {
    /// The endpoint: host:port (plaintext, as in --listen and grpcurl) or a URL,
    /// e.g. 127.0.0.1:50051 or http://127.0.0.1:50051.
    #[arg(long, default_value = "127.0.0.1:50051")]
    endpoint: String,
    /// The service name to ask about; the server as a whole when absent.
    #[arg(long, default_value = "")]
    service: String,
    /// Seconds to wait for an answer.
    #[arg(long, default_value_t = 5)]
    timeout: u64,
}

pub async fn run(args: HealthArgs) -> Result<(), Exit> {
    let endpoint = tonic::transport::Endpoint::from_shared(crate::cli::endpoint_url(&args.endpoint))
        .map_err(|_| Exit::config(format!("--endpoint {}: expected host:port or http://host:port", args.endpoint)))?
        .connect_timeout(Duration::from_secs(args.timeout))
        .timeout(Duration::from_secs(args.timeout));
    let channel =
        endpoint.connect().await.map_err(|e| Exit::failure(format!("cannot connect to {}: {e}", args.endpoint)))?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest { service: args.service.clone() })
        .await
        .map_err(|status| Exit::failure(format!("health check failed: {}", status.message())))?;
    let status = response.get_ref().status();
    let name = if args.service.is_empty() { "server" } else { args.service.as_str() };
    println!("{name}: {status:?}");
    if status == tonic_health::pb::health_check_response::ServingStatus::Serving {
        Ok(())
    } else {
        Err(Exit::failure(format!("{name} is not serving")))
    }
}

//! Starting the built `kaigo` binary and talking to it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// A free loopback port (bound, then released for the child to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The `kaigo` binary with a clean environment (only PATH), so the developer's own KAIGO_*
/// settings cannot leak into a test.
pub fn kaigo() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kaigo"));
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd.stdin(Stdio::null());
    cmd
}

/// Kills the child when dropped, so a failing test leaves no server behind.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The health status of `service` at `addr`, if it answers.
pub async fn health(addr: &str, service: &str) -> Option<i32> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .ok()?
        .connect_timeout(Duration::from_millis(500))
        .connect()
        .await
        .ok()?;
    let response = HealthClient::new(channel).check(HealthCheckRequest { service: service.to_owned() }).await.ok()?;
    Some(response.get_ref().status)
}

/// SERVING in grpc.health.v1.
pub const SERVING: i32 = 1;
/// NOT_SERVING in grpc.health.v1.
pub const NOT_SERVING: i32 = 2;

/// Sends SIGTERM to a child.
pub fn terminate(child: &Child) {
    let status = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(status.success());
}

//! What every subcommand shares: how an error ends the process, how an endpoint is written,
//! where `kaigo dev` keeps its files. Subcommands import from here, never from `main`.

use std::path::PathBuf;

/// An error that ends the process with an exit code.
pub struct Exit {
    code: u8,
    message: String,
}

impl Exit {
    /// Bad configuration or arguments: exit 64.
    pub fn config(message: impl std::fmt::Display) -> Self {
        Self { code: 64, message: message.to_string() }
    }

    /// Anything else: exit 1.
    pub fn failure(message: impl std::fmt::Display) -> Self {
        Self { code: 1, message: message.to_string() }
    }

    /// A documented exit code of one subcommand (e.g. `kaigo import`'s rows-rejected code).
    pub fn with_code(code: u8, message: impl std::fmt::Display) -> Self {
        Self { code, message: message.to_string() }
    }

    /// Says why on standard error and gives the process's exit code.
    pub fn report(self) -> std::process::ExitCode {
        eprintln!("kaigo: {}", self.message);
        std::process::ExitCode::from(self.code)
    }
}

/// An endpoint as a URL: `host:port` (the form of `--listen`, `server.listen` and grpcurl)
/// means plaintext `http://host:port`; a URL is kept as it is.
pub fn endpoint_url(endpoint: &str) -> String {
    if endpoint.contains("://") { endpoint.to_owned() } else { format!("http://{endpoint}") }
}

/// The default data directory of `kaigo dev` and `kaigo token`.
pub fn default_data_dir() -> PathBuf {
    PathBuf::from(".kaigo")
}

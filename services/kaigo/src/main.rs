//! The one kaigo binary: `kaigo dev`, `kaigo serve <component>`, `kaigo migrate`,
//! `kaigo token`, `kaigo card` and `kaigo health`.

mod bench;
mod card;
mod cli;
mod components;
mod config;
mod demo_identities;
mod dev;
mod echo;
mod generate;
mod health;
mod import;
mod migrate;
mod serve;
mod token;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// kaigo: the Long-Term Care Information Platform (介護情報基盤).
#[derive(Parser)]
#[command(name = "kaigo", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the gateway and every service in one process on loopback, with SQLite, in-process
    /// cache and events, and a dev signing key under the data directory.
    Dev(dev::DevArgs),
    /// Runs one component against PostgreSQL and Redis from configuration
    /// (kaigo.toml, KAIGO_* environment).
    Serve(serve::ServeArgs),
    /// Applies database migrations of one service, or of all.
    Migrate(migrate::MigrateArgs),
    /// Prints a token signed with the dev key of a `kaigo dev` data directory.
    Token(token::TokenArgs),
    /// The virtual card reader of `kaigo dev`: signs a card-confirmation challenge with a demo
    /// person's virtual card (`kaigo card sign --serial d000000001 --challenge BASE64`).
    Card(card::CardArgs),
    /// Asks a kaigo endpoint for its gRPC health; exits 0 when SERVING.
    Health(health::HealthArgs),
    /// Imports an insurer's extract through the gateway (`kaigo import insured FILE.csv`).
    Import(import::ImportArgs),
    /// Writes synthetic data to standard output (`kaigo gen insured --count N`).
    Gen(generate::GenArgs),
    /// Runs a ghz config (loadtest/scenarios/*.json) and prints ghz's summary or JSON report.
    Bench(bench::BenchArgs),
    /// The benchmark baseline: a bare tonic server echoing CheckEligibility.
    #[command(hide = true)]
    EchoServer(echo::EchoArgs),
}

/// mimalloc for every component the binary runs (see Cargo.toml for why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `kaigo serve` reads its configuration before the runtime starts: the number of the
    // runtime's threads is one of its settings (`server.worker_threads`).
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    let serve_config = match &cli.command {
        Command::Serve(_) => match serve::load_config() {
            Ok(config) => {
                if config.server.worker_threads > 0 {
                    builder.worker_threads(config.server.worker_threads);
                }
                Some(config)
            }
            Err(exit) => return exit.report(),
        },
        _ => None,
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("kaigo: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Dev(args) => dev::run(args).await,
            Command::Serve(args) => match serve_config {
                Some(config) => serve::run(args, config).await,
                None => Err(cli::Exit::failure("kaigo serve started without its configuration")),
            },
            Command::Migrate(args) => migrate::run(args).await,
            Command::Token(args) => token::run(args),
            Command::Card(args) => card::run(args),
            Command::Health(args) => health::run(args).await,
            Command::Import(args) => import::run(args).await,
            Command::Gen(args) => generate::run(args),
            Command::Bench(args) => bench::run(args).await,
            Command::EchoServer(args) => echo::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(exit) => exit.report(),
    }
}

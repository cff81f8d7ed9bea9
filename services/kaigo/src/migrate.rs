//! `kaigo migrate [service]`.

use clap::Args;
use kaigo_platform::config::ConfigSource;

use crate::cli::Exit;
use crate::components;
use crate::config::KaigoConfig;

#[derive(Args)]
pub struct MigrateArgs {
    /// The service to migrate (eligibility, certification, documents, careplan, subsidies,
    /// registry); all of them when absent.
    service: Option<String>,
}

pub async fn run(args: MigrateArgs) -> Result<(), Exit> {
    let config: KaigoConfig = ConfigSource::from_process().load().map_err(Exit::config)?;
    let services: Vec<&'static str> = match &args.service {
        Some(name) => vec![components::service_name(name).ok_or_else(|| {
            Exit::config(format!("unknown service {name}; expected one of {}", components::SERVICES.join(", ")))
        })?],
        None => components::SERVICES.to_vec(),
    };
    for service in services {
        let db = kaigo_platform::db::connect(&config.database, service)
            .await
            .map_err(|e| Exit::failure(format!("{service}: cannot connect to the database: {e}")))?;
        components::migrate(service, &db)
            .await
            .map_err(|e| Exit::failure(format!("{service}: migration failed: {e}")))?;
        println!("{service}: migrations applied");
    }
    Ok(())
}

//! `kaigo token`: mints a token with the dev key of a `kaigo dev` data directory.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use kaigo_gateway::{Claims, DevKey};
use kaigo_platform::auth::Role;

use crate::cli::Exit;

#[derive(Args)]
pub struct TokenArgs {
    /// The `kaigo dev` data directory holding the dev signing key.
    #[arg(long, default_value_os_t = crate::cli::default_data_dir())]
    data_dir: PathBuf,
    /// insurer, care_office, service_provider, medical_institution, insured_person or operator.
    #[arg(long)]
    role: String,
    /// 保険者番号 (role insurer).
    #[arg(long)]
    insurer: Option<String>,
    /// 介護保険事業所番号 (roles care_office and service_provider).
    #[arg(long)]
    office: Option<String>,
    /// 医療機関コード (role medical_institution).
    #[arg(long)]
    institution: Option<String>,
    /// Space-separated scopes.
    #[arg(long, default_value = "")]
    scope: String,
    /// A consent reference to carry (repeatable).
    #[arg(long = "consent")]
    consents: Vec<String>,
    /// The subject (account id).
    #[arg(long, default_value = "dev-user")]
    subject: String,
    /// Lifetime: 90s, 30m, 1h or 1d.
    #[arg(long, default_value = "1h", value_parser = parse_ttl)]
    ttl: Duration,
    /// Instead of a token, print the signed caller headers a service accepts from the gateway
    /// for this RPC path (benchmarks that call a service directly). Needs the internal secret
    /// in KAIGO_INTERNAL_AUTH__SECRET.
    #[arg(long, hide = true, requires = "internal_secret")]
    caller_headers_for: Option<String>,
    /// The internal HMAC secret for --caller-headers-for.
    #[arg(long, hide = true, env = "KAIGO_INTERNAL_AUTH__SECRET", hide_env_values = true)]
    internal_secret: Option<String>,
}

fn parse_ttl(s: &str) -> Result<Duration, String> {
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = number.parse().map_err(|_| "expected a number followed by s, m, h or d".to_owned())?;
    let secs = match unit {
        "s" | "" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err("expected a number followed by s, m, h or d".to_owned()),
    };
    Ok(Duration::from_secs(secs))
}

pub fn run(args: TokenArgs) -> Result<(), Exit> {
    let role: Role = args.role.parse().map_err(Exit::config)?;
    let now = chrono::Utc::now().timestamp();
    let ttl = i64::try_from(args.ttl.as_secs()).map_err(|_| Exit::config("ttl too long"))?;
    let claims = Claims {
        iss: crate::dev::DEV_ISSUER.to_owned(),
        aud: crate::dev::DEV_AUDIENCE.to_owned(),
        sub: args.subject,
        exp: now + ttl,
        nbf: now,
        iat: now,
        role: role.as_str().to_owned(),
        insurer_number: args.insurer,
        office_number: args.office,
        institution_code: args.institution,
        scope: args.scope,
        consents: args.consents,
    };
    // Check the claims as the gateway will, so a bad number fails here, not on first use.
    let caller = kaigo_gateway::caller_from_claims(claims.clone()).map_err(Exit::config)?;
    if let (Some(path), Some(secret)) = (&args.caller_headers_for, &args.internal_secret) {
        let config = kaigo_platform::config::InternalAuthConfig {
            secret: kaigo_platform::config::Secret::new(secret.clone()),
            max_age_secs: args.ttl.as_secs(),
            ..Default::default()
        };
        let keys =
            kaigo_platform::auth::CallerKeys::from_config(&config).ok_or_else(|| Exit::config("no internal secret"))?;
        let (payload, signature) = keys.sign(&caller, path, now);
        println!("{}: {payload}", kaigo_platform::auth::CALLER_HEADER);
        println!("{}: {signature}", kaigo_platform::auth::SIGNATURE_HEADER);
        return Ok(());
    }
    let key = DevKey::load(&args.data_dir).map_err(|e| {
        Exit::config(format!("no dev key in {}: {e}; start `kaigo dev` once to create it", args.data_dir.display()))
    })?;
    println!("{}", key.mint(&claims).map_err(Exit::failure)?);
    Ok(())
}

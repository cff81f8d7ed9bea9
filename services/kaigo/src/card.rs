//! `kaigo card sign`: the virtual card reader of `kaigo dev` (docs/domain/access.md#card-flow).
//! It signs a challenge of StartCardConfirmation with a virtual card `kaigo dev` made for a demo
//! person and prints what CompleteCardConfirmation needs, as the reader's device would return it.

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::{Args, Subcommand};
use kaigo_registry::cards::{VirtualCa, VirtualCard};

use crate::cli::Exit;

/// The directory under `kaigo dev`'s data directory holding its test CA and virtual cards
/// (`registry.virtual_cards_dir` unless configured).
pub const CARDS_DIR: &str = "registry-cards";

#[derive(Args)]
pub struct CardArgs {
    #[command(subcommand)]
    command: CardCommand,
}

#[derive(Subcommand)]
enum CardCommand {
    /// Signs a challenge with a virtual card and prints the JSON fields `signature` and
    /// `certificate` of CompleteCardConfirmation (base64, as grpcurl writes bytes).
    Sign(SignArgs),
}

#[derive(Args)]
struct SignArgs {
    /// The `kaigo dev` data directory (its cards are in `registry-cards/`).
    #[arg(long, default_value_os_t = crate::cli::default_data_dir())]
    data_dir: PathBuf,
    /// The cards directory, when `registry.virtual_cards_dir` names one of its own.
    #[arg(long)]
    cards_dir: Option<PathBuf>,
    /// The card's serial, its link id: d000000001 … d000000003 for the demo persons
    /// 435073:0000000001 … 0000000003.
    #[arg(long)]
    serial: String,
    /// The challenge of StartCardConfirmation, base64 (as grpcurl prints it).
    #[arg(long)]
    challenge: String,
}

pub fn run(args: CardArgs) -> Result<(), Exit> {
    match args.command {
        CardCommand::Sign(args) => sign(args),
    }
}

fn sign(args: SignArgs) -> Result<(), Exit> {
    let dir = args.cards_dir.unwrap_or_else(|| args.data_dir.join(CARDS_DIR));
    let serial = args.serial.trim().to_ascii_lowercase();
    if serial.is_empty() || serial.len() > 64 || !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Exit::config("--serial: expected 1–64 hex digits, e.g. d000000001"));
    }
    let challenge =
        STANDARD.decode(args.challenge.trim()).map_err(|e| Exit::config(format!("--challenge: not base64: {e}")))?;
    // Only a card `kaigo dev` made: a card issued here would not be in the identity-link table.
    let files =
        ["ca.pem".to_owned(), "ca-key.pem".to_owned(), format!("card-{serial}-key.pem"), format!("card-{serial}.der")];
    let missing = files.iter().find(|file| !dir.join(file).is_file());
    if let Some(file) = missing {
        return Err(Exit::config(format!(
            "no virtual card {serial} in {} ({file} missing); `kaigo dev` makes cards d000000001–d000000003 \
             for the demo persons",
            dir.display()
        )));
    }
    let ca = VirtualCa::load_or_create(&dir).map_err(|e| Exit::failure(format!("virtual CA: {e}")))?;
    let card = VirtualCard::load_or_issue(&ca, &dir, &serial).map_err(|e| Exit::failure(format!("card: {e}")))?;
    let signature = card.sign(&challenge).map_err(|e| Exit::failure(format!("signing: {e}")))?;
    let out = serde_json::json!({
        "signature": STANDARD.encode(signature),
        "certificate": STANDARD.encode(card.certificate_der()),
    });
    println!("{out}");
    Ok(())
}

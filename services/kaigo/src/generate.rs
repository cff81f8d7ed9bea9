//! `kaigo gen insured`: a realistic synthetic extract on standard output.

use std::io::Write;

use clap::{Args, Subcommand};
use kaigo_eligibility::extract::{COLUMNS, to_csv};
use kaigo_eligibility::seed::generate;
use kaigo_platform::ids::InsurerNumber;

use crate::cli::Exit;

#[derive(Args)]
pub struct GenArgs {
    #[command(subcommand)]
    what: GenWhat,
}

#[derive(Subcommand)]
enum GenWhat {
    /// An insured-person extract (CSV with a header row), valid check digits, the national
    /// level and ratio mix.
    Insured {
        /// How many persons.
        #[arg(long)]
        count: u64,
        /// 保険者番号 of the extract.
        #[arg(long, default_value = "435073")]
        insurer: String,
        /// The first insured number (sequence; zero-padded to ten digits).
        #[arg(long, default_value_t = 1)]
        first: u64,
        /// Random seed: the same seed gives the same extract.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

pub fn run(args: GenArgs) -> Result<(), Exit> {
    let GenWhat::Insured { count, insurer, first, seed } = args.what;
    let insurer = InsurerNumber::parse(&insurer).map_err(|e| Exit::config(format!("--insurer: {e}")))?;
    if first + count > 10_000_000_000 {
        return Err(Exit::config("--first + --count exceeds the ten-digit insured numbers"));
    }
    let today = kaigo_platform::time::today_jst();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let write = |out: &mut std::io::BufWriter<std::io::StdoutLock<'_>>, line: &str| {
        out.write_all(line.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .map_err(|e| Exit::failure(format!("write: {e}")))
    };
    write(&mut out, &COLUMNS.join(","))?;
    // Generate in slices so memory stays flat for millions of rows.
    let mut next = first;
    while next < first + count {
        let n = (first + count - next).min(10_000);
        for person in generate(&insurer, next, n, seed.wrapping_add(next), today) {
            write(&mut out, &to_csv(&person))?;
        }
        next += n;
    }
    out.flush().map_err(|e| Exit::failure(format!("write: {e}")))
}

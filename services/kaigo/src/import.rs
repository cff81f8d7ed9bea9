//! `kaigo import insured FILE.csv`: streams an insurer's extract to ImportInsuredPersons.
//!
//! Every rejected row is reported on standard error as `line N: REASON field: problem`, in a
//! terminal or not, and with `--rejects FILE` also as one JSON object per line for scripts. The
//! exit code is 0 when every row was accepted, [`EXIT_REJECTED`] when the import finished but
//! rows were rejected, 1 when it failed, 64 for bad arguments.

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use kaigo_eligibility::extract::{Header, parse_row};
use kaigo_proto::kaigo::eligibility::v1 as pb;
use kaigo_proto::kaigo::eligibility::v1::eligibility_service_client::EligibilityServiceClient;
use tokio::sync::Mutex;
use tokio_stream::StreamExt;

use crate::cli::Exit;

/// The exit code of an import that finished with rejected rows (the others were loaded).
pub const EXIT_REJECTED: u8 = 3;

/// The reason of a row the CLI could not read, before anything is sent.
const UNREADABLE_ROW: &str = "UNREADABLE_ROW";

/// Where rejected rows are reported: standard error always, the `--rejects` file when given.
struct Rejects {
    bar: ProgressBar,
    file: Option<std::io::BufWriter<std::fs::File>>,
    write_error: Option<std::io::Error>,
}

impl Rejects {
    /// One rejected row: its line, a stable reason and the problems (field, what is wrong).
    fn report(&mut self, line: i64, reason: &str, message: &str, problems: &[(String, String)]) {
        let detail = if problems.is_empty() {
            message.to_owned()
        } else {
            problems.iter().map(|(field, problem)| format!("{field}: {problem}")).collect::<Vec<_>>().join("; ")
        };
        // Through the bar, so a visible one is redrawn below the line rather than over it.
        self.bar.suspend(|| eprintln!("line {line}: {reason} {detail}"));
        if let Some(file) = &mut self.file {
            let record = serde_json::json!({
                "line": line,
                "reason": reason,
                "message": message,
                "violations": problems
                    .iter()
                    .map(|(field, description)| serde_json::json!({"field": field, "description": description}))
                    .collect::<Vec<_>>(),
            });
            if let Err(err) = writeln!(file, "{record}")
                && self.write_error.is_none()
            {
                self.write_error = Some(err);
            }
        }
    }
}

#[derive(Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    what: ImportWhat,
}

#[derive(Subcommand)]
enum ImportWhat {
    /// An insured-person extract (CSV, header row with snake_case column names).
    Insured {
        /// The CSV file.
        file: std::path::PathBuf,
        /// The gateway to send to: host:port or http://host:port (plaintext h2c).
        #[arg(long, default_value = "127.0.0.1:50051")]
        endpoint: String,
        /// A Bearer token of the insurer (role insurer).
        #[arg(long, env = "KAIGO_TOKEN", hide_env_values = true)]
        token: String,
        /// Rows per chunk (one transaction on the server).
        #[arg(long, default_value_t = 2_000)]
        chunk: usize,
        /// Validate only; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also write every rejected row to this file, one JSON object per line:
        /// {"line":N,"reason":"…","message":"…","violations":[{"field":"…","description":"…"}]}.
        #[arg(long, value_name = "FILE")]
        rejects: Option<std::path::PathBuf>,
    },
}

pub async fn run(args: ImportArgs) -> Result<(), Exit> {
    let ImportWhat::Insured { file, endpoint, token, chunk, dry_run, rejects } = args.what;
    let total_bytes = std::fs::metadata(&file).map_err(|e| Exit::config(format!("{}: {e}", file.display())))?.len();
    let reader = std::io::BufReader::new(
        std::fs::File::open(&file).map_err(|e| Exit::config(format!("{}: {e}", file.display())))?,
    );
    let mut lines = reader.lines();
    let header_line = lines
        .next()
        .ok_or_else(|| Exit::config("the file is empty"))?
        .map_err(|e| Exit::failure(format!("read: {e}")))?;
    let header = Header::parse(&header_line).map_err(|e| Exit::config(format!("line 1: {e}")))?;

    // The insurer of the import is the first row's; the server checks every row against it.
    let channel = tonic::transport::Endpoint::from_shared(crate::cli::endpoint_url(&endpoint))
        .map_err(|_| Exit::config(format!("--endpoint {endpoint}: expected host:port or http://host:port")))?
        .connect()
        .await
        .map_err(|e| Exit::failure(format!("cannot connect to {endpoint}: {e}")))?;
    let bearer: tonic::metadata::MetadataValue<_> =
        format!("Bearer {token}").parse().map_err(|_| Exit::config("the token is not a valid header value"))?;
    let mut client = EligibilityServiceClient::with_interceptor(channel, move |mut req: tonic::Request<()>| {
        req.metadata_mut().insert("authorization", bearer.clone());
        Ok(req)
    })
    .max_encoding_message_size(64 * 1024 * 1024);

    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressBar::new(total_bytes)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {percent:>3}% {msg} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let rejects_file = match &rejects {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| Exit::config(format!("--rejects {}: {e}", path.display())))?,
        )),
        None => None,
    };
    let report = Arc::new(Mutex::new(Rejects { bar: bar.clone(), file: rejects_file, write_error: None }));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<pb::ImportInsuredPersonsRequest>(4);
    let local_errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let local_rows = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (errors, rows_read, reporter) = (local_errors.clone(), local_rows.clone(), report.clone());
    let progress = bar.clone();
    // Read and parse on a blocking thread; lines that do not parse are reported here and skipped.
    let reader = tokio::task::spawn_blocking(move || -> Result<(), String> {
        let mut first = true;
        let mut rows = Vec::with_capacity(chunk);
        let mut bytes = header_line.len() as u64 + 1;
        for (i, line) in lines.enumerate() {
            let line = line.map_err(|e| format!("read: {e}"))?;
            bytes += line.len() as u64 + 1;
            let number = i as i64 + 2;
            if line.trim().is_empty() {
                continue;
            }
            rows_read.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            match parse_row(&header, number, &line) {
                Ok(row) => {
                    if first {
                        let insurer = row.person.as_ref().map(|p| p.insurer_number.clone()).unwrap_or_default();
                        let header = pb::ImportHeader {
                            request_id: uuid::Uuid::new_v4().to_string(),
                            insurer_number: insurer,
                            source_name: String::new(),
                            expected_rows: 0,
                            dry_run,
                        };
                        let msg = pb::ImportInsuredPersonsRequest {
                            payload: Some(pb::import_insured_persons_request::Payload::Header(header)),
                        };
                        tx.blocking_send(msg).map_err(|_| "the server closed the stream".to_owned())?;
                        first = false;
                    }
                    rows.push(row);
                }
                Err(reason) => {
                    errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    reporter.blocking_lock().report(number, UNREADABLE_ROW, &reason, &[]);
                }
            }
            if rows.len() >= chunk {
                let msg = pb::ImportInsuredPersonsRequest {
                    payload: Some(pb::import_insured_persons_request::Payload::Chunk(pb::ImportChunk {
                        rows: std::mem::take(&mut rows),
                    })),
                };
                tx.blocking_send(msg).map_err(|_| "the server closed the stream".to_owned())?;
                progress.set_position(bytes);
            }
        }
        if !rows.is_empty() {
            let msg = pb::ImportInsuredPersonsRequest {
                payload: Some(pb::import_insured_persons_request::Payload::Chunk(pb::ImportChunk { rows })),
            };
            tx.blocking_send(msg).map_err(|_| "the server closed the stream".to_owned())?;
        }
        progress.set_position(bytes);
        Ok(())
    });

    let started = std::time::Instant::now();
    // Nothing is sent until a row reads well: a file whose every row fails here never reaches
    // the server (which would only see a stream without its header).
    let Some(first) = rx.recv().await else {
        reader.await.map_err(|e| Exit::failure(format!("reader: {e}")))?.map_err(Exit::failure)?;
        bar.finish_and_clear();
        finish_rejects(&report, rejects.as_deref()).await?;
        let read = local_rows.load(std::sync::atomic::Ordering::Relaxed);
        return Err(if read == 0 {
            Exit::config(format!("{}: no data rows after the header; nothing imported", file.display()))
        } else {
            Exit::with_code(
                EXIT_REJECTED,
                format!(
                    "import not started: every one of the {read} rows failed local checks (reasons above); nothing was sent"
                ),
            )
        });
    };
    let requests = tokio_stream::once(first).chain(tokio_stream::wrappers::ReceiverStream::new(rx));
    let mut responses = client
        .import_insured_persons(requests)
        .await
        .map_err(|s| Exit::failure(format!("import refused: {} ({:?})", s.message(), s.code())))?
        .into_inner();
    let mut summary = None;
    while let Some(message) = responses.next().await {
        let message = message.map_err(|s| Exit::failure(format!("import failed: {} ({:?})", s.message(), s.code())))?;
        match message.event {
            Some(pb::import_insured_persons_response::Event::RowError(e)) => {
                let problems: Vec<(String, String)> =
                    e.violations.into_iter().map(|v| (v.field, v.description)).collect();
                report.lock().await.report(e.line_number, &e.reason, &e.message, &problems);
            }
            Some(pb::import_insured_persons_response::Event::Progress(p)) => {
                let rate = p.rows_processed as f64 / started.elapsed().as_secs_f64().max(0.001);
                bar.set_message(format!("{} rows, {:.0} rows/s", p.rows_processed, rate));
            }
            Some(pb::import_insured_persons_response::Event::Summary(s)) => summary = s.totals,
            None => {}
        }
    }
    bar.finish_and_clear();
    reader.await.map_err(|e| Exit::failure(format!("reader: {e}")))?.map_err(Exit::failure)?;
    let totals = summary.ok_or_else(|| Exit::failure("the server ended the import without a summary"))?;
    let elapsed = started.elapsed().max(Duration::from_millis(1));
    let local = i64::try_from(local_errors.load(std::sync::atomic::Ordering::Relaxed)).unwrap_or(i64::MAX);
    println!(
        "{} rows in {:.1}s ({:.0} rows/s): {} created, {} changed, {} unchanged, {} rejected{}",
        totals.rows_received + local,
        elapsed.as_secs_f64(),
        (totals.rows_received + local) as f64 / elapsed.as_secs_f64(),
        totals.persons_created,
        totals.persons_changed,
        totals.persons_unchanged,
        totals.rows_rejected + local,
        if dry_run { " (dry run: nothing changed)" } else { "" }
    );
    finish_rejects(&report, rejects.as_deref()).await?;
    let rejected = totals.rows_rejected + local;
    if rejected > 0 {
        let listed = rejects.map(|p| format!(" and in {}", p.display())).unwrap_or_default();
        return Err(Exit::with_code(
            EXIT_REJECTED,
            format!("{rejected} rows rejected (reasons above{listed}); the other rows were imported"),
        ));
    }
    Ok(())
}

/// Flushes the `--rejects` file; a write that failed is an error (the report would be short).
async fn finish_rejects(report: &Mutex<Rejects>, path: Option<&std::path::Path>) -> Result<(), Exit> {
    let mut report = report.lock().await;
    let flushed = match report.file.as_mut() {
        Some(file) => file.flush(),
        None => Ok(()),
    };
    match (report.write_error.take().map_or(flushed, Err), path) {
        (Err(err), Some(path)) => Err(Exit::failure(format!("--rejects {}: {err}", path.display()))),
        _ => Ok(()),
    }
}

//! `kaigo import insured FILE.csv`: streams an insurer's extract to ImportInsuredPersons.

use std::io::BufRead;
use std::time::Duration;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use kaigo_eligibility::extract::{Header, parse_row};
use kaigo_proto::kaigo::eligibility::v1 as pb;
use kaigo_proto::kaigo::eligibility::v1::eligibility_service_client::EligibilityServiceClient;
use tokio_stream::StreamExt;

use crate::Exit;

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
        /// The gateway to send to.
        #[arg(long, default_value = "http://127.0.0.1:50051")]
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
    },
}

pub async fn run(args: ImportArgs) -> Result<(), Exit> {
    let ImportWhat::Insured { file, endpoint, token, chunk, dry_run } = args.what;
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
    let channel = tonic::transport::Endpoint::from_shared(endpoint.clone())
        .map_err(|_| Exit::config(format!("{endpoint} is not a URL")))?
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
    let (tx, rx) = tokio::sync::mpsc::channel::<pb::ImportInsuredPersonsRequest>(4);
    let local_errors = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let errors = local_errors.clone();
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
                    progress.println(format!("line {number}: {reason}"));
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
    let mut responses = client
        .import_insured_persons(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .map_err(|s| Exit::failure(format!("import refused: {} ({:?})", s.message(), s.code())))?
        .into_inner();
    let mut summary = None;
    while let Some(message) = responses.next().await {
        let message = message.map_err(|s| Exit::failure(format!("import failed: {} ({:?})", s.message(), s.code())))?;
        match message.event {
            Some(pb::import_insured_persons_response::Event::RowError(e)) => {
                let fields: Vec<String> =
                    e.violations.iter().map(|v| format!("{}: {}", v.field, v.description)).collect();
                bar.println(format!(
                    "line {}: {} {}",
                    e.line_number,
                    e.reason,
                    if fields.is_empty() { e.message } else { fields.join("; ") }
                ));
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
    Ok(())
}

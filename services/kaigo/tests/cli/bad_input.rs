//! Bad input at the door, on every RPC by construction.
//!
//! The methods come from the compiled descriptor set (`kaigo_proto::FILE_DESCRIPTOR_SET`), so a
//! new RPC is covered without a test written for it. For each method the suite generates
//! malformed request bodies from the method's input type (random bytes, truncations, wrong
//! wire types, invalid UTF-8, oversized strings and repeated fields, enum values outside the
//! declared set, dates outside 1900–2200, empty messages, and broken gRPC framing: no message,
//! two messages, a message cut short, a client trailers frame) and sends each through the
//! gateway natively (HTTP/2) and as gRPC-Web (HTTP/1.1, binary or base64 text), with a token
//! of a role picked at random. It then asserts: no INTERNAL or UNKNOWN answer, no panic in the
//! logs, every service still SERVING, and nothing written to the database.
//!
//! Generated messages look plausible (valid organisation numbers, dates in range) so that the
//! broken part reaches the services' validation, but never carry a `request_id`: every write
//! must be refused, so a row that appears is a finding.
//!
//! `KAIGO_BAD_INPUT_CASES` (cases per method and transport, default 6) and
//! `KAIGO_BAD_INPUT_SEED` (default fixed, printed) bound and reproduce a run;
//! `make bad-input` runs many more with a fresh seed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use prost::Message;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor, Value,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::support::{Running, SERVING, Stack, free_port, health, kaigo, mint};

/// The roles a case's token is picked from, with the organisation each carries (the demo ones
/// of `kaigo dev`).
const ROLES: [(&str, Option<&str>); 6] = [
    ("insurer", Some("435073")),
    ("care_office", Some("4371000128")),
    ("service_provider", Some("4371000201")),
    ("medical_institution", Some("1311234569")),
    ("operator", None),
    ("insured_person", None),
];

/// How a case travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Transport {
    Grpc,
    GrpcWeb,
    GrpcWebText,
}

/// One malformed call.
struct Case {
    method: String,
    kind: &'static str,
    transport: Transport,
    role: usize,
    /// The method answers with a stream.
    server_streaming: bool,
    /// The whole HTTP body (gRPC framing included).
    body: Vec<u8>,
}

/// The answer's grpc-status and message.
struct Answer {
    code: tonic::Code,
    message: String,
    /// Bytes of the answer's headers and trailers, as HTTP/2 counts them.
    header_bytes: usize,
}

fn settings() -> (u64, usize) {
    let seed = std::env::var("KAIGO_BAD_INPUT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_2026);
    let cases = std::env::var("KAIGO_BAD_INPUT_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(6);
    (seed, cases)
}

/// Every method of every kaigo service in the compiled contracts.
fn methods() -> Vec<MethodDescriptor> {
    let pool = DescriptorPool::decode(kaigo_proto::FILE_DESCRIPTOR_SET).unwrap();
    let methods: Vec<MethodDescriptor> = pool
        .services()
        .filter(|s| kaigo_proto::SERVICE_NAMES.contains(&s.full_name()))
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .collect();
    assert!(methods.len() >= 60, "the descriptor set lists {} kaigo methods", methods.len());
    methods
}

fn path(method: &MethodDescriptor) -> String {
    format!("/{}/{}", method.parent_service().full_name(), method.name())
}

fn frame(flag: u8, message: &[u8]) -> Vec<u8> {
    let mut bytes = vec![flag];
    bytes.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    bytes.extend_from_slice(message);
    bytes
}

fn varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn tag(field: u32, wire_type: u8, out: &mut Vec<u8>) {
    varint((u64::from(field) << 3) | u64::from(wire_type), out);
}

fn length_delimited(field: u32, payload: &[u8], out: &mut Vec<u8>) {
    tag(field, 2, out);
    varint(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

/// A plausible value for a string field, by its name.
fn plausible_string(field: &FieldDescriptor, rng: &mut StdRng) -> String {
    let name = field.name();
    let choice = |options: &[&str], rng: &mut StdRng| options[rng.gen_range(0..options.len())].to_owned();
    if name == "request_id" {
        return String::new(); // never a write: see the module docs
    }
    if name.contains("insurer_number") {
        choice(&["435073", "001222"], rng)
    } else if name.contains("insured_number") {
        choice(&["0000000001", "0000000002"], rng)
    } else if name.contains("office_number") || name.contains("provider_number") {
        choice(&["4371000128", "4371000201"], rng)
    } else if name.contains("institution_code") {
        "1311234569".to_owned()
    } else if name.contains("page_token") {
        choice(&["", "not-a-token"], rng)
    } else if name.ends_with("_id") || name == "id" || name == "name" {
        uuid::Uuid::new_v4().to_string()
    } else {
        choice(&["x", "テスト", "2025-04-01"], rng)
    }
}

/// A message of `descriptor` with every field set to something plausible (depth-limited).
fn plausible(descriptor: &MessageDescriptor, rng: &mut StdRng, depth: usize) -> DynamicMessage {
    let mut message = DynamicMessage::new(descriptor.clone());
    if descriptor.full_name() == "google.type.Date" {
        for (name, value) in [("year", 2025), ("month", 4), ("day", 1)] {
            message.set_field_by_name(name, Value::I32(value));
        }
        return message;
    }
    if depth > 3 {
        return message;
    }
    for field in descriptor.fields() {
        if field.is_map() || (field.containing_oneof().is_some() && rng.gen_bool(0.5)) {
            continue;
        }
        let value = plausible_value(&field, rng, depth);
        let value = if field.is_list() { Value::List(vec![value]) } else { value };
        message.set_field(&field, value);
    }
    message
}

fn plausible_value(field: &FieldDescriptor, rng: &mut StdRng, depth: usize) -> Value {
    match field.kind() {
        Kind::String => Value::String(plausible_string(field, rng)),
        Kind::Bytes => Value::Bytes(Bytes::from_static(b"x")),
        Kind::Bool => Value::Bool(true),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(rng.gen_range(1..=12)),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(rng.gen_range(1..=1000)),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(rng.gen_range(1..=12)),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(rng.gen_range(1..=1000)),
        Kind::Float => Value::F32(1.0),
        Kind::Double => Value::F64(1.0),
        Kind::Enum(e) => Value::EnumNumber(e.values().map(|v| v.number()).find(|n| *n != 0).unwrap_or(0)),
        Kind::Message(m) => Value::Message(plausible(&m, rng, depth + 1)),
    }
}

/// The fields of `descriptor` and its nested messages (depth-limited), as paths of fields.
fn field_paths(descriptor: &MessageDescriptor, depth: usize) -> Vec<Vec<FieldDescriptor>> {
    let mut paths = Vec::new();
    for field in descriptor.fields() {
        paths.push(vec![field.clone()]);
        if let Kind::Message(inner) = field.kind()
            && depth < 2
            && !field.is_map()
        {
            for mut rest in field_paths(&inner, depth + 1) {
                rest.insert(0, field.clone());
                paths.push(rest);
            }
        }
    }
    paths
}

/// `leaf` encoded as the innermost field of `path` (the outer fields as length-delimited).
fn nest(path: &[FieldDescriptor], leaf: Vec<u8>) -> Vec<u8> {
    let mut bytes = leaf;
    for outer in path.iter().rev().skip(1) {
        let mut wrapped = Vec::new();
        length_delimited(outer.number(), &bytes, &mut wrapped);
        bytes = wrapped;
    }
    bytes
}

/// A message with `mutate` applied to the plausible value at the end of a random matching path.
fn mutated(
    input: &MessageDescriptor,
    rng: &mut StdRng,
    matches: impl Fn(&FieldDescriptor) -> bool,
    leaf: impl Fn(&FieldDescriptor, &mut StdRng) -> Option<Vec<u8>>,
) -> Option<Vec<u8>> {
    let paths: Vec<_> = field_paths(input, 0).into_iter().filter(|p| matches(p.last().unwrap())).collect();
    if paths.is_empty() {
        return None;
    }
    let path = &paths[rng.gen_range(0..paths.len())];
    let leaf = leaf(path.last().unwrap(), rng)?;
    // Protobuf merges concatenated messages: the plausible message, then the broken field
    // (a repeated or nested field is extended, a scalar replaced).
    let mut bytes = plausible(input, rng, 0).encode_to_vec();
    bytes.extend(nest(path, leaf));
    Some(bytes)
}

/// One generated message body (not yet framed) of `kind` for `input`.
fn message_of(kind: &'static str, input: &MessageDescriptor, rng: &mut StdRng) -> Option<Vec<u8>> {
    match kind {
        "random bytes" => {
            let len = rng.gen_range(1..96);
            Some((0..len).map(|_| rng.r#gen::<u8>()).collect())
        }
        "truncated" => {
            let bytes = plausible(input, rng, 0).encode_to_vec();
            (bytes.len() > 1).then(|| bytes[..rng.gen_range(1..bytes.len())].to_vec())
        }
        "empty" => Some(Vec::new()),
        "plausible" => Some(plausible(input, rng, 0).encode_to_vec()),
        "wrong wire type" => mutated(
            input,
            rng,
            |_| true,
            |field, rng| {
                let mut out = Vec::new();
                let declared = if field.is_packed() { 2 } else { wire_type(&field.kind()) };
                let wrong = [0u8, 1, 2, 5, 3, 6, 7].into_iter().filter(|w| *w != declared).nth(rng.gen_range(0..6))?;
                tag(field.number(), wrong, &mut out);
                out.extend_from_slice(&[0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08]);
                Some(out)
            },
        ),
        "invalid UTF-8" => mutated(
            input,
            rng,
            |f| f.kind() == Kind::String,
            |field, _| {
                let mut out = Vec::new();
                length_delimited(field.number(), b"ok\xff\xfe\xc3", &mut out);
                Some(out)
            },
        ),
        "oversized string" => mutated(
            input,
            rng,
            |f| f.kind() == Kind::String,
            |field, rng| {
                let len = if rng.gen_bool(0.1) { 1_100_000 } else { rng.gen_range(300..20_000) };
                let mut out = Vec::new();
                length_delimited(field.number(), "あ".repeat(len / 3).as_bytes(), &mut out);
                Some(out)
            },
        ),
        "oversized repeated" => mutated(input, rng, FieldDescriptor::is_list, |field, rng| {
            let count = if rng.gen_bool(0.3) { 70_000 } else { rng.gen_range(1_001..5_000) };
            let mut one = DynamicMessage::new(field.parent_message().clone());
            one.set_field(field, Value::List(vec![plausible_value(field, rng, 1)]));
            let element = one.encode_to_vec();
            // Within the gateway's 4 MiB message limit: a bigger body is refused from its
            // length before it is read, and HTTP/1.1 then closes the connection mid-upload.
            Some(element.repeat(count.min((3 << 20) / element.len().max(1))))
        }),
        "duplicates" => mutated(input, rng, FieldDescriptor::is_list, |field, rng| {
            let mut one = DynamicMessage::new(field.parent_message().clone());
            one.set_field(field, Value::List(vec![plausible_value(field, rng, 1)]));
            Some(one.encode_to_vec().repeat(rng.gen_range(2..20)))
        }),
        "enum out of range" => mutated(
            input,
            rng,
            |f| matches!(f.kind(), Kind::Enum(_)),
            |field, rng| {
                let mut out = Vec::new();
                tag(field.number(), 0, &mut out);
                let value: i64 = [999, -1, i64::from(i32::MAX), 64][rng.gen_range(0..4)];
                varint(value as u64, &mut out);
                Some(out)
            },
        ),
        "date out of range" => mutated(
            input,
            rng,
            |f| matches!(f.kind(), Kind::Message(m) if m.full_name() == "google.type.Date"),
            |field, rng| {
                let (year, month, day) =
                    [(1, 1, 1), (1899, 12, 31), (2201, 1, 1), (9999, 12, 31), (2025, 13, 1), (2025, 2, 30), (-5, 1, 1)]
                        [rng.gen_range(0..7)];
                let mut date = Vec::new();
                for (number, value) in [(1u32, year), (2, month), (3, day)] {
                    tag(number, 0, &mut date);
                    varint(i64::from(value) as u64, &mut date);
                }
                let mut out = Vec::new();
                length_delimited(field.number(), &date, &mut out);
                Some(out)
            },
        ),
        _ => unreachable!("unknown kind {kind}"),
    }
}

fn wire_type(kind: &Kind) -> u8 {
    match kind {
        Kind::Double | Kind::Fixed64 | Kind::Sfixed64 => 1,
        Kind::Float | Kind::Fixed32 | Kind::Sfixed32 => 5,
        Kind::String | Kind::Bytes | Kind::Message(_) => 2,
        _ => 0,
    }
}

const MESSAGE_KINDS: [&str; 11] = [
    "random bytes",
    "truncated",
    "empty",
    "plausible",
    "wrong wire type",
    "invalid UTF-8",
    "oversized string",
    "oversized repeated",
    "duplicates",
    "enum out of range",
    "date out of range",
];

/// The cases of one run: for every method and transport, the broken framings once and
/// `per_method` generated messages.
fn cases(seed: u64, per_method: usize) -> Vec<Case> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut cases = Vec::new();
    for method in methods() {
        let input = method.input();
        for transport in [Transport::Grpc, Transport::GrpcWeb, Transport::GrpcWebText] {
            let valid = plausible(&input, &mut rng, 0).encode_to_vec();
            let mut bodies: Vec<(&'static str, Vec<u8>)> = vec![
                ("no message", Vec::new()),
                ("message cut short", frame(0, &valid)[..valid.len() + 4].to_vec()),
                ("client trailers frame", frame(0x80, b"grpc-status: 0\r\n")),
            ];
            if !method.is_client_streaming() {
                bodies.push(("two messages", [frame(0, &valid), frame(0, &valid)].concat()));
            }
            let per_transport = if transport == Transport::Grpc { per_method } else { per_method.div_ceil(2) };
            for _ in 0..per_transport {
                let kind = MESSAGE_KINDS[rng.gen_range(0..MESSAGE_KINDS.len())];
                if let Some(message) = message_of(kind, &input, &mut rng) {
                    bodies.push((kind, frame(0, &message)));
                }
            }
            for (kind, body) in bodies {
                let role = rng.gen_range(0..ROLES.len());
                let server_streaming = method.is_server_streaming();
                cases.push(Case { method: path(&method), kind, transport, role, server_streaming, body });
            }
        }
    }
    cases
}

/// Raw HTTP/2 and HTTP/1.1 clients to the gateway.
struct Clients {
    addr: SocketAddr,
    h2: Client<HttpConnector, Full<Bytes>>,
    h1: Client<HttpConnector, Full<Bytes>>,
    tokens: Vec<String>,
}

impl Clients {
    fn new(addr: &str, tokens: Vec<String>) -> Self {
        // Headers are measured instead (common clients accept 16 KiB and close the whole
        // connection beyond it).
        let h2 = Client::builder(TokioExecutor::new())
            .http2_only(true)
            .http2_max_header_list_size(kaigo_platform::server::MAX_HEADER_LIST_BYTES)
            .build_http();
        // A connection per gRPC-Web call: HTTP/1.1 closes a connection whose request body was
        // refused before it was read, and a pooled connection would race that close.
        let h1 = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build_http();
        Self { addr: addr.parse().unwrap(), h2, h1, tokens }
    }

    async fn send(&self, case: &Case) -> Answer {
        let (client, content_type, body) = match case.transport {
            Transport::Grpc => (&self.h2, "application/grpc", case.body.clone()),
            Transport::GrpcWeb => (&self.h1, "application/grpc-web+proto", case.body.clone()),
            Transport::GrpcWebText => (
                &self.h1,
                "application/grpc-web-text",
                base64::engine::general_purpose::STANDARD.encode(&case.body).into_bytes(),
            ),
        };
        let request = http::Request::post(format!("http://{}{}", self.addr, case.method))
            .header("content-type", content_type)
            .header("te", "trailers")
            .header("accept", content_type)
            // A stream the case happens to open (WatchInbox …) ends at its deadline.
            .header("grpc-timeout", "1S")
            .header("authorization", format!("Bearer {}", self.tokens[case.role]))
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let response = client.request(request).await.unwrap_or_else(|e| panic!("{}: {e}", label(case)));
        let (parts, body) = response.into_parts();
        let text =
            parts.headers.get("content-type").is_some_and(|t| t.to_str().is_ok_and(|t| t.contains("grpc-web-text")));
        // A server stream whose head came without a status is open: the case passed the door
        // (Watch* streams run until the client leaves; in `kaigo dev` past their deadline).
        if case.server_streaming && parts.status == http::StatusCode::OK && parts.headers.get("grpc-status").is_none() {
            return Answer { code: tonic::Code::Ok, message: "stream open".to_owned(), header_bytes: 0 };
        }
        let mut body = body;
        let mut raw = Vec::new();
        let mut trailers = http::HeaderMap::new();
        while let Some(frame) = body.frame().await {
            let frame = match frame {
                Ok(frame) => frame,
                // A server stream the case opened is reset when it ends early; the client
                // reports the stream's deadline.
                Err(_) if case.server_streaming && parts.headers.get("grpc-status").is_none() => {
                    let message = "server stream reset".to_owned();
                    return Answer { code: tonic::Code::DeadlineExceeded, message, header_bytes: 0 };
                }
                Err(e) => panic!("{}: body: {e}", label(case)),
            };
            match frame.into_data() {
                Ok(data) => raw.extend_from_slice(&data),
                Err(frame) => {
                    trailers = frame.into_trailers().unwrap_or_default();
                    break;
                }
            }
            // A server stream that answered a message is open and serving: the case passed
            // the door (Watch* streams run until the client leaves).
            let first = if text {
                decode_text(&raw[..raw.len() - raw.len() % 4]).first().copied()
            } else {
                raw.first().copied()
            };
            if case.server_streaming && first == Some(0) {
                return Answer { code: tonic::Code::Ok, message: "stream open".to_owned(), header_bytes: 0 };
            }
        }
        let mut bytes = raw;
        // tonic-web answers in text when the client accepts it (`accept`), binary otherwise.
        if text {
            bytes = decode_text(&bytes);
        }
        let mut fields: Vec<(String, String)> = Vec::new();
        for map in [&parts.headers, &trailers] {
            for (name, value) in map {
                fields.push((name.as_str().to_owned(), value.to_str().unwrap_or_default().to_owned()));
            }
        }
        let mut rest = &bytes[..];
        while rest.len() >= 5 {
            let len = (u32::from_be_bytes(rest[1..5].try_into().unwrap()) as usize).min(rest.len() - 5);
            if rest[0] & 0x80 != 0 {
                for line in String::from_utf8_lossy(&rest[5..5 + len]).lines() {
                    if let Some((name, value)) = line.split_once(':') {
                        fields.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
                    }
                }
            }
            rest = &rest[5 + len..];
        }
        let header_bytes = fields.iter().map(|(n, v)| n.len() + v.len() + 32).sum();
        let field = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let Some(code) = field("grpc-status") else {
            let message = format!("HTTP {} without grpc-status", parts.status);
            return Answer { code: tonic::Code::Unknown, message, header_bytes };
        };
        let message = percent_decoded(&field("grpc-message").unwrap_or_default());
        Answer { code: tonic::Code::from_i32(code.parse().unwrap_or(2)), message, header_bytes }
    }
}

/// grpc-message is percent-encoded.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A grpc-web-text answer: each frame is encoded on its own, so padding may end any chunk.
fn decode_text(text: &[u8]) -> Vec<u8> {
    let engine = &base64::engine::general_purpose::STANDARD;
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..text.len() {
        if text[i] == b'=' && text.get(i + 1) != Some(&b'=') {
            out.extend(engine.decode(&text[start..=i]).unwrap_or_else(|e| panic!("grpc-web-text answer: {e}")));
            start = i + 1;
        }
    }
    out.extend(engine.decode(&text[start..]).unwrap_or_else(|e| panic!("grpc-web-text answer: {e}")));
    out
}

fn label(case: &Case) -> String {
    format!("{} {:?} [{}] as {}", case.method, case.transport, case.kind, ROLES[case.role].0)
}

/// Row counts of every table a call could write.
async fn row_counts(db: &DatabaseConnection, tables_sql: &str) -> BTreeMap<String, i64> {
    let backend = db.get_database_backend();
    let mut counts = BTreeMap::new();
    for row in db.query_all_raw(Statement::from_string(backend, tables_sql.to_owned())).await.unwrap() {
        let table: String = row.try_get_by_index(0).unwrap();
        // Not what calls write: the read audit (reads that pass are audited), the event
        // bookkeeping that background relays and consumers move on their own, each service's
        // copy of the registry's facts (filled by its consumer from the registry's demo seed,
        // docs/domain/access.md#facts-copy: registrations, consents, identity links), migrations.
        let background =
            ["audit", "outbox", "processed_events", "access_registrations", "access_consents", "access_identity_links"];
        if background.iter().chain(&["seaql_migrations"]).any(|t| table.contains(t)) {
            continue;
        }
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let row = db.query_one_raw(Statement::from_string(backend, sql)).await.unwrap().unwrap();
        counts.insert(table, row.try_get_by_index::<i64>(0).unwrap());
    }
    counts
}

fn assert_unchanged(before: &BTreeMap<String, i64>, after: &BTreeMap<String, i64>) {
    let changed: Vec<String> = after
        .iter()
        .filter(|(table, count)| before.get(*table) != Some(count))
        .map(|(table, count)| format!("{table}: {:?} → {count}", before.get(table)))
        .collect();
    assert!(changed.is_empty(), "malformed calls wrote rows: {changed:?}");
}

/// Runs every case against the gateway at `addr` and checks the answers; returns the counts of
/// answers by code.
async fn run(addr: &str, tokens: Vec<String>) -> BTreeMap<String, usize> {
    let (seed, per_method) = settings();
    let cases = cases(seed, per_method);
    println!("bad input: {} cases, seed {seed} (KAIGO_BAD_INPUT_SEED), {per_method} per method", cases.len());
    let clients = Clients::new(addr, tokens);
    let answers: Vec<(usize, Answer)> = futures::stream::iter(cases.iter().enumerate())
        .map(|(i, case)| {
            let clients = &clients;
            async move {
                // A hang is a finding too: every case ends at its 1 s deadline at the latest.
                match tokio::time::timeout(Duration::from_secs(30), clients.send(case)).await {
                    Ok(answer) => (i, answer),
                    Err(_) => panic!("{}: no answer within 30 s (seed {})", label(case), settings().0),
                }
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut by_code = BTreeMap::new();
    let mut failures = Vec::new();
    for (i, answer) in &answers {
        *by_code.entry(format!("{:?}", answer.code)).or_insert(0) += 1;
        if matches!(answer.code, tonic::Code::Internal | tonic::Code::Unknown) {
            failures.push(format!("{}: {:?} {}", label(&cases[*i]), answer.code, answer.message));
        }
        // Beyond 16 KiB of headers common HTTP/2 clients close their whole connection.
        if answer.header_bytes > 16 * 1024 {
            let size = answer.header_bytes;
            failures.push(format!("{}: {:?} with {size} bytes of headers", label(&cases[*i]), answer.code));
        }
    }
    // What answered (before these checks, tonic answered INTERNAL for the first two kinds,
    // and accepted a unary call's second message).
    let undecodable = answers.iter().filter(|(_, a)| a.message.starts_with("the message could not be decoded")).count();
    let framing = answers.iter().filter(|(_, a)| FRAMING.iter().any(|m| a.message.starts_with(m))).count();
    println!("bad input: answers by code {by_code:?}");
    if std::env::var_os("KAIGO_BAD_INPUT_VERBOSE").is_some() {
        for (i, answer) in &answers {
            println!("{}: {:?} {}", label(&cases[*i]), answer.code, answer.message);
        }
    }
    println!("bad input: {undecodable} undecodable messages, {framing} broken framings refused at the gateway");
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} of {} malformed calls were answered INTERNAL or UNKNOWN or with oversized headers (seed {seed}):\n{}",
        failures.len(),
        cases.len(),
        failures.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
    by_code
}

/// How the gateway's framing check words its refusals (`kaigo_gateway`'s traffic/framing.rs).
const FRAMING: [&str; 5] = [
    "a unary method takes exactly one request message",
    "the request body ends inside a message",
    "a request carries no trailers frame",
    "a message's flag byte",
    "tonic-web:",
];

fn assert_no_panic(component: &str, log: &str) {
    assert!(!log.contains("panicked"), "{component} panicked:\n{log}");
}

const POSTGRES_TABLES: &str = "SELECT table_schema || '.' || table_name FROM information_schema.tables \
     WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')";

#[tokio::test]
async fn every_rpc_answers_malformed_input_precisely_on_kaigo_serve() {
    const SERVICES: [&str; 5] = ["eligibility", "certification", "documents", "careplan", "subsidies"];
    let mut stack = Stack::new(&SERVICES).await;
    let limits = [
        ("KAIGO_GATEWAY__LIMITS__RATE_PER_SEC", "100000".to_owned()),
        ("KAIGO_GATEWAY__LIMITS__BURST", "100000".to_owned()),
    ];
    for service in SERVICES {
        stack.start(service).await;
    }
    stack.start_with("gateway", &limits).await;
    let tokens = ROLES.iter().map(|(role, org)| mint(&stack.key, role, *org)).collect();
    let db = sea_orm::Database::connect(stack.db.url()).await.unwrap();
    let before = row_counts(&db, POSTGRES_TABLES).await;

    // With KAIGO_BAD_INPUT_VERBOSE, the services' warnings and errors are printed, pass or fail.
    let verbose = std::env::var_os("KAIGO_BAD_INPUT_VERBOSE").is_some();
    let result =
        futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(run(&stack.addr("gateway"), tokens))).await;
    if verbose {
        for component in SERVICES.iter().chain(&["gateway"]) {
            for line in stack.log(component).lines().filter(|l| l.contains("WARN") || l.contains("ERROR")).take(5) {
                println!("{component}: {line}");
            }
        }
    }
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }

    assert_unchanged(&before, &row_counts(&db, POSTGRES_TABLES).await);
    for component in SERVICES.iter().chain(&["gateway"]) {
        assert_no_panic(component, &stack.log(component));
    }
    for service in kaigo_proto::SERVICE_NAMES {
        assert_eq!(health(&stack.addr("gateway"), service).await, Some(SERVING), "{service} after the run");
    }
}

/// `kaigo dev` on a free port with its data in a temporary directory, logging to `dev.log`
/// there, without the per-caller rate limit (the suite is one caller per role).
struct Dev {
    addr: String,
    key: kaigo_gateway::DevKey,
    log: std::path::PathBuf,
    _running: Running,
    data: tempfile::TempDir,
}

async fn start_dev() -> Dev {
    let data = tempfile::tempdir().unwrap();
    let key = kaigo_gateway::DevKey::load_or_create(data.path()).unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let log = data.path().join("dev.log");
    let child = kaigo()
        .args(["dev", "--listen", &addr, "--data-dir"])
        .arg(data.path())
        .env("KAIGO_GATEWAY__LIMITS__RATE_PER_SEC", "100000")
        .env("KAIGO_GATEWAY__LIMITS__BURST", "100000")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let running = Running(child);
    for service in kaigo_proto::SERVICE_NAMES {
        let up = kaigo_platform::testkit::eventually(Duration::from_secs(60), || async {
            health(&addr, service).await.filter(|s| *s == SERVING)
        })
        .await;
        assert_eq!(up, Some(SERVING), "{service}: {}", std::fs::read_to_string(&log).unwrap_or_default());
    }
    Dev { addr, key, log, _running: running, data }
}

#[tokio::test]
async fn every_rpc_answers_malformed_input_precisely_on_kaigo_dev() {
    let dev = start_dev().await;
    let (addr, key, log, data) = (&dev.addr, &dev.key, &dev.log, &dev.data);
    let tokens = ROLES.iter().map(|(role, org)| mint(key, role, *org)).collect();
    // One SQLite file per service.
    let mut files = Vec::new();
    for service in ["eligibility", "certification", "documents", "careplan", "subsidies"] {
        let url = format!("sqlite://{}?mode=rw", data.path().join("db").join(format!("{service}.db")).display());
        files.push((service, sea_orm::Database::connect(url).await.unwrap()));
    }
    let tables = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'";
    let counts = async || {
        let mut all = BTreeMap::new();
        for (service, db) in &files {
            all.extend(row_counts(db, tables).await.into_iter().map(|(t, n)| (format!("{service}.{t}"), n)));
        }
        all
    };
    let before = counts().await;

    run(addr, tokens).await;

    assert_unchanged(&before, &counts().await);
    assert_no_panic("kaigo dev", &std::fs::read_to_string(log).unwrap());
    for service in kaigo_proto::SERVICE_NAMES {
        assert_eq!(health(addr, service).await, Some(SERVING), "{service} after the run");
    }
}

/// The findings of the hostile-client catalogue (issue #21), each pinned: refused with a
/// field violation instead of reaching SQL or being ignored.
#[tokio::test]
async fn oversized_filters_unknown_enums_far_dates_and_huge_names_are_field_violations() {
    use kaigo_proto::google::r#type::Date;
    use kaigo_proto::kaigo::careplan::v1 as careplan;
    use kaigo_proto::kaigo::certification::v1 as certification;
    use kaigo_proto::kaigo::common::v1::Period;
    use kaigo_proto::kaigo::eligibility::v1 as eligibility;

    let dev = start_dev().await;
    let tokens: Vec<String> = ROLES.iter().map(|(role, org)| mint(&dev.key, role, *org)).collect();
    let clients = Clients::new(&dev.addr, tokens);
    let (insurer, care_office) = (0, 1);
    let far = |year| Date { year, month: 1, day: 1 };
    let cases: Vec<(&str, usize, Vec<u8>)> = vec![
        (
            "/kaigo.certification.v1.CertificationService/ListApplications",
            insurer,
            certification::ListApplicationsRequest { statuses: vec![1; 70_000], ..Default::default() }.encode_to_vec(),
        ),
        (
            "/kaigo.certification.v1.CertificationService/ListApplications",
            insurer,
            certification::ListApplicationsRequest { statuses: vec![999], ..Default::default() }.encode_to_vec(),
        ),
        (
            "/kaigo.careplan.v1.CarePlanService/ListInbox",
            care_office,
            careplan::ListInboxRequest { statuses: vec![999], ..Default::default() }.encode_to_vec(),
        ),
        (
            "/kaigo.careplan.v1.CarePlanService/ListSent",
            care_office,
            careplan::ListSentRequest { kinds: vec![1; 70_000], ..Default::default() }.encode_to_vec(),
        ),
        (
            "/kaigo.eligibility.v1.EligibilityService/CheckEligibility",
            insurer,
            eligibility::CheckEligibilityRequest {
                insurer_number: "435073".into(),
                insured_number: "0000000001".into(),
                as_of: Some(far(1)),
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        (
            "/kaigo.certification.v1.CertificationService/GetInsurerStatistics",
            insurer,
            certification::GetInsurerStatisticsRequest {
                insurer_number: "435073".into(),
                window: Some(Period { start: Some(far(2025)), end: Some(far(9999)) }),
            }
            .encode_to_vec(),
        ),
        (
            "/kaigo.eligibility.v1.EligibilityService/ImportInsuredPersons",
            insurer,
            eligibility::ImportInsuredPersonsRequest {
                payload: Some(eligibility::import_insured_persons_request::Payload::Header(
                    eligibility::ImportHeader {
                        request_id: uuid::Uuid::new_v4().to_string(),
                        insurer_number: "435073".into(),
                        source_name: "x".repeat(1 << 20),
                        dry_run: true,
                        ..Default::default()
                    },
                )),
            }
            .encode_to_vec(),
        ),
    ];
    for (method, role, message) in cases {
        for transport in [Transport::Grpc, Transport::GrpcWeb] {
            let body = frame(0, &message);
            let case = Case {
                method: method.to_owned(),
                kind: "finding",
                transport,
                role,
                server_streaming: method.ends_with("ImportInsuredPersons"),
                body,
            };
            let answer = clients.send(&case).await;
            assert_eq!(answer.code, tonic::Code::InvalidArgument, "{}: {}", label(&case), answer.message);
        }
    }
    assert_no_panic("kaigo dev", &std::fs::read_to_string(&dev.log).unwrap());
}

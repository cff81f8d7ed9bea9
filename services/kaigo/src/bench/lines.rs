//! `--data-lines FILE`: one call per line, each with its own request and, when it names one,
//! its own metadata — for key distributions over millions of persons of several insurers,
//! where one `data` array and one token per run cannot say what to send
//! (loadtest/national/run.sh).
//!
//! A line is `{"data": {…request…}, "metadata": {"header": "value", …}}`; `metadata` is
//! optional and goes over the config's. `${NAME}` in a metadata value is filled from the
//! environment variable NAME, so tokens stay out of the file and a file of millions of lines
//! names only a handful of distinct metadata sets, kept once each.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use bytes::Bytes;
use prost::Message;
use prost_reflect::{DynamicMessage, MethodDescriptor};
use serde_json::Value;

/// At most this many lines: every request is encoded before the run, about 100 bytes each.
pub const MAX_LINES: usize = 10_000_000;

/// The encoded calls of a file and the metadata each names.
#[derive(Debug)]
pub struct Lines {
    /// Request messages, in file order.
    pub payloads: Vec<Bytes>,
    /// Per payload, the index into `metadata`.
    pub metadata_of: Vec<u32>,
    /// The distinct metadata sets the lines name (the first is the empty set), `${NAME}` filled.
    pub metadata: Vec<BTreeMap<String, String>>,
}

/// Reads and encodes every line of `reader` as a `method` request; blank lines are skipped. An
/// error names the line (from 1).
pub fn read(
    method: &MethodDescriptor,
    reader: impl BufRead,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Lines, String> {
    let mut lines = Lines { payloads: Vec::new(), metadata_of: Vec::new(), metadata: vec![BTreeMap::new()] };
    // The raw metadata object of a line (as written, before `${NAME}`) → its index.
    let mut seen: HashMap<String, u32> = HashMap::new();
    for (index, line) in reader.lines().enumerate() {
        let number = index + 1;
        let line = line.map_err(|e| format!("line {number}: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        if lines.payloads.len() == MAX_LINES {
            return Err(format!("more than {MAX_LINES} lines"));
        }
        let value: Value = serde_json::from_str(&line).map_err(|e| format!("line {number}: not JSON: {e}"))?;
        let Value::Object(mut object) = value else {
            return Err(format!("line {number}: expected an object {{\"data\": {{…}}, \"metadata\": {{…}}}}"));
        };
        if let Some(key) = object.keys().find(|k| *k != "data" && *k != "metadata") {
            return Err(format!("line {number}: unknown key `{key}` (a line has `data` and optionally `metadata`)"));
        }
        let data = match object.remove("data") {
            Some(data @ Value::Object(_)) => data,
            _ => return Err(format!("line {number}: `data` must be the request as a JSON object")),
        };
        if data.to_string().contains("{{") {
            return Err(format!("line {number}: ghz templates ({{{{…}}}}) are not supported by kaigo bench"));
        }
        let message = DynamicMessage::deserialize(method.input(), data)
            .map_err(|e| format!("line {number}: `data` is not a {}: {e}", method.input().full_name()))?;
        let which = match object.remove("metadata") {
            None => 0,
            Some(Value::Object(entries)) => {
                let raw = Value::Object(entries.clone()).to_string();
                match seen.get(&raw) {
                    Some(&which) => which,
                    None => {
                        let mut set = BTreeMap::new();
                        for (key, value) in entries {
                            let value = value
                                .as_str()
                                .ok_or_else(|| format!("line {number}: metadata `{key}` must be a string"))?;
                            let value =
                                fill(value, &env).map_err(|e| format!("line {number}: metadata `{key}`: {e}"))?;
                            set.insert(key.to_ascii_lowercase(), value);
                        }
                        let which = u32::try_from(lines.metadata.len()).map_err(|_| "too many metadata sets")?;
                        lines.metadata.push(set);
                        seen.insert(raw, which);
                        which
                    }
                }
            }
            Some(_) => return Err(format!("line {number}: `metadata` must be an object of strings")),
        };
        lines.payloads.push(Bytes::from(message.encode_to_vec()));
        lines.metadata_of.push(which);
    }
    if lines.payloads.is_empty() {
        return Err("no lines".to_owned());
    }
    Ok(lines)
}

/// `value` with every `${NAME}` replaced by the environment variable NAME.
fn fill(value: &str, env: &impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or("an unclosed `${`")?;
        let name = &after[..end];
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(format!("`${{{name}}}` is not an environment variable name"));
        }
        out.push_str(env(name).ok_or_else(|| format!("the environment variable {name} is not set"))?.trim());
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::payload::{descriptor_pool, find_method};

    fn check() -> MethodDescriptor {
        find_method(&descriptor_pool().unwrap(), "kaigo.eligibility.v1.EligibilityService.CheckEligibility").unwrap()
    }

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN_A" => Some("aaa\n".to_owned()),
            "TOKEN_B" => Some("bbb".to_owned()),
            _ => None,
        }
    }

    #[test]
    fn each_line_is_a_call_and_metadata_sets_are_kept_once() {
        let text = concat!(
            r#"{"data": {"insurer_number": "435073", "insured_number": "0000000001"}, "metadata": {"Authorization": "Bearer ${TOKEN_A}"}}"#,
            "\n\n",
            r#"{"data": {"insurer_number": "122192", "insured_number": "0000000002"}, "metadata": {"authorization": "Bearer ${TOKEN_B}"}}"#,
            "\n",
            r#"{"data": {"insurer_number": "435073", "insured_number": "0000000003"}, "metadata": {"Authorization": "Bearer ${TOKEN_A}"}}"#,
            "\n",
            r#"{"data": {"insurer_number": "435073", "insured_number": "0000000004"}}"#,
            "\n",
        );
        let lines = read(&check(), text.as_bytes(), env).unwrap();
        assert_eq!(lines.payloads.len(), 4);
        assert_eq!(lines.metadata_of, vec![1, 2, 1, 0]);
        assert_eq!(lines.metadata.len(), 3);
        assert!(lines.metadata[0].is_empty());
        assert_eq!(lines.metadata[1]["authorization"], "Bearer aaa");
        assert_eq!(lines.metadata[2]["authorization"], "Bearer bbb");
        let third =
            kaigo_proto::kaigo::eligibility::v1::CheckEligibilityRequest::decode(lines.payloads[2].clone()).unwrap();
        assert_eq!((third.insurer_number.as_str(), third.insured_number.as_str()), ("435073", "0000000003"));
    }

    #[test]
    fn errors_name_the_line() {
        let read = |text: &str| read(&check(), text.as_bytes(), env).unwrap_err();
        let ok = r#"{"data": {"insurer_number": "435073"}}"#;
        assert!(read(&format!("{ok}\nnot json\n")).starts_with("line 2: not JSON"));
        assert!(read(r#"{"data": {"insurer_numbr": "435073"}}"#).contains("line 1: `data` is not a"));
        assert!(read(r#"{"data": {"insurer_number": "435073"}, "headers": {}}"#).contains("unknown key `headers`"));
        assert!(read(r#"{"data": [1]}"#).contains("line 1: `data` must be"));
        assert!(read(r#"{"data": {}, "metadata": {"a": "${NOT_SET}"}}"#).contains("NOT_SET is not set"));
        assert!(read(r#"{"data": {}, "metadata": {"a": "${TOKEN_A"}}"#).contains("unclosed"));
        assert!(read(r#"{"data": {}, "metadata": {"a": 1}}"#).contains("must be a string"));
        assert!(read(r#"{"data": {"insurer_number": "{{.UUID}}"}}"#).contains("templates"));
        assert_eq!(read("\n\n"), "no lines");
    }
}

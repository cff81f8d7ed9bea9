//! The CSV wire format of the standard (v3.2 and v4.1): MS932 text, comma separated, free text
//! quoted. [`read_file`] parses and validates one file into the model; [`scan_file`] does the
//! same checks while keeping no rows (for large bundles); [`write_file`] renders the model.
//!
//! Byte-identical rewriting: the writer's canonical form is CRLF, free text quoted, other
//! columns bare. Whatever a valid file does differently (LF, a missing final newline, a
//! quoted code, a zero-padded number, an alternative MS932 byte sequence) is recorded in
//! [`WireStyle`] and replayed, so a file read and written again is the same bytes.

mod ms932;
mod reader;
mod tokenizer;
mod writer;

use std::collections::BTreeMap;

pub use ms932::{DecodeError, EncodeError, decode, encode, looks_like_utf8};
pub use reader::{FileSummary, ReadOutcome, read_file, scan_file};
pub use tokenizer::LineEnding;
pub use writer::write_file;

/// A field written differently from the canonical form: the canonical text it stands for, and
/// the raw bytes as they were (quotes included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verbatim {
    pub canonical: String,
    pub raw: Vec<u8>,
}

/// The formatting facts of one file, needed to write it back byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireStyle {
    /// The line ending of most records.
    pub line_ending: LineEnding,
    /// Records ending differently (0-based record index).
    pub endings: BTreeMap<usize, LineEnding>,
    /// False when the last record has no line ending.
    pub final_newline: bool,
    /// A header line that was skipped, with its line ending.
    pub header: Option<Vec<u8>>,
    /// Fields written differently from the canonical form, by (record, 0-based wire column).
    pub verbatim: BTreeMap<(usize, usize), Verbatim>,
}

impl Default for WireStyle {
    /// The canonical style: CRLF after every record, no header.
    fn default() -> Self {
        Self {
            line_ending: LineEnding::CrLf,
            endings: BTreeMap::new(),
            final_newline: true,
            header: None,
            verbatim: BTreeMap::new(),
        }
    }
}

/// The canonical bytes of one field: free text in double quotes with `"` doubled; an empty
/// value is written as nothing.
pub(crate) fn canonical_field(text: &str, free_text: bool, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    if free_text && !text.is_empty() {
        out.push(b'"');
        if text.contains('"') {
            encode(&text.replace('"', "\"\""), out).map_err(|e| {
                // Positions count the characters of the unescaped text.
                let before: String = text.replace('"', "\"\"").chars().take(e.char_position).collect();
                EncodeError { char_position: e.char_position - before.matches("\"\"").count() }
            })?;
        } else {
            encode(text, out)?;
        }
        out.push(b'"');
        Ok(())
    } else {
        encode(text, out)
    }
}

//! Splits MS932 CSV bytes into records and fields with a quote-aware state machine (quoted free
//! text may hold commas, CR/LF and doubled quotes). It works on bytes: in Shift_JIS the second
//! byte of a double-byte character is never `"`, `,`, CR or LF, so the structure is found
//! before decoding and every field keeps its exact byte range for a byte-identical rewrite.

use std::ops::Range;

/// How a record ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnding {
    CrLf,
    Lf,
    Cr,
}

impl LineEnding {
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Self::CrLf => b"\r\n",
            Self::Lf => b"\n",
            Self::Cr => b"\r",
        }
    }
}

/// A structural problem in a record: the 0-based field, an absolute byte position, a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub field: usize,
    pub position: usize,
    pub code: &'static str,
    pub message: &'static str,
}

/// One record as found in the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    /// 1-based line where the record starts.
    pub line: u32,
    /// Absolute offset of that line's first byte.
    pub line_start: usize,
    /// Each field's raw byte range (quotes included).
    pub fields: Vec<Range<usize>>,
    /// `None` when the record ends at the end of the file without a line ending.
    pub ending: Option<LineEnding>,
    pub errors: Vec<SyntaxError>,
}

/// Iterates over the records of `bytes`.
pub struct Tokenizer<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: u32,
    line_start: usize,
}

impl<'a> Tokenizer<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0, line: 1, line_start: 0 }
    }

    /// Consumes a line ending at `pos`, if any, counting the line.
    fn line_ending_at(&mut self, pos: usize) -> Option<LineEnding> {
        match self.bytes.get(pos) {
            Some(b'\r') if self.bytes.get(pos + 1) == Some(&b'\n') => Some(LineEnding::CrLf),
            Some(b'\r') => Some(LineEnding::Cr),
            Some(b'\n') => Some(LineEnding::Lf),
            _ => None,
        }
    }

    fn newline(&mut self, after: usize) {
        self.line += 1;
        self.line_start = after;
    }
}

impl Iterator for Tokenizer<'_> {
    type Item = RawRecord;

    fn next(&mut self) -> Option<RawRecord> {
        if self.pos >= self.bytes.len() {
            return None;
        }
        let mut record = RawRecord {
            line: self.line,
            line_start: self.line_start,
            fields: Vec::new(),
            ending: None,
            errors: Vec::new(),
        };
        loop {
            let start = self.pos;
            let field = record.fields.len();
            if self.bytes.get(self.pos) == Some(&b'"') {
                self.pos += 1;
                let mut closed = false;
                while self.pos < self.bytes.len() {
                    match self.bytes[self.pos] {
                        b'"' if self.bytes.get(self.pos + 1) == Some(&b'"') => self.pos += 2,
                        b'"' => {
                            self.pos += 1;
                            closed = true;
                            break;
                        }
                        _ => {
                            if let Some(ending) = self.line_ending_at(self.pos) {
                                let len = ending.bytes().len();
                                self.pos += len;
                                self.newline(self.pos);
                            } else {
                                self.pos += 1;
                            }
                        }
                    }
                }
                if !closed {
                    record.errors.push(SyntaxError {
                        field,
                        position: start,
                        code: "UNTERMINATED_QUOTE",
                        message: "a quoted field is not closed before the end of the file",
                    });
                }
                // Anything between the closing quote and the delimiter is a syntax error; it is
                // kept in the field so that nothing is lost.
                let mut reported = false;
                while self.pos < self.bytes.len()
                    && self.bytes[self.pos] != b','
                    && self.line_ending_at(self.pos).is_none()
                {
                    if !reported {
                        record.errors.push(SyntaxError {
                            field,
                            position: self.pos,
                            code: "TEXT_AFTER_QUOTE",
                            message: "text follows the closing quote of a field",
                        });
                        reported = true;
                    }
                    self.pos += 1;
                }
            } else {
                let mut reported = false;
                while self.pos < self.bytes.len()
                    && self.bytes[self.pos] != b','
                    && self.line_ending_at(self.pos).is_none()
                {
                    if self.bytes[self.pos] == b'"' && !reported {
                        record.errors.push(SyntaxError {
                            field,
                            position: self.pos,
                            code: "STRAY_QUOTE",
                            message: "a double quote inside a field that is not quoted",
                        });
                        reported = true;
                    }
                    self.pos += 1;
                }
            }
            record.fields.push(start..self.pos);
            if self.bytes.get(self.pos) == Some(&b',') {
                self.pos += 1;
                continue;
            }
            if let Some(ending) = self.line_ending_at(self.pos) {
                self.pos += ending.bytes().len();
                self.newline(self.pos);
                record.ending = Some(ending);
            }
            return Some(record);
        }
    }
}

/// The line and byte offset within it of absolute position `pos`, counting from the start of
/// the record's line (quoted fields may span lines).
pub fn locate(bytes: &[u8], line: u32, line_start: usize, pos: usize) -> (u32, usize) {
    let mut line = line;
    let mut start = line_start;
    let mut i = line_start;
    while i < pos.min(bytes.len()) {
        match bytes[i] {
            b'\n' => {
                line += 1;
                start = i + 1;
            }
            b'\r' if bytes.get(i + 1) != Some(&b'\n') => {
                line += 1;
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    (line, pos.saturating_sub(start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(bytes: &[u8]) -> Vec<Vec<String>> {
        Tokenizer::new(bytes)
            .map(|r| r.fields.iter().map(|f| String::from_utf8_lossy(&bytes[f.clone()]).into_owned()).collect())
            .collect()
    }

    #[test]
    fn quoted_fields_keep_commas_newlines_and_doubled_quotes() {
        let bytes = b"a,\"b,\r\nc\",\"d\"\"e\"\r\nf,,\n";
        assert_eq!(texts(bytes), vec![vec!["a", "\"b,\r\nc\"", "\"d\"\"e\""], vec!["f", "", ""]]);
        let records: Vec<_> = Tokenizer::new(bytes).collect();
        assert_eq!(records[0].ending, Some(LineEnding::CrLf));
        assert_eq!(records[1].line, 3);
        assert_eq!(records[1].ending, Some(LineEnding::Lf));
    }

    #[test]
    fn a_missing_final_newline_is_remembered() {
        let records: Vec<_> = Tokenizer::new(b"a,b").collect();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].ending, None);
    }

    #[test]
    fn syntax_errors_are_reported_with_their_field() {
        let records: Vec<_> = Tokenizer::new(b"a,b\"c,\"d\"x\r\n\"open").collect();
        let codes: Vec<_> = records.iter().flat_map(|r| r.errors.iter().map(|e| (e.field, e.code))).collect();
        assert_eq!(codes, vec![(1, "STRAY_QUOTE"), (2, "TEXT_AFTER_QUOTE"), (0, "UNTERMINATED_QUOTE")]);
    }

    #[test]
    fn positions_are_located_on_their_line() {
        let bytes = b"\"a\r\nbc\",x";
        assert_eq!(locate(bytes, 1, 0, 5), (2, 1));
        assert_eq!(locate(bytes, 1, 0, 1), (1, 1));
    }
}

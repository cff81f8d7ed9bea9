//! The audit batch in PostgreSQL's binary `COPY` format.
//!
//! Text `COPY` made both sides parse: the writer formatted every timestamp with chrono and
//! escaped every field, PostgreSQL parsed the timestamp and the `text[]` literals back (its
//! `array_in` reads quotes and backslashes character by character). In the binary format a
//! timestamp is eight bytes and an array is its elements with their lengths, so neither side
//! parses anything (loadtest/README.md#audit-binary-copy).
//!
//! The format (PostgreSQL documentation, "COPY", section "Binary Format"): a signature, flags
//! and a header-extension length; per row the number of fields, then each field as a 32-bit
//! length and its bytes in the type's binary send form; a trailer of -1. Integers are big-endian.
//! `timestamptz` sends microseconds since 2000-01-01 00:00 UTC as an `int8`; `varchar` and
//! `text` their UTF-8 bytes; a one-dimensional `text[]` its dimension count, a has-nulls flag,
//! the element type's OID, per dimension its length and lower bound, then each element as a
//! length and its bytes (an empty array: no dimensions).

use chrono::{DateTime, Utc};

use super::Row;

/// The columns of a row, in the order [`encode`] writes them.
pub(super) const COLUMNS: &str =
    "at, caller_role, caller_party, caller_subject, rpc, category, purpose, outcome, persons, resources";

/// Fields per row.
const FIELDS: i16 = 10;

/// The binary COPY signature: `PGCOPY\n\377\r\n\0`.
const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// OID of `text`, the element type of `text[]`.
const TEXT_OID: u32 = 25;

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 00:00 UTC).
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// `rows` as the whole input of `COPY audit_trail (COLUMNS) FROM STDIN WITH (FORMAT binary)`.
pub(super) fn encode(rows: &[Row]) -> Vec<u8> {
    let mut out = Vec::with_capacity(19 + rows.iter().map(row_len).sum::<usize>() + 2);
    out.extend_from_slice(SIGNATURE);
    out.extend_from_slice(&0_i32.to_be_bytes()); // flags: no OIDs
    out.extend_from_slice(&0_i32.to_be_bytes()); // header extension: none
    for row in rows {
        out.extend_from_slice(&FIELDS.to_be_bytes());
        timestamp(&mut out, row.at);
        for field in [row.caller_role, &row.caller_party, &row.caller_subject, row.read.rpc, row.read.category] {
            text(&mut out, field);
        }
        text(&mut out, &row.read.purpose);
        text(&mut out, row.read.outcome);
        text_array(&mut out, &row.read.persons);
        text_array(&mut out, &row.read.resources);
    }
    out.extend_from_slice(&(-1_i16).to_be_bytes());
    out
}

/// The bytes [`encode`] writes for `row` (so the batch's buffer is allocated once).
fn row_len(row: &Row) -> usize {
    let texts = [
        row.caller_role,
        &row.caller_party,
        &row.caller_subject,
        row.read.rpc,
        row.read.category,
        &row.read.purpose,
        row.read.outcome,
    ];
    let array = |items: &[String]| {
        if items.is_empty() { 4 + 12 } else { 4 + 20 + items.iter().map(|i| 4 + i.len()).sum::<usize>() }
    };
    2 + (4 + 8)
        + texts.iter().map(|t| 4 + t.len()).sum::<usize>()
        + array(&row.read.persons)
        + array(&row.read.resources)
}

/// A field's length prefix. Every field here is far below 2 GiB (records are bounded by the
/// audited requests' own limits); a longer one would be a bug, and PostgreSQL would refuse
/// the batch rather than store a wrong value.
fn length(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&i32::try_from(len).unwrap_or(i32::MAX).to_be_bytes());
}

fn timestamp(out: &mut Vec<u8>, at: DateTime<Utc>) {
    length(out, 8);
    out.extend_from_slice(&(at.timestamp_micros() - POSTGRES_EPOCH_MICROS).to_be_bytes());
}

fn text(out: &mut Vec<u8>, value: &str) {
    length(out, value.len());
    out.extend_from_slice(value.as_bytes());
}

fn text_array(out: &mut Vec<u8>, items: &[String]) {
    if items.is_empty() {
        length(out, 12);
        out.extend_from_slice(&0_i32.to_be_bytes()); // no dimensions
        out.extend_from_slice(&0_i32.to_be_bytes()); // no nulls
        out.extend_from_slice(&TEXT_OID.to_be_bytes());
        return;
    }
    length(out, 20 + items.iter().map(|i| 4 + i.len()).sum::<usize>());
    out.extend_from_slice(&1_i32.to_be_bytes()); // one dimension
    out.extend_from_slice(&0_i32.to_be_bytes()); // no nulls
    out.extend_from_slice(&TEXT_OID.to_be_bytes());
    length(out, items.len());
    out.extend_from_slice(&1_i32.to_be_bytes()); // lower bound
    for item in items {
        text(out, item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::ReadRecord;

    fn row(persons: &[&str], resources: &[&str]) -> Row {
        Row {
            at: DateTime::parse_from_rfc3339("2000-01-01T00:00:01.000002Z").unwrap().with_timezone(&Utc),
            caller_role: "insurer",
            caller_party: "435073".to_owned(),
            caller_subject: "clerk".to_owned(),
            read: ReadRecord {
                rpc: "CheckEligibility",
                category: "eligibility",
                purpose: "P".to_owned(),
                outcome: "allowed",
                persons: persons.iter().map(|p| (*p).to_owned()).collect(),
                resources: resources.iter().map(|r| (*r).to_owned()).collect(),
            },
        }
    }

    fn be32(bytes: &[u8]) -> i32 {
        i32::from_be_bytes(bytes.try_into().unwrap())
    }

    #[test]
    fn a_batch_is_the_header_its_rows_and_the_trailer_and_its_size_is_known_in_advance() {
        let rows = [row(&["435073:0000000001"], &[]), row(&["a", "bc"], &["x"])];
        let bytes = encode(&rows);
        assert_eq!(&bytes[..11], SIGNATURE);
        assert_eq!(&bytes[11..19], &[0; 8]);
        assert_eq!(&bytes[bytes.len() - 2..], &[0xff, 0xff]);
        assert_eq!(bytes.len(), 19 + rows.iter().map(row_len).sum::<usize>() + 2);
    }

    #[test]
    fn a_timestamp_counts_microseconds_from_the_year_2000_and_texts_go_unescaped() {
        let bytes = encode(&[row(&[], &[])]);
        let fields = &bytes[19..];
        assert_eq!(i16::from_be_bytes([fields[0], fields[1]]), 10);
        assert_eq!(be32(&fields[2..6]), 8);
        assert_eq!(i64::from_be_bytes(fields[6..14].try_into().unwrap()), 1_000_002);
        assert_eq!(be32(&fields[14..18]), 7);
        assert_eq!(&fields[18..25], b"insurer");
    }

    #[test]
    fn arrays_carry_their_dimension_element_type_and_each_elements_length() {
        let mut out = Vec::new();
        text_array(&mut out, &["a\t\"b".to_owned(), "設定".to_owned()]);
        let body = &out[4..];
        assert_eq!(be32(&out[..4]) as usize, body.len());
        assert_eq!((be32(&body[0..4]), be32(&body[4..8]), be32(&body[8..12])), (1, 0, 25));
        assert_eq!((be32(&body[12..16]), be32(&body[16..20])), (2, 1));
        assert_eq!(be32(&body[20..24]), 4);
        assert_eq!(&body[24..28], b"a\t\"b");
        assert_eq!(be32(&body[28..32]), 6);
        let mut empty = Vec::new();
        text_array(&mut empty, &[]);
        assert_eq!(empty, [0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25]);
    }
}

//! MS932 (Windows-31J) both ways. encoding_rs's Shift_JIS is the WHATWG one, which is
//! Windows-31J: the NEC and IBM extensions decode. Bytes that do not decode, and 外字 (the
//! user-defined area, decoded to the Private Use Area), are refused with their byte offset;
//! text with a character MS932 cannot hold is refused with that character's position.

use encoding_rs::{DecoderResult, EncoderResult, SHIFT_JIS};

/// Why bytes are not MS932 text: the offset of the first bad byte and a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError {
    pub offset: usize,
    pub code: &'static str,
}

/// Decodes MS932 bytes.
pub fn decode(bytes: &[u8]) -> Result<String, DecodeError> {
    if bytes.is_ascii() {
        // ASCII bytes are the same in MS932 (0x5C and 0x7E decode to \ and ~ in Windows-31J).
        return Ok(String::from_utf8_lossy(bytes).into_owned());
    }
    let mut decoder = SHIFT_JIS.new_decoder_without_bom_handling();
    let mut out = String::with_capacity(bytes.len() * 3 / 2 + 4);
    let mut read_total = 0;
    loop {
        let (result, read) = decoder.decode_to_string_without_replacement(&bytes[read_total..], &mut out, true);
        read_total += read;
        match result {
            DecoderResult::InputEmpty => break,
            DecoderResult::OutputFull => out.reserve(bytes.len()),
            DecoderResult::Malformed(bad, extra) => {
                let offset = read_total - usize::from(bad) - usize::from(extra);
                return Err(DecodeError { offset, code: "NOT_MS932" });
            }
        }
    }
    if let Some(pua) = first_gaiji(&out) {
        // Find the byte offset of the character: re-decode char by char up to it.
        return Err(DecodeError { offset: byte_offset_of_char(bytes, pua), code: "GAIJI" });
    }
    Ok(out)
}

/// The index (in chars) of the first Private Use Area character, if any.
fn first_gaiji(text: &str) -> Option<usize> {
    text.chars().position(|c| ('\u{E000}'..='\u{F8FF}').contains(&c))
}

/// The byte offset in MS932 `bytes` of the `n`-th decoded character.
fn byte_offset_of_char(bytes: &[u8], n: usize) -> usize {
    let mut i = 0;
    for _ in 0..n {
        let lead = bytes.get(i).copied().unwrap_or(0);
        i += if matches!(lead, 0x81..=0x9F | 0xE0..=0xFC) { 2 } else { 1 };
    }
    i
}

/// True when `bytes` look like UTF-8 rather than MS932: a UTF-8 BOM, or non-ASCII text that is
/// valid UTF-8 (Japanese MS932 text almost never is), so a UTF-8 file is refused as a whole
/// instead of being read as mojibake.
pub fn looks_like_utf8(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xEF, 0xBB, 0xBF]) || (!bytes.is_ascii() && std::str::from_utf8(bytes).is_ok())
}

/// A character MS932 cannot hold: its 0-based position in chars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeError {
    pub char_position: usize,
}

/// Encodes text as MS932, refusing (not replacing) any character outside it.
pub fn encode(text: &str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    if text.is_ascii() {
        out.extend_from_slice(text.as_bytes());
        return Ok(());
    }
    if let Some(pos) = first_gaiji(text) {
        return Err(EncodeError { char_position: pos });
    }
    let mut encoder = SHIFT_JIS.new_encoder();
    let mut read_total = 0;
    loop {
        let start = out.len();
        out.resize(start + (text.len() - read_total) * 2 + 8, 0);
        let (result, read, written) =
            encoder.encode_from_utf8_without_replacement(&text[read_total..], &mut out[start..], true);
        out.truncate(start + written);
        read_total += read;
        match result {
            EncoderResult::InputEmpty => return Ok(()),
            EncoderResult::OutputFull => {}
            EncoderResult::Unmappable(c) => {
                let byte_pos = read_total - c.len_utf8();
                return Err(EncodeError { char_position: text[..byte_pos].chars().count() });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sjis(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        encode(text, &mut out).unwrap();
        out
    }

    #[test]
    fn japanese_text_round_trips() {
        let text = "山田　太郎，ﾔﾏﾀﾞ ①髙﨑～";
        assert_eq!(decode(&sjis(text)).unwrap(), text);
    }

    #[test]
    fn bad_bytes_are_refused_at_their_offset() {
        let mut bytes = sjis("あい");
        bytes.push(0x81); // a lead byte with no trail byte
        assert_eq!(decode(&bytes), Err(DecodeError { offset: 4, code: "NOT_MS932" }));
        assert_eq!(decode(&[b'a', 0xFF]), Err(DecodeError { offset: 1, code: "NOT_MS932" }));
    }

    #[test]
    fn utf8_files_are_recognised() {
        assert!(looks_like_utf8("山田".as_bytes()));
        assert!(looks_like_utf8(b"\xEF\xBB\xBFabc"));
        assert!(!looks_like_utf8(&sjis("山田太郎")));
        assert!(!looks_like_utf8(b"abc"));
    }

    #[test]
    fn gaiji_are_refused_at_their_offset() {
        let mut bytes = sjis("あa");
        bytes.extend_from_slice(&[0xF0, 0x40]); // the user-defined area
        assert_eq!(decode(&bytes), Err(DecodeError { offset: 3, code: "GAIJI" }));
    }

    #[test]
    fn characters_outside_ms932_are_refused_by_position() {
        let mut out = Vec::new();
        assert_eq!(encode("ab😀c", &mut out), Err(EncodeError { char_position: 2 }));
        assert_eq!(encode("あ𠮷", &mut out), Err(EncodeError { char_position: 1 }));
        assert_eq!(encode("x\u{E000}", &mut out), Err(EncodeError { char_position: 1 }));
    }
}

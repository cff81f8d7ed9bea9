//! Recognising a PDF from its bytes while they stream in: the header at the start and the
//! end-of-file marker near the end (ISO 32000: `%%EOF` within the last 1024 bytes). The name a
//! client gives a file is never trusted for its type.

/// The media type of an accepted file.
pub const PDF_MEDIA_TYPE: &str = "application/pdf";
/// How far from the end `%%EOF` may sit (trailing whitespace or a last comment).
pub const TAIL_WINDOW: usize = 1024;

/// Why content is not an acceptable PDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PdfError {
    /// It does not start with `%PDF-<major>.<minor>`.
    NotPdf,
    /// It starts like a PDF but has no `%%EOF` near the end: cut short.
    Truncated,
}

impl PdfError {
    /// A developer-facing description.
    pub fn message(self) -> &'static str {
        match self {
            PdfError::NotPdf => "content is not a PDF (it must start with %PDF-1.x or %PDF-2.x)",
            PdfError::Truncated => "the PDF has no %%EOF marker at its end: the file is truncated",
        }
    }
}

/// Checks a PDF incrementally with bounded memory: the first 8 bytes and the last
/// [`TAIL_WINDOW`] bytes are all it keeps.
#[derive(Debug, Default)]
pub struct PdfSniffer {
    head: Vec<u8>,
    tail: Vec<u8>,
}

const HEAD_LEN: usize = 8;

impl PdfSniffer {
    /// A sniffer that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes; refuses as soon as the header is known to be wrong.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), PdfError> {
        if self.head.len() < HEAD_LEN {
            let take = (HEAD_LEN - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
            if !header_may_be_pdf(&self.head) {
                return Err(PdfError::NotPdf);
            }
        }
        if chunk.len() >= TAIL_WINDOW {
            self.tail.clear();
            self.tail.extend_from_slice(&chunk[chunk.len() - TAIL_WINDOW..]);
        } else {
            self.tail.extend_from_slice(chunk);
            let excess = self.tail.len().saturating_sub(TAIL_WINDOW);
            self.tail.drain(..excess);
        }
        Ok(())
    }

    /// Decides once everything arrived.
    pub fn finish(&self) -> Result<(), PdfError> {
        if self.head.len() < HEAD_LEN || !header_may_be_pdf(&self.head) {
            return Err(PdfError::NotPdf);
        }
        if self.tail.windows(5).any(|w| w == b"%%EOF") { Ok(()) } else { Err(PdfError::Truncated) }
    }
}

/// True when `head` (up to 8 bytes) is a prefix of `%PDF-d.d`.
fn header_may_be_pdf(head: &[u8]) -> bool {
    head.iter().enumerate().all(|(i, b)| match i {
        0..=4 => *b == b"%PDF-"[i],
        5 => *b == b'1' || *b == b'2',
        6 => *b == b'.',
        _ => b.is_ascii_digit(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(parts: &[&[u8]]) -> Result<(), PdfError> {
        let mut s = PdfSniffer::new();
        for p in parts {
            s.push(p)?;
        }
        s.finish()
    }

    #[test]
    fn a_pdf_is_recognised_across_chunk_boundaries() {
        assert_eq!(check(&[b"%P", b"DF-1.7\n", &[0u8; 5000], b"trailer\n%%EO", b"F\n"]), Ok(()));
        assert_eq!(check(&[b"%PDF-2.0\nbody\n%%EOF"]), Ok(()));
    }

    #[test]
    fn other_content_is_refused_at_once() {
        let mut s = PdfSniffer::new();
        assert_eq!(s.push(b"PK\x03\x04"), Err(PdfError::NotPdf));
        assert_eq!(check(&[b"%PDF-3.0 x %%EOF"]), Err(PdfError::NotPdf));
        assert_eq!(check(&[b"%PD"]), Err(PdfError::NotPdf));
    }

    #[test]
    fn a_pdf_without_its_end_marker_is_truncated() {
        assert_eq!(check(&[b"%PDF-1.4\n", &[b'x'; 10_000]]), Err(PdfError::Truncated));
        // A marker far from the end does not count.
        assert_eq!(check(&[b"%PDF-1.4\n%%EOF\n", &[b' '; 2000]]), Err(PdfError::Truncated));
    }
}

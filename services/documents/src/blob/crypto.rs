//! Encryption at rest: AES-256-GCM over fixed-size chunks, each sealed with its own random
//! nonce, so uploads and downloads stream with memory bounded by one chunk.
//!
//! Blob layout: a header `KGA1 | key-id length (1) | key id | chunk size (u32 BE)`, then
//! frames `nonce (12) | ciphertext | tag (16)`. Every frame but the last holds exactly
//! [`CHUNK`] plaintext bytes; the last holds fewer (possibly none), so the end is explicit.
//! Each frame's associated data binds it to the attachment id, its index and whether it is
//! the last: frames cannot be reordered, dropped, moved to another blob, or cut off at the
//! end without decryption failing. The key id in the header (and in the metadata row) names
//! the key, so keys rotate: new blobs use the first configured key, old ones keep theirs.

use std::collections::HashMap;

use aes_gcm::aead::{AeadCore, AeadInPlace, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use base64::Engine;
use bytes::{Buf, Bytes, BytesMut};
use kaigo_platform::config::Secret;

/// Plaintext bytes per frame.
pub const CHUNK: usize = 64 * 1024;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Bytes of a full frame.
pub const FRAME: usize = NONCE_LEN + CHUNK + TAG_LEN;
const MAGIC: &[u8; 4] = b"KGA1";
const AAD_LABEL: &[u8] = b"kaigo.documents.attachment.v1";

/// The configured keys: the first encrypts, all decrypt.
#[derive(Clone)]
pub struct Keyring {
    active: String,
    active_cipher: Aes256Gcm,
    keys: HashMap<String, Aes256Gcm>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").field("active", &self.active).field("keys", &self.keys.len()).finish()
    }
}

impl Keyring {
    /// Parses `kid:base64key` entries (32-byte keys; ids of 1–32 letters, digits, `-`, `_`).
    /// Errors say which entry is wrong, never the key.
    pub fn parse(entries: &[Secret]) -> Result<Self, String> {
        let mut keys = HashMap::new();
        let mut active = None;
        for (i, entry) in entries.iter().enumerate() {
            let Some((kid, b64)) = entry.expose().split_once(':') else {
                return Err(format!("entry {i}: expected `kid:base64key`"));
            };
            if !(1..=32).contains(&kid.len())
                || !kid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(format!("entry {i}: the key id must be 1–32 letters, digits, '-' or '_'"));
            }
            let key = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| format!("entry {i} ({kid}): the key is not valid base64"))?;
            if key.len() != 32 {
                return Err(format!("entry {i} ({kid}): the key must be 32 bytes (AES-256), got {}", key.len()));
            }
            let cipher = Aes256Gcm::new_from_slice(&key).map_err(|_| format!("entry {i} ({kid}): unusable key"))?;
            if keys.insert(kid.to_owned(), cipher).is_some() {
                return Err(format!("entry {i}: key id {kid} appears twice"));
            }
            active.get_or_insert_with(|| kid.to_owned());
        }
        let active: String = active.ok_or_else(|| "at least one key is required".to_owned())?;
        let active_cipher = keys.get(&active).cloned().ok_or_else(|| "at least one key is required".to_owned())?;
        Ok(Self { active, active_cipher, keys })
    }

    /// A fresh random key as a config entry, for `kaigo dev` and tests.
    pub fn generate_entry(kid: &str) -> String {
        let key = Aes256Gcm::generate_key(OsRng);
        format!("{kid}:{}", base64::engine::general_purpose::STANDARD.encode(key))
    }

    /// The id of the key new blobs use.
    pub fn active_id(&self) -> &str {
        &self.active
    }

    /// An encryptor for a new blob of attachment `blob_id`, with the active key.
    pub fn encryptor(&self, blob_id: &str) -> Encryptor {
        Encryptor {
            cipher: self.active_cipher.clone(),
            kid: self.active.clone(),
            blob_id: blob_id.to_owned(),
            index: 0,
            buf: BytesMut::new(),
        }
    }

    /// An encryptor with key `kid` (an upload session keeps the key it started with, so a
    /// rotation mid-upload does not mix keys); `None` when the key is not configured.
    pub fn encryptor_with(&self, kid: &str, blob_id: &str) -> Option<Encryptor> {
        let cipher = self.keys.get(kid)?.clone();
        Some(Encryptor { cipher, kid: kid.to_owned(), blob_id: blob_id.to_owned(), index: 0, buf: BytesMut::new() })
    }

    /// A decryptor for blob `blob_id` written with key `kid`; `None` when the key is not
    /// configured any more.
    pub fn decryptor(&self, kid: &str, blob_id: &str) -> Option<Decryptor> {
        let cipher = self.keys.get(kid)?.clone();
        Some(Decryptor {
            cipher,
            kid: kid.to_owned(),
            blob_id: blob_id.to_owned(),
            index: 0,
            buf: BytesMut::new(),
            header_done: false,
        })
    }
}

fn aad(blob_id: &str, index: u64, last: bool) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + blob_id.len() + 9);
    aad.extend_from_slice(AAD_LABEL);
    aad.extend_from_slice(blob_id.as_bytes());
    aad.extend_from_slice(&index.to_be_bytes());
    aad.push(u8::from(last));
    aad
}

/// Seals plaintext into frames as it arrives.
pub struct Encryptor {
    cipher: Aes256Gcm,
    kid: String,
    blob_id: String,
    index: u64,
    buf: BytesMut,
}

impl Encryptor {
    /// The blob header (write it first).
    pub fn header(&self) -> Bytes {
        let mut h = Vec::with_capacity(4 + 1 + self.kid.len() + 4);
        h.extend_from_slice(MAGIC);
        h.push(u8::try_from(self.kid.len()).unwrap_or(u8::MAX));
        h.extend_from_slice(self.kid.as_bytes());
        h.extend_from_slice(&u32::try_from(CHUNK).unwrap_or(u32::MAX).to_be_bytes());
        Bytes::from(h)
    }

    /// Adds plaintext; returns the frames completed by it.
    pub fn push(&mut self, mut data: &[u8]) -> Vec<Bytes> {
        let mut frames = Vec::new();
        while !data.is_empty() {
            let take = (CHUNK - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() == CHUNK {
                let chunk = self.buf.split();
                frames.push(self.seal(chunk, false));
            }
        }
        frames
    }

    /// Seals the remaining bytes as the last frame.
    pub fn finish(mut self) -> Bytes {
        let chunk = self.buf.split();
        self.seal(chunk, true)
    }

    fn seal(&mut self, mut chunk: BytesMut, last: bool) -> Bytes {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = aad(&self.blob_id, self.index, last);
        self.index += 1;
        // Sealing only fails for plaintexts beyond GCM's 64 GiB limit, far above CHUNK.
        let tag = self.cipher.encrypt_in_place_detached(&nonce, &aad, &mut chunk).unwrap_or_default();
        let mut frame = BytesMut::with_capacity(NONCE_LEN + chunk.len() + TAG_LEN);
        frame.extend_from_slice(&nonce);
        frame.extend_from_slice(&chunk);
        frame.extend_from_slice(&tag);
        frame.freeze()
    }
}

/// Why a blob does not decrypt: it was altered, cut short, or is not ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    /// The header is missing or names another key.
    #[error("blob header is missing or does not match its metadata")]
    Header,
    /// A frame failed authentication (altered, reordered or from another blob).
    #[error("blob frame {0} failed authentication")]
    Tampered(u64),
    /// The blob ends early.
    #[error("blob is truncated")]
    Truncated,
}

/// Opens frames as ciphertext arrives.
pub struct Decryptor {
    cipher: Aes256Gcm,
    kid: String,
    blob_id: String,
    index: u64,
    buf: BytesMut,
    header_done: bool,
}

impl Decryptor {
    /// Adds ciphertext; returns the plaintext of the frames completed by it.
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<Bytes>, DecryptError> {
        self.buf.extend_from_slice(data);
        if !self.header_done && !self.read_header()? {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        // A full-size frame is never the last one (the last holds fewer than CHUNK bytes).
        while self.buf.len() >= FRAME {
            let frame = self.buf.split_to(FRAME);
            out.push(self.open(frame, false)?);
        }
        Ok(out)
    }

    /// Opens the last frame once the blob ended.
    pub fn finish(mut self) -> Result<Bytes, DecryptError> {
        if !self.header_done {
            return Err(DecryptError::Header);
        }
        if self.buf.len() < NONCE_LEN + TAG_LEN {
            return Err(DecryptError::Truncated);
        }
        let frame = self.buf.split();
        self.open(frame, true)
    }

    /// Parses the header once enough bytes arrived; false while more are needed.
    fn read_header(&mut self) -> Result<bool, DecryptError> {
        let need = 4 + 1 + self.kid.len() + 4;
        if self.buf.len() < need {
            return Ok(false);
        }
        let ok = &self.buf[..4] == MAGIC
            && usize::from(self.buf[4]) == self.kid.len()
            && &self.buf[5..5 + self.kid.len()] == self.kid.as_bytes()
            && self.buf[5 + self.kid.len()..need] == u32::try_from(CHUNK).unwrap_or(u32::MAX).to_be_bytes();
        if !ok {
            return Err(DecryptError::Header);
        }
        self.buf.advance(need);
        self.header_done = true;
        Ok(true)
    }

    fn open(&mut self, mut frame: BytesMut, last: bool) -> Result<Bytes, DecryptError> {
        let index = self.index;
        self.index += 1;
        let nonce = frame.split_to(NONCE_LEN);
        let tag = frame.split_off(frame.len() - TAG_LEN);
        let aad = aad(&self.blob_id, index, last);
        self.cipher
            .decrypt_in_place_detached(Nonce::from_slice(&nonce), &aad, &mut frame, Tag::from_slice(&tag))
            .map_err(|_| DecryptError::Tampered(index))?;
        Ok(frame.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(entries: &[&str]) -> Keyring {
        Keyring::parse(&entries.iter().map(|e| Secret::new(*e)).collect::<Vec<_>>()).unwrap()
    }

    fn seal(ring: &Keyring, id: &str, data: &[u8], piece: usize) -> Vec<u8> {
        let mut e = ring.encryptor(id);
        let mut out = e.header().to_vec();
        for p in data.chunks(piece.max(1)) {
            for f in e.push(p) {
                out.extend_from_slice(&f);
            }
        }
        out.extend_from_slice(&e.finish());
        out
    }

    fn open(ring: &Keyring, kid: &str, id: &str, blob: &[u8], piece: usize) -> Result<Vec<u8>, DecryptError> {
        let mut d = ring.decryptor(kid, id).unwrap();
        let mut out = Vec::new();
        for p in blob.chunks(piece.max(1)) {
            for c in d.push(p)? {
                out.extend_from_slice(&c);
            }
        }
        out.extend_from_slice(&d.finish()?);
        Ok(out)
    }

    #[test]
    fn round_trips_at_every_boundary() {
        let ring = ring(&[&Keyring::generate_entry("k1")]);
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for piece in [1000, CHUNK, 7 * CHUNK] {
                let blob = seal(&ring, "a", &data, piece);
                assert_eq!(open(&ring, "k1", "a", &blob, 4096).unwrap(), data, "len {len} piece {piece}");
            }
        }
    }

    #[test]
    fn alterations_truncation_and_splicing_are_detected() {
        let ring = ring(&[&Keyring::generate_entry("k1")]);
        let data = vec![7u8; 2 * CHUNK + 5];
        let blob = seal(&ring, "a", &data, CHUNK);
        let mut flipped = blob.clone();
        flipped[100] ^= 1;
        assert_eq!(open(&ring, "k1", "a", &flipped, 4096), Err(DecryptError::Tampered(0)));
        // Cut at a frame boundary: the new "last" frame was sealed as not-last.
        let header = 4 + 1 + 2 + 4;
        let cut = &blob[..header + 2 * FRAME];
        assert!(open(&ring, "k1", "a", cut, 4096).is_err());
        assert!(open(&ring, "k1", "a", &blob[..blob.len() - 3], 4096).is_err());
        // The same bytes presented as another attachment.
        assert_eq!(open(&ring, "k1", "b", &blob, 4096), Err(DecryptError::Tampered(0)));
    }

    #[test]
    fn keys_rotate_by_id() {
        let old = Keyring::generate_entry("old");
        let new = Keyring::generate_entry("new");
        let before = ring(&[&old]);
        let blob = seal(&before, "a", b"%PDF-1.7 hello", 10);
        let after = ring(&[&new, &old]);
        assert_eq!(after.active_id(), "new");
        assert_eq!(open(&after, "old", "a", &blob, 3).unwrap(), b"%PDF-1.7 hello");
        assert_eq!(open(&after, "new", "a", &blob, 3), Err(DecryptError::Header));
        assert!(ring(&[&new]).decryptor("old", "a").is_none());
    }

    #[test]
    fn bad_key_entries_are_named_without_the_key() {
        let bad = |e: &str| Keyring::parse(&[Secret::new(e)]).unwrap_err();
        assert!(bad("nokid").contains("kid:base64key"));
        assert!(bad("k1:c2hvcnQ=").contains("32 bytes"));
        assert!(bad("k 1:AAAA").contains("key id"));
        assert!(Keyring::parse(&[]).is_err());
        let e = Keyring::generate_entry("k1");
        assert!(Keyring::parse(&[Secret::new(&e), Secret::new(&e)]).unwrap_err().contains("twice"));
    }
}

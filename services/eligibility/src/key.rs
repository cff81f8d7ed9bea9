//! The key of a person: 保険者番号 + 被保険者番号, 16 ASCII bytes.

use kaigo_platform::ids::{InsuredNumber, InsurerNumber};

/// Identifies one insured person. `Debug` is redacted: the insured number is personal data.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonKey([u8; 16]);

impl std::fmt::Debug for PersonKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PersonKey({}, <redacted>)", self.insurer())
    }
}

impl PersonKey {
    /// The key of a validated pair.
    pub fn new(insurer: &InsurerNumber, insured: &InsuredNumber) -> Self {
        let mut bytes = [0u8; 16];
        bytes[..6].copy_from_slice(insurer.as_str().as_bytes());
        bytes[6..].copy_from_slice(insured.as_str().as_bytes());
        Self(bytes)
    }

    /// Rebuilds a key from its 16 bytes (as stored in Redis), validating both parts.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let bytes: [u8; 16] = bytes.try_into().ok()?;
        let text = std::str::from_utf8(&bytes).ok()?;
        InsurerNumber::parse(&text[..6]).ok()?;
        InsuredNumber::parse(&text[6..]).ok()?;
        Some(Self(bytes))
    }

    /// The 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// 保険者番号 (not personal data).
    pub fn insurer(&self) -> &str {
        // Built from validated ASCII.
        std::str::from_utf8(&self.0[..6]).unwrap_or_default()
    }

    /// 被保険者番号 (personal data: never log it).
    pub fn insured(&self) -> &str {
        std::str::from_utf8(&self.0[6..]).unwrap_or_default()
    }
}

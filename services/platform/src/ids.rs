//! Validated identifiers of the long-term-care system (docs/domain/identifiers.md).
//!
//! Parse once at the edge (the api layer), then trust the type. Every refusal names the rule
//! that failed, never echoes the value (an insured number is personal data).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a string is not a valid identifier. The message names the rule, not the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Wrong number of characters.
    #[error("must be exactly {expected} characters, got {actual}")]
    Length { expected: usize, actual: usize },
    /// A character outside the allowed set (full-width digits, spaces, lower case …).
    #[error("{rule}; found a disallowed character at position {position}")]
    Character { position: usize, rule: &'static str },
    /// The final character is not the modulus-10 weight-2-1 check digit of the rest.
    #[error("check digit does not match (modulus 10, weights 2-1 from the right, digit sum)")]
    CheckDigit,
}

/// Maps one character to its check-digit value: digits 0–9, letters A=10 … Z=32 with I, O and Q
/// skipped (docs/domain/identifiers.md#office-number). Returns `None` for anything else.
fn char_value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'I' | b'O' | b'Q' => None,
        b'A'..=b'Z' => {
            // Count the skipped letters before `c` so that Z lands on 32.
            let skipped = [b'I', b'O', b'Q'].iter().filter(|&&s| s < c).count() as u32;
            Some(u32::from(c - b'A') + 10 - skipped)
        }
        _ => None,
    }
}

/// The modulus-10 weight-2-1 check digit over `payload` (docs/domain/identifiers.md#check-digit):
/// weights 2,1,2,… from the rightmost payload character, two-digit products added as their digits
/// (a letter's value times its weight can reach 64, so every digit of the product is added).
pub fn check_digit(payload: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    for (i, &c) in payload.iter().rev().enumerate() {
        let weight = if i % 2 == 0 { 2 } else { 1 };
        let mut product = char_value(c)? * weight;
        while product > 0 {
            sum += product % 10;
            product /= 10;
        }
    }
    Some(((10 - sum % 10) % 10) as u8)
}

/// The rule a full-width character breaks (an IME left on): said as what is expected instead.
const HALF_WIDTH_ONLY: &str =
    "full-width characters are not accepted: type half-width digits (and upper-case letters where allowed)";

fn check_length(s: &str, expected: usize) -> Result<(), IdError> {
    // Characters, not bytes: a full-width digit is one character the next check names.
    let actual = s.chars().count();
    if actual == expected { Ok(()) } else { Err(IdError::Length { expected, actual }) }
}

/// Checks every character against `allowed` (which sees ASCII bytes only); the position is the
/// character's, counted from 1. A full-width character is refused as such.
fn check_chars(s: &str, rule: &'static str, allowed: impl Fn(usize, u8) -> bool) -> Result<(), IdError> {
    for (i, c) in s.chars().enumerate() {
        let ok = u8::try_from(c).ok().filter(u8::is_ascii).is_some_and(|b| allowed(i, b));
        if !ok {
            let full_width = matches!(c, '\u{FF01}'..='\u{FF5E}' | '\u{3000}');
            return Err(IdError::Character { position: i + 1, rule: if full_width { HALF_WIDTH_ONLY } else { rule } });
        }
    }
    Ok(())
}

fn verify_check_digit(s: &str) -> Result<(), IdError> {
    let bytes = s.as_bytes();
    let (payload, last) = bytes.split_at(bytes.len() - 1);
    match check_digit(payload) {
        Some(cd) if last[0] == b'0' + cd => Ok(()),
        _ => Err(IdError::CheckDigit),
    }
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The identifier as printed on the certificate.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

identifier! {
    /// 介護保険 保険者番号: the 5-digit municipality code plus a modulus-10 check digit
    /// (docs/domain/identifiers.md#insurer-number).
    /// Not personal data: it names a municipality, so it may appear in logs.
    InsurerNumber
}

impl fmt::Debug for InsurerNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InsurerNumber({})", self.0)
    }
}

impl InsurerNumber {
    /// Parses a 6-digit insurer number and verifies its check digit.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        check_length(s, 6)?;
        check_chars(s, "only the half-width digits 0-9 are allowed", |_, c| c.is_ascii_digit())?;
        verify_check_digit(s)?;
        Ok(Self(s.to_owned()))
    }

    /// The two-digit prefecture code (01 北海道 … 47 沖縄).
    pub fn prefecture(&self) -> &str {
        &self.0[..2]
    }
}

identifier! {
    /// 被保険者番号: 10 characters assigned by the insurer (docs/domain/identifiers.md#insured-number).
    /// No national check digit is known, so only the format is checked: digits and upper-case
    /// letters (some numbers, such as those of 生活保護 recipients, begin with a letter). Personal data: never logged, and its
    /// `Debug` form is redacted.
    InsuredNumber
}

impl fmt::Debug for InsuredNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InsuredNumber(<redacted>)")
    }
}

impl InsuredNumber {
    /// Parses a 10-character insured number (`^[0-9A-Z]{10}$`).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        check_length(s, 10)?;
        check_chars(s, "only half-width digits 0-9 and upper-case letters A-Z are allowed", |_, c| {
            c.is_ascii_digit() || c.is_ascii_uppercase()
        })?;
        Ok(Self(s.to_owned()))
    }

    /// Parses in strict mode: ten digits, no letters (for insurers that issue only digits).
    pub fn parse_strict(s: &str) -> Result<Self, IdError> {
        check_length(s, 10)?;
        check_chars(s, "only the half-width digits 0-9 are allowed", |_, c| c.is_ascii_digit())?;
        Ok(Self(s.to_owned()))
    }
}

identifier! {
    /// 介護保険事業所番号: prefecture (2), office class (1, a digit or a letter other than I/O/Q),
    /// area (2), serial (4) and a check digit over the first nine characters
    /// (docs/domain/identifiers.md#office-number).
    CareOfficeNumber
}

impl fmt::Debug for CareOfficeNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CareOfficeNumber({})", self.0)
    }
}

impl CareOfficeNumber {
    /// Parses a 10-character office number and verifies its check digit.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        check_length(s, 10)?;
        check_chars(
            s,
            "only half-width digits are allowed, except position 3, which may be an upper-case letter other than I, O or Q",
            |i, c| c.is_ascii_digit() || (i == 2 && c.is_ascii_uppercase() && !matches!(c, b'I' | b'O' | b'Q')),
        )?;
        verify_check_digit(s)?;
        Ok(Self(s.to_owned()))
    }

    /// Parses like [`Self::parse`], except that a number with a letter at position 3 is
    /// accepted when only its check digit fails: the rule for letters is UNCONFIRMED
    /// (docs/domain/identifiers.md#office-number). The flag is true when that happened, so the
    /// caller can warn or refuse as its setting says.
    pub fn parse_letter_unverified(s: &str) -> Result<(Self, bool), IdError> {
        match Self::parse(s) {
            Ok(number) => Ok((number, false)),
            Err(IdError::CheckDigit) if s.as_bytes().get(2).is_some_and(u8::is_ascii_uppercase) => {
                Ok((Self(s.to_owned()), true))
            }
            Err(err) => Err(err),
        }
    }

    /// The two-digit prefecture code.
    pub fn prefecture(&self) -> &str {
        &self.0[..2]
    }

    /// The office class (事業所区分), position 3.
    pub fn office_class(&self) -> char {
        char::from(self.0.as_bytes()[2])
    }
}

identifier! {
    /// 医療機関コード: prefecture (2), fee-table number (1), area (2), institution (4) and a
    /// check digit over the nine before it (docs/domain/identifiers.md#institution-code).
    MedicalInstitutionCode
}

impl fmt::Debug for MedicalInstitutionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MedicalInstitutionCode({})", self.0)
    }
}

impl MedicalInstitutionCode {
    /// Parses a 10-digit institution code and verifies its check digit.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        check_length(s, 10)?;
        check_chars(s, "only the half-width digits 0-9 are allowed", |_, c| c.is_ascii_digit())?;
        verify_check_digit(s)?;
        Ok(Self(s.to_owned()))
    }

    /// The two-digit prefecture code.
    pub fn prefecture(&self) -> &str {
        &self.0[..2]
    }
}

#[cfg(test)]
mod tests;

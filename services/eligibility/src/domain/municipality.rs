//! 全国地方公共団体コード: the municipality code a 住所地特例 record names
//! (docs/domain/identifiers.md#municipality-code).
//!
//! Six digits: the 5-digit code (prefecture 2, municipality 3) and a modulus-11 check digit with
//! weights 6,5,4,3,2 — not the modulus-10 digit of the 保険者番号.

/// The modulus-11 check digit of a 5-digit municipality code: 11 minus the weighted sum modulo
/// 11, its last digit (a remainder of 0 gives 1, of 1 gives 0). `None` unless five ASCII digits.
pub fn check_digit(code5: &str) -> Option<u8> {
    let bytes = code5.as_bytes();
    if bytes.len() != 5 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = bytes.iter().zip([6u32, 5, 4, 3, 2]).map(|(b, w)| u32::from(b - b'0') * w).sum();
    Some(((11 - sum % 11) % 10) as u8)
}

/// Why a municipality code is refused, said as what is expected.
pub fn validate(code: &str) -> Result<(), &'static str> {
    if code.chars().count() != 6 {
        return Err(
            "must be exactly 6 characters: the 5-digit 全国地方公共団体コード and its check digit, half-width (e.g. 131016)",
        );
    }
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        if code.chars().any(|c| matches!(c, '\u{FF01}'..='\u{FF5E}' | '\u{3000}')) {
            // Typed with the IME on.
            return Err("full-width characters are not accepted: type 6 half-width digits 0-9");
        }
        return Err("only the half-width digits 0-9 are allowed");
    }
    match check_digit(&code[..5]) {
        Some(cd) if code.as_bytes()[5] == b'0' + cd => Ok(()),
        _ => Err("check digit does not match (modulus 11, weights 6-5-4-3-2 over the first five digits)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_verify() {
        // 札幌市 011002, 千代田区 131016, 水上村 435074 (its 保険者番号 is 435073: another scheme).
        for code in ["011002", "131016", "122190", "122068"] {
            assert_eq!(validate(code), Ok(()), "{code}");
        }
        assert_eq!(check_digit("43507"), Some(4));
    }

    #[test]
    fn remainders_zero_and_one_give_one_and_zero() {
        // 10010: 1*6 + 1*3 = 9 → 2; find payloads with remainders 0 and 1 by search.
        let with_remainder = |r: u32| {
            (0..100_000u32)
                .map(|n| format!("{n:05}"))
                .find(|p| {
                    p.bytes().zip([6u32, 5, 4, 3, 2]).map(|(b, w)| u32::from(b - b'0') * w).sum::<u32>() % 11 == r
                })
                .unwrap()
        };
        assert_eq!(check_digit(&with_remainder(0)), Some(1));
        assert_eq!(check_digit(&with_remainder(1)), Some(0));
    }

    #[test]
    fn refusals_say_what_was_expected() {
        assert!(validate("13101").unwrap_err().contains("exactly 6 characters"));
        assert!(validate("１３１０１６").unwrap_err().contains("full-width"));
        assert!(validate("131017").unwrap_err().contains("modulus 11"));
        assert!(validate("13101A").unwrap_err().contains("only the half-width digits"));
        // The insurer-number scheme's digit is not this one.
        assert!(validate("435073").is_err());
    }
}

//! Small checks shared by the request and opinion validators: each records one violation that
//! names the field and the rule, and never echoes the value (it may be personal data).

use chrono::NaiveDate;
use kaigo_platform::errors::Violations;
use kaigo_proto::google::r#type::Date;

/// Longest single-line text (names, addresses, departments), in characters.
pub const MAX_LINE: usize = 200;
/// Longest free-text box (course and treatment, remarks …), in characters.
pub const MAX_TEXT: usize = 4000;

/// A text field: required or optional, at most `max` characters, no control characters
/// other than line breaks (a line field accepts none).
pub fn text(v: &mut Violations, field: &str, value: &str, required: bool, max: usize) {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        if required {
            v.add(field, "required");
        }
        return;
    }
    let count = value.chars().count();
    if count > max {
        v.add(field, format!("at most {max} characters (got {count})"));
    }
    let multiline = max > MAX_LINE;
    if value.chars().any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\r' || c == '\t'))) {
        v.add(field, "contains control characters");
    }
}

/// A text that must be empty unless `allowed` (e.g. 不安定の具体的状況 only when 不安定).
pub fn only_when(v: &mut Violations, field: &str, value: &str, allowed: bool, rule: &str) {
    if !allowed && !value.trim().is_empty() {
        v.add(field, format!("must be empty unless {rule}"));
    }
}

/// A telephone or fax number: digits with optional hyphens, 10 or 11 digits (Japanese fixed
/// and mobile numbers), or a 3–6 digit short number is not accepted.
pub fn phone(v: &mut Violations, field: &str, value: &str, required: bool) {
    if value.is_empty() {
        if required {
            v.add(field, "required");
        }
        return;
    }
    let digits = value.chars().filter(char::is_ascii_digit).count();
    if value.len() > MAX_PHONE || !value.chars().all(|c| c.is_ascii_digit() || c == '-') || !(10..=11).contains(&digits)
    {
        v.add(field, "10 or 11 digits, with optional hyphens (at most 13 characters)");
    }
}

/// A complete calendar date; `None` (after recording why) when absent or invalid.
pub fn date(v: &mut Violations, field: &str, value: Option<&Date>, required: bool) -> Option<NaiveDate> {
    match value {
        None => {
            if required {
                v.add(field, "required");
            }
            None
        }
        Some(d) => v.check(field, kaigo_proto::to_naive_date(d)),
    }
}

/// An enum code: unknown numbers are refused; the zero value counts as "not stated" and is
/// refused only when `required`.
pub fn code<E: TryFrom<i32>>(v: &mut Violations, field: &str, raw: i32, required: bool) -> Option<E> {
    if raw == 0 {
        if required {
            v.add(field, "required");
        }
        return None;
    }
    match E::try_from(raw) {
        Ok(value) => Some(value),
        Err(_) => {
            v.add(field, format!("unknown code {raw}"));
            None
        }
    }
}

/// Most values of a list of codes or of coded entries: more than any such list's enum declares
/// (at most 14), so a longer list is refused whole, with one violation, before its entries are
/// compared with each other.
pub const MAX_CODES: usize = 16;
/// Longest telephone or fax number, in characters: 11 digits and two hyphens.
pub const MAX_PHONE: usize = 13;

/// A list of enum codes: at most [`MAX_CODES`], each known and not zero, none repeated.
/// Returns the valid ones.
pub fn codes<E: TryFrom<i32>>(v: &mut Violations, field: &str, raws: &[i32]) -> Vec<E> {
    if !kaigo_platform::validate::at_most(v, field, raws, MAX_CODES) {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(raws.len());
    for (i, raw) in raws.iter().enumerate() {
        let item = format!("{field}[{i}]");
        if raws[..i].contains(raw) {
            v.add(&item, "listed twice");
            continue;
        }
        if let Some(value) = code::<E>(v, &item, *raw, true) {
            out.push(value);
        }
    }
    out
}

/// True when `value` is a canonical UUID string (our ids).
pub fn is_uuid(value: &str) -> bool {
    uuid::Uuid::try_parse(value).is_ok_and(|u| u.hyphenated().to_string() == value)
}

/// An id field that must be one of our UUIDs.
pub fn id(v: &mut Violations, field: &str, value: &str, required: bool) {
    if value.is_empty() {
        if required {
            v.add(field, "required");
        }
    } else if !is_uuid(value) {
        v.add(field, "must be a lower-case UUID");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(v: &Violations) -> Vec<String> {
        v.as_slice().iter().map(|f| format!("{}: {}", f.field, f.description)).collect()
    }

    #[test]
    fn texts_are_checked_for_presence_length_and_control_characters() {
        let mut v = Violations::new();
        text(&mut v, "a", "  ", true, MAX_LINE);
        text(&mut v, "b", &"x".repeat(201), true, MAX_LINE);
        text(&mut v, "c", "line\nbreak", true, MAX_LINE);
        text(&mut v, "d", "line\nbreak", true, MAX_TEXT);
        text(&mut v, "e", "", false, MAX_LINE);
        assert_eq!(
            fields(&v),
            ["a: required", "b: at most 200 characters (got 201)", "c: contains control characters"]
        );
    }

    #[test]
    fn phones_are_digits_and_hyphens() {
        let mut v = Violations::new();
        phone(&mut v, "ok", "03-1234-5678", true);
        phone(&mut v, "mobile", "09012345678", true);
        phone(&mut v, "short", "110", true);
        phone(&mut v, "letters", "03-1234-567a", true);
        phone(&mut v, "optional", "", false);
        assert_eq!(v.as_slice().len(), 2);
    }

    #[test]
    fn code_lists_refuse_zero_unknown_and_repeats() {
        use kaigo_proto::kaigo::documents::v1::SpecialMedicalCare;
        let mut v = Violations::new();
        let ok = codes::<SpecialMedicalCare>(&mut v, "care", &[1, 1, 0, 99, 12]);
        assert_eq!(ok, [SpecialMedicalCare::IvManagement, SpecialMedicalCare::Catheter]);
        assert_eq!(fields(&v), ["care[1]: listed twice", "care[2]: required", "care[3]: unknown code 99"]);
    }

    #[test]
    fn code_lists_and_phones_beyond_their_maximum_are_one_violation() {
        use kaigo_proto::kaigo::documents::v1::SpecialMedicalCare;
        let mut v = Violations::new();
        assert!(codes::<SpecialMedicalCare>(&mut v, "care", &[1; MAX_CODES + 1]).is_empty());
        assert_eq!(v.as_slice().len(), 1);
        assert_eq!(v.as_slice()[0].field, "care");
        // 11 digits padded with hyphens past 13 characters; 13 with two hyphens is taken.
        let mut v = Violations::new();
        phone(&mut v, "padded", "090--1234--5678", true);
        phone(&mut v, "ok", "090-1234-5678", true);
        assert_eq!(fields(&v), ["padded: 10 or 11 digits, with optional hyphens (at most 13 characters)"]);
    }

    #[test]
    fn ids_are_canonical_uuids() {
        assert!(is_uuid("0192f0c1-7a3b-7c00-8000-000000000001"));
        assert!(!is_uuid("0192F0C1-7A3B-7C00-8000-000000000001"));
        assert!(!is_uuid("not-a-uuid"));
    }
}

//! Shared checks of request fields that every service repeats: bounded repeated fields,
//! enum filters, bounded strings. Each adds one field violation per problem to [`Violations`]
//! and returns what the service should use.
//!
//! Dates are checked where they are converted (`kaigo_proto::to_naive_date`: full dates, years
//! 1900–2200).

use crate::errors::Violations;

/// A repeated field of at most `max` entries; one violation (not one per entry) when longer.
/// Returns whether the field is within its maximum, so the caller can skip checking entries.
pub fn at_most<T>(violations: &mut Violations, field: &str, values: &[T], max: usize) -> bool {
    if values.len() > max {
        violations.add(field, format!("at most {max} entries; {} given", values.len()));
        return false;
    }
    true
}

/// A string of at most `max` characters.
pub fn max_chars(violations: &mut Violations, field: &str, value: &str, max: usize) -> bool {
    // Bytes bound characters from above: a short string is never counted.
    if value.len() > max && value.chars().count() > max {
        violations.add(field, format!("at most {max} characters"));
        return false;
    }
    true
}

/// A filter over enum values (`statuses: [OVERDUE, AT_RISK]`): every value must be one the
/// enum declares other than UNSPECIFIED (`convert` gives `None` otherwise), duplicates are
/// folded, and at most `max` values may be given. The result keeps the first occurrence's
/// order.
pub fn enum_filter<T: PartialEq>(
    violations: &mut Violations,
    field: &str,
    values: &[i32],
    max: usize,
    convert: impl Fn(i32) -> Option<T>,
) -> Vec<T> {
    if !at_most(violations, field, values, max) {
        return Vec::new();
    }
    let mut folded = Vec::new();
    for (i, value) in values.iter().enumerate() {
        match convert(*value) {
            Some(known) if !folded.contains(&known) => folded.push(known),
            Some(_) => {}
            None => violations.add(format!("{field}[{i}]"), "not a value this field accepts"),
        }
    }
    folded
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(value: i32) -> Option<i32> {
        (1..=3).contains(&value).then_some(value)
    }

    #[test]
    fn an_enum_filter_folds_duplicates_and_refuses_unknown_values() {
        let mut v = Violations::new();
        assert_eq!(enum_filter(&mut v, "statuses", &[2, 1, 2, 2, 3, 1], 16, known), vec![2, 1, 3]);
        assert!(v.is_empty());
        assert_eq!(enum_filter(&mut v, "statuses", &[1, 999, 0, 2], 16, known), vec![1, 2]);
        let fields: Vec<_> = v.as_slice().iter().map(|f| f.field.clone()).collect();
        assert_eq!(fields, ["statuses[1]", "statuses[2]"]);
    }

    #[test]
    fn too_many_entries_are_one_violation() {
        let mut v = Violations::new();
        assert!(enum_filter(&mut v, "statuses", &vec![1; 70_000], 16, known).is_empty());
        assert_eq!(v.as_slice().len(), 1);
        assert!(v.as_slice()[0].description.contains("at most 16"), "{:?}", v.as_slice());
    }

    #[test]
    fn strings_are_counted_in_characters() {
        let mut v = Violations::new();
        assert!(max_chars(&mut v, "source_name", &"あ".repeat(200), 200));
        assert!(!max_chars(&mut v, "source_name", &"a".repeat(201), 200));
        assert_eq!(v.as_slice().len(), 1);
    }
}

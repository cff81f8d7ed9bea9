//! The row machinery shared by every form: a struct per layout whose fields are typed columns,
//! declared once with [`form_row!`] so that the column list, the parser and the renderer cannot
//! drift apart.

use super::values::{FieldError, FieldType};

/// One column of a layout (model order = the v4.1 column order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// 1-based No. in the v4.1 layout.
    pub no: usize,
    /// The spec's name (項目名).
    pub name: &'static str,
    /// フリーテキスト: quoted on the wire.
    pub free_text: bool,
    /// A 事業所番号 column (its check digit is judged by the reader).
    pub office_number: bool,
    /// Required (○) in every version; uncertain flags live in the spec data instead.
    pub required: bool,
}

/// A record of one layout.
pub trait Row: Sized + Clone + PartialEq + std::fmt::Debug {
    /// The columns in model order.
    const COLUMNS: &'static [Column];
    /// Builds the row from the text of each model column (empty = not given). Every bad column
    /// is reported with its 0-based model index.
    fn from_cells(cells: &[&str]) -> Result<Self, Vec<(usize, FieldError)>>;
    /// The canonical text of each model column (empty = not given).
    fn to_cells(&self) -> Vec<String>;
}

#[doc(hidden)]
pub fn parse_required<T: FieldType>(text: &str) -> Result<T, FieldError> {
    if text.is_empty() {
        Err(FieldError::new("REQUIRED_MISSING", "this column is required (必須)"))
    } else {
        T::parse(text)
    }
}

#[doc(hidden)]
pub fn parse_optional<T: FieldType>(text: &str) -> Result<Option<T>, FieldError> {
    if text.is_empty() { Ok(None) } else { T::parse(text).map(Some) }
}

#[doc(hidden)]
pub trait RenderCell {
    fn render_cell(&self) -> String;
}

impl<T: FieldType> RenderCell for T {
    fn render_cell(&self) -> String {
        self.render()
    }
}

#[doc(hidden)]
pub fn render_optional<T: FieldType>(value: &Option<T>) -> String {
    value.as_ref().map(FieldType::render).unwrap_or_default()
}

/// Declares a layout: `field: req Type = "名称"` or `field: opt Type = "名称"`, in column order.
#[macro_export]
#[doc(hidden)]
macro_rules! form_row {
    (@ty req $ty:ty) => { $ty };
    (@ty opt $ty:ty) => { Option<$ty> };
    (@required req) => { true };
    (@required opt) => { false };
    (@parse req $ty:ty, $text:expr) => { $crate::domain::row::parse_required::<$ty>($text) };
    (@parse opt $ty:ty, $text:expr) => { $crate::domain::row::parse_optional::<$ty>($text) };
    (@render req $value:expr) => { $crate::domain::row::RenderCell::render_cell($value) };
    (@render opt $value:expr) => { $crate::domain::row::render_optional($value) };
    (
        $(#[$doc:meta])*
        pub struct $name:ident {
            $( $(#[$fdoc:meta])* $no:literal $field:ident : $req:ident $ty:ty = $jp:literal ),+ $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $( $(#[$fdoc])* #[doc = $jp] pub $field: $crate::form_row!(@ty $req $ty), )+
        }

        impl $crate::domain::row::Row for $name {
            const COLUMNS: &'static [$crate::domain::row::Column] = &[
                $( $crate::domain::row::Column {
                    no: $no,
                    name: $jp,
                    free_text: <$ty as $crate::domain::values::FieldType>::FREE_TEXT,
                    office_number: <$ty as $crate::domain::values::FieldType>::OFFICE_NUMBER,
                    required: $crate::form_row!(@required $req),
                }, )+
            ];

            fn from_cells(cells: &[&str]) -> Result<Self, Vec<(usize, $crate::domain::values::FieldError)>> {
                let mut errors = Vec::new();
                $(
                    let $field = match $crate::form_row!(@parse $req $ty, cells.get($no - 1).copied().unwrap_or("")) {
                        Ok(v) => Some(v),
                        Err(e) => {
                            errors.push(($no - 1, e));
                            None
                        }
                    };
                )+
                match ($($field,)+) {
                    ($(Some($field),)+) => Ok(Self { $($field,)+ }),
                    _ => Err(errors),
                }
            }

            fn to_cells(&self) -> Vec<String> {
                vec![$( $crate::form_row!(@render $req &self.$field), )+]
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::values::{Count, FreeText, Ymd};

    form_row! {
        /// A two-column layout for the tests.
        pub struct Sample {
            1 date: req Ymd = "日付",
            2 count: opt Count<2> = "回数",
            3 note: opt FreeText = "備考",
        }
    }

    #[test]
    fn the_macro_parses_renders_and_reports_every_bad_column() {
        assert_eq!(Sample::COLUMNS.len(), 3);
        assert!(Sample::COLUMNS[2].free_text);
        let row = Sample::from_cells(&["20250401", "", "x"]).unwrap();
        assert_eq!(row.to_cells(), vec!["20250401".to_owned(), String::new(), "x".to_owned()]);
        let errors = Sample::from_cells(&["", "123", ""]).unwrap_err();
        let codes: Vec<_> = errors.iter().map(|(i, e)| (*i, e.code)).collect();
        assert_eq!(codes, vec![(0, "REQUIRED_MISSING"), (1, "BAD_LENGTH")]);
    }
}

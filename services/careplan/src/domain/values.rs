//! Typed column values of the care-plan files (docs/domain/careplan-csv.md#common-rules and
//! #layouts).
//!
//! Each type parses the text of one column and renders it back in the canonical form. The
//! model keeps these types, not strings, so a second wire format (the 5.0 JSON) can map onto the
//! same values. Refusals name the rule, never the value: a column may hold personal data.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use kaigo_platform::ids::{CareOfficeNumber, IdError, InsuredNumber, InsurerNumber};

/// Why one column's text is not a valid value: a stable code and an English message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Stable UPPER_SNAKE code.
    pub code: &'static str,
    /// The rule that failed (no value quoted).
    pub message: String,
}

impl FieldError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// A value of one column: parsed from and rendered to its text.
pub trait FieldType: Sized + Clone + PartialEq + fmt::Debug {
    /// True for フリーテキスト columns, which the writer encloses in double quotes.
    const FREE_TEXT: bool = false;
    /// True for 事業所番号 columns: a letter at position 3 with a failed check digit is taken
    /// here and judged by the reader as the `lettered_office_check_digit` setting says.
    const OFFICE_NUMBER: bool = false;
    /// Parses non-empty text.
    fn parse(text: &str) -> Result<Self, FieldError>;
    /// The canonical text.
    fn render(&self) -> String;
}

fn digits(text: &str, min: usize, max: usize, what: &str) -> Result<(), FieldError> {
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new("NOT_DIGITS", format!("{what} must be half-width digits")));
    }
    if text.len() < min || text.len() > max {
        let range = if min == max { format!("{min}") } else { format!("{min} to {max}") };
        return Err(FieldError::new("BAD_LENGTH", format!("{what} must have {range} digits")));
    }
    Ok(())
}

fn id_error(err: IdError, what: &str) -> FieldError {
    let code = match err {
        IdError::CheckDigit => "BAD_CHECK_DIGIT",
        IdError::Length { .. } => "BAD_LENGTH",
        IdError::Character { .. } => "BAD_CHARACTER",
    };
    FieldError::new(code, format!("{what}: {err}"))
}

impl FieldType for InsurerNumber {
    fn parse(text: &str) -> Result<Self, FieldError> {
        InsurerNumber::parse(text).map_err(|e| id_error(e, "保険者番号"))
    }
    fn render(&self) -> String {
        self.as_str().to_owned()
    }
}

impl FieldType for InsuredNumber {
    fn parse(text: &str) -> Result<Self, FieldError> {
        InsuredNumber::parse(text).map_err(|e| id_error(e, "被保険者番号"))
    }
    fn render(&self) -> String {
        self.as_str().to_owned()
    }
}

impl FieldType for CareOfficeNumber {
    const OFFICE_NUMBER: bool = true;
    fn parse(text: &str) -> Result<Self, FieldError> {
        // A lettered number's check digit is judged by the reader (docs/domain/careplan-csv.md#settings).
        CareOfficeNumber::parse_letter_unverified(text).map(|(n, _)| n).map_err(|e| id_error(e, "事業所番号"))
    }
    fn render(&self) -> String {
        self.as_str().to_owned()
    }
}

/// CSVバージョン: a 6-digit YYYYMM. Whether it is a known version is a file-level rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CsvVersion(pub String);

impl FieldType for CsvVersion {
    fn parse(text: &str) -> Result<Self, FieldError> {
        YearMonth::parse(text).map_err(|e| FieldError::new(e.code, "CSVバージョン must be a 6-digit YYYYMM"))?;
        Ok(Self(text.to_owned()))
    }
    fn render(&self) -> String {
        self.0.clone()
    }
}

/// A calendar date written YYYYMMDD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ymd(pub NaiveDate);

impl FieldType for Ymd {
    fn parse(text: &str) -> Result<Self, FieldError> {
        digits(text, 8, 8, "a date (YYYYMMDD)")?;
        NaiveDate::parse_from_str(text, "%Y%m%d")
            .map(Ymd)
            .map_err(|_| FieldError::new("BAD_DATE", "not a calendar date (YYYYMMDD)"))
    }
    fn render(&self) -> String {
        self.0.format("%Y%m%d").to_string()
    }
}

/// A date, or `00000000` where the spec uses it as "belongs to the other set" (利用者補足 No.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateOrZero {
    Zero,
    Date(NaiveDate),
}

impl FieldType for DateOrZero {
    fn parse(text: &str) -> Result<Self, FieldError> {
        if text == "00000000" { Ok(Self::Zero) } else { Ymd::parse(text).map(|d| Self::Date(d.0)) }
    }
    fn render(&self) -> String {
        match self {
            Self::Zero => "00000000".to_owned(),
            Self::Date(d) => Ymd(*d).render(),
        }
    }
}

/// A year and month written YYYYMM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct YearMonth {
    pub year: i32,
    pub month: u32,
}

impl YearMonth {
    pub fn new(year: i32, month: u32) -> Option<Self> {
        ((1..=12).contains(&month) && (1900..=9999).contains(&year)).then_some(Self { year, month })
    }
    /// True when `date` falls in this month.
    pub fn contains(&self, date: NaiveDate) -> bool {
        date.year() == self.year && date.month() == self.month
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}{:02}", self.year, self.month)
    }
}

impl FieldType for YearMonth {
    fn parse(text: &str) -> Result<Self, FieldError> {
        digits(text, 6, 6, "a year-month (YYYYMM)")?;
        let year = text[..4].parse().unwrap_or(0);
        let month = text[4..].parse().unwrap_or(0);
        YearMonth::new(year, month).ok_or_else(|| FieldError::new("BAD_YEAR_MONTH", "not a year-month (YYYYMM)"))
    }
    fn render(&self) -> String {
        self.to_string()
    }
}

/// A year-month, or `000000` (利用者補足 No.63 when the record belongs to 第1/2表).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YearMonthOrZero {
    Zero,
    Month(YearMonth),
}

impl FieldType for YearMonthOrZero {
    fn parse(text: &str) -> Result<Self, FieldError> {
        if text == "000000" { Ok(Self::Zero) } else { YearMonth::parse(text).map(Self::Month) }
    }
    fn render(&self) -> String {
        match self {
            Self::Zero => "000000".to_owned(),
            Self::Month(m) => m.render(),
        }
    }
}

/// A time of day written HHMM (00:00–23:59; 2400 is accepted as the end of the day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hhmm {
    pub hour: u8,
    pub minute: u8,
}

impl FieldType for Hhmm {
    fn parse(text: &str) -> Result<Self, FieldError> {
        digits(text, 4, 4, "a time (HHMM)")?;
        let hour: u8 = text[..2].parse().unwrap_or(99);
        let minute: u8 = text[2..].parse().unwrap_or(99);
        if (hour < 24 && minute < 60) || (hour == 24 && minute == 0) {
            Ok(Self { hour, minute })
        } else {
            Err(FieldError::new("BAD_TIME", "not a time of day (HHMM, 0000-2400)"))
        }
    }
    fn render(&self) -> String {
        format!("{:02}{:02}", self.hour, self.minute)
    }
}

/// 第6表 サービス開始/終了時刻: a time, or `9999` for a service without a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceTime {
    NoTime,
    At(Hhmm),
}

impl FieldType for ServiceTime {
    fn parse(text: &str) -> Result<Self, FieldError> {
        if text == "9999" { Ok(Self::NoTime) } else { Hhmm::parse(text).map(Self::At) }
    }
    fn render(&self) -> String {
        match self {
            Self::NoTime => "9999".to_owned(),
            Self::At(t) => t.render(),
        }
    }
}

/// A non-negative integer of at most `N` digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Count<const N: usize>(pub u64);

impl<const N: usize> FieldType for Count<N> {
    fn parse(text: &str) -> Result<Self, FieldError> {
        digits(text, 1, N, "an integer")?;
        text.parse().map(Count).map_err(|_| FieldError::new("NOT_DIGITS", "an integer"))
    }
    fn render(&self) -> String {
        self.0.to_string()
    }
}

/// An integer of at most `N` characters, a leading minus sign included (単位数 may be a
/// reduction, e.g. 共生型 減算).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Units<const N: usize>(pub i64);

impl<const N: usize> FieldType for Units<N> {
    fn parse(text: &str) -> Result<Self, FieldError> {
        let body = text.strip_prefix('-').unwrap_or(text);
        digits(body, 1, N.saturating_sub(usize::from(body.len() != text.len())), "an integer")?;
        text.parse().map(Units).map_err(|_| FieldError::new("NOT_DIGITS", "an integer"))
    }
    fn render(&self) -> String {
        self.0.to_string()
    }
}

/// 単位数単価: a decimal in the `99.99` format, kept in hundredths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitPrice(pub u32);

impl FieldType for UnitPrice {
    fn parse(text: &str) -> Result<Self, FieldError> {
        let bad = || FieldError::new("BAD_DECIMAL", "単位数単価 must be a decimal in the 99.99 format");
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        if int.is_empty()
            || int.len() > 2
            || frac.len() > 2
            || !(int.bytes().chain(frac.bytes())).all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let int: u32 = int.parse().map_err(|_| bad())?;
        let frac: u32 = if frac.is_empty() { 0 } else { format!("{frac:0<2}").parse().map_err(|_| bad())? };
        Ok(Self(int * 100 + frac))
    }
    fn render(&self) -> String {
        format!("{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// Free text (フリーテキスト): any MS932 text, quoted on the wire; may hold CR/LF and commas.
/// Names, addresses and care notes are personal data, so `Debug` shows only the length.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct FreeText(pub String);

impl fmt::Debug for FreeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FreeText(<{} chars>)", self.0.chars().count())
    }
}

impl FieldType for FreeText {
    const FREE_TEXT: bool = true;
    fn parse(text: &str) -> Result<Self, FieldError> {
        Ok(Self(text.to_owned()))
    }
    fn render(&self) -> String {
        self.0.clone()
    }
}

/// Declares a short code column whose text must match a pattern checked by `$check`.
macro_rules! code_string {
    ($(#[$doc:meta])* $name:ident, $what:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub String);

        impl FieldType for $name {
            fn parse(text: &str) -> Result<Self, FieldError> {
                let check: fn(&str) -> bool = $check;
                if check(text) {
                    Ok(Self(text.to_owned()))
                } else {
                    Err(FieldError::new("BAD_FORMAT", concat!($what)))
                }
            }
            fn render(&self) -> String {
                self.0.clone()
            }
        }
    };
}

fn alnum_upper(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

code_string!(
    /// サービス種類コード: 2 half-width digits or upper-case letters (11, 43, 2A, A2 …).
    ServiceType,
    "サービス種類コード must be 2 half-width digits or upper-case letters",
    |t| t.len() == 2 && alnum_upper(t)
);

code_string!(
    /// サービスコード: the 2-character service type and a 4-character item (digits or letters,
    /// e.g. the 第7表 subtotal items AAAA, EEEE, ZZZZ).
    ServiceCode,
    "サービスコード must be 6 half-width digits or upper-case letters",
    |t| t.len() == 6 && alnum_upper(t)
);

code_string!(
    /// 郵便番号 in the XXX-XXXX form.
    PostalCode,
    "郵便番号 must be in the form 999-9999",
    |t| t.len() == 8 && t.bytes().enumerate().all(|(i, b)| if i == 3 { b == b'-' } else { b.is_ascii_digit() })
);

code_string!(
    /// 電話番号: up to 15 half-width digits, hyphens and parentheses (the spec gives no format).
    PhoneNumber,
    "電話番号 must be at most 15 half-width digits, hyphens or parentheses",
    |t| t.len() <= 15 && t.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'(' | b')'))
);

code_string!(
    /// TAISコード / 福祉用具届出コード: 5 digits, a hyphen, 6 digits (e.g. 00001-000010).
    EquipmentCode,
    "TAISコード/福祉用具届出コード must be in the form 99999-999999",
    |t| t.len() == 12 && t.bytes().enumerate().all(|(i, b)| if i == 5 { b == b'-' } else { b.is_ascii_digit() })
);

code_string!(
    /// 日割対象日: 31 flags, "1" on each day that may be billed per diem.
    DayMask,
    "日割対象日 must be 31 characters of 0 or 1",
    |t| t.len() == 31 && t.bytes().all(|b| b == b'0' || b == b'1')
);

code_string!(
    /// 識別子: not used by the spec; at most one half-width character is kept as written.
    Unused,
    "識別子 must be at most one half-width digit or letter",
    |t| t.len() <= 1 && t.bytes().all(|b| b.is_ascii_alphanumeric())
);

code_string!(
    /// 入力者コード (第7表 No.35): up to 10 half-width digits or letters; the spec gives no rule.
    EnteredByCode,
    "入力者コード must be at most 10 half-width digits or letters",
    |t| t.len() <= 10 && t.bytes().all(|b| b.is_ascii_alphanumeric())
);

/// 事業所番号 on a 第7表 row: an office, or `9999999999` on the grand-total row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfficeOrTotal {
    Total,
    Office(CareOfficeNumber),
}

impl FieldType for OfficeOrTotal {
    const OFFICE_NUMBER: bool = true;
    fn parse(text: &str) -> Result<Self, FieldError> {
        if text == "9999999999" {
            Ok(Self::Total)
        } else {
            <CareOfficeNumber as FieldType>::parse(text).map(Self::Office)
        }
    }
    fn render(&self) -> String {
        match self {
            Self::Total => "9999999999".to_owned(),
            Self::Office(o) => o.render(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_months_parse_and_render_canonically() {
        assert_eq!(Ymd::parse("20250430").map(|d| d.render()), Ok("20250430".to_owned()));
        assert_eq!(Ymd::parse("20250431").map_err(|e| e.code), Err("BAD_DATE"));
        assert_eq!(Ymd::parse("2025043").map_err(|e| e.code), Err("BAD_LENGTH"));
        assert_eq!(DateOrZero::parse("00000000"), Ok(DateOrZero::Zero));
        assert_eq!(YearMonth::parse("202513").map_err(|e| e.code), Err("BAD_YEAR_MONTH"));
        assert_eq!(YearMonthOrZero::parse("000000"), Ok(YearMonthOrZero::Zero));
    }

    #[test]
    fn times_accept_9999_only_where_the_spec_says() {
        assert_eq!(ServiceTime::parse("9999"), Ok(ServiceTime::NoTime));
        assert_eq!(Hhmm::parse("9999").map_err(|e| e.code), Err("BAD_TIME"));
        assert_eq!(Hhmm::parse("2400").map(|t| t.render()), Ok("2400".to_owned()));
        assert_eq!(Hhmm::parse("2401").map_err(|e| e.code), Err("BAD_TIME"));
    }

    #[test]
    fn integers_respect_their_length() {
        assert_eq!(Count::<2>::parse("99"), Ok(Count(99)));
        assert_eq!(Count::<2>::parse("100").map_err(|e| e.code), Err("BAD_LENGTH"));
        assert_eq!(Count::<2>::parse("1a").map_err(|e| e.code), Err("NOT_DIGITS"));
        assert_eq!(Units::<6>::parse("-12345"), Ok(Units(-12345)));
        assert_eq!(Units::<6>::parse("-123456").map_err(|e| e.code), Err("BAD_LENGTH"));
        assert_eq!(Units::<6>::parse("-").map_err(|e| e.code), Err("BAD_LENGTH"));
    }

    #[test]
    fn unit_price_is_two_decimals() {
        assert_eq!(UnitPrice::parse("10.21").map(|p| p.render()), Ok("10.21".to_owned()));
        assert_eq!(UnitPrice::parse("10"), Ok(UnitPrice(1000)));
        assert_eq!(UnitPrice::parse("100.0").map_err(|e| e.code), Err("BAD_DECIMAL"));
        assert_eq!(UnitPrice::parse(".5").map_err(|e| e.code), Err("BAD_DECIMAL"));
    }

    #[test]
    fn codes_check_their_shape() {
        assert!(ServiceType::parse("2A").is_ok());
        assert!(ServiceType::parse("2a").is_err());
        assert!(PostalCode::parse("860-0001").is_ok());
        assert!(PostalCode::parse("8600001").is_err());
        assert!(EquipmentCode::parse("00001-000010").is_ok());
        assert!(DayMask::parse("1111100000000000000000000000000").is_ok());
        assert!(DayMask::parse("111110000000000000000000000000").is_err());
        assert_eq!(OfficeOrTotal::parse("9999999999"), Ok(OfficeOrTotal::Total));
        assert_eq!(OfficeOrTotal::parse("0300000100").map_err(|e| e.code), Err("BAD_CHECK_DIGIT"));
    }

    #[test]
    fn free_text_debug_hides_the_text() {
        assert_eq!(format!("{:?}", FreeText("山田太郎".into())), "FreeText(<4 chars>)");
    }
}

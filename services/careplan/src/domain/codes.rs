//! The code tables of the spec (the layout definition's 【コード表】,
//! docs/domain/careplan-csv.md#layouts): each column with a closed set of values is an enum, so a value outside the table is refused with the column named.

use super::values::{FieldError, FieldType};

/// Declares a code column: each variant with its wire text.
macro_rules! code_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in table order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire text.
            pub fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl FieldType for $name {
            fn parse(text: &str) -> Result<Self, FieldError> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err(FieldError::new(
                        "UNKNOWN_CODE",
                        concat!($what, " must be one of: ", $($text, " "),+),
                    )),
                }
            }
            fn render(&self) -> String {
                self.code().to_owned()
            }
        }
    };
}

code_enum!(
    /// 利用者性別.
    Sex, "利用者性別" { Male = "1", Female = "2" }
);

code_enum!(
    /// 認定状況区分.
    CertificationState, "認定状況区分" { Applied = "1", Certified = "2" }
);

code_enum!(
    /// 要介護状態区分 (06 事業対象者, 12–13 要支援1–2, 21–25 要介護1–5).
    CareLevel, "要介護状態区分" {
        ProgrammeEligible = "06",
        Support1 = "12",
        Support2 = "13",
        Care1 = "21",
        Care2 = "22",
        Care3 = "23",
        Care4 = "24",
        Care5 = "25",
    }
);

code_enum!(
    /// 計画書区分.
    PlanCategory, "計画書区分" {
        First = "11",
        Referral = "12",
        Continuing = "21",
        FirstReferral = "51",
        FirstContinuing = "52",
        ReferralContinuing = "53",
        FirstReferralContinuing = "54",
    }
);

code_enum!(
    /// 生活援助中心型の算定理由.
    LivingSupportReason, "生活援助中心型の算定理由" { LivesAlone = "1", FamilyUnable = "2", Other = "3" }
);

code_enum!(
    /// 保険対象区分 (第2表).
    InsuranceCovered, "保険対象区分" { Covered = "Y", NotCovered = "N" }
);

code_enum!(
    /// ３０日超区分.
    Over30Days, "３０日超区分" { No = "0", Yes = "1" }
);

code_enum!(
    /// 曜日 (第3表): 1 = Monday … 7 = Sunday.
    Weekday, "曜日" { Mon = "1", Tue = "2", Wed = "3", Thu = "4", Fri = "5", Sat = "6", Sun = "7" }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_refuse_unknown_values() {
        for level in CareLevel::ALL {
            assert_eq!(CareLevel::parse(level.code()), Ok(*level));
        }
        let err = CareLevel::parse("26").unwrap_err();
        assert_eq!(err.code, "UNKNOWN_CODE");
        assert!(err.message.contains("要介護状態区分"));
        assert_eq!(InsuranceCovered::parse("Y"), Ok(InsuranceCovered::Covered));
        assert!(Sex::parse("3").is_err());
    }
}

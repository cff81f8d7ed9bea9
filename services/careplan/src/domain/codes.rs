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

// The 介護予防 files (利用者基本情報, 介護予防サービス・支援計画書; docs/domain/careplan-csv.md#prevention).

code_enum!(
    /// 計画種類.
    PreventionPlanKind, "計画種類" { PreventionSupport = "1", CareManagement = "2" }
);

code_enum!(
    /// 委託の有無.
    Consignment, "委託の有無" { OwnOffice = "1", Consigned = "2" }
);

code_enum!(
    /// 相談方法.
    ConsultationMethod, "相談方法" { Visit = "01", Phone = "02", Other = "03" }
);

code_enum!(
    /// 相談回数.
    ConsultationCount, "相談回数" { First = "01", Repeat = "02" }
);

code_enum!(
    /// 利用者の現況.
    PresentSituation, "利用者の現況" { AtHome = "01", InHospitalOrFacility = "02" }
);

code_enum!(
    /// 障害高齢者の日常生活自立度.
    DisabilityIndependence, "障害高齢者の日常生活自立度" {
        Independent = "01", J1 = "11", J2 = "12", A1 = "21", A2 = "22", B1 = "31", B2 = "32", C1 = "41", C2 = "42",
    }
);

code_enum!(
    /// 認知症高齢者の日常生活自立度.
    DementiaIndependence, "認知症高齢者の日常生活自立度" {
        Independent = "01", I = "02", IIa = "03", IIb = "04", IIIa = "05", IIIb = "06", IV = "07", M = "08",
    }
);

code_enum!(
    /// 要介護状態区分 of 利用者基本情報 (01 非該当 instead of 06 事業対象者).
    BasicCareLevel, "要介護状態区分" {
        NotApplicable = "01",
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
    /// 基本チェックリスト記入結果.
    ChecklistResult, "基本チェックリスト記入結果" { ProgrammeEligible = "1", NotEligible = "2" }
);

code_enum!(
    /// 該当 / 非該当 (障害等認定, 経済状況).
    Applicable, "該当区分" { No = "0", Yes = "1" }
);

code_enum!(
    /// 居住形態.
    Housing, "居住形態" {
        Owned = "01",
        Rented = "02",
        House = "03",
        Apartment = "04",
        OwnedHouse = "05",
        OwnedApartment = "06",
        RentedHouse = "07",
        RentedApartment = "08",
    }
);

code_enum!(
    /// 有 / 無.
    Presence, "有無" { Yes = "1", No = "2" }
);

code_enum!(
    /// 事業プログラムの要否.
    Necessity, "要否" { Needed = "1", NotNeeded = "2" }
);

code_enum!(
    /// 要支援状態区分 (介護予防サービス・支援計画書).
    SupportLevel, "要支援状態区分" { Support1 = "1", Support2 = "2", CommunityProgramme = "3" }
);

code_enum!(
    /// 主治医・意見作成者フラグ.
    AttendingDoctor, "主治医・意見作成者フラグ" { Attending = "1", Other = "2" }
);

code_enum!(
    /// 経過 (現病歴・既往歴).
    Course, "経過" { InTreatment = "01", UnderObservation = "02", Other = "03" }
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

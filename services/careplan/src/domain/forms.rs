//! The layouts of the 居宅介護支援 files, v4.1 (CSVバージョン 202407), column by column as in
//! docs/domain/careplan-csv.md#layouts. Column numbers are the v4.1 No.; older layouts (v3.2)
//! omit some of them, which the spec data lists (`spec/careplan-csv.toml`), so one struct serves
//! every version.
//!
//! Required flags marked ○ with certainty are `req`; uncertain ones are `opt` here and listed as
//! required in the spec data, so the rule can change without code.

use kaigo_platform::ids::{CareOfficeNumber, InsuredNumber, InsurerNumber};

use super::codes::{
    CareLevel, CertificationState, InsuranceCovered, LivingSupportReason, Over30Days, PlanCategory, Sex, Weekday,
};
use super::values::{
    Count, CsvVersion, DateOrZero, DayMask, EnteredByCode, EquipmentCode, FreeText, Hhmm, OfficeOrTotal, PhoneNumber,
    PostalCode, ServiceCode, ServiceTime, ServiceType, UnitPrice, Units, Unused, YearMonth, YearMonthOrZero, Ymd,
};
use crate::form_row;

form_row! {
    /// 利用者補足情報 (UPHOSOKU): one row per user, for a 第1表 set (対象年月 000000) or a
    /// 第6/7表 set (plan date 00000000).
    pub struct SupplementRow {
        1 csv_version: req CsvVersion = "CSVバージョン",
        2 insurer_number: req InsurerNumber = "保険者番号",
        3 insured_number: req InsuredNumber = "被保険者番号",
        4 plan_date: req DateOrZero = "居宅サービス計画作成（変更）日",
        5 name_kana: opt FreeText = "利用者氏名フリガナ",
        6 name: opt FreeText = "利用者氏名",
        7 sex: opt Sex = "利用者性別",
        8 birth_date: opt Ymd = "利用者生年月日",
        9 postal_code: opt PostalCode = "利用者郵便番号",
        10 address_1: opt FreeText = "利用者住所１",
        11 address_2: opt FreeText = "利用者住所２",
        12 phone: opt PhoneNumber = "利用者電話番号",
        13 certification_date: opt Ymd = "認定日",
        14 limit_start: opt Ymd = "限度額適用開始年月日",
        15 limit_end: opt Ymd = "限度額適用終了年月日",
        16 certification_state: opt CertificationState = "認定状況区分",
        17 care_level_change_date: opt Ymd = "要介護状態変更日",
        18 care_level: opt CareLevel = "要介護状態区分",
        19 benefit_limit: opt Count<7> = "区分支給限度基準額",
        20 limit_1_service_type: opt ServiceType = "１サービス種類コード",
        21 limit_1_amount: opt Count<7> = "１支給限度基準額",
        22 limit_1_total_units: opt Count<7> = "１合計単位数",
        23 limit_1_over_units: opt Count<7> = "１限度超単位数",
        24 limit_2_service_type: opt ServiceType = "２サービス種類コード",
        25 limit_2_amount: opt Count<7> = "２支給限度基準額",
        26 limit_2_total_units: opt Count<7> = "２合計単位数",
        27 limit_2_over_units: opt Count<7> = "２限度超単位数",
        28 limit_3_service_type: opt ServiceType = "３サービス種類コード",
        29 limit_3_amount: opt Count<7> = "３支給限度基準額",
        30 limit_3_total_units: opt Count<7> = "３合計単位数",
        31 limit_3_over_units: opt Count<7> = "３限度超単位数",
        32 limit_4_service_type: opt ServiceType = "４サービス種類コード",
        33 limit_4_amount: opt Count<7> = "４支給限度基準額",
        34 limit_4_total_units: opt Count<7> = "４合計単位数",
        35 limit_4_over_units: opt Count<7> = "４限度超単位数",
        36 limit_5_service_type: opt ServiceType = "５サービス種類コード",
        37 limit_5_amount: opt Count<7> = "５支給限度基準額",
        38 limit_5_total_units: opt Count<7> = "５合計単位数",
        39 limit_5_over_units: opt Count<7> = "５限度超単位数",
        40 limit_6_service_type: opt ServiceType = "６サービス種類コード",
        41 limit_6_amount: opt Count<7> = "６支給限度基準額",
        42 limit_6_total_units: opt Count<7> = "６合計単位数",
        43 limit_6_over_units: opt Count<7> = "６限度超単位数",
        44 limit_7_service_type: opt ServiceType = "７サービス種類コード",
        45 limit_7_amount: opt Count<7> = "７支給限度基準額",
        46 limit_7_total_units: opt Count<7> = "７合計単位数",
        47 limit_7_over_units: opt Count<7> = "７限度超単位数",
        48 limit_8_service_type: opt ServiceType = "８サービス種類コード",
        49 limit_8_amount: opt Count<7> = "８支給限度基準額",
        50 limit_8_total_units: opt Count<7> = "８合計単位数",
        51 limit_8_over_units: opt Count<7> = "８限度超単位数",
        52 limit_9_service_type: opt ServiceType = "９サービス種類コード",
        53 limit_9_amount: opt Count<7> = "９支給限度基準額",
        54 limit_9_total_units: opt Count<7> = "９合計単位数",
        55 limit_9_over_units: opt Count<7> = "９限度超単位数",
        56 total_over_units: opt Count<7> = "合計限度超単位数",
        57 days_before_admission: opt Count<5> = "入所前月迄利用日数",
        58 cumulative_admission_days: opt Count<5> = "入所累積利用日数",
        59 previous_care_level: opt CareLevel = "前回要介護状態区分",
        60 consent_office: opt CareOfficeNumber = "同意書受付業者",
        61 updated_by_office: opt CareOfficeNumber = "更新業者コード",
        62 identifier: opt Unused = "識別子",
        63 service_month: req YearMonthOrZero = "対象年月",
    }
}

form_row! {
    /// 居宅サービス計画1表 (UP1KYO): one row per plan (user and plan date).
    pub struct Plan1Row {
        1 csv_version: req CsvVersion = "CSVバージョン",
        2 insurer_number: req InsurerNumber = "保険者番号",
        3 insured_number: req InsuredNumber = "被保険者番号",
        4 created_on: req Ymd = "作成年月日",
        5 postal_code: opt PostalCode = "利用者郵便番号",
        6 address_1: opt FreeText = "利用者住所１",
        7 address_2: opt FreeText = "利用者住所２",
        8 planner_name: req FreeText = "居宅サービス計画作成者氏名",
        9 office_name: req FreeText = "介護支援事業者名",
        10 office_postal_code: opt PostalCode = "介護支援事業者郵便番号",
        11 office_address_1: opt FreeText = "介護支援事業者住所１",
        12 office_address_2: opt FreeText = "介護支援事業者住所２",
        13 office_number: req CareOfficeNumber = "介護支援事業者コード",
        14 plan_date: req Ymd = "居宅サービス計画作成（変更）日",
        15 first_plan_date: req Ymd = "初回居宅サービス計画作成日",
        16 plan_category: opt PlanCategory = "計画書区分",
        17 certification_state: opt CertificationState = "認定状況区分",
        18 certification_date: opt Ymd = "認定日",
        19 valid_from: opt Ymd = "認定有効期間開始日",
        20 valid_to: opt Ymd = "認定有効期間終了日",
        21 care_level: opt CareLevel = "要介護状態区分",
        22 assessment: opt FreeText = "利用者及び家族の生活に対する意向を踏まえた課題分析の結果",
        23 board_opinion: opt FreeText = "介護認定審査会の意見及びサービスの種類の指定",
        24 policy: opt FreeText = "総合的な援助の方針",
        25 living_support_reason: opt LivingSupportReason = "生活援助中心型の算定理由",
        26 other_reason: opt FreeText = "その他理由",
        27 updated_by_office: opt CareOfficeNumber = "更新業者コード",
        28 identifier: opt Unused = "識別子",
    }
}

form_row! {
    /// 居宅サービス計画1表_削除 (DLT1KYO): deletes a plan and its 第2表/第3表.
    pub struct Plan1DeleteRow {
        1 csv_version: req CsvVersion = "CSVバージョン",
        2 insurer_number: req InsurerNumber = "保険者番号",
        3 insured_number: req InsuredNumber = "被保険者番号",
        4 plan_date: req Ymd = "居宅サービス計画作成（変更）日",
    }
}

form_row! {
    /// 居宅サービス計画2表 (UP2KYO): one row per 援助内容; blank 課題/目標 text repeats the
    /// row before (print image).
    pub struct Plan2Row {
        1 csv_version: req CsvVersion = "CSVバージョン",
        2 insurer_number: req InsurerNumber = "保険者番号",
        3 insured_number: req InsuredNumber = "被保険者番号",
        4 created_on: req Ymd = "居宅計画書作成年月日",
        5 plan_date: req Ymd = "居宅サービス計画作成（変更）日",
        6 need_no: opt Count<2> = "課題ＮＯ",
        7 need: opt FreeText = "課題",
        8 goal_no: opt Count<2> = "援助目標ＮＯ",
        9 long_term_goal: opt FreeText = "長期目標",
        10 short_term_goal: opt FreeText = "短期目標",
        11 long_term_period: opt FreeText = "長期期間",
        12 short_term_period: opt FreeText = "短期期間",
        13 support_no: opt Count<2> = "援助内容ＮＯ",
        14 service_content: opt FreeText = "サービス内容",
        15 insurance_covered: opt InsuranceCovered = "保険対象区分",
        16 service_kind: opt FreeText = "サービス種別",
        17 provider_number: opt CareOfficeNumber = "サービス事業者コード",
        18 provider_name: opt FreeText = "サービス事業所名",
        19 frequency: opt FreeText = "頻度",
        20 duration: opt FreeText = "実施期間",
        21 updated_by_office: opt CareOfficeNumber = "更新業者コード",
        22 identifier: opt Unused = "識別子",
    }
}

form_row! {
    /// 居宅サービス計画3表 (UP3KYO, v4 only): a weekly slot, a daily activity or a non-weekly
    /// service per row.
    pub struct Plan3Row {
        1 csv_version: req CsvVersion = "CSVバージョン",
        2 insurer_number: req InsurerNumber = "保険者番号",
        3 insured_number: req InsuredNumber = "被保険者番号",
        4 created_on: req Ymd = "週間サービス計画表作成年月日",
        5 plan_date: req Ymd = "居宅サービス計画作成（変更）日",
        6 service_content: opt FreeText = "介護サービス内容",
        7 weekday: opt Weekday = "曜日",
        8 service_start: opt Hhmm = "開始時間",
        9 service_end: opt Hhmm = "終了時間",
        10 daily_activity: opt FreeText = "主な日常生活上の活動",
        11 activity_start: opt Hhmm = "開始時間",
        12 activity_end: opt Hhmm = "終了時間",
        13 non_weekly_service: opt FreeText = "週単位以外のサービス",
    }
}

form_row! {
    /// 第6表 サービス利用票 予定 (UPPLAN) and 実績情報 (UPJSK): one row per service date and
    /// service code (and 福祉用具 detail).
    pub struct UsageRow {
        1 csv_version: req CsvVersion = "CSVバージョン",
        2 insurer_number: req InsurerNumber = "保険者番号",
        3 insured_number: req InsuredNumber = "被保険者番号",
        4 created_on: req Ymd = "作成年月日",
        5 service_month: req YearMonth = "対象年月",
        6 plan_office: opt CareOfficeNumber = "プラン担当業者コード",
        7 planner_name: opt FreeText = "プラン担当者名",
        8 units: opt Units<6> = "単位数",
        9 short_stay_days_before: opt Count<5> = "前月までの短期入所利用日数",
        10 service_date: req Ymd = "サービス利用日",
        11 per_diem_days: opt DayMask = "日割対象日",
        12 start_time: req ServiceTime = "サービス開始時刻",
        13 end_time: req ServiceTime = "サービス終了時刻",
        14 times: req Count<2> = "サービス回数",
        15 service_code: req ServiceCode = "サービスコード",
        16 tais_code: opt EquipmentCode = "TAISコード",
        17 notified_code: opt EquipmentCode = "福祉用具届出コード",
        18 equipment_name: opt FreeText = "用具名称（機種名）",
        19 detail_no: opt Count<5> = "明細判別コード",
        20 provider_number: req CareOfficeNumber = "サービス事業者コード",
        21 provider_name: opt FreeText = "サービス事業所名",
        22 satellite_no: opt Count<2> = "サテライト枝番",
        23 over_30_days: req Over30Days = "３０日超区分",
        24 updated_by_office: opt CareOfficeNumber = "更新業者コード",
        25 identifier: opt Unused = "識別子",
    }
}

form_row! {
    /// 第6表 予定 削除 (DLTPLAN): deletes a user's month (and its 第7表).
    pub struct UsageDeleteRow {
        1 csv_version: req CsvVersion = "CSVバージョン",
        2 insurer_number: req InsurerNumber = "保険者番号",
        3 insured_number: req InsuredNumber = "被保険者番号",
        4 month: req YearMonth = "削除対象年月",
    }
}

form_row! {
    /// 実績情報 削除 (DLTJSK): deletes a user's month of one provider and service type.
    pub struct ActualsDeleteRow {
        1 csv_version: req CsvVersion = "CSVバージョン",
        2 insurer_number: req InsurerNumber = "保険者番号",
        3 insured_number: req InsuredNumber = "被保険者番号",
        4 month: req YearMonth = "削除対象年月",
        5 provider_number: req CareOfficeNumber = "サービス事業者コード",
        6 service_type: req ServiceType = "サービス種類コード",
    }
}

form_row! {
    /// 第7表 サービス利用票別表 (UPSIKYU): detail rows, subtotal rows (`<kind>AAAA/EEEE/ZZZZ`)
    /// and one grand-total row (`999999`, office `9999999999`) per user.
    pub struct AnnexRow {
        1 csv_version: req CsvVersion = "CSVバージョン",
        2 insurer_number: req InsurerNumber = "保険者番号",
        3 insured_number: req InsuredNumber = "被保険者番号",
        4 created_on: req Ymd = "作成年月日",
        5 service_month: req YearMonth = "対象年月",
        6 provider_name: opt FreeText = "サービス事業所名",
        7 provider_number: req OfficeOrTotal = "サービス事業所コード",
        8 satellite_no: opt Count<2> = "サテライト枝番",
        9 service_code: req ServiceCode = "サービスコード",
        10 tais_code: opt EquipmentCode = "TAISコード",
        11 notified_code: opt EquipmentCode = "福祉用具届出コード",
        12 equipment_name: opt FreeText = "用具名称（機種名）",
        13 units: req Units<6> = "単位数",
        14 discount_rate: opt Count<5> = "割引後率",
        15 discounted_units: opt Units<6> = "割引後単位数",
        16 times_or_days: opt Count<3> = "回数／日数",
        17 service_unit_amount: opt Count<5> = "サービス単位金額",
        18 benefit_managed_units: opt Units<6> = "給付管理単位数",
        19 type_limit_over_units: opt Count<6> = "種類支給限度基準超単位数",
        20 type_limit_within_units: opt Count<6> = "種類支給限度基準内単位数",
        21 category_limit_over_units: opt Count<6> = "区分支給限度基準超単位数",
        22 category_limit_within_units: opt Count<6> = "区分支給限度基準内単位数",
        23 unit_price: opt UnitPrice = "単位数単価",
        24 total_cost: opt Count<6> = "費用総額保険／事業対象分",
        25 benefit_rate: opt Count<6> = "給付率",
        26 insurance_claim: opt Count<6> = "保険／事業費請求額",
        27 fixed_copay_unit_amount: opt Count<6> = "定額利用者負担単価金額",
        28 copay_covered: opt Count<6> = "利用者負担保険／事業対象分",
        29 copay_full: opt Count<6> = "利用者負担（全額負担分）",
        30 days_before_month: opt Count<5> = "前月までの利用日数",
        31 planned_days: opt Count<2> = "当月の計画利用日数",
        32 cumulative_days: opt Count<5> = "累積利用日数",
        33 over_30_days: opt Over30Days = "３０日超区分",
        34 office_code: opt OfficeOrTotal = "事業所コード",
        35 entered_by: opt EnteredByCode = "入力者コード",
        36 updated_by_office: opt CareOfficeNumber = "更新業者コード",
        37 identifier: opt Unused = "識別子",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::row::Row;

    fn numbered<R: Row>() -> bool {
        R::COLUMNS.iter().enumerate().all(|(i, c)| c.no == i + 1)
    }

    #[test]
    fn every_layout_has_the_spec_column_count_in_order() {
        assert_eq!(SupplementRow::COLUMNS.len(), 63);
        assert_eq!(Plan1Row::COLUMNS.len(), 28);
        assert_eq!(Plan1DeleteRow::COLUMNS.len(), 4);
        assert_eq!(Plan2Row::COLUMNS.len(), 22);
        assert_eq!(Plan3Row::COLUMNS.len(), 13);
        assert_eq!(UsageRow::COLUMNS.len(), 25);
        assert_eq!(UsageDeleteRow::COLUMNS.len(), 4);
        assert_eq!(ActualsDeleteRow::COLUMNS.len(), 6);
        assert_eq!(AnnexRow::COLUMNS.len(), 37);
        assert!(numbered::<SupplementRow>() && numbered::<Plan1Row>() && numbered::<Plan2Row>());
        assert!(numbered::<Plan3Row>() && numbered::<UsageRow>() && numbered::<AnnexRow>());
        assert!(numbered::<Plan1DeleteRow>() && numbered::<UsageDeleteRow>() && numbered::<ActualsDeleteRow>());
    }
}

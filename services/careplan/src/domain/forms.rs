//! The layouts of the 居宅介護支援 files, v4.1 (CSVバージョン 202407), column by column as in
//! docs/domain/careplan-csv.md#layouts. Column numbers are the v4.1 No.; older layouts (v3.2)
//! omit some of them, which the spec data lists (`spec/careplan-csv.toml`), so one struct serves
//! every version.
//!
//! Required flags marked ○ with certainty are `req`; uncertain ones are `opt` here and listed as
//! required in the spec data, so the rule can change without code.

use kaigo_platform::ids::{CareOfficeNumber, InsuredNumber, InsurerNumber};

use super::codes::{
    Applicable, AttendingDoctor, BasicCareLevel, CareLevel, CertificationState, ChecklistResult, Consignment,
    ConsultationCount, ConsultationMethod, Course, DementiaIndependence, DisabilityIndependence, Housing,
    InsuranceCovered, LivingSupportReason, Necessity, Over30Days, PlanCategory, Presence, PresentSituation,
    PreventionPlanKind, Sex, SupportLevel, Weekday,
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

form_row! {
    /// 利用者基本情報 (UPKIHON, 介護予防, v4 only): one row per user and 相談日
    /// (docs/domain/careplan-csv.md#prevention-basic).
    pub struct PreventionBasicRow {
        1 csv_version: req CsvVersion = "CSVバージョン",
        2 insurer_number: req InsurerNumber = "保険者番号",
        3 insured_number: req InsuredNumber = "被保険者番号",
        4 consultation_date: req Ymd = "相談日",
        5 plan_kind: opt PreventionPlanKind = "計画種類",
        6 consignment: opt Consignment = "委託の有無",
        7 author: opt FreeText = "作成担当者",
        8 consultation_method: opt ConsultationMethod = "相談方法",
        9 consultation_method_other: opt FreeText = "相談方法(その他の内容)",
        10 consultation_count: opt ConsultationCount = "相談回数",
        11 previous_consultation_date: opt Ymd = "前回相談日",
        12 present_situation: opt PresentSituation = "利用者の現況",
        13 present_situation_note: opt FreeText = "利用者の現況(状況補足)",
        14 name_kana: opt FreeText = "利用者氏名ﾌﾘｶﾞﾅ",
        15 name: opt FreeText = "利用者氏名",
        16 sex: opt Sex = "利用者性別",
        17 birth_date: opt Ymd = "利用者生年月日",
        18 address: opt FreeText = "利用者住所",
        19 phone: opt PhoneNumber = "利用者電話番号",
        20 fax: opt PhoneNumber = "利用者Fax番号",
        21 disability_independence: opt DisabilityIndependence = "障害高齢者の日常生活自立度",
        22 dementia_independence: opt DementiaIndependence = "認知症高齢者の日常生活自立度",
        23 care_level: opt BasicCareLevel = "要介護状態区分",
        24 valid_from: opt Ymd = "認定有効期限開始日",
        25 valid_to: opt Ymd = "認定有効期間終了日",
        26 previous_care_level: opt BasicCareLevel = "前回の介護度",
        27 checklist_result: opt ChecklistResult = "基本チェックリスト記入結果",
        28 checklist_date: opt Ymd = "基本チェックリスト記入日",
        29 physical_disability: opt Applicable = "障害等認定(身障)",
        30 intellectual_disability: opt Applicable = "障害等認定(療育)",
        31 mental_disability: opt Applicable = "障害等認定(精神)",
        32 intractable_disease: opt Applicable = "障害等認定(難病)",
        33 disability_note: opt FreeText = "障害等認定特記事項",
        34 housing: opt Housing = "居住形態",
        35 room_floor: opt Count<2> = "自室の階数",
        36 home_modified: opt Presence = "住宅改修の有無",
        37 national_pension: opt Applicable = "経済状況(国民年金)",
        38 employees_pension: opt Applicable = "経済状況(厚生年金)",
        39 disability_pension: opt Applicable = "経済状況(障害年金)",
        40 public_assistance: opt Applicable = "経済状況(生活保護)",
        41 economic_note: opt FreeText = "経済状況詳細",
        42 visitor_name: opt FreeText = "来所者(相談者)氏名",
        43 visitor_address: opt FreeText = "来所者(相談者)住所",
        44 visitor_phone: opt PhoneNumber = "来所者(相談者)電話番号",
        45 visitor_relation: opt FreeText = "来所者(相談者)続柄",
        46 contact_1_name: opt FreeText = "1 緊急連絡先(氏名)",
        47 contact_1_relation: opt FreeText = "1 緊急連絡先(続柄)",
        48 contact_1_address: opt FreeText = "1 緊急連絡先(住所)",
        49 contact_1_phone: opt PhoneNumber = "1 緊急連絡先(電話番号)",
        50 contact_2_name: opt FreeText = "2 緊急連絡先(氏名)",
        51 contact_2_relation: opt FreeText = "2 緊急連絡先(続柄)",
        52 contact_2_address: opt FreeText = "2 緊急連絡先(住所)",
        53 contact_2_phone: opt PhoneNumber = "2 緊急連絡先(電話番号)",
        54 contact_3_name: opt FreeText = "3 緊急連絡先(氏名)",
        55 contact_3_relation: opt FreeText = "3 緊急連絡先(続柄)",
        56 contact_3_address: opt FreeText = "3 緊急連絡先(住所)",
        57 contact_3_phone: opt PhoneNumber = "3 緊急連絡先(電話番号)",
        58 contact_4_name: opt FreeText = "4 緊急連絡先(氏名)",
        59 contact_4_relation: opt FreeText = "4 緊急連絡先(続柄)",
        60 contact_4_address: opt FreeText = "4 緊急連絡先(住所)",
        61 contact_4_phone: opt PhoneNumber = "4 緊急連絡先(電話番号)",
        62 family_image: opt FreeText = "家族構成 画像ファイル名",
        63 family_situation: opt FreeText = "家族関係等の状況",
        64 life_history: opt FreeText = "今までの生活",
        65 daily_life: opt FreeText = "１日の生活・すごし方(生活全般)",
        66 hobbies: opt FreeText = "趣味・楽しみ・特技",
        67 community: opt FreeText = "友人・地域との関係",
        68 public_services: opt FreeText = "現在利用している公的サービス",
        69 private_services: opt FreeText = "現在利用している非公的サービス",
        70 consent_date: opt Ymd = "同意日",
        71 consenter_name: opt FreeText = "同意者氏名",
    }
}

form_row! {
    /// 利用者基本情報_削除 (DLTKIHON): deletes a 利用者基本情報 and its 別表1/2.
    pub struct PreventionBasicDeleteRow {
        1 csv_version: req CsvVersion = "CSVバージョン",
        2 insurer_number: req InsurerNumber = "保険者番号",
        3 insured_number: req InsuredNumber = "被保険者番号",
        4 consultation_date: req Ymd = "相談日",
    }
}

form_row! {
    /// 利用者基本情報 別表1 (UPKIHON_SUB1): one row per time of the day's schedule.
    pub struct PreventionScheduleRow {
        1 csv_version: req CsvVersion = "CSVバージョン",
        2 insurer_number: req InsurerNumber = "保険者番号",
        3 insured_number: req InsuredNumber = "被保険者番号",
        4 consultation_date: req Ymd = "相談日",
        5 time: opt FreeText = "時間",
        6 own_life: opt FreeText = "本人の生活状況",
        7 family_life: opt FreeText = "介護者・家族の生活状況",
    }
}

form_row! {
    /// 利用者基本情報 別表2 (UPKIHON_SUB2): one row per illness of the medical history.
    pub struct PreventionHistoryRow {
        1 csv_version: req CsvVersion = "CSVバージョン",
        2 insurer_number: req InsurerNumber = "保険者番号",
        3 insured_number: req InsuredNumber = "被保険者番号",
        4 consultation_date: req Ymd = "相談日",
        5 date_text: opt FreeText = "年月日",
        6 illness: opt FreeText = "病名",
        7 institution_doctor: opt FreeText = "医療機関・医師名",
        8 attending_doctor: opt AttendingDoctor = "主治医・意見作成者フラグ",
        9 institution_phone: opt PhoneNumber = "医療機関・医師電話番号",
        10 course: opt Course = "経過",
        11 treatment: opt FreeText = "治療中の内容",
    }
}

form_row! {
    /// 介護予防サービス・支援計画書 (UPYOBO): one row per user and 計画作成(変更)日
    /// (docs/domain/careplan-csv.md#prevention-plan).
    pub struct PreventionPlanRow {
        1 csv_version: req CsvVersion = "CSVバージョン",
        2 insurer_number: req InsurerNumber = "保険者番号",
        3 insured_number: req InsuredNumber = "被保険者番号",
        4 plan_date: req Ymd = "計画作成(変更)日",
        5 plan_kind: opt PreventionPlanKind = "計画種類",
        6 consignment: opt Consignment = "委託の有無",
        7 reference_no: opt FreeText = "整理番号",
        8 name: opt FreeText = "利用者名",
        9 certification_date: opt Ymd = "認定年月日",
        10 valid_from: opt Ymd = "認定有効期間開始日",
        11 valid_to: opt Ymd = "認定有効期間終了日",
        12 plan_category: opt PlanCategory = "計画書区分",
        13 certification_state: opt CertificationState = "認定状況区分",
        14 support_level: opt SupportLevel = "要支援状態区分",
        15 centre_planner: opt FreeText = "計画作成者氏名（地域包括支援センター担当者名）",
        16 care_manager: opt FreeText = "計画作成者氏名（担当介護支援専門員名）",
        17 planner_office_name: opt FreeText = "計画作成者事業者・事業所名",
        18 planner_office_address: opt FreeText = "計画作成者事業者・事業所住所",
        19 planner_office_phone: opt PhoneNumber = "計画作成者事業者・事業所電話番号",
        20 first_plan_date: opt Ymd = "初回作成日",
        21 support_centre: opt FreeText = "担当地域包括支援センター",
        22 goal_day: opt FreeText = "目標とする生活(1日)",
        23 goal_year: opt FreeText = "目標とする生活(1年)",
        24 motor_present: opt FreeText = "【運動・移動】現在の状況",
        25 motor_wishes: opt FreeText = "【運動・移動】本人・家族の意欲・意向",
        26 motor_issue: opt Presence = "【運動・移動】領域における課題の有無",
        27 motor_issue_background: opt FreeText = "【運動・移動】領域における課題（背景・原因）",
        28 daily_present: opt FreeText = "【日常生活(家庭生活)】現在の状況",
        29 daily_wishes: opt FreeText = "【日常生活(家庭生活)】本人・家族の意欲・意向",
        30 daily_issue: opt Presence = "【日常生活(家庭生活)】領域における課題の有無",
        31 daily_issue_background: opt FreeText = "【日常生活(家庭生活)】領域における課題（背景・原因）",
        32 social_present: opt FreeText = "【社会参加、対人関係・コミュニケーション】現在の状況",
        33 social_wishes: opt FreeText = "【社会参加、対人関係・コミュニケーション】本人・家族の意欲・意向",
        34 social_issue: opt Presence = "【社会参加、対人関係・コミュニケーション】領域における課題の有無",
        35 social_issue_background: opt FreeText = "【社会参加、対人関係・コミュニケーション】領域における課題（背景・原因）",
        36 health_present: opt FreeText = "【健康管理】現在の状況",
        37 health_wishes: opt FreeText = "【健康管理】本人・家族の意欲・意向",
        38 health_issue: opt Presence = "【健康管理】領域における課題の有無",
        39 health_issue_background: opt FreeText = "【健康管理】領域における課題（背景・原因）",
        40 health_notes: opt FreeText = "健康状態の留意点",
        41 support_policy: opt FreeText = "妥当な支援の実施に向けた方針",
        42 overall_policy: opt FreeText = "総合的な方針",
        43 checklist_exercise: opt Count<1> = "基本チェックリストの該当数(運動不足)",
        44 checklist_nutrition: opt Count<1> = "基本チェックリストの該当数(栄養改善)",
        45 checklist_oral: opt Count<1> = "基本チェックリストの該当数(口腔内ケア)",
        46 checklist_withdrawal: opt Count<1> = "基本チェックリストの該当数(閉じこもり予防)",
        47 checklist_memory: opt Count<1> = "基本チェックリストの該当数(物忘れ予防)",
        48 checklist_depression: opt Count<1> = "基本チェックリストの該当数(うつ予防)",
        49 programme_exercise: opt Necessity = "事業プログラムの要否(運動不足)",
        50 programme_nutrition: opt Necessity = "事業プログラムの要否(栄養改善)",
        51 programme_oral: opt Necessity = "事業プログラムの要否(口腔内ケア)",
        52 programme_withdrawal: opt Necessity = "事業プログラムの要否(閉じこもり予防)",
        53 programme_memory: opt Necessity = "事業プログラムの要否(物忘れ予防)",
        54 programme_depression: opt Necessity = "事業プログラムの要否(うつ予防)",
        55 centre_opinion: opt FreeText = "地域包括支援センター意見",
        56 consent_date: opt Ymd = "同意日",
        57 consenter_name: opt FreeText = "同意者氏名",
    }
}

form_row! {
    /// 介護予防サービス・支援計画書 別表 (UPYOBO_SUB): one row per 支援計画 line.
    pub struct PreventionPlanDetailRow {
        1 csv_version: req CsvVersion = "CSVバージョン",
        2 insurer_number: req InsurerNumber = "保険者番号",
        3 insured_number: req InsuredNumber = "被保険者番号",
        4 plan_date: req Ymd = "計画作成(変更)日",
        5 issue_no: opt Count<2> = "課題ＮＯ",
        6 overall_issue: opt FreeText = "総合的課題",
        7 proposal: opt FreeText = "課題に対する目標と具体策の提案",
        8 wishes: opt FreeText = "具体策についての意向本人・家族",
        9 goal: opt FreeText = "目標",
        10 support_no: opt Count<2> = "支援計画ＮＯ",
        11 support_points: opt FreeText = "【支援計画】目標についての支援のポイント",
        12 self_care: opt FreeText = "【支援計画】本人等のセルフケアや家族の支援、インフォーマルサービス（民間サービス）",
        13 insured_service: opt FreeText = "【支援計画】介護保険サービス又は地域支援事業（総合事業のサービス）",
        14 service_no: opt Count<2> = "利用サービスＮＯ",
        15 service_kind: opt FreeText = "【利用サービス】サービス種別",
        16 service_office: opt FreeText = "【利用サービス】事業所(利用先)",
        17 service_period: opt FreeText = "【利用サービス】期間",
    }
}

form_row! {
    /// 介護予防サービス・支援計画書_削除 (DLTYOBO): deletes a plan and its 別表.
    pub struct PreventionPlanDeleteRow {
        1 csv_version: req CsvVersion = "CSVバージョン",
        2 insurer_number: req InsurerNumber = "保険者番号",
        3 insured_number: req InsuredNumber = "被保険者番号",
        4 plan_date: req Ymd = "計画作成(変更)日",
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
        // The 介護予防 files (docs/domain/careplan-csv.md#prevention).
        assert_eq!(PreventionBasicRow::COLUMNS.len(), 71);
        assert_eq!(PreventionBasicDeleteRow::COLUMNS.len(), 4);
        assert_eq!(PreventionScheduleRow::COLUMNS.len(), 7);
        assert_eq!(PreventionHistoryRow::COLUMNS.len(), 11);
        assert_eq!(PreventionPlanRow::COLUMNS.len(), 57);
        assert_eq!(PreventionPlanDetailRow::COLUMNS.len(), 17);
        assert_eq!(PreventionPlanDeleteRow::COLUMNS.len(), 4);
        assert!(numbered::<PreventionBasicRow>() && numbered::<PreventionPlanRow>());
        assert!(numbered::<PreventionScheduleRow>() && numbered::<PreventionHistoryRow>());
        assert!(numbered::<PreventionPlanDetailRow>() && numbered::<PreventionBasicDeleteRow>());
        assert!(numbered::<PreventionPlanDeleteRow>());
    }
}

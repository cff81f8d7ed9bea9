//! Rules across the columns of one row (docs/domain/careplan-csv.md#common-rules and #layouts): dates inside the service
//! month, the 9999 time pair, the 福祉用具 code either-or, the 第7表 subtotal and total rows.
//! Pure functions; the reader turns findings into issues with line and column.

use kaigo_platform::ids::{InsuredNumber, InsurerNumber};

use super::codes::{ConsultationMethod, PresentSituation};
use super::forms::{
    ActualsDeleteRow, AnnexRow, Plan1DeleteRow, Plan1Row, Plan2Row, Plan3Row, PreventionBasicDeleteRow,
    PreventionBasicRow, PreventionHistoryRow, PreventionPlanDeleteRow, PreventionPlanDetailRow, PreventionPlanRow,
    PreventionScheduleRow, SupplementRow, UsageDeleteRow, UsageRow,
};
use super::kind::FormKind;
use super::row::Row;
use super::spec::{Layout, Limits, ServiceTypes};
use super::values::{
    CsvVersion, DateOrZero, EquipmentCode, OfficeOrTotal, ServiceCode, ServiceTime, YearMonth, YearMonthOrZero,
};

/// Who a row is about: 保険者番号 + 被保険者番号. Personal data: `Debug` is redacted by
/// `InsuredNumber`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonKey {
    pub insurer: InsurerNumber,
    pub insured: InsuredNumber,
}

/// What links the records of one send unit (docs/domain/careplan-csv.md#keys): the person and
/// either the plan date (a 第1表 set) or the service month (a 第6表 set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SetKey {
    /// 居宅サービス計画作成（変更）日.
    PlanDate(chrono::NaiveDate),
    /// 対象年月.
    Month(YearMonth),
}

/// What a row is checked against.
pub struct RowCtx<'a> {
    pub kind: FormKind,
    pub layout: &'a Layout,
    pub limits: &'a Limits,
    /// The service types in the exchange.
    pub service_types: &'a ServiceTypes,
    /// The month of the file name (None when the name has none or could not be read).
    pub name_month: Option<YearMonthOrZero>,
    /// The file name's fields after the prefix, `_`-joined (`{src}_{srcKind}_{dst}_{dstKind}_{seq}`
    /// for a v4 name without a month); None when the name could not be read.
    pub name_fields: Option<&'a str>,
}

/// One broken rule: the model column No. (0 = the whole row), a code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub column_no: usize,
    pub code: &'static str,
    pub message: String,
}

fn finding(out: &mut Vec<Finding>, column_no: usize, code: &'static str, message: impl Into<String>) {
    out.push(Finding { column_no, code, message: message.into() });
}

/// The rules of one layout.
pub trait FormRules: Row {
    fn csv_version(&self) -> &CsvVersion;
    fn person(&self) -> PersonKey;
    /// Row-level rules beyond each column's own type.
    fn check(&self, _ctx: &RowCtx<'_>, _out: &mut Vec<Finding>) {}
    /// True when every person needs exactly one grand-total row (第7表).
    fn needs_total_row() -> bool {
        false
    }
    fn is_total_row(&self) -> bool {
        false
    }
    /// The set the row belongs to within its send unit (deletions belong to none).
    fn set_key(&self) -> Option<SetKey> {
        None
    }
}

/// A row of a service type outside the exchange (docs/domain/careplan-csv.md#service-types).
fn check_exchanged(ctx: &RowCtx<'_>, service_type: &str, no: usize, out: &mut Vec<Finding>) {
    if !ctx.service_types.is_exchanged(service_type) {
        finding(
            out,
            no,
            "SERVICE_TYPE_NOT_EXCHANGED",
            "this service type is outside the care-plan exchange; leave its rows out",
        );
    }
}

fn check_month(ctx: &RowCtx<'_>, no: usize, month: YearMonth, out: &mut Vec<Finding>) {
    if let Some(YearMonthOrZero::Month(m)) = ctx.name_month
        && m != month
    {
        finding(
            out,
            no,
            "MONTH_MISMATCH",
            "the month differs from the 対象年月 in the file name (one file, one service month)",
        );
    }
}

/// 福祉用具貸与 (17) and 介護予防福祉用具貸与 (67) need a TAISコード or a 届出コード (v4 only).
fn check_equipment(
    ctx: &RowCtx<'_>,
    code: &ServiceCode,
    tais: &Option<EquipmentCode>,
    notified: &Option<EquipmentCode>,
    tais_no: usize,
    out: &mut Vec<Finding>,
) {
    let present = ctx.layout.wire_columns(ctx.kind, tais_no).contains(&tais_no);
    if present && is_equipment_rental(code) && tais.is_none() && notified.is_none() {
        finding(
            out,
            tais_no,
            "EQUIPMENT_CODE_REQUIRED",
            "福祉用具貸与 (17/67) needs a TAISコード or a 福祉用具届出コード",
        );
    }
}

fn is_equipment_rental(code: &ServiceCode) -> bool {
    code.0.starts_with("17") || code.0.starts_with("67")
}

macro_rules! person_rules {
    ($($row:ty),+) => {$(
        impl $row {
            fn person_key(&self) -> PersonKey {
                PersonKey { insurer: self.insurer_number.clone(), insured: self.insured_number.clone() }
            }
        }
    )+};
}
person_rules!(
    SupplementRow,
    Plan1Row,
    Plan1DeleteRow,
    Plan2Row,
    Plan3Row,
    UsageRow,
    UsageDeleteRow,
    ActualsDeleteRow,
    AnnexRow,
    PreventionBasicRow,
    PreventionBasicDeleteRow,
    PreventionScheduleRow,
    PreventionHistoryRow,
    PreventionPlanRow,
    PreventionPlanDetailRow,
    PreventionPlanDeleteRow
);

/// The 介護予防 files (docs/domain/careplan-csv.md#prevention): 利用者基本情報 and its 別表1/2
/// belong to a set keyed by 相談日, the 介護予防サービス・支援計画書 and its 別表 to one keyed by
/// 計画作成(変更)日; the deletions belong to none.
macro_rules! prevention_rules {
    ($($row:ty => $key:ident),+ $(,)?) => {$(
        impl FormRules for $row {
            fn csv_version(&self) -> &CsvVersion {
                &self.csv_version
            }
            fn person(&self) -> PersonKey {
                self.person_key()
            }
            fn set_key(&self) -> Option<SetKey> {
                Some(SetKey::PlanDate(self.$key.0))
            }
        }
    )+};
}
prevention_rules!(
    PreventionScheduleRow => consultation_date,
    PreventionHistoryRow => consultation_date,
    PreventionPlanDetailRow => plan_date,
);

impl FormRules for PreventionBasicRow {
    fn csv_version(&self) -> &CsvVersion {
        &self.csv_version
    }
    fn person(&self) -> PersonKey {
        self.person_key()
    }
    fn set_key(&self) -> Option<SetKey> {
        Some(SetKey::PlanDate(self.consultation_date.0))
    }
    fn check(&self, ctx: &RowCtx<'_>, out: &mut Vec<Finding>) {
        if let (Some(from), Some(to)) = (self.valid_from, self.valid_to)
            && from > to
        {
            finding(out, 25, "PERIOD_REVERSED", "認定有効期間終了日 is before 認定有効期限開始日");
        }
        if self.previous_consultation_date.is_some_and(|d| d > self.consultation_date) {
            finding(out, 11, "DATE_ORDER", "前回相談日 is after 相談日");
        }
        // 「03:その他」 is explained in 相談方法(その他の内容); 「02:入院又は入所中」 in 状況補足.
        if self.consultation_method == Some(ConsultationMethod::Other) && self.consultation_method_other.is_none() {
            finding(out, 9, "REQUIRED_MISSING", "相談方法 03 (その他) needs 相談方法(その他の内容)");
        }
        if let Some(image) = &self.family_image
            && !image.0.is_empty()
        {
            check_family_image(ctx, &image.0, out);
        }
        if self.present_situation == Some(PresentSituation::InHospitalOrFacility)
            && self.present_situation_note.is_none()
        {
            finding(out, 13, "REQUIRED_MISSING", "利用者の現況 02 (入院又は入所中) needs 利用者の現況(状況補足)");
        }
    }
}

/// No.62 of 利用者基本情報 names the 家族構成 image:
/// `UPKIHON_IMAGE_{src}_{srcKind}_{dst}_{dstKind}_{seq}_{branch4}.jpg`, with the fields of the
/// 利用者基本情報 file's own name (docs/domain/careplan-csv.md#prevention-basic).
fn check_family_image(ctx: &RowCtx<'_>, image: &str, out: &mut Vec<Finding>) {
    let upper = image.to_ascii_uppercase();
    let fields = upper.strip_prefix("UPKIHON_IMAGE_").and_then(|rest| rest.strip_suffix(".JPG"));
    let fine = fields.and_then(|f| f.rsplit_once('_')).is_some_and(|(name_fields, branch)| {
        branch.len() == 4
            && branch.bytes().all(|b| b.is_ascii_digit())
            && ctx.name_fields.is_none_or(|own| own.eq_ignore_ascii_case(name_fields))
    });
    if !fine {
        finding(
            out,
            62,
            "BAD_FILE_NAME",
            "家族構成 画像ファイル名 is UPKIHON_IMAGE_ + the fields of this file's name + _ + a 4-digit branch + .jpg",
        );
    }
}

impl FormRules for PreventionPlanRow {
    fn csv_version(&self) -> &CsvVersion {
        &self.csv_version
    }
    fn person(&self) -> PersonKey {
        self.person_key()
    }
    fn set_key(&self) -> Option<SetKey> {
        Some(SetKey::PlanDate(self.plan_date.0))
    }
    fn check(&self, _ctx: &RowCtx<'_>, out: &mut Vec<Finding>) {
        if let (Some(from), Some(to)) = (self.valid_from, self.valid_to)
            && from > to
        {
            finding(out, 11, "PERIOD_REVERSED", "認定有効期間終了日 is before 認定有効期間開始日");
        }
        if self.first_plan_date.is_some_and(|d| d > self.plan_date) {
            finding(out, 20, "DATE_ORDER", "初回作成日 is after 計画作成(変更)日");
        }
    }
}

impl FormRules for PreventionBasicDeleteRow {
    fn csv_version(&self) -> &CsvVersion {
        &self.csv_version
    }
    fn person(&self) -> PersonKey {
        self.person_key()
    }
}

impl FormRules for PreventionPlanDeleteRow {
    fn csv_version(&self) -> &CsvVersion {
        &self.csv_version
    }
    fn person(&self) -> PersonKey {
        self.person_key()
    }
}

impl FormRules for SupplementRow {
    fn csv_version(&self) -> &CsvVersion {
        &self.csv_version
    }
    fn person(&self) -> PersonKey {
        self.person_key()
    }
    fn set_key(&self) -> Option<SetKey> {
        match (self.plan_date, self.service_month) {
            (DateOrZero::Date(d), YearMonthOrZero::Zero) => Some(SetKey::PlanDate(d)),
            (DateOrZero::Zero, YearMonthOrZero::Month(m)) => Some(SetKey::Month(m)),
            _ => None,
        }
    }
    fn check(&self, ctx: &RowCtx<'_>, out: &mut Vec<Finding>) {
        // A 補足 belongs either to a 第1表 set (month 000000, a plan date) or to a 第6/7表 set
        // (a month, plan date 00000000), and must agree with its file name.
        match (self.plan_date, self.service_month) {
            (DateOrZero::Date(_), YearMonthOrZero::Zero) | (DateOrZero::Zero, YearMonthOrZero::Month(_)) => {}
            _ => finding(
                out,
                63,
                "SUPPLEMENT_SET_UNCLEAR",
                "exactly one of 居宅サービス計画作成（変更）日 (No.4) and 対象年月 (No.63) must be zero",
            ),
        }
        if let Some(name_month) = ctx.name_month
            && name_month != self.service_month
        {
            finding(out, 63, "MONTH_MISMATCH", "対象年月 differs from the month part of the file name");
        }
        if let (Some(start), Some(end)) = (self.limit_start, self.limit_end)
            && start > end
        {
            finding(out, 15, "PERIOD_REVERSED", "限度額適用終了年月日 is before 限度額適用開始年月日");
        }
        let slots = [
            self.limit_1_service_type.is_some(),
            self.limit_2_service_type.is_some(),
            self.limit_3_service_type.is_some(),
            self.limit_4_service_type.is_some(),
            self.limit_5_service_type.is_some(),
            self.limit_6_service_type.is_some(),
            self.limit_7_service_type.is_some(),
            self.limit_8_service_type.is_some(),
            self.limit_9_service_type.is_some(),
        ];
        if let Some(gap) = slots.windows(2).position(|w| !w[0] && w[1]) {
            finding(
                out,
                20 + 4 * (gap + 1),
                "SLOTS_NOT_IN_ORDER",
                "種類別限度額 slots are filled from slot 1 in order",
            );
        }
    }
}

impl FormRules for Plan1Row {
    fn csv_version(&self) -> &CsvVersion {
        &self.csv_version
    }
    fn person(&self) -> PersonKey {
        self.person_key()
    }
    fn set_key(&self) -> Option<SetKey> {
        Some(SetKey::PlanDate(self.plan_date.0))
    }
    fn check(&self, _ctx: &RowCtx<'_>, out: &mut Vec<Finding>) {
        if self.first_plan_date > self.plan_date {
            finding(out, 15, "DATE_ORDER", "初回居宅サービス計画作成日 is after 居宅サービス計画作成（変更）日");
        }
        if let (Some(from), Some(to)) = (self.valid_from, self.valid_to)
            && from > to
        {
            finding(out, 20, "PERIOD_REVERSED", "認定有効期間終了日 is before 認定有効期間開始日");
        }
    }
}

impl FormRules for Plan1DeleteRow {
    fn csv_version(&self) -> &CsvVersion {
        &self.csv_version
    }
    fn person(&self) -> PersonKey {
        self.person_key()
    }
}

impl FormRules for Plan2Row {
    fn csv_version(&self) -> &CsvVersion {
        &self.csv_version
    }
    fn person(&self) -> PersonKey {
        self.person_key()
    }
    fn set_key(&self) -> Option<SetKey> {
        Some(SetKey::PlanDate(self.plan_date.0))
    }
    fn check(&self, _ctx: &RowCtx<'_>, out: &mut Vec<Finding>) {
        for (no, value) in [(6, self.need_no), (8, self.goal_no), (13, self.support_no)] {
            if value.is_some_and(|v| v.0 == 0) {
                finding(out, no, "BAD_NUMBER", "ＮＯ columns run from 1 to 99");
            }
        }
    }
}

impl FormRules for Plan3Row {
    fn csv_version(&self) -> &CsvVersion {
        &self.csv_version
    }
    fn person(&self) -> PersonKey {
        self.person_key()
    }
    fn set_key(&self) -> Option<SetKey> {
        Some(SetKey::PlanDate(self.plan_date.0))
    }
    fn check(&self, _ctx: &RowCtx<'_>, out: &mut Vec<Finding>) {
        if (self.service_start.is_some() || self.service_end.is_some()) && self.weekday.is_none() {
            finding(out, 7, "REQUIRED_MISSING", "a weekly service slot needs its 曜日");
        }
    }
}

impl FormRules for UsageRow {
    fn csv_version(&self) -> &CsvVersion {
        &self.csv_version
    }
    fn person(&self) -> PersonKey {
        self.person_key()
    }
    fn set_key(&self) -> Option<SetKey> {
        Some(SetKey::Month(self.service_month))
    }
    fn check(&self, ctx: &RowCtx<'_>, out: &mut Vec<Finding>) {
        check_month(ctx, 5, self.service_month, out);
        check_exchanged(ctx, &self.service_code.0[..2], 15, out);
        if !self.service_month.contains(self.service_date.0) {
            finding(out, 10, "DATE_OUTSIDE_MONTH", "サービス利用日 is not in 対象年月");
        }
        if matches!(self.start_time, ServiceTime::NoTime) != matches!(self.end_time, ServiceTime::NoTime) {
            finding(
                out,
                13,
                "TIME_PAIR",
                "サービス開始時刻 and サービス終了時刻 are both 9999 (no time) or both times",
            );
        }
        check_equipment(ctx, &self.service_code, &self.tais_code, &self.notified_code, 16, out);
        if let Some(no) = self.detail_no {
            if no.0.to_string().len() > ctx.limits.usage_detail_no_digits {
                finding(
                    out,
                    19,
                    "BAD_LENGTH",
                    format!("明細判別コード has at most {} digits", ctx.limits.usage_detail_no_digits),
                );
            }
            if !is_equipment_rental(&self.service_code) {
                finding(out, 19, "DETAIL_NO_NOT_ALLOWED", "明細判別コード is only for 福祉用具貸与 (17)");
            }
        }
    }
}

impl FormRules for UsageDeleteRow {
    fn csv_version(&self) -> &CsvVersion {
        &self.csv_version
    }
    fn person(&self) -> PersonKey {
        self.person_key()
    }
    fn check(&self, ctx: &RowCtx<'_>, out: &mut Vec<Finding>) {
        check_month(ctx, 4, self.month, out);
    }
}

impl FormRules for ActualsDeleteRow {
    fn csv_version(&self) -> &CsvVersion {
        &self.csv_version
    }
    fn person(&self) -> PersonKey {
        self.person_key()
    }
    fn check(&self, ctx: &RowCtx<'_>, out: &mut Vec<Finding>) {
        check_month(ctx, 4, self.month, out);
        check_exchanged(ctx, &self.service_type.0, 6, out);
    }
}

/// The kind of a 第7表 row, from its サービスコード.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnexRowKind {
    Detail,
    /// `<kind>AAAA`, `<kind>EEEE`, `<kind>ZZZZ`.
    Subtotal,
    /// `999999`.
    Total,
}

impl AnnexRow {
    pub fn row_kind(&self) -> AnnexRowKind {
        let item = &self.service_code.0[2..];
        if self.service_code.0 == "999999" {
            AnnexRowKind::Total
        } else if matches!(item, "AAAA" | "EEEE" | "ZZZZ") {
            AnnexRowKind::Subtotal
        } else {
            AnnexRowKind::Detail
        }
    }
}

impl FormRules for AnnexRow {
    fn csv_version(&self) -> &CsvVersion {
        &self.csv_version
    }
    fn person(&self) -> PersonKey {
        self.person_key()
    }
    fn set_key(&self) -> Option<SetKey> {
        Some(SetKey::Month(self.service_month))
    }
    fn check(&self, ctx: &RowCtx<'_>, out: &mut Vec<Finding>) {
        check_month(ctx, 5, self.service_month, out);
        let kind = self.row_kind();
        if (kind == AnnexRowKind::Total) != (self.provider_number == OfficeOrTotal::Total) {
            finding(
                out,
                7,
                "TOTAL_ROW_MISMATCH",
                "the grand-total row has サービスコード 999999 and サービス事業所コード 9999999999, and only it",
            );
        }
        if kind != AnnexRowKind::Total {
            check_exchanged(ctx, &self.service_code.0[..2], 9, out);
        }
        if kind == AnnexRowKind::Detail {
            check_equipment(ctx, &self.service_code, &self.tais_code, &self.notified_code, 10, out);
        } else {
            if self.units.0 != 0 {
                finding(out, 13, "SUBTOTAL_UNITS", "単位数 is 0 on subtotal and total rows");
            }
            for (no, empty) in [
                (14, self.discount_rate.is_none()),
                (15, self.discounted_units.is_none()),
                (16, self.times_or_days.is_none()),
            ] {
                if !empty {
                    finding(
                        out,
                        no,
                        "SUBTOTAL_NOT_NULL",
                        "割引後率, 割引後単位数 and 回数／日数 are empty on subtotal and total rows",
                    );
                }
            }
        }
        if let Some(days) = self.days_before_month
            && days.0.to_string().len() > ctx.limits.annex_days_before_month_digits
        {
            finding(
                out,
                30,
                "BAD_LENGTH",
                format!("前月までの利用日数 has at most {} digits", ctx.limits.annex_days_before_month_digits),
            );
        }
    }
    fn needs_total_row() -> bool {
        true
    }
    fn is_total_row(&self) -> bool {
        self.row_kind() == AnnexRowKind::Total
    }
}

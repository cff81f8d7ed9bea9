// Display of shared contract types (kaigo.common.v1, google.type.Date) in ja/en.
import type { Date as PbDate } from "../gen/google/type/date_pb";
import { CareLevel, InsuredCategory, Sex } from "../gen/kaigo/common/v1/care_pb";
import type { Period } from "../gen/kaigo/common/v1/period_pb";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { Lang } from "./i18n";

export function formatDate(d: PbDate | undefined, lang: Lang): string {
  if (!d || !d.year) return "—";
  if (lang === "ja") return `${d.year}年${d.month}月${d.day}日`;
  return `${d.year}-${String(d.month).padStart(2, "0")}-${String(d.day).padStart(2, "0")}`;
}

export function formatPeriod(p: Period | undefined, lang: Lang): string {
  if (!p) return "—";
  const end = p.end && p.end.year ? formatDate(p.end, lang) : lang === "ja" ? "（定めなし）" : "(open)";
  return `${formatDate(p.start, lang)} 〜 ${end}`;
}

export function formatTimestamp(t: Timestamp | undefined, lang: Lang): string {
  if (!t) return "—";
  const d = new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6));
  return d.toLocaleString(lang === "ja" ? "ja-JP" : "en-GB", { timeZone: "Asia/Tokyo" });
}

/** "YYYY-MM-DD" from an <input type=date> → google.type.Date; undefined when empty. */
export function parseDateInput(v: string): PbDate | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  if (!m) return undefined;
  return { $typeName: "google.type.Date", year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) };
}

export function toDateInput(d: PbDate | undefined): string {
  if (!d || !d.year) return "";
  return `${d.year}-${String(d.month).padStart(2, "0")}-${String(d.day).padStart(2, "0")}`;
}

const CARE_LEVEL: Record<CareLevel, [string, string]> = {
  [CareLevel.UNSPECIFIED]: ["—", "—"],
  [CareLevel.NOT_APPLICABLE]: ["非該当", "Not applicable"],
  [CareLevel.TRANSITIONAL]: ["経過的要介護", "Transitional care"],
  [CareLevel.SUPPORT_1]: ["要支援1", "Support level 1"],
  [CareLevel.SUPPORT_2]: ["要支援2", "Support level 2"],
  [CareLevel.CARE_1]: ["要介護1", "Care level 1"],
  [CareLevel.CARE_2]: ["要介護2", "Care level 2"],
  [CareLevel.CARE_3]: ["要介護3", "Care level 3"],
  [CareLevel.CARE_4]: ["要介護4", "Care level 4"],
  [CareLevel.CARE_5]: ["要介護5", "Care level 5"],
  [CareLevel.PROGRAMME_ELIGIBLE]: ["事業対象者", "Programme-eligible"],
};

export function careLevelLabel(l: CareLevel, lang: Lang): string {
  return (CARE_LEVEL[l] ?? CARE_LEVEL[CareLevel.UNSPECIFIED])[lang === "ja" ? 0 : 1];
}

export function sexLabel(s: Sex, lang: Lang): string {
  if (s === Sex.MALE) return lang === "ja" ? "男" : "Male";
  if (s === Sex.FEMALE) return lang === "ja" ? "女" : "Female";
  return "—";
}

export function insuredCategoryLabel(c: InsuredCategory, lang: Lang): string {
  if (c === InsuredCategory.FIRST) return lang === "ja" ? "第1号被保険者" : "Category 1 (65+)";
  if (c === InsuredCategory.SECOND) return lang === "ja" ? "第2号被保険者" : "Category 2 (40–64)";
  return "—";
}

export function yen(n: bigint | number, lang: Lang): string {
  const s = Number(n).toLocaleString("ja-JP");
  return lang === "ja" ? `${s}円` : `¥${s}`;
}

/** A fresh idempotency key for a write. */
export function requestId(): string {
  return crypto.randomUUID();
}

// Display of shared contract types (kaigo.common.v1, google.type.Date) in ja/en.
import type { Date as PbDate } from "../gen/google/type/date_pb";
import { CareLevel, InsuredCategory, Sex } from "../gen/kaigo/common/v1/care_pb";
import type { Period } from "../gen/kaigo/common/v1/period_pb";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { Lang } from "./i18n";

// The one date style of the screens. Japanese: 2026年12月4日, times 22:19 (JST), no zero
// padding and no ISO in visible text; certificate views use the era (昭和14年2月22日), with the
// Western year in parentheses where there is room. English: 4 Dec 2026, 22:19.

const MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** 和暦 eras, newest first: name and first day (year, month, day). */
const ERAS: readonly [string, number, number, number][] = [
  ["令和", 2019, 5, 1],
  ["平成", 1989, 1, 8],
  ["昭和", 1926, 12, 25],
  ["大正", 1912, 7, 30],
  ["明治", 1868, 1, 25],
];

export interface DateOptions {
  /** 和暦 (Japanese only): 昭和14年2月22日. */
  era?: boolean;
  /** With era: the Western year in parentheses, 昭和14年（1939年）2月22日. */
  western?: boolean;
}

interface Ymd {
  year: number;
  month: number;
  day: number;
}

/** The era year of a calendar date: ["昭和", 14], or null before 明治. */
export function eraOf(d: Ymd): [string, number] | null {
  const key = d.year * 10000 + d.month * 100 + d.day;
  for (const [name, y, m, day] of ERAS) {
    if (key >= y * 10000 + m * 100 + day) return [name, d.year - y + 1];
  }
  return null;
}

/** A calendar date as people read it (see above); "—" when unset. */
export function formatYmd(d: Ymd | undefined, lang: Lang, opts: DateOptions = {}): string {
  if (!d || !d.year) return "—";
  if (lang === "en") return `${d.day} ${MONTHS_EN[d.month - 1] ?? d.month} ${d.year}`;
  const era = opts.era ? eraOf(d) : null;
  if (era) {
    const year = `${era[0]}${era[1] === 1 ? "元" : era[1]}年`;
    return `${year}${opts.western ? `（${d.year}年）` : ""}${d.month}月${d.day}日`;
  }
  return `${d.year}年${d.month}月${d.day}日`;
}

export function formatDate(d: PbDate | undefined, lang: Lang, opts: DateOptions = {}): string {
  return formatYmd(d, lang, opts);
}

/** A year and month: 2026年5月 / May 2026. */
export function formatMonth(d: { year: number; month: number } | undefined, lang: Lang): string {
  if (!d || !d.year) return "—";
  return lang === "ja" ? `${d.year}年${d.month}月` : `${MONTHS_EN[d.month - 1] ?? d.month} ${d.year}`;
}

export function formatPeriod(p: Period | undefined, lang: Lang, opts: DateOptions = {}): string {
  if (!p) return "—";
  const end = p.end && p.end.year ? formatDate(p.end, lang, opts) : lang === "ja" ? "（定めなし）" : "(open)";
  return `${formatDate(p.start, lang, opts)}${lang === "ja" ? " 〜 " : " – "}${end}`;
}

/** The JST calendar day and time of an instant. */
function jstParts(t: Timestamp): Ymd & { hour: number; minute: number } {
  const d = new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6) + 9 * 3600 * 1000);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
  };
}

/** An instant as its JST day and time: 2026年12月4日 22:19 / 4 Dec 2026 22:19. */
export function formatTimestamp(t: Timestamp | undefined, lang: Lang): string {
  if (!t) return "—";
  const p = jstParts(t);
  return `${formatYmd(p, lang)} ${p.hour}:${String(p.minute).padStart(2, "0")}`;
}

/** An instant's JST calendar day only: 2026年12月4日. */
export function formatTimestampDate(t: Timestamp | undefined, lang: Lang): string {
  if (!t) return "—";
  return formatYmd(jstParts(t), lang);
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

/** A file size: 312,345バイト / 312,345 bytes. */
export function byteSize(n: bigint | number, lang: Lang): string {
  const s = Number(n).toLocaleString("ja-JP");
  return lang === "ja" ? `${s}バイト` : `${s} bytes`;
}

/** A fresh idempotency key for a write. */
export function requestId(): string {
  return crypto.randomUUID();
}

// Pieces the review pages share: the status badge, the applicant of an application, dates in JST,
// and the names of a programme's categories and tiers.
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { Application, Programme } from "../../gen/kaigo/subsidies/v1/subsidy_pb";
import type { Lang } from "../../app/i18n";
import { formatTimestampDate } from "../../app/labels";
import { enumText, type M } from "./messages";

export function StatusBadge({ m, status }: { m: M; status: number }) {
  return (
    <span className={`badge badge-subsidy-${status}`} data-status={status}>
      {enumText(m, "status", status)}
    </span>
  );
}

/** The office number or institution code the application is for. */
export function applicantNumber(a: Application): string {
  if (a.costs.case === "careOffice") return a.costs.value.officeNumber;
  if (a.costs.case === "medicalInstitution") return a.costs.value.institutionCode;
  return "";
}

/** The calendar day of a timestamp in JST. */
export function dateJst(t: Timestamp | undefined, lang: Lang): string {
  return formatTimestampDate(t, lang);
}

/** Today in JST as "YYYY-MM-DD" (the value of an <input type=date>). */
export function todayJstInput(): string {
  return new Date(Date.now() + 9 * 3600 * 1000).toISOString().slice(0, 10);
}

/** A category key ("residential+visit_day_short_stay", or a medical tier id) in the programme's words. */
export function categoryText(key: string, programme: Programme | undefined): string {
  if (!key) return "—";
  const names = new Map<string, string>();
  for (const c of programme?.careOfficeRules?.categories ?? []) names.set(c.categoryId, c.name);
  for (const t of programme?.medicalTiers ?? []) names.set(t.tierId, t.name);
  return key
    .split("+")
    .map((k) => names.get(k) ?? k)
    .join(" + ");
}

/** A whole number of yen typed by the operator ("12,000" is fine); NaN when it is not one. */
export function parseYen(v: string): number {
  const s = v.replace(/[,\s円¥]/g, "");
  return /^\d+$/.test(s) ? Number(s) : NaN;
}

// The standard file-name grammar of ケアプランデータ連携 (docs/domain/careplan-csv.md#file-names), enough to
// address a send unit from the files the user picked. The server checks every name again
// (and reports each disagreement per file); this only pre-fills the addressing.
import { SendUnitKind } from "../../gen/kaigo/careplan/v1/bundle_pb";

export type Prefix =
  | "UPHOSOKU"
  | "UP1KYO"
  | "DLT1KYO"
  | "UP2KYO"
  | "UP3KYO"
  | "UPPLAN"
  | "DLTPLAN"
  | "UPJSK"
  | "DLTJSK"
  | "UPSIKYU"
  // 介護予防 (v4 only; docs/domain/careplan-csv.md#prevention)
  | "UPKIHON"
  | "DLTKIHON"
  | "UPKIHON_SUB1"
  | "UPKIHON_SUB2"
  | "UPYOBO"
  | "UPYOBO_SUB"
  | "DLTYOBO";

/** Which prefixes carry 対象年月 in their name (UPHOSOKU may carry 000000). */
const WITH_MONTH: ReadonlySet<Prefix> = new Set(["UPHOSOKU", "UPPLAN", "DLTPLAN", "UPJSK", "DLTJSK", "UPSIKYU"]);
const PREFIXES: readonly Prefix[] = [
  "UPHOSOKU",
  "UP1KYO",
  "DLT1KYO",
  "UP2KYO",
  "UP3KYO",
  "UPPLAN",
  "DLTPLAN",
  "UPJSK",
  "DLTJSK",
  "UPSIKYU",
  "UPKIHON",
  "DLTKIHON",
  "UPKIHON_SUB1",
  "UPKIHON_SUB2",
  "UPYOBO",
  "UPYOBO_SUB",
  "DLTYOBO",
];

export interface ParsedName {
  prefix: Prefix;
  /** "YYYYMM", "000000" or "" when the kind has no month. */
  month: string;
  sender: string;
  senderType: string;
  receiver: string;
  receiverType: string;
  sequence: string;
}

/** Parses a standard name (v4 with service types, or v3 without); null when it is not one. */
export function parseFileName(name: string): ParsedName | null {
  const upper = name.toUpperCase();
  if (!upper.endsWith(".CSV")) return null;
  const parts = upper.slice(0, -4).split("_");
  // Whole tokens, the longest prefix first: UPKIHON_SUB1_… is a 別表1, not a 利用者基本情報.
  const prefix =
    PREFIXES.find((p) => parts.length > 1 && p === `${parts[0]}_${parts[1]}`) ?? PREFIXES.find((p) => p === parts[0]);
  if (!prefix) return null;
  let rest = parts.slice(prefix.split("_").length);
  let month = "";
  if (WITH_MONTH.has(prefix)) {
    month = rest[0] ?? "";
    if (!/^\d{6}$/.test(month)) return null;
    rest = rest.slice(1);
  }
  let sender: string,
    senderType = "",
    receiver: string,
    receiverType = "",
    sequence: string;
  if (rest.length === 5) [sender, senderType, receiver, receiverType, sequence] = rest;
  else if (rest.length === 3) [sender, receiver, sequence] = rest;
  else return null;
  if (!/^\d{14}$/.test(sequence)) return null;
  return { prefix, month, sender, senderType, receiver, receiverType, sequence };
}

/** The send unit a set of file kinds forms, or UNSPECIFIED when it is not clear. */
export function unitKindOf(prefixes: readonly Prefix[]): SendUnitKind {
  const has = (p: Prefix) => prefixes.includes(p);
  if (has("UP1KYO") || has("UP2KYO") || has("UP3KYO")) return SendUnitKind.PLAN;
  if (has("UPPLAN") || has("UPSIKYU")) return SendUnitKind.USAGE_TICKET;
  if (has("DLT1KYO")) return SendUnitKind.PLAN_DELETE;
  if (has("DLTPLAN")) return SendUnitKind.USAGE_TICKET_DELETE;
  if (has("UPJSK")) return SendUnitKind.ACTUALS;
  if (has("DLTJSK")) return SendUnitKind.ACTUALS_DELETE;
  if (has("UPYOBO") || has("UPYOBO_SUB")) {
    return has("UPKIHON") ? SendUnitKind.PREVENTION_PLAN_WITH_BASIC : SendUnitKind.PREVENTION_PLAN;
  }
  if (has("UPKIHON") || has("UPKIHON_SUB1") || has("UPKIHON_SUB2")) return SendUnitKind.PREVENTION_BASIC;
  if (has("DLTKIHON")) return SendUnitKind.PREVENTION_BASIC_DELETE;
  if (has("DLTYOBO")) return SendUnitKind.PREVENTION_PLAN_DELETE;
  return SendUnitKind.UNSPECIFIED;
}

export interface Addressing {
  kind: SendUnitKind;
  sender: string;
  senderType: string;
  receiver: string;
  receiverType: string;
  /** "YYYY-MM" (as <input type=month> wants it) or "". */
  month: string;
  sequence: string;
}

/** The addressing the names agree on (the first name's values; the server reports any that differ). */
export function addressingOf(names: readonly string[]): Addressing | null {
  const parsed = names.map(parseFileName).filter((p): p is ParsedName => p !== null);
  if (!parsed.length) return null;
  const first = parsed[0];
  const kind = unitKindOf(parsed.map((p) => p.prefix));
  const real = parsed.map((p) => p.month).find((m) => m && m !== "000000") ?? "";
  const planUnit = kind === SendUnitKind.PLAN || kind === SendUnitKind.PLAN_DELETE;
  return {
    kind,
    sender: first.sender,
    senderType: first.senderType,
    receiver: first.receiver,
    receiverType: first.receiverType,
    month: real && !planUnit ? `${real.slice(0, 4)}-${real.slice(4)}` : "",
    sequence: first.sequence,
  };
}

export interface IssueText {
  code: string;
  line: number;
  column: number;
  message: string;
}

/**
 * Where a SendBundle field violation points: "files[2].line[14].column[7]",
 * "files[2].line[3]", "files[2].file_name" or "files[2]" (the file), "files" (the unit).
 */
export interface IssuePath {
  /** The file's index, or null for the unit as a whole. */
  file: number | null;
  line: number;
  column: number;
}

/** Reads a SendBundle violation path, or null when it is not about the files. */
export function parseIssuePath(field: string): IssuePath | null {
  if (field === "files") return { file: null, line: 0, column: 0 };
  const m = /^files\[(\d+)\](?:\.file_name|\.line\[(\d+)\](?:\.column\[(\d+)\])?)?$/.exec(field);
  if (!m) return null;
  return { file: Number(m[1]), line: m[2] ? Number(m[2]) : 0, column: m[3] ? Number(m[3]) : 0 };
}

/** One SendBundle violation as a problem to show: the code is the violation's reason. */
export function issueOf(v: { field: string; reason: string; description: string }): (IssueText & IssuePath) | null {
  const path = parseIssuePath(v.field);
  if (!path) return null;
  return { ...path, code: v.reason, message: v.description };
}

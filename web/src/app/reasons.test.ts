// The catalogue must speak for every code the API can send: a reason documented in the
// contracts (proto/ comments) or raised by a service without a Japanese message would reach a
// clerk as a bare code.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ISSUE_CODES, REASONS, codeText, fieldLabel, unknownReasonText, violationText } from "./reasons";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

function files(dir: string, ext: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p, ext));
    else if (name.endsWith(ext)) out.push(p);
  }
  return out;
}

const SNAKE = "[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+";

/** Codes named in proto comments ("X" or `X`), other than the contracts' own enum values. */
function documentedCodes(): Set<string> {
  const protos = files(join(root, "proto", "kaigo"), ".proto");
  const enumValues = new Set<string>();
  const named = new Set<string>();
  for (const p of protos) {
    for (const line of readFileSync(p, "utf8").split("\n")) {
      const e = new RegExp(`^\\s*(${SNAKE})\\s*=\\s*\\d+`).exec(line);
      if (e) enumValues.add(e[1]);
      const c = line.indexOf("//");
      if (c < 0) continue;
      for (const m of line.slice(c).matchAll(new RegExp(`["\`](${SNAKE})["\`]`, "g"))) named.add(m[1]);
    }
  }
  return new Set([...named].filter((n) => !enumValues.has(n)));
}

/** Reasons the services raise: ApiError constructors and the care-plan checker's issues. */
function raisedCodes(): Set<string> {
  const out = new Set<string>();
  const call = new RegExp(
    `(?:failed_precondition|not_found|permission_denied|unauthenticated|already_exists|aborted)\\(\\s*"(${SNAKE})"`,
    "g",
  );
  const issue = new RegExp(`Issue::(?:error|warning)\\(\\s*"(${SNAKE})"`, "g");
  // ApiError::new / detailed(Code::X, "REASON", …) and domain errors carrying `reason: "REASON"`.
  const coded = new RegExp(`Code::[A-Za-z]+,\\s*"(${SNAKE})"|\\breason: "(${SNAKE})"`, "g");
  for (const p of files(join(root, "services"), ".rs")) {
    if (p.includes(`${join("services", "kaigo")}`) || /[/\\]tests?[/\\]|tests\.rs$/.test(p)) continue;
    const text = readFileSync(p, "utf8");
    for (const m of text.matchAll(call)) out.add(m[1]);
    for (const m of text.matchAll(coded)) out.add(m[1] ?? m[2]);
    if (p.includes(join("services", "careplan"))) for (const m of text.matchAll(issue)) out.add(m[1]);
  }
  return out;
}

describe("the message catalogue", () => {
  it("has Japanese and English for every code the contracts document", () => {
    const documented = documentedCodes();
    // The extraction itself must find the codes the contracts are known to name.
    expect(documented).toContain("INSURED_PERSON_UNKNOWN");
    expect(documented).toContain("PERIOD_OVERLAP");
    expect(documented).toContain("NOT_MS932");
    const missing = [...documented].filter((c) => !codeText(c, "ja") || !codeText(c, "en"));
    expect(missing).toEqual([]);
  });

  it("has Japanese for every reason the services raise", () => {
    const raised = raisedCodes();
    expect(raised).toContain("OPINION_NOT_RECEIVED");
    expect(raised).toContain("APPLICATION_NOT_FOUND");
    expect(raised).toContain("DEPENDENCY_UNAVAILABLE");
    const missing = [...raised].filter((c) => !codeText(c, "ja"));
    expect(missing).toEqual([]);
  });

  it("writes Japanese messages in Japanese", () => {
    for (const [code, [ja]] of Object.entries({ ...REASONS, ...ISSUE_CODES })) {
      expect(ja, code).toMatch(/[ぁ-んァ-ヶ一-龠]/);
    }
  });

  it("falls back to a general Japanese message that names an unknown reason", () => {
    expect(codeText("SOMETHING_NEW", "ja")).toBeUndefined();
    const t = unknownReasonText("SOMETHING_NEW", "ja");
    expect(t).toContain("SOMETHING_NEW");
    expect(t).toMatch(/^エラーが発生しました/);
  });

  it("reads the platform's identifier rules in Japanese", () => {
    expect(violationText("check digit does not match (modulus 10, weights 2-1 from the right, digit sum)", "ja")).toBe(
      "検査数字が一致しません。番号を確かめてください。",
    );
    expect(violationText("must be exactly 10 characters, got 9", "ja")).toBe("10桁で入力してください。");
    expect(violationText("required", "ja")).toBe("入力してください。");
    expect(violationText("must not exceed the calculated eligible amount (120000 yen)", "ja")).toBe(
      "助成対象額（120,000円）を超える金額は承認できません。",
    );
    expect(violationText("something nobody foresaw", "ja")).toBe("入力内容を確認してください。");
    expect(violationText("something nobody foresaw", "en")).toBe("something nobody foresaw");
  });

  it("names fields by the screen's label, else by the shared name", () => {
    expect(fieldLabel("insurer_number", "ja")).toBe("保険者番号");
    expect(fieldLabel("entries[3].insured_number", "ja")).toBe("被保険者番号");
    expect(fieldLabel("costs.readers", "ja", { "costs.readers": "カードリーダー" })).toBe("カードリーダー");
    expect(fieldLabel("costs.readers", "ja")).toBeUndefined();
  });
});

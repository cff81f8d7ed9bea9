import { describe, expect, it } from "vitest";
import { SendUnitKind } from "../../gen/kaigo/careplan/v1/bundle_pb";
import { addressingOf, issueOf, parseFileName, parseIssuePath } from "./fileNames";

describe("file names", () => {
  it("parses v4 and v3 names, with and without a month", () => {
    expect(parseFileName("UPPLAN_202505_1370000018_43_1370000026_11_20250425103100.CSV")).toEqual({
      prefix: "UPPLAN",
      month: "202505",
      sender: "1370000018",
      senderType: "43",
      receiver: "1370000026",
      receiverType: "11",
      sequence: "20250425103100",
    });
    expect(parseFileName("up1kyo_1370000018_43_1370000026_11_20250425103000.csv")?.month).toBe("");
    expect(parseFileName("UPPLAN_202301_1370000018_1370000026_20221225103000.CSV")?.senderType).toBe("");
    expect(parseFileName("UPPLAN_202505.CSV")).toBeNull();
    expect(parseFileName("README.txt")).toBeNull();
  });

  it("derives the unit's addressing from its files", () => {
    const a = addressingOf([
      "UPPLAN_202505_4371000128_43_4371000201_11_20250425103100.CSV",
      "UPSIKYU_202505_4371000128_43_4371000201_11_20250425103100.CSV",
      "UPHOSOKU_202505_4371000128_43_4371000201_11_20250425103100.CSV",
    ]);
    expect(a).toEqual({
      kind: SendUnitKind.USAGE_TICKET,
      sender: "4371000128",
      senderType: "43",
      receiver: "4371000201",
      receiverType: "11",
      month: "2025-05",
      sequence: "20250425103100",
    });
    const plan = addressingOf([
      "UP1KYO_1370000018_43_1370000026_11_20250425103000.CSV",
      "UPHOSOKU_000000_1370000018_43_1370000026_11_20250425103000.CSV",
    ]);
    expect(plan?.kind).toBe(SendUnitKind.PLAN);
    expect(plan?.month).toBe("");
  });

  it("reads the 介護予防 names by whole tokens and derives their units", () => {
    const tail = "1370000018_46_1370000026_63_20250425103000.CSV";
    expect(parseFileName(`UPKIHON_SUB1_${tail}`)).toEqual({
      prefix: "UPKIHON_SUB1",
      month: "",
      sender: "1370000018",
      senderType: "46",
      receiver: "1370000026",
      receiverType: "63",
      sequence: "20250425103000",
    });
    expect(parseFileName(`UPKIHON_${tail}`)?.prefix).toBe("UPKIHON");
    expect(parseFileName(`UPKIHONX_${tail}`)).toBeNull();
    const kind = (...prefixes: string[]) => addressingOf(prefixes.map((p) => `${p}_${tail}`))?.kind;
    expect(kind("UPYOBO", "UPYOBO_SUB", "UPKIHON", "UPKIHON_SUB1")).toBe(SendUnitKind.PREVENTION_PLAN_WITH_BASIC);
    expect(kind("UPYOBO", "UPYOBO_SUB")).toBe(SendUnitKind.PREVENTION_PLAN);
    expect(kind("UPKIHON", "UPKIHON_SUB2")).toBe(SendUnitKind.PREVENTION_BASIC);
    expect(kind("DLTKIHON")).toBe(SendUnitKind.PREVENTION_BASIC_DELETE);
    expect(kind("DLTYOBO")).toBe(SendUnitKind.PREVENTION_PLAN_DELETE);
  });

  it("reads SendBundle's per-file violations from their paths and reasons", () => {
    expect(
      issueOf({ field: "files[2].line[14].column[7]", reason: "BAD_CHECK_DIGIT", description: "check digit" }),
    ).toEqual({ file: 2, line: 14, column: 7, code: "BAD_CHECK_DIGIT", message: "check digit" });
    expect(parseIssuePath("files[0].line[3]")).toEqual({ file: 0, line: 3, column: 0 });
    expect(parseIssuePath("files[1].file_name")).toEqual({ file: 1, line: 0, column: 0 });
    expect(parseIssuePath("files[1]")).toEqual({ file: 1, line: 0, column: 0 });
    expect(parseIssuePath("files")).toEqual({ file: null, line: 0, column: 0 });
    expect(parseIssuePath("bundle.kind")).toBeNull();
    expect(parseIssuePath("files[1].line[x]")).toBeNull();
  });
});

import { describe, expect, it } from "vitest";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import { create } from "@bufbuild/protobuf";
import { eraOf, formatMonth, formatTimestamp, formatTimestampDate, formatYmd } from "./labels";

const ymd = (year: number, month: number, day: number) => ({ year, month, day });

describe("the one date style", () => {
  it("writes dates without zero padding or ISO", () => {
    expect(formatYmd(ymd(2026, 12, 4), "ja")).toBe("2026年12月4日");
    expect(formatYmd(ymd(2026, 1, 5), "ja")).toBe("2026年1月5日");
    expect(formatYmd(ymd(2026, 1, 5), "en")).toBe("5 Jan 2026");
    expect(formatYmd(undefined, "ja")).toBe("—");
    expect(formatMonth({ year: 2025, month: 5 }, "ja")).toBe("2025年5月");
  });

  it("writes the era as the paper forms do, the Western year in parentheses when asked", () => {
    expect(formatYmd(ymd(1939, 2, 22), "ja", { era: true })).toBe("昭和14年2月22日");
    expect(formatYmd(ymd(1939, 2, 22), "ja", { era: true, western: true })).toBe("昭和14年（1939年）2月22日");
    // English pages keep the Western calendar.
    expect(formatYmd(ymd(1939, 2, 22), "en", { era: true })).toBe("22 Feb 1939");
  });

  it("changes era on the first day of the new one, and calls the first year 元年", () => {
    expect(eraOf(ymd(1989, 1, 7))).toEqual(["昭和", 64]);
    expect(eraOf(ymd(1989, 1, 8))).toEqual(["平成", 1]);
    expect(eraOf(ymd(2019, 4, 30))).toEqual(["平成", 31]);
    expect(formatYmd(ymd(2019, 5, 1), "ja", { era: true })).toBe("令和元年5月1日");
    expect(formatYmd(ymd(1926, 12, 24), "ja", { era: true })).toBe("大正15年12月24日");
    expect(formatYmd(ymd(1926, 12, 25), "ja", { era: true })).toBe("昭和元年12月25日");
    expect(formatYmd(ymd(1912, 7, 29), "ja", { era: true })).toBe("明治45年7月29日");
  });

  it("writes instants as their day and time in Japan", () => {
    // 2026-12-04T13:19:00Z is 22:19 in Tokyo; 2026-12-04T15:05:00Z is past midnight there.
    const t = create(TimestampSchema, { seconds: BigInt(Date.UTC(2026, 11, 4, 13, 19) / 1000) });
    expect(formatTimestamp(t, "ja")).toBe("2026年12月4日 22:19");
    const late = create(TimestampSchema, { seconds: BigInt(Date.UTC(2026, 11, 4, 15, 5) / 1000) });
    expect(formatTimestamp(late, "ja")).toBe("2026年12月5日 0:05");
    expect(formatTimestampDate(late, "en")).toBe("5 Dec 2026");
  });
});

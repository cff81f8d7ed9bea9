import { describe, expect, it } from "vitest";
import { identifierInput, numberInput, toHalfWidth } from "./halfWidth";

describe("half-width conversion of what the IME types", () => {
  it("turns full-width digits, letters and signs into ASCII and leaves kana and kanji alone", () => {
    expect(toHalfWidth("４３５０７３")).toBe("435073");
    expect(toHalfWidth("Ｈ１２３ａｂｃ")).toBe("H123abc");
    expect(toHalfWidth("０３－１２３４")).toBe("03-1234");
    expect(toHalfWidth("介護\u3000太郎")).toBe("介護 太郎");
    expect(toHalfWidth("カイゴ ー")).toBe("カイゴ ー");
    expect(toHalfWidth("！～")).toBe("!~");
  });

  it("normalises identifiers: half-width, trimmed, upper case", () => {
    expect(identifierInput(" ０００００００００１\u3000")).toBe("0000000001");
    expect(identifierInput("ｈ１２３４５６７８９")).toBe("H123456789");
    expect(identifierInput("13７0000018")).toBe("1370000018");
  });

  it("normalises numbers without changing an empty field", () => {
    expect(numberInput("１２，０００")).toBe("12,000");
    expect(numberInput("   ")).toBe("");
  });
});

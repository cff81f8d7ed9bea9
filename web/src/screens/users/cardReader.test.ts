import { describe, expect, it } from "vitest";
import { fromBase64, parseReaderAnswer, signCommand, toBase64 } from "./cardReader";

describe("the virtual card reader's answer", () => {
  it("round-trips bytes through base64", () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 255, 64]);
    expect(toBase64(bytes)).toBe("AAEC+v9A");
    expect(Array.from(fromBase64("AAEC+v9A")!)).toEqual(Array.from(bytes));
  });

  it("reads the JSON `kaigo card sign` prints", () => {
    const a = parseReaderAnswer(' {"signature":"AAEC","certificate":"MIIB"}\n');
    expect(a && Array.from(a.signature)).toEqual([0, 1, 2]);
    expect(a && Array.from(a.certificate)).toEqual([0x30, 0x82, 0x01]);
  });

  it("refuses what is not that answer", () => {
    expect(parseReaderAnswer("")).toBeNull();
    expect(parseReaderAnswer("AAEC")).toBeNull();
    expect(parseReaderAnswer('{"signature":"AAEC"}')).toBeNull();
    expect(parseReaderAnswer('{"signature":"not base64!","certificate":"MIIB"}')).toBeNull();
    expect(parseReaderAnswer('{"signature":"","certificate":"MIIB"}')).toBeNull();
  });

  it("names the challenge in the command", () => {
    expect(signCommand(new Uint8Array([1, 2, 3]))).toBe("kaigo card sign --serial d000000001 --challenge AQID");
  });
});

import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { WriteKeys, writeBody } from "./writeKeys";

function keys() {
  let n = 0;
  return new WriteKeys(() => `id-${++n}`);
}

const approve = (amount: bigint) =>
  writeBody("ApproveApplication", { applicationId: "a", expectedVersion: 3n, approvedAmountYen: amount });

describe("WriteKeys", () => {
  it("gives every new write a fresh request_id", () => {
    const k = keys();
    const first = k.idFor(approve(100n));
    k.settle();
    expect(k.idFor(approve(100n))).not.toBe(first);
  });

  it("reuses the request_id when the same write is retried after a network error", () => {
    const k = keys();
    const first = k.idFor(approve(100n));
    k.settle(new ConnectError("Failed to fetch", Code.Unknown));
    expect(k.idFor(approve(100n))).toBe(first);
    k.settle(new ConnectError("unavailable", Code.Unavailable));
    expect(k.idFor(approve(100n))).toBe(first);
    k.settle();
    expect(k.idFor(approve(100n))).not.toBe(first);
  });

  it("takes a new request_id when the retried write differs (another amount, another version)", () => {
    const k = keys();
    const first = k.idFor(approve(100n));
    k.settle(new ConnectError("unavailable", Code.Unavailable));
    expect(k.idFor(approve(99n))).not.toBe(first);
  });

  it("forgets the key once the server has answered with a refusal", () => {
    const k = keys();
    const first = k.idFor(approve(100n));
    k.settle(new ConnectError("too much", Code.InvalidArgument));
    expect(k.idFor(approve(100n))).not.toBe(first);
    const second = k.idFor(approve(100n));
    k.settle(new ConnectError("stale", Code.Aborted));
    expect(k.idFor(approve(100n))).not.toBe(second);
  });

  it("writes bigints so that different amounts give different bodies", () => {
    expect(approve(1n)).not.toBe(approve(10n));
    expect(approve(1n)).toBe(approve(1n));
  });
});

import { describe, expect, it } from "vitest";
import { Purpose, Role } from "../gen/kaigo/common/v1/access_pb";
import {
  Category,
  ConsentSource,
  EndReason,
  Evidence,
  NotificationStatus,
  OrganizationKind,
} from "../gen/kaigo/registry/v1/registry_pb";
import {
  categoryLabel,
  endReasonLabel,
  evidenceLabel,
  kindLabel,
  notificationStatusLabel,
  outcomeLabel,
  purposeLabel,
  roleLabel,
  sourceLabel,
} from "./registry";

/** The set values of a generated enum (UNSPECIFIED left out). */
function values(e: object): number[] {
  return Object.values(e).filter((v): v is number => typeof v === "number" && v !== 0);
}

describe("the registry's words", () => {
  // A value added to the contract without words here would show as "—".
  const tables: [string, object, (v: number, lang: "ja" | "en") => string][] = [
    ["Category", Category, categoryLabel],
    ["OrganizationKind", OrganizationKind, kindLabel],
    ["Evidence", Evidence, evidenceLabel],
    ["EndReason", EndReason, endReasonLabel],
    ["ConsentSource", ConsentSource, sourceLabel],
    ["NotificationStatus", NotificationStatus, notificationStatusLabel],
    ["Purpose", Purpose, purposeLabel],
    ["Role", Role, roleLabel],
  ];
  for (const [name, e, label] of tables) {
    it(`names every ${name} in Japanese and English`, () => {
      for (const v of values(e)) {
        expect(label(v, "ja"), `${name} ${v}`).not.toBe("—");
        expect(label(v, "en"), `${name} ${v}`).not.toBe("—");
        expect(label(v, "ja")).not.toMatch(/[a-z]{2}/);
      }
    });
  }

  it("names the outcomes of the access log and leaves an unknown one to be shown as a code", () => {
    expect(["allowed", "denied", "not_found"].map((o) => outcomeLabel(o, "ja"))).toEqual(["閲覧", "拒否", "該当なし"]);
    expect(outcomeLabel("something_new", "ja")).toBeNull();
  });
});

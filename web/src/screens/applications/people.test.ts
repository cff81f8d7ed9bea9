import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import {
  BatchCheckEligibilityEntrySchema,
  WithheldSection,
} from "../../gen/kaigo/eligibility/v1/eligibility_service_pb";
import { personFrom } from "./people";

const entry = (outcome: Parameters<typeof create<typeof BatchCheckEligibilityEntrySchema>>[1]) =>
  create(BatchCheckEligibilityEntrySchema, outcome);

describe("the name of an application's person", () => {
  it("is the register's 氏名 and フリガナ when the caller may see them", () => {
    const e = entry({
      outcome: { case: "result", value: { person: { nameKanji: "介護 花子", nameKana: "カイゴ ハナコ" } } },
    } as never);
    expect(personFrom(e)).toEqual({ kind: "named", nameKanji: "介護 花子", nameKana: "カイゴ ハナコ" });
  });

  it("is marked withheld when the access rules keep it from the caller", () => {
    const withheld = entry({
      outcome: { case: "result", value: { withheld: [WithheldSection.PERSONAL_DETAILS] } },
    } as never);
    expect(personFrom(withheld)).toEqual({ kind: "withheld" });
    for (const reason of ["PERMISSION_DENIED", "NOT_REGISTERED", "CONSENT_REQUIRED", "NOT_PERMITTED"]) {
      const refused = entry({ outcome: { case: "error", value: { reason } } } as never);
      expect(personFrom(refused)).toEqual({ kind: "withheld" });
    }
  });

  it("is unavailable when the register does not know the person or the entry failed otherwise", () => {
    expect(personFrom(entry({ outcome: { case: "result", value: {} } } as never))).toEqual({ kind: "unavailable" });
    const bad = entry({ outcome: { case: "error", value: { reason: "INVALID_ARGUMENT" } } } as never);
    expect(personFrom(bad)).toEqual({ kind: "unavailable" });
  });
});

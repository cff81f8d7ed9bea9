import { describe, expect, it } from "vitest";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema, PreconditionFailureSchema } from "../gen/google/rpc/error_details_pb";
import { fieldMatches, inputId, problemsFor, toProblem, unclaimed } from "./errors";

function errorWith(
  details: {
    desc: typeof BadRequestSchema | typeof ErrorInfoSchema | typeof PreconditionFailureSchema;
    value: object;
  }[],
) {
  return new ConnectError(
    "bad",
    Code.InvalidArgument,
    undefined,
    details.map((d) => ({
      desc: d.desc,
      value: d.value,
    })) as never,
  );
}

describe("toProblem", () => {
  it("reads BadRequest, ErrorInfo and PreconditionFailure details", () => {
    const e = errorWith([
      {
        desc: BadRequestSchema,
        value: {
          fieldViolations: [
            { field: "insured_number", description: "must be 10 characters", reason: "INVALID_FORMAT" },
            { field: "diagnoses[1].onset_date", description: "not a date" },
          ],
        },
      },
      { desc: ErrorInfoSchema, value: { reason: "INVALID_REQUEST", domain: "kaigo.jp" } },
      {
        desc: PreconditionFailureSchema,
        value: { violations: [{ type: "STEP_ORDER", subject: "survey", description: "x" }] },
      },
    ]);
    const p = toProblem(e);
    expect(p.code).toBe(Code.InvalidArgument);
    expect(p.reason).toBe("INVALID_REQUEST");
    expect(p.fields.map((f) => f.field)).toEqual(["insured_number", "diagnoses[1].onset_date"]);
    expect(p.preconditions[0]).toEqual({ type: "STEP_ORDER", subject: "survey", description: "x" });
    expect(problemsFor(p, "diagnoses").length).toBe(1);
    expect(problemsFor(p, "insured").length).toBe(0);
    expect(unclaimed(p, ["insured_number"]).map((f) => f.field)).toEqual(["diagnoses[1].onset_date"]);
  });

  it("decodes details as they arrive in grpc-status-details-bin (binary Any)", () => {
    const bin = toBinary(
      BadRequestSchema,
      create(BadRequestSchema, { fieldViolations: [{ field: "as_of", description: "future" }] }),
    );
    // As the transport hands them over: type name + binary value.
    const raw = [{ type: "google.rpc.BadRequest", value: bin }];
    const e = new ConnectError("x", Code.InvalidArgument, undefined, raw as never);
    expect(toProblem(e).fields).toEqual([{ field: "as_of", reason: "", description: "future" }]);
  });
});

describe("paths", () => {
  it("matches a field and what is inside it only", () => {
    expect(fieldMatches("a.b", "a")).toBe(true);
    expect(fieldMatches("a[2]", "a")).toBe(true);
    expect(fieldMatches("ab", "a")).toBe(false);
    expect(inputId("s", "diagnoses[1].onset_date")).toBe("s-diagnoses_1__onset_date");
  });
});

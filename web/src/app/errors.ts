// Turns a call's error into what the screens show: the status, the google.rpc
// details the services attach (ErrorInfo, BadRequest, PreconditionFailure).
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema, PreconditionFailureSchema } from "../gen/google/rpc/error_details_pb";

export interface FieldProblem {
  /** API field path, e.g. "insured_number", "diagnoses[1].onset_date". */
  field: string;
  reason: string;
  description: string;
}

export interface ApiProblem {
  code: Code;
  /** The server's message (English, no personal data). */
  message: string;
  /** ErrorInfo.reason (UPPER_SNAKE), when given. */
  reason?: string;
  fields: FieldProblem[];
  preconditions: { type: string; subject: string; description: string }[];
}

export function toProblem(e: unknown): ApiProblem {
  const err = ConnectError.from(e);
  const fields: FieldProblem[] = [];
  for (const br of err.findDetails(BadRequestSchema)) {
    for (const v of br.fieldViolations) fields.push({ field: v.field, reason: v.reason, description: v.description });
  }
  const preconditions = err
    .findDetails(PreconditionFailureSchema)
    .flatMap((p) => p.violations.map((v) => ({ type: v.type, subject: v.subject, description: v.description })));
  const info = err.findDetails(ErrorInfoSchema)[0];
  return { code: err.code, message: err.rawMessage, reason: info?.reason || undefined, fields, preconditions };
}

/** True when `path` is `field` or inside it (`field.x`, `field[0]`). */
export function fieldMatches(path: string, field: string): boolean {
  return path === field || path.startsWith(field + ".") || path.startsWith(field + "[");
}

/** The violations of one input (by its API field path, or several paths). */
export function problemsFor(
  problem: ApiProblem | null | undefined,
  fields: string | readonly string[],
): FieldProblem[] {
  if (!problem) return [];
  const list = typeof fields === "string" ? [fields] : fields;
  return problem.fields.filter((f) => list.some((x) => fieldMatches(f.field, x)));
}

/** The violations no input on the screen claims (shown in the summary instead). */
export function unclaimed(problem: ApiProblem | null | undefined, claimed: readonly string[]): FieldProblem[] {
  if (!problem) return [];
  return problem.fields.filter((f) => !claimed.some((c) => fieldMatches(f.field, c)));
}

/** A DOM id for an input bound to an API field path. */
export function inputId(scope: string, field: string): string {
  return `${scope}-${field.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

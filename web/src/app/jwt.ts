// Reads (does not verify) a JWT's payload: the gateway verifies every call; the
// browser only needs the role, organisation numbers and expiry to lay out screens.

export type Role =
  "insurer" | "care_office" | "service_provider" | "medical_institution" | "insured_person" | "operator";

export const ROLES: readonly Role[] = [
  "insurer",
  "care_office",
  "service_provider",
  "medical_institution",
  "insured_person",
  "operator",
];

export interface Claims {
  sub?: string;
  role: Role;
  insurer_number?: string;
  office_number?: string;
  institution_code?: string;
  scope?: string;
  consents?: string[];
  exp: number;
  nonce?: string;
}

export function base64UrlDecode(s: string): Uint8Array {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function base64UrlEncode(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The payload of a compact JWS, or an error when it is not one. */
export function decodeJwtPayload(token: string): Record<string, unknown> {
  const parts = token.split(".");
  if (parts.length !== 3) throw new Error("not a JWT");
  const json = new TextDecoder().decode(base64UrlDecode(parts[1]));
  const payload: unknown = JSON.parse(json);
  if (typeof payload !== "object" || payload === null) throw new Error("JWT payload is not an object");
  return payload as Record<string, unknown>;
}

/** kaigo's claims from a token, or an error naming what is missing. */
export function claimsFromToken(token: string): Claims {
  const p = decodeJwtPayload(token);
  if (typeof p.role !== "string" || !(ROLES as readonly string[]).includes(p.role)) {
    throw new Error("token has no kaigo role");
  }
  if (typeof p.exp !== "number") throw new Error("token has no exp");
  const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
  return {
    sub: str(p.sub),
    role: p.role as Role,
    insurer_number: str(p.insurer_number),
    office_number: str(p.office_number),
    institution_code: str(p.institution_code),
    scope: str(p.scope),
    consents: Array.isArray(p.consents) ? p.consents.filter((c): c is string => typeof c === "string") : undefined,
    exp: p.exp,
    nonce: str(p.nonce),
  };
}

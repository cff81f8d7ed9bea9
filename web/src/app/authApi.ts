// The gateway's sign-in endpoints (JSON, not gRPC): /auth/config, and in `kaigo dev`
// /auth/dev/identities and /auth/dev/token.

export interface OidcConfig {
  authorization_endpoint: string;
  token_endpoint: string;
  client_id: string;
  scope: string;
  /** Which token of the token response the gateway accepts as Bearer. */
  token: "access_token" | "id_token";
}

export interface AuthConfig {
  mode: "dev" | "oidc" | "none";
  oidc?: OidcConfig;
}

export interface DevIdentity {
  id: string;
  role: string;
  label_ja: string;
  label_en: string;
  insurer_number?: string;
  office_number?: string;
  institution_code?: string;
}

async function getJson(url: string, init?: RequestInit): Promise<unknown> {
  const res = await fetch(url, { ...init, headers: { accept: "application/json", ...init?.headers } });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

export async function fetchAuthConfig(): Promise<AuthConfig> {
  const v = (await getJson("/auth/config")) as AuthConfig;
  if (v.mode !== "dev" && v.mode !== "oidc" && v.mode !== "none") throw new Error("/auth/config: unknown mode");
  if (v.mode === "oidc" && !v.oidc) throw new Error("/auth/config: mode oidc without oidc settings");
  return v;
}

export async function fetchDevIdentities(): Promise<DevIdentity[]> {
  const v = await getJson("/auth/dev/identities");
  if (!Array.isArray(v)) throw new Error("/auth/dev/identities: not a list");
  return v as DevIdentity[];
}

export async function fetchDevToken(identity: string): Promise<string> {
  const v = (await getJson("/auth/dev/token", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ identity }),
  })) as { token?: unknown };
  if (typeof v.token !== "string") throw new Error("/auth/dev/token: no token");
  return v.token;
}

// OpenID Connect authorization-code flow with PKCE (S256) for a public browser client.
// The pending login (state, nonce, verifier, the path to return to) waits in
// sessionStorage between the redirect and the callback, and is removed on return.
import type { OidcConfig } from "./authApi";
import { base64UrlEncode, decodeJwtPayload } from "./jwt";

const PENDING_KEY = "kaigo.oidc.pending";

export interface PendingLogin {
  state: string;
  nonce: string;
  verifier: string;
  returnTo: string;
}

/** Storage used for the pending login (sessionStorage in the browser; injectable in tests). */
export interface KeyValueStore {
  getItem(k: string): string | null;
  setItem(k: string, v: string): void;
  removeItem(k: string): void;
}

export function randomToken(bytes = 32): string {
  const b = new Uint8Array(bytes);
  crypto.getRandomValues(b);
  return base64UrlEncode(b);
}

/** RFC 7636 S256: BASE64URL(SHA256(ASCII(verifier))). */
export async function pkceChallenge(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64UrlEncode(new Uint8Array(digest));
}

export function redirectUri(origin: string): string {
  return `${origin}/auth/callback`;
}

/** Builds the authorization request URL and records the pending login. */
export async function beginLogin(
  cfg: OidcConfig,
  origin: string,
  returnTo: string,
  store: KeyValueStore,
): Promise<string> {
  const pending: PendingLogin = {
    state: randomToken(),
    nonce: randomToken(),
    verifier: randomToken(48),
    returnTo: returnTo.startsWith("/") && !returnTo.startsWith("//") ? returnTo : "/",
  };
  store.setItem(PENDING_KEY, JSON.stringify(pending));
  const url = new URL(cfg.authorization_endpoint);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", cfg.client_id);
  url.searchParams.set("redirect_uri", redirectUri(origin));
  url.searchParams.set("scope", cfg.scope);
  url.searchParams.set("state", pending.state);
  url.searchParams.set("nonce", pending.nonce);
  url.searchParams.set("code_challenge", await pkceChallenge(pending.verifier));
  url.searchParams.set("code_challenge_method", "S256");
  return url.toString();
}

export class OidcError extends Error {
  constructor(
    readonly kind: "state" | "nonce" | "provider" | "exchange" | "no-pending" | "token",
    message: string,
  ) {
    super(message);
  }
}

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

/**
 * Completes the login from the callback's query string: checks state, exchanges the
 * code with the verifier, checks the ID token's nonce, and returns the token the
 * gateway accepts with the path to return to. The pending login is removed either way.
 */
export async function completeLogin(
  cfg: OidcConfig,
  origin: string,
  search: string,
  store: KeyValueStore,
  fetchFn: Fetch = fetch,
): Promise<{ token: string; returnTo: string }> {
  const raw = store.getItem(PENDING_KEY);
  store.removeItem(PENDING_KEY);
  if (!raw) throw new OidcError("no-pending", "no login in progress in this tab");
  const pending = JSON.parse(raw) as PendingLogin;
  const params = new URLSearchParams(search);
  if (params.get("state") !== pending.state) throw new OidcError("state", "state does not match");
  const providerError = params.get("error");
  if (providerError) throw new OidcError("provider", providerError);
  const code = params.get("code");
  if (!code) throw new OidcError("provider", "no code in the callback");

  const body = new URLSearchParams({
    grant_type: "authorization_code",
    code,
    redirect_uri: redirectUri(origin),
    client_id: cfg.client_id,
    code_verifier: pending.verifier,
  });
  const res = await fetchFn(cfg.token_endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: body.toString(),
  });
  if (!res.ok) throw new OidcError("exchange", `token endpoint answered HTTP ${res.status}`);
  const tokens = (await res.json()) as { access_token?: unknown; id_token?: unknown };
  if (typeof tokens.id_token === "string") {
    const idClaims = decodeJwtPayload(tokens.id_token);
    if (idClaims.nonce !== pending.nonce) throw new OidcError("nonce", "ID token nonce does not match");
  } else if (cfg.scope.split(/\s+/).includes("openid")) {
    throw new OidcError("token", "no ID token in the token response");
  }
  const chosen = tokens[cfg.token];
  if (typeof chosen !== "string" || chosen === "")
    throw new OidcError("token", `no ${cfg.token} in the token response`);
  return { token: chosen, returnTo: pending.returnTo };
}

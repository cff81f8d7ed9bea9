import { describe, expect, it } from "vitest";
import type { OidcConfig } from "./authApi";
import { base64UrlEncode } from "./jwt";
import { beginLogin, completeLogin, OidcError, pkceChallenge, type KeyValueStore } from "./oidc";

class MemStore implements KeyValueStore {
  m = new Map<string, string>();
  getItem(k: string) {
    return this.m.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.m.set(k, v);
  }
  removeItem(k: string) {
    this.m.delete(k);
  }
}

const cfg: OidcConfig = {
  authorization_endpoint: "https://idp.example/authorize?tenant=t1",
  token_endpoint: "https://idp.example/token",
  client_id: "kaigo-web",
  scope: "openid profile kaigo",
  token: "access_token",
};
const origin = "https://kaigo.example";

function jwt(payload: object): string {
  const enc = (o: object) => base64UrlEncode(new TextEncoder().encode(JSON.stringify(o)));
  return `${enc({ alg: "none" })}.${enc(payload)}.sig`;
}

async function started(store = new MemStore()) {
  const url = new URL(await beginLogin(cfg, origin, "/applications/abc", store));
  return { store, url, state: url.searchParams.get("state")!, nonce: url.searchParams.get("nonce")! };
}

describe("PKCE", () => {
  it("computes the RFC 7636 appendix B S256 challenge", async () => {
    expect(await pkceChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe(
      "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    );
  });

  it("sends an S256 challenge of the stored verifier, fresh state and nonce, keeping the endpoint's query", async () => {
    const { store, url, state, nonce } = await started();
    const pending = JSON.parse(store.getItem("kaigo.oidc.pending")!);
    expect(url.origin + url.pathname).toBe("https://idp.example/authorize");
    expect(url.searchParams.get("tenant")).toBe("t1");
    expect(url.searchParams.get("response_type")).toBe("code");
    expect(url.searchParams.get("client_id")).toBe("kaigo-web");
    expect(url.searchParams.get("redirect_uri")).toBe("https://kaigo.example/auth/callback");
    expect(url.searchParams.get("scope")).toBe("openid profile kaigo");
    expect(url.searchParams.get("code_challenge_method")).toBe("S256");
    expect(url.searchParams.get("code_challenge")).toBe(await pkceChallenge(pending.verifier));
    expect(pending.verifier.length).toBeGreaterThanOrEqual(43);
    expect(state).toBe(pending.state);
    expect(nonce).toBe(pending.nonce);
    const again = await started();
    expect(again.state).not.toBe(state);
    expect(again.nonce).not.toBe(nonce);
  });

  it("keeps only same-origin paths to return to", async () => {
    const store = new MemStore();
    await beginLogin(cfg, origin, "//evil.example/x", store);
    expect(JSON.parse(store.getItem("kaigo.oidc.pending")!).returnTo).toBe("/");
  });
});

describe("callback", () => {
  it("exchanges the code with the verifier and returns the configured token", async () => {
    const { store, state, nonce } = await started();
    const verifier = JSON.parse(store.getItem("kaigo.oidc.pending")!).verifier;
    let sent: URLSearchParams | undefined;
    const fetchFn = async (url: string, init?: RequestInit) => {
      expect(url).toBe(cfg.token_endpoint);
      sent = new URLSearchParams(String(init?.body));
      return new Response(JSON.stringify({ access_token: "AT", id_token: jwt({ nonce }) }), { status: 200 });
    };
    const out = await completeLogin(cfg, origin, `?code=C1&state=${state}`, store, fetchFn);
    expect(out).toEqual({ token: "AT", returnTo: "/applications/abc" });
    expect(sent?.get("grant_type")).toBe("authorization_code");
    expect(sent?.get("code")).toBe("C1");
    expect(sent?.get("code_verifier")).toBe(verifier);
    expect(sent?.get("redirect_uri")).toBe("https://kaigo.example/auth/callback");
    expect(store.getItem("kaigo.oidc.pending")).toBeNull();
  });

  it("returns the ID token when configured so", async () => {
    const { store, state, nonce } = await started();
    const id = jwt({ nonce, role: "insurer" });
    const fetchFn = async () => new Response(JSON.stringify({ access_token: "AT", id_token: id }));
    const out = await completeLogin({ ...cfg, token: "id_token" }, origin, `?code=C&state=${state}`, store, fetchFn);
    expect(out.token).toBe(id);
  });

  it("refuses a wrong state without calling the token endpoint, and forgets the pending login", async () => {
    const { store } = await started();
    let called = false;
    const fetchFn = async () => {
      called = true;
      return new Response("{}");
    };
    await expect(completeLogin(cfg, origin, "?code=C&state=forged", store, fetchFn)).rejects.toMatchObject({
      kind: "state",
    });
    expect(called).toBe(false);
    expect(store.getItem("kaigo.oidc.pending")).toBeNull();
    // A replay of the callback finds no pending login.
    await expect(completeLogin(cfg, origin, "?code=C&state=forged", store, fetchFn)).rejects.toMatchObject({
      kind: "no-pending",
    });
  });

  it("refuses an ID token whose nonce does not match", async () => {
    const { store, state } = await started();
    const fetchFn = async () => new Response(JSON.stringify({ access_token: "AT", id_token: jwt({ nonce: "other" }) }));
    await expect(completeLogin(cfg, origin, `?code=C&state=${state}`, store, fetchFn)).rejects.toBeInstanceOf(
      OidcError,
    );
  });

  it("reports the provider's error and a failed exchange", async () => {
    const a = await started();
    await expect(
      completeLogin(cfg, origin, `?error=access_denied&state=${a.state}`, a.store, async () => new Response("{}")),
    ).rejects.toMatchObject({ kind: "provider", message: "access_denied" });
    const b = await started();
    await expect(
      completeLogin(cfg, origin, `?code=C&state=${b.state}`, b.store, async () => new Response("no", { status: 400 })),
    ).rejects.toMatchObject({ kind: "exchange" });
  });

  it("refuses a response without the configured token or without an ID token for openid", async () => {
    const a = await started();
    await expect(
      completeLogin(
        cfg,
        origin,
        `?code=C&state=${a.state}`,
        a.store,
        async () => new Response(JSON.stringify({ id_token: jwt({ nonce: a.nonce }) })),
      ),
    ).rejects.toMatchObject({ kind: "token" });
    const b = await started();
    await expect(
      completeLogin(
        cfg,
        origin,
        `?code=C&state=${b.state}`,
        b.store,
        async () => new Response(JSON.stringify({ access_token: "AT" })),
      ),
    ).rejects.toMatchObject({ kind: "token" });
  });
});

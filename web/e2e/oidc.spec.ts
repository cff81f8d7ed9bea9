// The production sign-in: OpenID Connect authorization code with PKCE, run by the browser
// against the operator's provider. A second `kaigo dev` is started with gateway.web.oidc set,
// next to a small provider written here that checks what a real one checks (client, redirect
// URI, S256 challenge against the verifier, one use per code) and issues, as the access token,
// a token the gateway accepts (minted with that kaigo dev's key by `kaigo token`).
import { expect, test } from "@playwright/test";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const webDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const kaigoBin = process.env.KAIGO_BIN ?? join(webDir, "..", "target", "debug", "kaigo");
const CLIENT_ID = "kaigo-web";

interface Grant {
  challenge: string;
  redirectUri: string;
  nonce: string;
}

/** What the provider saw, for the assertions. */
const seen = { authorizations: 0, exchanges: 0, refusals: [] as string[] };
/** When set, the provider answers the next authorization with this state instead. */
let forgeState: string | null = null;

let provider: Server;
let providerUrl = "";
let kaigo: ChildProcess | undefined;
let kaigoUrl = "";
let dataDir = "";

const b64url = (bytes: Buffer) => bytes.toString("base64url");

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    req.on("data", (chunk) => (text += chunk));
    req.on("end", () => resolve(text));
    req.on("error", reject);
  });
}

function startProvider(): Promise<void> {
  const grants = new Map<string, Grant>();
  provider = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", providerUrl);
    const cors = { "access-control-allow-origin": kaigoUrl, vary: "origin" };
    if (url.pathname === "/authorize" && req.method === "GET") {
      const q = url.searchParams;
      const redirectUri = q.get("redirect_uri") ?? "";
      const ok =
        q.get("response_type") === "code" &&
        q.get("client_id") === CLIENT_ID &&
        redirectUri === `${kaigoUrl}/auth/callback` &&
        q.get("code_challenge_method") === "S256" &&
        (q.get("code_challenge") ?? "").length === 43 &&
        (q.get("scope") ?? "").split(" ").includes("openid") &&
        !!q.get("state") &&
        !!q.get("nonce");
      if (!ok) {
        seen.refusals.push(`authorize ${url.search}`);
        res.writeHead(400).end("bad authorization request");
        return;
      }
      seen.authorizations += 1;
      const code = b64url(randomBytes(24));
      grants.set(code, { challenge: q.get("code_challenge")!, redirectUri, nonce: q.get("nonce")! });
      const back = new URL(redirectUri);
      back.searchParams.set("code", code);
      back.searchParams.set("state", forgeState ?? q.get("state")!);
      forgeState = null;
      res.writeHead(302, { location: back.toString() }).end();
      return;
    }
    if (url.pathname === "/token" && req.method === "OPTIONS") {
      res.writeHead(204, { ...cors, "access-control-allow-headers": "content-type, accept" }).end();
      return;
    }
    if (url.pathname === "/token" && req.method === "POST") {
      const form = new URLSearchParams(await body(req));
      const code = form.get("code") ?? "";
      const grant = grants.get(code);
      grants.delete(code); // a code is good once
      const verifier = form.get("code_verifier") ?? "";
      const ok =
        grant !== undefined &&
        form.get("grant_type") === "authorization_code" &&
        form.get("client_id") === CLIENT_ID &&
        form.get("redirect_uri") === grant.redirectUri &&
        b64url(createHash("sha256").update(verifier).digest()) === grant.challenge;
      if (!ok) {
        seen.refusals.push("token exchange");
        res.writeHead(400, { ...cors, "content-type": "application/json" }).end('{"error":"invalid_grant"}');
        return;
      }
      seen.exchanges += 1;
      const access = execFileSync(
        kaigoBin,
        ["token", "--data-dir", dataDir, "--role", "care_office", "--office", "4371000128", "--ttl", "10m"],
        { encoding: "utf8" },
      ).trim();
      const now = Math.floor(Date.now() / 1000);
      const idClaims = { iss: providerUrl, aud: CLIENT_ID, sub: "cm-1", nonce: grant!.nonce, iat: now, exp: now + 600 };
      const idToken =
        [{ alg: "none", typ: "JWT" }, idClaims].map((p) => b64url(Buffer.from(JSON.stringify(p)))).join(".") + ".";
      res
        .writeHead(200, { ...cors, "content-type": "application/json", "cache-control": "no-store" })
        .end(JSON.stringify({ access_token: access, id_token: idToken, token_type: "Bearer", expires_in: 600 }));
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) =>
    provider.listen(0, "127.0.0.1", () => {
      providerUrl = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
      resolve();
    }),
  );
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

test.beforeAll(async () => {
  await startProvider();
  dataDir = mkdtempSync(join(tmpdir(), "kaigo-oidc-"));
  const port = await freePort();
  kaigoUrl = `http://127.0.0.1:${port}`;
  kaigo = spawn(kaigoBin, ["dev", "--listen", `127.0.0.1:${port}`, "--data-dir", join(dataDir, "data")], {
    env: {
      ...process.env,
      KAIGO_GATEWAY__WEB__ROOT: join(webDir, "dist"),
      KAIGO_GATEWAY__WEB__OIDC__AUTHORIZATION_ENDPOINT: `${providerUrl}/authorize`,
      KAIGO_GATEWAY__WEB__OIDC__TOKEN_ENDPOINT: `${providerUrl}/token`,
      KAIGO_GATEWAY__WEB__OIDC__CLIENT_ID: CLIENT_ID,
      KAIGO_GATEWAY__WEB__OIDC__SCOPE: "openid profile",
    },
    stdio: "ignore",
  });
  dataDir = join(dataDir, "data");
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const res = await fetch(`${kaigoUrl}/auth/config`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error("the OpenID kaigo dev did not start");
    await new Promise((r) => setTimeout(r, 250));
  }
});

test.afterAll(async () => {
  kaigo?.kill("SIGTERM");
  await new Promise((resolve) => provider.close(resolve));
  rmSync(dirname(dataDir), { recursive: true, force: true });
});

test("a care manager signs in through the operator's provider with PKCE and uses the screens", async ({ page }) => {
  const config = await (await fetch(`${kaigoUrl}/auth/config`)).json();
  expect(config.mode).toBe("oidc");
  // No demo sign-in when a provider is configured.
  expect((await fetch(`${kaigoUrl}/auth/dev/identities`)).status).toBe(404);

  await page.goto(`${kaigoUrl}/eligibility`);
  await page.getByRole("button", { name: "サインイン（組織のアカウント）" }).click();
  await expect(page.getByTestId("signed-in-as")).toBeVisible();
  expect(seen.authorizations).toBe(1);
  expect(seen.exchanges).toBe(1);
  expect(seen.refusals).toEqual([]);
  // The code and state never stay in the address bar; the user is back where they started.
  expect(page.url()).toBe(`${kaigoUrl}/eligibility`);
  // Only the session token is kept, in sessionStorage.
  const stored = await page.evaluate(() => ({
    session: Object.keys(sessionStorage),
    local: Object.keys(localStorage),
  }));
  expect(stored.session).toEqual(["kaigo.token"]);
  expect(stored.local.filter((k) => k !== "kaigo.lang")).toEqual([]);

  // The provider's token works against the services like any vendor's.
  await page.getByRole("textbox", { name: "保険者番号", exact: true }).fill("435073");
  await page.getByLabel("被保険者番号").fill("0000000001");
  await page.getByRole("button", { name: "確認する" }).click();
  await expect(page.getByTestId("care-level")).toHaveText("要介護2");
});

test("a callback whose state does not match the login in progress is refused", async ({ page }) => {
  forgeState = "forged-state";
  await page.goto(`${kaigoUrl}/`);
  await page.getByRole("button", { name: "サインイン（組織のアカウント）" }).click();
  await expect(page.getByRole("alert")).toContainText("サインインを完了できませんでした");
  await expect(page.getByTestId("signed-in-as")).toHaveCount(0);
  expect(await page.evaluate(() => sessionStorage.getItem("kaigo.token"))).toBeNull();
});

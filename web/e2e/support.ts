// Helpers for the browser tests: dev tokens, a second gRPC-Web client from Node (the
// same generated client the screens use), sign-in through the dev page, screenshots.
import { expect, type Page } from "@playwright/test";
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import type { DescService } from "@bufbuild/protobuf";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const baseURL = process.env.KAIGO_BASE_URL ?? "http://127.0.0.1:50051";
const webDir = join(dirname(fileURLToPath(import.meta.url)), "..");

export interface Identity {
  id: string;
  role: string;
  label_ja: string;
  label_en: string;
  insurer_number?: string;
  office_number?: string;
  institution_code?: string;
}

export async function identities(): Promise<Identity[]> {
  const res = await fetch(`${baseURL}/auth/dev/identities`);
  expect(res.status).toBe(200);
  return (await res.json()) as Identity[];
}

export async function devToken(identity: string): Promise<string> {
  const res = await fetch(`${baseURL}/auth/dev/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ identity }),
  });
  expect(res.status, `POST /auth/dev/token ${identity}`).toBe(200);
  const body = (await res.json()) as { token: string; expires_at: number };
  expect(body.expires_at).toBeGreaterThan(Date.now() / 1000);
  return body.token;
}

/** A client of one service as `identity`, over gRPC-Web like the browser. */
export async function apiAs<T extends DescService>(service: T, identity: string): Promise<Client<T>> {
  const token = await devToken(identity);
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  return createClient(service, createGrpcWebTransport({ baseUrl: baseURL, interceptors: [bearer] }));
}

/** Signs in through the dev page as `identity` and waits for the shell. */
export async function signIn(page: Page, identity: string): Promise<void> {
  await page.goto("/");
  await page.locator(`button[data-identity="${identity}"]`).click();
  await expect(page.getByTestId("signed-in-as")).toBeVisible();
}

/** Saves the screen as web/screenshots/<name>.png; every screen shot is read in Japanese, so none may show an English sentence. */
export async function screenshot(page: Page, name: string): Promise<void> {
  expect(await englishRuns(page), `English sentences on the ${name} screen`).toEqual([]);
  expect(await visibleText(page), `dates on the ${name} screen`).not.toMatch(UNREADABLE_DATE);
  const dir = join(webDir, "screenshots");
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}

/** Today's date in JST as google.type.Date fields. */
export function todayJst(): { year: number; month: number; day: number } {
  const d = new Date(Date.now() + 9 * 3600 * 1000);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** Product names, written in Latin letters on Japanese pages too. */
const PRODUCT_NAMES = /\bkaigo dev\b|\bkaigo\b|\bOpenID Connect\b|\bShift_JIS\b/g;

/**
 * Runs of English words in the page's visible text: two or more Latin words with lower-case
 * letters separated only by spaces or ASCII punctuation ("check digit", "application received"),
 * wherever they stand (also right after Japanese text). Left out: codes (text inside <code> or
 * marked translate="no"), tokens without lower-case letters (PDF, CSV, FAX, MS932, UPPLAN_…CSV,
 * numbers) and product names.
 */
export async function englishRuns(page: Page): Promise<string[]> {
  return findEnglishRuns(await visibleText(page));
}

export function findEnglishRuns(pageText: string): string[] {
  const text = pageText.replace(PRODUCT_NAMES, " ");
  const runs: string[] = [];
  let run: string[] = [];
  let end = -1;
  const flush = () => {
    if (run.length >= 2) runs.push(run.join(" "));
    run = [];
  };
  for (const m of text.matchAll(/[A-Za-z][A-Za-z0-9_'’-]*/g)) {
    const word = m[0];
    const between = end < 0 ? "" : text.slice(end, m.index);
    const adjacent = end >= 0 && /^[\s,.:;()!?"/-]+$/.test(between);
    if (!adjacent) flush();
    if (/[a-z]/.test(word) && /^[A-Za-z'’-]+$/.test(word)) run.push(word);
    else flush();
    end = m.index + word.length;
  }
  flush();
  return runs;
}

/** The page's visible text, without codes (<code>, translate="no") and screen-reader-only text. */
export async function visibleText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const parts: string[] = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!el || el.closest('code, [translate="no"], script, style, .sr-only')) continue;
      if (!el.checkVisibility()) continue;
      parts.push(n.textContent ?? "");
    }
    return parts.join(" ");
  });
}

/** Dates written other than as people read them: ISO, slashes, zero-padded 月 or 日. */
export const UNREADABLE_DATE = /\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{4}\/\d{1,2}\/\d{1,2}\b|年0\d月|月0\d日/;

// Every screen, as each role reaches it, read in Japanese: no English sentence on the page
// (the API's developer messages and step summaries never reach it), page titles by screen,
// and at 200 % zoom (640 px wide) nothing needs horizontal scrolling.
import { expect, test, type Page } from "@playwright/test";
import { englishRuns, findEnglishRuns, signIn, UNREADABLE_DATE, visibleText } from "./support";

const APP = "介護情報基盤";

/** The pages each role can open: [path, title of the screen]. Detail pages are reached by link. */
const PAGES: Record<string, [string, string][]> = {
  insurer: [
    ["/eligibility", "資格確認"],
    ["/applications", "申請状況"],
    ["/notifications", "居宅サービス計画作成依頼届出"],
  ],
  care_office: [
    ["/eligibility", "資格確認"],
    ["/applications", "申請状況"],
    ["/careplan", "ケアプラン"],
    ["/careplan/sent", "ケアプラン"],
    ["/careplan/send", "ケアプラン"],
    ["/subsidies", "助成金"],
    ["/notifications", "居宅サービス計画作成依頼届出"],
    ["/users", "利用者登録"],
  ],
  service_provider: [
    ["/careplan", "ケアプラン"],
    ["/subsidies", "助成金"],
    ["/users", "利用者登録"],
  ],
  medical_institution: [
    ["/eligibility", "資格確認"],
    ["/careinfo", "介護情報の閲覧"],
    ["/opinions", "主治医意見書"],
    ["/subsidies", "助成金"],
    ["/users", "利用者登録"],
  ],
  insured_person: [["/mypage", "わたしの情報"]],
  operator: [
    ["/review", "助成金の審査"],
    ["/review/report", "助成金の審査"],
  ],
};

/** Opens a path (the session token survives a reload in the same tab) and waits for it to settle. */
async function open(page: Page, path: string) {
  await page.goto(path);
  await expect(page.locator("main h1")).toBeVisible();
  await expect(page.locator(".loading")).toHaveCount(0);
}

async function checkPage(page: Page, what: string, screenTitle: string) {
  await expect(page, what).toHaveTitle(new RegExp(`${screenTitle} — ${APP}$`));
  expect(await englishRuns(page), `English sentences on ${what}`).toEqual([]);
  expect(await visibleText(page), `dates on ${what}`).not.toMatch(UNREADABLE_DATE);
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  expect(overflow, `horizontal scrolling on ${what} at 200 %`).toBeLessThanOrEqual(0);
}

for (const [identity, pages] of Object.entries(PAGES)) {
  test(`${identity}: every page reads in Japanese and reflows at 200 %`, async ({ page }) => {
    // Nothing the pages load is missing (the favicon included).
    const missing: string[] = [];
    page.on("response", (r) => {
      if (r.status() === 404) missing.push(new URL(r.url()).pathname);
    });
    await page.setViewportSize({ width: 640, height: 900 }); // 1280 px at 200 %
    await signIn(page, identity);
    for (const [path, title] of pages) {
      await open(page, path);
      await checkPage(page, path, title);
    }
    if (identity === "care_office" || identity === "insurer") {
      // The application detail, with its timeline: steps from codes, not the API's summaries.
      await open(page, "/applications");
      await page.locator("tr[data-application-id] a").first().click();
      await expect(page.getByTestId("timeline").locator("li").first()).toBeVisible();
      await expect(page.getByTestId("person").locator("[data-person]")).toBeVisible();
      await checkPage(page, "/applications/<id>", "申請状況");
    }
    if (identity === "medical_institution") {
      // The opinion form of the first request.
      await open(page, "/opinions");
      await page.getByTestId("opinion-requests").locator("a").first().click();
      await expect(page.locator("form")).toBeVisible();
      await checkPage(page, "/opinions/requests/<id>", "主治医意見書");
      // The form stays usable at 200 %: its submit button can be reached and seen.
      const submit = page.locator('form button[type="submit"]').last();
      await submit.scrollIntoViewIfNeeded();
      await expect(submit).toBeInViewport();
    }
    if (identity === "operator") {
      await open(page, "/review");
      const first = page.locator("tr[data-application-id] a, table a").first();
      if (await first.count()) {
        await first.click();
        await expect(page.locator("main h1")).toBeVisible();
        await expect(page.locator(".loading")).toHaveCount(0);
        await checkPage(page, "/review/<id>", "助成金の審査");
      }
    }
    expect(missing, "responses 404").toEqual([]);
    expect(await page.locator('link[rel="icon"]').getAttribute("href")).toBe("/favicon.svg");
  });
}

test("an error is told in Japanese by its reason and field label, with no developer text", async ({ page }) => {
  await signIn(page, "care_office");
  await page.getByRole("link", { name: "資格確認" }).click();
  // 435074: the check digit of 435073 mistyped.
  await page.getByRole("textbox", { name: "保険者番号", exact: true }).fill("435074");
  await page.getByLabel("被保険者番号").fill("0000000001");
  await page.getByRole("button", { name: "確認する" }).click();
  const field = page.getByRole("textbox", { name: "保険者番号", exact: true });
  await expect(field).toHaveAttribute("aria-invalid", "true");
  const errorId = (await field.getAttribute("aria-describedby"))!.split(" ").find((id) => id.endsWith("-error"))!;
  await expect(page.locator(`[id="${errorId}"]`)).toHaveText("検査数字が一致しません。番号を確かめてください。");
  const alert = page.getByTestId("problem");
  await expect(alert).toContainText("入力に誤りがあります");
  await expect(alert.getByRole("link", { name: "保険者番号" })).toBeVisible();
  await expect(alert).not.toContainText("INVALID_ARGUMENT");
  expect(await englishRuns(page)).toEqual([]);
});

test("the check for English sentences finds them on an English page", async ({ page }) => {
  // The same check, on the same screen switched to English, must object: else it proves nothing.
  await signIn(page, "care_office");
  await page.goto("/applications");
  await expect(page.locator("main h1")).toBeVisible();
  expect(await englishRuns(page)).toEqual([]);
  await page.getByRole("button", { name: "Switch to English" }).click();
  await expect(page.locator("html")).toHaveAttribute("lang", "en");
  expect((await englishRuns(page)).length).toBeGreaterThan(0);
  await page.getByRole("button", { name: "日本語に切り替え" }).click();
});

test("the check for English sentences sees them wherever they stand, and leaves codes and product names", () => {
  expect(findEnglishRuns("保険者番号 check digit does not match (modulus 10)")).toEqual([
    "check digit does not match modulus",
  ]);
  expect(findEnglishRuns("経過application received (New) dated")).toEqual(["application received New dated"]);
  expect(
    findEnglishRuns("【デモ】（kaigo dev 用） UPPLAN_202505_1370000011.CSV MS932 PDF 2026年12月4日 English"),
  ).toEqual([]);
});

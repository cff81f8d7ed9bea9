import { expect, test } from "@playwright/test";
import { identities, screenshot, signIn } from "./support";

// What each role finds in the menu (the screens registered for it).
const MENU: Record<string, string[]> = {
  insurer: ["資格確認", "申請状況", "作成依頼届出"],
  care_office: ["資格確認", "申請状況", "助成金", "作成依頼届出", "利用者登録"],
  service_provider: ["資格確認", "助成金", "利用者登録"],
  medical_institution: ["資格確認", "介護情報の閲覧", "助成金", "利用者登録"],
  insured_person: ["わたしの情報"],
  operator: ["助成金の審査"],
};

test("the dev sign-in page lists the demo identities, and each role signs in and out", async ({ page }) => {
  const ids = await identities();
  expect(ids.map((i) => i.role).sort()).toEqual(
    ["care_office", "insured_person", "insurer", "medical_institution", "operator", "service_provider"].sort(),
  );
  await page.goto("/");
  await expect(page.getByRole("heading", { level: 1, name: "サインイン" })).toBeVisible();
  await expect(page.locator("html")).toHaveAttribute("lang", "ja");
  await screenshot(page, "signin");

  for (const identity of ids) {
    await signIn(page, identity.id);
    const nav = page.getByRole("navigation", { name: "メニュー" });
    for (const item of MENU[identity.role] ?? []) {
      await expect(nav.getByRole("link", { name: item })).toBeVisible();
    }
    // The token is in sessionStorage only; nothing in localStorage but the language.
    const stored = await page.evaluate(() => ({
      session: Object.keys(sessionStorage),
      local: Object.keys(localStorage),
      url: location.href,
    }));
    expect(stored.session).toEqual(["kaigo.token"]);
    expect(stored.local.filter((k) => k !== "kaigo.lang")).toEqual([]);
    await page.getByRole("button", { name: "サインアウト" }).click();
    await expect(page.getByRole("heading", { level: 1, name: "サインイン" })).toBeVisible();
    expect(await page.evaluate(() => sessionStorage.getItem("kaigo.token"))).toBeNull();
  }
});

test("the language switches to English and back, with the lang attribute", async ({ page }) => {
  await signIn(page, "care_office");
  await page.getByRole("button", { name: "Switch to English" }).click();
  await expect(page.locator("html")).toHaveAttribute("lang", "en");
  await expect(page.getByRole("navigation", { name: "Menu" }).getByRole("link", { name: "Eligibility" })).toBeVisible();
  await page.getByRole("button", { name: "日本語に切り替え" }).click();
  await expect(page.locator("html")).toHaveAttribute("lang", "ja");
});

test("an expired or forged token sends the user back to sign-in", async ({ page }) => {
  await signIn(page, "care_office");
  // A token with a past expiry (the payload is read, not trusted, by the browser).
  await page.evaluate(() => {
    const enc = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    sessionStorage.setItem(
      "kaigo.token",
      `${enc({ alg: "EdDSA" })}.${enc({ role: "care_office", office_number: "4371000128", exp: 1 })}.x`,
    );
  });
  await page.goto("/eligibility");
  await expect(page.getByRole("heading", { level: 1, name: "サインイン" })).toBeVisible();
  // A token the gateway refuses (bad signature, future expiry): the first call ends the session.
  await signIn(page, "care_office");
  await page.evaluate(() => {
    const t = sessionStorage.getItem("kaigo.token")!;
    const [h, p] = t.split(".");
    sessionStorage.setItem("kaigo.token", `${h}.${p}.AAAA`);
  });
  await page.goto("/applications");
  await expect(page.getByText("セッションの有効期限が切れました")).toBeVisible();
});

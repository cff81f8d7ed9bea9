import { expect, test, type Page } from "@playwright/test";
import { EligibilityService, EligibilityVerdict } from "../src/gen/kaigo/eligibility/v1/eligibility_service_pb";
import { CopaymentRatio } from "../src/gen/kaigo/eligibility/v1/records_pb";
import { CareLevel } from "../src/gen/kaigo/common/v1/care_pb";
import { apiAs, screenshot, signIn } from "./support";

const LEVEL: Partial<Record<CareLevel, string>> = {
  [CareLevel.SUPPORT_1]: "要支援1",
  [CareLevel.SUPPORT_2]: "要支援2",
  [CareLevel.CARE_1]: "要介護1",
  [CareLevel.CARE_2]: "要介護2",
  [CareLevel.CARE_3]: "要介護3",
  [CareLevel.CARE_4]: "要介護4",
  [CareLevel.CARE_5]: "要介護5",
};
const RATIO: Partial<Record<CopaymentRatio, string>> = {
  [CopaymentRatio.ONE_TENTH]: "1割",
  [CopaymentRatio.TWO_TENTHS]: "2割",
  [CopaymentRatio.THREE_TENTHS]: "3割",
};

async function check(page: Page, insurer: string, insured: string) {
  await page.getByRole("link", { name: "資格確認" }).click();
  await page.getByRole("textbox", { name: "保険者番号", exact: true }).fill(insurer);
  await page.getByLabel("被保険者番号").fill(insured);
  await page.getByRole("button", { name: "確認する" }).click();
}

test("a care office sees the demo person's level and ratio as the API gives them", async ({ page }) => {
  const api = await apiAs(EligibilityService, "care_office");
  const { result } = await api.checkEligibility({ insurerNumber: "435073", insuredNumber: "0000000001" });
  expect(result?.verdict).toBe(EligibilityVerdict.ELIGIBLE);
  // The seeded facts the issue names: 要介護2, 1割.
  expect(result?.certification?.careLevel).toBe(CareLevel.CARE_2);
  expect(result?.copayment?.ratio).toBe(CopaymentRatio.ONE_TENTH);

  await signIn(page, "care_office");
  await check(page, "435073", "0000000001");
  await expect(page.getByTestId("verdict")).toContainText("資格あり");
  await expect(page.getByTestId("care-level")).toHaveText(LEVEL[result!.certification!.careLevel]!);
  await expect(page.getByTestId("copayment-ratio")).toHaveText(RATIO[result!.copayment!.ratio]!);
  // The person is registered with this care office (demo data), so the office sees the name.
  expect(result?.person?.nameKanji).toBeTruthy();
  await expect(page.getByTestId("card-insured")).toContainText(result!.person!.nameKanji);
  // Nothing entered ends up in the address bar.
  expect(page.url()).not.toContain("0000000001");
  await screenshot(page, "eligibility");
});

test("an insurer sees a 2割 or 3割 person exactly as the API does", async ({ page }) => {
  const api = await apiAs(EligibilityService, "insurer");
  const numbers = Array.from({ length: 100 }, (_, i) => String(i + 1).padStart(10, "0"));
  const { entries } = await api.batchCheckEligibility({
    queries: numbers.map((n) => ({ insurerNumber: "435073", insuredNumber: n })),
  });
  const hit = entries.find(
    (e) =>
      e.outcome.case === "result" &&
      e.outcome.value.verdict === EligibilityVerdict.ELIGIBLE &&
      (e.outcome.value.copayment?.ratio ?? 0) > CopaymentRatio.ONE_TENTH,
  );
  expect(hit, "the demo data has a 2割 or 3割 certified person under 435073").toBeTruthy();
  const r = hit!.outcome.value as import("../src/gen/kaigo/eligibility/v1/eligibility_service_pb").EligibilityResult;

  await signIn(page, "insurer");
  await check(page, "435073", r.insuredNumber);
  await expect(page.getByTestId("care-level")).toHaveText(LEVEL[r.certification!.careLevel]!);
  await expect(page.getByTestId("copayment-ratio")).toHaveText(RATIO[r.copayment!.ratio]!);
  // The insurer also sees the person's name, as on the paper card.
  await expect(page.getByTestId("card-insured")).toContainText(r.person!.nameKanji);
});

test("field errors from the API appear beside their inputs", async ({ page }) => {
  await signIn(page, "care_office");
  await check(page, "435070", "12");
  const insured = page.getByLabel("被保険者番号");
  await expect(insured).toHaveAttribute("aria-invalid", "true");
  const describedBy = (await insured.getAttribute("aria-describedby"))!;
  const errorId = describedBy.split(" ").find((id) => id.endsWith("-error"))!;
  await expect(page.locator(`#${errorId}`)).toBeVisible();
  await expect(page.getByRole("textbox", { name: "保険者番号", exact: true })).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByTestId("problem")).toBeVisible();
  await screenshot(page, "eligibility-errors");
});

test("a medical institution is not shown the co-payment ratio", async ({ page }) => {
  await signIn(page, "medical_institution");
  await check(page, "435073", "0000000001");
  await expect(page.getByTestId("verdict")).toBeVisible();
  await expect(page.getByTestId("card-copay")).toContainText("閲覧できません");
});

test("the eligibility screen is usable by keyboard and reflows at 200 % zoom", async ({ page }) => {
  await page.setViewportSize({ width: 640, height: 900 }); // 1280 px at 200 %
  await signIn(page, "care_office");
  // A care office opens on this screen, its heading focused. The link then leads to the page
  // already shown (clicking it focuses the link), and the focus must go back to the heading.
  const heading = page.getByRole("heading", { level: 1, name: "資格確認" });
  await expect(page).toHaveURL(/\/eligibility$/);
  await expect(heading).toBeFocused();
  await page.getByRole("link", { name: "資格確認" }).click();
  await expect(heading).toBeFocused();
  await page.keyboard.press("Tab");
  await expect(page.getByRole("textbox", { name: "保険者番号", exact: true })).toBeFocused();
  await page.keyboard.type("435073");
  await page.keyboard.press("Tab");
  await page.keyboard.type("0000000001");
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("care-level")).toBeVisible();
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  expect(overflow).toBeLessThanOrEqual(0);
});

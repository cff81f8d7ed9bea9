import { expect, test } from "@playwright/test";
import { randomUUID } from "node:crypto";
import { SubsidyService } from "../src/gen/kaigo/subsidies/v1/subsidies_service_pb";
import { ApplicationStatus } from "../src/gen/kaigo/subsidies/v1/subsidy_pb";
import { apiAs, screenshot, signIn, todayJst } from "./support";

test("the subsidy shown as the care office types equals CalculateSubsidy's, then it applies", async ({ page }) => {
  const api = await apiAs(SubsidyService, "care_office");
  const { programmes } = await api.listProgrammes({});
  const programme = programmes[0];
  expect(programme, "kaigo dev loads a programme").toBeTruthy();
  const category = programme.careOfficeRules!.categories[0];

  await signIn(page, "care_office");
  await page.getByRole("link", { name: "助成金" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "助成金" })).toBeVisible();
  await page.getByRole("checkbox", { name: category.name }).check();
  await page.getByLabel("台数").fill("4");
  await page.getByLabel("単価（税込・円）").fill("21800");
  await page.getByLabel("接続サポート等経費（税込・円）").fill("33000");
  await page.getByLabel("ケアプランデータ連携 初期設定支援（税込・円）").fill("11000");

  const { calculation } = await api.calculateSubsidy({
    programmeId: programme.programmeId,
    costs: {
      case: "careOffice",
      value: {
        officeNumber: "4371000128",
        categoryIds: [category.categoryId],
        readers: [{ quantity: 4, unitPriceYen: 21800n }],
        connectionSupportCostYen: 33000n,
        careplanSetupCostYen: 11000n,
      },
    },
  });
  const amount = page.getByTestId("eligible-amount");
  await expect(amount).toHaveAttribute("data-yen", String(calculation!.eligibleAmountYen));
  await expect(amount).toHaveText(`${Number(calculation!.eligibleAmountYen).toLocaleString("ja-JP")}円`);
  // The itemised explanation is the API's, line for line.
  await expect(page.getByTestId("breakdown").locator("tbody tr")).toHaveCount(calculation!.lines.length);
  await screenshot(page, "subsidies");

  // A bad value is reported beside its input as the user types.
  await page.getByLabel("台数").fill("100000");
  await expect(page.getByLabel("台数")).toHaveAttribute("aria-invalid", "true");
  await page.getByLabel("台数").fill("4");
  await expect(amount).toHaveAttribute("data-yen", String(calculation!.eligibleAmountYen));

  // Switched to English, the screen asks in English and the API explains in English.
  await page.getByRole("button", { name: "Switch to English" }).click();
  await expect(page.locator("html")).toHaveAttribute("lang", "en");
  await page.getByLabel("Quantity").fill("3");
  await expect(page.getByTestId("breakdown")).toContainText("3 card readers");
  await page.getByRole("button", { name: "日本語に切り替え" }).click();
  await page.getByLabel("台数").fill("4");
  await expect(page.getByTestId("breakdown")).toContainText("カードリーダー 4台");
  await expect(amount).toHaveAttribute("data-yen", String(calculation!.eligibleAmountYen));

  await page.getByRole("button", { name: "この内容で申請する" }).click();
  // kaigo dev's demo programme is open this fiscal year, whatever today's date.
  const d = programme.applicationDeadline!;
  const t = todayJst();
  expect(t.year * 10000 + t.month * 100 + t.day).toBeLessThanOrEqual(d.year * 10000 + d.month * 100 + d.day);
  await expect(page.getByTestId("submitted")).toContainText("申請済");
  const { applications } = await api.listApplications({});
  const mine = applications.find((a) => a.programmeId === programme.programmeId && a.status === 2);
  expect(mine, "the submitted application").toBeTruthy();

  // The operator returns it for correction (差戻し): the office reads why, corrects the costs in
  // the same form and submits it again; the application keeps its history.
  const operator = await apiAs(SubsidyService, "operator");
  await operator.returnApplication({
    requestId: randomUUID(),
    applicationId: mine!.applicationId,
    expectedVersion: mine!.version,
    reasons: ["台数を見積書に合わせてください"],
  });
  await page.reload();
  await expect(page.getByTestId("returned")).toContainText("台数を見積書に合わせてください");
  await page.getByRole("checkbox", { name: category.name }).check();
  await page.getByLabel("台数").fill("3");
  await page.getByLabel("単価（税込・円）").fill("21800");
  await page.getByLabel("接続サポート等経費（税込・円）").fill("33000");
  await page.getByRole("button", { name: "修正して再提出する" }).click();
  await expect(page.getByTestId("submitted")).toContainText("申請済");
  await expect(page.getByTestId("returned")).toHaveCount(0);
  const { application: again } = await api.getApplication({ applicationId: mine!.applicationId });
  expect(again!.status).toBe(ApplicationStatus.SUBMITTED);
  expect(again!.history.map((e) => e.action)).toEqual(["create", "submit", "return", "update", "submit"]);
  expect(again!.costs.case === "careOffice" && again!.costs.value.readers[0].quantity).toBe(3);
});

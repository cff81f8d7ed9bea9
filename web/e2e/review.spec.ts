import { expect, test } from "@playwright/test";
import { randomUUID } from "node:crypto";
import { SubsidyService } from "../src/gen/kaigo/subsidies/v1/subsidies_service_pb";
import { ApplicationStatus, InstitutionType } from "../src/gen/kaigo/subsidies/v1/subsidy_pb";
import { apiAs, identities, screenshot, signIn, todayJst } from "./support";

// kaigo dev's demo programme is open this fiscal year. One application per applicant per
// programme: subsidies.spec.ts applies as the care office (4371000128), so these tests apply as
// the other demo applicants: the service provider (介護事業所, care-office costs) and the
// medical institution.
const PROGRAMME = "demo";

async function identity(id: string) {
  const found = (await identities()).find((i) => i.id === id);
  expect(found, `demo identity ${id}`).toBeTruthy();
  return found!;
}

test("the operator reviews, approves and pays a submitted application; the report shows it", async ({ page }) => {
  const office = (await identity("service_provider")).office_number!;
  const applicant = await apiAs(SubsidyService, "service_provider");
  const { programme } = await applicant.getProgramme({ programmeId: PROGRAMME });
  const category = programme!.careOfficeRules!.categories[0];
  const { application: draft } = await applicant.createApplication({
    requestId: randomUUID(),
    application: {
      programmeId: PROGRAMME,
      costs: {
        case: "careOffice",
        value: {
          officeNumber: office,
          categoryIds: [category.categoryId],
          readers: [{ quantity: 2, unitPriceYen: 21800n }],
          connectionSupportCostYen: 33000n,
        },
      },
    },
  });
  const { application: submitted } = await applicant.submitApplication({
    requestId: randomUUID(),
    applicationId: draft!.applicationId,
    expectedVersion: draft!.version,
  });
  expect(submitted!.status).toBe(ApplicationStatus.SUBMITTED);
  const id = submitted!.applicationId;
  const calc = submitted!.calculation!;
  const eligible = calc.eligibleAmountYen;
  expect(eligible).toBeGreaterThan(0n);

  await signIn(page, "operator");
  await page.getByRole("navigation", { name: "メニュー" }).getByRole("link", { name: "助成金の審査" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "助成金の審査: 申請一覧" })).toBeVisible();
  await page.getByLabel("状態").selectOption({ label: "提出済み" });
  const row = page.locator(`tr[data-application-id="${id}"]`);
  await expect(row).toBeVisible();
  await expect(row.getByTestId("status")).toHaveText("提出済み");
  await expect(row.getByTestId("applicant-number")).toHaveText(office);
  await expect(row.getByTestId("eligible")).toHaveAttribute("data-yen", String(eligible));
  await expect(row.getByTestId("claimed")).toHaveAttribute("data-yen", String(calc.totalCostYen));
  // Every row listed under 提出済み is submitted. The new application is already in the unfiltered
  // list, so its row can show before the filtered list has replaced it: wait for the filtered one.
  await expect(
    page.getByTestId("review-applications").getByTestId("status").filter({ hasNotText: "提出済み" }),
  ).toHaveCount(0);
  // No personal data (nor the office number) in the address: the list's filters stay in state.
  expect(page.url()).not.toContain(office);

  await row.getByRole("link", { name: `介護事業所 ${office} の申請を開く` }).click();
  await expect(page.getByRole("heading", { level: 1, name: "助成金の審査: 申請の審査" })).toBeVisible();
  expect(new URL(page.url()).pathname).toBe(`/review/${id}`);
  await expect(page.getByTestId("eligible-amount")).toHaveAttribute("data-yen", String(eligible));
  // The calculation as the applicant saw it, line for line.
  await expect(page.getByTestId("breakdown").locator("tbody tr")).toHaveCount(calc.lines.length);
  await expect(page.getByTestId("breakdown").locator("tbody tr").first()).toHaveAttribute(
    "data-code",
    calc.lines[0].code,
  );

  await page.getByRole("button", { name: "審査を開始する" }).click();
  await expect(page.getByTestId("summary").getByTestId("status")).toHaveText("審査中");
  const amount = page.getByLabel("承認額（円）");
  await expect(amount).toHaveValue(String(eligible));
  await screenshot(page, "review");
  await page.getByRole("button", { name: "承認する" }).click();
  await expect(page.getByTestId("summary").getByTestId("status")).toHaveText("承認済み");
  await expect(page.getByTestId("approved-amount")).toHaveAttribute("data-yen", String(eligible));

  await expect(page.getByLabel("支払額（円）")).toHaveValue(String(eligible));
  const t = todayJst();
  const today = `${t.year}-${String(t.month).padStart(2, "0")}-${String(t.day).padStart(2, "0")}`;
  await expect(page.getByLabel("支払日")).toHaveValue(today);
  await page.getByLabel("振込番号（任意）").fill("E2E-0001");
  await page.getByRole("button", { name: "支払を記録する" }).click();
  await expect(page.getByTestId("summary").getByTestId("status")).toHaveText("支払済み");
  await expect(page.getByText("この状態で行える操作はありません。")).toBeVisible();

  // The applicant reads the same outcome.
  const { application: paid } = await applicant.getApplication({ applicationId: id });
  expect(paid!.status).toBe(ApplicationStatus.PAID);
  expect(paid!.approvedAmountYen).toBe(eligible);
  expect(paid!.paidAmountYen).toBe(eligible);
  expect(paid!.paidDate).toMatchObject(t);
  expect(paid!.paymentReference).toBe("E2E-0001");
  expect(paid!.version).toBe(submitted!.version + 3n);

  // The report: approved and paid figures as GetReport gives them, including this payment.
  const operator = await apiAs(SubsidyService, "operator");
  await page.getByRole("link", { name: "集計" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "助成金の審査: 助成金の集計" })).toBeVisible();
  await page.getByLabel("助成事業").selectOption(PROGRAMME);
  const pref = page.getByTestId("report-prefectures").locator(`tr[data-prefecture="${paid!.prefectureCode}"]`);
  await expect(pref).toBeVisible();
  const report = await operator.getReport({ programmeId: PROGRAMME });
  const mine = report.rows.filter((r) => r.prefectureCode === paid!.prefectureCode);
  const sum = (f: (r: (typeof mine)[number]) => bigint) => mine.reduce((a, r) => a + f(r), 0n);
  const paidYen = sum((r) => r.paidAmountYen);
  const approvedYen = sum((r) => r.approvedAmountYen);
  expect(paidYen).toBeGreaterThanOrEqual(eligible);
  await expect(pref.locator('[data-col="paid-yen"]')).toHaveAttribute("data-yen", String(paidYen));
  await expect(pref.locator('[data-col="approved-yen"]')).toHaveAttribute("data-yen", String(approvedYen));
  await expect(pref.locator('[data-col="unpaid-yen"]')).toHaveAttribute("data-yen", String(approvedYen - paidYen));
  const cat = page
    .getByTestId("report-categories")
    .locator(`tr[data-prefecture="${paid!.prefectureCode}"][data-category="${category.categoryId}"]`);
  await expect(cat).toContainText(category.name);
  await expect(cat.locator('[data-col="paid-yen"]')).toHaveAttribute(
    "data-yen",
    String(mine.find((r) => r.categoryKey === category.categoryId)!.paidAmountYen),
  );
  await expect(page.getByTestId("report-prefectures").locator('tr[data-total] [data-col="paid-yen"]')).toHaveAttribute(
    "data-yen",
    String(report.total!.paidAmountYen),
  );
});

test("a stale version reloads; an approval above the eligible amount shows the API's violation beside the amount", async ({
  page,
}) => {
  const code = (await identity("medical_institution")).institution_code!;
  const applicant = await apiAs(SubsidyService, "medical_institution");
  const { application: draft } = await applicant.createApplication({
    requestId: randomUUID(),
    application: {
      programmeId: PROGRAMME,
      costs: {
        case: "medicalInstitution",
        value: {
          institutionCode: code,
          institutionType: InstitutionType.HOSPITAL,
          beds: 250,
          softwareChangeCostYen: 1_320_000n,
        },
      },
    },
  });
  const { application: submitted } = await applicant.submitApplication({
    requestId: randomUUID(),
    applicationId: draft!.applicationId,
    expectedVersion: draft!.version,
  });
  const id = submitted!.applicationId;
  const eligible = submitted!.calculation!.eligibleAmountYen;

  await page.setViewportSize({ width: 640, height: 900 }); // 1280 px at 200 %
  await signIn(page, "operator");
  await page.goto(`/review/${id}`);
  await expect(page.getByTestId("summary").getByTestId("status")).toHaveText("提出済み");

  // Another operator starts the review first: this page's version is stale.
  const operator = await apiAs(SubsidyService, "operator");
  await operator.reviewApplication({ requestId: randomUUID(), applicationId: id, expectedVersion: submitted!.version });
  await page.getByRole("button", { name: "審査を開始する" }).click();
  await expect(page.getByTestId("stale")).toContainText("最新の内容を読み込みました");
  await expect(page.getByTestId("summary").getByTestId("status")).toHaveText("審査中");
  await expect(page.getByTestId("version")).toHaveText(String(submitted!.version + 1n));

  // Above the eligible amount, by keyboard: the API's violation beside the field.
  const amount = page.getByLabel("承認額（円）");
  await expect(amount).toHaveValue(String(eligible));
  await amount.focus();
  await page.keyboard.press("ControlOrMeta+a");
  await page.keyboard.type(String(eligible + 1n));
  await page.keyboard.press("Enter");
  await expect(amount).toHaveAttribute("aria-invalid", "true");
  const errorId = (await amount.getAttribute("aria-describedby"))!.split(" ").find((x) => x.endsWith("-error"))!;
  await expect(page.locator(`[id="${errorId}"]`)).toHaveText(
    `助成対象額（${eligible.toLocaleString("ja-JP")}円）を超える金額は承認できません。`,
  );
  await expect(page.getByTestId("summary").getByTestId("status")).toHaveText("審査中");
  expect(
    await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth),
  ).toBeLessThanOrEqual(0);

  const { application: still } = await operator.getApplication({ applicationId: id });
  expect(still!.status).toBe(ApplicationStatus.UNDER_REVIEW);
  expect(still!.approvedAmountYen).toBe(0n);

  // Returned for correction (差戻し), one reason a line: the applicant reads the reasons,
  // corrects the costs and submits again; the history keeps every step.
  await page.getByLabel("差戻しの理由").fill("病床数を確認してください\n\n見積書を添付してください");
  await page.getByRole("button", { name: "差し戻す" }).click();
  await expect(page.getByTestId("summary").getByTestId("status")).toHaveText("差戻し");
  await expect(page.getByTestId("return-reasons").locator("li")).toHaveCount(2);
  await expect(page.getByTestId("history").locator('tr[data-action="return"]')).toHaveCount(1);
  const { application: returned } = await applicant.getApplication({ applicationId: id });
  expect(returned!.status).toBe(ApplicationStatus.RETURNED);
  expect(returned!.returnReasons).toEqual(["病床数を確認してください", "見積書を添付してください"]);
  const { application: corrected } = await applicant.updateApplication({
    requestId: randomUUID(),
    application: {
      applicationId: id,
      costs: {
        case: "medicalInstitution",
        value: {
          institutionCode: code,
          institutionType: InstitutionType.HOSPITAL,
          beds: 250,
          softwareChangeCostYen: 1_100_000n,
        },
      },
    },
    expectedVersion: returned!.version,
  });
  await applicant.submitApplication({
    requestId: randomUUID(),
    applicationId: id,
    expectedVersion: corrected!.version,
  });
  await page.reload();
  await expect(page.getByTestId("summary").getByTestId("status")).toHaveText("提出済み");
  const actions = page.getByTestId("history").locator("tbody tr");
  await expect(actions).toHaveCount(6);
  const recorded = await actions.evaluateAll((rows) => rows.map((r) => r.getAttribute("data-action")));
  expect(recorded).toEqual(["create", "submit", "review", "return", "update", "submit"]);
});

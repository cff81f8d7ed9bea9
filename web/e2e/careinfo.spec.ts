import { expect, test } from "@playwright/test";
import { CarePlanService } from "../src/gen/kaigo/careplan/v1/careplan_service_pb";
import { EligibilityService } from "../src/gen/kaigo/eligibility/v1/eligibility_service_pb";
import { toProblem } from "../src/app/errors";
import { apiAs, screenshot, signIn } from "./support";

// kaigo dev's demo hospital (1311234569) is registered for demo persons 1–3 of 水上村; person 1
// also consented to its reading their care plan, which the demo care office sent (this month's
// plan and 予定); person 2 consented to the 被保険者証等 only.
const person = { insurerNumber: "435073", insuredNumber: "0000000001" };

test("the medical institution reads a consenting person's certification and care plan, and nothing without consent", async ({
  page,
}) => {
  const careplan = await apiAs(CarePlanService, "medical_institution");
  const { summary } = await careplan.getCarePlanSummary(person);
  expect(summary?.plan, "the demo plan of person 1").toBeTruthy();
  expect(summary!.services.length).toBeGreaterThan(0);
  const { result } = await (await apiAs(EligibilityService, "medical_institution")).checkEligibility(person);
  expect(result?.certification).toBeTruthy();
  const refused = await careplan.getCarePlanSummary({ insurerNumber: "435073", insuredNumber: "0000000002" }).then(
    () => "answered",
    (e: unknown) => toProblem(e).reason,
  );
  expect(refused).toBe("CONSENT_REQUIRED");

  await signIn(page, "medical_institution");
  await page.getByRole("link", { name: "介護情報の閲覧" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "介護情報の閲覧" })).toBeVisible();
  await page.getByRole("textbox", { name: "保険者番号", exact: true }).fill(person.insurerNumber);
  await page.getByLabel("被保険者番号").fill(person.insuredNumber);
  await page.getByRole("button", { name: "表示する" }).click();

  const cert = page.getByTestId("careinfo-certification");
  await expect(cert.getByTestId("care-level")).toContainText("要介護");
  await expect(cert.getByTestId("card-copay")).toContainText("閲覧できません");
  const plan = page.getByTestId("careinfo-plan");
  await expect(plan.getByTestId("plan-office")).toContainText(summary!.plan!.officeName);
  await expect(plan.getByTestId("plan-policy")).toContainText(summary!.plan!.policy.slice(0, 10));
  await expect(plan.getByTestId("plan-needs").locator("> li")).toHaveCount(summary!.plan!.needs.length);
  await expect(plan.getByTestId("plan-needs")).toContainText(summary!.plan!.needs[0].goals[0].longTermGoal);
  await expect(plan.getByTestId("month-services").locator("tbody tr")).toHaveCount(summary!.services.length);
  expect(page.url()).not.toContain(person.insuredNumber);
  await screenshot(page, "careinfo");

  // Without the consent to the care plan: the certificate facts (consented), no plan.
  await page.getByLabel("被保険者番号").fill("0000000002");
  await page.getByRole("button", { name: "表示する" }).click();
  await expect(cert.getByTestId("care-level")).toBeVisible();
  await expect(plan.getByTestId("problem")).toBeVisible();
  await expect(plan.getByTestId("plan-needs")).toHaveCount(0);
});

import { expect, test } from "@playwright/test";
import { CertificationService } from "../src/gen/kaigo/certification/v1/certification_service_pb";
import { ApplicantKind, ApplicationType, SurveyState } from "../src/gen/kaigo/certification/v1/application_pb";
import { InsuredCategory } from "../src/gen/kaigo/common/v1/care_pb";
import {
  EligibilityService,
  EligibilityVerdict,
  WithheldSection,
} from "../src/gen/kaigo/eligibility/v1/eligibility_service_pb";
import { Purpose } from "../src/gen/kaigo/common/v1/access_pb";
import {
  Category,
  ConsentSource,
  Evidence,
  OrganizationKind,
  RegistryService,
} from "../src/gen/kaigo/registry/v1/registry_pb";
import { apiAs, englishRuns, screenshot, signIn, todayJst } from "./support";

test("a care office watches its application advance while the insurer records a step", async ({ page }) => {
  const office = await apiAs(CertificationService, "care_office");
  const insurer = await apiAs(CertificationService, "insurer");
  const { applications } = await office.listApplications({ orderBy: "urgency" });
  const seeded = applications.find((a) => a.insurerNumber === "435073" && a.insuredNumber === "0000000001");
  expect(seeded, "kaigo dev seeds an application the care office acts for").toBeTruthy();
  const id = seeded!.applicationId;

  await signIn(page, "care_office");
  await page.getByRole("link", { name: "申請状況" }).click();
  const row = page.locator(`tr[data-application-id="${id}"]`);
  await expect(row).toBeVisible();
  // The person by name and フリガナ, as the insurer's register gives them to this office.
  const eligibility = await apiAs(EligibilityService, "care_office");
  const { result } = await eligibility.checkEligibility({ insurerNumber: "435073", insuredNumber: "0000000001" });
  expect(result?.person?.nameKanji, "the care office may see the demo person's name").toBeTruthy();
  await expect(row.getByTestId("person")).toContainText(result!.person!.nameKanji);
  await expect(row.getByTestId("person")).toContainText(result!.person!.nameKana);
  // Urgency order: overdue first, then at risk, then the rest.
  const rank: Record<string, number> = { overdue: 0, at_risk: 1 };
  const ranks = await page
    .locator("tr[data-application-id] [data-deadline]")
    .evaluateAll((els) => els.map((e) => e.getAttribute("data-deadline")!));
  const order = ranks.map((s) => rank[s] ?? 2);
  expect(order).toEqual([...order].sort((a, b) => a - b));
  await screenshot(page, "applications");

  await row.getByRole("link").click();
  await expect(page).toHaveURL(new RegExp(`/applications/${id}$`));
  await expect(page.getByRole("heading", { level: 1, name: "申請の詳細" })).toBeFocused();
  const timeline = page.getByTestId("timeline");
  await expect(timeline.locator("li").first()).toContainText("申請受付");
  await expect(page.locator('[data-live="live"]')).toBeVisible();
  await expect(page.getByTestId("person")).toContainText(result!.person!.nameKanji);
  const before = await timeline.locator("li").count();

  // Another client (the insurer) completes the survey if it is not yet completed.
  const { application } = await insurer.getApplication({ applicationId: id });
  if (application!.survey?.state !== SurveyState.COMPLETED) {
    await insurer.recordSurveyCompleted({
      requestId: crypto.randomUUID(),
      applicationId: id,
      expectedVersion: application!.version,
      completedDate: todayJst(),
      result: { standardTimeTenthMinutes: 612 },
    });
    // The new step arrives over the stream, without a reload.
    await expect(timeline.locator("li")).toHaveCount(before + 1);
    await expect(timeline.locator("li").last()).toContainText("認定調査の完了");
    await expect(page.getByTestId("survey")).toHaveText("完了");
  }
  const after = await insurer.getApplication({ applicationId: id });
  // Then the insurer issues a delay notice: it arrives too.
  await insurer.issueDelayNotice({
    requestId: crypto.randomUUID(),
    applicationId: id,
    expectedVersion: after.application!.version,
    noticeDate: todayJst(),
    expectedDecisionDate: {
      year: after.application!.deadlineDate!.year + 1,
      month: after.application!.deadlineDate!.month,
      day: 1,
    },
    reason: 2,
  });
  await expect(timeline.locator("li").last()).toContainText("延期通知");
  await expect(page.getByTestId("progress")).toContainText("処理見込日");
  // The notice's particulars come from codes and dates, in Japanese: no summary sentence.
  await expect(timeline.locator("li").last().getByTestId("step-detail")).toContainText("主治医意見書が未着");
  expect(await englishRuns(page)).toEqual([]);
  await screenshot(page, "application-detail");
});

test("a person whose name the care office may not see is listed by number, marked as such", async ({ page }) => {
  const eligibility = await apiAs(EligibilityService, "care_office");
  const insurer = await apiAs(CertificationService, "insurer");
  const office = await apiAs(CertificationService, "care_office");
  // A person of 435073 whose personal details eligibility withholds from this care office: one
  // it is not registered for (refused NOT_REGISTERED), or one whose details are withheld.
  const numbers = Array.from({ length: 60 }, (_, i) => String(i + 2).padStart(10, "0"));
  const { entries } = await eligibility.batchCheckEligibility({
    queries: numbers.map((n) => ({ insurerNumber: "435073", insuredNumber: n })),
  });
  // …and not certified, so that a new application may be filed for them (the insurer sees that).
  const byInsurer = await (
    await apiAs(EligibilityService, "insurer")
  ).batchCheckEligibility({
    queries: numbers.map((n) => ({ insurerNumber: "435073", insuredNumber: n })),
  });
  const uncertified = new Set(
    byInsurer.entries
      .filter((e) => e.outcome.case === "result" && e.outcome.value.verdict === EligibilityVerdict.NOT_CERTIFIED)
      .map((e) => e.index),
  );
  const hidden = entries.find(
    (e) =>
      uncertified.has(e.index) &&
      ((e.outcome.case === "result" && e.outcome.value.withheld.includes(WithheldSection.PERSONAL_DETAILS)) ||
        (e.outcome.case === "error" && e.outcome.value.reason === "NOT_REGISTERED")),
  );
  expect(hidden, "the demo register has persons not registered with this care office").toBeTruthy();
  const insuredNumber = numbers[hidden!.index];

  // The office may follow that person's certification only: the insurer registers it as the
  // person's 担当 and records a consent covering 認定情報 alone, so the application is listed
  // while eligibility still withholds the name (CONSENT_REQUIRED for 被保険者証等).
  const registry = await apiAs(RegistryService, "insurer");
  const person = { insurerNumber: "435073", insuredNumber };
  const registered = (await registry.listRegistrations({ person })).registrations.some(
    (r) => r.organization?.number === "4371000128" && !r.endTime,
  );
  if (!registered) {
    await registry.registerOrganization({
      requestId: crypto.randomUUID(),
      person,
      organization: { kind: OrganizationKind.CARE_OFFICE, number: "4371000128" },
      evidence: Evidence.INSURER_MANUAL,
    });
    await registry.recordConsent({
      requestId: crypto.randomUUID(),
      person,
      grantee: {
        grantee: { case: "organization", value: { kind: OrganizationKind.CARE_OFFICE, number: "4371000128" } },
      },
      categories: [Category.CERTIFICATION],
      purpose: Purpose.SERVICE_PROVISION,
      source: ConsentSource.PAPER_RECORDED_BY_INSURER,
    });
  }

  // The insurer files an application for that person with the care office acting for them.
  const listed = await office.listApplications({ pageSize: 100 });
  let id = listed.applications.find((a) => a.insuredNumber === insuredNumber)?.applicationId;
  if (!id) {
    const { application } = await insurer.submitApplication({
      requestId: crypto.randomUUID(),
      application: {
        insurerNumber: "435073",
        insuredNumber,
        type: ApplicationType.NEW,
        applicationDate: todayJst(),
        applicant: { kind: ApplicantKind.CARE_MANAGEMENT_OFFICE, officeNumber: "4371000128" },
        actingOfficeNumber: "4371000128",
        insuredCategory: InsuredCategory.FIRST,
      },
    });
    id = application!.applicationId;
  }

  await signIn(page, "care_office");
  await page.getByRole("link", { name: "申請状況" }).click();
  const row = page.locator(`tr[data-application-id="${id}"]`);
  await expect(row.locator('[data-person="withheld"]')).toHaveText(/氏名は表示できません/);
  await expect(row).toContainText(insuredNumber);
  await row.getByRole("link").click();
  await expect(page.getByTestId("person").locator('[data-person="withheld"]')).toBeVisible();
});

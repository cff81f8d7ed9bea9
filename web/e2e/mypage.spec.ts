import { expect, test } from "@playwright/test";
import {
  Category,
  ConsentSource,
  EndReason,
  Evidence,
  OrganizationKind,
  RegistryService,
} from "../src/gen/kaigo/registry/v1/registry_pb";
import { Purpose } from "../src/gen/kaigo/common/v1/access_pb";
import { EligibilityService } from "../src/gen/kaigo/eligibility/v1/eligibility_service_pb";
import { toProblem } from "../src/app/errors";
import { apiAs, screenshot, signIn } from "./support";

// kaigo dev's demo person 435073:0000000001 (virtual card d000000001) is registered with the
// demo care office, provider and hospital; their token's subject is their identity link.
const person = { insurerNumber: "435073", insuredNumber: "0000000001" };

test("the person sees their registrations, withdraws a consent and ends a registration after confirming, and sees who read their record", async ({
  page,
}) => {
  // The insurer records a consent on paper, the one the person will withdraw (the demo
  // consents stay, other screens' tests rely on them).
  const insurer = await apiAs(RegistryService, "insurer");
  const { consent } = await insurer.recordConsent({
    requestId: crypto.randomUUID(),
    person,
    grantee: { grantee: { case: "organizationKind", value: OrganizationKind.MEDICAL_INSTITUTION } },
    categories: [Category.CARE_PLAN],
    purpose: Purpose.SERVICE_PROVISION,
    source: ConsentSource.PAPER_RECORDED_BY_INSURER,
  });
  // And registers an office (not a demo one) the person will end.
  const OFFICE = "0300000106";
  const active = (await insurer.listRegistrations({ person })).registrations.find(
    (r) => r.organization?.number === OFFICE && !r.endTime,
  );
  const registration =
    active ??
    (
      await insurer.registerOrganization({
        requestId: crypto.randomUUID(),
        person,
        organization: { kind: OrganizationKind.CARE_OFFICE, number: OFFICE },
        evidence: Evidence.INSURER_MANUAL,
      })
    ).registration!;
  // A read by the care office seconds before: the person's page shows it.
  const office = await apiAs(RegistryService, "care_office");
  const before = new Date();
  await office.listConsents({ person });

  await signIn(page, "insured_person");
  await page.getByRole("link", { name: "わたしの情報" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "わたしの情報" })).toBeVisible();

  // My own eligibility, answered to me on my identity link (the token's subject): care level,
  // validity and co-payment, as the registered office sees them. Another person's is refused.
  const asPerson = await apiAs(EligibilityService, "insured_person");
  const { result } = await asPerson.checkEligibility(person);
  expect(result?.certification, "the person reads their own certificate").toBeTruthy();
  expect(result?.copayment, "and their own co-payment").toBeTruthy();
  const other = await asPerson.checkEligibility({ insurerNumber: "435073", insuredNumber: "0000000002" }).then(
    () => "answered",
    (e: unknown) => toProblem(e).reason,
  );
  expect(other).toBe("NOT_REGISTERED");
  const myEligibility = page.getByTestId("my-eligibility");
  await expect(myEligibility.getByTestId("care-level")).toContainText("要");
  await expect(myEligibility.getByTestId("copayment-ratio")).toContainText("割");
  await expect(myEligibility).toContainText("有効期間");

  const regs = page.getByTestId("my-registrations");
  await expect(regs).toContainText("居宅介護支援事業所 4371000128");
  await expect(regs).toContainText("保険者による登録");

  const read = page.getByTestId("my-reads").locator('tr[data-reader="4371000128"][data-category="consents"]').first();
  await expect(read).toContainText("居宅介護支援事業所");
  await expect(read).toContainText("同意");
  await expect(read).toContainText("閲覧");
  const { reads } = await (
    await apiAs(RegistryService, "insured_person")
  ).listMyRecordReads({
    identityLink: "d000000001",
  });
  const latest = reads.find((r) => r.readerOrganization === "4371000128" && r.category === "consents");
  expect(latest, "the office's read is in the person's access log").toBeTruthy();
  expect(Number(latest!.readTime!.seconds) * 1000).toBeGreaterThanOrEqual(before.getTime() - 2000);

  // The log is every service's, not only the registry's: my own eligibility check of a moment
  // ago (by the page above and by the API) is listed from eligibility's trail, marked as mine,
  // and every service answered (no partial marker).
  const mineRead = page.getByTestId("my-reads").locator('tr[data-service="eligibility"][data-self="true"]').first();
  await expect(async () => {
    await page.getByRole("button", { name: "再読み込み" }).click();
    await expect(mineRead).toBeVisible({ timeout: 1000 });
  }).toPass();
  await expect(mineRead).toContainText("資格確認");
  await expect(mineRead).toContainText("あなた自身");
  await expect(mineRead).toContainText("資格情報");
  await expect(page.getByTestId("reads-partial")).toHaveCount(0);
  const merged = await (
    await apiAs(RegistryService, "insured_person")
  ).listMyRecordReads({ identityLink: "d000000001" });
  expect(merged.partial).toBe(false);
  expect(merged.reads.some((r) => r.service === "eligibility" && r.readerIsSelf)).toBe(true);
  expect(merged.reads.some((r) => r.service === "registry")).toBe(true);

  const row = page.locator(`tr[data-consent-id="${consent!.consentId}"]`);
  await expect(row).toContainText("すべての医療機関");
  await expect(row).toContainText("ケアプラン");
  await expect(row).toContainText("書面（保険者が記録）");
  await screenshot(page, "mypage");

  // Withdrawing asks first; "やめる" keeps the consent.
  await row.getByRole("button", { name: "すべての医療機関への同意を撤回する" }).click();
  await expect(row.getByTestId("confirm-withdraw")).toContainText("撤回しますか");
  await row.getByRole("button", { name: "やめる" }).click();
  await expect(row.getByTestId("confirm-withdraw")).toHaveCount(0);
  let mine = await insurer.listConsents({ person, includeInactive: true });
  expect(mine.consents.find((c) => c.consentId === consent!.consentId)?.withdrawTime).toBeUndefined();

  await row.getByRole("button", { name: "すべての医療機関への同意を撤回する" }).click();
  await row.getByRole("button", { name: "撤回する", exact: true }).click();
  await expect(page.getByTestId("done")).toHaveText("同意を撤回しました。");
  // Withdrawn consents leave the list unless asked for.
  await expect(row).toHaveCount(0);
  await page.getByLabel("終了した登録と撤回した同意も表示する").check();
  await expect(row).toContainText("撤回済み");
  mine = await insurer.listConsents({ person, includeInactive: true });
  expect(mine.consents.find((c) => c.consentId === consent!.consentId)?.withdrawTime).toBeTruthy();

  // Ending a registration asks first too; the office is then listed as ended by the person.
  const reg = page.locator(`tr[data-registration-id="${registration.registrationId}"]`);
  await reg.getByRole("button", { name: `居宅介護支援事業所 ${OFFICE} の登録を終了する` }).click();
  await expect(reg.getByTestId("confirm-end")).toContainText("終了しますか");
  await reg.getByRole("button", { name: "終了する", exact: true }).click();
  await expect(page.getByTestId("done")).toHaveText("登録を終了しました。");
  await expect(reg).toContainText("本人が終了");
  const after = await insurer.listRegistrations({ person, includeEnded: true });
  expect(after.registrations.find((r) => r.registrationId === registration.registrationId)?.endReason).toBe(
    EndReason.BY_PERSON,
  );

  await page.getByRole("button", { name: "Switch to English" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "My record" })).toBeVisible();
  await expect(row).toContainText("Withdrawn");
  await page.getByRole("button", { name: "日本語に切り替え" }).click();
});

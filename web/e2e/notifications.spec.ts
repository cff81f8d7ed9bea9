import { expect, test } from "@playwright/test";
import { NotificationStatus, RegistryService } from "../src/gen/kaigo/registry/v1/registry_pb";
import { apiAs, screenshot, signIn, todayJst } from "./support";

// Demo persons of 水上村 (435073) the demo care office (4371000128) is not registered for.
const sent = { insurerNumber: "435073", insuredNumber: "0000000050" };
const toAccept = { insurerNumber: "435073", insuredNumber: "0000000051" };
const toReturn = { insurerNumber: "435073", insuredNumber: "0000000052" };

test("the care office sends a 作成依頼届出 and sees it waiting for the insurer", async ({ page }) => {
  await signIn(page, "care_office");
  await page.getByRole("link", { name: "作成依頼届出" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "居宅サービス計画作成依頼届出" })).toBeVisible();

  // A malformed 被保険者番号 is reported beside its input, nothing sent.
  await page.getByRole("textbox", { name: "保険者番号", exact: true }).fill("435073");
  await page.getByLabel("被保険者番号").fill("12-3");
  await page.getByRole("button", { name: "提出する" }).click();
  await expect(page.getByLabel("被保険者番号")).toHaveAttribute("aria-invalid", "true");

  // Typed with the IME on: made half-width before sending.
  await page.getByLabel("被保険者番号").fill("００００００００５０");
  await page.getByRole("button", { name: "提出する" }).click();
  await expect(page.getByTestId("submitted")).toContainText("受理待ち");

  const office = await apiAs(RegistryService, "care_office");
  const { notifications } = await office.listCarePlanNotifications({ status: NotificationStatus.SUBMITTED });
  const mine = notifications.find((n) => n.person?.insuredNumber === sent.insuredNumber);
  expect(mine, "the notification reached the registry").toBeTruthy();
  expect(mine!.officeNumber).toBe("4371000128");
  const t = todayJst();
  expect([mine!.startDate?.year, mine!.startDate?.month, mine!.startDate?.day]).toEqual([t.year, t.month, t.day]);
  const row = page.locator(`tr[data-notification-id="${mine!.notificationId}"]`);
  await expect(row).toContainText("435073 0000000050");
  await expect(row.getByTestId("status")).toHaveText("受理待ち");
  await screenshot(page, "notifications");
  await page.getByRole("button", { name: "Switch to English" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Care-plan notifications" })).toBeVisible();
  await expect(row.getByTestId("status")).toHaveText("Waiting for the insurer");
  await page.getByRole("button", { name: "日本語に切り替え" }).click();
});

test("the insurer accepts one 作成依頼届出 (the office is registered) and returns another with a reason", async ({
  page,
}) => {
  const office = await apiAs(RegistryService, "care_office");
  const startDate = todayJst();
  const a = (await office.submitCarePlanNotification({ requestId: crypto.randomUUID(), person: toAccept, startDate }))
    .notification!;
  const r = (await office.submitCarePlanNotification({ requestId: crypto.randomUUID(), person: toReturn, startDate }))
    .notification!;

  await signIn(page, "insurer");
  await page.getByRole("link", { name: "作成依頼届出" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "居宅サービス計画作成依頼届出" })).toBeVisible();
  const accepted = page.locator(`tr[data-notification-id="${a.notificationId}"]`);
  const returned = page.locator(`tr[data-notification-id="${r.notificationId}"]`);
  await expect(accepted).toContainText("4371000128");
  await expect(returned).toContainText("435073 0000000052");
  await screenshot(page, "notifications-insurer");

  await accepted.getByRole("button", { name: "4371000128 の届出（435073 0000000051）を受理する" }).click();
  await expect(page.getByTestId("decided")).toContainText("受理しました");
  await expect(accepted.getByTestId("status")).toContainText("受理済み");

  // Returning asks for the reason; an empty one is refused beside the input.
  await returned.getByRole("button", { name: "4371000128 の届出（435073 0000000052）を返戻する" }).click();
  await returned.getByRole("button", { name: "返戻を確定する" }).click();
  await expect(returned.getByLabel("返戻の理由")).toHaveAttribute("aria-invalid", "true");
  await returned.getByLabel("返戻の理由").fill("開始日が契約日と異なります。");
  await returned.getByRole("button", { name: "返戻を確定する" }).click();
  await expect(page.getByTestId("decided")).toContainText("返戻しました");
  await expect(returned.getByTestId("status")).toContainText("返戻");
  await expect(returned.getByTestId("return-reason")).toHaveText("開始日が契約日と異なります。");

  // What the registry now holds: the office registered for the accepted person, the reason kept.
  const insurer = await apiAs(RegistryService, "insurer");
  const { registrations } = await insurer.listRegistrations({ person: toAccept });
  // (registered by this acceptance, or by an earlier one when the same kaigo dev is reused)
  expect(registrations.some((x) => x.organization?.number === "4371000128" && !x.endTime)).toBe(true);
  const decided = await office.listCarePlanNotifications({ status: NotificationStatus.ACCEPTED });
  expect(decided.notifications.some((n) => n.notificationId === a.notificationId)).toBe(true);
  const list = await office.listCarePlanNotifications({ status: NotificationStatus.RETURNED });
  expect(list.notifications.find((n) => n.notificationId === r.notificationId)?.returnReason).toBe(
    "開始日が契約日と異なります。",
  );
});

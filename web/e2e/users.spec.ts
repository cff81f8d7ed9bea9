import { expect, test } from "@playwright/test";
import { execFileSync } from "node:child_process";
import {
  Category,
  ConsentSource,
  EndReason,
  Evidence,
  RegistryService,
} from "../src/gen/kaigo/registry/v1/registry_pb";
import { apiAs, screenshot, signIn } from "./support";

// The demo provider (4371000201) and demo person 3 of 水上村, whose virtual card is d000000003.
// The virtual card reader of kaigo dev is `kaigo card sign`, run here as the clerk would run it
// (scripts/e2e.sh exports KAIGO_BIN and KAIGO_DATA_DIR).
const person = { insurerNumber: "435073", insuredNumber: "0000000003" };
const PROVIDER = "4371000201";

test("the provider ends a registration, confirms the person with the card and registers again with their consent", async ({
  page,
}) => {
  const bin = process.env.KAIGO_BIN;
  const dataDir = process.env.KAIGO_DATA_DIR;
  expect(bin && dataDir, "KAIGO_BIN and KAIGO_DATA_DIR name the kaigo dev under test").toBeTruthy();

  await signIn(page, "service_provider");
  await page.getByRole("link", { name: "利用者登録" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "利用者登録" })).toBeVisible();

  // Ending asks first, with an optional reason.
  const row = page.locator('[data-testid="registrations"] tr[data-person="435073 0000000003"]');
  await expect(row).toHaveCount(1);
  await row.getByRole("button", { name: "435073 0000000003 の登録を終了する" }).click();
  await expect(row.getByTestId("confirm-end")).toContainText("終了しますか");
  await row.getByLabel("終了の理由（任意）").fill("サービス提供を終了したため");
  await row.getByRole("button", { name: "終了する", exact: true }).click();
  await expect(page.getByTestId("ended")).toBeVisible();
  await expect(row).toHaveCount(0);
  const provider = await apiAs(RegistryService, "service_provider");
  const endedOnes = (await provider.listRegistrations({ person, includeEnded: true })).registrations;
  expect(endedOnes.find((r) => r.endTime)?.endReason).toBe(EndReason.BY_ORGANIZATION);
  expect(endedOnes.some((r) => !r.endTime)).toBe(false);

  // The card confirmation: the challenge is shown with the reader's command.
  await page.getByRole("button", { name: "本人確認を開始する" }).click();
  const command = (await page.getByTestId("sign-command").textContent()) ?? "";
  const challenge = /--challenge (\S+)/.exec(command)?.[1];
  expect(challenge, command).toBeTruthy();
  // Something other than the reader's answer is refused beside the input, nothing sent.
  await page.getByLabel("カードリーダーの読み取り結果").fill("{}");
  await page.getByRole("button", { name: "読み取り結果を送信する" }).click();
  await expect(page.getByLabel("カードリーダーの読み取り結果")).toHaveAttribute("aria-invalid", "true");

  const answer = execFileSync(
    bin!,
    ["card", "sign", "--data-dir", dataDir!, "--serial", "d000000003", "--challenge", challenge!],
    { encoding: "utf8" },
  );
  await page.getByLabel("カードリーダーの読み取り結果").fill(answer.trim());
  await page.getByRole("button", { name: "読み取り結果を送信する" }).click();
  await expect(page.getByTestId("confirmed")).toContainText("435073 0000000003");

  await page.getByRole("checkbox", { name: "被保険者証等" }).check();
  await page.getByRole("checkbox", { name: "負担割合・負担限度額" }).check();
  await page.getByRole("button", { name: "この内容で登録する" }).click();
  await expect(page.getByTestId("registered")).toContainText("登録しました");
  await expect(page.getByTestId("registered")).toContainText("被保険者証等、負担割合・負担限度額");
  await expect(row).toContainText("マイナンバーカードによる本人確認");
  await expect(row.getByTestId("state")).toHaveText("有効");
  await screenshot(page, "users");
  await page.getByRole("button", { name: "Switch to English" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Registered users" })).toBeVisible();
  await expect(row).toContainText("Identity confirmed with the card");
  await expect(row.getByTestId("state")).toHaveText("Active");
  await page.getByRole("button", { name: "日本語に切り替え" }).click();

  // What the registry holds: the card-confirmed registration, the consent given at the reader.
  const active = (await provider.listRegistrations({ person })).registrations.filter((r) => !r.endTime);
  expect(active.map((r) => r.evidence)).toEqual([Evidence.CARD_CONFIRMATION]);
  const insurer = await apiAs(RegistryService, "insurer");
  const { consents } = await insurer.listConsents({ person });
  const given = consents.find(
    (c) =>
      c.source === ConsentSource.CARD_READER &&
      c.grantee?.grantee.case === "organization" &&
      c.grantee.grantee.value.number === PROVIDER &&
      c.cardConfirmationId === active[0].cardConfirmationId,
  );
  expect(given?.categories).toEqual([Category.INSURANCE_CERTIFICATES, Category.COST_SHARE]);
});

import { expect, test, type Browser, type Page } from "@playwright/test";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CarePlanService } from "../src/gen/kaigo/careplan/v1/careplan_service_pb";
import { BundleStatus, SendUnitKind } from "../src/gen/kaigo/careplan/v1/bundle_pb";
import { apiAs, baseURL, screenshot, signIn } from "./support";

// The golden files' offices, and kaigo dev's demo offices (both registered with licences).
const GOLDEN_CARE = "1370000018";
const GOLDEN_PROV = "1370000026";
const CARE = "4371000128";
const PROV = "4371000201";
const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), "../../services/careplan/tests/golden/valid");
const GOLDEN_SEQ = "20250425103100";

interface CsvFile {
  name: string;
  mimeType: string;
  buffer: Buffer;
}

/** Replaces every occurrence of an ASCII string in MS932 bytes (digits never occur inside a
 * double-byte character, so office numbers can be swapped byte for byte). */
function swap(bytes: Buffer, from: string, to: string): Buffer {
  const parts: Buffer[] = [];
  const needle = Buffer.from(from, "ascii");
  let at = 0;
  for (let i = bytes.indexOf(needle); i >= 0; i = bytes.indexOf(needle, at)) {
    parts.push(bytes.subarray(at, i), Buffer.from(to, "ascii"));
    at = i + needle.length;
  }
  parts.push(bytes.subarray(at));
  return Buffer.concat(parts);
}

/** The golden usage-ticket unit (第6表 + 第7表 + 補足), re-addressed from the demo care office
 * to the demo provider under a fresh file sequence. */
function usageUnit(sequence: string): CsvFile[] {
  return ["UPPLAN", "UPSIKYU", "UPHOSOKU"].map((prefix) => {
    const golden = `${prefix}_202505_${GOLDEN_CARE}_43_${GOLDEN_PROV}_11_${GOLDEN_SEQ}.CSV`;
    let buffer: Buffer = readFileSync(join(GOLDEN, golden));
    buffer = swap(swap(buffer, GOLDEN_CARE, CARE), GOLDEN_PROV, PROV);
    return { name: `${prefix}_202505_${CARE}_43_${PROV}_11_${sequence}.CSV`, mimeType: "text/csv", buffer };
  });
}

/** A fresh YYYYMMDDHHMMSS (JST), distinct per call. */
let bump = 0;
function freshSequence(): string {
  const d = new Date(Date.now() + 9 * 3600 * 1000 + bump++ * 1000);
  return d.toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

async function newPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({
    baseURL,
    locale: "ja-JP",
    timezoneId: "Asia/Tokyo",
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
  });
  return context.newPage();
}

test("a care office sends a unit; the provider sees it arrive, downloads the same bytes and acknowledges", async ({
  page,
  browser,
}) => {
  const sequence = freshSequence();
  const files = usageUnit(sequence);

  // The provider watches its inbox.
  const provider = await newPage(browser);
  await signIn(provider, "service_provider");
  await provider.getByRole("link", { name: "ケアプラン" }).click();
  await expect(provider.getByRole("heading", { level: 1 })).toContainText("受信箱");
  await expect(provider.locator('[data-live="live"]')).toBeVisible();

  // The care office sends the unit: the addressing comes from the file names.
  await signIn(page, "care_office");
  await page.getByRole("link", { name: "ケアプラン" }).click();
  await page.getByRole("link", { name: "送信する" }).click();
  await page.getByLabel("CSV ファイル（同じ送信単位のもの）").setInputFiles(files);
  await expect(page.getByTestId("picked-files").locator("li")).toHaveCount(3);
  await expect(page.getByLabel("送信先事業所番号")).toHaveValue(PROV);
  await expect(page.getByLabel("ファイル連番")).toHaveValue(sequence);
  await expect(page.getByLabel("対象年月")).toHaveValue("2025-05");
  await expect(page.getByRole("combobox", { name: "送信単位", exact: true })).toHaveValue(
    String(SendUnitKind.USAGE_TICKET),
  );
  await page.getByRole("button", { name: "送信する" }).click();
  const result = page.getByTestId("sent-result");
  await expect(result).toContainText("3 ファイル");
  const bundleId = (await result.getAttribute("data-bundle-id"))!;

  // The sender's own list has it (and the API agrees).
  const careApi = await apiAs(CarePlanService, "care_office");
  const { bundles: sent } = await careApi.listSent({});
  expect(sent.map((b) => b.bundleId)).toContain(bundleId);
  await page.getByRole("link", { name: "送信済み" }).click();
  await expect(page.locator(`[data-testid="sent"] tr[data-bundle-id="${bundleId}"]`)).toBeVisible();

  // It arrives in the provider's inbox without a reload.
  const row = provider.locator(`[data-testid="inbox"] tr[data-bundle-id="${bundleId}"]`);
  await expect(row).toBeVisible();
  await expect(row.getByTestId("bundle-status")).toHaveAttribute("data-status", String(BundleStatus.SENT));

  // Download: one link per file, byte for byte what was sent.
  await row.getByRole("button", { name: `${sequence} をダウンロード` }).click();
  const links = row.getByTestId("downloads").getByRole("link");
  await expect(links).toHaveCount(3);
  await expect(row.getByTestId("bundle-status")).toHaveAttribute("data-status", String(BundleStatus.DELIVERED));
  for (const f of files) {
    const [download] = await Promise.all([
      provider.waitForEvent("download"),
      row.getByRole("link", { name: f.name }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(f.name);
    const got = readFileSync((await download.path())!);
    expect(Buffer.compare(got, f.buffer), `${f.name} downloaded byte for byte`).toBe(0);
  }

  // Acknowledge.
  await row.getByRole("button", { name: `${sequence} を取込済にする` }).click();
  await expect(row.getByTestId("bundle-status")).toHaveAttribute("data-status", String(BundleStatus.ACKNOWLEDGED));
  const provApi = await apiAs(CarePlanService, "service_provider");
  const { bundle } = await provApi.getBundle({ bundleId });
  expect(bundle!.status).toBe(BundleStatus.ACKNOWLEDGED);
  expect(bundle!.files.map((f) => f.fileName)).toEqual(files.map((f) => f.name));
  await screenshot(provider, "careplan");
  await provider.context().close();
});

test("every problem the API finds is shown beside its file, with line and column", async ({ page }) => {
  const sequence = freshSequence();
  const files = usageUnit(sequence);
  // Break the 第6表: one column too many on its second line.
  const lines = files[0].buffer.toString("latin1").split("\r\n");
  lines[1] = lines[1] + ",";
  files[0] = { ...files[0], buffer: Buffer.from(lines.join("\r\n"), "latin1") };

  await signIn(page, "care_office");
  await page.goto("/careplan/send");
  await page.getByLabel("CSV ファイル（同じ送信単位のもの）").setInputFiles(files);
  await page.getByRole("button", { name: "送信する" }).click();
  const broken = page.locator(`[data-testid="picked-files"] li[data-file="${files[0].name}"]`);
  const issue = broken.getByTestId("file-issues").locator("li").first();
  await expect(issue).toHaveAttribute("data-line", "2");
  await expect(issue).toContainText("2 行");
  // The other files have no problems of their own.
  await expect(page.locator(`li[data-file="${files[1].name}"] [data-testid="file-issues"]`)).toHaveCount(0);
  await expect(page.getByLabel("CSV ファイル（同じ送信単位のもの）")).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByTestId("problem")).toBeVisible();
  // Nothing was sent.
  const careApi = await apiAs(CarePlanService, "care_office");
  const { bundles } = await careApi.listSent({});
  expect(bundles.some((b) => b.fileSequence === sequence)).toBe(false);

  // Checking only (ValidateFiles) reports the same problem with its rule.
  await page.getByRole("button", { name: "検査のみ" }).click();
  await expect(broken.getByTestId("file-issues").locator('li[data-line="2"]').first()).toBeVisible();
  await screenshot(page, "careplan-errors");
});

test("the care plan screen reflows at 200 % zoom and is usable by keyboard", async ({ page }) => {
  await page.setViewportSize({ width: 640, height: 900 });
  await signIn(page, "care_office");
  await page.goto("/careplan/send");
  await expect(page.getByRole("heading", { level: 1 })).toBeFocused();
  await page.keyboard.press("Tab");
  await expect(page.getByRole("link", { name: "受信箱" })).toBeFocused();
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  expect(overflow).toBeLessThanOrEqual(0);
});

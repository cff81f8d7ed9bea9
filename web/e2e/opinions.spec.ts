import { expect, test, type Page } from "@playwright/test";
import { createHash } from "node:crypto";
import { DocumentService } from "../src/gen/kaigo/documents/v1/documents_service_pb";
import { OpinionFormEdition, OpinionStatus } from "../src/gen/kaigo/documents/v1/opinion_pb";
import { apiAs, screenshot, signIn } from "./support";

// kaigo dev's 主治医意見書作成依頼 for institution 1311234569 (services/documents/src/demo.rs).
const DEMO_REQUEST = "0192f0c1-7a3b-7c00-8000-00000000d001";

/** A minimal valid PDF (one empty page) with a padded content stream, so that it takes two
 * 256 KiB chunks; the xref offsets are computed. */
function minimalPdf(padBytes: number): Buffer {
  const content = `% ${"x".repeat(padBytes)}\n`;
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
    `<< /Length ${content.length} >>\nstream\n${content}endstream`,
  ];
  let out = "%PDF-1.4\n";
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, "0")} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, "latin1");
}

async function openDemoRequest(page: Page) {
  await signIn(page, "medical_institution");
  await page.getByRole("link", { name: "主治医意見書" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "主治医意見書" })).toBeFocused();
  const row = page.locator(`[data-testid="opinion-requests"] tr[data-request-id="${DEMO_REQUEST}"]`);
  await expect(row).toBeVisible();
  await row.getByRole("link").click();
  await expect(page).toHaveURL(new RegExp(`/opinions/requests/${DEMO_REQUEST}$`));
  await expect(page.getByRole("heading", { level: 1, name: "主治医意見書の作成" })).toBeFocused();
  await expect(page.getByTestId("applicant")).toBeVisible();
}

test("a bad field is reported by the API beside its input", async ({ page }) => {
  await openDemoRequest(page);
  await page.getByLabel("医師氏名").fill("医師 太郎");
  await page.getByLabel("電話", { exact: false }).fill("電話番号なし");
  await page.getByRole("button", { name: "意見書を提出する" }).click();
  const phone = page.getByRole("textbox", { name: "電話", exact: true });
  await expect(phone).toHaveAttribute("aria-invalid", "true");
  const describedBy = (await phone.getAttribute("aria-describedby"))!;
  const errorId = describedBy.split(" ").find((id) => id.endsWith("-error"))!;
  await expect(page.locator(`#${errorId}`)).toBeVisible();
  await expect(page.locator(`#${errorId}`)).toHaveAttribute("data-field", "basics.institution_phone");
  // A required field left empty is reported beside it too; a filled one is not.
  await expect(page.getByRole("textbox", { name: "医療機関名" })).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByRole("textbox", { name: "医師氏名" })).not.toHaveAttribute("aria-invalid", "true");
  await expect(page.getByTestId("problem")).toBeVisible();
  await screenshot(page, "opinions-errors");
});

test("an institution writes the requested opinion, attaches a PDF and finds it among its opinions", async ({
  page,
}) => {
  const pdf = minimalPdf(300 * 1024);
  const sha = createHash("sha256").update(pdf).digest("hex");
  await openDemoRequest(page);

  // 基本事項 (令和3年様式: consent box and attachments).
  await page.getByLabel("様式", { exact: true }).selectOption(String(OpinionFormEdition.REIWA_3));
  await page.getByLabel("ケアプラン作成への利用の同意").selectOption("1");
  await page.getByLabel("医師氏名").fill("医師 太郎");
  await page.getByLabel("医療機関名").fill("デモ病院");
  await page.getByLabel("医療機関所在地").fill("東京都千代田区1-1-1");
  await page.getByRole("textbox", { name: "電話", exact: true }).fill("03-1234-5678");
  const t = new Date(Date.now() + 9 * 3600 * 1000).toISOString().slice(0, 10);
  await page.getByLabel("最終診察日").fill(t);
  await page.getByLabel("意見書作成回数").selectOption("1");
  // 1. 傷病.
  await page.getByLabel("診断名 1").fill("脳梗塞");
  await page.getByLabel("発症 年 1").fill("2024");
  await page.getByLabel("発症 月 1").fill("11");
  await page.getByLabel("特定疾病 1").selectOption("13");
  await page.getByLabel("症状としての安定性").selectOption("1");
  await page.getByLabel("経過及び投薬内容を含む治療内容").fill("リハビリテーション継続中。抗血小板薬内服。");
  // 2. 特別な医療.
  await page.getByRole("checkbox", { name: "モニター測定" }).check();
  // 3. 心身の状態.
  await page.getByLabel("障害高齢者の日常生活自立度（寝たきり度）").selectOption("5");
  await page.getByLabel("認知症高齢者の日常生活自立度").selectOption("2");
  await page.getByLabel("身長（cm）").fill("158");
  await page.getByLabel("体重（kg）").fill("52.5");
  // 4. 生活機能とサービス.
  await page.getByLabel("屋外歩行").selectOption("2");
  await page.getByLabel("サービス利用による生活機能の維持・改善の見通し").selectOption("1");
  await page.getByRole("checkbox", { name: "特記すべき項目なし（医学的管理）" }).check();
  await page.getByRole("checkbox", { name: "特記すべき項目なし（留意事項）" }).check();
  await page.getByLabel("感染症の有無").selectOption("1");

  // The PDF goes up in 256 KiB chunks; the bar reaches 100 %.
  await page
    .getByLabel("添付する PDF")
    .setInputFiles({ name: "検査結果.pdf", mimeType: "application/pdf", buffer: pdf });
  await page.getByRole("button", { name: "アップロード", exact: true }).click();
  await expect(page.getByTestId("upload-progress")).toHaveAttribute("data-percent", "100");
  await expect(page.getByTestId("attachments").locator("li")).toHaveCount(1);
  await expect(page.getByTestId("attachments")).toContainText("application/pdf");
  await screenshot(page, "opinion-form");

  await page.getByRole("button", { name: "意見書を提出する" }).click();
  const done = page.getByTestId("opinion-submitted");
  await expect(done).toBeVisible();
  const opinionId = (await done.getAttribute("data-opinion-id"))!;

  // Among the institution's opinions, with its attachment.
  await done.getByRole("link", { name: "一覧へ戻る" }).click();
  const row = page.locator(`[data-testid="opinions"] tr[data-opinion-id="${opinionId}"]`);
  await expect(row).toBeVisible();
  await expect(row.getByTestId("attachment-count")).toHaveText("1");
  await screenshot(page, "opinions");
  await row.getByRole("link").click();
  await expect(page.getByTestId("view-attachments")).toContainText("検査結果.pdf");

  // A second client confirms: the opinion exists for the request, with the very PDF.
  const api = await apiAs(DocumentService, "medical_institution");
  const { opinion } = await api.getOpinion({ opinionId });
  expect(opinion!.opinionRequestId).toBe(DEMO_REQUEST);
  expect(opinion!.status).toBe(OpinionStatus.SUBMITTED);
  expect(opinion!.formEdition).toBe(OpinionFormEdition.REIWA_3);
  expect(opinion!.disease!.diagnoses[0].name).toBe("脳梗塞");
  expect(opinion!.mentalPhysical!.weightKg).toBe(52.5);
  expect(opinion!.attachmentIds).toHaveLength(1);
  const { attachment } = await api.getAttachment({ attachmentId: opinion!.attachmentIds[0] });
  expect(attachment!.contentType).toBe("application/pdf");
  expect(Number(attachment!.sizeBytes)).toBe(pdf.length);
  expect(attachment!.sha256Hex).toBe(sha);
  const chunks: Uint8Array[] = [];
  for await (const msg of api.downloadAttachment({ attachmentId: attachment!.attachmentId })) {
    if (msg.payload.case === "chunk") chunks.push(msg.payload.value);
  }
  expect(Buffer.compare(Buffer.concat(chunks), pdf)).toBe(0);
  const { opinions } = await api.listOpinions({});
  expect(opinions.map((o) => o.opinionId)).toContain(opinionId);
});

test("the opinion form reflows at 200 % zoom", async ({ page }) => {
  await page.setViewportSize({ width: 640, height: 900 });
  await openDemoRequest(page);
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  expect(overflow).toBeLessThanOrEqual(0);
});

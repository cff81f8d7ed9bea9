// A file upload by the unary trio (browsers cannot client-stream over gRPC-Web):
// StartAttachmentUpload (metadata, SHA-256) → AppendAttachmentChunk per 256 KiB (offsets; a
// resumed session continues at received_bytes) → FinishAttachmentUpload.
import type { Client } from "@connectrpc/connect";
import {
  AttachmentPurpose,
  type Attachment,
  type DocumentService,
} from "../../gen/kaigo/documents/v1/documents_service_pb";

export const CHUNK_BYTES = 256 * 1024;

export async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

type Uploader = Pick<
  Client<typeof DocumentService>,
  "startAttachmentUpload" | "appendAttachmentChunk" | "finishAttachmentUpload"
>;

export async function uploadAttachment(
  client: Uploader,
  opts: {
    requestId: string;
    purpose?: AttachmentPurpose;
    subjectId: string;
    fileName: string;
    bytes: Uint8Array<ArrayBuffer>;
    onProgress?: (sent: number, total: number) => void;
    signal?: AbortSignal;
  },
): Promise<Attachment> {
  const { bytes, signal } = opts;
  const total = bytes.length;
  const started = await client.startAttachmentUpload(
    {
      metadata: {
        requestId: opts.requestId,
        purpose: opts.purpose ?? AttachmentPurpose.OPINION,
        subjectId: opts.subjectId,
        fileName: opts.fileName,
        sizeBytes: BigInt(total),
        sha256Hex: await sha256Hex(bytes),
      },
    },
    { signal },
  );
  let offset = Number(started.receivedBytes);
  opts.onProgress?.(offset, total);
  while (offset < total) {
    const chunk = bytes.subarray(offset, Math.min(offset + CHUNK_BYTES, total));
    const res = await client.appendAttachmentChunk(
      { uploadId: started.uploadId, offset: BigInt(offset), chunk },
      { signal },
    );
    offset = Number(res.receivedBytes);
    opts.onProgress?.(offset, total);
  }
  const done = await client.finishAttachmentUpload({ uploadId: started.uploadId }, { signal });
  if (!done.attachment) throw new Error("FinishAttachmentUpload returned no attachment");
  opts.onProgress?.(total, total);
  return done.attachment;
}

import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { AttachmentSchema } from "../../gen/kaigo/documents/v1/documents_service_pb";
import { CHUNK_BYTES, sha256Hex, uploadAttachment } from "./upload";

describe("uploadAttachment", () => {
  it("sends the file in 256 KiB chunks at the right offsets and reports progress", async () => {
    const bytes = new Uint8Array(new ArrayBuffer(CHUNK_BYTES * 2 + 10)).map((_, i) => i % 251);
    const received: number[] = [];
    let got = new Uint8Array(0);
    let metaSha = "";
    const client = {
      startAttachmentUpload: async (r: { metadata?: { sha256Hex: string; sizeBytes: bigint } }) => {
        metaSha = r.metadata!.sha256Hex;
        expect(r.metadata!.sizeBytes).toBe(BigInt(bytes.length));
        return { uploadId: "u1", receivedBytes: 0n };
      },
      appendAttachmentChunk: async (r: { offset: bigint; chunk: Uint8Array }) => {
        expect(Number(r.offset)).toBe(got.length);
        expect(r.chunk.length).toBeLessThanOrEqual(CHUNK_BYTES);
        const next = new Uint8Array(got.length + r.chunk.length);
        next.set(got);
        next.set(r.chunk, got.length);
        got = next;
        return { receivedBytes: BigInt(got.length) };
      },
      finishAttachmentUpload: async () => ({
        attachment: create(AttachmentSchema, { attachmentId: "a1", sizeBytes: BigInt(got.length) }),
      }),
    };
    const a = await uploadAttachment(client as never, {
      requestId: "r",
      subjectId: "s",
      fileName: "x.pdf",
      bytes,
      onProgress: (sent) => received.push(sent),
    });
    expect(a.attachmentId).toBe("a1");
    expect(got).toEqual(bytes);
    expect(received).toEqual([0, CHUNK_BYTES, CHUNK_BYTES * 2, bytes.length, bytes.length]);
    expect(metaSha).toBe(await sha256Hex(bytes));
  });

  it("resumes at the bytes the server already has", async () => {
    const bytes = new Uint8Array(new ArrayBuffer(100));
    const offsets: bigint[] = [];
    const client = {
      startAttachmentUpload: async () => ({ uploadId: "u", receivedBytes: 60n }),
      appendAttachmentChunk: async (r: { offset: bigint; chunk: Uint8Array }) => {
        offsets.push(r.offset);
        return { receivedBytes: r.offset + BigInt(r.chunk.length) };
      },
      finishAttachmentUpload: async () => ({ attachment: create(AttachmentSchema, { attachmentId: "a" }) }),
    };
    await uploadAttachment(client as never, { requestId: "r", subjectId: "s", fileName: "x.pdf", bytes });
    expect(offsets).toEqual([60n]);
  });
});

// DownloadBundle (server streaming): the metadata first, then each file's bytes in chunks,
// joined here into one Uint8Array per file, in the order of Bundle.files.
import type { Client } from "@connectrpc/connect";
import type { Bundle } from "../../gen/kaigo/careplan/v1/bundle_pb";
import type { CarePlanService } from "../../gen/kaigo/careplan/v1/careplan_service_pb";

export interface DownloadedFile {
  name: string;
  bytes: Uint8Array<ArrayBuffer>;
}

export async function downloadBundle(
  client: Client<typeof CarePlanService>,
  bundleId: string,
  signal?: AbortSignal,
): Promise<{ bundle: Bundle | undefined; files: DownloadedFile[] }> {
  let bundle: Bundle | undefined;
  const parts: { name: string; chunks: Uint8Array[]; open: boolean }[] = [];
  for await (const msg of client.downloadBundle({ bundleId }, { signal })) {
    if (msg.payload.case === "bundle") {
      bundle = msg.payload.value;
    } else if (msg.payload.case === "chunk") {
      const c = msg.payload.value;
      let cur = parts[parts.length - 1];
      if (!cur || !cur.open || cur.name !== c.fileName) {
        cur = { name: c.fileName, chunks: [], open: true };
        parts.push(cur);
      }
      cur.chunks.push(c.data);
      if (c.last) cur.open = false;
    }
  }
  const files = parts.map((p) => {
    const size = p.chunks.reduce((n, c) => n + c.length, 0);
    const bytes = new Uint8Array(new ArrayBuffer(size));
    let at = 0;
    for (const c of p.chunks) {
      bytes.set(c, at);
      at += c.length;
    }
    return { name: p.name, bytes };
  });
  return { bundle, files };
}

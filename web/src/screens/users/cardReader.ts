// The virtual card reader of kaigo dev is `kaigo card sign` (docs/domain/access.md#card-flow):
// it signs the challenge with the demo person's virtual card and prints
// {"signature": base64, "certificate": base64}. The screen shows the challenge and reads that
// answer back; no card key is ever in the browser.

export function toBase64(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

export function fromBase64(s: string): Uint8Array | null {
  const t = s.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(t) || t.length % 4 !== 0) return null;
  const bin = atob(t);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export interface ReaderAnswer {
  signature: Uint8Array;
  certificate: Uint8Array;
}

/** The reader's answer, or null when the text is not `{"signature": …, "certificate": …}` in base64. */
export function parseReaderAnswer(text: string): ReaderAnswer | null {
  let v: unknown;
  try {
    v = JSON.parse(text.trim());
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null) return null;
  const o = v as Record<string, unknown>;
  if (typeof o.signature !== "string" || typeof o.certificate !== "string") return null;
  const signature = fromBase64(o.signature);
  const certificate = fromBase64(o.certificate);
  if (!signature?.length || !certificate?.length) return null;
  return { signature, certificate };
}

/** The command that reads the demo card for this challenge. */
export function signCommand(challenge: Uint8Array): string {
  return `kaigo card sign --serial d000000001 --challenge ${toBase64(challenge)}`;
}

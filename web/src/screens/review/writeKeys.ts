// Idempotency keys for the operator's writes. Every new write gets a fresh request_id; the
// identical write sent again after it failed in transit (the first attempt may have reached the
// server and been done) reuses its request_id, so the server answers with the first result
// instead of doing it twice. Anything else the server answered ends that key.
import { Code, ConnectError } from "@connectrpc/connect";

/** Failures after which the request may or may not have been carried out. */
const IN_DOUBT = new Set<Code>([
  Code.Unknown,
  Code.Unavailable,
  Code.DeadlineExceeded,
  Code.Canceled,
  Code.Internal,
  Code.ResourceExhausted,
]);

/** A stable text of a write's request (without its request_id); bigint as decimal. */
export function writeBody(rpc: string, request: Record<string, unknown>): string {
  return JSON.stringify([rpc, request], (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v));
}

export class WriteKeys {
  private pending: { body: string; requestId: string } | null = null;

  constructor(private readonly fresh: () => string) {}

  /** The request_id to send with `body`: the pending one for the same body, else a new one. */
  idFor(body: string): string {
    if (this.pending?.body !== body) this.pending = { body, requestId: this.fresh() };
    return this.pending.requestId;
  }

  /** After the call: keep the key only when the outcome is in doubt (a network error). */
  settle(error?: unknown): void {
    if (error !== undefined && IN_DOUBT.has(ConnectError.from(error).code)) return;
    this.pending = null;
  }
}

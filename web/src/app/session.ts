// The session: one token in sessionStorage (gone with the tab), nothing else stored.
import { claimsFromToken, type Claims } from "./jwt";

const KEY = "kaigo.token";

export interface Session {
  token: string;
  claims: Claims;
}

type Listener = (reason: "signed-in" | "signed-out" | "expired") => void;
const listeners = new Set<Listener>();

export function onSessionChange(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

function emit(reason: "signed-in" | "signed-out" | "expired") {
  for (const l of listeners) l(reason);
}

/** The stored session, or null when there is none or it has expired (then it is removed). */
export function loadSession(now: number = Date.now()): Session | null {
  let token: string | null = null;
  try {
    token = sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
  if (!token) return null;
  try {
    const claims = claimsFromToken(token);
    if (claims.exp * 1000 <= now) {
      sessionStorage.removeItem(KEY);
      return null;
    }
    return { token, claims };
  } catch {
    sessionStorage.removeItem(KEY);
    return null;
  }
}

/** Stores a token after checking it carries kaigo claims; throws otherwise. */
export function startSession(token: string): Session {
  const claims = claimsFromToken(token);
  if (claims.exp * 1000 <= Date.now()) throw new Error("token already expired");
  sessionStorage.setItem(KEY, token);
  emit("signed-in");
  return { token, claims };
}

export function endSession(reason: "signed-out" | "expired" = "signed-out"): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    /* ignore */
  }
  emit(reason);
}

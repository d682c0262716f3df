// Versioned writes of my own labels, shared by annotate (autosave.js), validate and review (saver.js).
// Every write names the version of the stored label it was based on, 0 for a label not stored yet (a
// write without a version of a label that exists is refused with 428, never applied); when it is stale the
// server answers 409 (412 with If-Match) with the current state, and the page shows both sides and asks
// whether to write again on top of it. A write that fails otherwise is kept and sent again (after a
// backoff, or by hand), never dropped; only a refusal that would repeat (400, most other 4xx) is given up,
// as each page decides. Pages keep only what they send and how they show a conflict.
// Every write goes out through saveRequest() with an Idempotency-Key: one key per logical save, sent again
// unchanged with each retry of it, so a save the server applied but whose answer was lost (the connection
// died after the commit) is answered again on retry instead of applied twice.
import { api } from "./api.js";
import { dialog } from "./ui.js";

const KEY_HEADER = "Idempotency-Key";

/** The version a write of `label` (my stored label, or null/undefined) is based on: 0 when none is stored. */
export function baseVersion(label) {
  return label?.version ?? 0;
}

/**
 * What a failed write means: "conflict" (stale version, or 428: no version of a label that exists; the
 * body holds the current state either way), "invalid" (400, with field errors), "refused" (another 4xx
 * that would fail the same way again), or "transient" (offline, 5xx, 408, 429: worth sending again).
 */
export function failure(error) {
  const status = error.status;
  // The server still running an earlier try of this same save (its Idempotency-Key is in flight): sending
  // it again shortly gets that try's answer.
  if (status === 409 && error.body?.errors?.[KEY_HEADER]) return "transient";
  if (status === 409 || status === 412 || status === 428) return "conflict";
  if (status === 400) return "invalid";
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) return "refused";
  return "transient";
}

const keys = new Map();  // "METHOD path body" → the key of a save not yet answered for good
const MAX_KEYS = 200;

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // Pages served over plain HTTP (not a secure context) lack randomUUID: a version-4 UUID by hand.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Send one label write (api()'s path and options) with an Idempotency-Key. The same request
 * sent again after a transient failure carries the same key; a different request (another body, e.g.
 * on top of the version a conflict brought) gets a new one. A key is dropped once its save has a
 * definite answer (saved, or refused for good).
 */
export async function saveRequest(path, options = {}) {
  const signature = `${options.method || "GET"} ${path} ${JSON.stringify(options.body)}`;
  let key = keys.get(signature);
  if (!key) {
    key = newKey();
    keys.set(signature, key);
    if (keys.size > MAX_KEYS) keys.delete(keys.keys().next().value);  // the oldest, long abandoned
  }
  try {
    const value = await api(path, { ...options, headers: { ...options.headers, [KEY_HEADER]: key } });
    keys.delete(signature);
    return value;
  } catch (error) {
    if (failure(error) !== "transient") keys.delete(signature);
    throw error;
  }
}

/**
 * One versioned write. `send()` makes the request; after a conflict `onConflict(error)` shows it and
 * resolves true to write again on top of the current state (send() is called again, so it reads the
 * version the conflict left) or false to leave it there. Resolves to {outcome: "saved", value}, or
 * {outcome: "conflict" | "invalid" | "refused" | "transient", error} (see failure()).
 */
export async function versionedWrite(send, onConflict) {
  for (;;) {
    try {
      return { outcome: "saved", value: await send() };
    } catch (error) {
      const outcome = failure(error);
      if (outcome !== "conflict" || !await onConflict(error)) return { outcome, error };
    }
  }
}

/**
 * The conflict question; `body` shows my version and the stored one. Resolves "mine" (write mine
 * again over theirs), "theirs" (keep the stored state) or null (dismissed with Escape).
 */
export function askConflict(title, body, { mine, theirs }) {
  return dialog(title, body, [{ label: theirs, value: "theirs" }, { label: mine, value: "mine", primary: true }]);
}

/**
 * Retry with backoff: after the n-th failure in a row `run` is called again in first·2^(n−1) ms, at
 * most `max` (first = max: a fixed interval).
 */
export class Backoff {
  constructor(run, { first = 1000, max = 30000 } = {}) {
    this.run = run;
    this.first = first;
    this.max = max;
    this.failures = 0;
    this.at = 0;
    this.timer = null;
  }

  /** A write failed: schedule the next try; returns the wait in ms. */
  failed() {
    this.failures += 1;
    const wait = Math.min(this.max, this.first * 2 ** (this.failures - 1));
    this.at = Date.now() + wait;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.timer = null; this.run(); }, wait);
    return wait;
  }

  /** Saved, or being sent again right now: start over, with nothing scheduled. */
  reset() {
    this.failures = 0;
    clearTimeout(this.timer);
    this.timer = null;
  }

  /** Whole seconds to the next try. */
  get seconds() {
    return Math.max(0, Math.ceil((this.at - Date.now()) / 1000));
  }
}

/** Ask before the page is left while `unsaved()` (Chromium shows its own "Leave site?" text). */
export function guardUnload(unsaved) {
  window.addEventListener("beforeunload", (event) => {
    if (!unsaved()) return;
    event.preventDefault();
    event.returnValue = "";
  });
}

// Autosave: every edit is sent through the labels API's bulk endpoints shortly after it is made. A save
// that fails is retried with backoff and never dropped (the edit stays pending until the server has
// it); a stale version (409) asks the person to keep their version or take the stored one; invalid
// input (400) is shown and waits for the next edit.
//
// A source (scores, contours, the video score) implements:
//   hasChanges() -> bool;  nextRequest() -> {path, method, body, ...} | null
//   saved(sent, response);  describeConflict(sent, body) -> {title, rows: [{what, mine, theirs}]}
//   resolve(sent, body, "mine" | "theirs");  invalid: null | message (cleared by the source on the next edit)

import { api } from "../shared/api.js";
import { dialog, h } from "../shared/ui.js";

const MAX_BACKOFF_MS = 30000;

export class Saver {
  constructor({ sources, onState = () => {}, delay = 400, renderValue = (value) => String(value) }) {
    this.sources = sources;
    this.onState = onState;
    this.delay = delay;
    this.renderValue = renderValue;
    this.busy = false;
    this.failures = 0;
    this.timer = null;
    this.retryAt = 0;
    this.conflictOpen = false;
    this.unresolved = false;
    this.lastError = "";
    this.saves = 0;
    window.addEventListener("beforeunload", (event) => {
      if (!this.dirty()) return;
      event.preventDefault();
      event.returnValue = "";  // Chromium shows its own "Leave site?" text
    });
    window.addEventListener("online", () => this.flush());
  }

  dirty() {
    return this.busy || this.sources.some((source) => source.hasChanges());
  }

  /** Something was edited: save soon (edits within `delay` go in one request). */
  changed() {
    this.unresolved = false;
    if (this.failures === 0) this._schedule(this.delay);
    this._emit();
  }

  /** Save now (the S key, a retry button, coming back online). */
  flush() {
    this.failures = 0;
    this.unresolved = false;
    this._schedule(0);
  }

  _schedule(ms) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this._run(), ms);
  }

  state() {
    if (this.conflictOpen || this.unresolved) return ["conflict", "Conflict: choose a version"];
    if (this.busy) return ["saving", "Saving…"];
    const invalid = this.sources.find((source) => source.invalid && source.hasChanges());
    if (invalid) return ["invalid", `Not saved: ${invalid.invalid}`];
    if (this.failures > 0) {
      const seconds = Math.max(0, Math.ceil((this.retryAt - Date.now()) / 1000));
      return ["retrying", `Save failed (${this.lastError}); retrying in ${seconds} s`];
    }
    if (this.sources.some((source) => source.hasChanges())) return ["unsaved", "Unsaved changes"];
    return ["saved", "All changes saved"];
  }

  _emit() {
    const [state, text] = this.state();
    this.onState(state, text);
  }

  async _run() {
    if (this.busy || this.conflictOpen) return;
    this.busy = true;
    this._emit();
    let retryIn = 0;
    try {
      for (;;) {
        const source = this.sources.find((s) => s.hasChanges() && !s.invalid);
        const sent = source && source.nextRequest();
        if (!sent) break;
        try {
          const response = await api(sent.path, { method: sent.method, body: sent.body, retries: 0 });
          source.saved(sent, response);
          this.failures = 0;
          this.saves += 1;
        } catch (error) {
          if (error.status === 409 || error.status === 412) {
            const choice = await this._askConflict(source, sent, error.body);
            if (!choice) {
              this.unresolved = true;
              break;
            }
            source.resolve(sent, error.body, choice);
          } else if (error.status === 400) {
            source.invalid = this._problem(error);
          } else {
            // Offline, server error, expired session…: the edit stays pending and is sent again.
            this.failures += 1;
            this.lastError = error.status ? `HTTP ${error.status}` : "no connection";
            retryIn = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (this.failures - 1));
            this.retryAt = Date.now() + retryIn;
            break;
          }
        }
      }
    } finally {
      this.busy = false;
    }
    if (retryIn) {
      this._schedule(retryIn);
      this._tick();
    }
    this._emit();
  }

  // Refresh the "retrying in N s" countdown once a second while waiting.
  _tick() {
    clearInterval(this.ticker);
    this.ticker = setInterval(() => {
      if (this.failures === 0 || Date.now() > this.retryAt) clearInterval(this.ticker);
      this._emit();
    }, 1000);
  }

  _problem(error) {
    const errors = error.body && error.body.errors;
    if (errors) return Object.values(errors).flat().join("; ");
    return error.message;
  }

  async _askConflict(source, sent, body) {
    const { title, rows } = source.describeConflict(sent, body);
    this.conflictOpen = true;
    this._emit();
    try {
      const table = h("table.conflict-table", {},
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "What"), h("th", { scope: "col" }, "Mine (not saved)"),
          h("th", { scope: "col" }, "Theirs (saved meanwhile)"))),
        h("tbody", {}, rows.map((row) => h("tr", {}, h("th", { scope: "row" }, row.what),
          h("td.mine", {}, this.renderValue(row.mine)), h("td.theirs", {}, this.renderValue(row.theirs))))));
      const explanation = h("p", {}, "These labels were changed in another window or session since you loaded them. "
        + "Keep mine saves your version over theirs; take theirs discards your change.");
      return await dialog(title, [explanation, table], [
        { label: "Take theirs", value: "theirs" },
        { label: "Keep mine", value: "mine", primary: true },
      ]);
    } finally {
      this.conflictOpen = false;
    }
  }
}

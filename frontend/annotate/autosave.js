// Autosave: every edit is sent through the labels API's bulk endpoints shortly after it is made, as a
// versioned write (shared/saver.js). A save that fails is retried with backoff and never dropped (the
// edit stays pending until the server has it); a stale version (409) asks the person to keep their
// version or take the stored one; invalid input (400) is shown and waits for the next edit.
//
// A source (scores, contours, the video score) implements:
//   hasChanges() -> bool;  nextRequest() -> {path, method, body, ...} | null
//   saved(sent, response);  describeConflict(sent, body) -> {title, rows: [{what, mine, theirs}]}
//   resolve(sent, body, "mine" | "theirs");  invalid: null | message (cleared by the source on the next edit)

import { askConflict, Backoff, guardUnload, saveRequest, versionedWrite } from "../shared/saver.js";
import { h } from "../shared/ui.js";

export class Saver {
  constructor({ sources, onState = () => {}, delay = 400, renderValue = (value) => String(value) }) {
    this.sources = sources;
    this.onState = onState;
    this.delay = delay;
    this.renderValue = renderValue;
    this.busy = false;
    this.timer = null;
    this.backoff = new Backoff(() => this._run());
    this.conflictOpen = false;
    this.unresolved = false;
    this.lastError = "";
    this.saves = 0;
    guardUnload(() => this.dirty());
    window.addEventListener("online", () => this.flush());
  }

  dirty() {
    return this.busy || this.sources.some((source) => source.hasChanges());
  }

  /** Something was edited: save soon (edits within `delay` go in one request). */
  changed() {
    this.unresolved = false;
    if (this.backoff.failures === 0) this._schedule(this.delay);
    this._emit();
  }

  /** Save now (the S key, a retry button, coming back online). */
  flush() {
    this.backoff.reset();
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
    if (this.backoff.failures > 0) {
      return ["retrying", `Save failed (${this.lastError}); retrying in ${this.backoff.seconds} s`];
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
    try {
      for (;;) {
        const source = this.sources.find((s) => s.hasChanges() && !s.invalid);
        const sent = source && source.nextRequest();
        if (!sent) break;
        const { outcome, value, error } = await versionedWrite(
          () => saveRequest(sent.path, { method: sent.method, body: sent.body, retries: 0 }),
          async (conflict) => {
            const choice = await this._askConflict(source, sent, conflict.body);
            if (choice) source.resolve(sent, conflict.body, choice);
            else this.unresolved = true;
            return false;  // resolved: the loop sends what is left (mine, on the stored version) or nothing
          });
        if (outcome === "saved") {
          source.saved(sent, value);
          this.backoff.reset();
          this.saves += 1;
        } else if (outcome === "conflict") {
          if (this.unresolved) break;
        } else if (outcome === "invalid") {
          source.invalid = this._problem(error);
        } else {
          // Offline, server error, expired session…: the edit stays pending and is sent again.
          this.lastError = error.status ? `HTTP ${error.status}` : "no connection";
          clearTimeout(this.timer);  // the backoff says when
          this.backoff.failed();
          this._tick();
          break;
        }
      }
    } finally {
      this.busy = false;
    }
    this._emit();
  }

  // Refresh the "retrying in N s" countdown once a second while waiting.
  _tick() {
    clearInterval(this.ticker);
    this.ticker = setInterval(() => {
      if (this.backoff.failures === 0 || Date.now() > this.backoff.at) clearInterval(this.ticker);
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
      return await askConflict(title, [explanation, table], { mine: "Keep mine", theirs: "Take theirs" });
    } finally {
      this.conflictOpen = false;
    }
  }
}

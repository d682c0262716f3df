// My video findings (A-lines, B-lines, …: present or absent, each with the version it was loaded or saved
// at) as an autosave source (see autosave.js), and the keys that toggle them. A finding I never stated is
// neither present nor absent: the checkbox shows it as indeterminate until I toggle it.

/** Keys of the findings in vocabulary order: 4–9 next to the score keys 0–3, then letters no shortcut uses. */
export const FINDING_KEYS = ["4", "5", "6", "7", "8", "9", "q", "w", "e", "r", "t", "y"];

const said = (present) => (present === true ? "present" : present === false ? "absent" : "not stated");

export class FindingBook {
  /** vocabulary: [{code, name}]; mine: [{id, finding, present, version}] from the read model. */
  constructor(videoId, vocabulary, mine, { onChange = () => {} } = {}) {
    this.videoId = videoId;
    this.vocabulary = vocabulary;
    this.present = new Map(vocabulary.map((f) => [f.code, null]));
    this.versions = new Map(vocabulary.map((f) => [f.code, 0]));  // 0: not stored yet
    for (const label of mine) {
      this.present.set(label.finding, label.present);
      this.versions.set(label.finding, label.version);
    }
    this.dirty = new Set();
    this.invalid = null;
    this.onChange = onChange;
  }

  /** The finding of a shortcut key, or undefined. */
  codeForKey(key) {
    const at = FINDING_KEYS.indexOf(key.toLowerCase());
    return at >= 0 ? this.vocabulary[at]?.code : undefined;
  }

  keyFor(code) {
    return FINDING_KEYS[this.vocabulary.findIndex((f) => f.code === code)];
  }

  name(code) {
    return this.vocabulary.find((f) => f.code === code)?.name ?? code;
  }

  /** Set a finding present (true) or absent (false). */
  set(code, present) {
    if (!this.present.has(code) || this.present.get(code) === present) return;
    this.present.set(code, present);
    this.dirty.add(code);
    this.invalid = null;
    this.onChange();
  }

  /** Not stated or absent -> present; present -> absent (as clicking the checkbox). Returns the new state. */
  toggle(code) {
    const next = this.present.get(code) !== true;
    this.set(code, next);
    return next;
  }

  hasChanges() { return this.dirty.size > 0; }

  nextRequest() {
    const codes = [...this.dirty];
    if (!codes.length) return null;
    const items = codes.map((code) => ({ finding: code, present: this.present.get(code), version: this.versions.get(code) }));
    return { path: `videos/${this.videoId}/findings/`, method: "POST", body: { items } };
  }

  saved(sent, labels) {
    for (const label of labels) {
      this.versions.set(label.finding, label.version);
      if (this.present.get(label.finding) === label.present) this.dirty.delete(label.finding);
    }
  }

  _conflicts(body) {
    return (body && body.current || []).filter((c) => this.present.has(c.finding));
  }

  describeConflict(sent, body) {
    const rows = this._conflicts(body).map((c) => ({
      what: this.name(c.finding), mine: said(this.present.get(c.finding)), theirs: said(c.current ? c.current.present : null) }));
    return { title: rows.length > 1 ? `${rows.length} findings changed meanwhile` : "Finding changed meanwhile", rows };
  }

  resolve(sent, body, choice) {
    for (const c of this._conflicts(body)) {
      this.versions.set(c.finding, c.current ? c.current.version : 0);
      if (choice === "theirs") {
        this.present.set(c.finding, c.current ? c.current.present : null);
        this.dirty.delete(c.finding);
      }
    }
    this.onChange();
  }
}

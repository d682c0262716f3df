// My scores: one per frame (0–3) and one for the video, each with the version it was loaded or saved at,
// as autosave sources (see autosave.js). Frames are addressed by index; the API by frame id.

const MAX_ITEMS = 5000;  // the bulk endpoint's limit per request

export class ScoreBook {
  /** frames: [{id, index}]; mine: [{frame, id, score, version}] from the read model. */
  constructor(videoId, frames, mine, { onChange = () => {} } = {}) {
    this.videoId = videoId;
    this.frames = frames;
    this.indexOf = new Map(frames.map((frame, i) => [frame.id, i]));
    this.scores = new Int8Array(frames.length).fill(-1);
    this.versions = new Int32Array(frames.length);  // 0: not stored yet
    this.dirty = new Set();
    this.invalid = null;
    this.onChange = onChange;
    for (const label of mine) {
      const i = this.indexOf.get(label.frame);
      if (i === undefined) continue;
      this.scores[i] = label.score;
      this.versions[i] = label.version;
    }
  }

  /** Score frames from..to (inclusive); returns how many changed. */
  set(from, to, score) {
    let changed = 0;
    for (let i = from; i <= to; i += 1) {
      if (this.scores[i] === score) continue;
      this.scores[i] = score;
      this.dirty.add(i);
      changed += 1;
    }
    if (changed) {
      this.invalid = null;
      this.onChange();
    }
    return changed;
  }

  hasChanges() { return this.dirty.size > 0; }

  nextRequest() {
    const indices = [...this.dirty].sort((a, b) => a - b).slice(0, MAX_ITEMS);
    if (!indices.length) return null;
    // Version 0 = "based on no stored score": the server answers 409 if one was stored meanwhile.
    const items = indices.map((i) => ({ frame: this.frames[i].id, score: this.scores[i], version: this.versions[i] }));
    return { path: `videos/${this.videoId}/frame-scores/`, method: "POST", body: { items } };
  }

  saved(sent, labels) {
    for (const label of labels) {
      const i = this.indexOf.get(label.frame);
      this.versions[i] = label.version;
      if (this.scores[i] === label.score) this.dirty.delete(i);  // else re-scored meanwhile: still pending
    }
  }

  _conflicts(body) {
    return (body && body.current || []).filter((c) => this.indexOf.has(c.frame));
  }

  describeConflict(sent, body) {
    const rows = this._conflicts(body).map((c) => {
      const i = this.indexOf.get(c.frame);
      return { what: `Frame ${i + 1} score`, mine: this.scores[i], theirs: c.current ? c.current.score : null };
    });
    return { title: rows.length > 1 ? `${rows.length} frame scores changed meanwhile` : "Frame score changed meanwhile", rows };
  }

  resolve(sent, body, choice) {
    for (const c of this._conflicts(body)) {
      const i = this.indexOf.get(c.frame);
      this.versions[i] = c.current ? c.current.version : 0;
      if (choice === "theirs") {
        this.scores[i] = c.current ? c.current.score : -1;
        this.dirty.delete(i);
      }
    }
    this.onChange();
  }
}

export class VideoScoreBook {
  /** mine: {id, score, version, comment} | null */
  constructor(videoId, mine, { onChange = () => {} } = {}) {
    this.videoId = videoId;
    this.score = mine ? mine.score : null;
    this.comment = mine ? mine.comment : "";
    this.version = mine ? mine.version : 0;
    this.pending = false;
    this.invalid = null;
    this.onChange = onChange;
  }

  set(score, comment = this.comment) {
    if (score === this.score && comment === this.comment) return;
    this.score = score;
    this.comment = comment;
    this.pending = this.score !== null;
    this.invalid = null;
    this.onChange();
  }

  hasChanges() { return this.pending; }

  nextRequest() {
    return { path: "video-scores/", method: "POST", sent: [this.score, this.comment],
      body: { video: this.videoId, score: this.score, comment: this.comment, version: this.version } };
  }

  saved(sent, label) {
    this.version = label.version;
    if (this.score === label.score && this.comment === label.comment) this.pending = false;
  }

  _current(body) {
    const item = (body && body.current || [])[0];
    return item ? item.current : null;
  }

  describeConflict(sent, body) {
    const current = this._current(body);
    return { title: "Video score changed meanwhile",
      rows: [{ what: "Video score", mine: this.score, theirs: current ? current.score : null }] };
  }

  resolve(sent, body, choice) {
    const current = this._current(body);
    this.version = current ? current.version : 0;
    if (choice === "theirs") {
      this.score = current ? current.score : null;
      this.pending = false;
    }
    this.onChange();
  }
}

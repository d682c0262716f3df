// Frame images: every PNG of the video is fetched once (bounded concurrency, the frame on screen first)
// and kept as a compressed Blob; only a window of frames around the playhead is decoded into
// ImageBitmaps, so a 1,000-frame video costs its PNG bytes plus ~30 decoded frames.

import { frameImageUrl } from "../shared/api.js";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class FrameStore {
  /**
   * frames: [{id, index, image_url?}] in display order.
   * concurrency: parallel downloads (browsers open 6 connections per host over HTTP/1.1).
   * ahead/behind: decoded frames kept around the playhead.
   */
  constructor(frames, { concurrency = 6, ahead = 24, behind = 8, onProgress = () => {} } = {}) {
    this.frames = frames;
    this.concurrency = concurrency;
    this.ahead = ahead;
    this.behind = behind;
    this.onProgress = onProgress;
    this.blobs = new Array(frames.length).fill(null);
    this.loading = new Map();   // index -> Promise<Blob>
    this.bitmaps = new Map();   // index -> ImageBitmap
    this.decoding = new Map();  // index -> Promise<ImageBitmap>
    this.cursor = 0;            // where the prefetch queue looks for the next missing frame
    this.active = 0;
    this.loaded = 0;
    this.bytes = 0;
    this.networkWaits = 0;      // frames shown that had to wait for their download
    this.decodeWaits = 0;       // frames shown that had to wait for their decode
    this.center = 0;
    this.direction = 1;
  }

  get complete() { return this.loaded === this.frames.length; }

  /** A frame fetched and decoded before the store existed (the first one, while the page's state loads). */
  seed(index, blob, bitmap) {
    if (this.blobs[index]) return;
    this.blobs[index] = blob;
    this.loaded += 1;
    this.bytes += blob.size;
    if (bitmap) this.bitmaps.set(index, bitmap);
  }

  /** Start prefetching from `first`: it alone first (the first paint waits on it), then the rest. */
  start(first = 0) {
    this.cursor = first;
    const rest = () => this._pump();
    if (this.blobs[first]) rest();
    else this._load(first).then(rest, rest);
  }

  /** The playhead moved: prefetch from here on, and keep the decoded window around it. */
  focus(index, direction = this.direction) {
    this.center = index;
    this.direction = direction >= 0 ? 1 : -1;
    if (!this.blobs[index] && !this.loading.has(index)) this.cursor = index;
    this._decodeWindow();
  }

  /** The decoded frame if it is ready now (stepping paints synchronously when it is). */
  peek(index) {
    return this.bitmaps.get(index) || null;
  }

  /** The decoded frame, downloading and decoding it first if needed. */
  async get(index) {
    const ready = this.bitmaps.get(index);
    if (ready) return ready;
    if (!this.blobs[index]) this.networkWaits += 1;
    else this.decodeWaits += 1;
    return this._decode(index);
  }

  stats() {
    return { total: this.frames.length, loaded: this.loaded, bytes: this.bytes, decoded: this.bitmaps.size,
      networkWaits: this.networkWaits, decodeWaits: this.decodeWaits };
  }

  _nextMissing() {
    const n = this.frames.length;
    for (let step = 0; step < n; step += 1) {
      const index = (this.cursor + step) % n;
      if (!this.blobs[index] && !this.loading.has(index)) {
        this.cursor = index;
        return index;
      }
    }
    return -1;
  }

  _pump() {
    while (this.active < this.concurrency) {
      const index = this._nextMissing();
      if (index < 0) return;
      this.active += 1;
      this._load(index).catch(() => {}).finally(() => {
        this.active -= 1;
        this._pump();
      });
    }
  }

  _load(index) {
    let pending = this.loading.get(index);
    if (pending) return pending;
    pending = (async () => {
      // Network errors are retried with backoff: a frame is never given up on.
      for (let attempt = 0; ; attempt += 1) {
        try {
          const response = await fetch(frameImageUrl(this.frames[index]), { credentials: "same-origin" });
          if (!response.ok) throw new Error(`frame ${index}: HTTP ${response.status}`);
          const blob = await response.blob();
          this.blobs[index] = blob;
          this.loaded += 1;
          this.bytes += blob.size;
          this.onProgress(this.loaded, this.frames.length);
          if (this._inWindow(index)) this._decode(index).catch(() => {});
          return blob;
        } catch (error) {
          if (attempt >= 6) throw error;
          await sleep(Math.min(8000, 250 * 2 ** attempt));
        }
      }
    })();
    this.loading.set(index, pending);
    const done = () => this.loading.delete(index);
    pending.then(done, done);
    return pending;
  }

  _decode(index) {
    let pending = this.decoding.get(index);
    if (pending) return pending;
    pending = (async () => {
      const blob = this.blobs[index] || await this._load(index);
      const bitmap = await createImageBitmap(blob);
      if (!this._inWindow(index) && index !== this.center) {
        bitmap.close();  // the playhead moved on while this decoded
        return null;
      }
      this.bitmaps.set(index, bitmap);
      return bitmap;
    })();
    this.decoding.set(index, pending);
    const done = () => this.decoding.delete(index);
    pending.then(done, done);
    return pending;
  }

  _inWindow(index) {
    const offset = (index - this.center) * this.direction;
    return offset >= -this.behind && offset <= this.ahead;
  }

  _decodeWindow() {
    for (const [index, bitmap] of this.bitmaps) {
      if (!this._inWindow(index) && index !== this.center) {
        bitmap.close();
        this.bitmaps.delete(index);
      }
    }
    const n = this.frames.length;
    // Ahead of the playhead first (the direction of travel), nearest first; then behind it.
    const order = [];
    for (let offset = 0; offset <= this.ahead; offset += 1) order.push(this.center + offset * this.direction);
    for (let offset = 1; offset <= this.behind; offset += 1) order.push(this.center - offset * this.direction);
    for (const index of order) {
      if (index >= 0 && index < n && this.blobs[index] && !this.bitmaps.has(index) && !this.decoding.has(index)) {
        this._decode(index).catch(() => {});
      }
    }
  }
}

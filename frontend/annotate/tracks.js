// Contour tracks in the annotate page: keyframes (L), interpolated frames (dashed, their own mark in the
// timeline's "Track" row), propagation by optical flow to the next N frames (Shift+P), accepting (A, Shift+A:
// the whole track) or discarding (X) proposed frames, and the model's pre-annotations (polygons, and frame
// scores pre-filled from the active scorer: A / Shift+A make them mine where I have not scored). The track contours
// live in the ContourBook like every contour of mine (one copy in memory: stepping reads nothing new); the
// server re-interpolates after each keyframe change, and one GET of my tracks then replaces the track
// contours of the frames without unsaved edits.

import { api } from "../shared/api.js";
import { h, toast } from "../shared/ui.js";

/** Timeline marks of the "Track" row (see Timeline rows' `colours`). */
export const MARK = { NONE: -1, KEYFRAME: 0, INTERPOLATED: 1, PROPOSAL: 2 };
export const MARK_COLOURS = ["#1d2633", "#9db4d8", "#e8912d"];

export class Tracks {
  constructor(page) {
    this.page = page;
    this.videoId = page.data.video.id;
    this.offered = Boolean(page.data.preannotations);
    this.marks = new Int8Array(page.count).fill(MARK.NONE);
    this.nInput = h("input", { id: "propagate-n", type: "number", min: "1", max: "100", value: "10",
      "aria-label": "Frames to propagate (Shift+P)", title: "Frames to propagate (Shift+P)" });
    this.busy = false;
    this.trackClass = new Map((page.data.mine.tracks || []).map((t) => [t.id, t.segmentation_class]));
    this.gaps = new Map((page.data.mine.tracks || []).map((t) => [t.id, new Set(t.gaps)]));
    this.lastTrack = null;
    this.prefill = new Map();  // frame index -> the active scorer's score, offered by Pre-annotate
    this.computeMarks();
  }

  /** The toolbar's track controls. */
  controls() {
    const button = (label, title, onclick, attrs = {}) => h("button", { type: "button", title, "aria-label": title,
      onclick, ...attrs }, label);
    return [
      h("span.sep", { "aria-hidden": "true" }),
      button("◆ Keyframe", "Mark / unmark keyframe of the selected polygon's track (L)", () => this.toggleKeyframe(),
        { id: "keyframe-button" }),
      button("Propagate", "Propagate the selected polygon to the next N frames (Shift+P)", () => this.propagate(),
        { id: "propagate-button" }),
      this.nInput,
      button("Accept", "Accept this frame's proposals (A; Shift+A: the whole track)", () => this.accept(false)),
      button("Discard", "Discard this frame's proposals (X)", () => this.discard()),
      this.offered ? button("Pre-annotate", "The model's polygons as proposals to accept", () => this.preannotate(),
        { id: "preannotate-button" }) : null,
    ];
  }

  /** Per frame: keyframe, interpolated or proposal (the strongest of my track contours there). */
  computeMarks() {
    this.marks.fill(MARK.NONE);
    for (const [index, layer] of this.page.contours.layers) {
      for (const item of layer.items) {
        if (item.proposal) this.marks[index] = MARK.PROPOSAL;
        else if (!item.track) continue;
        else if (item.keyframe && this.marks[index] !== MARK.PROPOSAL) this.marks[index] = MARK.KEYFRAME;
        else if (this.marks[index] === MARK.NONE) this.marks[index] = MARK.INTERPOLATED;
      }
    }
  }

  _selectedOrOnly() {
    const items = this.page.contours.items(this.page.current);
    const key = this.page.editor.selected?.key;
    return items.find((item) => item.key === key) || (items.length === 1 ? items[0] : null);
  }

  _trackOnFrame() {
    const item = this._selectedOrOnly();
    if (item?.track) return item.track;
    return this.page.contours.items(this.page.current).find((i) => i.track)?.track ?? this.lastTrack ?? null;
  }

  /** Wait until my edits are stored: track calls name stored contours and versions. */
  async _saved() {
    const saver = this.page.saver;
    saver.flush();
    for (let i = 0; i < 100 && saver.dirty(); i += 1) await new Promise((r) => setTimeout(r, 50));
    if (saver.dirty()) throw new Error("unsaved changes: save them first");
  }

  async _run(what, work) {
    if (this.page.readonly) return;
    if (this.busy) { toast(`${what}: the previous track change is still being saved; press again`); return; }
    this.busy = true;
    try {
      await this._saved();
      const message = await work();
      await this.reload();
      if (message) this.page.announce(message);
    } catch (error) {
      toast(`${what} failed: ${error.message}`, "error");
    } finally {
      this.busy = false;
    }
  }

  /** L: a polygon outside any track starts one (or joins the last track used, same class, if it has no
   * keyframe here); an interpolated or proposed polygon becomes a keyframe; a keyframe stops being one. */
  toggleKeyframe() {
    const item = this._selectedOrOnly();
    if (!item) { toast("Select a polygon first (Tab cycles them)."); return; }
    const book = this.page.contours;
    const frame = this.page.current;
    this._run("Keyframe", async () => {
      const id = book.ids.get(item.key);
      const version = book.layer(frame).base.find((b) => b.id === id)?.version ?? 0;
      if (!item.track) {
        const last = this.lastTrack && this.trackClass.get(this.lastTrack);
        if (last === item.cls && !book.items(frame).some((i) => i.track === this.lastTrack && i.keyframe)) {
          await api(`tracks/${this.lastTrack}/keyframes/${frame}/`, { method: "PUT", body: { contour: id } });
          return `Keyframe of track ${this.lastTrack} on frame ${frame + 1}`;
        }
        const track = await api(`videos/${this.videoId}/tracks/`, { method: "POST", body: { contour: id } });
        this.lastTrack = track.id;
        return `Track ${track.id} started on frame ${frame + 1}`;
      }
      this.lastTrack = item.track;
      if (item.keyframe && !item.proposal) {
        await api(`tracks/${item.track}/keyframes/${frame}/`, { method: "DELETE", body: { version } });
        return `Frame ${frame + 1} is no keyframe any more`;
      }
      await api(`tracks/${item.track}/keyframes/${frame}/`, { method: "PUT", body: { version } });
      return `Frame ${frame + 1} is a keyframe`;
    });
  }

  /** N: the marker is not here (it left the view): the track ends before this frame and restarts at its
   * next keyframe; again on the same frame: it is here after all. */
  toggleGap() {
    const track = this._trackOnFrame();
    if (!track) { toast("No track here: select a track polygon, or use a track on an earlier frame first."); return; }
    const frame = this.page.current;
    const absent = this.gaps.get(track)?.has(frame);
    this._run("Gap", async () => {
      await api(`tracks/${track}/gaps/${frame}/`, { method: absent ? "DELETE" : "PUT" });
      return absent ? `Track ${track} continues on frame ${frame + 1}`
        : `Track ${track} is absent from frame ${frame + 1} until its next keyframe`;
    });
  }

  /** Shift+P: the track's polygon here, moved by optical flow along the next N frames (proposals). */
  propagate() {
    const track = this._trackOnFrame();
    if (!track) { toast("Propagate needs a track polygon here: press L on a polygon first."); return; }
    const n = Math.max(1, Math.min(100, Number(this.nInput.value) || 10));
    this._run("Propagation", async () => {
      const result = await api(`tracks/${track}/propagate/`, { method: "POST",
        body: { frame_index: this.page.current, n_frames: n } });
      const why = { done: "", end_of_video: " (end of the video)", unreliable_flow: " (the flow became unreliable)",
        left_image: " (the polygon left the image)" }[result.stop_reason] ?? "";
      return `Proposed ${result.frames.length} frame${result.frames.length === 1 ? "" : "s"}${why}`;
    });
  }

  /** The pre-filled score of frames I have not scored (the active scorer's, after Pre-annotate) becomes mine. */
  _acceptScores(from, to) {
    let n = 0;
    for (let i = from; i <= to; i += 1) {
      const score = this.prefill.get(i);
      if (score !== undefined && this.page.scores.scores[i] < 0) { this.page.scores.set(i, i, score); n += 1; }
    }
    if (n) this.page.timeline.draw();
    return n;
  }

  /** A: accept this frame's proposals (and its pre-filled score) and step to the next frame; Shift+A: every
   * proposal of the track and the pre-filled scores of its frames. */
  accept(wholeTrack) {
    const frame = this.page.current;
    const track = wholeTrack ? this._trackOnFrame() : null;
    if (wholeTrack && !track) { toast("No track here to accept."); return; }
    if (wholeTrack) {
      const frames = [];
      for (const [index, layer] of this.page.contours.layers) {
        if (layer.items.some((i) => i.track === track && i.proposal)) frames.push(index);
      }
      for (const index of frames) this._acceptScores(index, index);
    }
    const scored = wholeTrack ? 0 : this._acceptScores(frame, frame);
    if (!wholeTrack && !this.page.contours.items(frame).some((i) => i.proposal)) {
      if (scored) { this.page.announce("Accepted the pre-filled score"); this.page.step(1); return; }
      toast("Nothing proposed on this frame.");
      return;
    }
    this._run("Accepting", async () => {
      const body = wholeTrack ? { track } : { frames: [frame] };
      const { count } = await api(`videos/${this.videoId}/proposals/accept/`, { method: "POST", body });
      if (!wholeTrack) this.page.step(1);
      return `Accepted ${count} proposal${count === 1 ? "" : "s"}`;
    });
  }

  /** X: discard this frame's proposals. */
  discard() {
    const frame = this.page.current;
    if (!this.page.contours.items(frame).some((i) => i.proposal)) { toast("Nothing proposed on this frame."); return; }
    this._run("Discarding", async () => {
      const { count } = await api(`videos/${this.videoId}/proposals/discard/`, { method: "POST",
        body: { frames: [frame] } });
      return `Discarded ${count} proposal${count === 1 ? "" : "s"}`;
    });
  }

  preannotate() {
    this._run("Pre-annotation", async () => {
      const result = await api(`videos/${this.videoId}/preannotations/`, { method: "POST" });
      this.prefill = new Map(Object.entries(result.frame_scores || {}).map(([index, score]) => [Number(index), score]));
      return `The model proposed ${result.proposals} polygon${result.proposals === 1 ? "" : "s"} and `
        + `${this.prefill.size} frame score${this.prefill.size === 1 ? "" : "s"} (A accepts them)`;
    });
  }

  /** One GET of my tracks; the track contours of every frame without unsaved edits are replaced. */
  async reload() {
    const tracks = await api(`videos/${this.videoId}/tracks/`);
    const book = this.page.contours;
    const byFrame = new Map();
    this.trackClass = new Map(tracks.map((t) => [t.id, t.segmentation_class]));
    this.gaps = new Map(tracks.map((t) => [t.id, new Set(t.gaps)]));
    for (const track of tracks) {
      for (const c of track.contours) {
        if (!byFrame.has(c.frame_index)) byFrame.set(c.frame_index, []);
        byFrame.get(c.frame_index).push({ track, c });
      }
    }
    const touched = new Set(byFrame.keys());
    for (const [index, layer] of book.layers) if (layer.items.some((i) => i.track || i.proposal)) touched.add(index);
    for (const index of touched) {
      if (book.dirty.has(index)) continue;
      const layer = book.layer(index);
      const gone = new Set(layer.items.filter((i) => i.track || i.proposal).map((i) => book.ids.get(i.key)));
      const fresh = (byFrame.get(index) || []).map(({ track, c }) => {
        const key = `c${c.id}`;
        book.ids.set(key, c.id);
        return { item: { key, cls: track.segmentation_class, vertices: c.vertices, track: track.id, origin: c.origin,
          keyframe: c.is_keyframe, proposal: c.is_proposal }, base: { id: c.id, version: c.version } };
      });
      // standalone proposals (the model's second polygon of a class) are not in any track: keep them
      const standalone = layer.items.filter((i) => i.proposal && !i.track);
      const keptIds = new Set(standalone.map((i) => book.ids.get(i.key)));
      layer.items = [...layer.items.filter((i) => !i.track && !i.proposal), ...standalone, ...fresh.map((f) => f.item)];
      layer.base = [...layer.base.filter((b) => !gone.has(b.id) || keptIds.has(b.id)), ...fresh.map((f) => f.base)];
      layer.gen += 1;
    }
    this.computeMarks();
    const editor = this.page.editor;
    if (editor.selected && !editor.items().some((item) => item.key === editor.selected.key)) editor.selected = null;
    this.page.view.paint();
    this.page.refresh();
  }
}

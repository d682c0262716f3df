// The annotate page: one video's frames on a zoomable canvas, frame and video scores, marker contours and
// the model's overlays, autosaved. With boot.readonly (the frame view of /videos/<id>/frames/, clinicians
// too) the same drawing without any write control: others' labels, the model's output, zoom and window. One request loads the page's state (/api/viewer/videos/<id>/annotate/),
// then every frame image is prefetched (frames.js). performance.mark("pleura:first-frame") records when
// the first frame reached the canvas (bench/viewer.py reads it).

import { api, boot, frameImageUrl } from "../shared/api.js";
import { fail, frameIndex, frameNumber, h, ready, SCORE_MEANINGS, toast } from "../shared/ui.js";
import { Saver } from "./autosave.js";
import { FrameCanvas, LEVEL_STEP, ZOOM_STEP } from "./canvas.js";
import { ContourBook } from "./contour-book.js";
import { ContourEditor } from "./contours.js";
import { FindingBook } from "./findings.js";
import { FrameStore } from "./frames.js";
import { setFindingShortcuts, showHelp } from "./help.js";
import { bindKeys } from "./keys.js";
import { OtherContours } from "./others.js";
import { Overlays } from "./overlays.js";
import { Panel, scoreBadge } from "./panel.js";
import { ScoreBook, VideoScoreBook } from "./scoring.js";
import { Timeline } from "./timeline.js";
import { MARK_COLOURS, Tracks } from "./tracks.js";

function scoreRow(frames, pairs) {
  const indexOf = new Map(frames.map((frame, i) => [frame.id, i]));
  const values = new Int8Array(frames.length).fill(-1);
  for (const [frame, score] of pairs) if (indexOf.has(frame)) values[indexOf.get(frame)] = score;
  return values;
}

class AnnotatePage {
  constructor(root, data) {
    this.root = root;
    this.data = data;
    const { video, frames, model } = data;
    this.frames = frames;
    this.count = frames.length;
    this.current = 0;
    this.playing = false;
    this.readonly = Boolean(boot.readonly);

    const changed = () => { this.saver.changed(); this.refresh(); };
    this.scores = new ScoreBook(video.id, frames, data.mine.frame_scores, { onChange: changed });
    this.videoScores = new VideoScoreBook(video.id, data.mine.video_score, { onChange: changed });
    this.findings = new FindingBook(video.id, data.findings, data.mine.findings, { onChange: changed });
    setFindingShortcuts(data.findings.map((f) => [this.findings.keyFor(f.code), f.name]).filter(([key]) => key));
    this.contours = new ContourBook(frames, data.mine.contours, { onChange: (index) => {
      if (this.tracks) this.tracks.computeMarks();
      changed(index);
    } });
    this.contours.onTrackSaved = () => this.tracks.reload().catch((error) => toast(`Tracks: ${error.message}`, "error"));
    this.predictions = new Map(model.frames.map((p) => [p.frame, p]));
    this.saveState = h("span.save-state", { id: "save-state", role: "status", "aria-live": "polite",
      "data-state": "saved" }, "All changes saved");
    this.saveAction = h("button.link", { type: "button", hidden: true, onclick: () => this.saver.flush() }, "Save now");
    this.saver = new Saver({
      sources: [this.scores, this.contours, this.videoScores, this.findings],
      renderValue: (value) => (typeof value === "number" || value === null ? scoreBadge(value ?? -1) : value),
      onState: (state, text) => {
        this.saveState.dataset.state = state;
        this.saveState.textContent = text;
        this.saveAction.hidden = !["retrying", "invalid", "conflict"].includes(state);
        this.saveAction.textContent = state === "conflict" ? "Resolve conflict" : "Retry now";
      },
    });

    this.canvas = h("canvas.frame-canvas", { tabindex: "0", role: "img",
      "aria-label": `Frame image of ${video.original_name}. Press ? for keyboard shortcuts.` });
    this.view = new FrameCanvas(this.canvas, video.width, video.height);
    this.store = new FrameStore(frames, { onProgress: (loaded, total) => this._progress(loaded, total) });
    this.editor = new ContourEditor({
      book: this.contours, view: this.view, classes: data.segmentation_classes,
      onChange: () => { this.view.paint(); this.refresh(); this._syncTools(); },
      onJump: (index) => this.go(index), tell: (message) => toast(message),
    });
    this.overlays = new Overlays({ frames, predictions: model.frames, segmentations: model.segmentations,
      onReady: () => this.view.paint() });
    this.others = new OtherContours({ frames, others: data.others, colour: (cls) => this.editor.colour(cls) });
    this.view.layers.push((ctx, view) => this.overlays.paint(ctx, view), (ctx, view) => this.others.paint(ctx, view),
      (ctx, view) => this.editor.paint(ctx, view));

    this.otherRows = data.others.map((other) => ({
      label: `${other.annotator.username} (L${other.annotator.validation_level})`,
      values: scoreRow(frames, other.frame_scores) }));
    this.tracks = new Tracks(this);
    const rows = [...(this.readonly ? [] : [{ label: "Me", values: this.scores.scores }]), ...this.otherRows];
    if (model.frames.length) rows.push({ label: "Model", values: scoreRow(frames, model.frames.map((p) => [p.frame, p.score])) });
    // my contour tracks: dark keyframes, pale blue interpolated frames, orange proposals
    if (!this.readonly) rows.push({ label: "Track", values: this.tracks.marks, colours: MARK_COLOURS });
    this.timeline = new Timeline({
      count: this.count, rows,
      probabilities: model.frames.length ? frames.map((frame) => this.predictions.get(frame.id)?.probabilities || null) : null,
      onSeek: (index) => this.go(index),
      onSelect: () => this.panel && this.panel.update(),
    });
    this.panel = new Panel({ page: this, data });
    this._layout();
    this._bindCanvas();
    bindKeys(this);
    this.view.onPaint = () => this._painted();
    window.__annotate = this;  // tests and bench/viewer.py read stats() and the books from here
  }

  _layout() {
    const { video } = this.data;
    const button = (label, title, onclick, attrs = {}) => h("button", { type: "button", title, "aria-label": title, onclick, ...attrs }, label);
    this.playButton = button("▶ Play", "Play (Space)", () => this.togglePlay(), { "aria-pressed": "false" });
    this.counter = h("output.frame-counter", { id: "frame-counter", "aria-live": "off" });
    this.loadState = h("span.muted.load-state", { id: "load-state" }, "Loading frames…");
    this.brightness = h("input", { id: "brightness", type: "range", min: "0.2", max: "4", step: String(LEVEL_STEP),
      value: "1", "aria-label": "Brightness ([ and ])", oninput: (e) => this.view.setWindow(Number(e.target.value), null) });
    this.contrast = h("input", { id: "contrast", type: "range", min: "0.2", max: "4", step: String(LEVEL_STEP),
      value: "1", "aria-label": "Contrast ({ and })", oninput: (e) => this.view.setWindow(null, Number(e.target.value)) });
    this.view.onWindow = () => {
      this.brightness.value = String(this.view.brightness);
      this.contrast.value = String(this.view.contrast);
    };
    const windowControls = [
      h("label.window-label", { for: "brightness", title: "Brightness ([ and ])" }, "☀"), this.brightness,
      h("label.window-label", { for: "contrast", title: "Contrast ({ and })" }, "◐"), this.contrast,
      button("Reset", "Reset brightness and contrast (G)", () => this.view.setWindow(1, 1))];
    this.toolButton = button("✎ Polygon", "Polygon tool (D)", () => this.editor.setTool(this.editor.tool === "draw" ? "view" : "draw"),
      { "aria-pressed": "false" });
    this.classSelect = h("select", { id: "marker-class", onchange: (event) => this.editor.setClass(Number(event.target.value)) },
      this.data.segmentation_classes.map((cls) => h("option", { value: String(cls.index) }, cls.name)));
    const toolbar = h("div.annotate-toolbar", { role: "toolbar", "aria-label": "Playback, view and contour tools" },
      button("⇤", "First frame (Home)", () => this.go(0)),
      button("←", "Previous frame (← or J)", () => this.step(-1)),
      this.playButton,
      button("→", "Next frame (→ or K)", () => this.step(1)),
      button("⇥", "Last frame (End)", () => this.go(this.count - 1)),
      this.counter,
      h("span.sep", { "aria-hidden": "true" }),
      button("−", "Zoom out (−)", () => this.view.zoomAt(1 / ZOOM_STEP)),
      button("+", "Zoom in (+)", () => this.view.zoomAt(ZOOM_STEP)),
      button("Fit", "Fit the frame (F)", () => this.view.fit()),
      h("span.sep", { "aria-hidden": "true" }),
      windowControls,
      this.readonly ? null : [
        h("span.sep", { "aria-hidden": "true" }),
        this.toolButton,
        h("label", { for: "marker-class" }, "Marker"), this.classSelect,
        button("↶", "Undo (Ctrl+Z)", () => this.editor.undo()),
        button("↷", "Redo (Ctrl+Shift+Z)", () => this.editor.redo()),
        button("Copy previous", "Copy the previous frame's contours (P)", () => this.editor.copyPrevious()),
        ...this.tracks.controls()],
      this.loadState);
    const head = h("div.annotate-head", {},
      h("h1", {}, this.readonly ? `Frames · ${video.original_name || `Video ${video.id}`}` : video.original_name || `Video ${video.id}`),
      h("span.muted", {}, `${video.patient.code} · ${video.site.name} · ${video.lung_zone || "zone ?"} · ${video.probe} · `
        + `${video.width}×${video.height} · ${video.fps} fps · ${this.count} frames`),
      h("span.spacer"),
      this.readonly ? h("span.muted.readonly-note", {}, "Read-only view") : [this.saveState, this.saveAction],
      button("?", "Keyboard shortcuts (?)", () => showHelp(this.readonly), { class: "help-button" }));
    const timeline = h("div.annotate-timeline", {}, this.timeline.element, this.timeline.chartBlock || null);
    this.root.replaceChildren(head, toolbar,
      h("div.annotate-main", {}, h("div.stage", {}, this.canvas), this.panel.element), timeline);
    this._syncTools();
  }

  _bindCanvas() {
    const canvas = this.canvas;
    let pan = null;
    canvas.addEventListener("pointerdown", (event) => {
      canvas.focus({ preventScroll: true });
      if (event.button !== 0 && event.button !== 1) return;
      const point = this.view.eventToImage(event);
      const panning = event.button === 1 || this.keys.spaceDown || this.readonly || !this.editor.pointerDown(event, point);
      if (panning) {
        pan = { x: event.clientX, y: event.clientY };
        canvas.classList.add("panning");
        if (this.keys.spaceDown) this.keys.spaceUsed = true;
      }
      canvas.setPointerCapture(event.pointerId);
    });
    canvas.addEventListener("pointermove", (event) => {
      if (pan) {
        this.view.panBy(event.clientX - pan.x, event.clientY - pan.y);
        pan = { x: event.clientX, y: event.clientY };
        return;
      }
      if (!this.readonly) this.editor.pointerMove(event, this.view.eventToImage(event));
    });
    const up = () => {
      if (pan) {
        pan = null;
        canvas.classList.remove("panning");
      } else if (!this.readonly) {
        this.editor.pointerUp();
      }
    };
    canvas.addEventListener("pointerup", up);
    canvas.addEventListener("pointercancel", up);
    canvas.addEventListener("dblclick", (event) => {
      if (!this.readonly) this.editor.doubleClick(this.view.eventToImage(event));
    });
    canvas.addEventListener("wheel", (event) => {
      event.preventDefault();
      const rect = canvas.getBoundingClientRect();
      this.view.zoomAt(Math.exp(-event.deltaY * 0.0015), event.clientX - rect.left, event.clientY - rect.top);
    }, { passive: false });
  }

  start() {
    const asked = Number(new URLSearchParams(location.search).get("frame"));  // ?frame=N: counted from 1
    const index = Number.isInteger(asked) && asked >= 1 ? Math.min(frameIndex(asked), this.count - 1) : 0;
    this.store.start(index);
    this.go(index);
    this.canvas.focus({ preventScroll: true });
    this.others.loadAgreement(this.data.video.id).then(() => this.refresh())
      .catch((error) => toast(`Contour agreement could not be loaded: ${error.message}`, "error"));
  }

  /** Show frame `index` (clamped); paints at once when its image is decoded, else when it arrives. */
  go(index, direction = Math.sign(index - this.current) || 1) {
    index = Math.max(0, Math.min(this.count - 1, index));
    this.current = index;
    this.store.focus(index, direction);
    this.editor.setFrame(index);
    this.overlays.frame = index;
    this.timeline.setCurrent(index);
    this.counter.textContent = `Frame ${frameNumber(index)} / ${this.count}`;
    clearTimeout(this.urlTimer);  // the URL names the frame shown (counted from 1), written once stepping pauses
    this.urlTimer = setTimeout(() => history.replaceState(null, "", `${location.pathname}?frame=${frameNumber(index)}`), 250);
    const bitmap = this.store.peek(index);
    if (bitmap) {
      this._show(index, bitmap);
    } else {
      this.canvas.classList.add("waiting");
      this.store.get(index).then((image) => {
        if (image && this.current === index) this._show(index, image);
      }).catch((error) => {
        toast(`Frame ${frameNumber(index)} could not be loaded: ${error.message}`, "error");
        ready();
      });
    }
    this.refresh();
  }

  _show(index, bitmap) {
    this.canvas.classList.remove("waiting");
    this.shownIndex = index;
    this.view.show(bitmap);
  }

  _painted() {
    this.lastPainted = { index: this.shownIndex, time: performance.now() };
    if (!this.firstPainted) {
      this.firstPainted = true;
      performance.mark("pleura:first-frame");
      ready();
    }
  }

  /** Step by `delta` frames; with `extend`, grow the selected range instead of clearing it. */
  step(delta, extend = false) {
    const target = Math.max(0, Math.min(this.count - 1, this.current + delta));
    if (extend) {
      if (!this.timeline.selection) this.timeline.anchor = this.current;
      this.timeline.select(this.timeline.anchor, target);
    } else if (this.timeline.selection) {
      this.timeline.select(target, -1);
    }
    if (!extend) this.timeline.anchor = target;
    this.go(target, delta);
  }

  /** Score the selected range, else the current frame. */
  score(value) {
    if (this.readonly) return;
    const [from, to] = this.timeline.selection || [this.current, this.current];
    this.scores.set(from, to, value);
    this.timeline.draw();
    const what = from === to ? `Frame ${frameNumber(from)}` : `Frames ${frameNumber(from)}–${frameNumber(to)}`;
    this.announce(`${what}: ${SCORE_MEANINGS[value]}`);
  }

  setVideoScore(score, comment) {
    if (this.readonly) return;
    this.videoScores.set(score, comment ?? this.videoScores.comment);
  }

  /** A finding key or checkbox: not stated or absent -> present, present -> absent. */
  toggleFinding(code, present) {
    if (this.readonly) return;
    if (present === undefined) present = this.findings.present.get(code) !== true;
    this.findings.set(code, present);
    this.announce(`${this.findings.name(code)}: ${present ? "present" : "absent"}`);
  }

  setOverlay(kind, on = !this.overlays.show[kind]) {
    this.overlays.show[kind] = on;
    this.panel.syncOverlays();
    this.view.paint();
  }

  /** Show or hide one person's polygons (all of them with `person` undefined: the O key). */
  toggleOthers(person, on) {
    if (person === undefined) this.others.toggleAll(); else this.others.toggle(person, on);
    this.view.paint();
    this.refresh();
  }

  /** Take `person`'s polygons on this frame as mine (a validator accepting a lower level's contour). */
  acceptContours(person) {
    if (this.readonly) return;
    const who = this.others.people.find((p) => p.id === person);
    if (this.editor.adopt(this.others.polygons(person))) {
      this.announce(`Frame ${frameNumber(this.current)}: ${who?.username}'s contours taken as yours`);
    }
  }

  /** Brightness (`which` = "brightness") or contrast up or down by one step. */
  stepWindow(which, direction) {
    const value = this.view[which] + direction * LEVEL_STEP;
    if (which === "brightness") this.view.setWindow(value, null); else this.view.setWindow(null, value);
  }

  setOpacity(value) {
    this.overlays.opacity = value;
    this.view.paint();
  }

  predictionAt(index) {
    return this.predictions.get(this.frames[index].id) || null;
  }

  togglePlay() {
    this.playing = !this.playing;
    this.playButton.setAttribute("aria-pressed", String(this.playing));
    this.playButton.textContent = this.playing ? "❚❚ Pause" : "▶ Play";
    this.playButton.title = this.playing ? "Pause (Space)" : "Play (Space)";
    if (!this.playing) return;
    if (this.current >= this.count - 1) this.go(0);
    const fps = this.data.video.fps || 25;
    let origin = performance.now();
    let base = this.current;
    const tick = (now) => {
      if (!this.playing) return;
      const target = Math.min(this.count - 1, base + Math.floor(((now - origin) / 1000) * fps));
      if (target !== this.current) {
        if (this.store.peek(target)) {
          this.go(target, 1);
        } else {
          // Not decoded yet: hold this frame rather than skip, and keep time from here.
          this.store.focus(target, 1);
          origin = now;
          base = this.current;
        }
      }
      if (this.current >= this.count - 1) {
        this.togglePlay();
        return;
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  announce(message) {
    if (!this.live) {
      this.live = h("div.visually-hidden", { role: "status", "aria-live": "polite" });
      this.root.append(this.live);
    }
    this.live.textContent = message;
  }

  refresh() {
    if (this.refreshPending) return;
    this.refreshPending = true;
    requestAnimationFrame(() => {
      this.refreshPending = false;
      this.timeline.draw();
      this.panel.update();
    });
  }

  _syncTools() {
    const drawing = this.editor.tool === "draw";
    this.toolButton.setAttribute("aria-pressed", String(drawing));
    this.canvas.classList.toggle("drawing", drawing);
    this.classSelect.value = String(this.editor.cls);
  }

  _progress(loaded, total) {
    if (loaded === total || loaded % 10 === 0) {
      this.loadState.textContent = loaded === total ? `All ${total} frames loaded` : `Frames loaded: ${loaded} / ${total}`;
    }
  }

  stats() {
    return { ...this.store.stats(), current: this.current, lastPainted: this.lastPainted, saves: this.saver.saves,
      saveState: this.saveState.dataset.state };
  }
}

/** The first frame (its URL is in the boot object), fetched and decoded while the page's state loads. */
async function firstFrame() {
  if (!boot.first_frame_url) return null;
  try {
    const response = await fetch(boot.first_frame_url, { credentials: "same-origin" });
    if (!response.ok) return null;
    const blob = await response.blob();
    return { url: boot.first_frame_url, blob, bitmap: await createImageBitmap(blob) };
  } catch {
    return null;  // the frame store fetches it again
  }
}

async function main() {
  const root = document.getElementById("app");
  try {
    const early = firstFrame();
    const data = await api(boot.state_url || `viewer/videos/${boot.video_id}/annotate/`);
    performance.mark("pleura:state-loaded");
    const first = data.frames.length ? await early : null;
    performance.mark("pleura:first-frame-decoded");
    if (!data.frames.length) {
      root.replaceChildren(h("h1", {}, data.video.original_name), h("p.muted", {}, "This video has no frames yet."));
      ready(root);
      return;
    }
    const page = new AnnotatePage(root, data);
    performance.mark("pleura:page-built");
    if (first && frameImageUrl(data.frames[0]) === first.url) page.store.seed(0, first.blob, first.bitmap);
    page.start();
  } catch (error) {
    fail(error, root);
  }
}

main();

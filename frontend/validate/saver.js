// Writes of the validator's own labels through the annotations API, as versioned writes
// (shared/saver.js): a 409 shows the current state and lets the validator save again on top of it; a
// failed write is kept as "unsaved" and retried by hand ("Retry unsaved"), never dropped.
import { api, boot } from "../shared/api.js";
import { askConflict, baseVersion, guardUnload, saveRequest, versionedWrite } from "../shared/saver.js";
import { frameNumber, h, toast } from "../shared/ui.js";

/**
 * state: {video, frames, byId (frame id → frame), myVideo, pending (frame id → score), pendingVideo,
 *         myFindings, pendingFindings (code → present), saving (Set of frame ids, "video", "findings")};
 * render(): redraws after any change.
 */
export function createSaver(state, render) {
  const mine = (label) => ({ id: label.id, score: label.score, version: label.version,
    validation_level: label.validation_level, comment: label.comment ?? "" });

  /**
   * Send a write of `keys` (frame ids, "video"), shown as saving while it is in flight. On a conflict
   * `adopt(current)` takes the stored state and returns [title, lines] to show it. Then settles the
   * change: saved(value); dropped (the stored state kept, or refused: `what` says so); or kept as
   * unsaved by keep() (`what` and `hint` say so). Resolves true when saved.
   */
  async function write(keys, send, adopt, { saved, drop, keep, what, hint = "" }) {
    const saving = (on) => {
      for (const key of keys) state.saving[on ? "add" : "delete"](key);
      render();
    };
    try {
      const { outcome, value, error } = await versionedWrite(() => { saving(true); return send(); }, async (conflict) => {
        const [title, lines] = adopt(conflict.body?.current || []);
        saving(false);
        return await askConflict(title, h("div", {},
          h("p", {}, "Your label was changed meanwhile (in another tab or session). Nothing was written. It is now:"),
          h("ul", {}, lines.map((line) => h("li", {}, line)))),
        { theirs: "Keep the current label", mine: "Save my choice again" }) === "mine";
      });
      if (outcome === "saved") {
        saved(value);
        return true;
      }
      if (outcome === "transient") {
        keep();
        toast(`${what} (${error.message}); kept as unsaved${hint}.`, "error");
      } else {
        drop();
        if (outcome !== "conflict") toast(`${what}: ${error.message}`, "error");  // it would fail the same way again
      }
      return false;
    } finally {
      saving(false);
    }
  }

  /** changes: [{frame, score}] — one bulk request, all or nothing. */
  async function saveFrames(changes) {
    if (!changes.length) return true;
    const frames = changes.map(({ frame }) => frame);
    return write(frames, () => saveRequest(`videos/${state.video.id}/frame-scores/`, { method: "POST", body: {
      items: changes.map(({ frame, score }) => ({ frame, score, version: baseVersion(state.byId.get(frame).mine) })) } }),
    (current) => {
      for (const entry of current) {
        const frame = state.byId.get(entry.frame);
        if (frame) frame.mine = entry.current ? mine(entry.current) : null;
      }
      return ["Changed meanwhile", current.map((entry) => `frame #${frameNumber(state.byId.get(entry.frame)?.index)}: `
        + (entry.current ? `score ${entry.current.score} (version ${entry.current.version})` : "no score"))];
    }, {
      saved: (labels) => {
        for (const label of labels) {
          state.byId.get(label.frame).mine = mine(label);
          state.pending.delete(label.frame);
        }
      },
      drop: () => { for (const frame of frames) state.pending.delete(frame); },
      keep: () => { for (const { frame, score } of changes) state.pending.set(frame, score); },
      what: "Not saved", hint: ' — use "Retry unsaved"',
    });
  }

  async function saveVideo(score) {
    return write(["video"], () => saveRequest("video-scores/", { method: "POST", body: { video: state.video.id, score,
      version: baseVersion(state.myVideo), comment: state.myVideo?.comment ?? "" } }),
    (current) => {
      const label = current[0]?.current || null;
      state.myVideo = label ? mine(label) : null;
      return ["Video score changed meanwhile", [label ? `video score ${label.score} (version ${label.version})` : "no video score"]];
    }, {
      saved: (label) => { state.myVideo = mine(label); state.pendingVideo = null; },
      drop: () => { state.pendingVideo = null; },
      keep: () => { state.pendingVideo = score; },
      what: "Video score not saved",
    });
  }

  /** changes: [{finding (code), present}] — my video findings, all or nothing. */
  async function saveFindings(changes) {
    if (!changes.length) return true;
    const stored = () => new Map(state.myFindings.map((f) => [f.finding, f]));
    const adoptLabel = (label) => {
      const others = state.myFindings.filter((f) => f.finding !== label.finding);
      const name = state.vocabulary.find((f) => f.code === label.finding)?.name ?? label.finding;
      state.myFindings = [...others, { ...label, name, annotator: label.annotator ?? boot.user.id }];
    };
    return write(["findings"], () => saveRequest(`videos/${state.video.id}/findings/`, { method: "POST", body: {
      items: changes.map(({ finding, present }) => ({ finding, present, version: baseVersion(stored().get(finding)) })) } }),
    (current) => {
      for (const entry of current) {
        if (entry.current) adoptLabel({ finding: entry.finding, ...entry.current });
        else state.myFindings = state.myFindings.filter((f) => f.finding !== entry.finding);
      }
      return ["Findings changed meanwhile", current.map((entry) => `${entry.finding}: `
        + (entry.current ? `${entry.current.present ? "present" : "absent"} (version ${entry.current.version})` : "not stated"))];
    }, {
      saved: (labels) => {
        for (const label of labels) {
          adoptLabel(label);
          state.pendingFindings.delete(label.finding);
        }
      },
      drop: () => { for (const { finding } of changes) state.pendingFindings.delete(finding); },
      keep: () => { for (const { finding, present } of changes) state.pendingFindings.set(finding, present); },
      what: "Findings not saved", hint: ' — use "Retry unsaved"',
    });
  }

  /** Everything that failed before, in one bulk request (plus the video score and findings). */
  async function retryUnsaved() {
    const changes = [...state.pending].map(([frame, score]) => ({ frame, score }));
    const results = [await saveFrames(changes)];
    if (state.pendingVideo !== null) results.push(await saveVideo(state.pendingVideo));
    if (state.pendingFindings.size) {
      results.push(await saveFindings([...state.pendingFindings].map(([finding, present]) => ({ finding, present }))));
    }
    if (results.every(Boolean)) toast("Saved.", "success");
  }

  const unsaved = () => state.pending.size + (state.pendingVideo !== null ? 1 : 0) + state.pendingFindings.size
    + state.saving.size;
  guardUnload(unsaved);  // unsaved or in-flight labels: ask before leaving
  return { saveFrames, saveVideo, saveFindings, retryUnsaved, unsaved };
}

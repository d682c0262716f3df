// Writes of the validator's own labels through the annotations API. Every write names the version it
// was based on; a 409 shows the current state and lets the validator save again on top of it; a failed
// write is kept as "unsaved" and retried, never dropped.
import { api } from "../shared/api.js";
import { dialog, h, toast } from "../shared/ui.js";

const permanent = (error) => error.status >= 400 && error.status < 500 && ![408, 409, 429].includes(error.status);

/**
 * state: {video, frames, byId (frame id → frame), myVideo, pending (frame id → score), pendingVideo,
 *         saving (Set of frame ids, "video")}; render(): redraws after any change.
 */
export function createSaver(state, render) {
  const mine = (label) => ({ id: label.id, score: label.score, version: label.version,
    validation_level: label.validation_level, comment: label.comment ?? "" });

  async function conflict(title, lines) {
    return dialog(title, h("div", {},
      h("p", {}, "Your label was changed meanwhile (in another tab or session). Nothing was written. It is now:"),
      h("ul", {}, lines.map((line) => h("li", {}, line)))),
    [{ label: "Keep the current label", value: false }, { label: "Save my choice again", value: true, primary: true }]);
  }

  /** changes: [{frame, score}] — one bulk request, all or nothing. */
  async function saveFrames(changes) {
    if (!changes.length) return true;
    for (const { frame } of changes) state.saving.add(frame);
    render();
    const items = changes.map(({ frame, score }) => ({ frame, score, version: state.byId.get(frame).mine?.version ?? null }));
    try {
      const saved = await api(`videos/${state.video.id}/frame-scores/`, { method: "POST", body: { items } });
      for (const label of saved) {
        state.byId.get(label.frame).mine = mine(label);
        state.pending.delete(label.frame);
      }
      return true;
    } catch (error) {
      if (error.status === 409) {
        const current = error.body?.current || [];
        for (const entry of current) {
          const frame = state.byId.get(entry.frame);
          if (frame) frame.mine = entry.current ? mine(entry.current) : null;
        }
        for (const { frame } of changes) state.saving.delete(frame);
        render();
        const lines = current.map((entry) => `frame #${state.byId.get(entry.frame)?.index}: `
          + (entry.current ? `score ${entry.current.score} (version ${entry.current.version})` : "no score"));
        if (await conflict("Changed meanwhile", lines)) return saveFrames(changes);
        for (const { frame } of changes) state.pending.delete(frame);
        return false;
      }
      if (permanent(error)) {
        for (const { frame } of changes) state.pending.delete(frame);
        toast(`Not saved: ${error.message}`, "error");
        return false;
      }
      for (const { frame, score } of changes) state.pending.set(frame, score);
      toast(`Not saved (${error.message}); kept as unsaved — use "Retry unsaved".`, "error");
      return false;
    } finally {
      for (const { frame } of changes) state.saving.delete(frame);
      render();
    }
  }

  async function saveVideo(score) {
    state.saving.add("video");
    render();
    const body = { video: state.video.id, score, version: state.myVideo?.version ?? null,
      comment: state.myVideo?.comment ?? "" };
    try {
      state.myVideo = mine(await api("video-scores/", { method: "POST", body }));
      state.pendingVideo = null;
      return true;
    } catch (error) {
      if (error.status === 409) {
        const current = error.body?.current?.[0]?.current || null;
        state.myVideo = current ? mine(current) : null;
        state.saving.delete("video");
        render();
        const line = current ? `video score ${current.score} (version ${current.version})` : "no video score";
        if (await conflict("Video score changed meanwhile", [line])) return saveVideo(score);
        state.pendingVideo = null;
        return false;
      }
      if (permanent(error)) {
        state.pendingVideo = null;
        toast(`Video score not saved: ${error.message}`, "error");
        return false;
      }
      state.pendingVideo = score;
      toast(`Video score not saved (${error.message}); kept as unsaved.`, "error");
      return false;
    } finally {
      state.saving.delete("video");
      render();
    }
  }

  /** Everything that failed before, in one bulk request (plus the video score). */
  async function retryUnsaved() {
    const changes = [...state.pending].map(([frame, score]) => ({ frame, score }));
    const results = [await saveFrames(changes)];
    if (state.pendingVideo !== null) results.push(await saveVideo(state.pendingVideo));
    if (results.every(Boolean)) toast("Saved.", "success");
  }

  const unsaved = () => state.pending.size + (state.pendingVideo !== null ? 1 : 0) + state.saving.size;
  return { saveFrames, saveVideo, retryUnsaved, unsaved };
}

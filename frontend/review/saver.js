// The reviewer's own video scores, written through the annotations API (POST /api/video-scores/) so
// they count in the consensus like any other label, as versioned writes (shared/saver.js): a 409 shows
// the current score and asks; a failed write stays queued, is retried every few seconds, never dropped.
import { askConflict, Backoff, baseVersion, guardUnload, saveRequest, versionedWrite } from "../shared/saver.js";
import { h, toast } from "../shared/ui.js";

const RETRY_MS = 5000;

/**
 * onSaved(videoId): called after each successful write (the page reloads the consensus);
 * onChange(): called when the queue changes (the page redraws the unsaved markers).
 */
export function createSaver({ onSaved, onChange }) {
  const pending = new Map();  // video id → {video, name, score, version, comment, saving, error}
  const retry = new Backoff(retryAll, { first: RETRY_MS, max: RETRY_MS });
  guardUnload(() => pending.size > 0);

  // Retry every few seconds while some write has failed.
  function schedule() {
    if ([...pending.values()].some((p) => p.error)) retry.failed();
    else retry.reset();
  }

  async function saveOver(item, error) {
    const now = error.body?.current?.[0]?.current;
    const choice = await askConflict("Changed meanwhile", h("p", {},
      `Your score of ${item.name} was changed elsewhere; it is now ${now ? `${now.score} (version ${now.version})` : "gone"}. `
      + `Nothing was written.`), { theirs: "Keep the current score", mine: `Save ${item.score} over it` });
    if (choice !== "mine") return false;
    item.version = baseVersion(now);
    return true;
  }

  async function write(item) {
    item.saving = true;
    item.error = null;
    onChange();
    const { outcome, error } = await versionedWrite(() => saveRequest("video-scores/", { method: "POST",
      body: { video: item.video, score: item.score, version: item.version, comment: item.comment } }),
    (conflict) => saveOver(item, conflict));
    item.saving = false;
    try {
      if (outcome === "transient") {
        item.error = error.message;
        toast(`Not saved (${error.message}); it will be retried.`, "error");
      } else {
        pending.delete(item.video);
        if (outcome === "saved") toast(`Saved: your score ${item.score} for ${item.name}.`, "success");
        if (outcome === "saved" || outcome === "conflict") await onSaved(item.video);  // conflict: theirs kept
        else toast(`Not saved: ${error.message}`, "error");  // it would fail the same way again
      }
    } finally {
      onChange();
      schedule();
    }
    return !pending.has(item.video);
  }

  function retryAll() {
    for (const item of pending.values()) if (item.error && !item.saving) write(item);
  }

  return {
    /** Record my score of a video; `version` is that of my current score (0 when I have none). */
    save({ video, name, score, version, comment = "" }) {
      const item = { video, name, score, version, comment, error: null, saving: false };
      pending.set(video, item);
      return write(item);
    },
    state: (video) => pending.get(video) || null,
    retryAll,
    get size() { return pending.size; },
  };
}

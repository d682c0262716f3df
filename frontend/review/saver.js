// The reviewer's own video scores, written through the annotations API (POST /api/video-scores/) so
// they count in the consensus like any other label. Each write names the version it was based on; a
// 409 shows the current score and asks; a failed write stays queued, is retried, and never dropped.
import { api } from "../shared/api.js";
import { dialog, h, toast } from "../shared/ui.js";

const RETRY_MS = 5000;
// 4xx other than conflict/timeout/rate limit will fail again the same way: tell, do not retry.
const permanent = (error) => error.status >= 400 && error.status < 500 && ![408, 409, 429].includes(error.status);

/**
 * onSaved(videoId): called after each successful write (the page reloads the consensus);
 * onChange(): called when the queue changes (the page redraws the unsaved markers).
 */
export function createSaver({ onSaved, onChange }) {
  const pending = new Map();  // video id → {video, score, version, comment, error?}
  let timer = null;

  window.addEventListener("beforeunload", (event) => {
    if (pending.size) { event.preventDefault(); event.returnValue = ""; }
  });

  function schedule() {
    clearTimeout(timer);
    if ([...pending.values()].some((p) => p.error)) timer = setTimeout(retryAll, RETRY_MS);
  }

  async function write(item) {
    item.saving = true;
    item.error = null;
    onChange();
    try {
      await api("video-scores/", { method: "POST", body: { video: item.video, score: item.score, version: item.version,
        comment: item.comment } });
      pending.delete(item.video);
      toast(`Saved: your score ${item.score} for ${item.name}.`, "success");
      await onSaved(item.video);
    } catch (error) {
      item.saving = false;
      if (error.status === 409) {
        const now = error.body?.current?.[0]?.current;
        const again = await dialog("Changed meanwhile", h("p", {},
          `Your score of ${item.name} was changed elsewhere; it is now ${now ? `${now.score} (version ${now.version})` : "gone"}. `
          + `Nothing was written.`),
        [{ label: "Keep the current score", value: false }, { label: `Save ${item.score} over it`, value: true, primary: true }]);
        if (again) {
          item.version = now ? now.version : null;
          return write(item);
        }
        pending.delete(item.video);
        await onSaved(item.video);
      } else if (permanent(error)) {
        pending.delete(item.video);
        toast(`Not saved: ${error.message}`, "error");
      } else {
        item.error = error.message;
        toast(`Not saved (${error.message}); it will be retried.`, "error");
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
    /** Record my score of a video; `version` is that of my current score (null when I have none). */
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

// A quick look at a video's frames (clinicians cannot open the annotate page): one frame at a time,
// a slider and the arrow keys to move.
import { apiAll, frameImageUrl } from "../shared/api.js";
import { dialog, frameNumber, h } from "../shared/ui.js";

export async function showFrames(video) {
  const frames = await apiAll(`frames/?video=${video.id}&page_size=2000`);
  if (!frames.length) {
    await dialog(`Frames of ${video.original_name}`, h("p", {}, "This video has no frames."));
    return;
  }
  const image = h("img.frame-view", { alt: "", width: 480 });
  const caption = h("p.muted", { "aria-live": "polite" });
  const slider = h("input", { type: "range", min: 0, max: frames.length - 1, value: 0, "aria-label": "Frame" });
  const show = (i) => {
    const frame = frames[i];
    image.src = frameImageUrl(frame);
    image.alt = `Frame ${frameNumber(frame.index)} of ${frames.length}`;
    caption.textContent = `Frame ${frameNumber(frame.index)} / ${frames.length}`;
  };
  slider.addEventListener("input", () => show(Number(slider.value)));
  show(0);
  await dialog(`Frames of ${video.original_name}`, h("div.frames", {}, image, slider, caption),
    [{ label: "Close", value: null, primary: true }]);
}

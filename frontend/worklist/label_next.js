// "Label next" (issue 17): the frames of my videos most worth labelling, from GET /api/suggestions/ (ranked
// by the active model's uncertainty, the segmentation ensemble's MC-dropout uncertainty, annotator and
// model-vs-consensus disagreement, spread over videos).
// Each links to the annotate page at that frame (?frame=N counts from 1). Read on every page load, so it
// follows new labels and new model versions.
import { api } from "../shared/api.js";
import { h } from "../shared/ui.js";

const LIMIT = 10;

// Signals whose key does not read as words (the rest show their key, underscores as spaces).
const SIGNAL_NAMES = { mc_variance: "MC-dropout uncertainty" };

const reasons = (signals) => Object.entries(signals || {}).filter(([, v]) => v !== null && v >= 0.5)
  .map(([k]) => SIGNAL_NAMES[k] || k.replaceAll("_", " ")).join(", ");

/** A <section> that fills itself; it stays hidden when there is nothing to suggest (or on an error). */
export function labelNext() {
  const list = h("ol.label-next-list");
  const section = h("section.card.label-next", { "aria-labelledby": "label-next-title", hidden: true },
    h("h2", { id: "label-next-title" }, "Label next"),
    h("p.muted", {}, "Frames of your videos where a label helps the model most."), list);
  api(`suggestions/?limit=${LIMIT}`).then((body) => {
    if (!body.items.length) return;
    list.replaceChildren(...body.items.map((item) => {
      const why = reasons(item.signals);
      return h("li", { dataset: { frame: String(item.frame) } },
        h("a", { href: `/videos/${item.video}/annotate/?frame=${item.frame_index + 1}` },
          `Video ${item.video}, frame ${item.frame_index + 1}`),
        why ? h("span.muted", {}, ` — ${why}`) : null);
    }));
    section.hidden = false;
  }).catch(() => {});  // suggestions are a help: the worklist works without them
  return section;
}

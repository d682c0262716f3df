// The frame list of the validate page: one dense row per frame (small thumbnail, each lower-level
// annotator's score with "Accept", their consensus, my score buttons 0–3 and the row's state). Pure
// rendering; main.js owns state, saving and the keys that drive the list.
import { frameImageUrl } from "../shared/api.js";
import { frameNumber, h, SCORE_MEANINGS } from "../shared/ui.js";

/** The score every lower-level label of the frame agrees on, or null (none, or they differ). */
export function agreedScore(frame) {
  if (!frame.scores.length) return null;
  const first = frame.scores[0].score;
  return frame.scores.every((label) => label.score === first) ? first : null;
}

export function disagrees(frame) {
  return frame.scores.length > 1 && agreedScore(frame) === null;
}

/** The consensus of the lower levels: the score most of them gave (null: no labels, or a tie). */
export function consensusScore(frame) {
  const counts = [0, 0, 0, 0];
  for (const label of frame.scores) counts[label.score] += 1;
  const best = Math.max(...counts);
  if (!best || counts.filter((n) => n === best).length > 1) return null;
  return counts.indexOf(best);
}

function badge(score) {
  return h(`span.badge.score-${score}`, { title: SCORE_MEANINGS[score] }, String(score));
}

function myLabel(frame, { saving, pending, level, onScore }) {
  const current = pending.has(frame.id) ? pending.get(frame.id) : frame.mine?.score;
  const buttons = [0, 1, 2, 3].map((score) => h(`button.score-choice${current === score ? `.score-${score}` : ""}`, {
    type: "button", "aria-pressed": String(current === score), disabled: saving.has(frame.id),
    "aria-label": `Score frame ${frameNumber(frame.index)} as ${score}`, title: `${SCORE_MEANINGS[score]} (key ${score})`,
    dataset: { key: `mine-${frame.id}-${score}` }, onclick: () => onScore(frame, score),
  }, h("span.score-digit", {}, String(score))));
  let status;
  if (saving.has(frame.id)) status = h("span.state.saving", {}, "Saving…");
  else if (pending.has(frame.id)) status = h("span.state.unsaved", {}, "Unsaved");
  else if (frame.mine) {
    status = h("span.state.validated", {}, `✓ Validated${frame.mine.validation_level === level ? "" : ` (level ${frame.mine.validation_level})`}`);
  } else status = h("span.state.todo", {}, "Not validated");
  return [h("td.mine", {}, h("div.choices", { role: "group", "aria-label": `My score of frame ${frameNumber(frame.index)}` }, buttons)),
    h("td.status", {}, status)];
}

function annotatorCell(frame, person, { saving, onScore }) {
  const label = frame.scores.find((s) => s.annotator === person.id);
  if (!label) return h("td.other.none", {}, h("span.muted", {}, "—"));
  const accepted = frame.mine && frame.mine.score === label.score;
  return h("td.other", {},
    badge(label.score),
    label.source === "model" ? h("span.badge.model", { title: "made by a model" }, "model") : null,
    accepted ? h("span.accepted", { title: "My score agrees" }, "✓")
      : h("button.accept", { type: "button", disabled: saving.has(frame.id), dataset: { key: `accept-${frame.id}-${person.id}` },
        "aria-label": `Accept ${person.username}'s score ${label.score} for frame ${frameNumber(frame.index)}`,
        onclick: () => onScore(frame, label.score) }, "Accept"));
}

function row(frame, position, context) {
  const { annotators, onZoom, cursor, videoId } = context;
  const consensus = consensusScore(frame);
  const current = position === cursor;
  return h("tr", { dataset: { frame: frame.id, index: frame.index, position },
    tabindex: current ? "0" : "-1", "aria-current": current ? "true" : null,
    "aria-label": `Frame ${frameNumber(frame.index)}`,
    class: [frame.mine ? "validated" : "", disagrees(frame) ? "disagreeing" : "", current ? "cursor" : ""].join(" ").trim() || null },
  h("th", { scope: "row" },
    h("button.thumb", { type: "button", tabindex: "-1", "aria-label": `Enlarge frame ${frameNumber(frame.index)}`,
      onclick: () => onZoom(frame) },
      h("img", { src: frameImageUrl(frame), alt: "", loading: "lazy", width: "48", height: "36" })),
    h("span.index", {}, `#${frameNumber(frame.index)}`)),
  annotators.map((person) => annotatorCell(frame, person, context)),
  h("td.agreement", {}, !frame.scores.length ? h("span.muted", {}, "no labels")
    : h("span", { title: disagrees(frame) ? "Lower levels disagree: the most frequent score" : "Lower levels agree" },
      consensus !== null ? badge(consensus) : h("span.muted", {}, "tie"),
      disagrees(frame) ? h("span.disagree-text", {}, " disagree") : null)),
  myLabel(frame, context),
  h("td.links", {}, h("a", { href: `/videos/${videoId}/annotate/?frame=${frameNumber(frame.index)}`, tabindex: "-1",
    title: "Contours of this frame on the annotate page (C)" }, "Contours")));
}

/** frames: the frames shown; context: {annotators, level, saving, pending, cursor, videoId, onScore, onZoom}. */
export function frameTable(frames, context, offset = 0) {
  return h("table.frames.dense", {},
    h("caption.visually-hidden", {}, "Frames: lower-level scores, their consensus and my score"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Frame"),
      context.annotators.map((person) => h("th", { scope: "col", title: `${person.role} · level ${person.validation_level}` },
        person.username, h("span.muted.small", {}, ` L${person.validation_level}`))),
      h("th", { scope: "col" }, "Consensus"),
      h("th", { scope: "col" }, `My score (level ${context.level})`),
      h("th", { scope: "col" }, "State"),
      h("th", { scope: "col" }, h("span.visually-hidden", {}, "Links")))),
    h("tbody", {}, frames.length ? frames.map((frame, i) => row(frame, offset + i, context))
      : h("tr", {}, h("td", { colspan: String(context.annotators.length + 5) }, "No frames match."))));
}

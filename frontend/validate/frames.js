// The frame table of the validate page: per frame its image, each lower-level annotator's score with
// "Accept", and my own label (buttons 0–3 to correct). Pure rendering; main.js owns state and saving.
import { frameImageUrl } from "../shared/api.js";
import { frameNumber, h, SCORE_NAMES } from "../shared/ui.js";

/** The score every lower-level label of the frame agrees on, or null (none, or they differ). */
export function agreedScore(frame) {
  if (!frame.scores.length) return null;
  const first = frame.scores[0].score;
  return frame.scores.every((label) => label.score === first) ? first : null;
}

export function disagrees(frame) {
  return frame.scores.length > 1 && agreedScore(frame) === null;
}

function badge(score) {
  return h(`span.badge.score-${score}`, { title: SCORE_NAMES[score] }, String(score));
}

function myLabel(frame, { saving, pending, level, onScore }) {
  const current = pending.has(frame.id) ? pending.get(frame.id) : frame.mine?.score;
  const buttons = [0, 1, 2, 3].map((score) => h(`button.score-choice${current === score ? `.score-${score}` : ""}`, {
    type: "button", "aria-pressed": String(current === score), disabled: saving.has(frame.id),
    "aria-label": `Score frame ${frameNumber(frame.index)} as ${score}`, title: SCORE_NAMES[score],
    dataset: { key: `mine-${frame.id}-${score}` }, onclick: () => onScore(frame, score),
  }, String(score)));
  let status;
  if (saving.has(frame.id)) status = h("span.state.saving", {}, "Saving…");
  else if (pending.has(frame.id)) status = h("span.state.unsaved", {}, "Unsaved");
  else if (frame.mine) {
    status = h("span.state.validated", {}, `✓ Validated${frame.mine.validation_level === level ? "" : ` (level ${frame.mine.validation_level})`}`);
  } else status = h("span.state.todo", {}, "Not validated");
  return h("td.mine", {}, h("div.choices", { role: "group", "aria-label": `My score of frame ${frameNumber(frame.index)}` }, buttons), status);
}

function annotatorCell(frame, person, { saving, onScore }) {
  const label = frame.scores.find((s) => s.annotator === person.id);
  if (!label) return h("td.other.none", {}, h("span.muted", {}, "—"));
  const accepted = frame.mine && frame.mine.score === label.score;
  return h("td.other", {},
    badge(label.score),
    label.source === "model" ? h("span.badge.model", { title: "made by a model" }, "model") : null,
    accepted ? h("span.accepted", {}, "✓ agrees")
      : h("button.accept", { type: "button", disabled: saving.has(frame.id), dataset: { key: `accept-${frame.id}-${person.id}` },
        "aria-label": `Accept ${person.username}'s score ${label.score} for frame ${frameNumber(frame.index)}`,
        onclick: () => onScore(frame, label.score) }, "Accept"));
}

function row(frame, context) {
  const { annotators, onZoom } = context;
  const agreed = agreedScore(frame);
  const tr = h("tr", { dataset: { frame: frame.id, index: frame.index },
    class: [frame.mine ? "validated" : "", disagrees(frame) ? "disagreeing" : ""].join(" ").trim() || null },
  h("th", { scope: "row" },
    h("button.thumb", { type: "button", "aria-label": `Enlarge frame ${frameNumber(frame.index)}`, onclick: () => onZoom(frame) },
      h("img", { src: frameImageUrl(frame), alt: `Frame ${frameNumber(frame.index)}`, loading: "lazy", width: "160" })),
    h("div.index", {}, `#${frameNumber(frame.index)}`)),
  annotators.map((person) => annotatorCell(frame, person, context)),
  h("td.agreement", {}, !frame.scores.length ? h("span.muted", {}, "no labels")
    : agreed !== null ? h("span", {}, "agree ", badge(agreed)) : h("span.disagree-text", {}, "disagree")),
  myLabel(frame, context));
  // 0–3 anywhere in the row sets my score; "a" accepts what the lower levels agree on.
  tr.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (/^[0-3]$/.test(event.key)) context.onScore(frame, Number(event.key), { fromKey: true });
    else if (event.key === "a" && agreed !== null) context.onScore(frame, agreed, { fromKey: true });
    else return;
    event.preventDefault();
  });
  return tr;
}

/** frames: the frames of this page; context: {annotators, level, saving, pending, onScore, onZoom}. */
export function frameTable(frames, context) {
  return h("table.frames", {},
    h("caption.visually-hidden", {}, "Frames: lower-level scores and my score"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Frame"),
      context.annotators.map((person) => h("th", { scope: "col" }, person.username,
        h("div.muted.small", {}, `${person.role} · level ${person.validation_level}`))),
      h("th", { scope: "col" }, "Agreement"),
      h("th", { scope: "col" }, `My score (level ${context.level})`))),
    h("tbody", {}, frames.length ? frames.map((frame) => row(frame, context))
      : h("tr", {}, h("td", { colspan: String(context.annotators.length + 3) }, "No frames match."))));
}

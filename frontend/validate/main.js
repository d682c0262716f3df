// Validate: the scores of lower validation levels frame by frame in a dense list driven by the keyboard
// (j/k or arrows move, 0–3 score, Enter accepts the consensus), the video score and the video findings;
// accepting or correcting writes my own label at my level (through the annotations API, see saver.js).
// Contours are validated on the annotate page, which shows every lower level's polygons (link per row).
import { api, boot, frameImageUrl } from "../shared/api.js";
import { dialog, fail, frameIndex, frameNumber, h, patientLabel, ready, SCORE_LABELS, SCORE_MEANINGS, toast } from "../shared/ui.js";
import { findingsPanel } from "./findings.js";
import { agreedScore, consensusScore, disagrees, frameTable } from "./frames.js";
import { createSaver } from "./saver.js";

const PAGE = 200;  // rows per page: a whole ordinary video on one screen list
const FILTERS = [["all", "All frames"], ["todo", "Not validated"], ["disagree", "Lower levels disagree"],
  ["agree-todo", "Agreeing, not validated"]];
const KEYS = [["j", "↓"], "next frame", ["k", "↑"], "previous", ["0", "3"], "my score (then next)",
  ["Enter"], "accept the consensus (then next)", ["e"], "enlarge", ["c"], "contours", ["Home", "End"], "first / last"];
const app = document.getElementById("app");
const state = { filter: "all", page: 0, cursor: 0, pending: new Map(), pendingVideo: null, saving: new Set(),
  pendingFindings: new Map() };
let saver;

const matches = {
  all: () => true,
  todo: (frame) => !frame.mine,
  disagree: disagrees,
  "agree-todo": (frame) => !frame.mine && agreedScore(frame) !== null,
};
const shown = () => state.frames.filter(matches[state.filter]);
const agreeingTodo = () => state.frames.filter(matches["agree-todo"]);

function onScore(frame, score) {
  if (state.saving.has(frame.id)) return;
  if (frame.mine?.score === score && !state.pending.has(frame.id)) return;
  saver.saveFrames([{ frame: frame.id, score }]);
}

async function acceptAllAgreeing() {
  const frames = agreeingTodo();
  if (!frames.length) return;
  const ok = await saver.saveFrames(frames.map((frame) => ({ frame: frame.id, score: agreedScore(frame) })));
  if (ok) toast(`Accepted ${frames.length} agreeing frame${frames.length === 1 ? "" : "s"}.`, "success");
}

function zoom(frame) {
  const title = `Frame ${frameNumber(frame.index)} of ${state.frames.length}`;
  return dialog(title, h("img.zoomed", { src: frameImageUrl(frame), alt: title }),
    [{ label: "Close", value: true, primary: true }]);
}

function summary() {
  const validated = state.frames.filter((frame) => frame.mine).length;
  const disagreeing = state.frames.filter(disagrees).length;
  const agreeing = agreeingTodo().length;
  const unsaved = state.pending.size + (state.pendingVideo !== null ? 1 : 0) + state.pendingFindings.size;
  return h("div.summary", {},
    h("div.validated-count", { role: "status" },
      h("strong", {}, `${validated} of ${state.frames.length}`), " frames validated · ",
      `${disagreeing} with disagreeing lower levels`),
    h("button.primary", { type: "button", disabled: !agreeing || state.saving.size > 0, onclick: acceptAllAgreeing,
      dataset: { key: "accept-all" } }, `Accept all agreeing frames (${agreeing})`),
    unsaved ? h("button.danger", { type: "button", onclick: () => saver.retryUnsaved(), dataset: { key: "retry" } },
      `Retry unsaved (${unsaved})`) : null);
}

function videoPanel() {
  const people = new Map(state.annotators.map((person) => [person.id, person]));
  const mineScore = state.pendingVideo ?? state.myVideo?.score;
  const saving = state.saving.has("video");
  const others = state.videoScores.length ? state.videoScores.map((label) => {
    const person = people.get(label.annotator);
    const accepted = state.myVideo && state.myVideo.score === label.score;
    return h("li", {}, h("span.who", {}, `${person?.username ?? label.annotator} (level ${label.validation_level})`),
      h(`span.badge.score-${label.score}`, { title: SCORE_MEANINGS[label.score] }, String(label.score)),
      label.comment ? h("span.muted.comment", {}, `“${label.comment}”`) : null,
      accepted ? h("span.accepted", {}, "✓ agrees") : h("button.accept", { type: "button", disabled: saving,
        dataset: { key: `video-accept-${label.annotator}` },
        "aria-label": `Accept ${person?.username}'s video score ${label.score}`,
        onclick: () => saver.saveVideo(label.score) }, "Accept"));
  }) : [h("li.muted", {}, "No video scores below your level.")];
  let status = state.myVideo ? `✓ Validated: ${state.myVideo.score}` : "Not validated";
  if (saving) status = "Saving…";
  else if (state.pendingVideo !== null) status = "Unsaved";
  return h("section.card.video-panel", { "aria-labelledby": "video-scores-title" },
    h("h2", { id: "video-scores-title" }, "Video score and findings"),
    h("ul.video-scores", {}, others),
    h("div.mine", {}, h("span", {}, "My video score:"),
      h("div.choices", { role: "group", "aria-label": "My video score" }, [0, 1, 2, 3].map((score) =>
        h(`button.score-choice${mineScore === score ? `.score-${score}` : ""}`, {
          type: "button", "aria-pressed": String(mineScore === score), disabled: saving, title: SCORE_MEANINGS[score],
          "aria-label": `Score the video as ${score}`, dataset: { key: `video-${score}` },
          onclick: () => { if (state.myVideo?.score !== score || state.pendingVideo !== null) saver.saveVideo(score); },
        }, h("span.score-digit", {}, String(score))))),
      h("span.state", {}, status)),
    findingsPanel(state, people, { onSet: (code, present) => saver.saveFindings([{ finding: code, present }]) }));
}

function pager(count) {
  const pages = Math.max(1, Math.ceil(count / PAGE));
  state.page = Math.min(state.page, pages - 1);
  const go = (page) => { state.page = page; state.cursor = page * PAGE; render(); };
  const jump = h("input", { id: "goto-frame", type: "number", min: "1", max: String(state.frames.length),
    inputmode: "numeric", style: { width: "6em" } });
  const gotoFrame = (event) => {
    event.preventDefault();
    showFrame(Number(jump.value));
  };
  return h("nav.pager", { "aria-label": "Frame pages" },
    pages > 1 ? h("button", { type: "button", disabled: state.page === 0, onclick: () => go(state.page - 1), dataset: { key: "prev" } }, "Previous") : null,
    h("span", {}, count ? `Frames ${state.page * PAGE + 1}–${Math.min(count, (state.page + 1) * PAGE)} of ${count}` : "No frames"),
    pages > 1 ? h("button", { type: "button", disabled: state.page >= pages - 1, onclick: () => go(state.page + 1), dataset: { key: "next" } }, "Next") : null,
    h("form.goto", { onsubmit: gotoFrame }, h("label", { for: "goto-frame" }, "Go to frame #"), jump,
      h("button", { type: "submit" }, "Go")));
}

// Focus survives redraws: a control with a data-key gets it back (or, while it is disabled during a
// save, the row it is in); a focused row keeps the focus on the cursor's row.
function rememberFocus() {
  const active = document.activeElement;
  if (active?.dataset?.key) state.focusKey = active.dataset.key;
  else if (active?.matches?.("tr[data-position]")) state.focusKey = "row";
  else if (active && active !== document.body && !active.closest("dialog")) state.focusKey = null;
}

function restoreFocus() {
  const active = document.activeElement;
  if (!state.focusKey || (active && active !== document.body)) return;
  const key = state.focusKey;
  const row = key.match(/^(?:accept|mine)-(\d+)-/);
  const target = (key !== "row" && document.querySelector(`[data-key="${key}"]:not([disabled])`))
    || (row && document.querySelector(`tr[data-frame="${row[1]}"] button.score-choice[aria-pressed="true"]:not([disabled])`))
    || ((key === "row" || row) && cursorRow())
    || ((key === "next" || key === "prev") && document.querySelector(`[data-key="${key === "next" ? "prev" : "next"}"]:not([disabled])`))
    || (key.startsWith("video-") && document.querySelector(".video-panel button.score-choice[aria-pressed=\"true\"]:not([disabled])"));
  if (target) target.focus({ preventScroll: key !== "row" });
}

const cursorRow = () => document.querySelector(`tr[data-position="${state.cursor}"]`);

function render() {
  // Redraw everything (at most PAGE rows).
  rememberFocus();
  const frames = shown();
  state.cursor = Math.max(0, Math.min(state.cursor, frames.length - 1));
  state.page = Math.floor(state.cursor / PAGE);
  const filter = h("select", { id: "frame-filter" }, FILTERS.map(([value, label]) => h("option", { value }, label)));
  filter.value = state.filter;
  filter.addEventListener("change", () => { state.filter = filter.value; state.cursor = 0; render(); filterFocus(); });
  const offset = state.page * PAGE;
  const body = document.getElementById("validate-body");
  body.replaceChildren(
    summary(),
    videoPanel(),
    h("div.toolbar", {}, h("label", { for: "frame-filter" }, "Show"), filter, pager(frames.length)),
    frameTable(frames.slice(offset, offset + PAGE), { annotators: state.annotators, level: state.level,
      saving: state.saving, pending: state.pending, cursor: state.cursor, videoId: state.video.id, onScore, onZoom: zoom },
    offset));
  restoreFocus();
}

/** Put the cursor on row `position` of the list shown (clamped) and focus that row. */
function moveTo(position) {
  const count = shown().length;
  if (!count) return;
  state.cursor = Math.max(0, Math.min(count - 1, position));
  const samePage = Math.floor(state.cursor / PAGE) === state.page;
  if (samePage) {
    document.querySelector("tr.cursor")?.classList.remove("cursor");
    document.querySelectorAll("tr[data-position]").forEach((tr) => {
      const on = Number(tr.dataset.position) === state.cursor;
      tr.tabIndex = on ? 0 : -1;
      tr.classList.toggle("cursor", on);
      if (on) tr.setAttribute("aria-current", "true"); else tr.removeAttribute("aria-current");
    });
  } else {
    render();
  }
  const row = cursorRow();
  row?.focus();
  row?.scrollIntoView({ block: "nearest" });
}

/** The list's keys (not while typing in a field or with a dialog open). */
function onKey(event) {
  if (event.altKey || event.ctrlKey || event.metaKey || document.querySelector("dialog[open]")) return;
  const target = event.target instanceof Element ? event.target : document.body;
  if (target.closest("input, select, textarea")) return;
  const inRow = target.closest("tr[data-position]");
  if (inRow) state.cursor = Number(inRow.dataset.position);
  const inList = Boolean(inRow) || target === document.body;
  const frame = shown()[state.cursor];
  const key = event.key;
  const done = () => event.preventDefault();
  // From outside the list, the first move only brings the focus back to the cursor's row.
  if (key === "j" || key === "ArrowDown") { done(); moveTo(inRow ? state.cursor + 1 : state.cursor); }
  else if (key === "k" || key === "ArrowUp") { done(); moveTo(inRow ? state.cursor - 1 : state.cursor); }
  else if (!inList) return;  // other keys act on the list only when the focus is in it
  else if (key === "Home") { done(); moveTo(0); }
  else if (key === "End") { done(); moveTo(shown().length - 1); }
  else if (key === "PageDown") { done(); moveTo(state.cursor + 10); }
  else if (key === "PageUp") { done(); moveTo(state.cursor - 10); }
  else if (!frame) return;
  else if (/^[0-3]$/.test(key)) { done(); onScore(frame, Number(key)); moveTo(state.cursor + 1); }
  else if ((key === "Enter" && !target.closest("button, a")) || key === "a") {
    done();
    const consensus = consensusScore(frame);
    if (consensus === null) { toast(`Frame ${frameNumber(frame.index)}: no consensus to accept (score it with 0–3).`); return; }
    onScore(frame, consensus);
    moveTo(state.cursor + 1);
  } else if (key === "e" || key === " ") {
    if (target.closest("button, a")) return;
    done();
    zoom(frame).then(() => cursorRow()?.focus());
  } else if (key === "c") { done(); location.assign(`/videos/${state.video.id}/annotate/?frame=${frameNumber(frame.index)}`); }
}

/** Show frame `number` (counted from 1, as shown and in `?frame=`) and focus its score buttons. */
function showFrame(number) {
  const index = frameIndex(number);
  const position = shown().findIndex((frame) => frame.index === index);
  if (position < 0) { toast(`Frame #${number} is not in this list.`, "error"); return; }
  state.cursor = position;
  render();
  const row = cursorRow();
  (row?.querySelector("button.score-choice[aria-pressed='true']") || row?.querySelector("button.score-choice"))?.focus();
  row?.scrollIntoView({ block: "center" });
  history.replaceState(null, "", `${location.pathname}?frame=${number}`);
}

const filterFocus = () => document.getElementById("frame-filter")?.focus();

function keyHelp() {
  const parts = [];
  for (let i = 0; i < KEYS.length; i += 2) {
    const keys = KEYS[i];
    parts.push(h("span.key-help", {}, keys.flatMap((key, n) => [n ? (keys[0] === "0" ? "–" : "/") : "", h("kbd", {}, key)]),
      ` ${KEYS[i + 1]}`));
  }
  const legend = SCORE_LABELS.map((label, score) => h("span.score-legend", { title: SCORE_MEANINGS[score] },
    h(`span.badge.score-${score}`, {}, String(score)), ` ${label}`));
  return [h("p.muted.hint", { id: "validate-keys" }, parts.flatMap((part, i) => [i ? " · " : "", part])),
    h("p.muted.hint.legend", { "aria-label": "Scores (Soldati et al.)" }, legend.flatMap((part, i) => [i ? "  " : "", part]))];
}

async function start() {
  const data = await api(`viewer/videos/${boot.video_id}/validate/`);
  Object.assign(state, { video: data.video, level: data.level, annotators: data.annotators, frames: data.frames,
    byId: new Map(data.frames.map((frame) => [frame.id, frame])), videoScores: data.video_scores,
    myVideo: data.my_video_score, videoFindings: data.video_findings, myFindings: data.my_findings,
    vocabulary: data.findings });
  saver = createSaver(state, render);
  const v = data.video;
  app.replaceChildren(
    h("div.heading", {},
      h("h1", {}, `Validate · ${v.original_name}`),
      h("p.muted", {}, `${v.site} · ${patientLabel(v.patient)} · ${v.lung_zone || "zone unknown"} · ${v.probe} · `,
        `${v.frame_count} frames · scores below level ${data.level} · `,
        h("a", { href: `/videos/${v.id}/annotate/` }, "annotate (contours)"), " · ",
        h("a", { href: `/videos/${v.id}/frames/` }, "frame view"), " · ", h("a", { href: "/worklist/" }, "worklist")),
      keyHelp()),
    h("div", { id: "validate-body" }));
  document.addEventListener("keydown", onKey);
  render();
  const asked = Number(new URLSearchParams(location.search).get("frame"));
  if (Number.isInteger(asked) && asked >= 1) showFrame(asked);
  ready();
}

start().catch(fail);

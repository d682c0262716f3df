// Validate: the scores of lower validation levels side by side, frame by frame and for the video, and the
// video findings (shown; my own are stated on the annotate page); accepting or correcting writes my own
// label at my level (through the annotations API, see saver.js).
import { api, boot, frameImageUrl } from "../shared/api.js";
import { dialog, fail, frameIndex, frameNumber, h, ready, SCORE_NAMES, toast } from "../shared/ui.js";
import { agreedScore, disagrees, frameTable } from "./frames.js";
import { createSaver } from "./saver.js";

const PAGE = 8;
const FILTERS = [["all", "All frames"], ["todo", "Not validated"], ["disagree", "Lower levels disagree"],
  ["agree-todo", "Agreeing, not validated"]];
const app = document.getElementById("app");
const state = { filter: "all", page: 0, pending: new Map(), pendingVideo: null, saving: new Set() };
let saver;

const matches = {
  all: () => true,
  todo: (frame) => !frame.mine,
  disagree: disagrees,
  "agree-todo": (frame) => !frame.mine && agreedScore(frame) !== null,
};
const shown = () => state.frames.filter(matches[state.filter]);
const agreeingTodo = () => state.frames.filter(matches["agree-todo"]);

function onScore(frame, score, { fromKey = false } = {}) {
  if (state.saving.has(frame.id)) return;
  if (fromKey) {  // a shortcut moves the focus to the score chosen, as arrow keys do in a radio group
    document.activeElement?.blur();
    state.focusKey = `mine-${frame.id}-${score}`;
  }
  if (frame.mine?.score === score && !state.pending.has(frame.id)) { restoreFocus(); return; }
  saver.saveFrames([{ frame: frame.id, score }]);
}

async function acceptAllAgreeing() {
  const frames = agreeingTodo();
  if (!frames.length) return;
  const ok = await saver.saveFrames(frames.map((frame) => ({ frame: frame.id, score: agreedScore(frame) })));
  if (ok) toast(`Accepted ${frames.length} agreeing frame${frames.length === 1 ? "" : "s"}.`, "success");
}

function zoom(frame) {
  const shown = `Frame ${frameNumber(frame.index)} of ${state.frames.length}`;
  dialog(shown, h("img.zoomed", { src: frameImageUrl(frame), alt: shown }),
    [{ label: "Close", value: true, primary: true }]);
}

function summary() {
  const validated = state.frames.filter((frame) => frame.mine).length;
  const disagreeing = state.frames.filter(disagrees).length;
  const agreeing = agreeingTodo().length;
  const unsaved = state.pending.size + (state.pendingVideo !== null ? 1 : 0);
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
      h(`span.badge.score-${label.score}`, { title: SCORE_NAMES[label.score] }, String(label.score)),
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
    h("h2", { id: "video-scores-title" }, "Video score"),
    h("ul.video-scores", {}, others),
    findingsPanel(people),
    h("div.mine", {}, h("span", {}, "My video score:"),
      h("div.choices", { role: "group", "aria-label": "My video score" }, [0, 1, 2, 3].map((score) =>
        h(`button.score-choice${mineScore === score ? `.score-${score}` : ""}`, {
          type: "button", "aria-pressed": String(mineScore === score), disabled: saving, title: SCORE_NAMES[score],
          "aria-label": `Score the video as ${score}`, dataset: { key: `video-${score}` },
          onclick: () => { if (state.myVideo?.score !== score || state.pendingVideo !== null) saver.saveVideo(score); },
        }, String(score)))),
      h("span.state", {}, status)));
}

/** The video findings, per person (lower levels, then mine), read-only: present ✓, absent ✗. */
function findingsPanel(people) {
  const rows = new Map();
  for (const f of [...state.videoFindings, ...state.myFindings]) {
    if (!rows.has(f.annotator)) rows.set(f.annotator, []);
    rows.get(f.annotator).push(f);
  }
  const me = state.myFindings[0]?.annotator;
  const who = (id) => (id === me ? "Mine" : `${people.get(id)?.username ?? id} (level ${rows.get(id)[0].validation_level})`);
  return h("div.findings-panel", {}, h("h3", {}, "Findings"),
    rows.size ? h("dl.findings", {}, [...rows].map(([id, found]) => h("div.finding-row", {}, h("dt", {}, who(id)),
      h("dd", {}, found.map((f) => h(`span.finding.${f.present ? "present" : "absent"}`,
        { title: `${f.name}: ${f.present ? "present" : "absent"}` }, `${f.name} ${f.present ? "✓" : "✗"}`))))))
      : h("p.muted", {}, "No findings stated below your level."),
    h("p.muted.small", {}, "Your own findings are stated on the ", h("a", { href: `/videos/${state.video.id}/annotate/` }, "annotate page"), "."));
}

function pager(count) {
  const pages = Math.max(1, Math.ceil(count / PAGE));
  state.page = Math.min(state.page, pages - 1);
  const go = (page) => { state.page = page; render(); };
  const jump = h("input", { id: "goto-frame", type: "number", min: "1", max: String(state.frames.length),
    inputmode: "numeric", style: { width: "6em" } });
  const gotoFrame = (event) => {
    event.preventDefault();
    showFrame(Number(jump.value));
  };
  return h("nav.pager", { "aria-label": "Frame pages" },
    h("button", { type: "button", disabled: state.page === 0, onclick: () => go(state.page - 1), dataset: { key: "prev" } }, "Previous"),
    h("span", {}, count ? `Frames ${state.page * PAGE + 1}–${Math.min(count, (state.page + 1) * PAGE)} of ${count}` : "No frames"),
    h("button", { type: "button", disabled: state.page >= pages - 1, onclick: () => go(state.page + 1), dataset: { key: "next" } }, "Next"),
    h("form.goto", { onsubmit: gotoFrame }, h("label", { for: "goto-frame" }, "Go to frame #"), jump,
      h("button", { type: "submit" }, "Go")));
}

// Focus survives redraws: remember the focused control's data-key (kept while a control is disabled
// during a save or a dialog is open) and focus its successor, or the row's chosen score.
function rememberFocus() {
  const active = document.activeElement;
  if (active?.dataset?.key) state.focusKey = active.dataset.key;
  else if (active && active !== document.body && !active.closest("dialog")) state.focusKey = null;
}

function restoreFocus() {
  const active = document.activeElement;
  if (!state.focusKey || (active && active !== document.body)) return;
  const key = state.focusKey;
  const row = key.match(/^(?:accept|mine)-(\d+)-/);
  const target = document.querySelector(`[data-key="${key}"]:not([disabled])`)
    || (row && document.querySelector(`tr[data-frame="${row[1]}"] button.score-choice[aria-pressed="true"]:not([disabled])`))
    || ((key === "next" || key === "prev") && document.querySelector(`[data-key="${key === "next" ? "prev" : "next"}"]:not([disabled])`))
    || (key.startsWith("video-") && document.querySelector(".video-panel button.score-choice[aria-pressed=\"true\"]:not([disabled])"));
  if (target) target.focus();
}

function render() {
  // Redraw everything (a page is a handful of rows).
  rememberFocus();
  const frames = shown();
  const filter = h("select", { id: "frame-filter" }, FILTERS.map(([value, label]) => h("option", { value }, label)));
  filter.value = state.filter;
  filter.addEventListener("change", () => { state.filter = filter.value; state.page = 0; render(); filterFocus(); });
  const pageFrames = frames.slice(state.page * PAGE, (state.page + 1) * PAGE);
  const body = document.getElementById("validate-body");
  const controls = pager(frames.length);
  body.replaceChildren(
    summary(),
    videoPanel(),
    h("div.toolbar", {}, h("label", { for: "frame-filter" }, "Show"), filter, controls),
    frameTable(pageFrames, { annotators: state.annotators, level: state.level, saving: state.saving,
      pending: state.pending, onScore, onZoom: zoom }));
  restoreFocus();
}

/** Open the page holding frame `number` (counted from 1, as shown and in `?frame=`) and focus its row. */
function showFrame(number) {
  const index = frameIndex(number);
  const position = shown().findIndex((frame) => frame.index === index);
  if (position < 0) { toast(`Frame #${number} is not in this list.`, "error"); return; }
  state.page = Math.floor(position / PAGE);
  render();
  document.querySelector(`tr[data-index="${index}"] button.score-choice`)?.focus();
  history.replaceState(null, "", `${location.pathname}?frame=${number}`);
}

const filterFocus = () => document.getElementById("frame-filter")?.focus();

async function start() {
  const data = await api(`viewer/videos/${boot.video_id}/validate/`);
  Object.assign(state, { video: data.video, level: data.level, annotators: data.annotators, frames: data.frames,
    byId: new Map(data.frames.map((frame) => [frame.id, frame])), videoScores: data.video_scores,
    myVideo: data.my_video_score, videoFindings: data.video_findings, myFindings: data.my_findings });
  saver = createSaver(state, render);
  const v = data.video;
  app.replaceChildren(
    h("div.heading", {},
      h("h1", {}, `Validate · ${v.original_name}`),
      h("p.muted", {}, `${v.site} · patient ${v.patient} · ${v.lung_zone || "zone unknown"} · ${v.probe} · `,
        `${v.frame_count} frames · scores below level ${data.level} · `,
        h("a", { href: `/videos/${v.id}/annotate/` }, "annotate"), " · ", h("a", { href: "/worklist/" }, "worklist")),
      h("p.muted.hint", {}, "Accept takes an annotator's score as yours; 0–3 correct it. In a row: ",
        h("kbd", {}, "0"), "–", h("kbd", {}, "3"), " set my score, ", h("kbd", {}, "a"), " accepts an agreed score.")),
    h("div", { id: "validate-body" }));
  render();
  const asked = Number(new URLSearchParams(location.search).get("frame"));
  if (Number.isInteger(asked) && asked >= 1) showFrame(asked);
  ready();
}

start().catch(fail);

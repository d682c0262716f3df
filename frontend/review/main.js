// Clinician review: pick a patient, see each lung zone's videos with every rater's score, the consensus
// and the model's score, disagreements flagged, the model-vs-consensus confusion matrix, and accept or
// override the model by recording your own video score (it then counts in the consensus).
// Reads: /api/viewer/review/…; writes: POST /api/video-scores/ (saver.js).
import { api, boot, query } from "../shared/api.js";
import { matrixChart } from "../shared/charts.js";
import { dialog, fail, h, patientLabel, ready, toast } from "../shared/ui.js";
import { zoneGrid } from "./grid.js";
import { createSaver } from "./saver.js";

const PAGE = 50;
const SCORES = ["0", "1", "2", "3"];
const params = new URLSearchParams(location.search);
const state = {
  patient: Number(params.get("patient")) || null, modelVersion: params.get("model_version") || "",
  exam: params.get("exam") || "", search: "", offset: 0, scope: "patient", data: null,
};
const app = document.getElementById("app");
const list = h("ul.patient-list", { "aria-label": "Patients" });
const more = h("button", { type: "button", hidden: true, onclick: () => loadPatients({ append: true }) }, "More patients");
const main = h("div.review-main", {}, h("p.muted", {}, "Choose a patient to review."));
const saver = createSaver({ onSaved: () => loadPatient(), onChange: () => renderPatient() });

function syncUrl() {
  history.replaceState(null, "", `${location.pathname}${query({ patient: state.patient, model_version: state.modelVersion,
    exam: state.exam })}`);
}

async function loadPatients({ append = false } = {}) {
  state.offset = append ? state.offset + PAGE : 0;
  const page = await api(`viewer/review/patients/${query({ search: state.search, limit: PAGE, offset: state.offset })}`);
  if (!append) list.replaceChildren();
  for (const patient of page.results) {
    list.append(h("li", {}, h("button.patient", {
      type: "button", "aria-current": patient.id === state.patient ? "true" : null, dataset: { patient: String(patient.id) },
      onclick: () => choose(patient.id),
    }, h("strong", {}, patient.code), h("span.muted", {}, ` · ${patient.site}`),
    h("span.counts", {}, `${patient.n_videos} videos · ${patient.n_scored} scored`))));
  }
  if (!list.children.length) list.append(h("li.muted", {}, "No patient matches."));
  more.hidden = !page.next;
}

async function choose(patientId) {
  if (saver.size && !await dialog("Unsaved scores", h("p", {}, "Some of your scores are not saved yet (they are being retried)."),
    [{ label: "Stay", value: false, primary: true }, { label: "Leave this patient", value: true }])) return;
  state.patient = patientId;
  state.exam = "";
  for (const button of list.querySelectorAll("button.patient")) {
    button.toggleAttribute("aria-current", Number(button.dataset.patient) === patientId);
  }
  syncUrl();
  await loadPatient();
  main.querySelector("h2")?.focus();
}

async function loadPatient() {
  if (!state.patient) return;
  main.setAttribute("aria-busy", "true");
  try {
    state.data = await api(`viewer/review/patients/${state.patient}/${query({ model_version: state.modelVersion })}`);
    if (state.scope === "all") state.all = await api(`viewer/review/confusion/${query({ model_version: state.modelVersion })}`);
    renderPatient();
  } catch (error) {
    main.replaceChildren(h("p.error", { role: "alert" }, `Could not load this patient: ${error.message}`),
      h("button", { type: "button", onclick: loadPatient }, "Try again"));
  } finally {
    main.setAttribute("aria-busy", "false");
  }
}

function versionSelect(data) {
  const select = h("select", { id: "model-version" },
    h("option", { value: "" }, "Active model"),
    data.model_versions.map((v) => h("option", { value: String(v.id) }, `v${v.id} · ${v.kind} · ${v.name}${v.is_active ? " (active)" : ""}`)));
  select.value = state.modelVersion;
  select.addEventListener("change", () => { state.modelVersion = select.value; syncUrl(); loadPatient(); });
  return h("div.field", {}, h("label", { for: "model-version" }, "Compare with"), select);
}

function examSelect(data) {
  if (data.exams.length < 2) return null;
  const select = h("select", { id: "exam" }, h("option", { value: "" }, "All exams"),
    data.exams.map((e) => h("option", { value: String(e.id) }, `Exam ${e.id}${e.date ? ` · ${e.date}` : ""}`)));
  select.value = state.exam;
  select.addEventListener("change", () => { state.exam = select.value; syncUrl(); renderPatient(); });
  return h("div.field", {}, h("label", { for: "exam" }, "Exam"), select);
}

function confusionSection(data) {
  const confusion = state.scope === "all" && state.all ? state.all.confusion : data.confusion;
  const scopeRadio = (value, text) => h("label.radio", {}, h("input", {
    type: "radio", name: "confusion-scope", value, checked: state.scope === value,
    onchange: async () => {
      state.scope = value;
      if (value === "all" && !state.all) state.all = await api(`viewer/review/confusion/${query({ model_version: state.modelVersion })}`);
      renderPatient();
      document.querySelector(`input[name=confusion-scope][value=${value}]`)?.focus();
    },
  }), ` ${text}`);
  const max = Math.max(1, ...confusion.matrix.flat());
  const chart = matrixChart(SCORES, SCORES, confusion.matrix, {
    label: `Confusion matrix: consensus (rows) against model (columns) over ${state.scope === "all" ? "all patients" : "this patient"}`,
    min: 0, max, rowTitle: "consensus ↓", colTitle: "model →" });
  return h("section.card.confusion", { "aria-labelledby": "confusion-title" },
    h("h2", { id: "confusion-title" }, "Model vs consensus"),
    h("fieldset.scope", {}, h("legend", {}, "Over"), scopeRadio("patient", "this patient"), scopeRadio("all", "all patients")),
    chart,
    h("p", {}, confusion.n ? `${confusion.n} videos, ${(100 * confusion.agreement).toFixed(0)}% agree.`
      : `Undefined: ${confusion.reason}.`));
}

/** Redraw without losing the keyboard user's place: refocus the same control, else its video's card. */
function renderPatient() {
  const active = document.activeElement;
  const label = main.contains(active) ? active.getAttribute("aria-label") : null;
  const card = active?.closest?.(".video-card")?.dataset.video;
  drawPatient();
  if (!label && !card) return;
  const again = (label && [...main.querySelectorAll("[aria-label]")].find((e) => e.getAttribute("aria-label") === label))
    || main.querySelector(`.video-card[data-video="${card}"] button`);
  again?.focus();
}

function drawPatient() {
  const data = state.data;
  if (!data) return;
  const videos = state.exam ? data.videos.filter((v) => String(v.exam) === state.exam) : data.videos;
  const flagged = videos.filter((v) => v.model_disagrees || v.raters_disagree).length;
  const ctx = {
    data, me: boot.user.id, saver,
    onScore: (video, score, comment) => saver.save({
      video: video.id, name: video.original_name, score, comment,
      version: video.scores.find((s) => s.annotator === boot.user.id)?.version ?? 0 }),
  };
  const model = data.model_version;
  main.replaceChildren(
    h("div.patient-head", {},
      h("h2", { tabindex: "-1" }, patientLabel(data.patient.code, { title: true }), h("span.muted", {}, ` · ${data.patient.site} · COVID-19 ${data.patient.covid_status}`)),
      h("div.toolbar", {}, versionSelect(data), examSelect(data))),
    scoringNote(data.scoring),
    h("p.summary", {}, model ? `Model: v${model.id} ${model.name} (${model.kind}). ` : "No model has scored these videos. ",
      model ? qualityNote(model.quality) : "",
      `Consensus rule: ${data.consensus_rule.replace("_", " ")}. `,
      h("strong", {}, `${flagged} of ${videos.length} videos with a disagreement.`)),
    h("div.review-body", {},
      h("section", { "aria-label": "Lung zones" }, zoneGrid(data, videos, ctx)),
      confusionSection(data)));
}

async function start() {
  const search = h("input", { id: "patient-search", type: "search", placeholder: "code or site", autocomplete: "off" });
  let timer;
  search.addEventListener("input", () => {
    clearTimeout(timer);  // one request per pause in typing
    timer = setTimeout(() => { state.search = search.value.trim(); loadPatients().catch((e) => toast(e.message, "error")); }, 300);
  });
  app.replaceChildren(h("h1", {}, "Review"), h("div.review-layout", {},
    h("aside.card.patients", { "aria-label": "Patient list" },
      h("label", { for: "patient-search" }, "Find a patient"), search, list, more),
    main));
  await loadPatients();
  if (state.patient) await loadPatient();
  ready();
}

start().catch(fail);

/** The shown model's scores are still being computed (a version just activated): say so, with the job
 * (admins follow it on the dashboard) and a way to look again. */
function scoringNote(scoring) {
  if (!scoring) return "";
  const progress = scoring.total ? `, ${scoring.done} of ${scoring.total} videos` : "";
  const job = boot.user.role === "admin"
    ? h("a", { href: `/dashboard/?job=${scoring.job}` }, `job #${scoring.job}`) : `job #${scoring.job}`;
  return h("p.notice.scoring", { role: "status" }, "Scoring in progress (", job, ` ${scoring.status}${progress}): `,
    "the model's scores appear here when it is done. ",
    h("button.link", { type: "button", onclick: () => loadPatient() }, "Check again"));
}

/** What the model is worth, next to its scores: cross-validated figures, calibration, warnings. */
function qualityNote(quality) {
  const figure = (value, digits = 2) => (value === null || value === undefined ? "—" : value.toFixed(digits));
  const facts = quality.cv_folds
    ? `Cross-validated on ${quality.training_videos ?? "?"} videos (${quality.cv_folds} folds by patient): weighted F1 ${figure(quality.cv_f1_weighted)}, `
      + `quadratic κ ${figure(quality.cv_quadratic_kappa)}, calibration error ${figure(quality.cv_ece)}. `
    : "";
  return h("span.model-quality", {}, facts,
    ...quality.warnings.map((warning) => h("strong.warning", { role: "note" }, `Caution: ${warning}. `)));
}


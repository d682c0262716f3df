// Hyper-parameter searches on the dashboard (issue 17): start one, and for the newest (or chosen) search job
// its optimisation history (each finished trial's CV value and the best so far), parameter importances
// (bars) and a parallel-coordinates plot (one line per complete trial across the searched parameters,
// coloured by value), and "Train best" (an ordinary training job with the best trial's configuration).
// Live: while a search runs, its workers keep the finished trials in the job's progress ("trials", see
// modelling/search.py), so the dashboard's job panel hands each pushed state to update() and the history and
// parallel coordinates are redrawn (at most every LIVE_MS); importances are computed when a worker leaves.
// Reads /api/search-jobs/; writes POST /api/search-jobs/ and /api/search-jobs/<id>/train-best/.
import { api } from "../shared/api.js";
import { barChart, lineChart } from "../shared/charts.js";
import { FINAL } from "../shared/job_progress.js";
import { h, toast } from "../shared/ui.js";

const SVG = "http://www.w3.org/2000/svg";
const LIVE_MS = 2000;  // the fewest milliseconds between two live redraws of the shown job

function svg(tag, attrs = {}, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, value);
  if (text !== undefined) element.textContent = text;
  return element;
}

const finished = (history) => history.filter((t) => t.state === "COMPLETE" && Number.isFinite(t.value));

/** Every trial known of a job: the live rows of its progress joined, by number, with the summary's history
 * (written when a worker leaves; its rows win), in number order. */
export function searchHistory(job) {
  const rows = new Map();
  for (const t of job.progress?.trials || []) rows.set(t.number, t);
  for (const t of job.progress?.summary?.history || []) rows.set(t.number, t);
  return [...rows.values()].sort((a, b) => a.number - b.number);
}

/** Trial values over trial number and the running best (a line per series; trials in number order). */
export function historyChart(history, objective) {
  const done = finished(history).sort((a, b) => a.number - b.number);
  let best = -Infinity;
  const bestPoints = done.map((t) => { best = Math.max(best, t.value); return [t.number, best]; });
  return lineChart([
    { name: "trial", colour: "#9aa7b8", points: done.map((t) => [t.number, t.value]) },
    { name: "best", colour: "#2d7d46", points: bestPoints },
  ], { label: `Optimisation history (${objective})`, xLabel: "trial", yLabel: objective, width: 460 });
}

/** Parameter importances as bars (largest first). */
export function importanceChart(importances) {
  const data = Object.entries(importances || {}).sort((a, b) => b[1] - a[1])
    .map(([label, value]) => ({ label, value: Math.round(value * 1000) / 1000 }));
  return barChart(data, { label: "Parameter importances", width: Math.max(260, 70 * data.length + 40) });
}

/** One polyline per complete trial across the parameters' axes (numbers scaled to their range, log when
 * the range spans decades; categories spread evenly), coloured from low (grey) to high (green) value. */
export function parallelChart(history, params) {
  const trials = finished(history);
  const width = Math.max(320, 110 * params.length + 60);
  const height = 220;
  const pad = { left: 40, right: 40, top: 24, bottom: 28 };
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
    "aria-label": "Parallel coordinates of the trials", class: "chart parallel" });
  if (!trials.length || !params.length) {
    root.append(svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "muted" }, "No complete trial yet"));
    return root;
  }
  const span = height - pad.top - pad.bottom;
  const x = (i) => pad.left + (params.length === 1 ? 0 : (i * (width - pad.left - pad.right)) / (params.length - 1));
  const axes = params.map((name) => {
    const values = trials.map((t) => t.params[name]).filter((v) => v !== undefined);
    const numeric = values.length && values.every((v) => typeof v === "number");
    if (!numeric) {
      const choices = [...new Set(values.map(String))].sort();
      return { name, at: (v) => (choices.length < 2 ? 0.5 : choices.indexOf(String(v)) / (choices.length - 1)), ticks: choices };
    }
    const log = Math.min(...values) > 0 && Math.max(...values) / Math.min(...values) > 20;
    const f = (v) => (log ? Math.log10(v) : v);
    const [lo, hi] = [Math.min(...values.map(f)), Math.max(...values.map(f))];
    const fmt = (v) => (Math.abs(v) >= 100 ? String(Math.round(v)) : Number(v.toPrecision(2)).toString());
    return { name, at: (v) => (hi === lo ? 0.5 : (f(v) - lo) / (hi - lo)), ticks: [fmt(Math.min(...values)), fmt(Math.max(...values))] };
  });
  const ys = (t) => (t === null ? null : pad.top + span * (1 - t));
  const vals = trials.map((t) => t.value);
  const [vlo, vhi] = [Math.min(...vals), Math.max(...vals)];
  axes.forEach((axis, i) => {
    root.append(svg("line", { x1: x(i), y1: pad.top, x2: x(i), y2: height - pad.bottom, class: "axis" }));
    root.append(svg("text", { x: x(i), y: height - 8, "text-anchor": "middle", class: "tick" }, axis.name.replace("model_kwargs.", "")));
    root.append(svg("text", { x: x(i) + 3, y: pad.top - 6, class: "tick" }, axis.ticks[axis.ticks.length - 1]));
    root.append(svg("text", { x: x(i) + 3, y: height - pad.bottom + 12, class: "tick" }, axis.ticks[0]));
  });
  for (const trial of trials.sort((a, b) => a.value - b.value)) {  // the best drawn last, on top
    const t = vhi === vlo ? 1 : (trial.value - vlo) / (vhi - vlo);
    const points = axes.map((axis, i) => (trial.params[axis.name] === undefined ? null : `${x(i).toFixed(1)},${ys(axis.at(trial.params[axis.name])).toFixed(1)}`))
      .filter(Boolean).join(" ");
    const line = svg("polyline", { points, fill: "none", stroke: `hsl(${140 * t}, 55%, ${60 - 25 * t}%)`,
      "stroke-width": 1.5 + t, class: "trial", "data-trial": String(trial.number) });
    line.append(svg("title", {}, `trial ${trial.number}: ${trial.value.toFixed(3)}`));
    root.append(line);
  }
  return root;
}

/** The panel of one search job: counts, best, the three plots and "Train best". A running job's plots are
 * drawn from its live trials; its importances wait for the summary (the final one when the job has ended). */
export function searchPanel(job, { onTrainBest } = {}) {
  const summary = job.progress?.summary;
  const progress = job.progress || {};
  const live = !FINAL.has(job.status);
  const head = h("p", {}, `Search job ${job.id} (${job.status}): ${progress.step ?? 0}/${progress.steps ?? job.parameters?.trials ?? "?"} trials`,
    Number.isFinite(progress.best_value) ? `, best ${job.parameters?.objective || "value"} ${progress.best_value.toFixed(3)}` : "");
  const note = live ? h("p.muted.search-live", {}, "Live: the history and the parallel coordinates follow each finished "
    + "trial; the importances and the best configuration to train are final when the search ends.") : null;
  const history = searchHistory(job);
  if (!history.length) return h("div.search-panel", { dataset: { job: String(job.id) } }, head, note, h("p.muted", {}, "No trial finished yet."));
  const params = [...new Set(history.flatMap((t) => Object.keys(t.params || {})))];
  const best = live ? finished(history).reduce((a, t) => (a && a.value >= t.value ? a : t), null) : summary?.best;
  const importances = summary?.importances && Object.keys(summary.importances).length
    ? h("figure", {}, importanceChart(summary.importances),
      h("figcaption", {}, `Importances (${summary.importance_method || ""}${live ? ", when a worker left" : ""})`))
    : h("figure", {}, h("p.muted", {}, live ? "Computed when the search ends." : "None computed."), h("figcaption", {}, "Importances"));
  const train = h("button", { type: "button", disabled: !best || job.status !== "succeeded",
    "aria-label": `Train the best configuration of search ${job.id}`,
    onclick: async () => {
      train.disabled = true;
      try {
        const training = await api(`search-jobs/${job.id}/train-best/`, { method: "POST" });
        toast(`Training job ${training.id} queued with trial ${best.number}'s configuration.`, "success");
        onTrainBest?.(training);
      } catch (error) {
        toast(error.message || String(error), "error");
      } finally {
        train.disabled = false;
      }
    } }, "Train best");
  return h("div.search-panel", { dataset: { job: String(job.id) } }, head, note,
    best ? h("p.muted", {}, `Best${live ? " so far" : ""}: trial ${best.number}, ${Object.entries(best.params).map(([k, v]) => `${k}=${typeof v === "number" ? Number(v.toPrecision(3)) : v}`).join(", ")}`) : null,
    h("div.search-plots", {},
      h("figure", {}, historyChart(history, job.parameters?.objective || "value"), h("figcaption", {}, "Optimisation history")),
      importances,
      h("figure", {}, parallelChart(history, params), h("figcaption", {}, "Parallel coordinates"))),
    train);
}

/** The dashboard's search card: a small form (objective, trials, workers, wall time) and the panel of the
 * newest search job (a selector picks an older one). `onSubmitted(job)` follows a new search; `onLive(job)`
 * hears that the shown job is still running (the dashboard follows it, and hands its states to update()).
 * Returns {element, refresh, update}. */
export function searchSection({ onSubmitted, onTrainBest, onLive } = {}) {
  const host = h("section.card.searches", { "aria-labelledby": "search-title" });
  const panelHost = h("div");
  let jobs = [];
  let drawnAt = 0;
  let pending = null;  // the timer of a throttled live redraw
  const objective = h("select", { name: "objective", "aria-label": "Search objective" },
    h("option", { value: "kappa" }, "quadratic κ"), h("option", { value: "f1" }, "weighted F1"));
  const trials = h("input", { type: "number", name: "trials", min: 1, max: 500, value: 20, "aria-label": "Trials" });
  const workers = h("input", { type: "number", name: "workers", min: 1, max: 8, value: 1, "aria-label": "Workers" });
  const hours = h("input", { type: "number", name: "hours", min: 0.1, step: 0.1, value: 1, "aria-label": "Wall-time budget (hours)" });
  const chooser = h("select", { "aria-label": "Search job shown", onchange: () => show(Number(chooser.value)) });
  const form = h("form.search-form", {
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        const job = await api("search-jobs/", { method: "POST", body: { kind: "embedding", objective: objective.value,
          trials: Number(trials.value), workers: Number(workers.value), max_time_s: Number(hours.value) * 3600 } });
        toast(`Search job ${job.id} queued.`, "success");
        onSubmitted?.(job);
        await refresh();
      } catch (error) {
        toast(error.message || String(error), "error");
      }
    } },
  h("label", {}, "Objective ", objective), h("label", {}, "Trials ", trials), h("label", {}, "Workers ", workers),
  h("label", {}, "Hours ", hours), h("button", { type: "submit" }, "Start search"));

  function show(id) {
    const job = jobs.find((j) => j.id === id) || jobs[0];
    clearTimeout(pending);
    pending = null;
    drawnAt = Date.now();
    const focused = panelHost.contains(document.activeElement) ? document.activeElement.getAttribute("aria-label") : null;
    panelHost.replaceChildren(job ? searchPanel(job, { onTrainBest }) : h("p.muted", {}, "No search yet."));
    if (focused) panelHost.querySelector(`[aria-label='${focused}']`)?.focus();
    if (job && !FINAL.has(job.status)) onLive?.(job);
  }

  /** A pushed state of a search job (its panel's update): remembered, its selector entry relabelled, and the
   * panel redrawn when it is the one shown, at most every LIVE_MS (the latest state wins). The choice of job
   * stays; a job not listed yet waits for refresh(). */
  function update(state) {
    const index = jobs.findIndex((j) => j.id === state.id);
    if (index < 0) return;
    jobs[index] = { ...jobs[index], ...state };
    const option = [...chooser.options].find((o) => o.value === String(state.id));
    if (option) option.textContent = `search ${state.id} (${jobs[index].status})`;
    if ((Number(chooser.value) || jobs[0]?.id) !== state.id) return;
    const wait = drawnAt + LIVE_MS - Date.now();
    if (wait <= 0) show(state.id);
    else if (!pending) pending = setTimeout(() => show(Number(chooser.value)), wait);
  }

  async function refresh() {
    const shown = Number(chooser.value) || null;
    jobs = await api("search-jobs/");
    chooser.replaceChildren(...jobs.map((j) => h("option", { value: String(j.id) }, `search ${j.id} (${j.status})`)));
    if (shown && jobs.some((j) => j.id === shown)) chooser.value = String(shown);
    show(Number(chooser.value));
  }

  host.append(h("h2", { id: "search-title" }, "Hyper-parameter search"),
    h("p.muted", {}, "An Optuna study over the embedding recipe: patient-level CV, pruned fold by fold."),
    form, chooser, panelHost);
  return { element: host, refresh, update };
}

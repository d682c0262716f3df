// Admin dashboard: dataset statistics, jobs (training and scoring: start, follow live, cancel, where a
// queued one waits) and model versions. The jobs table and the live panels show the same job state: a
// panel's every update redraws the job's row, and the table re-reads /api/jobs/ while any job is pending.
// A search job the search card shows is followed while it runs: its panel's updates redraw the card's plots.
// Reads: /api/viewer/dashboard/{stats,training-options}/, /api/jobs/, /api/model-versions/,
// /api/model-activations/;
// writes go to the modelling API.
import { api } from "../shared/api.js";
import { fail, formatDate, h, ready, toast } from "../shared/ui.js";
import { FINAL, fraction, jobLabel, jobPanel, queueText } from "../shared/job_progress.js";
import { searchSection } from "./search.js";
import { statsView } from "./stats.js";
import { trainingForm } from "./training.js";
import { versionsView } from "./versions.js";

const app = document.getElementById("app");
const statsHost = h("div");
const jobsHost = h("section.card.jobs", { "aria-labelledby": "jobs-title" });
const liveHost = h("div.live");
const versionsHost = h("div");
const searches = searchSection({
  onSubmitted: (job) => { watch(job.id); refreshJobs().catch(report); },
  onTrainBest: (job) => { watch(job.id); refreshJobs().catch(report); },
  onLive: (job) => watch(job.id, { scroll: false }),
});
const panels = new Map();  // job id → the live panel following it
const jobs = new Map();  // job id → its latest state (GET /api/jobs/ or a panel's update), newest first
const REFRESH_MS = { pending: 3000, idle: 20000 };
let refreshTimer = null;

async function refreshStats() {
  statsHost.replaceChildren(statsView(await api("viewer/dashboard/stats/")));
}

async function refreshVersions() {
  const [versions, activations] = await Promise.all([api("model-versions/"), api("model-activations/")]);
  versionsHost.replaceChildren(versionsView(versions, activations, { onChange: () => Promise.all([refreshVersions(), refreshJobs()]).catch(report) }));
}

function report(error) {
  toast(error.message || String(error), "error");
}

function watch(id, { scroll = true } = {}) {
  if (panels.has(id)) {
    if (scroll) panels.get(id).element.scrollIntoView();
    return;
  }
  const panel = jobPanel(id, {
    onUpdate: (job) => {
      showJob(job);
      if (job.job_type === "search") searches.update(job);
    },
    onFinal: (job) => {
      if (job.job_type === "search") searches.refresh().catch(report);
      toast(`Job ${job.id} ${job.status}.`, job.status === "succeeded" ? "success" : job.status === "failed" ? "error" : "info");
      Promise.all([refreshJobs(), refreshVersions(), refreshStats()]).catch(report);
    },
  });
  panels.set(id, panel);
  liveHost.prepend(panel.element);
}

async function cancel(job) {
  try {
    const updated = await api(`jobs/${job.id}/cancel/`, { method: "POST" });
    toast(`Job ${job.id}: ${updated.status}.`, "info");
    panels.get(job.id)?.render(updated);
    await refreshJobs();
  } catch (error) {
    toast(`Could not cancel job ${job.id}: ${error.message}`, "error");
  }
}

function jobRow(job) {
  const waiting = queueText(job);
  return h("tr", { dataset: { job: String(job.id), status: job.status } },
    h("th", { scope: "row" }, String(job.id)), h("td", {}, jobLabel(job)),
    h("td", {}, h(`span.badge.status-${job.status}`, {}, job.status), waiting ? h("div.muted.queue-note", {}, waiting) : null),
    h("td", {}, h("progress", { max: 1, value: fraction(job), "aria-label": `Progress of job ${job.id}` })),
    h("td", {}, job.created_at ? formatDate(job.created_at) : ""),
    h("td", {}, job.model_version ? `v${job.model_version}` : ""),
    h("td.actions", {},
      h("button", { type: "button", "aria-label": `Follow job ${job.id}`, onclick: () => watch(job.id) }, "Follow"),
      FINAL.has(job.status) ? null : h("button.danger", { type: "button", "aria-label": `Cancel job ${job.id}`, onclick: () => cancel(job) }, "Cancel")));
}

/** One job's new state (from a panel): merged into what the table knows and its row redrawn in place. */
function showJob(state) {
  const known = jobs.get(state.id);
  if (!known) return;  // not in the table (older than its first page)
  const job = { ...known, ...state };
  jobs.set(job.id, job);
  const row = jobsHost.querySelector(`tr[data-job='${job.id}']`);
  if (row && (row.dataset.status !== job.status || !FINAL.has(job.status))) {
    const focused = row.contains(document.activeElement) ? document.activeElement.getAttribute("aria-label") : null;
    const next = jobRow(job);
    row.replaceWith(next);
    if (focused) next.querySelector(`[aria-label='${focused}']`)?.focus();  // keyboard users keep their place
  }
}

function drawJobs() {
  const list = [...jobs.values()].slice(0, 30);
  const focused = jobsHost.contains(document.activeElement) ? document.activeElement.getAttribute("aria-label") : null;
  jobsHost.replaceChildren(h("h2", { id: "jobs-title" }, "Jobs"),
    h("p.muted", {}, "Training and scoring run one job at a time each; a queued job says what it waits for."),
    list.length ? h("table.compact", {}, h("thead", {}, h("tr", {}, ["Job", "What", "Status", "Progress", "Created", "Model", ""]
      .map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, list.map(jobRow))) : h("p.muted", {}, "No job yet."));
  if (focused) jobsHost.querySelector(`[aria-label='${focused}']`)?.focus();
}

async function refreshJobs() {
  const list = await api("jobs/");
  jobs.clear();
  for (const job of list) jobs.set(job.id, job);
  drawJobs();
  clearTimeout(refreshTimer);
  const pending = list.some((job) => !FINAL.has(job.status));
  refreshTimer = setTimeout(() => refreshJobs().catch(report), pending ? REFRESH_MS.pending : REFRESH_MS.idle);
}

async function start() {
  const [options, stats] = await Promise.all([api("viewer/dashboard/training-options/"), api("viewer/dashboard/stats/")]);
  statsHost.replaceChildren(statsView(stats));
  const form = trainingForm(options, stats.labels_per_annotator, {
    onSubmitted: (job) => {
      toast(`Job ${job.id} queued.`, "success");
      watch(job.id);
      refreshJobs().catch(report);
    },
  });
  app.replaceChildren(h("h1", {}, "Dashboard"),
    h("p", {}, h("a", { href: "/assignments/" }, "Assignments"), " — give annotators and validators their videos, see their workload."),
    statsHost,
    h("div.train-row", {}, h("section.card", {}, form), h("div.train-side", {}, liveHost, jobsHost)), searches.element,
    versionsHost);
  await Promise.all([refreshJobs(), refreshVersions(), searches.refresh()]);
  const linked = Number(new URLSearchParams(location.search).get("job"));  // /dashboard/?job=N follows job N
  if (linked) watch(linked);
  ready();
}

start().catch(fail);

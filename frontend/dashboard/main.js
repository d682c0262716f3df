// Admin dashboard: dataset statistics, training jobs (start, follow live, cancel) and model versions.
// Reads: /api/viewer/dashboard/{stats,training-options}/, /api/jobs/, /api/model-versions/,
// /api/model-activations/;
// writes go to the modelling API.
import { api } from "../shared/api.js";
import { fail, formatDate, h, ready, toast } from "../shared/ui.js";
import { FINAL, fraction, jobPanel } from "../shared/job_progress.js";
import { statsView } from "./stats.js";
import { trainingForm } from "./training.js";
import { versionsView } from "./versions.js";

const app = document.getElementById("app");
const statsHost = h("div");
const jobsHost = h("section.card.jobs", { "aria-labelledby": "jobs-title" });
const liveHost = h("div.live");
const versionsHost = h("div");
const panels = new Map();  // job id → the live panel following it

async function refreshStats() {
  statsHost.replaceChildren(statsView(await api("viewer/dashboard/stats/")));
}

async function refreshVersions() {
  const [versions, activations] = await Promise.all([api("model-versions/"), api("model-activations/")]);
  versionsHost.replaceChildren(versionsView(versions, activations, { onChange: () => refreshVersions().catch(report) }));
}

function report(error) {
  toast(error.message || String(error), "error");
}

function watch(id) {
  if (panels.has(id)) {
    panels.get(id).element.scrollIntoView();
    return;
  }
  const panel = jobPanel(id, {
    onFinal: (job) => {
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

async function refreshJobs() {
  const jobs = await api("jobs/");
  const rows = jobs.slice(0, 30).map((job) => h("tr", { dataset: { job: String(job.id) } },
    h("th", { scope: "row" }, String(job.id)), h("td", {}, job.kind),
    h("td", {}, h(`span.badge.status-${job.status}`, {}, job.status)),
    h("td", {}, h("progress", { max: 1, value: fraction(job), "aria-label": `Progress of job ${job.id}` })),
    h("td", {}, formatDate(job.created_at)),
    h("td", {}, job.model_version ? `v${job.model_version}` : ""),
    h("td.actions", {},
      h("button", { type: "button", "aria-label": `Follow job ${job.id}`, onclick: () => watch(job.id) }, "Follow"),
      FINAL.has(job.status) ? null : h("button.danger", { type: "button", "aria-label": `Cancel job ${job.id}`, onclick: () => cancel(job) }, "Cancel"))));
  jobsHost.replaceChildren(h("h2", { id: "jobs-title" }, "Training jobs"),
    jobs.length ? h("table.compact", {}, h("thead", {}, h("tr", {}, ["Job", "Kind", "Status", "Progress", "Created", "Model", ""]
      .map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows)) : h("p.muted", {}, "No job yet."));
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
    h("div.train-row", {}, h("section.card", {}, form), h("div.train-side", {}, liveHost, jobsHost)), versionsHost);
  await Promise.all([refreshJobs(), refreshVersions()]);
  ready();
}

start().catch(fail);

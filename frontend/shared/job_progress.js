// Live progress of one job (training or scoring), on the viewer's dashboard and on the Django admin's
// training-job page (platform/templates/admin/modelling/trainingjob/change_form.html; styles in
// job_progress.css): the websocket /ws/jobs/<id>/ pushes the job's state (see modelling/progress.py:
// {type: "job", job: {id, job_type, kind, status, queue, progress, error, model_version, log_tail}}); when
// the socket cannot be opened or drops, GET /api/jobs/<id>/ is polled instead until the job ends. The job
// row is the one state: whoever shows a job (the panel, the dashboard's table) renders what it says.
import { api } from "./api.js";
import { lineChart } from "./charts.js";
import { h } from "./ui.js";

export const FINAL = new Set(["succeeded", "failed", "cancelled"]);
const POLL_MS = 1500;

/** 0..1 through the run: epochs done plus the current epoch's share of steps (scoring: videos done). */
export function fraction(job) {
  if (job.status === "succeeded") return 1;
  const p = job.progress || {};
  if (job.job_type === "scoring" || job.job_type === "search") return p.steps ? Math.min(1, (p.step || 0) / p.steps) : 0;
  if (!p.epoch || !p.epochs) return 0;
  return Math.min(1, ((p.epoch - 1) + (p.steps ? p.step / p.steps : 0)) / p.epochs);
}

function ordinal(n) {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? "th" : ({ 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th");
  return `${n}${suffix}`;
}

/** Where a queued job stands: "2nd in the training queue, waiting for job #12" (empty once it runs). */
export function queueText(job) {
  const q = job.queue;
  if (job.status !== "queued" || !q) return "";
  return `${ordinal(q.position)} in the ${q.queue} queue, `
    + (q.waiting_for ? `waiting for job #${q.waiting_for}` : "waiting for a worker");
}

/** What a job is, in a few words: "training frame_scorer", "scoring embedding", "scoring every model". */
export function jobLabel(job) {
  if (job.job_type === "search") return `search ${job.kind}`;
  return job.job_type === "scoring" ? `scoring ${job.kind || "every active model"}` : `training ${job.kind}`;
}

/** A panel that follows job `id`; onUpdate(job) hears every state, onFinal(job) once when it ends.
 * Returns {element, stop, render}. */
export function jobPanel(id, { onFinal, onUpdate } = {}) {
  const bar = h("progress", { max: 1, value: 0, "aria-label": `Progress of job ${id}` });
  const status = h("span.badge", { "data-field": "status" }, "connecting");
  const channel = h("span.muted", { "data-field": "channel" }, "");
  const summary = h("p", { "aria-live": "polite" });
  const charts = h("div.chart-row");
  const what = h("span.muted", { "data-field": "what" });
  const log = h("pre.log", { tabindex: "0", "aria-label": "Job log" });
  const element = h("section.card.job-panel", { "aria-labelledby": `job-${id}-title`, dataset: { job: String(id) } },
    h("h3", { id: `job-${id}-title` }, `Job ${id} `, what, status, " ", channel), bar, summary, charts, log);
  const running = [];  // live running-loss points: the aggregator reports no per-epoch history
  let socket = null;
  let timer = null;
  let done = false;

  function render(job) {
    const p = job.progress || {};
    status.textContent = job.status;
    status.className = `badge status-${job.status}`;
    if (job.job_type) what.textContent = `${jobLabel(job)} `;
    // No loss curves for scoring and searches: the bar and the count say it all (the search card draws the trials).
    charts.style.display = job.job_type === "scoring" || job.job_type === "search" ? "none" : "";
    bar.value = fraction(job);
    if (job.error) summary.textContent = job.error.split("\n")[0];
    else if (job.status === "queued") summary.textContent = queueText(job) || "queued, waiting for a worker";
    else if (job.job_type === "scoring") {
      summary.textContent = `${jobLabel(job)}: ${p.step || 0} of ${p.steps || 0} videos`
        + (p.model ? ` (${p.model})` : "") + (typeof p.rows === "number" ? `, ${p.rows} predictions written` : "");
    } else if (job.job_type === "search") {
      summary.textContent = `${jobLabel(job)}: ${p.step || 0} of ${p.steps || 0} trials finished`
        + (typeof p.best_value === "number" ? `, best so far ${p.best_value.toFixed(3)} (trial ${p.best_trial})` : "");
    } else if (p.epoch) {
      summary.textContent = `epoch ${p.epoch}/${p.epochs}, step ${p.step}/${p.steps}`
        + (typeof p.loss === "number" ? `, loss ${p.loss.toFixed(4)}` : "")
        + (p.resumed_from_epoch ? ` (resumed after epoch ${p.resumed_from_epoch})` : "")
        + (job.model_version ? ` → model version ${job.model_version}` : "");
    } else summary.textContent = job.status;
    if (typeof p.loss === "number" && p.epoch) {
      const x = (p.epoch - 1) + (p.steps ? p.step / p.steps : 1);
      if (!running.length || running[running.length - 1][0] < x) running.push([x, p.loss]);
    }
    drawCharts(p.history || []);
    if (job.log_tail) log.textContent = job.log_tail;
    onUpdate?.(job);
    if (FINAL.has(job.status) && !done) {
      done = true;
      stop();
      onFinal?.(job);
    }
  }

  function drawCharts(history) {
    const series = (key, name, colour) => ({ name, colour, points: history.filter((r) => typeof r[key] === "number").map((r) => [r.epoch, r[key]]) });
    const loss = [series("train_loss", "train loss", "#d62728"), series("val_loss", "val loss", "#9467bd"),
      { name: "running", colour: "#f2a0a0", points: running }].filter((s) => s.points.length);
    const quality = [series("train_accuracy", "train acc.", "#1f77b4"), series("val_accuracy", "val acc.", "#2ca02c"),
      series("val_f1_weighted", "val F1", "#ff7f0e")].filter((s) => s.points.length);
    charts.replaceChildren(
      h("figure.chart-card", {}, h("figcaption", {}, "Loss"), lineChart(loss, { label: `Loss curves of job ${id}`, xLabel: "epoch", width: 370 })),
      h("figure.chart-card", {}, h("figcaption", {}, "Metrics"), lineChart(quality, { label: `Metric curves of job ${id}`, xLabel: "epoch", width: 370 })));
  }

  async function poll() {
    if (done) return;
    channel.textContent = "(polling)";
    try {
      render(await api(`jobs/${id}/`));
    } catch (error) {
      summary.textContent = `Cannot read the job (${error.message}); trying again.`;
    }
    if (!done) timer = setTimeout(poll, POLL_MS);
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    try {
      socket = new WebSocket(`${scheme}://${location.host}/ws/jobs/${id}/`);
    } catch {
      poll();
      return;
    }
    socket.onopen = () => { channel.textContent = "(live)"; };
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "job") render(message.job);
    };
    socket.onclose = () => { socket = null; if (!done) poll(); };  // the fallback: poll until the job ends
  }

  function stop() {
    clearTimeout(timer);
    if (socket) { socket.onclose = null; socket.close(); socket = null; }
    channel.textContent = "";
  }

  drawCharts([]);
  connect();
  return { element, stop, render };
}

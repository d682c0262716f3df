// Agreement reports: the list (GET /api/agreement-reports/), a form to request one, and the chosen
// report's statistics; a new or recomputing report is polled until the worker marks it ready or failed.
import { api, query } from "../shared/api.js";
import { fail, formatDate, h, ready, toast } from "../shared/ui.js";
import { reportForm } from "./form.js";
import { reportView, scopeText } from "./report.js";

const POLL_MS = 1000;
const WAITING = new Set(["queued", "running"]);
const params = new URLSearchParams(location.search);
const state = { reports: [], chosen: Number(params.get("report")) || null };
const app = document.getElementById("app");
const listHost = h("section.card.reports", { "aria-labelledby": "reports-title" });
const viewHost = h("div.report-host", {}, h("p.muted", {}, "Choose a report, or create one."));
let pollTimer = null;

function choose(id, { focus = true } = {}) {
  state.chosen = id;
  history.replaceState(null, "", `${location.pathname}${query({ report: id })}`);
  renderList();
  const report = state.reports.find((r) => r.id === id);
  if (report) viewHost.replaceChildren(reportView(report));
  if (focus) viewHost.querySelector("h2")?.focus();
  schedulePoll();
}

function renderList() {
  listHost.replaceChildren(h("h2", { id: "reports-title" }, "Reports"),
    state.reports.length ? h("ul.report-list", {}, state.reports.map((r) => h("li", {}, h("button.report-item", {
      type: "button", "aria-current": r.id === state.chosen ? "true" : null, onclick: () => choose(r.id),
    }, h("strong", {}, `#${r.id} `), h(`span.badge.status-${r.status}`, {}, r.status), r.stale ? h("span.badge.stale", {}, "stale") : "",
    h("span.scope", {}, scopeText(r.scope)), h("span.muted", {}, formatDate(r.created_at))))))
      : h("p.muted", {}, "No report yet."));
}

/** Poll the reports that are still being computed; redraw the chosen one when it changes. */
function schedulePoll() {
  clearTimeout(pollTimer);
  const waiting = state.reports.filter((r) => WAITING.has(r.status));
  if (!waiting.length) return;
  pollTimer = setTimeout(async () => {
    try {
      for (const old of waiting) {
        const fresh = await api(`agreement-reports/${old.id}/`);
        state.reports = state.reports.map((r) => (r.id === fresh.id ? fresh : r));
        if (fresh.status !== old.status && fresh.id === state.chosen) viewHost.replaceChildren(reportView(fresh));
        if (fresh.status === "failed") toast(`Report ${fresh.id} failed.`, "error");
      }
      renderList();
    } catch (error) {
      toast(`Could not refresh the reports (${error.message}); trying again.`, "error");
    }
    schedulePoll();
  }, POLL_MS);
}

async function start() {
  const [options, reports] = await Promise.all([api("viewer/agreement/options/"), api("agreement-reports/")]);
  state.reports = reports;
  const form = reportForm(options, {
    onCreated: (report) => {
      toast(`Report ${report.id} requested.`, "success");
      state.reports = [report, ...state.reports];
      choose(report.id);
    },
  });
  app.replaceChildren(h("h1", {}, "Agreement"), h("div.agreement-layout", {},
    h("div.side", {}, h("section.card", {}, form), listHost), viewHost));
  renderList();
  if (state.chosen) choose(state.chosen, { focus: false });
  schedulePoll();
  ready();
}

start().catch(fail);

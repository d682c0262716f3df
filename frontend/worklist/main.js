// Worklist: the videos I work on with my progress; filters and sorting run on the server
// (GET /api/viewer/worklist/), so a worklist of thousands of videos stays one small page at a time.
import { api, apiAll, boot, query } from "../shared/api.js";
import { fail, h, ready, toast } from "../shared/ui.js";
import { labelNext } from "./label_next.js";
import { worklistTable } from "./table.js";

const PAGE = 50;
const ZONES = ["L1", "L2", "L3", "R1", "R2", "R3",
  ...Array.from({ length: 14 }, (_, i) => `Z${String(i + 1).padStart(2, "0")}`)];
const STATUSES = [["not_started", "Not started"], ["in_progress", "In progress"], ["done", "Done"]];
const reviewer = boot.user.role === "validator" || boot.user.role === "admin" ? boot.user.role : false;
// Validators start on what is ready for their level; "All" is then written as status=all in the URL.
const DEFAULT_STATUS = boot.user.role === "validator" ? "ready" : "";
const FILTERS = ["search", "site", "patient", "lung_zone", "probe", "status", "assignee"];

// Filters, sort and page live in the URL, so reload and Back keep them.
const params = new URLSearchParams(location.search);
const state = { ordering: params.get("ordering") || "video", offset: Number(params.get("offset")) || 0 };
for (const key of FILTERS) state[key] = params.get(key) || "";
if (!params.has("status")) state.status = DEFAULT_STATUS;

const app = document.getElementById("app");
let inFlight = null;

function select(name, label, options, { onchange, all = "" } = {}) {
  const element = h("select", { id: `filter-${name}`, name },
    h("option", { value: all }, "All"),
    options.map(([value, text]) => h("option", { value: String(value) }, text)));
  element.value = state[name];
  element.addEventListener("change", () => { state[name] = element.value; onchange?.(); reload(); });
  return h("div.field", {}, h("label", { for: element.id }, label), element);
}

function syncUrl() {
  const shown = {};
  for (const key of [...FILTERS, "ordering", "offset"]) {
    if (state[key] && !(key === "ordering" && state[key] === "video") && !(key === "offset" && !state[key])
      && !(key === "status" && state[key] === DEFAULT_STATUS)) {
      shown[key] = state[key];
    }
  }
  history.replaceState(null, "", `${location.pathname}${query(shown)}`);
}

function reload({ keepOffset = false } = {}) {
  if (!keepOffset) state.offset = 0;
  syncUrl();
  return load();
}

async function patientOptions() {
  const patients = await apiAll(`patients/${query({ site: state.site, limit: 500 })}`);
  return patients.map((p) => [p.id, p.code]);
}

async function renderToolbar() {
  const [sites, patients, people] = await Promise.all([
    apiAll("sites/?limit=500"), patientOptions(), reviewer ? api("viewer/worklist/assignees/") : [],
  ]);
  const search = h("input", { id: "filter-search", type: "search", value: state.search, placeholder: "file or patient" });
  let timer;
  search.addEventListener("input", () => {
    clearTimeout(timer);  // one request per pause in typing, not per key
    timer = setTimeout(() => { state.search = search.value.trim(); reload(); }, 300);
  });
  const patientField = select("patient", "Patient", patients);
  const siteField = select("site", "Site", sites.map((s) => [s.id, s.name]), {
    onchange: async () => {  // a site narrows the patient list
      state.patient = "";
      patientField.replaceWith(select("patient", "Patient", await patientOptions()));
    },
  });
  const fields = [
    h("div.field", {}, h("label", { for: "filter-search" }, "Search"), search),
    siteField, patientField,
    select("lung_zone", "Lung zone", ZONES.map((z) => [z, z])),
    select("probe", "Probe", [["convex", "Convex"], ["linear", "Linear"]]),
    select("status", "Status", reviewer ? [["ready", "Ready for my level"], ...STATUSES] : STATUSES,
      { all: DEFAULT_STATUS ? "all" : "" }),
  ];
  if (reviewer) fields.push(select("assignee", "Assignee", people.map((p) => [p.id, p.username])));
  const clear = h("button", { type: "button", onclick: () => {
    for (const key of FILTERS) state[key] = "";
    state.status = DEFAULT_STATUS;
    renderToolbar().then(() => reload());
  } }, "Clear filters");
  const bar = h("form.toolbar.filters", { role: "search", "aria-label": "Filter videos", onsubmit: (e) => e.preventDefault() },
    fields, clear);
  document.getElementById("filters").replaceWith(Object.assign(bar, { id: "filters" }));
}

function pager(count) {
  const first = count ? state.offset + 1 : 0;
  const last = Math.min(state.offset + PAGE, count);
  const move = (delta) => { state.offset = Math.max(0, state.offset + delta); reload({ keepOffset: true }); };
  return h("nav.pager", { "aria-label": "Pages" },
    h("span", { "aria-live": "polite" }, count ? `Videos ${first}–${last} of ${count}` : "No videos match"),
    h("button", { type: "button", disabled: state.offset === 0, onclick: () => move(-PAGE) }, "Previous"),
    h("button", { type: "button", disabled: last >= count, onclick: () => move(PAGE) }, "Next"));
}

async function load() {
  inFlight?.abort();  // a newer filter wins over a slower older answer
  inFlight = new AbortController();
  const { ordering, offset } = state;
  const filters = Object.fromEntries(FILTERS.map((key) => [key, key === "status" && state[key] === "all" ? "" : state[key]]));
  const results = document.getElementById("results");
  results.setAttribute("aria-busy", "true");
  try {
    const page = await api(`viewer/worklist/${query({ ...filters, ordering, offset, limit: PAGE })}`,
      { signal: inFlight.signal });
    const table = worklistTable(page.results, {
      ordering: state.ordering, reviewer,
      onSort: (key) => {
        state.ordering = state.ordering === key ? `-${key}` : key;
        reload({ keepOffset: false }).then(() => document.querySelector(`th button[data-sort="${key}"]`)?.focus());
      },
    });
    results.replaceChildren(table, pager(page.count));
  } catch (error) {
    if (error.name === "AbortError") return;
    results.replaceChildren(h("p.error", { role: "alert" }, `Could not load the worklist: ${error.message}`),
      h("button", { type: "button", onclick: () => load() }, "Retry"));
    toast(`Worklist: ${error.message}`, "error");
  } finally {
    results.setAttribute("aria-busy", "false");
  }
}

async function start() {
  const who = reviewer === "validator"
    ? "Videos with labels below your level that you have not finished validating (Status: All shows every video); "
      + "pick an assignee to see their progress. Enter opens the validate page."
    : reviewer ? "Every video; pick an assignee to see their progress. Progress shown is that person's (or yours)."
    : "The videos assigned to you and how far you are with each.";
  app.replaceChildren(...[
    h("h1", {}, "Worklist"),
    h("p.muted", {}, who, " ", h("span.hint", {}, "Tab to a row, ", h("kbd", {}, "Enter"), " opens it; ",
      h("kbd", {}, "↑"), h("kbd", {}, "↓"), " move between rows.")),
    boot.user.role === "annotator" ? labelNext() : null,
    h("div", { id: "filters" }),
    h("div", { id: "results", "aria-live": "polite" })].filter(Boolean));
  await renderToolbar();
  await load();
  ready();
}

start().catch(fail);

// Assignments (admins): filter videos (site, patient, BLUE zone, status), select all matching or some,
// pick annotators/validators, Assign / Unassign; the workload table shows per person assigned and done.
// Reads GET /api/viewer/assignments/, writes POST /api/viewer/assignments/ (studies.services underneath).
// The filters live in the page's URL (a reload or a shared link keeps them); the zone filter lists only the
// BLUE zones that have videos (of the chosen site and patient), with their counts, as the API reports them.
import { api, apiAll, query } from "../shared/api.js";
import { fail, h, ready, toast } from "../shared/ui.js";

const STATUSES = [["unassigned", "Unassigned"], ["assigned", "Assigned"]];
const FILTERS = ["site", "patient", "lung_zone", "status"];

const fromUrl = new URLSearchParams(location.search);
const state = { ...Object.fromEntries(FILTERS.map((key) => [key, fromUrl.get(key) || ""])),
  videos: [], workload: [], zones: [], selected: new Set() };
const app = document.getElementById("app");
const filtersHost = h("form.toolbar.filters", { id: "filters", role: "search", "aria-label": "Filter videos",
  onsubmit: (e) => e.preventDefault() });
const actionsHost = h("section.card.assign-actions", { "aria-labelledby": "assign-title" });
const videosHost = h("section.assign-videos", { "aria-labelledby": "videos-title", "aria-live": "polite" });
const workloadHost = h("section.card.workload", { "aria-labelledby": "workload-title" });
let inFlight = null;

function select(name, label, options, onchange) {
  const element = h("select", { id: `filter-${name}`, name },
    h("option", { value: "" }, "All"), options.map(([value, text]) => h("option", { value: String(value) }, text)));
  element.value = state[name];
  if (name !== "lung_zone" && element.value !== state[name]) state[name] = "";  // (zones come with the videos)
  element.addEventListener("change", () => { state[name] = element.value; onchange?.(); load(); });
  return h("div.field", {}, h("label", { for: element.id }, label), element);
}

/** The zone filter's choices: zones with videos, and the chosen one even when it has none. */
function renderZones() {
  const element = document.getElementById("filter-lung_zone");
  if (!element) return;
  const zones = state.zones.map((z) => [z.value, `${z.value} (${z.videos} video${z.videos === 1 ? "" : "s"})`]);
  if (state.lung_zone && !state.zones.some((z) => z.value === state.lung_zone)) zones.push([state.lung_zone, `${state.lung_zone} (0 videos)`]);
  element.replaceChildren(h("option", { value: "" }, "All"), ...zones.map(([value, text]) => h("option", { value }, text)));
  element.value = state.lung_zone;
}

function keepInUrl() {
  history.replaceState(null, "", `${location.pathname}${query(Object.fromEntries(FILTERS.map((key) => [key, state[key]])))}`);
}

async function patientOptions() {
  const patients = await apiAll(`patients/${query({ site: state.site, limit: 500 })}`);
  return patients.map((p) => [p.id, p.code]);
}

async function renderFilters() {
  const [sites, patients] = await Promise.all([apiAll("sites/?limit=500"), patientOptions()]);
  let patientField = select("patient", "Patient", patients);
  const siteField = select("site", "Site", sites.map((s) => [s.id, s.name]), async () => {
    state.patient = "";
    const next = select("patient", "Patient", await patientOptions());
    patientField.replaceWith(next);
    patientField = next;
  });
  filtersHost.replaceChildren(siteField, patientField, select("lung_zone", "BLUE zone", []),
    select("status", "Status", STATUSES));
}

function renderActions() {
  const people = state.workload.filter((p) => p.role === "annotator" || p.role === "validator");
  const picker = h("fieldset.people", {}, h("legend", {}, "Annotators and validators"),
    people.length ? people.map((p) => h("label.person", {},
      h("input", { type: "checkbox", name: "person", value: String(p.id), id: `person-${p.id}` }), ` ${p.username} (${p.role})`))
      : h("p.muted", {}, "No annotator or validator yet."));
  const count = h("p", { id: "selected-count", "aria-live": "polite" });
  const go = async (action) => {
    const users = [...picker.querySelectorAll("input[name=person]:checked")].map((i) => Number(i.value));
    const videos = [...state.selected];
    if (!users.length || !videos.length) {
      toast("Select videos and at least one person first.", "error");
      return;
    }
    try {
      const result = await api("viewer/assignments/", { method: "POST", body: { action, users, videos } });
      toast(`${action === "assign" ? "Assigned" : "Unassigned"}: ${result.changed} change(s).`, "success");
      await load();
    } catch (error) {
      toast(`Could not ${action}: ${error.message}`, "error");
    }
  };
  actionsHost.replaceChildren(h("h2", { id: "assign-title" }, "Assign selected videos"), picker, count,
    h("div.toolbar", {},
      h("button.primary", { type: "button", id: "assign-button", onclick: () => go("assign") }, "Assign"),
      h("button", { type: "button", id: "unassign-button", onclick: () => go("unassign") }, "Unassign")));
  updateCount();
}

function updateCount() {
  const element = document.getElementById("selected-count");
  if (element) element.textContent = `${state.selected.size} of ${state.videos.length} matching videos selected`;
  const all = document.getElementById("select-all");
  if (all) {
    all.checked = state.videos.length > 0 && state.selected.size === state.videos.length;
    all.indeterminate = state.selected.size > 0 && state.selected.size < state.videos.length;
  }
}

function renderVideos() {
  const all = h("input", { type: "checkbox", id: "select-all" });
  all.addEventListener("change", () => {
    state.selected = all.checked ? new Set(state.videos.map((v) => v.id)) : new Set();
    for (const box of videosHost.querySelectorAll("input[name=video]")) box.checked = all.checked;
    updateCount();
  });
  const rows = state.videos.map((video) => {
    const box = h("input", { type: "checkbox", name: "video", value: String(video.id), id: `video-${video.id}`,
      checked: state.selected.has(video.id) });
    box.addEventListener("change", () => {
      if (box.checked) state.selected.add(video.id); else state.selected.delete(video.id);
      updateCount();
    });
    return h("tr", { dataset: { video: String(video.id) } },
      h("td", {}, box), h("th", { scope: "row" }, h("label", { for: box.id }, video.original_name)),
      h("td", {}, video.site), h("td", {}, video.patient), h("td", {}, video.lung_zone),
      h("td.num", {}, String(video.frame_count)), h("td.assignees", {}, video.assignees.join(", ") || "—"));
  });
  videosHost.replaceChildren(h("h2", { id: "videos-title" }, `Matching videos (${state.videos.length})`),
    state.videos.length ? h("table.compact", {}, h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, h("label", { for: "select-all" }, h("span.visually-hidden", {}, "Select all matching")), all),
      ["Video", "Site", "Patient", "Zone", "Frames", "Assigned to"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows)) : h("p.muted", {}, "No videos match."));
  updateCount();
}

function renderWorkload() {
  workloadHost.replaceChildren(h("h2", { id: "workload-title" }, "Workload"),
    h("table.compact", { id: "workload" }, h("thead", {}, h("tr", {},
      ["Person", "Role", "Assigned", "Done"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, state.workload.map((p) => h("tr", { dataset: { user: p.username } },
      h("th", { scope: "row" }, p.username), h("td", {}, p.role),
      h("td.num.assigned", {}, String(p.assigned)), h("td.num.done", {}, String(p.done)))))));
}

async function load() {
  inFlight?.abort();  // a newer filter wins over a slower older answer
  inFlight = new AbortController();
  app.setAttribute("aria-busy", "true");
  try {
    keepInUrl();
    const filters = Object.fromEntries(FILTERS.map((key) => [key, state[key]]));
    const data = await api(`viewer/assignments/${query(filters)}`, { signal: inFlight.signal });
    state.videos = data.videos;
    state.workload = data.workload;
    state.zones = data.zones;
    renderZones();
    const ids = new Set(data.videos.map((v) => v.id));
    state.selected = new Set([...state.selected].filter((id) => ids.has(id)));
    const checked = new Set([...actionsHost.querySelectorAll("input[name=person]:checked")].map((i) => i.value));
    const focused = document.activeElement?.id;  // redrawing keeps keyboard focus where it was
    renderActions();
    for (const box of actionsHost.querySelectorAll("input[name=person]")) box.checked = checked.has(box.value);
    renderVideos();
    renderWorkload();
    if (focused && !document.activeElement?.id) document.getElementById(focused)?.focus();
  } catch (error) {
    if (error.name === "AbortError") return;
    toast(`Assignments: ${error.message}`, "error");
  }
  ready();
}

async function start() {
  app.replaceChildren(h("h1", {}, "Assignments"),
    h("p.muted", {}, "Filter the videos, select all matching (or some), pick people, then Assign or Unassign."),
    filtersHost, h("div.assign-layout", {}, h("div", {}, actionsHost, videosHost), workloadHost));
  await renderFilters();
  await load();
}

start().catch(fail);

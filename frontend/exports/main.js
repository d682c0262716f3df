// Export labels (admins and clinicians): choose a format and filters, then the exchange API does the
// export. GET /api/exports/?format=…&filters streams the file (shown as bytes received, then offered to
// save), or answers 202 with a job when the selection is large (or "run in the background" is ticked):
// the job is followed (GET /api/exports/jobs/<id>/: its labels and the bytes written so far) until its
// download link is ready.
// Choices: GET /api/viewer/exports/options/ (formats, annotators, BLUE zones with videos, levels, sources),
// /api/sites/, /api/patients/?site=. The filters live in the page's URL, so a reload or a shared link keeps them.
import { api, apiAll, query } from "../shared/api.js";
import { fail, h, ready, toast } from "../shared/ui.js";

const FILTERS = ["site", "patient", "lung_zone", "annotator", "min_validation_level", "source"];
const POLL_MS = 1000;
const app = document.getElementById("app");
const url = new URLSearchParams(location.search);
const state = Object.fromEntries([["format", url.get("format") || "csv"], ...FILTERS.map((k) => [k, url.get(k) || ""])]);
const form = h("form.card.export-form", { "aria-labelledby": "export-title", novalidate: true });
const statusHost = h("section.card.export-status", { "aria-labelledby": "export-status-title", hidden: true });
let options = null;
let inFlight = null;
let pollTimer = null;

function keepInUrl() {
  const params = query(state);
  history.replaceState(null, "", `${location.pathname}${params}`);
}

function select(name, label, choices, { onchange, all = "All" } = {}) {
  const element = h("select", { id: `export-${name}`, name },
    all === null ? null : h("option", { value: "" }, all),
    choices.map(([value, text]) => h("option", { value: String(value) }, text)));
  element.value = state[name];
  if (element.value !== state[name]) state[name] = element.value;  // a choice that no longer exists
  element.addEventListener("change", () => { state[name] = element.value; keepInUrl(); onchange?.(); });
  return h("div.field", {}, h("label", { for: element.id }, label), element);
}

async function patientChoices() {
  const patients = await apiAll(`patients/${query({ site: state.site, limit: 500 })}`);
  return patients.map((p) => [p.id, p.code]);
}

function formatChoices() {
  const box = h("fieldset.formats", {}, h("legend", {}, "Format"));
  for (const format of options.formats) {
    const input = h("input", { type: "radio", name: "format", value: format.value, id: `format-${format.value}`,
      checked: state.format === format.value });
    input.addEventListener("change", () => { state.format = format.value; keepInUrl(); });
    box.append(h("div.format", {}, input, h("label", { for: input.id }, h("strong", {}, format.value), " — ", format.title)));
  }
  if (!options.formats.some((f) => f.value === state.format)) {
    state.format = options.formats[0].value;
    box.querySelector("input").checked = true;
  }
  return box;
}

async function renderForm() {
  const [sites, patients] = await Promise.all([apiAll("sites/?limit=500"), patientChoices()]);
  let patientField = select("patient", "Patient", patients);
  const siteField = select("site", "Site", sites.map((s) => [s.id, s.name]), {
    onchange: async () => {
      state.patient = "";
      keepInUrl();
      const next = select("patient", "Patient", await patientChoices());
      patientField.replaceWith(next);
      patientField = next;
    },
  });
  const background = h("input", { type: "checkbox", id: "export-background", name: "background" });
  form.replaceChildren(h("h2", { id: "export-title" }, "What to export"), formatChoices(),
    h("fieldset.export-filters", {}, h("legend", {}, "Filters"),
      siteField, patientField,
      select("lung_zone", "BLUE zone", options.lung_zones.map((z) => [z.value, `${z.value} (${z.videos} video${z.videos === 1 ? "" : "s"})`])),
      select("annotator", "Annotator", options.annotators.map((a) => [a.id, `${a.username} (${a.role})`])),
      select("min_validation_level", "Min. validation level", options.validation_levels.map((l) => [l, `${l} or higher`]), { all: "Any" }),
      select("source", "Made by", options.sources.map((s) => [s.value, s.label]), { all: "Anyone" })),
    h("div.field.check", {}, background, h("label", { for: background.id }, "Run in the background (a job; for large exports)")),
    h("div.toolbar", {}, h("button.primary", { type: "submit", id: "export-button" }, "Export")));
}

function showStatus(...children) {
  statusHost.hidden = false;
  statusHost.replaceChildren(h("h2", { id: "export-status-title" }, "Export"), ...children);
}

function sizeText(bytes) {
  return bytes < 1024 ? `${bytes} bytes` : bytes < 2 ** 20 ? `${(bytes / 1024).toFixed(1)} kB` : `${(bytes / 2 ** 20).toFixed(1)} MB`;
}

function filename(response, fallback) {
  const match = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
  return match ? match[1] : fallback;
}

/** Read a streamed export, showing the bytes received; then offer the file (and save it once). */
async function download(response, signal) {
  const labels = response.headers.get("X-Label-Count");
  const bar = h("progress", { "aria-label": "Export progress" });
  const text = h("p", { id: "export-progress", "aria-live": "polite" }, "Starting…");
  const stop = h("button", { type: "button", onclick: () => inFlight?.abort() }, "Cancel");
  showStatus(h("p", {}, `${labels ?? "?"} labels in ${state.format}.`), bar, text, stop);
  const reader = response.body.getReader();
  const parts = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    received += value.length;
    text.textContent = `${sizeText(received)} received…`;
    if (signal.aborted) return;
  }
  const name = filename(response, `pleura-labels-${state.format}`);
  const link = h("a.button.primary", { href: URL.createObjectURL(new Blob(parts, { type: response.headers.get("Content-Type") || "" })),
    download: name, id: "export-download" }, `Save ${name}`);
  showStatus(h("p", { id: "export-progress", "aria-live": "polite" }, `Done: ${labels ?? "?"} labels, ${sizeText(received)}.`),
    h("progress", { max: 1, value: 1, "aria-label": "Export progress" }), link);
  link.click();  // saved once; the link stays to save it again
  link.focus();
}

function jobText(job) {
  if (job.status === "queued") return "Queued: waiting for the analysis worker…";
  if (job.status === "running") return `Running: ${job.rows} labels, ${sizeText(job.bytes_written)} written so far…`;
  return job.status;
}

/** Follow an export job until its file is ready, then offer the download. */
function follow(job) {
  clearTimeout(pollTimer);
  if (job.status === "succeeded") {
    const link = h("a.button.primary", { href: job.download, download: "", id: "export-download" },
      `Download (${job.rows} labels)`);
    showStatus(h("p", { id: "export-progress", "aria-live": "polite" },
      `Export job ${job.id} is ready: ${job.rows} labels in ${job.format}, ${sizeText(job.bytes_written)}.`),
      h("progress", { max: 1, value: 1, "aria-label": "Export progress" }), link);
    link.focus();
    return;
  }
  if (job.status === "failed") {
    showStatus(h("p.form-error", { id: "export-progress", role: "alert" }, `Export job ${job.id} failed: ${job.error}`));
    return;
  }
  showStatus(h("p", { id: "export-progress", "aria-live": "polite" }, `Export job ${job.id}. ${jobText(job)}`),
    h("progress", { "aria-label": "Export progress" }));
  pollTimer = setTimeout(async () => {
    try {
      follow(await api(`exports/jobs/${job.id}/`));
    } catch (error) {
      toast(`Export job ${job.id}: ${error.message}`, "error");
      pollTimer = setTimeout(() => follow(job), POLL_MS * 3);
    }
  }, POLL_MS);
}

async function run(event) {
  event.preventDefault();
  inFlight?.abort();
  clearTimeout(pollTimer);
  inFlight = new AbortController();
  const { signal } = inFlight;
  const button = document.getElementById("export-button");
  button.disabled = true;
  const params = { ...state, background: document.getElementById("export-background").checked ? "1" : "" };
  showStatus(h("p", { id: "export-progress", "aria-live": "polite" }, "Asking the server…"), h("progress", { "aria-label": "Export progress" }));
  try {
    const response = await api(`exports/${query(params)}`, { raw: true, signal, retries: 0 });
    if (response.status === 202) follow(await response.json());
    else await download(response, signal);
  } catch (error) {
    if (error.name === "AbortError") showStatus(h("p", { id: "export-progress" }, "Export cancelled."));
    else showStatus(h("p.form-error", { id: "export-progress", role: "alert" }, `Not exported: ${error.message}`));
  } finally {
    button.disabled = false;
  }
}

async function start() {
  options = await api("viewer/exports/options/");
  form.addEventListener("submit", run);
  app.replaceChildren(h("h1", {}, "Export labels"),
    h("p.muted", {}, "The labels you may see, in a researcher's format. Small exports download at once; large ones run as a job and leave a file to download."),
    h("div.export-layout", {}, form, statusHost));
  await renderForm();
  keepInUrl();
  ready();
}

start().catch(fail);

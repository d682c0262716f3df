// PACS page (admins): the DICOMweb endpoints (list, add, test the connection), a study search on one of
// them (patients shown only as Pleura's keyed pseudonyms), importing the chosen studies or series, and
// sending a video's model results back (SR + SEG by STOW-RS). Everything goes through /api/pacs/.
import { api, apiAll, query } from "../shared/api.js";
import { fail, h, ready, toast } from "../shared/ui.js";

const app = document.getElementById("app");
let endpoints = [];
let sites = [];
const endpointSelects = [];

function field(label, input) {
  return h("div.field", {}, h("label", { for: input.id }, label), input);
}

function endpointSelect(id) {
  const select = h("select", { id, name: "endpoint" });
  endpointSelects.push(select);
  return select;
}

function fillEndpointSelects() {
  for (const select of endpointSelects) {
    const current = select.value;
    select.replaceChildren(...endpoints.map((e) => h("option", { value: String(e.id) }, e.name)));
    if (endpoints.some((e) => String(e.id) === current)) select.value = current;
  }
}

function endpointRow(endpoint) {
  const result = h("span.check-result", { "aria-live": "polite" });
  const check = h("button", { type: "button", onclick: async () => {
    result.textContent = "checking…";
    try {
      const answer = await api(`pacs/endpoints/${endpoint.id}/check/`, { method: "POST" });
      result.textContent = answer.ok ? "connected" : `failed: ${answer.detail}`;
      result.className = `check-result ${answer.ok ? "ok" : "error"}`;
    } catch (error) { result.textContent = error.message; }
  } }, "Test connection");
  return h("tr", {}, h("td", {}, endpoint.name), h("td", {}, endpoint.site), h("td", {}, endpoint.qido_url),
    h("td", {}, endpoint.auth + (endpoint.has_secret ? " (secret set)" : "")), h("td", {}, endpoint.ae_title || "—"),
    h("td", {}, endpoint.keep_uid_mapping ? "yes" : "no"), h("td", {}, endpoint.auto_import ? "yes" : "no"),
    h("td", {}, check, " ", result));
}

function renderEndpoints(host) {
  host.replaceChildren(endpoints.length ? h("table.endpoints", {},
    h("thead", {}, h("tr", {}, ["Name", "Site", "QIDO-RS URL", "Auth", "Calling AE", "UID map", "Auto import", ""]
      .map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, endpoints.map(endpointRow))) : h("p.muted", {}, "No PACS connected yet."));
  fillEndpointSelects();
}

function addForm(listHost) {
  const inputs = {
    site: h("select", { id: "pacs-site", required: true }, sites.map((s) => h("option", { value: s.name }, s.name))),
    name: h("input", { id: "pacs-name", required: true, maxlength: 100 }),
    qido_url: h("input", { id: "pacs-qido", type: "url", required: true, placeholder: "https://pacs/dicom-web" }),
    wado_url: h("input", { id: "pacs-wado", type: "url", placeholder: "(the QIDO-RS URL)" }),
    stow_url: h("input", { id: "pacs-stow", type: "url", placeholder: "(the QIDO-RS URL)" }),
    auth: h("select", { id: "pacs-auth" }, [["none", "None"], ["basic", "HTTP basic"], ["bearer", "Bearer token"]]
      .map(([v, t]) => h("option", { value: v }, t))),
    username: h("input", { id: "pacs-username", autocomplete: "off" }),
    secret: h("input", { id: "pacs-secret", type: "password", autocomplete: "new-password" }),
    ae_title: h("input", { id: "pacs-ae", maxlength: 16 }),
    keep_uid_mapping: h("input", { id: "pacs-keep", type: "checkbox" }),
    auto_import: h("input", { id: "pacs-auto", type: "checkbox" }),
  };
  const form = h("form.card.pacs-add", { novalidate: true, "aria-labelledby": "pacs-add-title" },
    h("h2", { id: "pacs-add-title" }, "Add a PACS"),
    h("div.grid", {}, field("Site", inputs.site), field("Name", inputs.name), field("QIDO-RS URL", inputs.qido_url),
      field("WADO-RS URL", inputs.wado_url), field("STOW-RS URL", inputs.stow_url), field("Authentication", inputs.auth),
      field("User name", inputs.username), field("Password or token", inputs.secret),
      field("Calling AE title (C-STORE pushes)", inputs.ae_title)),
    h("div.field.check", {}, inputs.keep_uid_mapping, h("label", { for: "pacs-keep" },
      "Site opted in: keep original UIDs so results sent back reference the PACS's images")),
    h("div.field.check", {}, inputs.auto_import, h("label", { for: "pacs-auto" }, "Import new US studies periodically")),
    h("button.primary", { type: "submit" }, "Add"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {};
    for (const [key, input] of Object.entries(inputs)) body[key] = input.type === "checkbox" ? input.checked : input.value;
    try {
      await api("pacs/endpoints/", { method: "POST", body });
      inputs.secret.value = "";
      endpoints = await api("pacs/endpoints/");
      renderEndpoints(listHost);
      toast(`PACS ${body.name} added`, "success");
    } catch (error) { toast(error.message, "error"); }
  });
  return form;
}

function seriesList(endpointId, study, host) {
  return async () => {
    const answer = await api(`pacs/endpoints/${endpointId}/studies/${encodeURIComponent(study.study_uid)}/series/`);
    host.replaceChildren(...answer.results.map((s) => h("label.series", {},
      h("input", { type: "checkbox", value: s.series_uid, "data-study": study.study_uid, class: "series-choice" }),
      ` ${s.modality} · ${s.description || "no description"} · ${s.instances} instance(s)`)));
  };
}

function searchSection() {
  const endpoint = endpointSelect("search-endpoint");
  const inputs = {
    date_from: h("input", { id: "search-from", type: "date" }),
    date_to: h("input", { id: "search-to", type: "date" }),
    patient_id: h("input", { id: "search-patient", autocomplete: "off" }),
    accession: h("input", { id: "search-accession", autocomplete: "off" }),
    patient: h("input", { id: "search-pseudonym", autocomplete: "off", placeholder: "DCM-…" }),
  };
  const results = h("div.results", { "aria-live": "polite" });
  const summary = h("p.import-summary", { role: "status" });
  const importButton = h("button.primary", { type: "button", disabled: true }, "Import selected");
  const form = h("form.card.pacs-search", { "aria-labelledby": "pacs-search-title" },
    h("h2", { id: "pacs-search-title" }, "Search studies (US)"),
    h("div.grid", {}, field("PACS", endpoint), field("From", inputs.date_from), field("To", inputs.date_to),
      field("Patient ID (at the PACS)", inputs.patient_id), field("Patient pseudonym", inputs.patient),
      field("Accession number", inputs.accession)),
    h("button", { type: "submit" }, "Search"), results, importButton, summary);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const params = Object.fromEntries(Object.entries(inputs).map(([k, input]) => [k, input.value]).filter(([, v]) => v));
    results.textContent = "Searching…";
    try {
      const answer = await api(`pacs/endpoints/${endpoint.value}/studies/${query({ ...params, modality: "US" })}`);
      results.replaceChildren(answer.results.length ? h("table.studies", {},
        h("thead", {}, h("tr", {}, ["", "Date", "Patient (pseudonym)", "Description", "Series", "Instances", ""]
          .map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, answer.results.map((study) => {
          const seriesHost = h("div.series-list");
          return h("tr", {}, h("td", {}, h("input", { type: "checkbox", class: "study-choice", value: study.study_uid,
            "aria-label": `Import study of ${study.date}` })), h("td", {}, study.date), h("td.patient", {}, study.patient),
          h("td", {}, study.description), h("td", {}, String(study.series)), h("td", {}, String(study.instances)),
          h("td", {}, h("button.link", { type: "button", onclick: seriesList(endpoint.value, study, seriesHost) },
            "Series…"), seriesHost));
        }))) : h("p.muted", {}, "No studies match."));
      importButton.disabled = !answer.results.length;
    } catch (error) { results.textContent = error.message; }
  });
  importButton.addEventListener("click", async () => {
    const chosen = new Map();
    for (const box of results.querySelectorAll("input.study-choice:checked")) chosen.set(box.value, null);
    for (const box of results.querySelectorAll("input.series-choice:checked")) {
      const list = chosen.get(box.dataset.study) || [];
      list.push(box.value);
      chosen.set(box.dataset.study, list);
    }
    if (!chosen.size) { toast("Choose studies or series first", "error"); return; }
    importButton.disabled = true;
    summary.textContent = "Importing…";
    let imported = 0, already = 0, skipped = 0;
    const errors = [];
    try {
      for (const [study_uid, series_uids] of chosen) {
        const body = series_uids ? { study_uid, series_uids } : { study_uid };
        const answer = await api(`pacs/endpoints/${endpoint.value}/import/`, { method: "POST", body, retries: 0 });
        imported += answer.imported.length; already += answer.already; skipped += answer.skipped;
        errors.push(...answer.errors);
      }
      summary.textContent = `Imported ${imported} new video(s); ${already} already imported, ${skipped} not ultrasound` +
        (errors.length ? `; ${errors.length} failed: ${errors.join("; ")}` : ".");
    } catch (error) { summary.textContent = error.message; }
    importButton.disabled = false;
  });
  return form;
}

function pushSection() {
  const endpoint = endpointSelect("push-endpoint");
  const video = h("input", { id: "push-video", type: "number", min: 1, required: true });
  const result = h("p.push-result", { role: "status" });
  const form = h("form.card.pacs-push", { "aria-labelledby": "pacs-push-title" },
    h("h2", { id: "pacs-push-title" }, "Send results back"),
    h("p.muted", {}, "The video's latest model scores as a DICOM SR (TID 1500) and its masks as DICOM SEG, by STOW-RS."),
    h("div.grid", {}, field("PACS", endpoint), field("Video id", video)), h("button", { type: "submit" }, "Send"), result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    result.textContent = "Sending…";
    try {
      const answer = await api(`pacs/endpoints/${endpoint.value}/push/`, { method: "POST", body: { video: Number(video.value) },
        retries: 0 });
      result.textContent = `Stored: SR ${answer.sr_uid || "—"}, ${answer.seg_uids.length} SEG` +
        (answer.reidentified ? " (referencing the PACS's own UIDs)" : " (referencing pseudonymised UIDs)");
    } catch (error) { result.textContent = error.message; }
  });
  return form;
}

async function main() {
  [endpoints, sites] = await Promise.all([api("pacs/endpoints/"), apiAll("sites/?limit=500")]);
  const listHost = h("div.endpoint-list");
  app.replaceChildren(h("h1", {}, "PACS"),
    h("section.card", { "aria-labelledby": "pacs-list-title" }, h("h2", { id: "pacs-list-title" }, "Connected PACS"), listHost),
    searchSection(), pushSection(), addForm(listHost));
  renderEndpoints(listHost);
  ready(app);
}

main().catch(fail);

// The new-report form: what to compare (frame scores, video scores, contours or video findings), where (a site, a
// patient, one video or everything), by whom (annotators, minimum validation level), the consensus rule,
// and optionally a model version as one more rater. POST /api/agreement-reports/ answers 202 at once;
// the page then polls the report until the worker has computed it.
import { api, apiAll, query } from "../shared/api.js";
import { h } from "../shared/ui.js";

let uid = 0;
function field(label, input) {
  input.id ||= `ag-${uid += 1}`;
  return h("div.field", {}, h("label", { for: input.id }, label), input);
}
const option = (value, text) => h("option", { value: String(value) }, text);

export function reportForm(options, { onCreated }) {
  const kind = h("select", { name: "kind" }, options.kinds.map((k) => option(k, { frame: "Frame scores", video: "Video scores", contour: "Contours (Dice, IoU)", finding: "Video findings" }[k] || k)));
  const site = h("select", { name: "site" }, option("", "All sites"), options.sites.map((s) => option(s.id, s.name)));
  const patientSearch = h("input", { type: "search", name: "patient-search", placeholder: "patient code", autocomplete: "off" });
  const patient = h("select", { name: "patient" }, option("", "All patients"));
  const video = h("select", { name: "video", disabled: true }, option("", "All videos"));
  const raters = h("select", { name: "annotators", multiple: true, size: Math.min(6, Math.max(2, options.raters.length)) },
    options.raters.map((r) => option(r.id, `${r.username} (${r.role}, L${r.validation_level})`)));
  const minLevel = h("select", { name: "min_level" }, [1, 2, 3, 4].map((l) => option(l, `level ${l} and up`)));
  const rule = h("select", { name: "consensus" }, option("", "default (most expert)"),
    options.consensus_rules.map((r) => option(r, r.replace("_", " "))));
  const model = h("select", { name: "model_version" });
  const error = h("p.form-error", { role: "alert" });
  const submit = h("button.primary", { type: "submit" }, "Create report");

  function models() {
    const kinds = options.model_kinds_for[kind.value] || [];
    const fitting = options.model_versions.filter((v) => kinds.includes(v.kind));
    model.replaceChildren(option("", fitting.length ? "No model" : "No model fits this kind"),
      ...fitting.map((v) => option(v.id, `v${v.id} · ${v.kind} · ${v.name}${v.is_active ? " (active)" : ""}`)));
    model.disabled = !fitting.length;
    rule.disabled = kind.value === "contour";  // contours are compared pairwise, no consensus
  }
  kind.addEventListener("change", models);
  models();

  let timer;
  async function findPatients() {
    const page = await api(`viewer/review/patients/${query({ search: patientSearch.value.trim(), site: site.value, limit: 100 })}`);
    patient.replaceChildren(option("", `All patients${page.count > 100 ? " (type to narrow)" : ""}`),
      ...page.results.map((p) => option(p.id, `${p.code} · ${p.site}`)));
    video.replaceChildren(option("", "All videos"));
    video.disabled = true;
  }
  patientSearch.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(findPatients, 300); });
  site.addEventListener("change", findPatients);
  patient.addEventListener("change", async () => {
    video.replaceChildren(option("", "All videos"));
    video.disabled = !patient.value;
    if (!patient.value) return;
    const videos = await apiAll(`videos/${query({ patient: patient.value, limit: 500 })}`);
    video.append(...videos.map((v) => option(v.id, `${v.original_name}${v.lung_zone ? ` · ${v.lung_zone}` : ""}`)));
  });

  function scope() {
    const chosen = [...raters.selectedOptions].map((o) => Number(o.value));
    const result = { kind: kind.value, min_level: Number(minLevel.value) };
    if (video.value) result.video = Number(video.value);
    else if (patient.value) result.patient = Number(patient.value);
    else if (site.value) result.site = Number(site.value);
    if (chosen.length) result.annotators = chosen;
    if (rule.value && kind.value !== "contour") result.consensus = rule.value;
    if (model.value) result.model_version = Number(model.value);
    return result;
  }

  const form = h("form.report-form", { "aria-labelledby": "new-report-title", novalidate: true },
    h("h2", { id: "new-report-title" }, "New report"),
    field("Compare", kind), field("Site", site), field("Find a patient", patientSearch), field("Patient", patient),
    field("Video", video), field("Annotators (none = everyone)", raters), field("Validation level", minLevel),
    field("Consensus rule", rule), field("Model as an extra rater", model), error, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    submit.disabled = true;
    try {
      onCreated(await api("agreement-reports/", { method: "POST", body: { scope: scope() } }));
    } catch (failure) {
      error.textContent = `Not created: ${failure.message}`;
    } finally {
      submit.disabled = false;
    }
  });
  findPatients().catch((failure) => { error.textContent = `Could not list patients: ${failure.message}`; });
  return form;
}

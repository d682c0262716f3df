// The training form: kind, the main parameters of that kind, the data selection, and extra JSON.
// POST /api/jobs/ validates everything; its 400 is shown next to the fields it names.
import { api } from "../shared/api.js";
import { h } from "../shared/ui.js";

// The parameters shown as fields when a kind has them ([name, label, number step]); the kind's
// defaults (its ml training config) fill them in. The rest go in "More parameters".
const MAIN = [["model", "Architecture"], ["epochs", "Epochs"], ["max_epochs", "Max epochs"], ["batch_size", "Batch size"],
  ["size", "Image size (px)"], ["window", "Window (frames)"], ["lr", "Learning rate", "any"],
  ["patience", "Patience (epochs)"], ["seed", "Seed"]];
const SELECTION = [["label_kind", "Labels", "select"], ["consensus", "Consensus rule", "select"],
  ["min_level", "Min. validation level", "number", { min: 1, max: 4 }], ["min_agree", "Min. raters agreeing", "number", { min: 1 }],
  ["frame_step", "Every n-th frame", "number", { min: 1 }], ["validation_fraction", "Validation share of patients", "number", { step: "any", min: 0, max: 0.99 }]];

let uid = 0;

function field(name, label, type, attrs = {}, options = []) {
  const id = `f-${name}-${uid += 1}`;
  const error = h("span.field-error", { id: `${id}-error`, role: "alert" });
  const input = type === "select"
    ? h("select", { id, name, "aria-describedby": error.id, ...attrs }, options.map(([value, text]) => h("option", { value }, text)))
    : type === "checkbox" ? h("input", { id, name, type, ...attrs })
      : type === "textarea" ? h("textarea", { id, name, rows: 2, "aria-describedby": error.id, ...attrs })
        : h("input", { id, name, type, "aria-describedby": error.id, ...attrs });
  return { name, input, error, element: h(`div.field${type === "checkbox" ? ".check" : ""}`, {}, h("label", { for: id }, label), input, error) };
}

/** onSubmitted(job) after a 201. options: GET /api/viewer/dashboard/training-options/; people: annotators. */
export function trainingForm(options, people, { onSubmitted }) {
  const fields = new Map();  // "parameters.x" | "data_selection.x" | "kind" → field
  const add = (key, f) => { fields.set(key, f); return f.element; };
  const kinds = options.kinds;
  // The select shows each kind's short name (what fits the form's width); the full description is written
  // out below it, wrapped, and is the option's tooltip.
  const kind = field("kind", "Model kind", "select", {}, kinds.map((k) => [k.value, k.label.split(" (")[0]]));
  for (const [i, k] of kinds.entries()) kind.input.options[i].title = k.label;
  const kindHint = h("p.hint.kind-hint", { id: `${kind.input.id}-hint` });
  kind.input.setAttribute("aria-describedby", `${kindHint.id} ${kind.error.id}`);
  kind.element.append(kindHint);
  fields.set("kind", kind);
  const paramBox = h("fieldset.params", {}, h("legend", {}, "Parameters"));
  const selection = options.data_selection;
  const selectionBox = h("fieldset.params", {}, h("legend", {}, "Data selection"),
    SELECTION.map(([name, label, type, attrs]) => {
      const choices = name === "label_kind" ? options.label_kinds : options.consensus_rules;
      const f = field(name, label, type, attrs, type === "select" ? choices.map((c) => [c, c.replace("_", " ")]) : []);
      f.input.value = String(selection[name]);
      return add(`data_selection.${name}`, f);
    }),
    add("data_selection.annotators", field("annotators", "Annotators (none = every human)", "select",
      { multiple: true, size: Math.min(5, Math.max(2, people.length)) }, people.map((p) => [String(p.id), `${p.username} (${p.role})`]))),
    add("data_selection.patients", field("patients", "Patient ids (comma-separated; empty = all)", "text", { inputmode: "numeric" })));
  const activate = field("activate", "Activate the new version when done", "checkbox", { checked: true });
  const extra = field("extra", "More parameters (JSON object)", "textarea", { placeholder: '{"augment": false}' });
  fields.set("parameters", extra);
  const general = h("p.form-error", { role: "alert" });
  const submit = h("button.primary", { type: "submit" }, "Start training");
  const form = h("form.training", { novalidate: true, "aria-labelledby": "train-title" },
    h("h2", { id: "train-title" }, "Train a model"), kind.element, paramBox, selectionBox, activate.element, extra.element,
    general, submit);

  function showKind() {
    const defaults = options.defaults[kind.input.value] || {};
    kindHint.textContent = kinds.find((k) => k.value === kind.input.value)?.label || "";
    for (const key of [...fields.keys()]) if (key.startsWith("parameters.")) fields.delete(key);
    const shown = MAIN.filter(([name]) => name in defaults && (typeof defaults[name] !== "object" || name === "size"));
    paramBox.replaceChildren(h("legend", {}, "Parameters"), ...shown.map(([name, label, step]) => {
      const value = Array.isArray(defaults[name]) ? defaults[name][0] : defaults[name];
      const f = name === "model" && kind.input.value === "frame_scorer"
        ? field(name, label, "select", {}, options.frame_models.map((m) => [m.name, `${m.name} — ${m.description}`]))
        : field(name, label, typeof value === "number" ? "number" : "text", step ? { step } : {});
      f.input.value = String(value);
      return add(`parameters.${name}`, f);
    }));
  }
  kind.input.addEventListener("change", showKind);
  showKind();

  function clearErrors() {
    general.textContent = "";
    for (const f of fields.values()) { f.error.textContent = ""; f.input.removeAttribute("aria-invalid"); }
  }

  function fieldFor(key, message) {
    if (fields.has(key)) return fields.get(key);
    if (/^unknown parameter/.test(message)) return fields.get("parameters");
    // JobSubmissionError says "bad parameters: epochs must be >= 1": find the field a message names
    // (before any list of the names that were expected).
    const said = message.split("; expected")[0];
    for (const [name, f] of fields) {
      const bare = name.split(".").pop();
      if (name.includes(".") && new RegExp(`\\b${bare}\\b`).test(said)) return f;
    }
    return null;
  }

  function showErrors(error) {
    const errors = Object.entries(error.body?.errors || {});
    if (!errors.length && error.body?.detail) errors.push(["", [error.body.detail]]);
    let first = null;
    for (const [key, messages] of errors) {
      const text = [].concat(messages).join(" ");
      const f = fieldFor(key, text);
      if (f) {
        f.error.textContent = text;
        f.input.setAttribute("aria-invalid", "true");
        first ??= f.input;
      }
    }
    general.textContent = `Not started: ${error.message}`;
    (first || general).focus?.();
  }

  function values() {
    const parameters = {};
    for (const [key, f] of fields) {
      if (!key.startsWith("parameters.")) continue;
      const name = key.slice("parameters.".length);
      const raw = f.input.value.trim();
      parameters[name] = f.input.type === "number" ? (raw === "" ? null : Number(raw)) : raw;
    }
    if (parameters.size !== undefined && parameters.size !== null) parameters.size = [parameters.size, parameters.size];
    for (const name of Object.keys(parameters)) if (parameters[name] === null) delete parameters[name];
    parameters.activate = activate.input.checked;
    const text = extra.input.value.trim();
    if (text) Object.assign(parameters, JSON.parse(text));  // a SyntaxError is reported by the caller
    const data = {};
    for (const [name, , type] of SELECTION) {
      const raw = fields.get(`data_selection.${name}`).input.value.trim();
      data[name] = type === "number" ? Number(raw) : raw;
    }
    const chosen = [...fields.get("data_selection.annotators").input.selectedOptions].map((o) => Number(o.value));
    if (chosen.length) data.annotators = chosen;
    const patients = fields.get("data_selection.patients").input.value.split(/[\s,]+/).filter(Boolean).map(Number);
    if (patients.length) data.patients = patients;
    return { kind: kind.input.value, parameters, data_selection: data };
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    let body;
    try {
      body = values();
    } catch (error) {
      extra.error.textContent = `Not valid JSON: ${error.message}`;
      extra.input.setAttribute("aria-invalid", "true");
      extra.input.focus();
      return;
    }
    submit.disabled = true;
    try {
      const job = await api("jobs/", { method: "POST", body });
      onSubmitted(job);
    } catch (error) {
      showErrors(error);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

// Model versions (GET /api/model-versions/) with their metrics; activate one or roll a kind back to
// its previous version (POST …/activate/, …/rollback/), each after a confirmation; below them, the
// activation history (GET /api/model-activations/): who switched which kind from which version to which.
import { api } from "../shared/api.js";
import { dialog, formatDate, h, toast } from "../shared/ui.js";

// The metrics worth a column; the rest are in the row's tooltip.
const SHOWN = [["val_f1_weighted", "val F1"], ["val_accuracy", "val acc."], ["train_accuracy", "train acc."],
  ["train_loss", "train loss"], ["final_loss", "final loss"], ["epochs_completed", "epochs"]];

function metricText(metrics) {
  const parts = SHOWN.filter(([key]) => typeof metrics[key] === "number")
    .map(([key, label]) => `${label} ${Number.isInteger(metrics[key]) ? metrics[key] : metrics[key].toFixed(3)}`);
  return parts.join(" · ") || "—";
}

function activationsView(activations) {
  const items = activations.map((a) => h("li", { dataset: { activation: String(a.id) } },
    h("time", { datetime: a.created_at }, formatDate(a.created_at)), " ",
    h("strong", {}, a.kind), `: ${a.previous ? `v${a.previous}` : "none"} → v${a.version}`,
    a.is_rollback ? [" ", h("span.badge", {}, "roll back")] : false,
    h("span.muted", {}, ` by ${a.activated_by_name ?? "the system"}`)));
  return h("details.activations", { open: activations.length > 0 && activations.length <= 5 },
    h("summary", {}, `Activation history (${activations.length})`),
    activations.length ? h("ol.compact", {}, items) : h("p.muted", {}, "No version activated yet."));
}

export function versionsView(versions, activations, { onChange }) {
  async function act(title, text, call) {
    if (!await dialog(title, h("p", {}, text), [{ label: "Cancel", value: false }, { label: title, value: true, primary: true }])) return;
    try {
      const version = await call();
      toast(`${version.kind}: version ${version.id} is now active.`
        + (version.scoring_job ? ` Scoring every video as job #${version.scoring_job}.` : ""), "success");
      onChange();
    } catch (error) {
      toast(`${title} failed: ${error.message}`, "error");
    }
  }
  const activeKinds = [...new Set(versions.filter((v) => v.is_active).map((v) => v.kind))];
  const rows = versions.map((v) => h("tr", { dataset: { version: String(v.id) } },
    h("th", { scope: "row" }, `v${v.id}`), h("td", {}, v.kind), h("td", {}, v.name),
    h("td", {}, v.is_active ? h("span.badge.status-succeeded", {}, "active") : ""),
    h("td", { title: JSON.stringify(v.metrics) }, metricText(v.metrics || {})),
    h("td", {}, formatDate(v.created_at)),
    h("td", {}, v.is_active ? "" : h("button", {
      type: "button", "aria-label": `Activate version ${v.id}`,
      onclick: () => act("Activate", `Make ${v.kind} version ${v.id} (${v.name}) the active one? New predictions use it.`,
        () => api(`model-versions/${v.id}/activate/`, { method: "POST" })),
    }, "Activate"))));
  return h("section.card.versions", { "aria-labelledby": "versions-title" },
    h("h2", { id: "versions-title" }, "Model versions"),
    h("div.toolbar", {}, activeKinds.map((kind) => h("button", {
      type: "button", onclick: () => act("Roll back", `Go back to the previously active ${kind} version?`,
        () => api("model-versions/rollback/", { method: "POST", body: { kind } })),
    }, `Roll back ${kind}`))),
    versions.length ? h("table.compact", {}, h("thead", {}, h("tr", {}, ["Version", "Kind", "Name", "State", "Metrics", "Created", ""]
      .map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows))
      : h("p.muted", {}, "No model trained yet."),
    activationsView(activations));
}

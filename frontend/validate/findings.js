// The video findings on the validate page: what each lower-level person stated (present ✓, absent ✗) and
// my own, which I set here at my level (Present / Absent per finding, saved at once by saver.js).
import { h } from "../shared/ui.js";

const said = (present) => (present === true ? "present" : present === false ? "absent" : "not stated");

/** state: {vocabulary, videoFindings, myFindings, pendingFindings, saving}; people: id -> person. */
export function findingsPanel(state, people, { onSet }) {
  const rows = new Map();
  for (const f of state.videoFindings) {
    if (!rows.has(f.annotator)) rows.set(f.annotator, []);
    rows.get(f.annotator).push(f);
  }
  const mine = new Map(state.myFindings.map((f) => [f.finding, f.present]));
  for (const [code, present] of state.pendingFindings) mine.set(code, present);
  const name = (code) => state.vocabulary.find((f) => f.code === code)?.name ?? code;
  const mark = (code, present) => h(`span.finding.${present ? "present" : "absent"}`,
    { title: `${name(code)}: ${said(present)}` }, `${name(code)} ${present ? "✓" : "✗"}`);
  const stated = [...rows].map(([id, found]) => h("div.finding-row", {},
    h("dt", {}, `${people.get(id)?.username ?? id} (level ${found[0].validation_level})`),
    h("dd", {}, found.map((f) => mark(f.finding, f.present)))));
  if (mine.size) {
    stated.push(h("div.finding-row.mine", {}, h("dt", {}, "Mine"),
      h("dd", {}, [...mine].map(([code, present]) => mark(code, present)))));
  }
  const saving = state.saving.has("findings");
  const editor = state.vocabulary.map((finding) => {
    const present = mine.get(finding.code);
    const choice = (value, label) => h(`button.finding-choice${present === value ? ".chosen" : ""}`, {
      type: "button", "aria-pressed": String(present === value), disabled: saving,
      "aria-label": `${finding.name}: ${label.toLowerCase()}`, dataset: { key: `finding-${finding.code}-${value}` },
      onclick: () => { if (present !== value) onSet(finding.code, value); },
    }, present === value ? `✓ ${label}` : label);
    return h("li.finding-edit", { title: finding.description || finding.name, dataset: { finding: finding.code } },
      h("span.finding-name", {}, finding.name),
      h("span.choices", { role: "group", "aria-label": `My finding: ${finding.name}` },
        choice(true, "Present"), choice(false, "Absent")),
      state.pendingFindings.has(finding.code) ? h("span.state.unsaved", {}, "Unsaved") : null);
  });
  return h("div.findings-panel", {}, h("h3", {}, "Findings"),
    stated.length ? h("dl.findings", {}, stated) : h("p.muted", {}, "No findings stated below your level."),
    h("h3", { id: "my-findings-title" }, `My findings (level ${state.level})`),
    h("ul.finding-editor", { "aria-labelledby": "my-findings-title" }, editor));
}

// One agreement report (statistics JSON of ml/agreement/report.py, or contour overlap): numbers, the
// per-annotator agreement and bias as bars, the pairwise Cohen's kappa matrix (weighting selectable),
// the confusion matrices against the consensus, Dice/IoU per class for contours, and for video findings
// one row per finding (present / absent, nominal) with its own kappa matrix. A statistic that is
// undefined is shown as "undefined" with the reason the report gives; never as NaN.
import { barChart, matrixChart } from "../shared/charts.js";
import { formatDate, h, SCORE_COLOURS } from "../shared/ui.js";

const WEIGHTS = [["unweighted", "unweighted"], ["linear", "linear"], ["quadratic", "quadratic"]];
const CLASS_NAMES = { 1: "A-lines (score 0)", 2: "score 1 marker", 3: "score 2 marker", 4: "score 3 marker", union: "COVID-19 markers" };
const SCORES = ["0", "1", "2", "3"];

const number = (value) => (Math.abs(value) >= 100 ? String(Math.round(value)) : value.toFixed(3));

/** A statistic {value, reason, n_items?} as text: the value, or "undefined (reason)". */
export function statText(stat) {
  if (!stat) return "undefined (not computed)";
  if (stat.value === null || stat.value === undefined || !Number.isFinite(stat.value)) {
    return `undefined (${stat.reason || "no reason given"})`;
  }
  return number(stat.value) + (stat.n_items !== undefined && stat.n_items !== null ? ` · n=${stat.n_items}` : "");
}

function statRow(name, stat) {
  const undefinedValue = !stat || stat.value === null || stat.value === undefined;
  return h("div.stat", {}, h("dt", {}, name), h(`dd${undefinedValue ? ".undefined" : ""}`, {}, statText(stat)));
}

/** A short description of a report's scope, for lists and titles. */
export function scopeText(scope, raters = []) {
  const where = scope.video ? `video ${scope.video}` : scope.patient ? `patient ${scope.patient}`
    : scope.site ? `site ${scope.site}` : "all data";
  const who = scope.annotators ? `${scope.annotators.length} annotators` : "all annotators";
  return `${scope.kind} · ${where} · ${who} · level ≥ ${scope.min_level}${scope.model_version ? ` · + model v${scope.model_version}` : ""}`;
}

function kappaMatrix(statistics, weight, label = `Cohen's kappa matrix (${weight})`) {
  const names = statistics.rater_names;
  const index = new Map(names.map((n, i) => [n, i]));
  const values = names.map((_, i) => names.map((__, j) => (i === j ? 1 : null)));
  const notes = names.map((_, i) => names.map((__, j) => (i === j ? "same rater" : null)));
  for (const pair of statistics.pairs) {
    const [a, b] = pair.raters.map((n) => index.get(n));
    const entry = pair.cohen_kappa[weight];
    values[a][b] = values[b][a] = entry.value;
    notes[a][b] = notes[b][a] = entry.value === null ? entry.reason : `n=${entry.n_items}`;
  }
  const cell = names.length > 8 ? 40 : 64;
  return matrixChart(names, names, values, { label, min: 0, max: 1, cell,
    empty: "undefined", notes });
}

function scoreReport(report) {
  const s = report.statistics;
  if (!s.n_items) return h("p.undefined", {}, `Undefined: ${s.reason || "no labels in this scope"}.`);
  const raters = s.raters;
  const kappaHost = h("div.kappa");
  const weight = h("select", { id: `weight-${report.id}` }, WEIGHTS.map(([value, text]) => h("option", { value }, text)));
  const drawKappa = () => {
    const undefinedPairs = s.pairs.filter((p) => p.cohen_kappa[weight.value]?.value === null);
    kappaHost.replaceChildren(kappaMatrix(s, weight.value), undefinedPairs.length ? h("ul.reasons", {}, undefinedPairs.map((p) =>
      h("li", {}, `${p.raters.join(" × ")}: undefined (${p.cohen_kappa[weight.value].reason})`))) : "");
  };
  weight.addEventListener("change", drawKappa);
  drawKappa();
  const bars = (key, label) => barChart(raters.map((r) => ({ label: r.name, value: r[key].value })),
    { label, width: Math.max(300, 70 * raters.length), height: 170, empty: "undefined" });
  const reasons = (key) => raters.filter((r) => r[key].value === null).map((r) => h("li", {}, `${r.name}: undefined (${r[key].reason})`));
  const confusions = raters.map((r) => h("figure.chart-card", {}, h("figcaption", {}, r.name),
    matrixChart(SCORES, SCORES, r.confusion_vs_consensus, { label: `Confusion of ${r.name} against the consensus`,
      min: 0, max: Math.max(1, ...r.confusion_vs_consensus.flat()), cell: 30, rowTitle: "consensus ↓", colTitle: `${r.name} →` })));
  const consensusCounts = s.consensus.category_counts.map((value, score) => ({ label: String(score), value, colour: SCORE_COLOURS[score] }));
  return h("div.report-body", {},
    h("p", {}, `${s.n_items} items, ${s.n_raters} raters, ${s.n_ratings} ratings`
      + (s.missing_fraction !== null ? ` (${(100 * s.missing_fraction).toFixed(0)}% missing)` : "")
      + `; consensus: ${s.consensus.rule.replace("_", " ")}, ${s.consensus.n_defined} defined, ${s.consensus.n_ties} ties.`),
    h("dl.stats", {},
      statRow("Krippendorff's α (ordinal)", s.krippendorff_alpha.ordinal),
      statRow("Krippendorff's α (interval)", s.krippendorff_alpha.interval),
      statRow("Krippendorff's α (nominal)", s.krippendorff_alpha.nominal),
      statRow("Fleiss' κ (items rated by all)", s.fleiss_kappa.complete),
      statRow("Fleiss' κ (all items with ≥ 2 ratings)", s.fleiss_kappa.available),
      statRow("Percent agreement", s.percent_agreement),
      WEIGHTS.map(([w]) => statRow(`Mean pairwise Cohen's κ (${w})`, { ...s.mean_pairwise_cohen_kappa[w], n_items: null })),
      statRow("Leave-one-out agreement (Roy et al.)", { ...s.leave_one_out_agreement, n_items: null })),
    h("div.chart-row", {},
      h("figure.chart-card", {}, h("figcaption", {}, "Agreement of each annotator with the rounded mean of the others"),
        bars("agreement_with_others", "Agreement of each annotator with the others"), h("ul.reasons", {}, reasons("agreement_with_others"))),
      h("figure.chart-card", {}, h("figcaption", {}, "Bias against the consensus (mean score difference)"),
        bars("bias_vs_consensus", "Bias of each annotator against the consensus"), h("ul.reasons", {}, reasons("bias_vs_consensus"))),
      h("figure.chart-card", {}, h("figcaption", {}, "Consensus scores"),
        barChart(consensusCounts, { label: "Consensus scores", width: 220, height: 170 }))),
    h("section.kappa-section", { "aria-labelledby": `kappa-${report.id}` },
      h("h3", { id: `kappa-${report.id}` }, "Pairwise Cohen's kappa"),
      h("div.field.inline", {}, h("label", { for: weight.id }, "Weighting"), weight),
      kappaHost),
    h("section", { "aria-labelledby": `confusion-${report.id}` },
      h("h3", { id: `confusion-${report.id}` }, "Each annotator against the consensus"),
      h("div.chart-row", {}, confusions)));
}

function contourReport(report) {
  const s = report.statistics;
  if (!s.pairs?.length) return h("p.undefined", {}, `Undefined: ${s.reason || "no contour pairs in this scope"} (${s.n_frames ?? 0} frames).`);
  const keys = Object.keys(s.mean_dice || {});
  const bars = (means, label) => barChart(keys.map((k) => ({ label: k === "union" ? "markers" : `class ${k}`, value: means[k] })),
    { label, width: 360, height: 170, empty: "undefined" });
  const cell = (stat) => (stat === null || stat === undefined ? h("td.undefined", {}, "undefined (class drawn by neither)") : h("td.num", {}, number(stat)));
  return h("div.report-body", {},
    h("p", {}, `${s.n_frames} frames, raters: ${s.raters.join(", ")}.`),
    h("div.chart-row", {},
      h("figure.chart-card", {}, h("figcaption", {}, "Mean Dice per class"), bars(s.mean_dice, "Mean Dice per class")),
      h("figure.chart-card", {}, h("figcaption", {}, "Mean IoU per class"), bars(s.mean_iou, "Mean IoU per class"))),
    h("table.compact", {}, h("caption", {}, "Per pair of annotators"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Pair"), keys.flatMap((k) => [h("th", { scope: "col" }, `Dice ${CLASS_NAMES[k] || k}`),
        h("th", { scope: "col" }, `IoU ${CLASS_NAMES[k] || k}`)]))),
      h("tbody", {}, s.pairs.map((p) => h("tr", {}, h("th", { scope: "row" }, p.raters.join(" × ")),
        keys.flatMap((k) => [cell(p.dice[k]), cell(p.iou[k])]))))));
}

function findingReport(report) {
  const s = report.statistics;
  if (!s.n_items) return h("p.undefined", {}, `Undefined: ${s.reason || "no findings in this scope"}.`);
  const cell = (stat) => {
    const undefinedValue = !stat || stat.value === null || stat.value === undefined;
    return h(`td${undefinedValue ? ".undefined" : ".num"}`, {}, statText(stat));
  };
  const rows = s.findings.map((f) => h("tr", { dataset: { finding: f.code } },
    h("th", { scope: "row" }, f.name), h("td.num", {}, String(f.n_items)), h("td.num", {}, String(f.n_raters)),
    h("td.num", {}, `${f.category_counts[1]} / ${f.category_counts[0]}`),
    cell(f.percent_agreement), cell({ ...f.mean_pairwise_cohen_kappa.unweighted, n_items: null }),
    cell(f.fleiss_kappa.available), cell(f.krippendorff_alpha.nominal)));
  const matrices = s.findings.filter((f) => f.n_raters > 1).map((f) => h("figure.chart-card", {},
    h("figcaption", {}, f.name), kappaMatrix(f, "unweighted", `Cohen's kappa of ${f.name}`),
    h("ul.reasons", {}, f.pairs.filter((p) => p.cohen_kappa.unweighted.value === null).map((p) =>
      h("li", {}, `${p.raters.join(" × ")}: undefined (${p.cohen_kappa.unweighted.reason})`)))));
  return h("div.report-body", {},
    h("p", {}, `${s.n_items} videos, ${s.n_raters} raters (${s.rater_names.join(", ")}); each finding is a nominal `
      + "rating with two categories, present or absent; a finding a rater did not state is missing, not absent."),
    h("table.compact.findings-table", {}, h("caption", {}, "Agreement per finding"),
      h("thead", {}, h("tr", {}, ["Finding", "Videos", "Raters", "Present / absent ratings",
        "Percent agreement", "Mean pairwise Cohen's κ", "Fleiss' κ", "Krippendorff's α (nominal)"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows)),
    h("section", { "aria-labelledby": `finding-kappa-${report.id}` },
      h("h3", { id: `finding-kappa-${report.id}` }, "Pairwise Cohen's kappa per finding"),
      matrices.length ? h("div.chart-row", {}, matrices) : h("p.muted", {}, "No finding was stated by two raters.")));
}

export function reportView(report) {
  const exportLink = (format) => h("a.button", { href: `/api/agreement-reports/${report.id}/export/?format=${format}`, download: "" },
    `Export ${format.toUpperCase()}`);
  const head = h("header.report-head", {},
    h("h2", { id: "report-title", tabindex: "-1" }, `Report ${report.id}`, h("span.muted", {}, ` · ${scopeText(report.scope)}`)),
    h("p", {}, h(`span.badge.status-${report.status}`, {}, report.status), report.stale ? h("span.badge.stale", {}, "stale: labels changed, refresh queued") : null,
      ` computed ${formatDate(report.computed_at) || "—"} `),
    report.status === "ready" ? h("p.toolbar", {}, exportLink("csv"), exportLink("json")) : null);
  let body;
  if (report.status === "failed") body = h("p.error", { role: "alert" }, `Failed: ${(report.error || "").split("\n")[0]}`);
  else if (report.status !== "ready") body = h("p.muted", { role: "status" }, `${report.status}: the worker is computing it…`);
  else body = { contour: contourReport, finding: findingReport }[report.scope.kind]?.(report) ?? scoreReport(report);
  return h("article.card.report", { "aria-labelledby": "report-title", dataset: { report: String(report.id) } }, head, body);
}

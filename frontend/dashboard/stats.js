// Dataset statistics (GET /api/viewer/dashboard/stats/): totals, labels per validation level and per
// annotator, and the score distributions, as bar charts with the numbers also in text.
import { barChart } from "../shared/charts.js";
import { h, SCORE_COLOURS } from "../shared/ui.js";

const KINDS = [["frame_scores", "Frame scores"], ["video_scores", "Video scores"], ["contours", "Contours"]];
const TOTALS = [["sites", "Sites"], ["patients", "Patients"], ["exams", "Exams"], ["videos", "Videos"], ["frames", "Frames"],
  ["frame_scores", "Frame scores"], ["video_scores", "Video scores"], ["contours", "Contours"]];
const TOP_ANNOTATORS = 12;

function chartCard(title, chart, note) {
  return h("figure.chart-card", {}, h("figcaption", {}, title), chart, note ? h("p.muted", {}, note) : null);
}

export function statsView(stats) {
  const totals = h("dl.totals", {}, TOTALS.map(([key, label]) =>
    h("div.total", {}, h("dt", {}, label), h("dd", {}, stats.totals[key].toLocaleString()))));
  const perLevel = KINDS.map(([key, label]) => chartCard(`${label} per validation level`,
    barChart(stats.labels_per_level.map((row) => ({ label: `L${row.level}`, value: row[key] })),
      { label: `${label} per validation level`, width: 220, height: 150 })));
  const scores = (values, label) => chartCard(label, barChart(values.map((value, score) => ({
    label: String(score), value, colour: SCORE_COLOURS[score] })), { label, width: 220, height: 150 }));
  const people = stats.labels_per_annotator;
  const top = people.slice(0, TOP_ANNOTATORS);
  const perAnnotator = chartCard("Labels per annotator", barChart(top.map((p) => ({
    label: p.username, value: p.frame_scores + p.video_scores + p.contours })),
  { label: "Labels per annotator (all kinds)", width: Math.max(360, 60 * top.length), height: 180 }),
  people.length > TOP_ANNOTATORS ? `The ${TOP_ANNOTATORS} with most labels of ${people.length}; all in the table.` : "");
  const table = h("table.compact", {}, h("caption", {}, "Labels per annotator"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Annotator"), h("th", { scope: "col" }, "Role"),
      KINDS.map(([, label]) => h("th.num", { scope: "col" }, label)))),
    h("tbody", {}, people.map((p) => h("tr", {}, h("th", { scope: "row" }, p.username), h("td", {}, p.role),
      KINDS.map(([key]) => h("td.num", {}, p[key].toLocaleString()))))));
  const jobs = Object.entries(stats.jobs_per_status).filter(([, n]) => n).map(([status, n]) => `${n} ${status}`);
  return h("section.card.stats", { "aria-labelledby": "stats-title" },
    h("h2", { id: "stats-title" }, "Dataset"),
    totals,
    h("div.chart-row", {}, scores(stats.frame_score_distribution, "Frame scores by score"),
      scores(stats.video_score_distribution, "Video scores by score"), perLevel),
    h("div.chart-row", {}, perAnnotator, h("div.table-wrap", {}, table)),
    h("p.muted", {}, `Jobs: ${jobs.join(", ") || "none yet"}. Active models: `
      + (stats.active_versions.map((v) => `${v.kind} v${v.id} (${v.name})`).join(", ") || "none") + "."));
}

// The worklist table: sortable headers (buttons + aria-sort) and rows that open with Enter.
import { h } from "../shared/ui.js";

const COLUMNS = [
  ["video", "Video"], ["site", "Site"], ["patient", "Patient"], ["lung_zone", "Zone"], ["probe", "Probe"],
  ["frames", "Frames"], ["progress", "Frames scored"], ["contoured", "Contoured"],
  ["video_score", "Video score"], ["status", "Status"], ["open", "Open", false],
];
// Validators and admins also see how many frames lower levels scored (what waits for their level).
const REVIEW_COLUMNS = [...COLUMNS.slice(0, -2), ["ready", "To validate"], ...COLUMNS.slice(-2)];
const STATUS_TEXT = { not_started: "Not started", in_progress: "In progress", done: "Done" };

function header([key, label, sortable = true], ordering, onSort) {
  if (!sortable) return h("th", { scope: "col" }, label);
  const active = ordering.replace(/^-/, "") === key;
  const descending = ordering.startsWith("-");
  const sort = active ? (descending ? "descending" : "ascending") : "none";
  return h("th", { scope: "col", "aria-sort": sort },
    h("button.sort", { type: "button", dataset: { sort: key }, onclick: () => onSort(key),
      "aria-label": `Sort by ${label}${active && !descending ? ", descending" : ""}` },
      label, h("span.arrow", { "aria-hidden": "true" }, active ? (descending ? " ▼" : " ▲") : " ↕")));
}

function progressCell(row) {
  const percent = row.frame_count ? Math.round((100 * row.scored_frames) / row.frame_count) : 0;
  return h("td", {},
    h("div.progress-cell", {},
      h("div.progress", { role: "progressbar", "aria-valuemin": "0", "aria-valuemax": String(row.frame_count),
        "aria-valuenow": String(row.scored_frames), "aria-label": `${row.scored_frames} of ${row.frame_count} frames scored` },
      h("span", { style: { width: `${percent}%` } })),
      h("span.count", {}, `${row.scored_frames} / ${row.frame_count}`)));
}

function scoreBadge(score) {
  return score === null || score === undefined
    ? h("span.muted", { "aria-label": "no video score" }, "—")
    : h(`span.badge.score-${score}`, { "aria-label": `video score ${score}` }, String(score));
}

function row(video, reviewer) {
  // Validators open the validate page (Enter, double-click); annotators and admins the annotate page.
  const annotate = reviewer === "validator" ? `/videos/${video.id}/validate/` : `/videos/${video.id}/annotate/`;
  const links = [h("a", { href: `/videos/${video.id}/annotate/` }, "Annotate")];
  if (reviewer) links.push(h("a", { href: `/videos/${video.id}/validate/` }, "Validate"));
  const assignees = video.assignees.map((a) => a.username).join(", ");
  const tr = h("tr", { tabindex: "0", dataset: { video: video.id, href: annotate },
    "aria-label": `${video.original_name}, ${STATUS_TEXT[video.status]}, ${video.scored_frames} of ${video.frame_count} frames scored` },
  h("th", { scope: "row" }, video.original_name,
    assignees ? h("div.muted.small", { title: "Assigned to" }, assignees) : null),
  h("td", {}, video.site.name),
  h("td", {}, video.patient.name),
  h("td", {}, video.lung_zone || "—"),
  h("td", {}, video.probe),
  h("td.num", {}, video.frame_count),
  progressCell(video),
  h("td.num", {}, video.contoured_frames),
  h("td", {}, scoreBadge(video.video_score)),
  reviewer ? h("td.num", { title: "Frames scored below your validation level" }, video.ready_frames) : null,
  h("td", {}, h(`span.status.status-${video.status}`, {}, STATUS_TEXT[video.status])),
  h("td.links", {}, links));
  // Enter on the row (not on a link inside it, which opens its own target) opens the annotate (validators:
  // validate) page.
  tr.addEventListener("keydown", (event) => {
    if (event.target !== tr) return;
    if (event.key === "Enter") location.assign(annotate);
    else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const next = event.key === "ArrowDown" ? tr.nextElementSibling : tr.previousElementSibling;
      if (next) { next.focus(); event.preventDefault(); }
    }
  });
  tr.addEventListener("dblclick", () => location.assign(annotate));
  return tr;
}

/** rows: the worklist API's results; reviewer: false, or the role of a validator or admin; onSort(key) is
 * called with the column clicked. */
export function worklistTable(rows, { ordering, reviewer, onSort }) {
  const columns = reviewer ? REVIEW_COLUMNS : COLUMNS;
  return h("table.worklist", {},
    h("caption.visually-hidden", {}, "Videos to work on; the column buttons sort"),
    h("thead", {}, h("tr", {}, columns.map((column) => header(column, ordering, onSort)))),
    h("tbody", {}, rows.length
      ? rows.map((video) => row(video, reviewer))
      : h("tr", {}, h("td", { colspan: String(columns.length) }, "No videos match these filters."))));
}

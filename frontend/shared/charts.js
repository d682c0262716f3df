// Dependency-free SVG charts: bars, lines, and matrices (kappa, confusion). Every chart is an <svg>
// with role="img" and an aria-label, plus <title> tooltips on its marks.

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, value);
  if (text !== undefined) element.textContent = text;
  return element;
}

function frame(width, height, label) {
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": label, class: "chart" });
}

/** Labels that fit about `max` characters and stay distinct: a long name is cut at its end ("radiologis…"),
 * and names that would then read alike show where they differ instead ("rad…anna_…", "rad…alex_…"); the
 * full names go in each label's tooltip. */
export function distinctLabels(names, max) {
  const full = names.map(String);
  const limit = Math.max(4, max);
  const endCut = (name, n) => (name.length <= n ? name : `${name.slice(0, n - 1)}…`);
  const around = (name, n, at) => {  // the start, then the text from `at` (where it differs from its look-alikes)
    if (name.length <= n) return name;
    const head = Math.max(1, Math.floor((n - 1) / 3));
    const room = n - 1 - head;
    const from = Math.min(Math.max(head, at), name.length - room);
    if (from <= head) return endCut(name, n);
    return `${name.slice(0, head)}…${name.slice(from, from + room)}${from + room < name.length ? "…" : ""}`;
  };
  const labels = full.map((name) => endCut(name, limit));
  for (let n = limit, round = 0; round < 40; n += 2, round += 1) {
    const groups = new Map();
    labels.forEach((label, i) => groups.set(label, [...(groups.get(label) || []), i]));
    const clashes = [...groups.values()].filter((same) => same.length > 1 && new Set(same.map((i) => full[i])).size > 1);
    if (!clashes.length) break;
    for (const same of clashes) {
      let common = 0;
      while (same.every((i) => full[i][common] === full[same[0]][common])) common += 1;
      for (const i of same) labels[i] = round === 0 ? around(full[i], n, common - 1) : endCut(full[i], n);
    }
  }
  return labels;
}

/** How many characters of 11 px chart text fit in `pixels`. */
const fitChars = (pixels) => Math.max(3, Math.floor(pixels / 6.5));

/** A chart text with its full wording as a tooltip when it is shortened. */
function labelText(attrs, shown, full) {
  const text = svg("text", attrs, shown);
  if (shown !== full) text.append(svg("title", {}, full));
  return text;
}

const fmt = (value) => (value === null || value === undefined || Number.isNaN(value) ? "—"
  : Math.abs(value) >= 100 ? String(Math.round(value)) : Number(value).toFixed(2).replace(/\.?0+$/, ""));

/** Vertical bars from a zero line (negative values hang below it). data: [{label, value, colour?}];
 * a null value draws no bar and prints `empty` (e.g. "undefined"). Labels longer than their bar's width
 * are shortened, distinctly (distinctLabels), with the full label as tooltip. */
export function barChart(data, { label = "Bar chart", width = 360, height = 180, colour = "#4a78c2", empty = "—" } = {}) {
  const root = frame(width, height, label);
  const pad = { left: 36, right: 8, top: 10, bottom: 28 };
  const values = data.map((d) => d.value).filter((v) => Number.isFinite(v));
  const max = Math.max(1, ...values);
  const min = Math.min(0, ...values);
  const band = (width - pad.left - pad.right) / Math.max(1, data.length);
  const span = height - pad.top - pad.bottom;
  const y = (value) => pad.top + span * ((max - value) / (max - min));
  const zero = y(0);
  root.append(svg("line", { x1: pad.left, y1: zero, x2: width - pad.right, y2: zero, class: "axis" }));
  root.append(svg("text", { x: pad.left - 4, y: pad.top + 4, "text-anchor": "end", class: "tick" }, fmt(max)));
  if (min < 0) root.append(svg("text", { x: pad.left - 4, y: height - pad.bottom, "text-anchor": "end", class: "tick" }, fmt(min)));
  const shown = distinctLabels(data.map((d) => String(d.label)), fitChars(band));
  data.forEach((d, i) => {
    const x = pad.left + i * band + band * 0.15;
    const defined = Number.isFinite(d.value);
    const top = defined ? Math.min(y(d.value), zero) : zero;
    const barHeight = defined ? Math.abs(y(d.value) - zero) : 0;
    const rect = svg("rect", { x, y: top, width: band * 0.7, height: barHeight, fill: d.colour || colour });
    rect.append(svg("title", {}, `${d.label}: ${defined ? d.value : empty}`));
    root.append(rect);
    root.append(labelText({ x: x + band * 0.35, y: height - pad.bottom + 14, "text-anchor": "middle", class: "tick" },
      shown[i], String(d.label)));
    const below = defined && d.value < 0;
    root.append(svg("text", { x: x + band * 0.35, y: below ? top + barHeight + 11 : top - 3, "text-anchor": "middle",
      class: "value" }, defined ? fmt(d.value) : empty));
  });
  return root;
}

/** Lines over x. series: [{name, colour, points: [[x, y], …]}] */
export function lineChart(series, { label = "Line chart", width = 420, height = 200, xLabel = "", yLabel = "" } = {}) {
  const root = frame(width, height, label);
  const pad = { left: 44, right: 90, top: 10, bottom: 30 };
  const points = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p[1]));
  if (!points.length) {
    root.append(svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "muted" }, "No data yet"));
    return root;
  }
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs, Math.min(...xs) + 1)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y0 === y1) { y0 -= 0.5; y1 += 0.5; }
  const sx = (x) => pad.left + ((x - x0) / (x1 - x0)) * (width - pad.left - pad.right);
  const sy = (y) => height - pad.bottom - ((y - y0) / (y1 - y0)) * (height - pad.top - pad.bottom);
  root.append(svg("line", { x1: pad.left, y1: height - pad.bottom, x2: width - pad.right, y2: height - pad.bottom, class: "axis" }));
  root.append(svg("line", { x1: pad.left, y1: pad.top, x2: pad.left, y2: height - pad.bottom, class: "axis" }));
  root.append(svg("text", { x: pad.left - 4, y: pad.top + 8, "text-anchor": "end", class: "tick" }, fmt(y1)));
  root.append(svg("text", { x: pad.left - 4, y: height - pad.bottom, "text-anchor": "end", class: "tick" }, fmt(y0)));
  root.append(svg("text", { x: pad.left, y: height - 8, class: "tick" }, fmt(x0)));
  root.append(svg("text", { x: width - pad.right, y: height - 8, "text-anchor": "end", class: "tick" }, `${fmt(x1)} ${xLabel}`));
  if (yLabel) root.append(svg("text", { x: 4, y: pad.top + 8, class: "tick" }, yLabel));
  series.forEach((s, i) => {
    const path = s.points.filter((p) => Number.isFinite(p[1])).map((p, j) => `${j ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join("");
    root.append(svg("path", { d: path, fill: "none", stroke: s.colour || "#4a78c2", "stroke-width": 2, class: "series" }));
    root.append(svg("text", { x: width - pad.right + 6, y: pad.top + 12 + i * 14, fill: s.colour || "#4a78c2", class: "legend" }, s.name));
  });
  return root;
}

/** A square matrix of values in [min, max] as coloured cells with numbers (kappa matrix, confusion matrix).
 * Empty (null) cells print `empty`; notes[i][j], when given, is added to a cell's tooltip (e.g. why it is empty). */
export function matrixChart(rows, cols, values, { label = "Matrix", min = 0, max = 1, cell = 44, rowTitle = "", colTitle = "",
  empty = "—", notes = null } = {}) {
  const left = 90;
  const top = 40;
  const width = left + cols.length * cell + 10;
  const height = top + rows.length * cell + 10;
  const root = frame(width, height, label);
  const [colTitleShown] = distinctLabels([colTitle], fitChars(width - left));
  if (colTitle) root.append(labelText({ x: left, y: 12, class: "tick" }, colTitleShown, colTitle));
  if (rowTitle) root.append(svg("text", { x: 2, y: 12, class: "tick" }, rowTitle));
  const colShown = distinctLabels(cols.map(String), fitChars(cell - 2));
  const rowShown = distinctLabels(rows.map(String), fitChars(left - 8));
  cols.forEach((c, j) => root.append(labelText({ x: left + j * cell + cell / 2, y: top - 6, "text-anchor": "middle", class: "tick" },
    colShown[j], String(c))));
  rows.forEach((r, i) => {
    root.append(labelText({ x: left - 6, y: top + i * cell + cell / 2 + 4, "text-anchor": "end", class: "tick" }, rowShown[i], String(r)));
    cols.forEach((c, j) => {
      const value = values[i]?.[j];
      const t = value === null || value === undefined || Number.isNaN(value) ? null : Math.max(0, Math.min(1, (value - min) / (max - min || 1)));
      const fill = t === null ? "#eee" : `hsl(${210 - 0 * t}, 70%, ${92 - 50 * t}%)`;
      const rect = svg("rect", { x: left + j * cell, y: top + i * cell, width: cell - 2, height: cell - 2, fill, class: "cell" });
      const note = notes?.[i]?.[j];
      rect.append(svg("title", {}, `${r} × ${c}: ${t === null ? empty : fmt(value)}${note ? ` (${note})` : ""}`));
      root.append(rect);
      root.append(svg("text", { x: left + j * cell + cell / 2 - 1, y: top + i * cell + cell / 2 + 4, "text-anchor": "middle",
        class: t !== null && t > 0.6 ? "value inverse" : "value" }, t === null ? empty : fmt(value)));
    });
  });
  return root;
}

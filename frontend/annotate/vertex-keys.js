// Keyboard-complete contour editing (drawing still needs a pointer): Tab / Shift+Tab cycle the frame's
// polygons, "," and "." the selected polygon's vertices, the arrows nudge the selected vertex (Shift: 10 px),
// I inserts a vertex after it, Delete removes it (ContourEditor.deleteSelection), C changes the selected
// polygon's class (ContourEditor.setClass). Every change goes through ContourEditor.edit: undoable, saved.

import { selfIntersects } from "./contours.js";

const round2 = (value) => Math.round(value * 100) / 100;

/** Select the next (delta 1) or previous (-1) visible polygon of the frame; false when there is none. */
export function cyclePolygon(editor, delta) {
  const items = editor.visibleItems();
  if (!items.length) return false;
  const at = items.findIndex((item) => item.key === editor.selected?.key);
  const next = at < 0 ? (delta > 0 ? 0 : items.length - 1) : (at + delta + items.length) % items.length;
  editor.selected = { key: items[next].key, vertex: null };
  editor.onChange();
  return true;
}

/** Select the next / previous vertex of the selected polygon (the first polygon's when none is selected). */
export function cycleVertex(editor, delta) {
  if (!editor.selected && !cyclePolygon(editor, 1)) return false;
  const item = editor.items().find((i) => i.key === editor.selected.key);
  if (!item) return false;
  const n = item.vertices.length;
  const at = editor.selected.vertex;
  const next = at === null || at === undefined ? (delta > 0 ? 0 : n - 1) : (at + delta + n) % n;
  editor.selected = { key: item.key, vertex: next };
  editor.onChange();
  return true;
}

/** Whether a vertex is selected (then the arrows nudge it instead of stepping frames). */
export function vertexSelected(editor) {
  return editor.selected?.vertex !== null && editor.selected?.vertex !== undefined
    && editor.items().some((i) => i.key === editor.selected.key);
}

/** Move the selected vertex by (dx, dy) image pixels, kept inside the image; refused if the polygon
 * would cross itself. */
export function nudgeVertex(editor, dx, dy) {
  if (!vertexSelected(editor)) return false;
  const { key, vertex } = editor.selected;
  const { width, height } = editor.view;
  return editor.edit((items) => {
    const item = items.find((i) => i.key === key);
    const [x, y] = item.vertices[vertex];
    item.vertices[vertex] = [round2(Math.min(Math.max(x + dx, 0), width)), round2(Math.min(Math.max(y + dy, 0), height))];
    if (selfIntersects(item.vertices)) {
      editor.tell("That would make the polygon cross itself.");
      return false;
    }
    return true;
  });
}

/** Insert a vertex halfway along the edge after the selected vertex and select it. */
export function insertVertex(editor) {
  if (!vertexSelected(editor)) {
    editor.tell("Select a vertex first (\",\" and \".\" cycle them).");
    return false;
  }
  const { key, vertex } = editor.selected;
  const ok = editor.edit((items) => {
    const item = items.find((i) => i.key === key);
    const a = item.vertices[vertex];
    const b = item.vertices[(vertex + 1) % item.vertices.length];
    item.vertices.splice(vertex + 1, 0, [round2((a[0] + b[0]) / 2), round2((a[1] + b[1]) / 2)]);
    return true;
  });
  if (ok) {
    editor.selected = { key, vertex: vertex + 1 };
    editor.onChange();
  }
  return ok;
}

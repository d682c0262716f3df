// The polygon editor: draw a polygon per marker class (click to add vertices, click the first vertex,
// Enter or double-click to close), drag vertices, click an edge of the selected polygon to insert one,
// Alt+click or Delete to remove one, undo/redo, copy the previous frame's polygons.
//
// Vertices are stored as the API wants them: image pixels with pixel centres at integers (OpenCV's
// convention, annotations/geometry.py), so a vertex (x, y) is drawn at canvas image point (x + .5, y + .5).

import { SCORE_COLOURS } from "../shared/ui.js";

const HIT_PX = 7;  // pointer tolerance in screen pixels

const round2 = (value) => Math.round(value * 100) / 100;
const copyItems = (items) => items.map((item) => ({ ...item, vertices: item.vertices.map((v) => [...v]) }));

function orientation(a, b, c) {
  const value = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
  return Math.abs(value) < 1e-9 ? 0 : Math.sign(value);
}

function onSegment(a, b, p) {
  return Math.min(a[0], b[0]) <= p[0] && p[0] <= Math.max(a[0], b[0])
    && Math.min(a[1], b[1]) <= p[1] && p[1] <= Math.max(a[1], b[1]);
}

function segmentsTouch(a, b, c, d) {
  const [o1, o2, o3, o4] = [orientation(a, b, c), orientation(a, b, d), orientation(c, d, a), orientation(c, d, b)];
  if (o1 !== o2 && o3 !== o4) return true;
  return (o1 === 0 && onSegment(a, b, c)) || (o2 === 0 && onSegment(a, b, d))
    || (o3 === 0 && onSegment(c, d, a)) || (o4 === 0 && onSegment(c, d, b));
}

/** Same rule as the server: non-adjacent edges may neither cross nor touch. */
export function selfIntersects(vertices) {
  const ring = vertices.filter((v, i) => i === 0 || v[0] !== vertices[i - 1][0] || v[1] !== vertices[i - 1][1]);
  const n = ring.length;
  if (n < 4) return false;
  for (let i = 0; i < n; i += 1) {
    for (let j = i + 1; j < n; j += 1) {
      if (j === i + 1 || (i === 0 && j === n - 1)) continue;  // adjacent edges share a vertex
      if (segmentsTouch(ring[i], ring[(i + 1) % n], ring[j], ring[(j + 1) % n])) return true;
    }
  }
  return false;
}

function distanceToSegment(p, a, b) {
  const [dx, dy] = [b[0] - a[0], b[1] - a[1]];
  const length = dx * dx + dy * dy;
  const t = length ? Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length)) : 0;
  const q = [a[0] + t * dx, a[1] + t * dy];
  return [Math.hypot(p[0] - q[0], p[1] - q[1]), q];
}

function inside(p, vertices) {
  let hit = false;
  for (let i = 0, j = vertices.length - 1; i < vertices.length; j = i, i += 1) {
    const [a, b] = [vertices[i], vertices[j]];
    if ((a[1] > p[1]) !== (b[1] > p[1]) && p[0] < ((b[0] - a[0]) * (p[1] - a[1])) / (b[1] - a[1]) + a[0]) hit = !hit;
  }
  return hit;
}

export class ContourEditor {
  /**
   * book: ContourBook; view: FrameCanvas; classes: [{index, name, score, colour}];
   * onChange(): the polygons or the selection changed; onJump(index): undo/redo went to another frame;
   * tell(message): explain a refused edit.
   */
  constructor({ book, view, classes, onChange = () => {}, onJump = () => {}, tell = () => {} }) {
    this.book = book;
    this.view = view;
    this.classes = classes;
    this.onChange = onChange;
    this.onJump = onJump;
    this.tell = tell;
    this.frame = 0;
    this.tool = "view";
    this.cls = classes[0]?.index ?? 1;
    this.hidden = new Set();
    this.drawing = null;
    this.hover = null;
    this.selected = null;  // {key, vertex: index | null}
    this.drag = null;
    this.undoStack = [];
    this.redoStack = [];
  }

  colour(cls) {
    const found = this.classes.find((c) => c.index === cls);
    return found && found.score !== null && found.score !== undefined ? SCORE_COLOURS[found.score] : (found?.colour || "#888");
  }

  items() { return this.book.items(this.frame); }

  visibleItems() { return this.items().filter((item) => !this.hidden.has(item.cls)); }

  setFrame(index) {
    if (index === this.frame) return;
    this.frame = index;
    this.drawing = null;
    this.selected = null;
    this.drag = null;
  }

  setTool(tool) {
    this.tool = tool;
    if (tool !== "draw") this.drawing = null;
    this.onChange();
  }

  setClass(cls) {
    this.cls = cls;
    const item = this._selectedItem();
    if (item && item.cls !== cls) this._edit((items) => { items.find((i) => i.key === item.key).cls = cls; });
    this.onChange();
  }

  toggleClass(cls, visible = this.hidden.has(cls)) {
    if (visible) this.hidden.delete(cls); else this.hidden.add(cls);
    if (this._selectedItem()?.cls === cls && !visible) this.selected = null;
    this.onChange();
  }

  select(key) {
    this.selected = key ? { key, vertex: null } : null;
    this.onChange();
  }

  _selectedItem() {
    return this.selected ? this.items().find((item) => item.key === this.selected.key) || null : null;
  }

  /** The keyboard's edits (vertex-keys.js): `mutate` a copy of this frame's polygons, undoable. */
  edit(mutate) { return this._edit(mutate); }

  /** Apply `mutate` to a copy of this frame's polygons and record it for undo. */
  _edit(mutate, index = this.frame) {
    const before = copyItems(this.book.items(index));
    const after = copyItems(before);
    if (mutate(after) === false) return false;
    this.book.setItems(index, after);
    this.undoStack.push({ index, before, after: copyItems(after) });
    if (this.undoStack.length > 500) this.undoStack.shift();
    this.redoStack = [];
    this.onChange();
    return true;
  }

  toVertex([ix, iy]) {
    return [round2(Math.min(this.view.width, Math.max(0, ix - 0.5))), round2(Math.min(this.view.height, Math.max(0, iy - 0.5)))];
  }

  _tolerance() { return HIT_PX / this.view.scale; }

  _vertexAt(p) {
    const items = this.visibleItems();
    for (let k = items.length - 1; k >= 0; k -= 1) {
      const vertices = items[k].vertices;
      for (let v = 0; v < vertices.length; v += 1) {
        if (Math.hypot(vertices[v][0] - p[0], vertices[v][1] - p[1]) <= this._tolerance()) return { key: items[k].key, vertex: v };
      }
    }
    return null;
  }

  _edgeAt(p) {
    const items = this.visibleItems();
    for (let k = items.length - 1; k >= 0; k -= 1) {
      const vertices = items[k].vertices;
      for (let v = 0; v < vertices.length; v += 1) {
        const [distance, point] = distanceToSegment(p, vertices[v], vertices[(v + 1) % vertices.length]);
        if (distance <= this._tolerance()) return { key: items[k].key, after: v, point: [round2(point[0]), round2(point[1])] };
      }
    }
    return null;
  }

  _insideAt(p) {
    const items = this.visibleItems();
    for (let k = items.length - 1; k >= 0; k -= 1) if (inside(p, items[k].vertices)) return items[k].key;
    return null;
  }

  /** Left button down on the canvas at image point `point`; true when the editor used it (no pan). */
  pointerDown(event, point) {
    const p = this.toVertex(point);
    if (this.drawing) {
      const first = this.drawing[0];
      if (this.drawing.length >= 3 && Math.hypot(first[0] - p[0], first[1] - p[1]) <= this._tolerance()) this.close();
      else this._addVertex(p);
      return true;
    }
    const vertex = this._vertexAt(p);
    if (vertex) {
      if (event.altKey) {
        this.selected = vertex;
        this.deleteSelection();
        return true;
      }
      this.selected = vertex;
      this.drag = { key: vertex.key, vertex: vertex.vertex, before: copyItems(this.items()), moved: false };
      this.onChange();
      return true;
    }
    const edge = this._edgeAt(p);
    if (edge) {
      if (this.selected?.key === edge.key) {
        // Insert a vertex on the selected polygon's edge and drag it straight away.
        const before = copyItems(this.items());
        const items = copyItems(before);
        items.find((item) => item.key === edge.key).vertices.splice(edge.after + 1, 0, edge.point);
        this.book.setItems(this.frame, items);
        this.selected = { key: edge.key, vertex: edge.after + 1 };
        this.drag = { key: edge.key, vertex: edge.after + 1, before, moved: true };
      } else {
        this.selected = { key: edge.key, vertex: null };
      }
      this.onChange();
      return true;
    }
    if (this.tool === "draw") {
      this.selected = null;
      this.drawing = [p];
      this.onChange();
      return true;
    }
    const key = this._insideAt(p);
    this.selected = key ? { key, vertex: null } : null;
    this.onChange();
    return false;
  }

  pointerMove(event, point) {
    this.hover = this.toVertex(point);
    if (this.drag) {
      const items = this.items();
      const item = items.find((i) => i.key === this.drag.key);
      if (item) {
        item.vertices[this.drag.vertex] = this.hover;
        this.drag.moved = true;
      }
      this.view.paint();
      return true;
    }
    if (this.drawing) this.view.paint();
    return false;
  }

  pointerUp() {
    const drag = this.drag;
    this.drag = null;
    if (!drag || !drag.moved) return;
    const after = copyItems(this.items());
    const item = after.find((i) => i.key === drag.key);
    if (item) this.book.markEdited(item);  // moved in place while dragging: setItems cannot see the change
    if (item && selfIntersects(item.vertices)) {
      this.book.setItems(this.frame, drag.before);  // same as before: nothing new is saved
      this.tell("That would make the polygon cross itself; the vertex went back.");
    } else {
      this.book.setItems(this.frame, after);
      this.undoStack.push({ index: this.frame, before: drag.before, after: copyItems(after) });
      this.redoStack = [];
    }
    this.onChange();
  }

  doubleClick(point) {
    if (this.drawing) {
      this.close();
      return;
    }
    const edge = this._edgeAt(this.toVertex(point));
    if (edge && this._vertexAt(this.toVertex(point)) === null) {
      this._edit((items) => { items.find((i) => i.key === edge.key).vertices.splice(edge.after + 1, 0, edge.point); });
      this.selected = { key: edge.key, vertex: edge.after + 1 };
      this.onChange();
    }
  }

  _addVertex(p) {
    const last = this.drawing[this.drawing.length - 1];
    if (last && Math.hypot(last[0] - p[0], last[1] - p[1]) < 1e-6) return;  // the second click of a double-click
    const candidate = [...this.drawing, p];
    if (this._crossesOpen(candidate)) {
      this.tell("That vertex would make the outline cross itself.");
      return;
    }
    this.drawing = candidate;
    this.view.paint();
  }

  // The open outline crosses itself (the closing edge is not drawn yet, so only the new edge matters).
  _crossesOpen(vertices) {
    const n = vertices.length;
    const [a, b] = [vertices[n - 2], vertices[n - 1]];
    for (let i = 0; i < n - 3; i += 1) if (segmentsTouch(vertices[i], vertices[i + 1], a, b)) return true;
    return false;
  }

  /** Close the polygon being drawn (Enter, double-click, or a click on its first vertex). */
  close() {
    if (!this.drawing) return false;
    const vertices = this.drawing.filter((v, i, all) => i === 0 || v[0] !== all[i - 1][0] || v[1] !== all[i - 1][1]);
    if (vertices.length < 3) {
      this.tell("A polygon needs at least 3 vertices.");
      return false;
    }
    if (selfIntersects(vertices)) {
      this.tell("Closing here would make the polygon cross itself; add or move a vertex first.");
      return false;
    }
    const key = this.book.newKey();
    this.drawing = null;
    this._edit((items) => { items.push({ key, cls: this.cls, vertices }); });
    this.selected = { key, vertex: null };
    this.onChange();
    return true;
  }

  /** Escape: stop drawing, else drop the selection. True when something was cancelled. */
  cancel() {
    if (this.drawing) {
      this.drawing = null;
    } else if (this.selected) {
      this.selected = null;
    } else {
      return false;
    }
    this.onChange();
    return true;
  }

  /** Delete: the selected vertex (polygons keep at least 3), else the selected polygon. */
  deleteSelection() {
    const item = this._selectedItem();
    if (!item) return false;
    if (this.selected.vertex !== null && this.selected.vertex !== undefined) {
      if (item.vertices.length <= 3) {
        this.tell("A polygon needs at least 3 vertices; select the polygon (not a vertex) to delete it.");
        return false;
      }
      const vertex = this.selected.vertex;
      const ok = this._edit((items) => {
        const target = items.find((i) => i.key === item.key);
        target.vertices.splice(vertex, 1);
        if (selfIntersects(target.vertices)) {
          this.tell("Removing that vertex would make the polygon cross itself.");
          return false;
        }
        return true;
      });
      if (ok) this.selected = { key: item.key, vertex: null };
      this.onChange();
      return ok;
    }
    this.deletePolygon(item.key);
    return true;
  }

  deletePolygon(key) {
    this._edit((items) => {
      const at = items.findIndex((i) => i.key === key);
      if (at < 0) return false;
      items.splice(at, 1);
      return true;
    });
    if (this.selected?.key === key) this.selected = null;
    this.onChange();
  }

  /** Copy the previous frame's polygons onto this one (as new polygons). */
  copyPrevious() {
    const previous = this.frame > 0 ? this.book.items(this.frame - 1) : [];
    if (!previous.length) {
      this.tell("The previous frame has no contours of yours to copy.");
      return false;
    }
    this._edit((items) => {
      items.push(...copyItems(previous).map((item) => ({ key: this.book.newKey(), cls: item.cls, vertices: item.vertices })));
    });
    return true;
  }

  /** Take `polygons` ([{cls, vertices}], e.g. another person's) as mine on this frame, replacing mine there
   * (a validator accepting a lower level's contour; edit them afterwards to correct it). Undoable. */
  adopt(polygons) {
    if (!polygons.length) return false;
    this.drawing = null;
    this.selected = null;
    return this._edit((items) => {
      items.splice(0, items.length, ...polygons.map((p) => ({ key: this.book.newKey(), cls: p.cls,
        vertices: p.vertices.map((v) => [...v]) })));
    });
  }

  undo() { return this._replay(this.undoStack, this.redoStack, "before"); }

  redo() { return this._replay(this.redoStack, this.undoStack, "after"); }

  _replay(from, to, side) {
    const entry = from.pop();
    if (!entry) return false;
    to.push(entry);
    this.drawing = null;
    this.selected = null;
    if (entry.index !== this.frame) this.onJump(entry.index);
    this.book.setItems(entry.index, copyItems(entry[side]));
    this.onChange();
    return true;
  }

  /** Paint in image coordinates (called by FrameCanvas). */
  paint(ctx, view) {
    const unit = 1 / view.scale;
    ctx.translate(0.5, 0.5);
    ctx.lineJoin = "round";
    for (const item of this.visibleItems()) {
      const selected = this.selected?.key === item.key;
      const colour = this.colour(item.cls);
      ctx.beginPath();
      item.vertices.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.closePath();
      ctx.globalAlpha = selected ? 0.35 : 0.22;
      ctx.fillStyle = colour;
      ctx.fill();
      ctx.globalAlpha = 1;
      ctx.lineWidth = (selected ? 3 : 2) * unit;
      ctx.strokeStyle = colour;
      // interpolated: dashed; proposed (propagated or the model's): dotted, until accepted
      if (item.proposal) ctx.setLineDash([2 * unit, 3 * unit]);
      else if (item.origin === "interpolated") ctx.setLineDash([8 * unit, 5 * unit]);
      ctx.stroke();
      ctx.setLineDash([]);
      if (selected || this.tool === "draw") {
        item.vertices.forEach(([x, y], i) => {
          const size = (selected && this.selected.vertex === i ? 10 : 7) * unit;
          ctx.fillStyle = selected && this.selected.vertex === i ? "#fff" : colour;
          ctx.strokeStyle = "#000";
          ctx.lineWidth = unit;
          ctx.fillRect(x - size / 2, y - size / 2, size, size);
          ctx.strokeRect(x - size / 2, y - size / 2, size, size);
        });
      }
    }
    if (this.drawing) {
      const colour = this.colour(this.cls);
      ctx.strokeStyle = colour;
      ctx.lineWidth = 2 * unit;
      ctx.setLineDash([6 * unit, 4 * unit]);
      ctx.beginPath();
      this.drawing.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      if (this.hover) ctx.lineTo(this.hover[0], this.hover[1]);
      ctx.stroke();
      ctx.setLineDash([]);
      this.drawing.forEach(([x, y], i) => {
        const size = (i === 0 ? 11 : 7) * unit;
        ctx.fillStyle = i === 0 ? "#fff" : colour;
        ctx.strokeStyle = "#000";
        ctx.lineWidth = unit;
        ctx.fillRect(x - size / 2, y - size / 2, size, size);
        ctx.strokeRect(x - size / 2, y - size / 2, size, size);
      });
    }
  }
}

// Other people's polygons on the frame (validators: lower levels; clinicians and admins: everyone), each
// person toggled on or off, drawn as dashed outlines in their marker class's colour with the person's
// name, and each one's Dice against the others' consensus on this frame (GET
// /api/viewer/videos/<id>/contour-agreement/, fetched after the first frame: rasterising is the server's).
// Vertices use the editor's convention (pixel centres at integers, contours.js).

import { api } from "../shared/api.js";

const DASHES = [[6, 4], [2, 3], [10, 3, 2, 3], [4, 4, 1, 4]];

export class OtherContours {
  /** frames: [{id}]; others: the read model's others ({annotator, contours}); colour(cls) -> CSS colour. */
  constructor({ frames, others, colour }) {
    const indexOf = new Map(frames.map((frame, i) => [frame.id, i]));
    this.frames = frames;
    this.colour = colour;
    this.people = others.filter((o) => o.contours && o.contours.length).map((o) => o.annotator);
    this.byFrame = new Map();  // index -> Map(person id -> [{cls, vertices}])
    for (const other of others) {
      for (const c of other.contours || []) {
        const index = indexOf.get(c.frame);
        if (index === undefined) continue;
        if (!this.byFrame.has(index)) this.byFrame.set(index, new Map());
        const mine = this.byFrame.get(index);
        if (!mine.has(other.annotator.id)) mine.set(other.annotator.id, []);
        mine.get(other.annotator.id).push({ cls: c.segmentation_class, vertices: c.vertices });
      }
    }
    this.shown = new Set(this.people.map((p) => p.id));
    this.frame = 0;
    this.dice = new Map();  // frame id -> {raters, dice: {person: value}, mine}
  }

  get any() { return this.people.length > 0; }

  /** Fetch the Dice of each person against the consensus (once); then(onLoaded). */
  async loadAgreement(videoId) {
    if (!this.any) return;
    const rows = await api(`viewer/videos/${videoId}/contour-agreement/`);
    this.dice = new Map(rows.map((row) => [row.frame, row]));
  }

  /** This frame's polygons of `person` ([] when none). */
  polygons(person, index = this.frame) {
    return this.byFrame.get(index)?.get(person) || [];
  }

  /** This frame's agreement row, or null (fewer than two people contoured it). */
  agreement(index = this.frame) {
    return this.dice.get(this.frames[index]?.id) || null;
  }

  toggle(person, on = !this.shown.has(person)) {
    if (on) this.shown.add(person); else this.shown.delete(person);
  }

  /** All on, or all off when all are on (the O key). */
  toggleAll() {
    const allOn = this.people.every((p) => this.shown.has(p.id));
    this.shown = new Set(allOn ? [] : this.people.map((p) => p.id));
  }

  paint(ctx, view) {
    const drawn = this.byFrame.get(this.frame);
    if (!drawn) return;
    const unit = 1 / view.scale;
    ctx.translate(0.5, 0.5);
    this.people.forEach((person, k) => {
      if (!this.shown.has(person.id)) return;
      for (const { cls, vertices } of drawn.get(person.id) || []) {
        ctx.strokeStyle = this.colour(cls);
        ctx.lineWidth = 2 * unit;
        ctx.setLineDash(DASHES[k % DASHES.length].map((d) => d * unit));
        ctx.beginPath();
        vertices.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
        ctx.closePath();
        ctx.stroke();
        ctx.setLineDash([]);
        ctx.fillStyle = "#fff";
        ctx.font = `${11 * unit}px system-ui, sans-serif`;
        ctx.fillText(person.username, vertices[0][0] + 3 * unit, vertices[0][1] - 3 * unit);
      }
    });
  }
}

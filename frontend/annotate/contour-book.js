// My contours per frame, as an autosave source: each frame is saved whole (PUT /api/frames/<id>/contours/)
// with the {id, version} of the stored contours it was based on. Polygons carry a local key so that
// undo/redo and saves in flight keep track of which stored contour (id) each one is.

export class ContourBook {
  /** frames: [{id, index}]; mine: [{id, frame, segmentation_class, vertices, version}] */
  constructor(frames, mine, { onChange = () => {} } = {}) {
    this.frames = frames;
    this.indexOf = new Map(frames.map((frame, i) => [frame.id, i]));
    this.layers = new Map();  // index -> {items: [{key, cls, vertices}], base: [{id, version}], gen}
    this.ids = new Map();     // key -> stored id
    this.dirty = new Set();
    this.invalid = null;
    this.onChange = onChange;
    this.nextKey = 1;
    this.onTrackSaved = () => {};
    for (const contour of mine) {
      const i = this.indexOf.get(contour.frame);
      if (i === undefined) continue;
      const layer = this.layer(i);
      const key = `c${contour.id}`;
      this.ids.set(key, contour.id);
      layer.items.push({ key, cls: contour.segmentation_class, vertices: contour.vertices, track: contour.track ?? null,
        origin: contour.origin || "manual", keyframe: Boolean(contour.is_keyframe), proposal: Boolean(contour.is_proposal) });
      layer.base.push({ id: contour.id, version: contour.version });
    }
  }

  newKey() {
    this.nextKey += 1;
    return `n${this.nextKey}`;
  }

  layer(index) {
    let layer = this.layers.get(index);
    if (!layer) {
      layer = { items: [], base: [], gen: 0 };
      this.layers.set(index, layer);
    }
    return layer;
  }

  items(index) {
    return this.layers.get(index)?.items || [];
  }

  /** Replace the frame's polygons (an edit, undo or redo): saved soon. A track polygon whose vertices
   * changed is a keyframe of mine from now on (the server makes it so too, and re-interpolates). */
  setItems(index, items) {
    const layer = this.layer(index);
    const before = new Map(layer.items.map((item) => [item.key, item.vertices]));
    for (const item of items) {
      if (JSON.stringify(before.get(item.key)) !== JSON.stringify(item.vertices)) this.markEdited(item);
    }
    const kept = new Set(items.map((item) => item.key));
    if (layer.items.some((item) => item.track && !kept.has(item.key))) this.trackEdited = true;  // re-interpolated
    layer.items = items;
    layer.gen += 1;
    this.dirty.add(index);
    this.invalid = null;
    this.onChange(index);
  }

  /** A track polygon or a proposal I edited: a manual keyframe (a proposal outside tracks: my contour). */
  markEdited(item) {
    if (!item.track && !item.proposal) return;
    Object.assign(item, { origin: "manual", keyframe: Boolean(item.track), proposal: false });
    this.trackEdited = true;
  }

  hasChanges() { return this.dirty.size > 0; }

  nextRequest() {
    const [index] = this.dirty;
    if (index === undefined) return null;
    const layer = this.layer(index);
    const stored = new Set(layer.base.map((b) => b.id));
    // A polygon whose stored contour is gone (deleted, then restored by undo) is sent as a new one.
    const contours = layer.items.map((item) => {
      const id = this.ids.get(item.key);
      return { id: stored.has(id) ? id : null, segmentation_class: item.cls, vertices: item.vertices };
    });
    return { path: `frames/${this.frames[index].id}/contours/`, method: "PUT", index, gen: layer.gen,
      keys: layer.items.map((item) => item.key), body: { contours, base: layer.base } };
  }

  saved(sent, response) {
    const layer = this.layer(sent.index);
    response.forEach((contour, j) => this.ids.set(sent.keys[j], contour.id));
    layer.base = response.map((contour) => ({ id: contour.id, version: contour.version }));
    if (layer.gen === sent.gen) this.dirty.delete(sent.index);
    if (this.trackEdited) {
      this.trackEdited = false;
      this.onTrackSaved(sent.index);  // the server re-interpolated the track's neighbouring frames
    }
  }

  describeConflict(sent, body) {
    const theirs = (body && body.current) || [];
    const count = (n) => `${n} polygon${n === 1 ? "" : "s"}`;
    return { title: "Contours changed meanwhile", rows: [{ what: `Frame ${sent.index + 1} contours`,
      mine: count(this.items(sent.index).length), theirs: count(theirs.length) }] };
  }

  resolve(sent, body, choice) {
    const current = (body && body.current) || [];
    const layer = this.layer(sent.index);
    layer.base = current.map((c) => ({ id: c.id, version: c.version }));
    if (choice === "theirs") {
      layer.items = current.map((c) => {
        const key = `c${c.id}`;
        this.ids.set(key, c.id);
        return { key, cls: c.segmentation_class, vertices: c.vertices };
      });
      layer.gen += 1;
      this.dirty.delete(sent.index);
    }
    this.onChange(sent.index);
  }
}

// Model overlays on the frame: the Reg-STN's two crop boxes (crop 1 red, crop 2 green, as in Roy et al.
// Fig. 4) and the segmentation mask or its MC-dropout uncertainty as a heat-map, with an opacity.
//
// Crop boxes are 4 corners in pixel-edge coordinates (ml/models/stn.py crop_boxes: pixel i covers
// [i, i + 1)), the canvas's own convention, so they are drawn as they come. Mask PNGs hold a class id
// per pixel (0 background, 1–4 the markers of scores 0–3) and are coloured here; uncertainty PNGs hold
// the MC-dropout standard deviation scaled so that 255 = 0.5 (modelling's UNCERTAINTY_PNG_MAX).

import { SCORE_COLOURS } from "../shared/ui.js";

const BOX_COLOURS = ["#e02020", "#1fbf3f"];
const CACHE = 12;

function rgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

export class Overlays {
  /** predictions: [{frame, crop_box_1, crop_box_2}]; segmentations: [{id, frame, mask_url, uncertainty_url}] */
  constructor({ frames, predictions, segmentations, onReady = () => {} }) {
    const indexOf = new Map(frames.map((frame, i) => [frame.id, i]));
    this.boxes = new Map(predictions.filter((p) => p.crop_box_1 || p.crop_box_2)
      .map((p) => [indexOf.get(p.frame), [p.crop_box_1, p.crop_box_2]]));
    this.masks = new Map(segmentations.map((s) => [indexOf.get(s.frame), s]));
    this.show = { boxes: false, mask: false, uncertainty: false };
    this.opacity = 0.5;
    this.frame = 0;
    this.cache = new Map();  // "id/kind" -> canvas | "loading" | "failed"
    this.onReady = onReady;
    this.failures = 0;
  }

  get hasBoxes() { return this.boxes.size > 0; }

  get hasMasks() { return this.masks.size > 0; }

  hasUncertainty() {
    for (const s of this.masks.values()) if (s.uncertainty_url) return true;
    return false;
  }

  paint(ctx, view) {
    const segmentation = this.masks.get(this.frame);
    for (const kind of ["mask", "uncertainty"]) {
      const url = segmentation && segmentation[`${kind}_url`];
      if (!this.show[kind] || !url) continue;
      const image = this._image(url, kind);
      if (image) {
        ctx.globalAlpha = this.opacity;
        ctx.imageSmoothingEnabled = false;
        ctx.drawImage(image, 0, 0, view.width, view.height);  // a mask may come at the model's resolution
        ctx.globalAlpha = 1;
      }
    }
    const boxes = this.show.boxes && this.boxes.get(this.frame);
    if (boxes) {
      const unit = 1 / view.scale;
      boxes.forEach((box, k) => {
        if (!box) return;
        ctx.strokeStyle = BOX_COLOURS[k];
        ctx.lineWidth = 2 * unit;
        ctx.beginPath();
        box.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
        ctx.closePath();
        ctx.stroke();
        ctx.fillStyle = BOX_COLOURS[k];
        ctx.font = `${12 * unit}px system-ui, sans-serif`;
        ctx.fillText(`crop ${k + 1}`, box[0][0] + 3 * unit, box[0][1] + 13 * unit);
      });
    }
  }

  _image(url, kind) {
    const cached = this.cache.get(url);
    if (cached && typeof cached !== "string") return cached;
    if (!cached) this._load(url, kind);
    return null;
  }

  async _load(url, kind) {
    const key = url;
    this.cache.set(key, "loading");
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const bitmap = await createImageBitmap(await response.blob());
      this.cache.set(key, kind === "mask" ? colourMask(bitmap) : heatMap(bitmap));
      bitmap.close();
      while (this.cache.size > CACHE) this.cache.delete(this.cache.keys().next().value);
      this.onReady();
    } catch (error) {
      this.cache.set(key, "failed");
      this.failures += 1;
      console.warn(`${kind} ${url} could not be loaded:`, error.message);
    }
  }
}

function pixels(bitmap) {
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  return [canvas, ctx, ctx.getImageData(0, 0, canvas.width, canvas.height)];
}

/** Class ids (red channel of a grey PNG) -> the marker colours; background transparent. */
function colourMask(bitmap) {
  const [canvas, ctx, image] = pixels(bitmap);
  const colours = SCORE_COLOURS.map(rgb);
  const data = image.data;
  for (let i = 0; i < data.length; i += 4) {
    const cls = data[i];
    if (cls >= 1 && cls <= 4) {
      [data[i], data[i + 1], data[i + 2]] = colours[cls - 1];
      data[i + 3] = 255;
    } else {
      data[i + 3] = 0;
    }
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

/** Uncertainty (grey level, 255 = SD 0.5) -> transparent (certain) through yellow to red. The square root
 * lifts the small deviations most pixels have, on one scale for every frame (frames stay comparable). */
function heatMap(bitmap) {
  const [canvas, ctx, image] = pixels(bitmap);
  const data = image.data;
  for (let i = 0; i < data.length; i += 4) {
    const t = Math.sqrt(data[i] / 255);
    data[i] = 255;
    data[i + 1] = Math.round(255 * (1 - t));
    data[i + 2] = 0;
    data[i + 3] = Math.round(255 * Math.min(1, t * 1.4));
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

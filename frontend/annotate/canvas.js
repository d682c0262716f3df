// The frame canvas: zoom and pan as one affine map (screen = image × scale + offset), redrawn at most
// once per animation frame. Layers (contours, overlays) paint in image pixels on top of the frame.
// Brightness and contrast (window/level) change how the frame is drawn, never the overlays or coordinates.

export const ZOOM_STEP = 1.25;
const MIN_SCALE = 0.1;
const MAX_SCALE = 40;
export const LEVEL_STEP = 0.1;
const LEVEL_RANGE = [0.2, 4];

export class FrameCanvas {
  /** canvas: the <canvas>; width/height: the frame size in pixels. */
  constructor(canvas, width, height) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.width = width;
    this.height = height;
    this.scale = 1;
    this.x = 0;
    this.y = 0;
    this.image = null;
    this.brightness = 1;  // CSS filter factors: 1 = as stored
    this.contrast = 1;
    this.onWindow = null;
    this.layers = [];   // (ctx, view) => void, painted in image coordinates
    this.fitted = true; // refit on resize until the user zooms or pans
    this.pending = false;
    this.onPaint = null;
    new ResizeObserver(() => this._resize()).observe(canvas);
    this._resize();
  }

  _resize() {
    const ratio = window.devicePixelRatio || 1;
    const { clientWidth, clientHeight } = this.canvas;
    if (!clientWidth || !clientHeight) return;
    this.canvas.width = Math.round(clientWidth * ratio);
    this.canvas.height = Math.round(clientHeight * ratio);
    this.ratio = ratio;
    if (this.fitted) this.fit();
    else this.paintNow();
  }

  /** The whole frame, centred. */
  fit() {
    const { clientWidth, clientHeight } = this.canvas;
    this.scale = Math.min(clientWidth / this.width, clientHeight / this.height);
    this.x = (clientWidth - this.width * this.scale) / 2;
    this.y = (clientHeight - this.height * this.scale) / 2;
    this.fitted = true;
    this.paint();
  }

  /** Zoom by `factor` keeping the image point under (sx, sy) (CSS pixels in the canvas) still. */
  zoomAt(factor, sx = this.canvas.clientWidth / 2, sy = this.canvas.clientHeight / 2) {
    const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, this.scale * factor));
    const [ix, iy] = this.toImage(sx, sy);
    this.scale = scale;
    this.x = sx - ix * scale;
    this.y = sy - iy * scale;
    this.fitted = false;
    this.paint();
  }

  panBy(dx, dy) {
    this.x += dx;
    this.y += dy;
    this.fitted = false;
    this.paint();
  }

  /** Brightness and contrast factors (1 = as stored), clamped; `null` keeps one as it is. */
  setWindow(brightness = null, contrast = null) {
    const clamp = (v) => Math.round(Math.min(LEVEL_RANGE[1], Math.max(LEVEL_RANGE[0], v)) * 100) / 100;
    if (brightness !== null) this.brightness = clamp(brightness);
    if (contrast !== null) this.contrast = clamp(contrast);
    this.onWindow?.();
    this.paint();
  }

  /** Canvas CSS pixels -> image coordinates (pixel i covers [i, i + 1)). */
  toImage(sx, sy) {
    return [(sx - this.x) / this.scale, (sy - this.y) / this.scale];
  }

  /** A pointer event's position in image coordinates. */
  eventToImage(event) {
    const rect = this.canvas.getBoundingClientRect();
    return this.toImage(event.clientX - rect.left, event.clientY - rect.top);
  }

  show(image) {
    this.image = image;
    this.paint();
  }

  /** Repaint on the next animation frame (many changes in one frame cost one paint). */
  paint() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.paintNow();
    });
  }

  paintNow() {
    const { ctx, ratio = 1 } = this;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#0b0f14";
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.setTransform(this.scale * ratio, 0, 0, this.scale * ratio, this.x * ratio, this.y * ratio);
    // Crisp pixels when zoomed in (annotators contour at pixel level); smooth when zoomed out.
    ctx.imageSmoothingEnabled = this.scale < 2;
    if (this.image) {
      const windowed = this.brightness !== 1 || this.contrast !== 1;
      if (windowed) ctx.filter = `brightness(${this.brightness}) contrast(${this.contrast})`;
      ctx.drawImage(this.image, 0, 0, this.width, this.height);
      if (windowed) ctx.filter = "none";
    }
    for (const layer of this.layers) {
      ctx.save();
      layer(ctx, this);
      ctx.restore();
    }
    if (this.image && this.onPaint) this.onPaint();
  }
}

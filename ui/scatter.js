// Autoencoder Explorer's latent scatter: WebGL points, pan and zoom, hover, lasso / box / click selection,
// a clickable legend or a colour bar. About 30 KB of our own code instead of Plotly's 4.7 MB bundle, so a new
// browser tab draws 70,000 points without parsing Plotly first (issue 5, benchmarks/FINDINGS.md §6).
//
// Input: one binary payload built by ui/scatter.py `pack`: uint32 header length, a UTF-8 JSON header, zero
// padding to 4 bytes, then `header.columns` as float32 arrays of `header.n` values each.
// Output: state "selection" = {rows: [sorted row numbers]}, sent when the user selects or clears; in "pick" mode
// (header.pick, the decoded plane) there is no selection: a click sends state "point" = {x, y}, and the points
// are drawn as rings over a background picture (header.image) that spans a rectangle of data coordinates.
// Text from the user's data (labels, column names) only ever reaches the page as textContent, never as HTML.
// Image runs add header.atlas and, after the columns, a PNG sprite sheet (ae_core/analysis/atlas.py): tile
// row * per_row (+1 for the reconstruction) at (t % cols, floor(t / cols)) * tile. Hover shows a point's tiles
// at once (the sheet is decoded once per run), and a view zoomed in to a few hundred points draws the pictures.

const VIEWS = new WeakMap(); // parentElement -> ScatterView, so a rerun with new data keeps zoom and selection
const MARGIN = { left: 62, right: 12, top: 6, bottom: 46 };
const HOVER_PX = 9; // a point within this many pixels of the pointer is "under" it
const GRID = 192; // cells per side of the hover/click index
// A million points: software WebGL draws ~1.3 points per microsecond, so a frame of every point takes most of a
// second. From DENSITY_N points the chart draws where they pile up as a density (a 2-D histogram of the points in
// view, DENSITY_PX pixels a bin, binned on the CPU per frame) and, zoomed in until at most POINTS_IN_VIEW points
// lie in the visible cells of a finer grid (GRID_BIG), each of those points; below DENSITY_N nothing changes.
const DENSITY_N = 150_000;
const POINTS_IN_VIEW = 15_000;
const GRID_BIG = 512;
const DENSITY_PX = 2;
const BLUES = [[0, [189, 215, 238]], [0.5, [49, 130, 189]], [1, [8, 48, 107]]]; // no colouring: light to dark by density
// Level of detail while a pan or wheel zoom is under way: when a full frame takes longer than FRAME_MS (software
// WebGL, a weak GPU), gesture frames draw a random subset sized to fit FRAME_MS, and the full set is drawn once
// the gesture has rested SETTLE_MS. On a GPU a full frame fits and nothing changes.
const FRAME_MS = 16;
const MIN_QUICK_POINTS = 10_000;
const SETTLE_MS = 150;
const TIP_PX = 96; // a hovered point's picture in the tooltip
const THUMBS_MAX = 400; // at most this many pictures in place of dots ...
const THUMB_MIN_PX = 18; // ... and only when they can be drawn at least this large without overlapping
const THUMB_MAX_PX = 72;

function shuffled(n) {
  // A fixed pseudo-random order (same data, same order): the buffer's first k points are a uniform sample, and
  // no class is drawn systematically on top of another.
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let seed = 0x9e3779b9;
  for (let i = n - 1; i > 0; i--) {
    seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
    const j = (seed >>> 0) % (i + 1);
    const t = order[i]; order[i] = order[j]; order[j] = t;
  }
  return order;
}

export default function (args) {
  const { data, parentElement, setStateValue } = args;
  let view = VIEWS.get(parentElement);
  if (!view) {
    view = new ScatterView(parentElement);
    VIEWS.set(parentElement, view);
  }
  view.send = setStateValue;
  if (data) view.load(data);
  return () => {
    view.destroy();
    VIEWS.delete(parentElement);
  };
}

function parse(bytes) {
  const head = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  const meta = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + head)));
  let offset = 4 + head;
  offset += (4 - (offset % 4)) % 4;
  const cols = {};
  for (const name of meta.columns) {
    // slice() copies into a fresh, aligned buffer (the payload's own offset may not be a multiple of 4)
    cols[name] = new Float32Array(bytes.slice(offset, offset + 4 * meta.n).buffer);
    offset += 4 * meta.n;
  }
  const atlas = meta.atlas ? bytes.slice(offset, offset + meta.atlas.bytes) : null;
  return { meta, cols, atlas };
}

function el(tag, cls, parent, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}

// The chart's own colours from Streamlit's theme (the --st-* properties a v2 component gets), so it reads on a
// dark theme as on a light one: the text colour at a few strengths for ticks, grid and frame.
function themeColours(root) {
  const style = getComputedStyle(root);
  const text = style.color || "rgb(49, 51, 63)";
  const m = text.match(/\d+(\.\d+)?/g) || [49, 51, 63];
  const alpha = (a) => `rgba(${m[0]}, ${m[1]}, ${m[2]}, ${a})`;
  return {
    text,
    background: style.getPropertyValue("--st-background-color").trim() || "#ffffff",
    tick: alpha(0.8), grid: alpha(0.1), frame: alpha(0.3), shade: alpha(0.06),
  };
}

function rgb(hex) {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

function scaleColour(stops, t) {
  // stops: [[t, "#rrggbb"], ...] ascending; t in [0, 1]
  if (!(t >= 0)) t = 0;
  if (t > 1) t = 1;
  for (let i = 1; i < stops.length; i++) {
    if (t <= stops[i][0]) {
      const [t0, c0] = stops[i - 1];
      const [t1, c1] = stops[i];
      const f = t1 > t0 ? (t - t0) / (t1 - t0) : 0;
      const a = rgb(c0);
      const b = rgb(c1);
      return [0, 1, 2].map((k) => Math.round(a[k] + (b[k] - a[k]) * f));
    }
  }
  return rgb(stops[stops.length - 1][1]);
}

function rampColour(stops, t) {
  // stops: [[t, [r, g, b]], ...] ascending; t in [0, 1]
  for (let i = 1; i < stops.length; i++) {
    if (t <= stops[i][0]) {
      const [t0, a] = stops[i - 1], [t1, b] = stops[i], f = (t - t0) / (t1 - t0);
      return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
    }
  }
  return stops[stops.length - 1][1];
}

function niceTicks(lo, hi, target) {
  const span = hi - lo;
  if (!(span > 0) || !isFinite(span)) return [];
  const raw = span / target;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function fmt(v, digits) {
  if (!isFinite(v)) return String(v);
  if (v !== 0 && (Math.abs(v) >= 1e6 || Math.abs(v) < 1e-4)) return v.toExponential(Math.max(0, digits - 1)).replace(/\.?0+e/, "e");
  return String(Number(v.toPrecision(digits)));
}

const VERT = `
attribute vec2 a_pos; attribute vec4 a_col;
uniform vec2 u_scale; uniform vec2 u_offset; uniform float u_size;
varying vec4 v_col;
void main() { gl_Position = vec4(a_pos * u_scale + u_offset, 0.0, 1.0); gl_PointSize = u_size; v_col = a_col; }`;
const FRAG = `
precision mediump float; varying vec4 v_col;
void main() {
  float r = length(gl_PointCoord - vec2(0.5));
  if (r > 0.5) discard;
  float a = v_col.a * (1.0 - smoothstep(0.38, 0.5, r));
  gl_FragColor = vec4(v_col.rgb * a, a);
}`;

class ScatterView {
  constructor(parent) {
    this.parent = parent;
    this.root = el("div", "aes-root", parent);
    this.root.aesView = this; // for browser tests: where a point is drawn, the current range
    const head = el("div", "aes-head", this.root);
    this.titleEl = el("div", "aes-title", head);
    this.tools = el("div", "aes-tools", head);
    this.mode = "lasso";
    this.buttons = {};
    for (const [mode, label, tip] of [
      ["lasso", "Lasso", "Drag a loop around points to select them (Shift adds to the selection)"],
      ["box", "Box", "Drag a rectangle to select points (Shift adds to the selection)"],
      ["pan", "Pan", "Drag to move the view; the mouse wheel zooms in every mode"],
    ]) {
      const b = el("button", "aes-btn", this.tools, label);
      b.type = "button";
      b.title = tip;
      b.onclick = () => this.setMode(mode);
      this.buttons[mode] = b;
    }
    this.clearBtn = el("button", "aes-btn", this.tools, "Clear selection");
    this.clearBtn.type = "button";
    this.clearBtn.onclick = () => this.select(null, false);
    const reset = el("button", "aes-btn", this.tools, "Reset view");
    reset.type = "button";
    reset.title = "Show every point again (or double-click the chart)";
    reset.onclick = () => this.fit(true);
    const png = el("button", "aes-btn", this.tools, "PNG");
    png.type = "button";
    png.title = "Download the chart as it looks now";
    png.onclick = () => this.savePng();
    this.thumbBtn = el("button", "aes-btn aes-on", this.tools, "Pictures");
    this.thumbBtn.type = "button";
    this.thumbBtn.title = "Zoomed in far enough, draw each point's picture instead of a dot";
    this.thumbBtn.hidden = true;
    this.showThumbs = true;
    this.thumbBtn.onclick = () => {
      this.showThumbs = !this.showThumbs;
      this.thumbBtn.classList.toggle("aes-on", this.showThumbs);
      this.draw();
    };
    const body = el("div", "aes-body", this.root);
    this.stage = el("div", "aes-stage", body);
    this.back = el("canvas", "aes-back", this.stage);
    this.glCanvas = el("canvas", "aes-gl", this.stage);
    this.densCanvas = el("canvas", "aes-dens", this.stage); // the density view of a big set (2-D canvas)
    this.front = el("canvas", "aes-front", this.stage);
    this.tip = el("div", "aes-tip", this.stage);
    this.hint = el("div", "aes-hint-zoom", this.stage, "Click the chart (or hold Ctrl) to zoom with the wheel");
    this.side = el("div", "aes-side", body);
    this.note = el("div", "aes-note", this.root);
    this.hidden = new Set(); // hidden category codes
    this.selected = null; // Uint8Array mask, or null when nothing is selected
    this.setMode("lasso");
    this.bindEvents();
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(this.stage);
  }

  // ---- data ---------------------------------------------------------------------------------------------

  load(bytes) {
    const { meta, cols, atlas } = parse(bytes);
    const sameData = this.meta && this.meta.id === meta.id;
    const sameView = this.meta && this.meta.view === meta.view && this.meta.n === meta.n;
    if (sameData) {
      this.applySelectedRows(meta.selected);
      return;
    }
    const oldNames = this.meta && this.meta.colour.names;
    this.meta = meta;
    this.cols = cols;
    this.n = meta.n;
    this.rowIndex = null;
    this.drawOrder = shuffled(this.n);
    this.big = this.n >= DENSITY_N && !meta.pick;
    this.xy = null;
    this.grid = this.big ? GRID_BIG : GRID;
    this.dens = null;
    this.note.textContent = this.big ? `${this.n.toLocaleString()} points. Where they pile up, colour shows how many (stronger: ` +
      `more; hover says how many); zoom in until at most ${POINTS_IN_VIEW.toLocaleString()} are in view to see each point.` : "";
    this.fullMs = 0; // the last full frame's time, GPU included; 0 = not measured yet
    this.root.style.height = `${meta.height}px`;
    this.titleEl.textContent = meta.title;
    this.root.dataset.points = String(meta.n);
    if (!(oldNames && JSON.stringify(oldNames) === JSON.stringify(meta.colour.names))) this.hidden = new Set();
    this.buildIndex();
    this.buildColours();
    this.buildSide();
    this.setPick(!!meta.pick);
    this.loadImage(meta.image);
    this.loadAtlas(meta.atlas, atlas);
    this.ensureGl();
    if (!sameView || !this.range) this.fit(false);
    this.selected = null;
    this.applySelectedRows(meta.selected, true);
    this.atlasAsked = false;
    this.resize();
  }

  buildIndex() {
    // A uniform grid over the data's bounding box: point ids sorted by cell, for hover and click lookups.
    const { x, y } = this.cols;
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < this.n; i++) {
      if (!isFinite(x[i]) || !isFinite(y[i])) continue;
      if (x[i] < x0) x0 = x[i];
      if (x[i] > x1) x1 = x[i];
      if (y[i] < y0) y0 = y[i];
      if (y[i] > y1) y1 = y[i];
    }
    const im = this.meta.image;
    if (im) [x0, x1, y0, y1] = [Math.min(x0, im.x0), Math.max(x1, im.x1), Math.min(y0, im.y0), Math.max(y1, im.y1)];
    if (!(x1 >= x0)) [x0, x1, y0, y1] = [0, 1, 0, 1];
    this.bounds = { x0, x1, y0, y1 };
    const G = this.grid;
    const cw = (x1 - x0) / G || 1, ch = (y1 - y0) / G || 1;
    const cell = new Int32Array(this.n);
    const starts = new Int32Array(G * G + 1);
    for (let i = 0; i < this.n; i++) {
      if (!isFinite(x[i]) || !isFinite(y[i])) { cell[i] = -1; continue; }
      const cx = Math.min(G - 1, Math.floor((x[i] - x0) / cw));
      const cy = Math.min(G - 1, Math.floor((y[i] - y0) / ch));
      cell[i] = cy * G + cx;
      starts[cell[i] + 1]++;
    }
    for (let c = 0; c < G * G; c++) starts[c + 1] += starts[c];
    const fill = starts.slice(0, G * G);
    const order = new Int32Array(starts[G * G]);
    // A big set is drawn in this order (a view draws its cells' ranges): within a cell, the shuffled order, so
    // no class lies systematically on top.
    const by = this.big ? this.drawOrder : null;
    for (let k = 0; k < this.n; k++) {
      const i = by ? by[k] : k;
      if (cell[i] >= 0) order[fill[cell[i]]++] = i;
    }
    this.index = { cw, ch, starts, order };
  }

  buildColours() {
    const { colour } = this.meta;
    const c = this.cols.colour;
    this.base = new Uint8Array(this.n * 4);
    let lut = null;
    if (colour.kind === "category") lut = colour.colours.map(rgb);
    else if (colour.kind === "value") {
      lut = [];
      for (let k = 0; k < 256; k++) lut.push(scaleColour(colour.scale, k / 255));
    }
    const span = colour.hi - colour.lo || 1;
    for (let i = 0; i < this.n; i++) {
      let col;
      if (colour.kind === "category") col = lut[c[i]] || [150, 150, 150];
      else if (colour.kind === "value") col = isFinite(c[i]) ? lut[Math.max(0, Math.min(255, Math.round(((c[i] - colour.lo) / span) * 255)))] : [190, 190, 190];
      else col = [31, 119, 180];
      this.base.set(col, i * 4);
      this.base[i * 4 + 3] = 255;
    }
    this.colours = new Uint8Array(this.n * 4);
  }

  setPick(pick) {
    for (const b of [this.buttons.lasso, this.buttons.box, this.buttons.pan, this.clearBtn]) b.hidden = pick;
    this.setMode(pick ? "pick" : this.mode === "pick" ? "lasso" : this.mode);
  }

  loadImage(image) {
    // The decoded plane: one PNG placed at data coordinates [x0, x1] x [y0, y1], drawn pixelated.
    this.image = null;
    if (!image) return;
    const img = new Image();
    img.onload = () => {
      this.image = { img, ...image };
      this.draw();
    };
    img.src = image.src;
  }

  loadAtlas(info, png) {
    // Decoded once per sheet (its id), off the main thread by createImageBitmap; a new colouring keeps it.
    this.thumbBtn.hidden = !info;
    this.thumbList = null;
    if (!info) { this.atlas = null; this.atlasId = null; delete this.root.dataset.atlas; return; }
    if (this.atlasId === info.id) return;
    this.atlasId = info.id;
    this.atlas = null;
    this.root.dataset.atlas = "loading";
    createImageBitmap(new Blob([png], { type: "image/png" })).then((bitmap) => {
      if (this.atlasId !== info.id) return;
      this.atlas = { bitmap, ...info };
      this.root.dataset.atlas = "ready";
      this.draw();
    }, (err) => {
      this.root.dataset.atlas = "failed";
      console.error("the thumbnail atlas could not be decoded", err);
    });
  }

  tile(i, which) {
    // Source rectangle [sx, sy, size] of point i's picture (which 0) or reconstruction (1) in the atlas.
    const a = this.atlas, t = this.cols.row[i] * a.per_row + which;
    return [(t % a.cols) * a.tile, Math.floor(t / a.cols) * a.tile, a.tile];
  }

  pickThumbs() {
    // The points to draw as pictures, and their size: every visible point in view when there are at most
    // THUMBS_MAX, at the median distance to the nearest neighbour (so pictures do not cover each other), or null.
    if (!this.atlas || !this.showThumbs || this.meta.pick) return null;
    const r = this.range, { x, y } = this.cols, inView = [];
    for (let i = 0; i < this.n; i++) {
      if (x[i] < r.x0 || x[i] > r.x1 || y[i] < r.y0 || y[i] > r.y1 || !this.visible(i)) continue;
      inView.push(i);
      if (inView.length > THUMBS_MAX) return null;
    }
    if (!inView.length) return null;
    const px = inView.map((i) => this.toPx(x[i], y[i]));
    const nearest = px.map(([ax, ay], k) => {
      let best = Infinity;
      px.forEach(([bx, by], j) => { if (j !== k) best = Math.min(best, Math.max(Math.abs(ax - bx), Math.abs(ay - by))); });
      return best;
    }).sort((a, b) => a - b);
    const size = Math.min(THUMB_MAX_PX, 0.95 * nearest[Math.floor(nearest.length / 2)]);
    return size >= THUMB_MIN_PX ? { points: inView, size } : null;
  }

  drawThumbs(g) {
    const { points, size } = this.thumbList, bm = this.atlas.bitmap;
    g.imageSmoothingEnabled = this.atlas.tile > size; // shrinking: smooth; enlarging: crisp pixels
    for (const i of points) {
      const [px, py] = this.toPx(this.cols.x[i], this.cols.y[i]);
      const [sx, sy, s] = this.tile(i, 0);
      g.drawImage(bm, sx, sy, s, s, px - size / 2, py - size / 2, size, size);
      const b = this.base;
      g.strokeStyle = `rgb(${b[i * 4]},${b[i * 4 + 1]},${b[i * 4 + 2]})`;
      g.lineWidth = this.selected && this.selected[i] ? 3 : 1.5;
      g.strokeRect(px - size / 2, py - size / 2, size, size);
    }
  }

  visible(i) {
    return !(this.meta.colour.kind === "category" && this.hidden.has(this.cols.colour[i]));
  }

  // ---- the legend / colour bar ------------------------------------------------------------------------------

  buildSide() {
    const { colour } = this.meta;
    this.side.replaceChildren();
    if (colour.kind === "none") { this.side.style.display = "none"; return; }
    this.side.style.display = "";
    el("div", "aes-side-title", this.side, colour.title);
    if (colour.kind === "category") {
      const counts = new Map();
      for (let i = 0; i < this.n; i++) counts.set(this.cols.colour[i], (counts.get(this.cols.colour[i]) || 0) + 1);
      this.legendItems = [];
      colour.names.forEach((name, code) => {
        const item = el("div", "aes-item", this.side);
        item.title = `${name}: ${(counts.get(code) || 0).toLocaleString()} points. Click to hide or show, double-click to show only this one.`;
        const sw = el("span", "aes-swatch", item);
        sw.style.background = colour.colours[code];
        el("span", "aes-name", item, name);
        item.onclick = () => {
          clearTimeout(this.clickTimer);
          this.clickTimer = setTimeout(() => this.toggle(code), 220);
        };
        item.ondblclick = () => {
          clearTimeout(this.clickTimer);
          this.isolate(code);
        };
        this.legendItems.push(item);
      });
      el("div", "aes-hint", this.side, "Click: hide / show · double-click: only this");
      this.refreshLegend();
    } else {
      const bar = el("canvas", "aes-bar", this.side);
      bar.width = 16;
      bar.height = 200;
      const g = bar.getContext("2d");
      for (let py = 0; py < 200; py++) {
        const [r, gg, b] = scaleColour(colour.scale, 1 - py / 199);
        g.fillStyle = `rgb(${r},${gg},${b})`;
        g.fillRect(0, py, 16, 1);
      }
      const labels = el("div", "aes-bar-labels", this.side);
      el("div", "", labels, fmt(colour.hi, 3));
      el("div", "", labels, fmt((colour.lo + colour.hi) / 2, 3));
      el("div", "", labels, fmt(colour.lo, 3));
      if (colour.clipped) el("div", "aes-hint", this.side, colour.clipped);
    }
  }

  toggle(code) {
    if (this.hidden.has(code)) this.hidden.delete(code);
    else this.hidden.add(code);
    this.refreshLegend();
    this.upload();
    this.draw();
  }

  isolate(code) {
    const names = this.meta.colour.names;
    const only = this.hidden.size === names.length - 1 && !this.hidden.has(code);
    this.hidden = new Set(only ? [] : names.map((_, k) => k).filter((k) => k !== code));
    this.refreshLegend();
    this.upload();
    this.draw();
  }

  refreshLegend() {
    (this.legendItems || []).forEach((item, code) => item.classList.toggle("aes-off", this.hidden.has(code)));
  }

  // ---- WebGL ------------------------------------------------------------------------------------------

  ensureGl() {
    if (this.gl) return;
    const gl = this.glCanvas.getContext("webgl", { antialias: false, premultipliedAlpha: true, preserveDrawingBuffer: true });
    if (!gl) {
      this.note.textContent = "This browser has WebGL turned off, so the points cannot be drawn here. Use the Download tab.";
      return;
    }
    const shader = (type, src) => {
      const s = gl.createShader(type);
      gl.shaderSource(s, src);
      gl.compileShader(s);
      return s;
    };
    const prog = gl.createProgram();
    gl.attachShader(prog, shader(gl.VERTEX_SHADER, VERT));
    gl.attachShader(prog, shader(gl.FRAGMENT_SHADER, FRAG));
    gl.linkProgram(prog);
    gl.useProgram(prog);
    this.gl = gl;
    this.prog = prog;
    this.posBuf = gl.createBuffer();
    this.colBuf = gl.createBuffer();
    this.loc = {
      pos: gl.getAttribLocation(prog, "a_pos"),
      col: gl.getAttribLocation(prog, "a_col"),
      scale: gl.getUniformLocation(prog, "u_scale"),
      offset: gl.getUniformLocation(prog, "u_offset"),
      size: gl.getUniformLocation(prog, "u_size"),
    };
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
  }

  upload() {
    // Colours with the current selection and hidden classes applied, then both buffers to the GPU, in draw order.
    // A big set: in grid-cell order (finite points only), positions built and sent once per data.
    const order = this.big ? this.index.order : this.drawOrder, m = order.length;
    this.version = (this.version || 0) + 1; // the colours (selection, hidden classes) changed
    for (let k = 0; k < m; k++) {
      const i = order[k], o = k * 4, b = i * 4;
      this.colours[o] = this.base[b];
      this.colours[o + 1] = this.base[b + 1];
      this.colours[o + 2] = this.base[b + 2];
      this.colours[o + 3] = !this.visible(i) ? 0 : this.selected && !this.selected[i] ? 40 : 205;
    }
    const gl = this.gl;
    const fresh = !this.big || !this.xy;
    if (fresh) {
      const xy = new Float32Array(m * 2);
      const { x, y } = this.cols;
      for (let k = 0; k < m; k++) {
        xy[2 * k] = x[order[k]];
        xy[2 * k + 1] = y[order[k]];
      }
      this.xy = xy;
    }
    if (!gl) return;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.posBuf);
    if (fresh) gl.bufferData(gl.ARRAY_BUFFER, this.xy, gl.STATIC_DRAW);
    gl.enableVertexAttribArray(this.loc.pos);
    gl.vertexAttribPointer(this.loc.pos, 2, gl.FLOAT, false, 0, 0);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.colBuf);
    gl.bufferData(gl.ARRAY_BUFFER, this.colours, gl.DYNAMIC_DRAW);
    gl.enableVertexAttribArray(this.loc.col);
    gl.vertexAttribPointer(this.loc.col, 4, gl.UNSIGNED_BYTE, true, 0, 0);
  }

  // ---- view: data range <-> pixels ------------------------------------------------------------------------

  fit(userAsked) {
    const { x0, x1, y0, y1 } = this.bounds;
    const pad = this.meta.image ? 0 : 0.04; // a picture fills the frame; points get a margin
    const px = pad && ((x1 - x0) * pad || 0.5), py = pad && ((y1 - y0) * pad || 0.5);
    this.range = { x0: x0 - px, x1: x1 + px, y0: y0 - py, y1: y1 + py };
    this.equalise();
    if (userAsked) this.draw();
  }

  equalise() {
    // A y unit is `aspect` times as long on screen as an x unit (1: PCA and a raw code; the plane: square
    // cells): widen the narrower range about its centre.
    const k = this.meta.aspect;
    if (!k || !this.plotW || !this.range) return;
    const r = this.range;
    const ux = (r.x1 - r.x0) / this.plotW, uy = ((r.y1 - r.y0) / this.plotH) * k; // x units per pixel, both
    if (ux > uy) {
      const c = (r.y0 + r.y1) / 2, h = ((ux / k) * this.plotH) / 2;
      r.y0 = c - h; r.y1 = c + h;
    } else {
      const c = (r.x0 + r.x1) / 2, h = (uy * this.plotW) / 2;
      r.x0 = c - h; r.x1 = c + h;
    }
  }

  toPx(x, y) {
    const r = this.range;
    return [((x - r.x0) / (r.x1 - r.x0)) * this.plotW, ((r.y1 - y) / (r.y1 - r.y0)) * this.plotH];
  }

  toData(px, py) {
    const r = this.range;
    return [r.x0 + (px / this.plotW) * (r.x1 - r.x0), r.y1 - (py / this.plotH) * (r.y1 - r.y0)];
  }

  resize() {
    const w = this.stage.clientWidth, h = this.stage.clientHeight;
    if (!w || !h || !this.meta) return;
    const dpr = window.devicePixelRatio || 1;
    const firstSize = !this.plotW;
    this.width = w;
    this.height = h;
    this.plotW = Math.max(10, w - MARGIN.left - MARGIN.right);
    this.plotH = Math.max(10, h - MARGIN.top - MARGIN.bottom);
    for (const c of [this.back]) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    for (const c of [this.glCanvas, this.densCanvas, this.front]) {
      c.style.left = `${MARGIN.left}px`;
      c.style.top = `${MARGIN.top}px`;
      c.style.width = `${this.plotW}px`;
      c.style.height = `${this.plotH}px`;
      c.width = Math.round(this.plotW * dpr);
      c.height = Math.round(this.plotH * dpr);
    }
    if (firstSize) this.fit(false);
    else this.equalise();
    this.draw();
  }

  // ---- drawing ------------------------------------------------------------------------------------------

  draw(gesture = false) {
    // gesture: a frame of a pan or zoom under way (maybe a subset, see FRAME_MS); the full set follows at rest.
    if (!this.plotW || !this.meta) return;
    cancelAnimationFrame(this.frame);
    clearTimeout(this.settleTimer);
    this.frame = requestAnimationFrame(() => {
      this.gesture = gesture;
      this.drawNow(gesture && !this.big ? this.quickCount() : this.n);
    });
    this.settleTimer = gesture ? setTimeout(() => this.draw(), SETTLE_MS) : 0;
  }

  quickCount() {
    if (!(this.fullMs > FRAME_MS)) return this.n;
    return Math.min(this.n, Math.max(MIN_QUICK_POINTS, Math.floor((this.n * FRAME_MS) / this.fullMs)));
  }

  visibleSpans() {
    // [start, end) ranges of the cell-ordered buffer for the grid cells the view overlaps (one per cell row), and
    // how many points they hold (the points in view, and a few beside it).
    const r = this.range, G = this.grid, { cw, ch, starts } = this.index, { x0, y0 } = this.bounds;
    const cx0 = Math.max(0, Math.floor((r.x0 - x0) / cw)), cx1 = Math.min(G - 1, Math.floor((r.x1 - x0) / cw));
    const cy0 = Math.max(0, Math.floor((r.y0 - y0) / ch)), cy1 = Math.min(G - 1, Math.floor((r.y1 - y0) / ch));
    const spans = [];
    let count = 0;
    if (cx0 <= cx1) {
      for (let cy = cy0; cy <= cy1; cy++) {
        const a = starts[cy * G + cx0], b = starts[cy * G + cx1 + 1];
        if (b > a) { spans.push(a, b); count += b - a; }
      }
    }
    return { spans, count };
  }

  drawBig() {
    // A big set: the points of the visible cells when there are few enough, else the density of the points in
    // view. Returns how many points were drawn one by one (0 for the density).
    const { spans, count } = this.visibleSpans();
    const mode = count <= POINTS_IN_VIEW ? "points" : "density";
    this.mode2 = mode;
    this.root.dataset.view = mode;
    this.root.dataset.inView = String(count);
    const dctx = this.densCanvas.getContext("2d");
    dctx.setTransform(1, 0, 0, 1, 0, 0);
    dctx.clearRect(0, 0, this.densCanvas.width, this.densCanvas.height);
    if (mode === "points") {
      // Larger dots only for a few: a dot's cost in software WebGL grows with its area (5 px: twice 3.5 px's).
      const gl = this.gl, size = count < 2000 ? 7 : count < 5000 ? 5 : 3.5;
      gl.uniform1f(this.loc.size, size * (window.devicePixelRatio || 1));
      // As for a smaller set: when a full frame of these points is slower than FRAME_MS, a gesture frame draws
      // every k-th of them (a uniform sample: each cell's points are in random order), the rest once it rests.
      const k = this.gesture && this.pointsMs > FRAME_MS ? Math.ceil(this.pointsMs / FRAME_MS) : 1;
      const t0 = performance.now();
      const drawn = this.drawSpans(spans, count, k);
      if (k === 1 && !this.gesture && count > MIN_QUICK_POINTS / 4) {
        gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, this.px || (this.px = new Uint8Array(4)));
        this.pointsMs = performance.now() - t0;
      }
      return drawn;
    }
    this.drawDensity(spans, dctx);
    return 0;
  }

  drawSpans(spans, count, every = 1) {
    // The visible cells' points, copied into one small buffer pair (sent again only when the cells or colours
    // change), so that a gesture frame can draw every k-th of them by a stride, and drawn in one call.
    const gl = this.gl;
    const key = `${this.version}:${spans.join(",")}`; // a pan inside the same cells draws what was sent
    if (key !== this.viewKey) this.sendView(spans, count);
    this.viewKey = key;
    // every > 1: a stride over the same buffers draws every `every`-th point, nothing copied
    gl.bindBuffer(gl.ARRAY_BUFFER, this.viewPosBuf);
    gl.vertexAttribPointer(this.loc.pos, 2, gl.FLOAT, false, 8 * every, 0);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.viewColBuf);
    gl.vertexAttribPointer(this.loc.col, 4, gl.UNSIGNED_BYTE, true, 4 * every, 0);
    const drawn = Math.ceil(count / every);
    gl.drawArrays(gl.POINTS, 0, drawn);
    return drawn;
  }

  sendView(spans, count) {
    const gl = this.gl, xy = this.xy, col = this.colours;
    if (!this.viewXy || this.viewXy.length < 2 * count) {
      this.viewXy = new Float32Array(2 * POINTS_IN_VIEW + 2 * count);
      this.viewCol = new Uint8Array(4 * POINTS_IN_VIEW + 4 * count);
      this.viewPosBuf = this.viewPosBuf || gl.createBuffer();
      this.viewColBuf = this.viewColBuf || gl.createBuffer();
    }
    let m = 0;
    for (let k = 0; k < spans.length; k += 2) {
      const a = spans[k], b = spans[k + 1];
      this.viewXy.set(xy.subarray(2 * a, 2 * b), 2 * m);
      this.viewCol.set(col.subarray(4 * a, 4 * b), 4 * m);
      m += b - a;
    }
    gl.bindBuffer(gl.ARRAY_BUFFER, this.viewPosBuf);
    gl.bufferData(gl.ARRAY_BUFFER, this.viewXy.subarray(0, 2 * m), gl.STREAM_DRAW);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.viewColBuf);
    gl.bufferData(gl.ARRAY_BUFFER, this.viewCol.subarray(0, 4 * m), gl.STREAM_DRAW);
  }

  drawDensity(spans, g) {
    // A 2-D histogram of the visible points in view, DENSITY_PX pixels a bin, weighted as the points' alpha
    // (hidden classes 0, unselected points faint), each bin in its points' mean colour (classes, values) or a
    // blue ramp (no colouring), more opaque and darker where more points pile up (log scale: one point still
    // shows, as the outliers a density usually hides).
    const W = Math.ceil(this.plotW / DENSITY_PX), H = Math.ceil(this.plotH / DENSITY_PX), size = W * H;
    let d = this.dens;
    if (!d || d.W !== W || d.H !== H) {
      const src = document.createElement("canvas");
      src.width = W;
      src.height = H;
      d = this.dens = { W, H, src, img: src.getContext("2d").createImageData(W, H), weight: new Float32Array(size),
        count: new Uint32Array(size), red: new Float32Array(size), green: new Float32Array(size), blue: new Float32Array(size) };
    } else {
      d.weight.fill(0); d.count.fill(0); d.red.fill(0); d.green.fill(0); d.blue.fill(0);
    }
    const { weight, count, red, green, blue } = d, xy = this.xy, col = this.colours, r = this.range;
    const kx = W / (r.x1 - r.x0), ky = H / (r.y1 - r.y0), left = r.x0, top = r.y1;
    for (let s = 0; s < spans.length; s += 2) {
      for (let k = spans[s], end = spans[s + 1]; k < end; k++) {
        const a = col[4 * k + 3];
        if (!a) continue;
        const fx = (xy[2 * k] - left) * kx, fy = (top - xy[2 * k + 1]) * ky;
        if (!(fx >= 0 && fx < W && fy >= 0 && fy < H)) continue;
        const b = (fy | 0) * W + (fx | 0), w = a / 205;
        count[b]++;
        weight[b] += w;
        red[b] += col[4 * k] * w;
        green[b] += col[4 * k + 1] * w;
        blue[b] += col[4 * k + 2] * w;
      }
    }
    let most = 0;
    for (let b = 0; b < size; b++) if (weight[b] > most) most = weight[b];
    const out = d.img.data, plain = this.meta.colour.kind === "none", scale = 1 / Math.log1p(most || 1);
    for (let b = 0; b < size; b++) {
      const w = weight[b], o = 4 * b;
      if (!w) { out[o + 3] = 0; continue; }
      const t = Math.log1p(w) * scale;
      let rgbv;
      if (plain) rgbv = rampColour(BLUES, t);
      else {
        const dark = 1 - 0.35 * t; // the class's colour, darker where it piles up
        rgbv = [(red[b] / w) * dark, (green[b] / w) * dark, (blue[b] / w) * dark];
      }
      out[o] = rgbv[0]; out[o + 1] = rgbv[1]; out[o + 2] = rgbv[2];
      out[o + 3] = 255 * Math.min(1, (0.45 + 0.55 * t) * Math.min(1, w));
    }
    d.src.getContext("2d").putImageData(d.img, 0, 0);
    const dpr = window.devicePixelRatio || 1;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.imageSmoothingEnabled = false; // crisp bins, as a histogram
    g.drawImage(d.src, 0, 0, W * DENSITY_PX, H * DENSITY_PX);
  }

  densityAt(px, py) {
    // How many visible points the density bin under pixel (px, py) holds (0 outside the density view).
    const d = this.dens;
    if (!d || this.mode2 !== "density") return 0;
    const bx = Math.floor(px / DENSITY_PX), by = Math.floor(py / DENSITY_PX);
    return bx >= 0 && bx < d.W && by >= 0 && by < d.H ? d.count[by * d.W + bx] : 0;
  }

  drawNow(count = this.n) {
    const t0 = performance.now();
    this.drawAxes();
    const gl = this.gl;
    if (gl) {
      const r = this.range;
      gl.viewport(0, 0, this.glCanvas.width, this.glCanvas.height);
      gl.clearColor(0, 0, 0, 0);
      gl.clear(gl.COLOR_BUFFER_BIT);
      const sx = 2 / (r.x1 - r.x0), sy = 2 / (r.y1 - r.y0);
      gl.uniform2f(this.loc.scale, sx, sy);
      gl.uniform2f(this.loc.offset, -r.x0 * sx - 1, -r.y0 * sy - 1);
      gl.uniform1f(this.loc.size, this.meta.size * (window.devicePixelRatio || 1));
      if (this.big) count = this.drawBig();
      else if (!this.meta.pick) gl.drawArrays(gl.POINTS, 0, count);
      if (!this.big && count === this.n && this.n > MIN_QUICK_POINTS) {
        // Wait for the GPU on full frames (rare: data, colours, the end of a gesture) to know what one costs.
        gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, this.px || (this.px = new Uint8Array(4)));
        this.fullMs = performance.now() - t0;
      }
      this.root.dataset.lastCount = String(count);
    }
    if (count === this.n || this.big) this.thumbList = this.pickThumbs(); // gesture frames move the last set along
    this.root.dataset.thumbs = String(this.thumbList ? this.thumbList.points.length : 0);
    this.drawFront();
    if (!this.root.dataset.drawn) this.root.dataset.drawn = String(performance.now());
    if (this.meta.atlas_pending && !this.atlasAsked && this.send) {
      // The points are on screen: now ask for the pictures (the server sends them on the rerun this causes).
      this.atlasAsked = true;
      this.send("atlas_wanted", true);
    }
  }

  drawAxes() {
    const dpr = window.devicePixelRatio || 1;
    const g = this.back.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, this.width, this.height);
    const colours = themeColours(this.root);
    g.fillStyle = colours.background;
    g.fillRect(MARGIN.left, MARGIN.top, this.plotW, this.plotH);
    const r = this.range;
    if (this.image) {
      const [ax, ay] = this.toPx(this.image.x0, this.image.y1), [bx, by] = this.toPx(this.image.x1, this.image.y0);
      g.save();
      g.beginPath();
      g.rect(MARGIN.left, MARGIN.top, this.plotW, this.plotH);
      g.clip();
      g.imageSmoothingEnabled = false;
      g.drawImage(this.image.img, MARGIN.left + ax, MARGIN.top + ay, bx - ax, by - ay);
      g.restore();
    }
    const family = getComputedStyle(this.root).fontFamily || "sans-serif"; // the app's own font
    g.font = `12px ${family}`;
    g.fillStyle = colours.tick;
    g.strokeStyle = this.image ? "rgba(0, 0, 0, 0)" : colours.grid; // no grid over a picture
    g.lineWidth = 1;
    g.textAlign = "center";
    g.textBaseline = "top";
    for (const v of niceTicks(r.x0, r.x1, Math.max(2, this.plotW / 90))) {
      const [px] = this.toPx(v, 0);
      const X = Math.round(MARGIN.left + px) + 0.5;
      g.beginPath(); g.moveTo(X, MARGIN.top); g.lineTo(X, MARGIN.top + this.plotH); g.stroke();
      g.fillText(fmt(v, 4), X, MARGIN.top + this.plotH + 5);
    }
    g.textAlign = "right";
    g.textBaseline = "middle";
    for (const v of niceTicks(r.y0, r.y1, Math.max(2, this.plotH / 60))) {
      const [, py] = this.toPx(0, v);
      const Y = Math.round(MARGIN.top + py) + 0.5;
      g.beginPath(); g.moveTo(MARGIN.left, Y); g.lineTo(MARGIN.left + this.plotW, Y); g.stroke();
      g.fillText(fmt(v, 4), MARGIN.left - 6, Y);
    }
    g.strokeStyle = colours.frame;
    g.strokeRect(MARGIN.left + 0.5, MARGIN.top + 0.5, this.plotW - 1, this.plotH - 1);
    g.fillStyle = colours.text;
    g.font = `13px ${family}`;
    g.textAlign = "center";
    g.textBaseline = "bottom";
    g.fillText(this.meta.axes[0], MARGIN.left + this.plotW / 2, this.height - 4);
    g.save();
    g.translate(14, MARGIN.top + this.plotH / 2);
    g.rotate(-Math.PI / 2);
    g.textBaseline = "middle";
    g.fillText(this.meta.axes[1], 0, 0);
    g.restore();
  }

  drawFront() {
    const dpr = window.devicePixelRatio || 1;
    const g = this.front.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, this.plotW, this.plotH);
    if (this.thumbList && this.atlas) this.drawThumbs(g);
    const colours = themeColours(this.root);
    if (this.path && this.path.length > 1) {
      g.strokeStyle = colours.text;
      g.fillStyle = colours.shade;
      g.setLineDash([4, 3]);
      g.beginPath();
      if (this.mode === "box") {
        const [a, b] = [this.path[0], this.path[this.path.length - 1]];
        g.rect(a[0], a[1], b[0] - a[0], b[1] - a[1]);
      } else {
        this.path.forEach(([px, py], k) => (k ? g.lineTo(px, py) : g.moveTo(px, py)));
        g.closePath();
      }
      g.fill();
      g.stroke();
      g.setLineDash([]);
    }
    if (this.meta.pick) {
      g.strokeStyle = "#e4572e";
      g.lineWidth = 3;
      for (let i = 0; i < this.n; i++) {
        const [px, py] = this.toPx(this.cols.x[i], this.cols.y[i]);
        g.beginPath();
        g.arc(px, py, 9, 0, 2 * Math.PI);
        g.stroke();
      }
      return;
    }
    if (this.hoverIndex !== undefined && this.hoverIndex >= 0) {
      const [px, py] = this.toPx(this.cols.x[this.hoverIndex], this.cols.y[this.hoverIndex]);
      g.strokeStyle = colours.text;
      g.lineWidth = 1.5;
      g.beginPath();
      g.arc(px, py, Math.max(4, this.meta.size), 0, 2 * Math.PI);
      g.stroke();
    }
  }

  // ---- hover, click, selection -----------------------------------------------------------------------------

  nearest(px, py) {
    // The visible point nearest to pixel (px, py) within HOVER_PX, or -1.
    const [dx, dy] = this.toData(px, py);
    const r = this.range;
    const rx = (HOVER_PX / this.plotW) * (r.x1 - r.x0), ry = (HOVER_PX / this.plotH) * (r.y1 - r.y0);
    const { x0, y0 } = this.bounds;
    const { cw, ch, starts, order } = this.index;
    const G = this.grid;
    const cx0 = Math.max(0, Math.floor((dx - rx - x0) / cw)), cx1 = Math.min(G - 1, Math.floor((dx + rx - x0) / cw));
    const cy0 = Math.max(0, Math.floor((dy - ry - y0) / ch)), cy1 = Math.min(G - 1, Math.floor((dy + ry - y0) / ch));
    let best = -1, bestD = HOVER_PX * HOVER_PX;
    for (let cy = cy0; cy <= cy1; cy++) {
      for (let cx = cx0; cx <= cx1; cx++) {
        const c = cy * G + cx;
        for (let k = starts[c]; k < starts[c + 1]; k++) {
          const i = order[k];
          if (!this.visible(i)) continue;
          const [qx, qy] = this.toPx(this.cols.x[i], this.cols.y[i]);
          const d = (qx - px) ** 2 + (qy - py) ** 2;
          if (d <= bestD) { bestD = d; best = i; }
        }
      }
    }
    return best;
  }

  showTip(i, px, py) {
    this.hoverIndex = i;
    this.drawFront();
    if (i < 0 && !(this.meta.pick && px !== undefined)) { this.tip.style.display = "none"; return; }
    this.tip.replaceChildren();
    if (this.meta.pick) {
      const at = this.toData(px, py);
      this.meta.axes.forEach((name, k) => {
        const line = el("div", "", this.tip);
        el("b", "", line, `${name}: `);
        line.appendChild(document.createTextNode(fmt(at[k], 3)));
      });
      el("div", "aes-tip-note", this.tip, "Click to decode this point");
    }
    if (i >= 0 && (this.meta.atlas || this.meta.atlas_pending)) this.tipPictures(i);
    for (const h of i < 0 ? [] : this.meta.hover) {
      const v = this.cols[h.column][i];
      let text;
      if (h.kind === "label") text = Number.isInteger(v) && v >= 0 && v < h.names.length ? h.names[v] : "(missing)";
      else if (h.kind === "int") text = isFinite(v) ? String(Math.round(v)) : "(missing)";
      else text = isFinite(v) ? fmt(v, h.digits) : "(missing)";
      const line = el("div", "", this.tip);
      el("b", "", line, `${h.title}: `);
      line.appendChild(document.createTextNode(text));
    }
    if (this.meta.note) el("div", "aes-tip-note", this.tip, this.meta.note);
    this.placeTip(px, py);
  }

  showCount(px, py) {
    // The density view's tooltip: how many points the bin under the pointer holds (single points show on zooming in).
    this.hoverIndex = -1;
    this.drawFront();
    const n = this.densityAt(px, py);
    if (!n) { this.tip.style.display = "none"; return; }
    this.tip.replaceChildren();
    el("div", "", this.tip, `${n.toLocaleString()} point${n === 1 ? "" : "s"} here`);
    el("div", "aes-tip-note", this.tip, "Zoom in (scroll) to see each point");
    this.placeTip(px, py);
  }

  placeTip(px, py) {
    this.tip.style.display = "block";
    const left = MARGIN.left + px + 14, top = MARGIN.top + py + 12;
    const w = this.tip.offsetWidth, h = this.tip.offsetHeight;
    this.tip.style.left = `${left + w > this.width ? MARGIN.left + px - w - 10 : left}px`;
    this.tip.style.top = `${top + h > this.height ? Math.max(0, MARGIN.top + py - h - 8) : top}px`;
  }

  tipPictures(i) {
    // The point's picture and its reconstruction, cut from the atlas: no request, drawn in the same frame.
    const box = el("div", "aes-tip-pics", this.tip);
    if (!this.atlas) { el("div", "aes-tip-note", box, "pictures loading…"); return; }
    const names = ["image", "reconstruction"];
    for (let k = 0; k < this.atlas.per_row; k++) {
      const fig = el("div", "aes-tip-pic", box);
      const c = el("canvas", "", fig);
      const dpr = window.devicePixelRatio || 1;
      c.width = c.height = Math.round(TIP_PX * dpr);
      c.style.width = c.style.height = `${TIP_PX}px`;
      const g = c.getContext("2d");
      g.imageSmoothingEnabled = false; // small tiles enlarged: crisp pixels, as the app's other thumbnails
      const [sx, sy, s] = this.tile(i, k);
      g.drawImage(this.atlas.bitmap, sx, sy, s, s, 0, 0, c.width, c.height);
      el("div", "aes-tip-note", fig, names[k]);
    }
  }

  setMode(mode) {
    this.mode = mode;
    for (const [m, b] of Object.entries(this.buttons)) b.classList.toggle("aes-on", m === mode);
    this.front.style.cursor = mode === "pan" ? "grab" : mode === "pick" ? "pointer" : "crosshair";
  }

  bindEvents() {
    const f = this.front;
    const at = (e) => {
      const b = f.getBoundingClientRect();
      return [e.clientX - b.left, e.clientY - b.top];
    };
    f.addEventListener("pointerdown", (e) => {
      this.active = true; // the wheel zooms from now until the pointer leaves the chart
      if (e.button !== 0 || !this.meta) return;
      f.setPointerCapture(e.pointerId);
      this.drag = { start: at(e), range: { ...this.range }, shift: e.shiftKey, moved: false };
      this.path = [at(e)];
      this.showTip(-1);
    });
    f.addEventListener("pointermove", (e) => {
      if (!this.meta) return;
      const p = at(e);
      if (!this.drag) {
        if (this.pending) return;
        this.pending = requestAnimationFrame(() => {
          this.pending = 0;
          if (this.big && this.mode2 === "density") this.showCount(p[0], p[1]);
          else this.showTip(this.meta.pick ? -1 : this.nearest(p[0], p[1]), p[0], p[1]);
        });
        return;
      }
      const [sx, sy] = this.drag.start;
      if (Math.abs(p[0] - sx) + Math.abs(p[1] - sy) > 3) this.drag.moved = true;
      if (this.mode === "pan" || this.mode === "pick") {
        const r0 = this.drag.range;
        const ddx = ((p[0] - sx) / this.plotW) * (r0.x1 - r0.x0), ddy = ((p[1] - sy) / this.plotH) * (r0.y1 - r0.y0);
        this.range = { x0: r0.x0 - ddx, x1: r0.x1 - ddx, y0: r0.y0 + ddy, y1: r0.y1 + ddy };
        this.draw(true);
      } else {
        const last = this.path[this.path.length - 1];
        if (this.mode === "box") this.path = [this.path[0], p];
        else if (Math.abs(p[0] - last[0]) + Math.abs(p[1] - last[1]) >= 3) this.path.push(p);
        this.drawFront();
      }
    });
    const end = (e) => {
      if (!this.drag) return;
      const drag = this.drag;
      this.drag = null;
      if (this.settleTimer) this.draw(); // released mid-gesture: the full set now
      const path = this.path;
      this.path = null;
      if (!drag.moved && this.mode === "pick") {
        const [x, y] = this.toData(drag.start[0], drag.start[1]);
        if (this.n) { this.cols.x[0] = x; this.cols.y[0] = y; }
        this.drawFront();
        if (this.send) this.send("point", { x, y });
        return;
      }
      if (!drag.moved) {
        const i = this.nearest(drag.start[0], drag.start[1]);
        if (i >= 0 && e.type === "pointerup") this.select(this.maskOf([i]), drag.shift);
        this.drawFront();
        return;
      }
      if (this.mode === "lasso" || this.mode === "box") this.select(this.inside(path), drag.shift);
      this.drawFront();
    };
    f.addEventListener("pointerup", end);
    f.addEventListener("pointercancel", end);
    f.addEventListener("pointerleave", () => {
      this.active = false;
      if (!this.drag) this.showTip(-1);
    });
    f.addEventListener("dblclick", () => {
      if (!this.meta.pick) this.select(null, false);
      this.fit(true);
    });
    f.addEventListener("wheel", (e) => {
      if (!this.meta) return;
      if (!(this.active || e.ctrlKey || e.metaKey)) {
        // A page scrolled past the chart keeps scrolling; say how to zoom instead.
        this.hint.classList.add("aes-show");
        clearTimeout(this.hintTimer);
        this.hintTimer = setTimeout(() => this.hint.classList.remove("aes-show"), 1500);
        return;
      }
      e.preventDefault();
      const [px, py] = at(e);
      const [dx, dy] = this.toData(px, py);
      const k = Math.exp(Math.max(-1, Math.min(1, e.deltaY * (e.deltaMode ? 0.05 : 0.0015))));
      const r = this.range;
      this.range = { x0: dx + (r.x0 - dx) * k, x1: dx + (r.x1 - dx) * k, y0: dy + (r.y0 - dy) * k, y1: dy + (r.y1 - dy) * k };
      this.showTip(-1);
      this.draw(true);
    }, { passive: false });
  }

  maskOf(indices) {
    const m = new Uint8Array(this.n);
    for (const i of indices) m[i] = 1;
    return m;
  }

  inside(path) {
    // Visible points inside the lasso (or box), tested in pixels so the shape is what the user drew.
    const m = new Uint8Array(this.n);
    if (!path || path.length < 2) return m;
    let poly = path;
    if (this.mode === "box") {
      const [[ax, ay], [bx, by]] = [path[0], path[path.length - 1]];
      poly = [[ax, ay], [bx, ay], [bx, by], [ax, by]];
    }
    let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
    for (const [px, py] of poly) {
      minX = Math.min(minX, px); maxX = Math.max(maxX, px); minY = Math.min(minY, py); maxY = Math.max(maxY, py);
    }
    const { x, y } = this.cols;
    const test = (i) => {
      if (!this.visible(i)) return;
      const [px, py] = this.toPx(x[i], y[i]);
      if (px < minX || px > maxX || py < minY || py > maxY) return;
      let inPoly = false;
      for (let a = 0, b = poly.length - 1; a < poly.length; b = a++) {
        const [xa, ya] = poly[a], [xb, yb] = poly[b];
        if (ya > py !== yb > py && px < ((xb - xa) * (py - ya)) / (yb - ya) + xa) inPoly = !inPoly;
      }
      if (inPoly) m[i] = 1;
    };
    if (!this.big) {
      for (let i = 0; i < this.n; i++) test(i);
      return m;
    }
    // A big set: only the grid cells under the shape's bounding box.
    const [dx0, dy1] = this.toData(minX, minY), [dx1, dy0] = this.toData(maxX, maxY);
    const G = this.grid, { cw, ch, starts, order } = this.index, b = this.bounds;
    const cx0 = Math.max(0, Math.floor((dx0 - b.x0) / cw)), cx1 = Math.min(G - 1, Math.floor((dx1 - b.x0) / cw));
    const cy0 = Math.max(0, Math.floor((dy0 - b.y0) / ch)), cy1 = Math.min(G - 1, Math.floor((dy1 - b.y0) / ch));
    for (let cy = cy0; cy <= cy1 && cx0 <= cx1; cy++) {
      for (let k = starts[cy * G + cx0], end = starts[cy * G + cx1 + 1]; k < end; k++) test(order[k]);
    }
    return m;
  }

  select(mask, add) {
    if (mask && add && this.selected) for (let i = 0; i < this.n; i++) mask[i] |= this.selected[i];
    let any = false;
    if (mask) for (let i = 0; i < this.n && !any; i++) any = mask[i] === 1;
    this.selected = any ? mask : null;
    const rows = [];
    if (this.selected) for (let i = 0; i < this.n; i++) if (this.selected[i]) rows.push(Math.round(this.cols.row[i]));
    this.clearBtn.style.display = this.selected ? "" : "none";
    this.root.dataset.selected = String(rows.length);
    this.upload();
    this.draw();
    if (this.send) this.send("selection", { rows });
  }

  applySelectedRows(rows, force) {
    // The selection Python holds (after a rerun, or a new colouring of the same points), shown without sending it back.
    if (!this.rowIndex && rows && rows.length) { // built when first needed: a million rows take a while
      this.rowIndex = new Map();
      for (let i = 0; i < this.n; i++) this.rowIndex.set(Math.round(this.cols.row[i]), i);
    }
    let mask = null;
    if (rows && rows.length) {
      mask = new Uint8Array(this.n);
      for (const r of rows) {
        const i = this.rowIndex.get(r);
        if (i !== undefined) mask[i] = 1;
      }
    }
    const same = (!mask && !this.selected) || (mask && this.selected && mask.every((v, i) => v === this.selected[i]));
    this.clearBtn.style.display = mask ? "" : "none";
    this.root.dataset.selected = String(rows ? rows.length : 0);
    if (same && !force) return;
    this.selected = mask;
    this.upload();
    this.draw();
  }

  savePng() {
    // The three layers (axes and picture, points, rings) composed into one PNG.
    const dpr = window.devicePixelRatio || 1;
    const out = document.createElement("canvas");
    out.width = this.back.width;
    out.height = this.back.height;
    const g = out.getContext("2d");
    g.fillStyle = themeColours(this.root).background;
    g.fillRect(0, 0, out.width, out.height);
    g.drawImage(this.back, 0, 0);
    this.drawNow();
    g.drawImage(this.glCanvas, MARGIN.left * dpr, MARGIN.top * dpr);
    g.drawImage(this.densCanvas, MARGIN.left * dpr, MARGIN.top * dpr);
    g.drawImage(this.front, MARGIN.left * dpr, MARGIN.top * dpr);
    const a = document.createElement("a");
    a.href = out.toDataURL("image/png");
    a.download = `${this.meta.file || "latent"}.png`;
    a.click();
  }

  destroy() {
    this.resizeObserver.disconnect();
    cancelAnimationFrame(this.frame);
    clearTimeout(this.settleTimer);
    if (this.gl) this.gl.getExtension("WEBGL_lose_context")?.loseContext();
    this.root.remove();
  }
}

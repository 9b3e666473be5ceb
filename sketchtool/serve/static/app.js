// sketchtool serve: draw on the canvas, ask the model for endings, accept one, generate, interpolate, turn a
// picture into strokes, download. Plain JS, no build step; the page talks only to its own server's /api/*.
"use strict";

const INK = "#222222";
const ENDING = "#e8590c";          // proposed endings: one colour, distinct from the ink
const MIN_STEP = 1.5;              // px between recorded points (the model simplifies further)

const state = {
  server: null,                    // /api/models
  model: null,                     // the chosen model's description
  strokes: [],                     // [{points: [[x, y], ...], pressure: [p, ...]}], page px
  proposals: [],                   // endings: each a list of polylines in page px
  shown: 0,                        // the ending drawn on the canvas
  slots: {a: null, b: null},       // interpolation ends: lists of polylines
  busy: 0,
  request: 0,                      // latest completion request; older answers are dropped
  lastSeed: null,
};
window.sketchtool = {state};       // for people poking at the page, and for the browser test

const $ = (id) => document.getElementById(id);
const canvas = $("canvas");
const ctx = canvas.getContext("2d");

// --- server ------------------------------------------------------------------------------------------------
async function api(path, body) {
  state.busy += 1;
  try {
    const response = await fetch(path, body === undefined ? {} : {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
    });
    const type = response.headers.get("content-type") || "";
    if (!response.ok) {
      const detail = type.includes("json") ? (await response.json()).error : response.statusText;
      throw new Error(detail || `HTTP ${response.status}`);
    }
    return type.includes("json") ? response.json() : response;
  } finally {
    state.busy -= 1;
  }
}

function status(text, isError = false) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", isError);
}

// the random-latent (z) temperature, for the requests that draw random latents: generate and complete
function variety() {
  return $("variety-label").hidden ? {} : {z_temperature: Number($("variety").value)};
}

function sampling() {
  const typed = $("seed").value.trim();
  const seed = typed === "" ? Math.floor(Math.random() * 2 ** 31) : Number(typed);
  state.lastSeed = seed;
  const body = {model: state.model.id, temperature: Number($("temperature").value), seed};
  if (!$("class-label").hidden && $("class").value) body.class = $("class").value;
  return body;
}

const polylines = (strokes) => strokes.map((s) => s.points);

// --- drawing -----------------------------------------------------------------------------------------------
function resizeCanvas() {
  const ratio = window.devicePixelRatio || 1;
  const rect = canvas.getBoundingClientRect();
  canvas.width = Math.round(rect.width * ratio);
  canvas.height = Math.round(rect.height * ratio);
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  redraw();
}

function strokePath(c, points, width) {
  if (!points.length) return;
  c.lineWidth = width;
  c.beginPath();
  c.moveTo(points[0][0], points[0][1]);
  if (points.length === 1) c.lineTo(points[0][0] + 0.01, points[0][1]);  // a dot
  for (const [x, y] of points.slice(1)) c.lineTo(x, y);
  c.stroke();
}

function redraw() {
  const rect = canvas.getBoundingClientRect();
  ctx.clearRect(0, 0, rect.width, rect.height);
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.strokeStyle = INK;
  for (const stroke of state.strokes) {
    const pressure = stroke.pressure.reduce((a, b) => a + b, 0) / Math.max(1, stroke.pressure.length);
    strokePath(ctx, stroke.points, 1.5 + 3 * pressure);
  }
  const ending = state.proposals[state.shown];
  if (ending) {
    ctx.strokeStyle = ENDING;
    for (const line of ending) strokePath(ctx, line, 2.5);
  }
  $("proposal-label").textContent = state.proposals.length
    ? `Ending ${state.shown + 1} of ${state.proposals.length}` : "No endings yet";
  $("accept").disabled = !ending;
}

let current = null;
canvas.addEventListener("pointerdown", (event) => {
  if (event.button !== 0) return;
  canvas.setPointerCapture(event.pointerId);
  current = {points: [], pressure: []};
  state.strokes.push(current);
  state.proposals = [];
  addPoint(event);
  event.preventDefault();
});
canvas.addEventListener("pointermove", (event) => {
  if (!current) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  for (const e of events.length ? events : [event]) addPoint(e);
});
for (const type of ["pointerup", "pointercancel"]) {
  canvas.addEventListener(type, () => {
    if (!current) return;
    current = null;
    redraw();
    if ($("auto").checked && state.model && state.model.capabilities.includes("complete")) complete();
  });
}

function addPoint(event) {
  const rect = canvas.getBoundingClientRect();
  const point = [Math.round((event.clientX - rect.left) * 100) / 100, Math.round((event.clientY - rect.top) * 100) / 100];
  const last = current.points[current.points.length - 1];
  if (last && Math.hypot(point[0] - last[0], point[1] - last[1]) < MIN_STEP) return;
  current.points.push(point);
  // a mouse reports 0.5 while pressed; pens and touch screens report the real pressure
  current.pressure.push(event.pressure > 0 ? event.pressure : 0.5);
  redraw();
}

function undo() {
  state.strokes.pop();
  state.proposals = [];
  redraw();
}

function clearAll() {
  state.strokes = [];
  state.proposals = [];
  redraw();
}

// --- completion --------------------------------------------------------------------------------------------
async function complete() {
  if (!state.strokes.length) { status("Draw something first."); return; }
  const id = ++state.request;
  const body = {...sampling(), ...variety(), strokes: polylines(state.strokes), n: Number($("n").value)};
  status("Thinking…");
  try {
    const result = await api("/api/complete", body);
    if (id !== state.request) return;  // the drawing changed meanwhile
    state.proposals = result.endings;
    state.shown = 0;
    redraw();
    showCells($("proposals"), result.endings.map((e) => [...polylines(state.strokes), ...e]),
      (i) => { state.shown = i; redraw(); }, () => state.strokes.length);
    status(`${result.endings.length} endings (seed ${body.seed})`);
  } catch (error) {
    if (id === state.request) status(error.message, true);
  }
}

function cycle(step) {
  if (!state.proposals.length) return;
  state.shown = (state.shown + step + state.proposals.length) % state.proposals.length;
  redraw();
}

function accept() {
  const ending = state.proposals[state.shown];
  if (!ending) return;
  for (const line of ending) state.strokes.push({points: line, pressure: line.map(() => 0.5)});
  state.proposals = [];
  $("proposals").replaceChildren();
  redraw();
  status("Ending accepted.");
}

// --- cells: small drawings fitted into squares --------------------------------------------------------------
function drawCell(cell, lines, given = 0) {
  const c = cell.getContext("2d");
  const size = cell.width;
  c.clearRect(0, 0, size, size);
  const points = lines.flat();
  if (!points.length) return;
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const scale = 0.84 * size / Math.max(x1 - x0, y1 - y0, 1e-6);
  const fit = (p) => [(p[0] - (x0 + x1) / 2) * scale + size / 2, (p[1] - (y0 + y1) / 2) * scale + size / 2];
  c.lineCap = "round";
  c.lineJoin = "round";
  lines.forEach((line, i) => {
    c.strokeStyle = i < given ? INK : ENDING;
    strokePath(c, line.map(fit), 1.5);
  });
}

function showCells(container, drawings, onClick, given = () => Infinity) {
  container.replaceChildren(...drawings.map((lines, i) => {
    const cell = document.createElement("canvas");
    cell.width = cell.height = 96;
    cell.title = "Click to use";
    drawCell(cell, lines, given(i));
    cell.addEventListener("click", () => onClick(i));
    return cell;
  }));
}

function showImages(container, urls) {
  container.replaceChildren(...urls.map((url) => {
    const img = document.createElement("img");
    img.src = url;
    img.alt = "generated image";
    return img;
  }));
}

// a generated or interpolated drawing (dataset units) placed on the canvas at a comfortable size
function placeOnCanvas(lines) {
  const rect = canvas.getBoundingClientRect();
  const points = lines.flat();
  if (!points.length) return;
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const scale = 0.6 * Math.min(rect.width, rect.height) / Math.max(x1 - x0, y1 - y0, 1e-6);
  state.strokes = lines.map((line) => ({
    points: line.map((p) => [(p[0] - (x0 + x1) / 2) * scale + rect.width / 2,
                             (p[1] - (y0 + y1) / 2) * scale + rect.height / 2]),
    pressure: line.map(() => 0.5),
  }));
  state.proposals = [];
  redraw();
}

// --- generate and interpolate -------------------------------------------------------------------------------
async function generate() {
  const body = {...sampling(), ...variety(), n: Number($("gen-n").value)};
  status("Drawing…");
  try {
    const result = await api("/api/generate", body);
    if (result.images) showImages($("generated"), result.images);
    else showCells($("generated"), result.drawings, (i) => placeOnCanvas(result.drawings[i]));
    status(`${(result.images || result.drawings).length} new (seed ${body.seed})`);
  } catch (error) {
    status(error.message, true);
  }
}

function setSlot(name) {
  if (!state.strokes.length) { status("Draw something first."); return; }
  state.slots[name] = polylines(state.strokes);
  drawCell($(`slot-${name}`), state.slots[name], Infinity);
  $("interpolate").disabled = !(state.slots.a && state.slots.b);
}

async function interpolate() {
  const body = {...sampling(), a: state.slots.a, b: state.slots.b, steps: Number($("steps").value)};
  status("Morphing…");
  try {
    const result = await api("/api/interpolate", body);
    showCells($("interpolated"), result.drawings, (i) => placeOnCanvas(result.drawings[i]));
    status(`${result.drawings.length} steps from A to B (seed ${body.seed})`);
  } catch (error) {
    status(error.message, true);
  }
}

// --- picture -> strokes -------------------------------------------------------------------------------------
let picture = null;                // the File chosen for the picture panel

function choosePicture(file) {
  if (!file) return;
  picture = file;
  $("vectorize").disabled = false;
  status(`${file.name}: Vectorize puts its strokes on the canvas.`);
}

function readDataURL(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(new Error(`${file.name}: could not be read`));
    reader.readAsDataURL(file);
  });
}

async function vectorizePicture() {
  const file = picture;
  if (!file) { status("Choose a picture first."); return; }
  const most = state.server.limits.max_picture;
  if (file.size > most) { status(`${file.name}: larger than ${most.toLocaleString("en")} bytes`, true); return; }
  const [method, model] = $("vec-method").value.split(" ");
  const rect = canvas.getBoundingClientRect();
  status("Tracing…");
  try {
    const body = {picture: await readDataURL(file), method,
                  width: Math.max(1, rect.width), height: Math.max(1, rect.height)};
    if (model) body.model = model;
    if (method === "agent") {
      if ($("vec-strokes").value.trim()) body.strokes = Number($("vec-strokes").value);
      if (Number($("vec-refine").value) > 0) body.refine = Number($("vec-refine").value);
    }
    const result = await api("/api/vectorize", body);
    state.request += 1;  // a completion of the drawing it replaces is no longer wanted
    state.strokes = result.strokes.map((line) => ({points: line, pressure: line.map(() => 0.5)}));
    state.proposals = [];
    $("proposals").replaceChildren();
    redraw();
    status(`${result.strokes.length} strokes from ${file.name} (${result.model || result.method}).`);
  } catch (error) {
    status(error.message, true);
  }
}

// the methods the server offers: the skeleton tracer, then each model that can vectorize ("agent ID")
function fillMethods(vectorize) {
  const options = vectorize.methods.includes("skeleton") ? [new Option("skeleton tracer", "skeleton")] : [];
  if (vectorize.methods.includes("agent")) {
    for (const id of vectorize.models) {
      const model = state.server.models.find((m) => m.id === id);
      options.push(new Option(`agent: ${model ? model.label : id}`, `agent ${id}`));
    }
  }
  $("vec-method").replaceChildren(...options);
  $("vec-method-label").hidden = options.length < 2;
  $("vectorize-panel").hidden = !options.length;
  showAgentOptions();
}

// the agent's stroke count and fitting steps, offered only while an agent is the chosen method
function showAgentOptions() {
  const agent = $("vec-method").value.startsWith("agent");
  $("vec-strokes-label").hidden = !agent;
  $("vec-refine-label").hidden = !agent;
}

function dropTarget(el) {
  el.addEventListener("dragover", (e) => {
    if (!e.dataTransfer.types.includes("Files")) return;
    e.preventDefault();
    el.classList.add("over");
  });
  el.addEventListener("dragleave", () => el.classList.remove("over"));
  el.addEventListener("drop", (e) => {
    el.classList.remove("over");
    if (!e.dataTransfer.files.length || $("vectorize-panel").hidden) return;
    e.preventDefault();
    $("picture").files = e.dataTransfer.files;
    choosePicture(e.dataTransfer.files[0]);
  });
}

// --- downloads ---------------------------------------------------------------------------------------------
async function download(format) {
  const body = {format, strokes: polylines(state.strokes), profile: $("profile").value, paper: $("paper").value};
  try {
    const response = await api("/api/export", body);
    const blob = await response.blob();
    const name = (response.headers.get("content-disposition") || "").match(/filename="([^"]+)"/);
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name ? name[1] : `drawing.${format}`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    status(`Downloaded ${link.download}.`);
  } catch (error) {
    status(error.message, true);
  }
}

// --- models ------------------------------------------------------------------------------------------------
function chooseModel(id) {
  state.model = state.server.models.find((m) => m.id === id);
  const can = (c) => state.model.capabilities.includes(c);
  const strokesIn = state.model.input === "strokes" && state.model.output === "strokes";
  for (const el of ["complete", "auto", "n", "prev", "next"]) $(el).disabled = !(can("complete") && strokesIn);
  $("generate-panel").hidden = !can("generate");
  $("interpolate-panel").hidden = !(can("encode") && strokesIn);
  $("class-label").hidden = !state.model.classes.length;
  $("variety-label").hidden = state.model.z_temperature === null;
  if (state.model.z_temperature !== null) setVariety(state.model.z_temperature);
  $("class").replaceChildren(new Option("any", ""), ...state.model.classes.map((c) => new Option(c, c)));
  state.proposals = [];
  redraw();
  status(`Model ${state.model.label}: can ${state.model.capabilities.join(", ")}.`);
}

function setVariety(value) {
  $("variety").value = value;
  $("variety-value").textContent = Number(value).toFixed(2);
}

function fill(select, values, chosen) {
  select.replaceChildren(...values.map((v) => new Option(v, v, v === chosen, v === chosen)));
}

async function start() {
  try {
    state.server = await api("/api/models");
  } catch (error) {
    status(`Cannot reach the server: ${error.message}`, true);
    return;
  }
  const limits = state.server.limits;
  $("n").max = limits.max_complete;
  $("gen-n").max = limits.max_generate;
  $("steps").max = limits.max_steps;
  $("vec-strokes").max = limits.max_agent_strokes;
  $("vec-refine").max = limits.max_refine;
  $("temperature").max = limits.max_temperature;
  $("variety").max = limits.max_temperature;
  // a model that only reads pictures (a vectorizer) is offered in the picture panel, not here
  const draws = (m) => ["generate", "complete", "encode"].some((c) => m.capabilities.includes(c));
  $("model").replaceChildren(...state.server.models.filter(draws).map((m) => new Option(m.label, m.id)));
  $("model").value = state.server.default;
  fill($("profile"), state.server.profiles, "grbl-servo");
  fill($("paper"), state.server.papers, "A4");
  fillMethods(state.server.vectorize);
  chooseModel($("model").value);
}

$("model").addEventListener("change", (e) => chooseModel(e.target.value));
$("temperature").addEventListener("input", (e) => { $("temperature-value").textContent = Number(e.target.value).toFixed(2); });
$("variety").addEventListener("input", (e) => setVariety(e.target.value));
$("undo").addEventListener("click", undo);
$("clear").addEventListener("click", clearAll);
$("complete").addEventListener("click", complete);
$("prev").addEventListener("click", () => cycle(-1));
$("next").addEventListener("click", () => cycle(1));
$("accept").addEventListener("click", accept);
$("generate").addEventListener("click", generate);
$("set-a").addEventListener("click", () => setSlot("a"));
$("set-b").addEventListener("click", () => setSlot("b"));
$("interpolate").addEventListener("click", interpolate);
$("picture").addEventListener("change", (e) => choosePicture(e.target.files[0]));
$("vectorize").addEventListener("click", vectorizePicture);
$("vec-method").addEventListener("change", showAgentOptions);
dropTarget($("drop"));
dropTarget(canvas);
for (const button of document.querySelectorAll("[data-format]")) {
  button.addEventListener("click", () => download(button.dataset.format));
}
document.addEventListener("keydown", (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key === "z") { undo(); e.preventDefault(); }
});
window.addEventListener("resize", resizeCanvas);
resizeCanvas();
start();

// jexp serve: the page's three parts. No build step, nothing fetched from elsewhere.
"use strict";
const $ = (id) => document.getElementById(id);
let info = null;

async function call(url, options) {
  const r = await fetch(url, options);
  const body = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}
function say(text) { $("status").textContent = text; }

// --- tabs -----------------------------------------------------------------------------------------
for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => {
    document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t === tab));
    document.querySelectorAll(".part").forEach((p) => p.classList.toggle("active", p.id === tab.dataset.part));
    if (tab.dataset.part === "results") loadResults();
  });
}

// --- small pictures -------------------------------------------------------------------------------
function drawGrey(canvas, rows) {
  canvas.classList.add("px");
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(28, 28);
  rows.flat().forEach((v, i) => {
    const g = Math.round(255 * Math.min(1, Math.max(0, v)));
    img.data.set([g, g, g, 255], 4 * i);
  });
  ctx.putImageData(img, 0, 0);
}
function drawDiverging(canvas, rows) {  // blue: darker than your digit, red: brighter; white: unchanged
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(28, 28);
  const flat = rows.flat(), top = Math.max(1e-6, ...flat.map(Math.abs));
  flat.forEach((v, i) => {
    const t = Math.min(1, Math.abs(v) / top);
    const c = v < 0 ? [255 - t * 222, 255 - t * 153, 255 - t * 83] : [255 - t * 77, 255 - t * 231, 255 - t * 212];
    img.data.set([...c.map(Math.round), 255], 4 * i);
  });
  ctx.putImageData(img, 0, 0);
  canvas.title = `largest change ${top.toFixed(2)}`;
}
function bars(answers, into) {
  into.innerHTML = "";
  for (const a of answers) {
    const div = document.createElement("div");
    div.className = "model";
    div.dataset.model = a.model;
    div.dataset.label = a.label;
    const conf = (100 * a.probs[a.label]).toFixed(1);
    div.innerHTML = `<div><span class="name">${a.model}</span>: <b>${a.label}</b> (${conf} %${a.calibrated ? ", calibrated" : ""})` +
      `${a.unsure ? ' <span class="warning">unsure</span>' : ""} <span class="about">${a.about}</span></div>`;
    const grid = document.createElement("div");
    grid.className = "bars";
    a.probs.forEach((p, k) => {
      grid.insertAdjacentHTML("beforeend", `<span>${k}</span><span class="bar${k === a.label ? " top" : ""}">` +
        `<i style="width:${(100 * p).toFixed(1)}%"></i></span><span>${(100 * p).toFixed(1)} %</span>`);
    });
    div.appendChild(grid);
    into.appendChild(div);
  }
}

// --- digits ---------------------------------------------------------------------------------------
const pad = $("pad"), pen = pad.getContext("2d");
let drawing = false, last = null, inked = false, pending = null;
function clearPad() {
  pen.fillStyle = "#000";
  pen.fillRect(0, 0, pad.width, pad.height);
  inked = false;
  $("digit-answer").textContent = "";
  $("digit-models").innerHTML = "";
  $("digit-warning").hidden = true;
}
function at(e) {
  const r = pad.getBoundingClientRect();
  return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
}
pad.addEventListener("pointerdown", (e) => {
  drawing = true; last = at(e); pad.setPointerCapture(e.pointerId);
  stroke(last, last);
});
pad.addEventListener("pointermove", (e) => { if (drawing) { const p = at(e); stroke(last, p); last = p; } });
for (const end of ["pointerup", "pointercancel"]) {
  pad.addEventListener(end, () => { if (drawing) { drawing = false; predictPad(); } });
}
function stroke(a, b) {
  pen.strokeStyle = "#fff"; pen.lineWidth = 20; pen.lineCap = "round"; pen.lineJoin = "round";
  pen.beginPath(); pen.moveTo(...a); pen.lineTo(...b); pen.stroke();
  inked = true;
}
function padBlob() { return new Promise((ok) => pad.toBlob(ok, "image/png")); }

let lastPicture = null, lastInk = "high";
async function predict(blob, ink) {
  lastPicture = blob; lastInk = ink;
  try {
    const r = await call(`/api/digits?ink=${ink}`, { method: "POST", body: blob });
    drawGrey($("seen"), r.seen);
    bars(r.models, $("digit-models"));
    const main = r.models[0];
    $("digit-answer").textContent = main.label;
    $("digit-answer").dataset.label = main.label;
    const unsure = r.models.filter((m) => m.unsure).map((m) => m.model);
    $("digit-warning").hidden = unsure.length === 0;
    $("digit-warning").textContent = unsure.length ? `Not sure: ${unsure.join(", ")} ` +
      "gave its answer less confidence than it needs to be right most of the time." : "";
    say(`read by ${r.models.length} models`);
  } catch (err) {
    $("digit-answer").textContent = "";
    $("digit-answer").dataset.label = "";
    say(err.message);
  }
}
async function predictPad() { if (inked) await predict(await padBlob(), "high"); }
$("clear").addEventListener("click", clearPad);
$("digit-file").addEventListener("change", (e) => { if (e.target.files[0]) predict(e.target.files[0], "auto"); });
pad.addEventListener("dragover", (e) => { e.preventDefault(); pad.classList.add("drop"); });
pad.addEventListener("dragleave", () => pad.classList.remove("drop"));
pad.addEventListener("drop", (e) => {
  e.preventDefault(); pad.classList.remove("drop");
  if (e.dataTransfer.files[0]) predict(e.dataTransfer.files[0], "auto");
});

$("attack").addEventListener("click", async () => {
  if (!lastPicture) { say("draw a digit first"); return; }
  const target = $("target").value, button = $("attack");
  button.disabled = true;
  $("attack-answer").textContent = "";
  $("attack-answer").dataset.label = "";
  say(`attacking towards ${target}… (at most ${info ? info.limits.attack_seconds : "?"} s)`);
  try {
    const r = await call(`/api/attack?target=${target}&ink=${lastInk}`, { method: "POST", body: lastPicture });
    $("attack-part").hidden = false;
    drawGrey($("attack-seen"), r.seen);
    drawDiverging($("attack-perturbation"), r.perturbation);
    drawGrey($("attack-image"), r.image);
    const now = r.models[0].label;
    $("attack-answer").textContent = `class ${now}`;
    $("attack-answer").dataset.label = now;
    $("attack-summary").textContent = (r.success ? `The ${r.attacked} now reads ${r.target}` :
      `Not fooled towards ${r.target} within ${r.max_rounds} rounds`) +
      ` after ${r.rounds} rounds (${r.seconds.toFixed(1)} s), change L2 ${r.l2.toFixed(2)}.`;
    bars(r.models, $("attack-models"));
    say(r.success ? "fooled" : "not fooled");
  } catch (err) {
    say(`attack: ${err.message}`);
  } finally {
    button.disabled = false;
  }
});

// --- emotion --------------------------------------------------------------------------------------
const video = $("video"), overlay = $("overlay"), grab = document.createElement("canvas");
let streaming = false, sent = 0, started = 0, lastStats = null;
const MIN_GAP_MS = 100;  // at most 10 frames a second go to the server

function showFaces(r, source) {
  overlay.width = r.width; overlay.height = r.height;
  const ctx = overlay.getContext("2d");
  ctx.clearRect(0, 0, r.width, r.height);
  if (source) ctx.drawImage(source, 0, 0, r.width, r.height);
  ctx.lineWidth = Math.max(2, r.width / 240);
  ctx.font = `${Math.max(14, r.width / 32)}px system-ui, sans-serif`;
  const list = $("emotion-labels");
  list.innerHTML = "";
  for (const f of r.faces) {
    const [x, y, w, h] = f.box, label = f.uncertain ? `uncertain (${f.label}?)` : f.label;
    ctx.strokeStyle = f.uncertain ? "#f5b041" : "#2ecc71";
    ctx.strokeRect(x, y, w, h);
    ctx.fillStyle = ctx.strokeStyle;
    ctx.fillText(`${label} ${(100 * f.confidence).toFixed(0)}%`, x, Math.max(16, y - 6));
    const li = document.createElement("li");
    li.dataset.label = f.label;
    li.dataset.box = f.box.join(",");
    li.dataset.uncertain = f.uncertain;
    li.textContent = `${label} ${(100 * f.confidence).toFixed(0)} % at (${f.box.join(", ")})`;
    list.appendChild(li);
  }
}
async function sendFrame() {
  if (!streaming) return;
  const t0 = performance.now();
  grab.width = video.videoWidth; grab.height = video.videoHeight;
  if (grab.width) {
    grab.getContext("2d").drawImage(video, 0, 0);
    const blob = await new Promise((ok) => grab.toBlob(ok, "image/jpeg", 0.85));
    try {
      const r = await call("/api/emotion", { method: "POST", body: blob });
      showFaces(r, null);
      sent += 1;
      const fps = sent / ((performance.now() - started) / 1000);
      const ms = Object.entries(r.ms).map(([k, v]) => `${k} ${v.toFixed(1)} ms`).join(", ");
      lastStats = `${fps.toFixed(1)} frames/s; round trip ${(performance.now() - t0).toFixed(0)} ms (${ms}); ` +
        `${r.faces.length} face${r.faces.length === 1 ? "" : "s"}`;
      $("emotion-stats").textContent = lastStats;
    } catch (err) {
      say(`emotion: ${err.message}`);
    }
  }
  setTimeout(sendFrame, Math.max(0, MIN_GAP_MS - (performance.now() - t0)));  // the newest frame, never a queue
}
$("camera").addEventListener("click", async () => {
  if (streaming) {
    streaming = false;
    video.srcObject.getTracks().forEach((t) => t.stop());
    $("camera").textContent = "Start the camera";
    return;
  }
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
    await video.play();
    streaming = true; sent = 0; started = performance.now();
    $("camera").textContent = "Stop the camera";
    say("camera on");
    sendFrame();
  } catch (err) {
    say(`camera: ${err.message}`);
  }
});
async function facesOfPhoto(file) {
  try {
    const r = await call("/api/emotion", { method: "POST", body: file });
    const img = await createImageBitmap(file);
    showFaces(r, img);
    say(`${r.faces.length} face${r.faces.length === 1 ? "" : "s"} found`);
  } catch (err) {
    say(`emotion: ${err.message}`);
  }
}
$("face-file").addEventListener("change", (e) => { if (e.target.files[0]) facesOfPhoto(e.target.files[0]); });
$("stage").addEventListener("dragover", (e) => e.preventDefault());
$("stage").addEventListener("drop", (e) => { e.preventDefault(); if (e.dataTransfer.files[0]) facesOfPhoto(e.dataTransfer.files[0]); });

// --- results --------------------------------------------------------------------------------------
let resultsLoaded = false;
async function loadResults() {
  if (resultsLoaded) return;
  try {
    const list = await call("/api/results"), ul = $("result-list");
    for (const r of list) {
      const li = document.createElement("li"), a = document.createElement("a");
      a.href = `#${r.name}`; a.textContent = r.name; a.title = r.title; a.dataset.name = r.name;
      a.addEventListener("click", (e) => { e.preventDefault(); showResult(r.name); });
      li.appendChild(a); ul.appendChild(li);
    }
    resultsLoaded = true;
    if (list.length) showResult(list[0].name);
  } catch (err) {
    say(`results: ${err.message}`);
  }
}
async function showResult(name) {
  const r = await call(`/api/results/${encodeURIComponent(name)}`);
  $("result-page").innerHTML = r.html;
  document.querySelectorAll("#result-list a").forEach((a) => a.classList.toggle("active", a.dataset.name === name));
}

// --- start ----------------------------------------------------------------------------------------
clearPad();
call("/api/info").then((r) => {
  info = r;
  say(`${r.digit_models.length} digit models, ${r.emotion_classes.length ? "the emotion model" : "no emotion model"}` +
      (r.missing.length ? `; missing: ${r.missing.join(", ")}` : ""));
}).catch((err) => say(err.message));

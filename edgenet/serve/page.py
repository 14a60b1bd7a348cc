"""The live-view page: one self-contained HTML document (no CDN, no build step; the board may be offline).

The video is an <img> on /stream.mjpg, which every browser plays natively. Script polls /stats once
a second for the labels, the numbers and the one-minute FPS chart (a canvas). The token, when there
is one, is taken from the page's own address and passed on to the stream and the stats.
On a wide screen the layout is fixed (video 640 px wide at the top left, panel to its right) so a
screenshot test can find the regions; on a phone everything is at most the screen's width (no
sideways scrolling) and the panel goes below the video.
"""

from __future__ import annotations

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgenet live</title>
<style>
  html, body { margin: 0; background: #15181c; color: #e8e8e8; font: 15px/1.35 system-ui, sans-serif; }
  * { box-sizing: border-box; }
  header { height: 40px; padding: 0 16px; display: flex; align-items: center; gap: 16px; background: #0d0f12; }
  header b { font-size: 17px; } header span { color: #9aa3ad; min-width: 0; overflow: hidden;
    white-space: nowrap; text-overflow: ellipsis; }
  main { display: flex; flex-wrap: wrap; gap: 16px; padding: 16px; align-items: flex-start; }
  #video { width: 640px; max-width: 100%; min-height: 120px; background: #000; display: block; }
  #panel { width: 320px; max-width: 100%; }
  .nums { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; margin-bottom: 14px; }
  .num { background: #1f242a; padding: 8px 10px; border-radius: 6px; }
  .num div:first-child { color: #9aa3ad; font-size: 12px; } .num div:last-child { font-size: 22px; }
  #labels { list-style: none; padding: 0; margin: 0 0 14px 0; }
  #labels li { position: relative; background: #1f242a; margin-bottom: 6px; height: 30px; border-radius: 4px; overflow: hidden; }
  #labels .bar { position: absolute; left: 0; top: 0; bottom: 0; background: #1e8449; }
  #labels .text { position: absolute; left: 8px; right: 8px; top: 5px; display: flex; justify-content: space-between; }
  #chart { width: 320px; max-width: 100%; height: 120px; background: #1f242a; border-radius: 6px; display: block; }
  .legend { color: #9aa3ad; font-size: 12px; margin-top: 4px; }
  #status { color: #e0a040; }
</style></head>
<body>
<header><b>edgenet</b><span id="source">live view</span><span id="status"></span></header>
<main>
  <img id="video" alt="live video">
  <div id="panel">
    <div class="nums">
      <div class="num"><div>end-to-end FPS</div><div id="e2e">–</div></div>
      <div class="num"><div>model-only FPS</div><div id="model">–</div></div>
      <div class="num"><div>inference ms</div><div id="infer">–</div></div>
      <div class="num"><div>CPU temperature</div><div id="temp">–</div></div>
    </div>
    <ol id="labels"></ol>
    <canvas id="chart" width="320" height="120"></canvas>
    <div class="legend"><span style="color:#f1c40f">&#9632;</span> end-to-end FPS &nbsp;
      <span style="color:#5dade2">&#9632;</span> model-only FPS &nbsp; (last minute, log scale)</div>
  </div>
</main>
<script>
"use strict";
const token = new URLSearchParams(location.search).get("token");
const qs = token ? "?token=" + encodeURIComponent(token) : "";
const $ = (id) => document.getElementById(id);
// This page is a viewer itself once its own stream delivers a frame, whatever the first /stats said.
let streaming = false;
$("video").onload = () => { streaming = true; };
$("video").onerror = () => { streaming = false; $("status").textContent = "stream lost: reload when the run is back"; };
$("video").src = "stream.mjpg" + qs;
const fmt = (v, d) => (v === null || v === undefined) ? "–" : Number(v).toFixed(d);

function drawChart(history) {
  // Log scale: model-only FPS can be 100x end-to-end FPS (a tiny model on a slow camera) and both
  // must stay readable.
  const c = $("chart"), g = c.getContext("2d"), W = c.width, H = c.height, pad = 6;
  g.clearRect(0, 0, W, H);
  if (!history.length) return;
  let top = 10;
  for (const h of history) top = Math.max(top, h.e2e_fps, h.model_fps);
  const decades = Math.ceil(Math.log10(top * 1.2));
  const x = (age) => W - pad - (W - 2 * pad) * Math.min(age, 60) / 60;
  const y = (v) => H - pad - (H - 2 * pad) * Math.log10(Math.max(v, 1)) / decades;
  g.lineWidth = 1; g.font = "10px sans-serif";
  for (let d = 0; d <= decades; d++) {
    g.strokeStyle = "#2c333b"; g.beginPath(); g.moveTo(0, y(10 ** d)); g.lineTo(W, y(10 ** d)); g.stroke();
    g.fillStyle = "#9aa3ad"; g.fillText(String(10 ** d), 4, Math.max(10, y(10 ** d) - 2));
  }
  for (const [key, colour] of [["model_fps", "#5dade2"], ["e2e_fps", "#f1c40f"]]) {
    g.strokeStyle = colour; g.fillStyle = colour; g.lineWidth = 2; g.beginPath();
    history.forEach((h, i) => { if (i) g.lineTo(x(h.age_s), y(h[key])); else g.moveTo(x(h.age_s), y(h[key])); });
    g.stroke();
    const last = history[history.length - 1];
    g.beginPath(); g.arc(x(last.age_s), y(last[key]), 3, 0, 2 * Math.PI); g.fill();
  }
}

function showLabels(top) {
  const ol = $("labels");
  ol.replaceChildren(...top.map((t) => {
    const li = document.createElement("li"), bar = document.createElement("div"), text = document.createElement("div");
    bar.className = "bar"; bar.style.width = (100 * Math.max(0, Math.min(1, t.score))).toFixed(1) + "%";
    text.className = "text";
    const name = document.createElement("span"), score = document.createElement("span");
    name.textContent = t.label; score.textContent = t.score.toFixed(2);
    text.append(name, score); li.append(bar, text); return li;
  }));
}

async function poll() {
  try {
    const r = await fetch("stats" + qs, { cache: "no-store" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    const s = await r.json();
    $("e2e").textContent = fmt(s.e2e_fps, 1);
    $("model").textContent = fmt(s.model_fps, 1);
    $("infer").textContent = fmt(s.infer_ms, 2);
    $("temp").textContent = s.cpu_temp_c === null ? "n/a" : fmt(s.cpu_temp_c, 1) + " °C";
    const viewers = Math.max(s.viewers, streaming ? 1 : 0);
    $("source").textContent = "frame " + (s.frame ?? "–") + " · " + viewers + (viewers === 1 ? " viewer" : " viewers");
    $("status").textContent = "";
    showLabels(s.top || []);
    drawChart(s.history || []);
  } catch (e) {
    $("status").textContent = "no stats (" + e.message + ")";
  }
  setTimeout(poll, 1000);
}
// The first /stats a second after the stream was asked for, so the page's own stream is counted.
setTimeout(poll, 1000);
</script>
</body></html>
"""


def render_page() -> str:
    return PAGE

// The dashboard: polls /v1/stats (open) every second for the counts and their history;
// with the read key (asked once, kept in session storage) it also shows the last bad rows
// and this hour's and today's aggregates. No framework, no build step; uPlot draws.
"use strict";

const KEY_STORAGE = "pipeline.read_key";
const STATS_EVERY_MS = 1000;
const KEYED_EVERY_MS = 2000;
const BAD_ROWS_SHOWN = 20;
const COLORS = ["#2f6fed", "#12b76a", "#f79009", "#d92d20", "#7a5af8", "#0e9384"];

const $ = (id) => document.getElementById(id);
const number = (n) => (n === null || n === undefined ? "–" : Math.round(n).toLocaleString("en-US"));

function bytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function duration(seconds) {
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  return h ? `${h} h ${m} min` : m ? `${m} min ${s} s` : `${s} s`;
}

function setValue(id, value, text) {
  const el = $(id);
  el.dataset.value = value === null || value === undefined ? "" : String(value);
  el.textContent = text === undefined ? number(value) : text;
}

// Rates per second between consecutive samples of a series of totals.
function rates(history, pick) {
  const xs = [], ys = [];
  for (let i = 1; i < history.length; i++) {
    const dt = (Date.parse(history[i].t) - Date.parse(history[i - 1].t)) / 1000;
    if (dt <= 0) continue;
    xs.push(Date.parse(history[i].t) / 1000);
    ys.push(Math.max(0, (pick(history[i]) - pick(history[i - 1])) / dt));
  }
  return [xs, ys];
}

function makeChart(el, labels) {
  const width = () => Math.max(300, el.clientWidth);
  const chart = new uPlot({
    width: width(),
    height: 220,
    series: [{}].concat(labels.map((label, i) => ({ label, stroke: COLORS[i % COLORS.length], width: 2, points: { show: false } }))),
    axes: [{}, { size: 70 }],
    scales: { y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
  }, [[]].concat(labels.map(() => [])), el);
  window.addEventListener("resize", () => chart.setSize({ width: width(), height: 220 }));
  return chart;
}

let rateChart = null, badChart = null;

function drawCharts(stats) {
  const h = stats.history;
  if (!rateChart) rateChart = makeChart($("rate-chart"), ["accepted/s", "processed/s"]);
  if (!badChart) badChart = makeChart($("bad-chart"), stats.bad_row_types);
  const [xs, accepted] = rates(h, (s) => s.accepted);
  const [, processed] = rates(h, (s) => s.processed);
  rateChart.setData([xs, accepted, processed]);
  const perType = stats.bad_row_types.map((_, i) => rates(h, (s) => s.bad_rows[i])[1]);
  badChart.setData([xs].concat(perType));
}

function lastRate(history, pick) {
  const [, ys] = rates(history.slice(-2), pick);
  return ys.length ? ys[ys.length - 1] : null;
}

function showStats(stats) {
  $("status").textContent = "up";
  $("status").className = "status ok";
  setValue("accepted", stats.accepted);
  setValue("processed", stats.processed);
  setValue("events-stored", stats.events_stored);
  setValue("bad-rows", stats.bad_rows_total);
  setValue("lag", stats.lag.total);
  const h = stats.history;
  const a = lastRate(h, (s) => s.accepted), p = lastRate(h, (s) => s.processed);
  $("accepted-rate").textContent = a === null ? "" : `${number(a)}/s`;
  $("processed-rate").textContent = p === null ? "" : `${number(p)}/s`;
  // Mean batch duration over the last ten seconds of history.
  const recent = h.slice(-11);
  if (recent.length > 1) {
    const first = recent[0], last = recent[recent.length - 1];
    const n = last.batches - first.batches;
    setValue("batch-ms", n > 0 ? ((last.batch_seconds - first.batch_seconds) / n) * 1000 : null,
      n > 0 ? `${(((last.batch_seconds - first.batch_seconds) / n) * 1000).toFixed(1)} ms` : "idle");
  }
  const rows = Object.entries(stats.lag.shards).map(([shard, lag]) => `<tr><th>${shard}</th><td>${number(lag)}</td></tr>`);
  $("lag-table").tBodies[0].innerHTML = rows.join("");
  $("disk-bytes").textContent = bytes(stats.disk.data_dir_bytes);
  $("disk-per-event").textContent = stats.disk.bytes_per_stored_event === null || stats.disk.bytes_per_stored_event === undefined
    ? "–" : `${stats.disk.bytes_per_stored_event.toFixed(0)} B`;
  $("retention").textContent = stats.disk.retention || "events kept until deleted";
  $("uptime").textContent = duration(stats.uptime_seconds);
  $("merges").textContent = `${number(stats.aggregates.merges)} (${number(stats.aggregates.windows_skipped)} windows skipped)`;
  drawCharts(stats);
}

async function pollStats() {
  try {
    const response = await fetch("/v1/stats?history=300", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    showStats(await response.json());
  } catch (e) {
    $("status").textContent = "unreachable";
    $("status").className = "status down";
  }
  setTimeout(pollStats, STATS_EVERY_MS);
}

// --- keyed panels -----------------------------------------------------------------------

function readKey() { return sessionStorage.getItem(KEY_STORAGE); }

async function keyed(path) {
  const response = await fetch(path, { headers: { "x-api-key": readKey() }, cache: "no-store" });
  if (response.status === 403) {
    sessionStorage.removeItem(KEY_STORAGE);
    showKeyForm("That is not the read key (the ingest key does not open these).");
    throw new Error("forbidden");
  }
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

let shownBadRows = [];

function showBadRows(rows) {
  shownBadRows = rows;
  $("bad-empty").hidden = rows.length > 0;
  $("bad-table").tBodies[0].innerHTML = rows.map((row, i) => {
    const first = (row.errors && row.errors[0]) || {};
    const where = first.path ? `${first.path}: ` : "";
    return `<tr data-index="${i}"><td>${escapeHtml(row.failed_at)}</td><td>${escapeHtml(row.type)}</td>` +
      `<td>${escapeHtml(row.event_type === null ? "–" : row.event_type)}</td><td>${escapeHtml(where + (first.message || ""))}</td></tr>`;
  }).join("");
}

function showAggregates(tableId, body) {
  const rows = (body.aggregates || []).map((r) =>
    `<tr><td>${escapeHtml(r.event_type)}</td><td>${number(r.count)}</td><td>${number(r.unique_users)}</td></tr>`);
  $(tableId).tBodies[0].innerHTML = rows.length ? rows.join("") : `<tr><td colspan="3" class="muted">none yet</td></tr>`;
}

function windowStart(unit) {
  const now = new Date();
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), unit === "hour" ? now.getUTCHours() : 0));
  return start.toISOString().replace(/\.\d{3}Z$/, "Z");
}

let keyedTimer = null;

async function pollKeyed() {
  keyedTimer = null;
  if (!readKey()) return;
  try {
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    const [bad, hour, day] = await Promise.all([
      keyed(`/v1/bad-rows?order=newest&limit=${BAD_ROWS_SHOWN}`),
      keyed(`/v1/aggregates?granularity=hour&from=${windowStart("hour")}&to=${now}`),
      keyed(`/v1/aggregates?granularity=day&from=${windowStart("day")}&to=${now}`),
    ]);
    showBadRows(bad.bad_rows || []);
    showAggregates("agg-hour", hour);
    showAggregates("agg-day", day);
  } catch (e) {
    if (!readKey()) return;
  }
  keyedTimer = setTimeout(pollKeyed, KEYED_EVERY_MS);
}

function showKeyForm(message) {
  $("key-form").hidden = false;
  $("keyed-panels").hidden = true;
  $("key-error").textContent = message || "";
}

function showKeyed() {
  $("key-form").hidden = true;
  $("keyed-panels").hidden = false;
  if (keyedTimer === null) pollKeyed();
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("read-key").value.trim();
  if (!key) return;
  sessionStorage.setItem(KEY_STORAGE, key);
  $("read-key").value = "";
  showKeyed();
});

$("forget-key").addEventListener("click", () => {
  sessionStorage.removeItem(KEY_STORAGE);
  showKeyForm("");
});

$("bad-table").addEventListener("click", (event) => {
  const tr = event.target.closest("tr[data-index]");
  if (!tr) return;
  const detail = $("bad-detail");
  detail.textContent = JSON.stringify(shownBadRows[Number(tr.dataset.index)], null, 2);
  detail.hidden = false;
});

if (readKey()) showKeyed(); else showKeyForm("");
pollStats();

// The twoway admin dashboard: reads /admin/overview every few seconds and
// shows it. Every value goes into the page as text (textContent), never as
// markup. The admin token, when the gateway has one, comes from the URL's
// fragment (#token=...) or the form, stays in this tab's sessionStorage and
// is sent only as the Authorization header of this page's own fetches.
"use strict";

const REFRESH_MS = 5000;
const KEY = "twoway-admin-token";
const $ = (id) => document.getElementById(id);
// Totals of the previous refresh, for the rates: key -> [total, time].
const previous = new Map();
let timer = null;

function takeTokenFromFragment() {
  const match = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (match) {
    sessionStorage.setItem(KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
}

function cell(row, text, field, cls) {
  const td = document.createElement("td");
  td.textContent = text == null ? "–" : String(text);
  if (field) td.dataset.field = field;
  td.className = text == null ? "muted" : cls || "";
  row.appendChild(td);
  return td;
}

function fill(tbody, items, build) {
  const rows = items.map((item) => {
    const tr = document.createElement("tr");
    build(tr, item);
    return tr;
  });
  tbody.replaceChildren(...rows);
}

// An RFC 3339 time to the second.
const second = (t) => t && t.replace(/\.\d+Z$/, "Z");

function duration(seconds) {
  const s = Math.abs(seconds);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min`;
  return `${Math.floor(s)} s`;
}

function rate(key, total, now) {
  const before = previous.get(key);
  previous.set(key, [total, now]);
  if (!before || now <= before[1] || total < before[0]) return null;
  return `${((total - before[0]) / ((now - before[1]) / 1000)).toFixed(2)}/s`;
}

function certificate(row, cert) {
  if (!cert) return cell(row, "none", "certificate", "muted");
  const left = cert.expires_in_seconds;
  const text = left < 0 ? `expired ${duration(left)} ago` : `expires in ${duration(left)}`;
  const td = cell(row, text, "certificate", left < 0 ? "bad" : left < 30 * 86400 ? "warn" : "ok");
  td.dataset.expiresInSeconds = left;
  td.title = `${cert.subject}, not after ${cert.not_after}`;
  const date = document.createElement("div");
  date.className = "muted mono";
  date.dataset.field = "not_after";
  date.textContent = cert.not_after;
  td.appendChild(date);
  return td;
}

function usage(row, api) {
  if (!api.limit) return cell(row, "not reported yet", "api", "muted");
  const td = cell(row, `${api.used} / ${api.limit}`, "api", "num");
  const stop = api.stop_at ?? api.limit;
  const share = Math.min(1, api.used / stop);
  const meter = document.createElement("span");
  meter.className = "meter" + (share >= 1 ? " bad" : share >= 0.8 ? " warn" : "");
  const bar = document.createElement("span");
  bar.style.width = `${Math.round(share * 100)}%`;
  meter.appendChild(bar);
  td.appendChild(meter);
  if (api.stop_at != null) {
    const note = document.createElement("div");
    note.className = "muted";
    note.dataset.field = "stop_at";
    note.textContent = `budget stops at ${api.stop_at}`;
    td.appendChild(note);
  }
  return td;
}

const STATE_CLASS = { active: "ok", logging_in: "", none: "muted", expired: "warn", backing_off: "bad", stopped: "bad" };

function render(o) {
  const now = Date.now();
  const ready = $("ready");
  ready.textContent = o.draining ? "draining" : o.ready ? "ready" : "not ready";
  ready.className = "pill " + (o.ready ? "ok" : "bad");
  $("meta").textContent = `version ${o.version} · ${o.in_flight} in flight`;
  $("refreshed").textContent = `as of ${second(o.generated_at)}, refreshing every ${REFRESH_MS / 1000} s`;

  fill($("tenants").tBodies[0], o.tenants, (tr, t) => {
    const s = t.session;
    tr.dataset.tenant = t.tenant;
    cell(tr, t.tenant, "tenant");
    cell(tr, s.state.replace("_", " "), "state", STATE_CLASS[s.state]).dataset.state = s.state;
    cell(tr, s.logins, "logins", "num");
    cell(tr, s.login_failures, "login_failures", "num" + (s.login_failures ? " warn" : ""));
    cell(tr, s.next_attempt_in_ms == null ? null : `in ${(s.next_attempt_in_ms / 1000).toFixed(1)} s`, "next_attempt", "bad");
    cell(tr, s.last_error, "last_error", "bad");
    certificate(tr, t.certificate);
    usage(tr, t.api);
    cell(tr, t.requests.total, "requests", "num");
    cell(tr, t.requests.failed, "failed", "num" + (t.requests.failed ? " warn" : ""));
    cell(tr, rate("t/" + t.tenant, t.requests.total, now), "rate", "num");
  });

  fill($("plugins").tBodies[0], o.plugins, (tr, p) => {
    tr.dataset.tenant = p.tenant;
    tr.dataset.workflow = p.workflow;
    cell(tr, p.tenant, "tenant");
    cell(tr, p.workflow, "workflow");
    cell(tr, p.version ?? "not loaded", "version", "mono" + (p.version ? "" : " bad"));
    cell(tr, second(p.loaded_at), "loaded_at", "muted");
    cell(tr, p.reloads, "reloads", "num");
    cell(tr, p.failures, "failures", "num" + (p.failures ? " warn" : ""));
    cell(tr, p.last_error, "last_error", "bad");
    cell(tr, p.requests.total, "requests", "num");
    cell(tr, p.requests.failed, "failed", "num");
    cell(tr, rate(`w/${p.tenant}/${p.workflow}`, p.requests.total, now), "rate", "num");
  });

  fill($("problems").tBodies[0], o.problems, (tr, p) => {
    tr.dataset.requestId = p.request_id;
    cell(tr, p.at, "at", "mono");
    cell(tr, p.tenant, "tenant");
    cell(tr, p.workflow ?? (p.api ? `front door: ${p.api}` : null), "workflow");
    cell(tr, p.status, "status", "num");
    cell(tr, p.code, "code", "mono bad");
    cell(tr, p.request_id, "request_id", "mono");
  });
  $("no-problems").hidden = o.problems.length > 0;

  const c = o.config;
  $("config").textContent = `${c.reloads} reload(s); the last one ${c.last_reload_successful ? "succeeded" : "failed: " + c.last_reload_error}.`;
  $("config").className = c.last_reload_successful ? "" : "bad";
}

async function refresh() {
  clearTimeout(timer);
  const token = sessionStorage.getItem(KEY);
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  try {
    const answer = await fetch("/admin/overview", { headers, cache: "no-store", credentials: "omit" });
    if (answer.status === 401) {
      sessionStorage.removeItem(KEY);
      $("board").hidden = true;
      $("login").hidden = false;
      $("login-error").textContent = token ? "The gateway refused that token." : "";
      return;
    }
    if (!answer.ok) throw new Error(`/admin/overview answered ${answer.status}`);
    render(await answer.json());
    $("login").hidden = true;
    $("board").hidden = false;
    $("error").hidden = true;
  } catch (e) {
    $("error").textContent = `Cannot refresh: ${e.message}`;
    $("error").hidden = false;
  }
  timer = setTimeout(refresh, REFRESH_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  takeTokenFromFragment();
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, $("token").value);
    $("token").value = "";
    $("login").hidden = true;
    refresh();
  });
  // A token pasted into this tab's address bar: no new page load.
  window.addEventListener("hashchange", () => {
    takeTokenFromFragment();
    refresh();
  });
  refresh();
});

// Smart Connect web interface, core: vanilla JavaScript on the same /api/v1 as every other
// client. Login: a form asks for the label password; every API call sends it as a Basic
// Authorization header (credentials: "omit", so the browser never shows its own prompt).
// The encoded credentials live in this tab's sessionStorage: a reload stays signed in.
// "Log out" ends the device's session too (POST /api/v1/logout), so another client can sign
// in at once.
//
// This file: helpers, login/logout, the status cards and the pollers; it publishes them as
// `window.SC` for settings.js (configuration forms, field errors, pending settings) and
// live.js (meter values, restart), which load after it.
"use strict";

window.SC = (() => {
  const KEY = "sc-auth";
  const STATUS_POLL_MS = 5000;
  const $ = (id) => document.getElementById(id);

  const SC = {
    $,
    auth: sessionStorage.getItem(KEY),
    // Running API calls (logout waits for them, so no late poll takes the session back).
    inflight: new Set(),
    // Periodic jobs while signed in: {fn, ms}; live.js adds the meter poll.
    pollers: [],
    timers: [],
    // Hooks the other files set: what to do with a status document and at sign-in.
    onStatus: [],
    onSignIn: [],
    onSignOut: [],
  };

  // ---------- helpers ----------
  function meta(name) {
    const m = document.querySelector(`meta[name="${name}"]`);
    return m ? m.content : "";
  }

  function encodeAuth(user, password) {
    const bytes = new TextEncoder().encode(`${user}:${password}`);
    let bin = "";
    bytes.forEach((b) => { bin += String.fromCharCode(b); });
    return btoa(bin);
  }

  async function call(method, path, body) {
    const headers = { Accept: "application/json" };
    if (SC.auth) headers.Authorization = `Basic ${SC.auth}`;
    const init = { method, headers, credentials: "omit", cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = method === "PATCH" ? "application/merge-patch+json" : "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      return { status: 0, data: { detail: "The Smart Connect does not answer." } };
    }
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    return { status: res.status, data: data || {} };
  }

  SC.api = (method, path, body) => {
    const p = call(method, path, body);
    SC.inflight.add(p);
    p.finally(() => SC.inflight.delete(p));
    return p;
  };

  SC.text = (id, value) => {
    const el = $(id);
    if (el) el.textContent = value === null || value === undefined || value === "" ? "–" : String(value);
  };

  SC.fmtDuration = (s) => {
    if (s === null || s === undefined) return "–";
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (d) return `${d} d ${h} h ${m} min`;
    if (h) return `${h} h ${m} min`;
    if (m) return `${m} min ${sec} s`;
    return `${sec} s`;
  };

  SC.fmtEpoch = (sec) => {
    if (sec === null || sec === undefined) return "never";
    return new Date(sec * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  };

  const PROTOCOLS = { dsmr: "DSMR / e-MUCS (P1)", "tic-historic": "TIC historic", "tic-standard": "TIC standard" };
  const REASONS = { never_received: "no telegram yet", timeout: "telegrams stopped", incompatible: "incompatible meter" };

  function capitalise(s) { return s.charAt(0).toUpperCase() + s.slice(1); }

  SC.problemText = (r) => {
    const d = r.data || {};
    switch (r.status) {
      case 0: return d.detail;
      case 401: return "Wrong password. Use the password printed on the label of the device.";
      case 429: return `Too many wrong passwords. Try again in ${d.retry_after_s || "a few"} s.`;
      case 409: return `Another session is active. ${d.detail ? capitalise(d.detail) + "." : ""}`;
      case 503: return "The Smart Connect is starting up or has no network address. Try again in a moment.";
      default: return d.detail || `The device answered ${r.status}.`;
    }
  };

  SC.message = (id, msg, kind) => {
    const el = $(id);
    el.textContent = msg || "";
    el.className = `form-message ${kind || ""}`;
  };

  SC.notice = (msg, isError) => {
    const el = $("device-notice");
    if (!msg) { el.classList.add("hidden"); return; }
    el.textContent = msg;
    el.classList.toggle("error", !!isError);
    el.classList.remove("hidden");
  };

  // ---------- secure link (WEB-01, WEB-06) ----------
  function setupSecureLink() {
    const badge = $("conn-badge");
    if (location.protocol === "https:") {
      badge.textContent = "Secure connection";
      badge.className = "badge badge-secure";
      return;
    }
    const port = meta("sc-https-port");
    if (!port || port.startsWith("{{")) return;
    const host = location.hostname.includes(":") ? `[${location.hostname}]` : location.hostname;
    $("secure-link").href = `https://${host}${port === "443" ? "" : ":" + port}/`;
    $("secure-banner").classList.remove("hidden");
  }

  // ---------- login / logout ----------
  SC.showLogin = (msg) => {
    SC.stopPolling();
    SC.onSignOut.forEach((f) => f());
    $("app").classList.add("hidden");
    $("logout").classList.add("hidden");
    $("login").classList.remove("hidden");
    $("login-error").textContent = msg || "";
    document.body.dataset.state = "login";
  };

  // The device refused the credentials or the session: forget them and ask again.
  SC.signOut = (msg) => {
    SC.auth = null;
    sessionStorage.removeItem(KEY);
    SC.showLogin(msg);
  };

  async function signIn() {
    const r = await SC.api("GET", "/api/v1/status");
    if (r.status !== 200) {
      SC.signOut(SC.problemText(r));
      return;
    }
    sessionStorage.setItem(KEY, SC.auth);
    $("login").classList.add("hidden");
    $("app").classList.remove("hidden");
    $("logout").classList.remove("hidden");
    $("login-password").value = "";
    SC.renderStatus(r.data);
    for (const f of SC.onSignIn) await f();
    SC.startPolling();
    document.body.dataset.state = "ready";
  }

  // End the device's session, then forget the credentials.
  async function logout() {
    SC.stopPolling();
    document.body.dataset.state = "logging-out";
    await Promise.allSettled([...SC.inflight]);
    const r = await SC.api("POST", "/api/v1/logout");
    const msg = r.status === 204 || r.status === 401
      ? "Signed out."
      : `Signed out on this page, but the device did not confirm it (${SC.problemText(r)}); its session ends after 5 minutes without requests.`;
    SC.signOut(msg);
  }

  // ---------- status (WEB-02) ----------
  SC.dot = (id, on, idle) => {
    const el = $(id);
    el.className = `dot ${idle ? "idle" : on ? "on" : "off"}`;
    el.parentElement.title = idle ? "disabled" : on ? "up" : "down";
  };

  // Show `value` in the row `id` (dt + dd), or hide the row when there is none.
  function optionalRow(id, value) {
    const dd = $(id);
    const show = typeof value === "string" && value !== "";
    dd.textContent = show ? value : "";
    dd.classList.toggle("hidden", !show);
    dd.previousElementSibling.classList.toggle("hidden", !show);
  }

  SC.renderStatus = (s) => {
    const sys = s.System || {}, m = s.Meter || {}, n = s.Network || {}, q = s.MQTT || {};
    document.querySelectorAll(".stale").forEach((el) => el.classList.remove("stale"));
    SC.text("status-serial", sys.Serial);
    SC.text("status-variant", sys.Variant ? sys.Variant.toUpperCase() : null);
    const upd = sys.FirmwareUpdate && sys.FirmwareUpdate !== "idle" ? ` (update ${sys.FirmwareUpdate})` : "";
    SC.text("status-firmware", sys.Firmware ? `${sys.Firmware}${upd}` : null);
    // Newer servers say why the last firmware update failed; older ones lack the key.
    optionalRow("status-firmware-error", sys.FirmwareError);
    SC.text("status-uptime", SC.fmtDuration(sys.UptimeS));
    SC.text("status-hostname", sys.Hostname);
    const cfg = s.Config || {};
    const settings = $("status-settings");
    settings.textContent = cfg.SaveError ? `Not saved: ${cfg.SaveError}`
      : cfg.Recovered ? `Saved settings were unreadable; factory settings in use (kept as ${cfg.Recovered})`
      : Array.isArray(cfg.Pending) && cfg.Pending.length ? "Saved; restart to apply"
      : "Saved";
    settings.className = cfg.SaveError || cfg.Recovered ? "pill bad" : "";
    $("page-subtitle").textContent = sys.Hostname ? `${sys.Hostname} · serial ${sys.Serial}` : "";

    const st = $("status-meter-state");
    const receiving = m.State === "receiving";
    st.textContent = receiving ? "Receiving" : `No data${m.Reason ? " – " + (REASONS[m.Reason] || m.Reason) : ""}`;
    st.className = `pill ${receiving ? "ok" : "bad"}`;
    SC.text("status-protocol", m.Protocol ? PROTOCOLS[m.Protocol] || m.Protocol : null);
    SC.text("status-meter-version", m.Version);
    SC.text("status-last-telegram", SC.fmtEpoch(m.LastTelegram));
    SC.text("status-telegrams", `${m.TelegramsOk || 0} ok · ${m.TelegramsRejected || 0} rejected`);

    SC.text("status-interface", n.ActiveInterface === "WiFi" ? "Wi-Fi" : n.ActiveInterface);
    const addr = n.Address ? `${n.Address}${n.IpMode ? " (" + n.IpMode + ")" : ""}` : n.AccessPoint ? `access point ${n.AccessPoint}` : null;
    SC.text("status-address", addr);
    SC.text("status-mdns", n.Mdns);
    // Newer servers say why the configured network cannot be joined.
    optionalRow("status-net-problem", n.Problem);
    SC.dot("ind-link", n.Link);
    SC.dot("ind-network", n.Network);
    SC.dot("ind-internet", n.Internet);
    SC.dot("ind-mqtt", n.MQTT, q.Enabled === false);
    SC.onStatus.forEach((f) => f(s));
  };

  // While the device's state is not known (restarting): grey indicators, stale values.
  SC.markUnknown = () => {
    ["ind-link", "ind-network", "ind-internet", "ind-mqtt"].forEach((id) => {
      const el = $(id);
      el.className = "dot unknown";
      el.parentElement.title = "unknown";
    });
    document.querySelectorAll(".status-card, #meter-card").forEach((el) => el.classList.add("stale"));
  };

  async function pollStatus() {
    const r = await SC.api("GET", "/api/v1/status");
    if (r.status === 200) {
      SC.notice(null);
      SC.renderStatus(r.data);
    } else if (r.status === 503 || r.status === 0) {
      // Restarting by itself (button, MQTT command, firmware update) or gone: not known.
      SC.markUnknown();
      SC.notice(SC.problemText(r), true);
    } else if (r.status === 401 || r.status === 409 || r.status === 429) {
      SC.signOut(SC.problemText(r));
    }
  }
  SC.refreshStatus = pollStatus;
  SC.pollers.push({ fn: pollStatus, ms: STATUS_POLL_MS, now: false });

  SC.startPolling = () => {
    SC.stopPolling();
    SC.timers = SC.pollers.map((p) => {
      if (p.now) p.fn();
      return setInterval(p.fn, p.ms);
    });
  };

  SC.stopPolling = () => {
    SC.timers.forEach(clearInterval);
    SC.timers = [];
  };

  // ---------- wiring ----------
  function init() {
    setupSecureLink();
    document.querySelectorAll(".toggle-secret").forEach((b) => {
      b.addEventListener("click", () => {
        const input = $(b.dataset.target);
        const show = input.type === "password";
        input.type = show ? "text" : "password";
        b.textContent = show ? "Hide" : "Show";
        b.setAttribute("aria-pressed", String(show));
      });
    });
    $("login-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      SC.auth = encodeAuth("user", $("login-password").value);
      signIn();
    });
    $("logout").addEventListener("click", logout);
    if (SC.settings) SC.settings.init();
    if (SC.live) SC.live.init();
    if (SC.auth) signIn(); else SC.showLogin("");
  }

  document.addEventListener("DOMContentLoaded", init);
  return SC;
})();

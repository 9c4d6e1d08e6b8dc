// Smart Connect web interface: vanilla JavaScript on the same /api/v1 as every other client.
// Login: a form asks for the label password; every API call sends it as a Basic
// Authorization header (credentials: "omit", so the browser never shows its own prompt).
// The encoded credentials live in this tab's sessionStorage: a reload stays signed in.
"use strict";

(() => {
  const KEY = "sc-auth";
  const POLL_MS = 5000;
  const DEFAULT_SITE = "unknown-site";
  const $ = (id) => document.getElementById(id);

  let auth = sessionStorage.getItem(KEY);
  let config = null;
  let drafts = {};
  let iface = "Ethernet";
  let pollTimer = null;
  let restarting = false;

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

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (auth) headers.Authorization = `Basic ${auth}`;
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

  function text(id, value) {
    const el = $(id);
    if (el) el.textContent = value === null || value === undefined || value === "" ? "–" : String(value);
  }

  function fmtDuration(s) {
    if (s === null || s === undefined) return "–";
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (d) return `${d} d ${h} h ${m} min`;
    if (h) return `${h} h ${m} min`;
    if (m) return `${m} min ${sec} s`;
    return `${sec} s`;
  }

  function fmtEpoch(sec) {
    if (sec === null || sec === undefined) return "never";
    return new Date(sec * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  }

  const PROTOCOLS = { dsmr: "DSMR / e-MUCS (P1)", "tic-historic": "TIC historic", "tic-standard": "TIC standard" };
  const REASONS = { never_received: "no telegram yet", timeout: "telegrams stopped", incompatible: "incompatible meter" };

  function problemText(r) {
    const d = r.data || {};
    switch (r.status) {
      case 0: return d.detail;
      case 401: return "Wrong password. Use the password printed on the label of the device.";
      case 429: return `Too many wrong passwords. Try again in ${d.retry_after_s || "a few"} s.`;
      case 409: return `Another session is active. ${d.detail ? capitalise(d.detail) + "." : ""}`;
      case 503: return "The Smart Connect is starting up or has no network address. Try again in a moment.";
      default: return d.detail || `The device answered ${r.status}.`;
    }
  }

  function capitalise(s) { return s.charAt(0).toUpperCase() + s.slice(1); }

  function message(id, msg, kind) {
    const el = $(id);
    el.textContent = msg || "";
    el.className = `form-message ${kind || ""}`;
  }

  function notice(msg, isError) {
    const el = $("device-notice");
    if (!msg) { el.classList.add("hidden"); return; }
    el.textContent = msg;
    el.classList.toggle("error", !!isError);
    el.classList.remove("hidden");
  }

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

  // ---------- login ----------
  function showLogin(msg) {
    stopPolling();
    $("app").classList.add("hidden");
    $("logout").classList.add("hidden");
    $("login").classList.remove("hidden");
    $("login-error").textContent = msg || "";
    document.body.dataset.state = "login";
  }

  async function signIn() {
    const r = await api("GET", "/api/v1/status");
    if (r.status !== 200) {
      auth = null;
      sessionStorage.removeItem(KEY);
      showLogin(problemText(r));
      return;
    }
    sessionStorage.setItem(KEY, auth);
    $("login").classList.add("hidden");
    $("app").classList.remove("hidden");
    $("logout").classList.remove("hidden");
    $("login-password").value = "";
    renderStatus(r.data);
    await loadConfig();
    startPolling();
    document.body.dataset.state = "ready";
  }

  // ---------- status (WEB-02) ----------
  function dot(id, on, idle) {
    const el = $(id);
    el.className = `dot ${idle ? "idle" : on ? "on" : "off"}`;
    el.parentElement.title = idle ? "disabled" : on ? "up" : "down";
  }

  function renderStatus(s) {
    const sys = s.System || {}, m = s.Meter || {}, n = s.Network || {}, q = s.MQTT || {};
    text("status-serial", sys.Serial);
    text("status-variant", sys.Variant ? sys.Variant.toUpperCase() : null);
    const upd = sys.FirmwareUpdate && sys.FirmwareUpdate !== "idle" ? ` (update ${sys.FirmwareUpdate})` : "";
    text("status-firmware", sys.Firmware ? `${sys.Firmware}${upd}` : null);
    text("status-uptime", fmtDuration(sys.UptimeS));
    text("status-hostname", sys.Hostname);
    const cfg = s.Config || {};
    const settings = $("status-settings");
    settings.textContent = cfg.SaveError ? `Not saved: ${cfg.SaveError}`
      : cfg.Recovered ? `Saved settings were unreadable; factory settings in use (kept as ${cfg.Recovered})`
      : "Saved";
    settings.className = cfg.SaveError || cfg.Recovered ? "pill bad" : "";
    $("page-subtitle").textContent = sys.Hostname ? `${sys.Hostname} · serial ${sys.Serial}` : "";

    const st = $("status-meter-state");
    const receiving = m.State === "receiving";
    st.textContent = receiving ? "Receiving" : `No data${m.Reason ? " – " + (REASONS[m.Reason] || m.Reason) : ""}`;
    st.className = `pill ${receiving ? "ok" : "bad"}`;
    text("status-protocol", m.Protocol ? PROTOCOLS[m.Protocol] || m.Protocol : null);
    text("status-meter-version", m.Version);
    text("status-last-telegram", fmtEpoch(m.LastTelegram));
    text("status-telegrams", `${m.TelegramsOk || 0} ok · ${m.TelegramsRejected || 0} rejected`);

    text("status-interface", n.ActiveInterface === "WiFi" ? "Wi-Fi" : n.ActiveInterface);
    const addr = n.Address ? `${n.Address}${n.IpMode ? " (" + n.IpMode + ")" : ""}` : n.AccessPoint ? `access point ${n.AccessPoint}` : null;
    text("status-address", addr);
    text("status-mdns", n.Mdns);
    dot("ind-link", n.Link);
    dot("ind-network", n.Network);
    dot("ind-internet", n.Internet);
    dot("ind-mqtt", n.MQTT, q.Enabled === false);
  }

  async function poll() {
    const r = await api("GET", "/api/v1/status");
    if (r.status === 200) {
      notice(null);
      renderStatus(r.data);
      if (restarting) {
        restarting = false;
        $("restart").disabled = false;
        message("restart-message", "Restarted: the saved settings are in use.", "ok");
        await loadConfig();
      }
    } else if (r.status === 503 || r.status === 0) {
      notice(restarting ? "The Smart Connect is restarting. This page reconnects by itself." : problemText(r), !restarting);
    } else if (r.status === 401 || r.status === 409 || r.status === 429) {
      auth = null;
      sessionStorage.removeItem(KEY);
      showLogin(problemText(r));
    }
  }

  function startPolling() {
    stopPolling();
    pollTimer = setInterval(poll, POLL_MS);
  }

  function stopPolling() {
    if (pollTimer) clearInterval(pollTimer);
    pollTimer = null;
  }

  // ---------- configuration forms (WEB-03..05) ----------
  async function loadConfig() {
    const r = await api("GET", "/api/v1/config");
    if (r.status !== 200) {
      notice(problemText(r), true);
      return;
    }
    config = r.data;
    fillNet(config);
    fillMqtt(config);
  }

  function copyStatic(s) {
    return { IpAddress: s.IpAddress || "", Netmask: s.Netmask || "", Gateway: s.Gateway || "", DNS: s.DNS || "" };
  }

  function fillNet(c) {
    drafts = {
      Ethernet: { IpMode: c.Ethernet.IpMode, StaticIPv4: copyStatic(c.Ethernet.StaticIPv4) },
      WiFi: { IpMode: c.WiFi.IpMode, StaticIPv4: copyStatic(c.WiFi.StaticIPv4) },
    };
    $("wifi-ssid").value = c.WiFi.SSID || "";
    $("wifi-password").value = c.WiFi.Password || "";
    $(c.DefaultNetIf === "WiFi" ? "netif-wifi" : "netif-ethernet").checked = true;
    showIface(c.DefaultNetIf);
  }

  const STATIC_INPUTS = ["static-ip", "static-netmask", "static-gateway", "static-dns"];
  const STATIC_KEYS = ["IpAddress", "Netmask", "Gateway", "DNS"];

  function saveDraft() {
    const d = drafts[iface];
    if (!d) return;
    d.IpMode = $("ipmode-static").checked ? "Static" : "DHCP";
    STATIC_INPUTS.forEach((id, i) => { d.StaticIPv4[STATIC_KEYS[i]] = $(id).value.trim(); });
  }

  function showIface(name) {
    iface = name === "WiFi" ? "WiFi" : "Ethernet";
    const d = drafts[iface];
    $(d.IpMode === "Static" ? "ipmode-static" : "ipmode-dhcp").checked = true;
    STATIC_INPUTS.forEach((id, i) => {
      const el = $(id);
      el.value = d.StaticIPv4[STATIC_KEYS[i]];
      el.dataset.pointer = `/${iface}/${el.dataset.field}`;
    });
    $("ipmode-field").dataset.pointer = `/${iface}/IpMode`;
    $("wifi-fields").classList.toggle("hidden", iface !== "WiFi");
    toggleStatic();
  }

  function toggleStatic() {
    $("static-fields").classList.toggle("hidden", !$("ipmode-static").checked);
  }

  function fillMqtt(c) {
    const m = c.MQTT;
    $(m.Enabled ? "mqtt-enable" : "mqtt-disable").checked = true;
    $("mqtt-broker").value = m.Broker;
    $("mqtt-username").value = m.Username;
    $("mqtt-password").value = m.Password;
    $("mqtt-site").value = m.Site;
    toggleMqtt();
  }

  function toggleMqtt() {
    const on = $("mqtt-enable").checked;
    document.querySelectorAll("#mqtt-fields input").forEach((el) => { el.disabled = !on; });
  }

  function clearErrors(form) {
    form.querySelectorAll(".field-error").forEach((el) => { el.textContent = ""; });
    form.querySelectorAll(".invalid").forEach((el) => {
      el.classList.remove("invalid");
      el.removeAttribute("aria-invalid");
    });
  }

  // Put the API's field error (RFC 9457 problem with a JSON pointer) next to its input.
  function showFieldError(form, pointer, msg) {
    if (pointer === undefined || pointer === null || pointer === "") return false;
    const el = form.querySelector(`[data-pointer="${CSS.escape(pointer)}"]`);
    if (!el) return false;
    const field = el.closest(".field");
    const err = field && field.querySelector(".field-error");
    if (err) err.textContent = msg;
    if (el.tagName === "INPUT") {
      el.classList.add("invalid");
      el.setAttribute("aria-invalid", "true");
      el.focus();
    }
    return true;
  }

  async function submit(form, patch, msgId, okText, after) {
    clearErrors(form);
    message(msgId, "");
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    const r = await api("PATCH", "/api/v1/config", patch);
    button.disabled = false;
    if (r.status === 200) {
      config = r.data;
      after(config);
      message(msgId, okText, "ok");
      return;
    }
    if (r.status === 401 || r.status === 409) {
      auth = null;
      sessionStorage.removeItem(KEY);
      showLogin(problemText(r));
      return;
    }
    const d = r.data || {};
    const detail = (d.errors && d.errors[0] && d.errors[0].detail) || d.message || d.detail;
    if (showFieldError(form, d.pointer, detail)) {
      message(msgId, "Not saved: please correct the field marked in red.", "error");
    } else {
      message(msgId, `Not saved: ${d.detail || problemText(r)}`, "error");
    }
  }

  function saveNetwork(ev) {
    ev.preventDefault();
    saveDraft();
    const d = drafts[iface];
    const part = { IpMode: d.IpMode };
    if (d.IpMode === "Static") part.StaticIPv4 = Object.assign({}, d.StaticIPv4);
    if (iface === "WiFi") {
      part.SSID = $("wifi-ssid").value;
      part.Password = $("wifi-password").value;
    }
    const patch = { DefaultNetIf: iface };
    patch[iface] = part;
    submit($("net-form"), patch, "net-message", "Network settings saved. Restart the device to apply them.", fillNet);
  }

  function saveMqtt(ev) {
    ev.preventDefault();
    const patch = {
      MQTT: {
        Enabled: $("mqtt-enable").checked,
        Broker: $("mqtt-broker").value.trim(),
        Username: $("mqtt-username").value,
        Password: $("mqtt-password").value,
        Site: $("mqtt-site").value.trim() || DEFAULT_SITE,
      },
    };
    submit($("mqtt-form"), patch, "mqtt-message", "MQTT settings saved. Restart the device to apply them.", fillMqtt);
  }

  async function restart() {
    $("restart").disabled = true;
    message("restart-message", "Restarting…");
    const r = await api("POST", "/api/v1/reset");
    if (r.status !== 202) {
      $("restart").disabled = false;
      message("restart-message", problemText(r), "error");
      return;
    }
    restarting = true;
    notice("The Smart Connect is restarting. This page reconnects by itself.");
    stopPolling();
    pollTimer = setInterval(poll, 2000);
    setTimeout(() => { if (!restarting) startPolling(); }, 120000);
  }

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
      auth = encodeAuth("user", $("login-password").value);
      signIn();
    });
    $("logout").addEventListener("click", () => {
      auth = null;
      sessionStorage.removeItem(KEY);
      showLogin("Signed out.");
    });
    document.querySelectorAll('input[name="netif"]').forEach((r) => r.addEventListener("change", () => {
      saveDraft();
      showIface(r.value);
    }));
    document.querySelectorAll('input[name="ipmode"]').forEach((r) => r.addEventListener("change", toggleStatic));
    document.querySelectorAll('input[name="mqtt-enabled"]').forEach((r) => r.addEventListener("change", toggleMqtt));
    $("net-form").addEventListener("submit", saveNetwork);
    $("mqtt-form").addEventListener("submit", saveMqtt);
    $("restart").addEventListener("click", restart);
    if (auth) signIn(); else showLogin("");
  }

  document.addEventListener("DOMContentLoaded", init);
})();

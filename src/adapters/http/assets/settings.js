// Smart Connect web interface, settings (WEB-03..05): the Network and Cloud forms, every
// field error of a 422 (RFC 9457 `errors: [{detail, pointer}]`) next to its field, and the
// saved settings that wait for a restart (status `Config.Pending`, JSON pointers) marked
// "pending restart" until the device has restarted. Uses `window.SC` from app.js.
"use strict";

(() => {
  const SC = window.SC;
  const $ = SC.$;
  const DEFAULT_SITE = "unknown-site";

  let config = null;
  let drafts = {};
  let iface = "Ethernet";
  // The last `Config.Pending` list; null when the server does not send one (older server).
  let pending = null;

  async function loadConfig() {
    const r = await SC.api("GET", "/api/v1/config");
    if (r.status !== 200) {
      SC.notice(SC.problemText(r), true);
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
    markPending();
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

  // ---------- field errors ----------
  function clearErrors(form) {
    form.querySelectorAll(".field-error").forEach((el) => { el.textContent = ""; });
    form.querySelectorAll(".invalid").forEach((el) => {
      el.classList.remove("invalid");
      el.removeAttribute("aria-invalid");
    });
  }

  function fieldOf(form, pointer) {
    if (typeof pointer !== "string" || pointer === "") return null;
    return form.querySelector(`[data-pointer="${CSS.escape(pointer)}"]`);
  }

  // Put one field error next to its input; returns the input, or null when no field of this
  // form has that pointer.
  function markField(form, pointer, msg) {
    const el = fieldOf(form, pointer);
    if (!el) return null;
    const field = el.closest(".field");
    const err = field && field.querySelector(".field-error");
    if (err) err.textContent = err.textContent ? `${err.textContent}; ${msg}` : msg;
    el.classList.add("invalid");
    el.setAttribute("aria-invalid", "true");
    return el;
  }

  // Every error of a problem document: `errors` when it has them, else its own pointer.
  function errorsOf(d) {
    if (Array.isArray(d.errors) && d.errors.length) return d.errors;
    if (typeof d.pointer === "string") return [{ pointer: d.pointer, detail: d.message || d.detail }];
    return [];
  }

  // Mark every field the 422 names; the form message counts them and spells out the errors
  // that have no field on this form.
  function showErrors(form, msgId, r) {
    const d = r.data || {};
    const list = errorsOf(d);
    let first = null, marked = 0;
    const other = [];
    list.forEach((e) => {
      const detail = e.detail || "invalid";
      const el = markField(form, e.pointer, detail);
      if (el) {
        marked += 1;
        first = first || el;
      } else {
        other.push(e.pointer ? `${e.pointer}: ${detail}` : detail);
      }
    });
    if (first && first.focus) first.focus();
    let text;
    if (marked === 1) text = "Not saved: please correct the field marked in red.";
    else if (marked > 1) text = `Not saved: please correct the ${marked} fields marked in red.`;
    else text = `Not saved: ${other.length ? other.join("; ") : d.detail || SC.problemText(r)}`;
    if (marked && other.length) text += ` Also: ${other.join("; ")}`;
    SC.message(msgId, text, "error");
    form.dataset.errors = String(list.length);
  }

  async function submit(form, patch, msgId, okText, after) {
    clearErrors(form);
    SC.message(msgId, "");
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    const r = await SC.api("PATCH", "/api/v1/config", patch);
    button.disabled = false;
    if (r.status === 200) {
      config = r.data;
      after(config);
      form.dataset.errors = "0";
      SC.message(msgId, okText, "ok");
      // The status says which saved settings now wait for a restart.
      await SC.refreshStatus();
      return;
    }
    if (r.status === 401 || r.status === 409) {
      SC.signOut(SC.problemText(r));
      return;
    }
    showErrors(form, msgId, r);
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

  // ---------- pending settings ----------
  const NAMES = {
    MeterType: "register map", DefaultNetIf: "network connection", IpMode: "IP mode",
    IpAddress: "IP address", Netmask: "netmask", Gateway: "gateway", DNS: "DNS server",
    SSID: "network (SSID)", Password: "password", Enabled: "enabled", Broker: "broker URL",
    Username: "username", Site: "site", Ethernet: "Ethernet", WiFi: "Wi-Fi", MQTT: "MQTT",
  };

  // "/Ethernet/StaticIPv4/Gateway" → "Ethernet gateway".
  function describe(pointer) {
    const parts = pointer.split("/").slice(1).filter((p) => p !== "StaticIPv4");
    return parts.map((p) => NAMES[p] || p).join(" ");
  }

  function markPending() {
    document.querySelectorAll(".field.pending").forEach((f) => f.classList.remove("pending"));
    const list = pending || [];
    list.forEach((p) => {
      const el = document.querySelector(`form [data-pointer="${CSS.escape(p)}"]`);
      const field = el && el.closest(".field");
      if (field) field.classList.add("pending");
    });
    const card = $("restart-card");
    card.classList.toggle("has-pending", list.length > 0);
    const summary = $("pending-summary");
    summary.textContent = list.length
      ? `Saved, not yet in use (applies after a restart): ${list.map(describe).join(", ")}.`
      : "";
    summary.classList.toggle("hidden", list.length === 0);
  }

  function onStatus(s) {
    const cfg = s.Config || {};
    if (!Array.isArray(cfg.Pending)) return; // an older server: nothing known
    pending = cfg.Pending.filter((p) => typeof p === "string");
    markPending();
  }

  SC.settings = {
    init() {
      document.querySelectorAll('input[name="netif"]').forEach((r) => r.addEventListener("change", () => {
        saveDraft();
        showIface(r.value);
      }));
      document.querySelectorAll('input[name="ipmode"]').forEach((r) => r.addEventListener("change", toggleStatic));
      document.querySelectorAll('input[name="mqtt-enabled"]').forEach((r) => r.addEventListener("change", toggleMqtt));
      $("net-form").addEventListener("submit", saveNetwork);
      $("mqtt-form").addEventListener("submit", saveMqtt);
      SC.onSignIn.push(loadConfig);
      SC.onStatus.push(onStatus);
    },
    reload: loadConfig,
    pending: () => pending || [],
    describe,
  };
})();

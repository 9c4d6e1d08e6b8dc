// Smart Connect web interface, live parts: the Meter values card (GET /api/v1/meter, the
// register snapshot, polled once a second) and the restart: an in-page confirmation dialog,
// then grey "unknown" indicators while the page polls the status every second; back →
// "Restarted (up N s)"; not back within `SC.restartTimeoutMs` → what happened (the device's
// 503 reason when it gives one) and what to do. Uses `window.SC` from app.js.
"use strict";

(() => {
  const SC = window.SC;
  const $ = SC.$;
  const METER_POLL_MS = 1000;
  const RESTART_POLL_MS = 1000;
  // After the timeout the page keeps looking, slower, and says so if the device comes back.
  const LATE_POLL_MS = 5000;
  SC.restartTimeoutMs = 60000;

  // ---------- meter values ----------
  const DIGITS = { v: 1, a: 2, w: 0 };

  function fmt(key, value) {
    if (typeof value !== "number") return "–";
    const unit = key.slice(key.lastIndexOf("_") + 1);
    const digits = DIGITS[unit] === undefined ? 1 : DIGITS[unit];
    return value.toLocaleString("en-GB", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }

  function renderMeter(v) {
    const none = !(v.telegram_seq > 0);
    document.querySelectorAll("#meter-card [data-key]").forEach((el) => {
      el.textContent = none ? "–" : fmt(el.dataset.key, v[el.dataset.key]);
    });
    const card = $("meter-card");
    card.dataset.seq = String(v.telegram_seq || 0);
    card.classList.remove("stale");
    const at = typeof v.timestamp === "number" ? SC.fmtEpoch(v.timestamp) : null;
    $("meter-footer").textContent = none
      ? "No telegram yet: the registers hold 0."
      : `Telegram ${v.telegram_seq} since start · ${at || "time unknown"}${v.register_map ? " · register map " + v.register_map : ""}`;
  }

  async function pollMeter() {
    if (restart.state === "waiting") return;
    const r = await SC.api("GET", "/api/v1/meter");
    if (r.status === 200) renderMeter(r.data);
    else if (r.status === 404) $("meter-card").classList.add("hidden"); // an older server
    else if (r.status === 401 || r.status === 409 || r.status === 429) SC.signOut(SC.problemText(r));
  }

  // ---------- restart ----------
  const restart = { state: "idle", started: 0, timer: null, lastProblem: null, lastStatus: null };

  function askRestart() {
    const list = SC.settings ? SC.settings.pending() : [];
    $("restart-dialog-pending").textContent = list.length
      ? `It applies the saved settings: ${list.map(SC.settings.describe).join(", ")}.`
      : "No saved settings are waiting; the device restarts with the settings in use.";
    const dlg = $("restart-dialog");
    if (typeof dlg.showModal === "function") dlg.showModal();
    else dlg.setAttribute("open", "");
    document.body.dataset.dialog = "restart";
  }

  function closeDialog() {
    const dlg = $("restart-dialog");
    if (dlg.open && typeof dlg.close === "function") dlg.close();
    else dlg.removeAttribute("open");
    delete document.body.dataset.dialog;
  }

  function setRestartState(state) {
    restart.state = state;
    document.body.dataset.restart = state;
  }

  function stopRestartTimer() {
    if (restart.timer) clearInterval(restart.timer);
    restart.timer = null;
  }

  async function doRestart() {
    closeDialog();
    $("restart").disabled = true;
    SC.message("restart-message", "Restarting…");
    const r = await SC.api("POST", "/api/v1/reset");
    if (r.status !== 202) {
      $("restart").disabled = false;
      SC.message("restart-message", SC.problemText(r), "error");
      if (r.status === 401 || r.status === 409) SC.signOut(SC.problemText(r));
      return;
    }
    SC.stopPolling();
    setRestartState("waiting");
    restart.started = Date.now();
    restart.lastProblem = null;
    restart.lastStatus = null;
    SC.markUnknown();
    SC.notice("The Smart Connect is restarting. This page reconnects by itself.");
    restart.timer = setInterval(waitForDevice, RESTART_POLL_MS);
  }

  function elapsedS() {
    return Math.round((Date.now() - restart.started) / 1000);
  }

  async function waitForDevice() {
    if (restart.busy) return;
    restart.busy = true;
    try {
      const r = await SC.api("GET", "/api/v1/status");
      if (restart.state !== "waiting" && restart.state !== "late") return;
      if (r.status === 200) return back(r.data);
      if (r.status === 401 || r.status === 409 || r.status === 429) {
        stopRestartTimer();
        setRestartState("idle");
        $("restart").disabled = false;
        return SC.signOut(SC.problemText(r));
      }
      restart.lastStatus = r.status;
      const d = r.data || {};
      if (r.status === 503 && d.detail) restart.lastProblem = d.detail;
      if (restart.state === "waiting") {
        if (Date.now() - restart.started >= SC.restartTimeoutMs) return late();
        SC.message("restart-message", `Restarting… waiting for the Smart Connect (${elapsedS()} s)`);
      }
    } finally {
      restart.busy = false;
    }
  }

  function back(status) {
    stopRestartTimer();
    const wasLate = restart.state === "late";
    setRestartState("done");
    $("restart").disabled = false;
    SC.notice(null);
    SC.renderStatus(status);
    const up = status.System && typeof status.System.UptimeS === "number" ? status.System.UptimeS : null;
    const upText = up === null ? "" : ` (up ${up} s)`;
    SC.message("restart-message", wasLate
      ? `Restarted${upText}, later than expected (${elapsedS()} s).`
      : `Restarted${upText}: the saved settings are in use.`, "ok");
    if (SC.settings) SC.settings.reload();
    SC.startPolling();
  }

  // Not back in time: say what is known and what to do; keep looking, slower.
  function late() {
    stopRestartTimer();
    setRestartState("late");
    $("restart").disabled = false;
    const secs = Math.round(SC.restartTimeoutMs / 1000);
    let why;
    if (restart.lastProblem) why = `It answers that it is not serving: “${restart.lastProblem}”.`;
    else if (restart.lastStatus === 0 || restart.lastStatus === null) why = "It does not answer at all: it may have no network address, or a different one than before.";
    else why = `It answers ${restart.lastStatus}.`;
    const todo = "What to do: check the LED, the network cable or the Wi-Fi network, and the device's address in your router. If the saved network settings cannot work, hold the button for more than 10 seconds to restore the factory settings (DHCP on Ethernet), then configure it again.";
    SC.message("restart-message", `The Smart Connect did not come back within ${secs} s. ${why} ${todo}`, "error");
    SC.notice(`The Smart Connect did not come back after the restart. ${why}`, true);
    restart.timer = setInterval(waitForDevice, LATE_POLL_MS);
  }

  SC.live = {
    init() {
      SC.pollers.push({ fn: pollMeter, ms: METER_POLL_MS, now: true });
      $("restart").addEventListener("click", askRestart);
      $("restart-cancel").addEventListener("click", () => {
        closeDialog();
        SC.message("restart-message", "Restart cancelled.");
      });
      $("restart-confirm").addEventListener("click", doRestart);
      $("restart-dialog").addEventListener("cancel", () => { delete document.body.dataset.dialog; });
      SC.onSignOut.push(() => {
        stopRestartTimer();
        closeDialog();
        setRestartState("idle");
        $("restart").disabled = false;
      });
    },
  };
})();

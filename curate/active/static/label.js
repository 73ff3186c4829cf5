// curate label serve: keys and buttons send the answer, the server sends back the next row and the panel.
(() => {
  "use strict";
  const body = document.body;
  const csrf = body.dataset.csrf;
  const tab = body.dataset.tab;
  if (!csrf || !tab) return; // the name form and the status page need no script
  const keys = JSON.parse(body.dataset.keys || "{}");
  const heartbeat = 1000 * Number(body.dataset.heartbeat || 15);
  let sent = 0; // number of the newest request: only its answer is shown
  let inFlight = false; // an answer is on its way: keys wait for the next row, they are not queued
  let timer = null;

  const item = () => document.getElementById("item");
  const shownRow = () => item().dataset.row || null;

  function show(answer) {
    item().outerHTML = answer.item;
    document.getElementById("panel").innerHTML = answer.panel;
  }

  function problem(text) {
    let note = item().querySelector(".message");
    if (!note) {
      note = document.createElement("p");
      note.className = "message";
      note.setAttribute("role", "status");
      item().prepend(note);
    }
    note.textContent = text;
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(() => send("view", {}, false), item().dataset.waiting === "1" ? 400 : heartbeat);
  }

  async function send(action, extra, fromUser = true) {
    if (fromUser && inFlight) return;
    const mine = ++sent;
    if (fromUser) inFlight = true;
    try {
      const response = await fetch("/api/" + action, {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
        body: JSON.stringify({tab, row: shownRow(), ...extra}),
      });
      const answer = await response.json().catch(() => ({error: "the server answered " + response.status}));
      if (mine !== sent) return;
      if (!response.ok) {
        problem(answer.error || "the server answered " + response.status);
        if (response.status === 409) location.reload();
        return;
      }
      show(answer);
    } catch (error) {
      if (mine === sent) problem("the server cannot be reached; your labels so far are saved. Retrying…");
    } finally {
      if (fromUser) inFlight = false;
      if (mine === sent) schedule();
    }
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    if (event.target.closest("input, textarea, select")) return;
    const key = event.key.toLowerCase();
    if (key in keys) {
      if (shownRow()) send("label", {label: keys[key]});
    } else if (key === "s") {
      if (shownRow()) send("skip", {});
    } else if (key === "u") {
      send("undo", {});
    } else {
      return;
    }
    event.preventDefault();
  });

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const extra = button.dataset.label === undefined ? {} : {label: Number(button.dataset.label)};
    send(button.dataset.action, extra);
  });

  window.addEventListener("pagehide", () => {
    const data = new Blob([JSON.stringify({tab, csrf})], {type: "text/plain"});
    navigator.sendBeacon("/api/close", data);
  });
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) send("view", {}, false);
  });
  schedule();
})();

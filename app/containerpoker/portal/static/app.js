// containerpoker portal: small vanilla JS. Every text from the server is put in
// the page with textContent (never innerHTML), so names, files and log lines
// are shown, not run. Writes send the CSRF cookie's value in X-CSRF-TOKEN.
"use strict";

function cookie(name) {
  const found = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
}

async function api(method, url, body) {
  const headers = { "X-CSRF-TOKEN": cookie("csrf_access_token") };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = {};
  try { data = await response.json(); } catch (e) { data = {}; }
  if (!response.ok) {
    if (response.status === 401 && !url.startsWith("/api/auth/")) {
      location.href = "/login?next=" + encodeURIComponent(location.pathname);
    }
    const error = new Error(data.detail || ("The request failed (" + response.status + ")."));
    error.status = response.status;
    throw error;
  }
  return data;
}

function flash(message, kind) {
  const box = document.getElementById("flash");
  box.textContent = message;
  box.className = "flash " + (kind || "ok");
  box.hidden = false;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => { box.hidden = true; }, 8000);
}

function flashAfterReload(message) { sessionStorage.setItem("flash", message); location.reload(); }

function formError(form, message) {
  const p = form.querySelector(".form-error");
  if (!p) return flash(message, "error");
  p.textContent = message;
  p.hidden = !message;
}

function el(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  return node;
}

function uptime(started) {
  if (!started) return "—";
  let s = Math.max(0, Math.floor(Date.now() / 1000 - Number(started)));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + s + "s";
}

function clock(ts) { return new Date(Number(ts) * 1000).toLocaleTimeString(); }

// When the platform will release a container: a countdown, and which clock ends first.
function expiresIn(ts, reason) {
  if (!ts) return "never";
  const left = Math.floor(Number(ts) - Date.now() / 1000);
  if (left <= 0) return "now";
  const h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
  return "in " + (h ? h + "h " : "") + (h || m ? m + "m " : "") + s + "s" + (reason === "idle" ? " if idle" : "");
}

function tickUptimes() {
  document.querySelectorAll(".uptime").forEach((td) => { td.textContent = uptime(td.dataset.started); });
  document.querySelectorAll(".expires").forEach((td) => { td.textContent = expiresIn(td.dataset.expires, td.dataset.reason); });
  document.querySelectorAll("time[data-ts]").forEach((t) => { t.textContent = clock(t.dataset.ts); });
}

// The renew button, on the dashboard and the containers page.
function setupRenew(after) {
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button.renew");
    if (!button) return;
    button.disabled = true;
    try {
      const data = await api("POST", `/api/containers/${encodeURIComponent(button.dataset.name)}/renew`);
      const c = data.container;
      flash(`Renewed: it now ends ${expiresIn(c.expires_at, c.expires_reason)} (${c.renewals_left} renewal(s) left).`);
      const cell = button.closest("tr").querySelector(".expires");
      if (cell) { cell.dataset.expires = c.expires_at || ""; cell.dataset.reason = c.expires_reason; }
      button.disabled = !c.renewals_left;
      if (after) after();
    } catch (e) { flash(e.message, "error"); button.disabled = false; }
  });
}

// -- log in, register, log out ----------------------------------------------------

function setupAuth() {
  const login = document.getElementById("login-form");
  if (login) login.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = new FormData(login);
    try {
      await api("POST", "/api/auth/login", { username: f.get("username"), password: f.get("password") });
      location.href = login.dataset.next || "/dashboard";
    } catch (e) { formError(login, e.message); }
  });
  const register = document.getElementById("register-form");
  if (register) register.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = new FormData(register);
    const body = { username: f.get("username"), email: f.get("email"), password: f.get("password") };
    try {
      await api("POST", "/api/auth/register", body);
      await api("POST", "/api/auth/login", { username: body.username, password: body.password });
      location.href = "/dashboard";
    } catch (e) { formError(register, e.message); }
  });
  const logout = document.getElementById("logout");
  if (logout) logout.addEventListener("click", async () => {
    try { await api("POST", "/api/auth/logout"); } catch (e) { /* already logged out */ }
    location.href = "/login";
  });
}

// -- dashboard ---------------------------------------------------------------------

function renderState(state) {
  if (state.error) return flash("Live updates paused: " + state.error, "error");
  for (const pool of state.pools || []) {
    const badge = document.querySelector(`[data-ready="${CSS.escape(pool.runtime)}"]`);
    if (badge) badge.textContent = pool.ready + " ready";
  }
  const poolBody = document.querySelector("#pool-table tbody");
  if (poolBody) {
    poolBody.replaceChildren(...(state.pools || []).map((p) => {
      const tr = el("tr");
      [p.runtime, p.ready, p.warming, p.assigned, p.warm_target].forEach((v) => tr.append(el("td", v)));
      return tr;
    }));
  }
  const mine = document.querySelector("#my-containers tbody");
  if (mine) {
    const rows = (state.containers || []).map((c) => {
      const tr = el("tr", null, { "data-name": c.name });
      tr.append(el("td", c.runtime));
      const link = el("a", c.url, { href: c.url, target: "_blank", rel: "noopener noreferrer" });
      const td = el("td"); td.append(link); tr.append(td);
      tr.append(el("td", c.host_port, { class: "figure" }), el("td", c.status_text));
      tr.append(el("td", uptime(c.started_at), { class: "uptime", "data-started": c.started_at || "" }));
      tr.append(el("td", expiresIn(c.expires_at, c.expires_reason),
        { class: "expires", "data-expires": c.expires_at || "", "data-reason": c.expires_reason }));
      const act = el("td", null, { class: "actions" });
      const renew = el("button", "Renew", { type: "button", class: "renew", "data-name": c.name });
      renew.disabled = !c.renewals_left;
      act.append(renew, document.createTextNode(" "), el("button", "Release", { type: "button", class: "release", "data-name": c.name }));
      tr.append(act);
      return tr;
    });
    if (!rows.length) {
      const tr = el("tr", null, { class: "empty" }); tr.append(el("td", "None yet: launch one above.", { colspan: "7" }));
      rows.push(tr);
    }
    tellExpired(state);
    mine.replaceChildren(...rows);
    const select = document.getElementById("upload-target");
    const chosen = select.value;
    select.replaceChildren(...(state.containers || []).map((c) => el("option", c.runtime + " · " + c.name, { value: c.name })));
    if (chosen) select.value = chosen;
  }
  const list = document.getElementById("activity");
  if (list && state.activity) {
    list.replaceChildren(...state.activity.map((e) => {
      const li = el("li");
      li.append(el("time", clock(e.ts), { "data-ts": e.ts }));
      li.append(document.createTextNode(" " + [e.kind, e.container || "", e.detail || ""].join(" ")));
      return li;
    }));
  }
  const load = document.getElementById("host-load");
  if (load && state.host) load.textContent = "Host load " + state.host.load.join(" / ") + " on " + state.host.cpus + " CPUs";
}

// A container of mine that went since the last update: if the platform released it because a
// clock ran out, say so (the activity has an "expired" event with the reason).
// One that moved to another node (its node went down, or was drained) has a new address.
const shown = new Map();
function tellExpired(state) {
  const now = new Map((state.containers || []).map((c) => [c.name, c.url]));
  for (const [name, url] of shown) {
    if (now.has(name)) {
      if (url && now.get(name) !== url) flash(`Your container ${name} moved to ${now.get(name)} (its node is being serviced); your files came along.`);
      continue;
    }
    const event = (state.activity || []).find((e) => e.kind === "expired" && e.container === name);
    if (event) flash(`Your ${event.runtime} container ${name} expired (${event.detail}) and was released, with its files.`, "error");
  }
  shown.clear();
  now.forEach((url, name) => shown.set(name, url));
}

function setupDashboard() {
  document.querySelectorAll("#my-containers tr[data-name]").forEach((tr) => shown.set(tr.dataset.name, tr.querySelector("a") ? tr.querySelector("a").href : ""));
  setupRenew();
  document.querySelectorAll("button.launch").forEach((button) => button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const data = await api("POST", "/api/containers/spawn", { runtime: button.dataset.runtime });
      flash(`Your ${data.container.runtime} container is at ${data.container.url}`);
      renderState(await api("GET", "/api/status").then(async (s) => ({ ...s, containers: (await api("GET", "/api/containers")).containers })));
    } catch (e) { flash(e.message, "error"); }
    button.disabled = false;
  }));
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button.release");
    if (!button) return;
    button.disabled = true;
    try {
      await api("POST", `/api/containers/${encodeURIComponent(button.dataset.name)}/action`, { action: "release" });
      flash("Released: the container and its files are gone.");
      button.closest("tr").remove();
    } catch (e) { flash(e.message, "error"); button.disabled = false; }
  });
  const form = document.getElementById("upload-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const target = form.querySelector("select").value;
    if (!target) return formError(form, "Launch a container first, then upload into it.");
    const data = new FormData();
    for (const file of form.querySelector("input[type=file]").files) data.append("file", file);
    const bar = document.getElementById("upload-progress");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/containers/${encodeURIComponent(target)}/files`);
    xhr.setRequestHeader("X-CSRF-TOKEN", cookie("csrf_access_token"));
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total); };
    xhr.onload = () => {
      bar.hidden = true;
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
      if (xhr.status >= 200 && xhr.status < 300) {
        formError(form, "");
        const files = body.uploads.flatMap((u) => u.files);
        flash(`Uploaded ${files.length} file(s): ${files.slice(0, 5).join(", ")}`);
        form.reset();
      } else {
        formError(form, body.detail || `The upload failed (${xhr.status}).`);
      }
    };
    xhr.onerror = () => { bar.hidden = true; formError(form, "The upload was interrupted: check the size limit and try again."); };
    bar.value = 0; bar.hidden = false;
    xhr.send(data);
  });
  const source = new EventSource("/api/stream");
  source.addEventListener("state", (e) => renderState(JSON.parse(e.data)));
}

// -- containers page ---------------------------------------------------------------

function setupSortable(table) {
  table.querySelectorAll("th[data-sort]").forEach((th, index) => th.addEventListener("click", () => {
    const body = table.tBodies[0];
    const dir = th.dataset.dir === "asc" ? -1 : 1;
    table.querySelectorAll("th").forEach((h) => { delete h.dataset.dir; h.removeAttribute("aria-sort"); });
    th.dataset.dir = dir === 1 ? "asc" : "desc";
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    const rows = [...body.rows].filter((r) => !r.classList.contains("empty"));
    const key = (row) => {
      const cell = row.cells[index];
      return th.dataset.sort === "number" ? -Number(cell.dataset.value || 0) : cell.textContent.trim().toLowerCase();
    };
    rows.sort((a, b) => (key(a) > key(b) ? dir : key(a) < key(b) ? -dir : 0));
    body.append(...rows);
  }));
}

let logSource = null;

function showLogs(name) {
  const panel = document.getElementById("log-panel");
  const lines = document.getElementById("log-lines");
  panel.hidden = false;
  document.getElementById("log-name").textContent = name;
  lines.textContent = "";
  if (logSource) logSource.close();
  logSource = new EventSource(`/api/containers/${encodeURIComponent(name)}/logs`);
  const state = document.getElementById("log-state");
  logSource.onopen = () => { state.textContent = "(live)"; };
  logSource.onerror = () => { state.textContent = "(reconnecting…)"; };
  logSource.addEventListener("log", (e) => {
    for (const entry of JSON.parse(e.data)) lines.append(document.createTextNode(entry.line + "\n"));
    while (lines.childNodes.length > 2000) lines.removeChild(lines.firstChild);
    lines.scrollTop = lines.scrollHeight;
  });
}

let statsLoading = false;

// One request for every row (the server asks Docker in parallel), then again every 5 s.
async function loadStats() {
  const cells = [...document.querySelectorAll("td[data-stats]")];
  if (!cells.length || statsLoading) return;
  statsLoading = true;
  try {
    const { stats } = await api("GET", "/api/containers/stats?all=1");
    const byName = new Map(stats.map((s) => [s.container, s]));
    for (const cell of cells) {
      const s = byName.get(cell.dataset.stats);
      const mem = cell.nextElementSibling;
      if (!s) { cell.textContent = "—"; mem.textContent = "—"; continue; }  // not running
      cell.textContent = s.cpu_percent === null ? "—" : s.cpu_percent.toFixed(1) + " %";
      mem.textContent = s.memory_bytes === null ? "—" : formatMemory(s.memory_bytes, s.memory_limit);
    }
  } catch (e) {
    for (const cell of cells) if (cell.textContent === "…") cell.textContent = "—";
  } finally { statsLoading = false; }
}

function formatMemory(used, limit) {
  const mb = (bytes) => bytes / 1048576;
  const shown = mb(used) < 10 ? mb(used).toFixed(1) : mb(used).toFixed(0);
  return limit ? `${shown} / ${mb(limit).toFixed(0)} MB` : `${shown} MB`;
}

function setupContainers() {
  setupSortable(document.getElementById("container-table"));
  setupRenew();
  document.addEventListener("click", async (event) => {
    const logs = event.target.closest("button.show-logs");
    if (logs) return showLogs(logs.dataset.name);
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const { action, name } = button.dataset;
    if (action === "remove" && !confirm(`Remove ${name}? Its files are deleted.`)) return;
    button.disabled = true;
    try {
      await api("POST", `/api/containers/${encodeURIComponent(name)}/action`, { action });
      flashAfterReload(`${action}: done for ${name}.`);
    } catch (e) { flash(e.message, "error"); button.disabled = false; }
  });
  loadStats();
  setInterval(loadStats, 5000);
}

// -- admin ---------------------------------------------------------------------------

function setupAdmin() {
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-node-action]");
    if (!button) return;
    const { nodeAction, node } = button.dataset;
    if (nodeAction === "drain" && !confirm(`Drain ${node}? Its containers move, with their files, to other nodes.`)) return;
    button.disabled = true;
    try {
      const done = await api("POST", `/api/admin/nodes/${encodeURIComponent(node)}`, { action: nodeAction });
      flashAfterReload(done.actions.join("; ") || `${node}: nothing to do.`);
    } catch (e) { flash(e.message, "error"); button.disabled = false; }
  });
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-user-action]");
    if (!button) return;
    const { userAction, user } = button.dataset;
    if (userAction === "delete" && !confirm(`Delete ${user} and release their containers?`)) return;
    const url = `/api/admin/users/${encodeURIComponent(user)}` + (userAction === "delete" ? "" : "/" + userAction);
    try {
      await api(userAction === "delete" ? "DELETE" : "POST", url);
      flashAfterReload(`${userAction}: done for ${user}.`);
    } catch (e) { flash(e.message, "error"); }
  });
  const create = document.getElementById("create-user-form");
  create.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = new FormData(create);
    try {
      await api("POST", "/api/admin/users", {
        username: f.get("username"), email: f.get("email"), password: f.get("password"), admin: f.get("admin") === "on",
      });
      flashAfterReload(`Created ${f.get("username")}.`);
    } catch (e) { formError(create, e.message); }
  });
  document.querySelectorAll("form.pool-form").forEach((form) => form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const action = event.submitter ? event.submitter.value : "resize";
    const count = Number(new FormData(form).get("count"));
    if (action === "reinit" && !confirm(`Replace every ${form.dataset.runtime} container with a fresh one?`)) return;
    form.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    try {
      await api("POST", `/api/admin/pools/${encodeURIComponent(form.dataset.runtime)}`, { action, count });
      flashAfterReload(`${form.dataset.runtime}: ${action} done.`);
    } catch (e) {
      flash(e.message, "error");
      form.querySelectorAll("button").forEach((b) => { b.disabled = false; });
    }
  }));
}

// -- lessons ---------------------------------------------------------------------------

function renderStep(list, step) {
  const li = el("li", null, { class: step.ok ? "step" : "step failed" });
  li.append(el("strong", step.title), el("p", step.idea));
  if (step.call) li.append(el("code", "$ " + step.call));
  if (step.result) li.append(el("pre", step.result, { class: "result" }));
  list.append(li);
}

async function runLesson(form) {
  const list = document.querySelector(`[data-steps="${form.dataset.lesson}"]`);
  const button = form.querySelector("button[type=submit]");
  const params = {};
  for (const [key, value] of new FormData(form).entries()) params[key] = value;
  list.replaceChildren();
  button.disabled = true;
  try {
    const response = await fetch(`/api/lessons/${form.dataset.lesson}`, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "text/event-stream",
                 "X-CSRF-TOKEN": cookie("csrf_access_token") },
      body: JSON.stringify({ params }),
    });
    if (!response.ok) {
      let body = {};
      try { body = await response.json(); } catch (e) { body = {}; }
      throw new Error(body.detail || `The lesson could not start (${response.status}).`);
    }
    // Server-sent events over a POST: read the stream and split it into events.
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
        const name = (block.match(/^event: (.*)$/m) || [])[1];
        const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
        if (!name || !data) continue;
        const payload = JSON.parse(data);
        if (name === "step") renderStep(list, payload);
        if (name === "done") {
          if (payload.ok) flash(`Lesson ${form.dataset.lesson} finished: everything it made is removed.`);
          else flash(payload.detail, "error");
        }
      }
    }
  } catch (e) { flash(e.message, "error"); }
  button.disabled = false;
}

function setupLessons() {
  document.querySelectorAll("form.lesson-form").forEach((form) => form.addEventListener("submit", (event) => {
    event.preventDefault();
    runLesson(form);
  }));
}

// -- the lesson terminal (xterm.js over a WebSocket) --------------------------------

function setupTerminal(connected, ended) {
  const box = document.getElementById("terminal");
  if (!box || !window.Terminal) return null;
  const state = document.getElementById("terminal-state");
  const term = new window.Terminal({ cols: 100, rows: 24, convertEol: false, cursorBlink: true });
  term.open(box);
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + location.host + box.dataset.socket);
  socket.onopen = () => {
    state.textContent = connected || "Connected: a fresh container is yours until you exit or leave the page.";
    socket.send("\u0000" + JSON.stringify({ cols: term.cols, rows: term.rows }));
    term.focus();
  };
  socket.onmessage = (event) => term.write(event.data);
  socket.onclose = (event) => {
    state.textContent = "Session ended" + (event.reason ? ": " + event.reason : ".") + (ended || " The container is removed.");
  };
  term.onData((data) => { if (socket.readyState === WebSocket.OPEN) socket.send(data); });
  window.addEventListener("pagehide", () => socket.close());
  return socket;
}

// -- a lesson's challenge: live checks and a terminal on the learner's own engine ------

function renderChecks(result) {
  const state = document.getElementById("challenge-state");
  if (result.error) { state.textContent = "The checks could not run: " + result.error; return; }
  let passed = 0;
  for (const check of result.checks) {
    const li = document.querySelector(`#checks [data-check="${check.index}"]`);
    if (!li) continue;
    if (check.passed) passed += 1;
    li.className = "check " + check.state;
    li.querySelector(".state").textContent = check.state;
    li.querySelector(".check-hint").hidden = check.passed;
    const output = li.querySelector(".check-output");
    output.textContent = check.output ? "saw: " + check.output : "";
    output.hidden = check.passed || !check.output;
  }
  state.textContent = result.passed
    ? "Every check passes: challenge passed!"
    : `${passed} of ${result.checks.length} checks pass.`;
  state.className = result.passed ? "hint passed" : "hint";
}

async function setupChallenge() {
  const box = document.getElementById("challenge");
  if (!box || box.dataset.enabled !== "yes") return;
  const lesson = box.dataset.lesson;
  const termState = document.getElementById("terminal-state");
  try {
    renderChecks(await api("POST", `/api/lessons/${lesson}/challenge`));
  } catch (e) { termState.textContent = e.message; return; }
  const source = new EventSource(`/api/lessons/${lesson}/challenge`);
  source.addEventListener("checks", (event) => renderChecks(JSON.parse(event.data)));
  const socket = setupTerminal(
    "Connected to your own Docker engine: try `docker ps`.",
    " Your engine stays a few minutes, with what you made in it: reload the page to go on.",
  );
  document.getElementById("leave-engine").addEventListener("click", async () => {
    source.close();
    if (socket) socket.close();
    try {
      await api("DELETE", "/api/lessons/challenge/engine");
      termState.textContent = "Your engine is removed. Reload the page for a fresh one.";
    } catch (e) { flash(e.message, "error"); }
  });
  window.addEventListener("pagehide", () => source.close());
}

// -- editing a lesson (development mode) -------------------------------------------------

function setupEditor() {
  setupLessons();  // the Run button
  const box = document.getElementById("editor");
  if (!box || box.dataset.allowed !== "yes") return;
  const lesson = box.dataset.lesson;
  const area = document.getElementById("source");
  const state = document.getElementById("editor-state");
  const editor = window.CodeMirror
    ? window.CodeMirror.fromTextArea(area, { mode: "python", lineNumbers: true, indentUnit: 4 })
    : null;
  let marked = null;
  const unmark = () => {
    if (editor && marked !== null) editor.removeLineClass(marked, "background", "error-line");
    marked = null;
  };
  document.getElementById("save-source").addEventListener("click", async () => {
    unmark();
    try {
      await api("PUT", `/api/lessons/${lesson}/source`, { source: editor ? editor.getValue() : area.value });
      state.textContent = "Saved: the next run uses it.";
      state.className = "hint passed";
    } catch (e) {
      state.textContent = e.message;
      state.className = "form-error";
      const line = (e.message.match(/^Line (\d+):/) || [])[1];
      if (editor && line) {
        marked = Number(line) - 1;
        editor.addLineClass(marked, "background", "error-line");
        editor.scrollIntoView({ line: marked, ch: 0 });
      }
    }
  });
  document.getElementById("restore-source").addEventListener("click", async () => {
    try {
      const done = await api("DELETE", `/api/lessons/${lesson}/source`);
      flashAfterReload(done.restored ? "The shipped version is back." : "This lesson was not edited.");
    } catch (e) { flash(e.message, "error"); }
  });
}

function showTimes() {
  document.querySelectorAll("[data-ts]").forEach((node) => {
    const ts = Number(node.dataset.ts);
    node.textContent = ts ? new Date(ts * 1000).toLocaleString() : "—";
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const saved = sessionStorage.getItem("flash");
  if (saved) { sessionStorage.removeItem("flash"); flash(saved); }
  setupAuth();
  const page = document.body.dataset.page;
  if (page === "dashboard") setupDashboard();
  if (page === "containers") setupContainers();
  if (page === "admin") setupAdmin();
  if (page === "lessons") setupLessons();
  if (page === "terminal") window.addEventListener("load", () => setupTerminal());
  if (page === "challenge") window.addEventListener("load", setupChallenge);
  if (page === "editor") window.addEventListener("load", setupEditor);
  showTimes();
  tickUptimes();
  setInterval(tickUptimes, 1000);
});

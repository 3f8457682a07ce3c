// The dashboard page: the runs list and one run's task tree, kept live by server-sent events.
// Text from tasks (names, inputs, results, logs, tracebacks) only ever goes in as textContent.
"use strict";

const ENDED = new Set(["done", "fail", "stop"]);
const LIVE = new Set(["pending", "running"]);
const SHOWN_CHILDREN = 100;      // children listed before "Show all"
const EXPAND_UP_TO = 20;         // a node with more children starts collapsed (counts only)
const LOG_LIMIT = 10000;         // lines kept per task

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
};

const state = {
  runs: [], engines: [], selectedRun: null, selectedTask: null,
  run: null,            // {id, tasks: Map, children: Map, ended}
  stream: null, expanded: new Set(), collapsed: new Set(), showAll: new Set(), renderQueued: false,
};

function duration(seconds) {
  if (seconds == null || !isFinite(seconds)) return "";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60), s = Math.floor(seconds % 60);
  if (m < 60) return `${m}m ${s}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}
const when = (ts) => (ts ? new Date(ts * 1000).toLocaleString() : "");
const now = () => Date.now() / 1000;

function notice(text) { $("notice").textContent = text || ""; }

// --- the runs list -----------------------------------------------------------------------
function showRuns(snapshot) {
  state.runs = snapshot.runs;
  state.engines = snapshot.engines;
  $("project").textContent = snapshot.project;
  const down = snapshot.engines.filter((e) => e.ok === false);
  notice(down.map((e) => `${e.name}: not reachable (${e.message}); showing records only`).join(" · "));
  const body = $("runs").tBodies[0];
  body.replaceChildren(...snapshot.runs.map((run) => {
    const row = el("tr", {tabindex: "0", "data-run": run.id, "aria-selected": String(run.id === state.selectedRun),
                          onclick: () => selectRun(run.id),
                          onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); selectRun(run.id); } }},
      el("td", {text: run.id}), el("td", {text: run.task}),
      el("td", {class: `status ${run.status}`, text: run.status}), el("td", {text: run.engine}),
      el("td", {text: duration((run.ended || (LIVE.has(run.status) ? now() : run.started)) - run.started)}));
    return row;
  }));
  $("no-runs").hidden = snapshot.runs.length > 0;
  if (state.selectedRun) showRunHead();
}

// --- one run -----------------------------------------------------------------------------
function selectRun(runId, taskId = null) {
  if (state.stream) state.stream.close();
  state.selectedRun = runId;
  state.selectedTask = taskId || runId;
  state.run = {id: runId, tasks: new Map(), children: new Map(), ended: false};
  state.expanded.clear(); state.collapsed.clear(); state.showAll.clear();
  for (const row of $("runs").tBodies[0].rows) row.setAttribute("aria-selected", String(row.dataset.run === runId));
  $("run-empty").hidden = true;
  $("run-view").hidden = false;
  history.replaceState(null, "", `#run=${encodeURIComponent(runId)}`);
  showRunHead();
  connectRun(runId);
  scheduleRender();
}

function connectRun(runId) {
  const stream = new EventSource(`/api/runs/${encodeURIComponent(runId)}/events`);
  state.stream = stream;
  stream.addEventListener("events", (message) => {
    if (state.run.id !== runId) return;
    for (const event of JSON.parse(message.data)) apply(event);
    scheduleRender();
  });
  stream.addEventListener("end", (message) => {
    stream.close();
    const info = JSON.parse(message.data);
    const listed = state.runs.find((r) => r.id === runId);
    if (state.run.tasks.size === 0 && listed && listed.live) {  // not on its engine yet: look again
      setTimeout(() => { if (state.run.id === runId) connectRun(runId); }, 1000);
      return;
    }
    state.run.ended = true;
    if (info.error) notice(`the run's stream ended early: ${info.error}`);
    scheduleRender();
  });
  stream.onerror = () => {
    if (stream.readyState === EventSource.CLOSED || !state.run.ended) {
      stream.close();
      if (!state.run.ended) notice("lost the run's stream: the dashboard is not answering");
    }
  };
}

function task(id) {
  let found = state.run.tasks.get(id);
  if (!found) {
    found = {id, name: "", parent: null, status: "wait", started: null, ended: null, inputs: undefined,
             result: undefined, error: null, image: "", resources: null, logs: [], notebook: false};
    state.run.tasks.set(id, found);
  }
  return found;
}

function apply(event) {
  if (!event.id) return;
  const t = task(event.id);
  const ts = event.ts || now();
  switch (event.type) {
    case "init":
      t.name = event.name || t.name;
      if (event.parent && t.parent == null) {
        t.parent = event.parent;
        if (!state.run.children.has(event.parent)) state.run.children.set(event.parent, []);
        state.run.children.get(event.parent).push(t.id);
      }
      if (!event.queued || t.started == null) t.started = ts;
      t.inputs = event.inputs; t.image = event.image || t.image; t.resources = event.resources || t.resources;
      if (/notebook/i.test(t.name)) t.notebook = true;
      break;
    case "status":
      t.status = event.status;
      if (ENDED.has(t.status)) t.ended = t.ended || ts;
      break;
    case "return":
      t.result = event.result; t.status = "done"; t.ended = t.ended || ts;
      break;
    case "fail":
      t.error = event.error || {}; t.status = "fail"; t.ended = t.ended || ts;
      break;
    case "log":
      t.logs.push(event.line);
      if (t.logs.length > LOG_LIMIT) t.logs.splice(0, t.logs.length - LOG_LIMIT);
      if (t.id === state.selectedTask) appendLog(event.line);
      break;
    case "artifact":
      if (event.name === "notebook") t.notebook = true;
      break;
  }
}

function showRunHead() {
  const run = state.runs.find((r) => r.id === state.selectedRun);
  $("run-title").textContent = state.selectedRun;
  const status = run ? run.status : "";
  $("run-status").textContent = status;
  $("run-status").className = `status ${status}`;
  $("run-meta").textContent = run ? `${run.task} · ${run.engine} · started ${when(run.started)}` : "";
  $("kill-run").hidden = !(run && run.live);
}

function scheduleRender() {
  if (state.renderQueued) return;
  state.renderQueued = true;
  setTimeout(() => { state.renderQueued = false; render(); }, 150);
}

function render() {
  if (!state.run) return;
  const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.task : null;
  const root = state.run.tasks.get(state.run.id);
  const counts = {};
  for (const t of state.run.tasks.values()) counts[t.status] = (counts[t.status] || 0) + 1;
  $("counts").textContent = `${state.run.tasks.size} tasks: ` +
    Object.entries(counts).map(([status, n]) => `${n} ${status}`).join(" · ");
  $("tree").replaceChildren(...(root ? [treeItem(root, 1)] : []));
  if (focused) {
    const again = document.querySelector(`button.task[data-task="${CSS.escape(focused)}"]`);
    if (again) again.focus();
  }
  showTask();
}

function childrenOf(id) { return (state.run.children.get(id) || []).map((c) => state.run.tasks.get(c)); }

function isExpanded(t, count) {
  if (state.expanded.has(t.id)) return true;
  if (state.collapsed.has(t.id)) return false;
  return count <= EXPAND_UP_TO;
}

function treeItem(t, level) {
  const kids = childrenOf(t.id);
  const open = kids.length > 0 && isExpanded(t, kids.length);
  const item = el("li", {role: "treeitem", "aria-level": String(level)});
  if (kids.length) item.setAttribute("aria-expanded", String(open));
  const toggle = kids.length
    ? el("button", {type: "button", class: "toggle", "aria-label": `${open ? "Collapse" : "Expand"} ${t.name || t.id}`,
                    text: open ? "▾" : "▸", onclick: () => {
                      if (open) { state.expanded.delete(t.id); state.collapsed.add(t.id); }
                      else { state.collapsed.delete(t.id); state.expanded.add(t.id); }
                      render();
                    }})
    : el("span", {class: "toggle", "aria-hidden": "true"});
  const end = t.ended || (ENDED.has(t.status) ? t.started : now());
  const button = el("button", {type: "button", class: "task", "data-task": t.id,
                               "aria-current": String(t.id === state.selectedTask),
                               onclick: () => { state.selectedTask = t.id; render(); },
                               onkeydown: (e) => treeKeys(e, t, kids, open)},
    el("span", {class: `status ${t.status}`, text: t.status}),
    el("span", {class: "name", text: t.name || t.id}),
    el("span", {class: "id", text: t.id}),
    el("span", {class: "dur", text: t.started ? duration(end - t.started) : ""}));
  item.append(el("div", {class: "node"}, toggle, button));
  if (kids.length) {
    const counts = {};
    for (const k of kids) counts[k.status] = (counts[k.status] || 0) + 1;
    item.append(el("div", {class: "group-counts",
                           text: `${kids.length} subtasks: ` + Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(" · ")}));
  }
  if (open) {
    let shown = kids;
    if (kids.length > SHOWN_CHILDREN && !state.showAll.has(t.id)) {
      const rank = (k) => (k.status === "fail" ? 0 : ENDED.has(k.status) ? 2 : 1);
      shown = [...kids].sort((a, b) => rank(a) - rank(b)).slice(0, SHOWN_CHILDREN);
    }
    const group = el("ul", {role: "group"}, ...shown.map((k) => treeItem(k, level + 1)));
    item.append(group);
    if (shown.length < kids.length) {
      item.append(el("button", {type: "button", class: "more", text: `Show all ${kids.length} subtasks`,
                                onclick: () => { state.showAll.add(t.id); render(); }}));
    }
  }
  return item;
}

function treeKeys(event, t, kids, open) {
  const buttons = [...document.querySelectorAll("#tree button.task")];
  const index = buttons.indexOf(event.currentTarget);
  if (event.key === "ArrowDown" && index < buttons.length - 1) { buttons[index + 1].focus(); event.preventDefault(); }
  else if (event.key === "ArrowUp" && index > 0) { buttons[index - 1].focus(); event.preventDefault(); }
  else if (event.key === "ArrowRight" && kids.length && !open) { state.collapsed.delete(t.id); state.expanded.add(t.id); render(); }
  else if (event.key === "ArrowLeft" && kids.length && open) { state.expanded.delete(t.id); state.collapsed.add(t.id); render(); }
}

// --- one task ----------------------------------------------------------------------------
let shownTask = null, shownNotebook = null;

function showTask() {
  const t = state.run.tasks.get(state.selectedTask) || state.run.tasks.get(state.run.id);
  if (!t) { $("task-title").textContent = "waiting for the run's first event…"; return; }
  $("task-title").textContent = `${t.name || "task"} (${t.id})`;
  const facts = [["Status", t.status], ["Parent", t.parent || "(the run's root)"], ["Image", t.image || ""],
                 ["Started", when(t.started)], ["Ended", when(t.ended)],
                 ["Duration", t.started ? duration((t.ended || now()) - t.started) : ""],
                 ["Resources", t.resources ? Object.entries(t.resources).map(([k, v]) => `${k} ${v}`).join(", ") : "engine default"]];
  $("task-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {text: k}), el("dd", {text: v})]));
  const run = state.runs.find((r) => r.id === state.run.id);
  $("kill-task").hidden = !(run && run.live && !ENDED.has(t.status) && t.id !== state.run.id);
  $("task-error").hidden = !t.error;
  $("error-text").textContent = !t.error ? "" :
    (t.error.traceback || "").trim() || `${t.error.type || "Error"}: ${t.error.message || ""}`;
  $("task-result").hidden = t.result === undefined;
  $("result-text").textContent = t.result === undefined ? "" : JSON.stringify(t.result, null, 2);
  $("inputs-text").textContent = t.inputs === undefined ? "" : JSON.stringify(t.inputs, null, 2);
  if (shownTask !== t.id) {
    shownTask = t.id;
    $("logs").textContent = t.logs.length ? t.logs.join("\n") + "\n" : "";
  }
  $("log-count").textContent = `(${t.logs.length} lines)`;
  $("task-notebook").hidden = !t.notebook;
  const version = `${t.id}:${t.status}`;
  if (t.notebook && shownNotebook !== version) {
    shownNotebook = version;
    $("notebook").src = `/api/runs/${encodeURIComponent(state.run.id)}/notebook/${encodeURIComponent(t.id)}?v=${encodeURIComponent(t.status)}`;
  }
}

function appendLog(line) {
  const logs = $("logs");
  const atEnd = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
  logs.append(document.createTextNode(line + "\n"));
  if (atEnd) logs.scrollTop = logs.scrollHeight;
}

// --- kill --------------------------------------------------------------------------------
function confirmKill(taskId) {
  const isRun = taskId === state.run.id;
  $("confirm-text").textContent = isRun
    ? `Kill run ${taskId}? Every container or pod of the run is stopped and removed.`
    : `Kill task ${taskId}? It and its subtasks are stopped and removed.`;
  const dialog = $("confirm");
  $("confirm-kill").onclick = async () => {
    dialog.close();
    const answer = await fetch(`/api/runs/${encodeURIComponent(state.run.id)}/kill`, {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({task: taskId})});
    const body = await answer.json().catch(() => ({}));
    notice(body.message || body.error || `kill failed (${answer.status})`);
  };
  $("confirm-cancel").onclick = () => dialog.close();
  dialog.showModal();
  $("confirm-cancel").focus();
}

// --- start -------------------------------------------------------------------------------
function start() {
  $("kill-run").addEventListener("click", () => confirmKill(state.run.id));
  $("kill-task").addEventListener("click", () => confirmKill(state.selectedTask));
  const runs = new EventSource("/api/runs/stream");
  runs.addEventListener("runs", (message) => showRuns(JSON.parse(message.data)));
  runs.onerror = () => notice("the dashboard is not answering: its cowait command has ended? Start 'cowait dashboard' to browse the runs");
  runs.onopen = () => { if ($("notice").textContent.startsWith("the dashboard is not")) notice(""); };
  const wanted = new URLSearchParams(location.hash.slice(1)).get("run");
  if (wanted) selectRun(wanted);
  setInterval(() => { if (state.run && !state.run.ended) scheduleRender(); }, 1000);
}

start();

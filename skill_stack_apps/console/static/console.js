// The operator console's page: renders the state the server pushes on /api/ws (text: the state as
// GET /api/state; binary: a camera JPEG) and calls the JSON API. Plain JS, no build step, no downloads.
"use strict";

const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get("token");
let state = null;
let records = [];          // GET /api/corrections, newest first
let memoryKey = null;      // the store's fingerprint the list was loaded at

function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}

async function api(method, path, body, contentType) {
  const headers = {};
  if (token) headers["Authorization"] = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = contentType || "application/json";
  const init = {method, headers};
  if (body !== undefined) init.body = contentType ? body : JSON.stringify(body);
  const response = await fetch(path, init);
  let data = {};
  try { data = await response.json(); } catch (e) { data = {error: `HTTP ${response.status}`}; }
  if (!response.ok && !data.error) data.error = `HTTP ${response.status}`;
  return data;
}

function notice(text) {
  const el = $("notice");
  el.textContent = text || "";
  el.hidden = !text;
}

// -- live updates ------------------------------------------------------------------------------
let cameraUrl = null;
function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/api/ws` + (token ? `?token=${encodeURIComponent(token)}` : ""));
  ws.binaryType = "blob";
  ws.onopen = () => { $("link").textContent = "live"; $("link").className = "badge on"; };
  ws.onclose = () => {
    $("link").textContent = "offline"; $("link").className = "badge off";
    setTimeout(connect, 1000);
  };
  ws.onmessage = (event) => {
    if (typeof event.data === "string") {
      render(JSON.parse(event.data));
    } else {
      const url = URL.createObjectURL(event.data);
      $("camera").src = url;
      if (cameraUrl) URL.revokeObjectURL(cameraUrl);
      cameraUrl = url;
    }
  };
}

// -- rendering ---------------------------------------------------------------------------------
function render(s) {
  state = s;
  $("mode").textContent = s.mode === "ros" ? "ROS graph" : "in-process simulation";
  $("status").textContent = s.status;
  $("estop-banner").hidden = !s.estopped;
  document.body.classList.toggle("estopped", s.estopped);
  if (s.arm) {
    $("arm").textContent = "joints " + s.arm.joints.map((q) => q.toFixed(2)).join(" ") +
      (s.arm.gripper !== undefined ? `, gripper ${(s.arm.gripper * 100).toFixed(1)} cm` : "");
  }
  changed("task", s.task, renderTask);
  changed("feed", s.corrections, renderFeed);
  changed("retrieved", s.task && [s.task.id, s.task.retrieved], () => renderRetrieved(s.task));
  const key = JSON.stringify(s.memory);
  if (key !== memoryKey) { memoryKey = key; loadRecords(); }
}

// Each part is redrawn only when its data changed: the state arrives many times a second while a skill
// runs, and a redraw replaces the elements an operator may be about to click.
const drawn = {};
function changed(part, data, draw) {
  const key = JSON.stringify(data);
  if (drawn[part] === key) return;
  drawn[part] = key;
  draw(data);
}

function renderTask(task) {
  const running = task && task.state === "running";
  $("task-cancel").disabled = !running;
  $("task-run").disabled = !!running;
  if (!task) return;
  $("task-state").textContent = task.state;
  $("task-state").className = "state s-" + task.state;
  $("task-text").textContent = `#${task.id} "${task.task}"`;
  $("task-message").textContent = task.message;
  $("plan").innerHTML = task.plan.map((step) => `
    <tr data-index="${step.index}" data-state="${esc(step.state)}" data-policy="${esc(step.policy || "")}">
      <td>${step.index + 1}</td>
      <td>${esc(step.call)}${step.attempt ? " <span class=muted>(retry)</span>" : ""}
          ${step.message && step.state !== "succeeded" ? `<div class="small muted">${esc(step.message)}</div>` : ""}</td>
      <td class="state s-${esc(step.state)}">${esc(step.state)}</td>
      <td><div class="bar"><div style="width:${Math.round(step.progress * 100)}%"></div></div></td>
      <td>${step.policy ? `<span class="policy ${esc(step.policy)}" title="${esc(step.fallback || "")}">${esc(step.policy)}</span>` : ""}</td>
    </tr>`).join("");
  // while the task runs a goal that does not hold yet is "not yet", not a failure
  const mark = (holds) => holds === true ? "holds" : holds === false && !running ? "fails" : "";
  $("goals").innerHTML = task.goals.map((g) =>
    `<li class="${mark(g.holds)}" data-holds="${g.holds}">${esc(g.goal)}</li>`).join("")
    || `<li class="muted">checked as the task runs</li>`;
  $("notes").innerHTML = [...task.notes.map((n) => "note: " + esc(n)),
                          ...task.replans.map((r, i) => `re-plan ${i + 1}: ${esc(r)}`)].join("<br>");
}

function understood(r) {
  if (r.kind === "skill") {  // a delta as a signed change ("place.offset_y +0.03"), a value as "= v"
    const value = typeof r.value === "number" ? +r.value.toFixed(4) : r.value;
    const change = r.mode === "delta" ? (value >= 0 ? "+" : "") + value : "= " + value;
    return `${r.skill || "any skill"}.${r.parameter} ${change}`;
  }
  return `${r.kind} rule ${JSON.stringify(r.rule)}`;
}

function renderFeed(corrections) {
  $("correction-feed").innerHTML = corrections.map((c) => {
    const ids = c.records.map((r) => r.id).filter((id) => id !== null && id !== undefined);
    const undoable = ids.length && c.status !== "undone";
    return `<li data-id="${c.id}" data-status="${esc(c.status)}" data-records="${ids.join(",")}">
      <div><span class="state s-${esc(c.status)}">${esc(c.status)}</span>
        ${c.source === "voice" ? "(spoken) " : ""}"${esc(c.text)}"
        ${c.heard && c.heard.confidence !== null ? `<span class="small muted">(heard, confidence ${c.heard.confidence.toFixed(2)})</span>` : ""}
        ${undoable ? `<button class="quiet undo" data-records="${ids.join(",")}">undo</button>` : ""}</div>
      ${c.error ? `<div class="what">${esc(c.error)}</div>` : `<div class="what">${esc(c.message)}</div>`}
      ${c.records.map((r) => `<div class="rec">#${esc(r.id ?? "-")} ${esc(r.kind)}: ${esc(understood(r))}
         · scope ${esc(r.scope)}${r.object ? " (" + esc(r.object) + ")" : ""}${r.deleted ? " · deleted" : ""}</div>`).join("")}
    </li>`;
  }).join("");
}

function renderRetrieved(task) {
  const found = task && task.retrieved;
  if (!found) {
    $("retrieved-head").textContent = task ? "nothing retrieved for this task yet" : "no task yet";
    $("retrieved").innerHTML = "";
    return;
  }
  const where = found.stage === "plan" ? "the plan" : `step ${found.index + 1} (${found.skill})`;
  $("retrieved-head").textContent = `for ${where} of task #${task.id}: ${found.corrections.length} candidate(s)`;
  const byId = Object.fromEntries(records.map((r) => [r.id, r]));
  $("retrieved").innerHTML = found.corrections.map((c) => {
    const record = byId[c.id];
    const enabled = record ? !record.disabled : false;
    return `<tr data-id="${c.id}" class="${c.accepted ? "" : "rejected"}">
      <td>${c.id}</td><td>${esc(c.text)}</td><td>${Number(c.score).toFixed(2)}</td>
      <td>${c.accepted ? "yes" : "no"}</td><td class="small">${esc(c.reason)}</td>
      <td>${record ? `<input type="checkbox" class="switch" data-id="${c.id}" ${enabled ? "checked" : ""}>` : "<span class=muted>deleted</span>"}</td></tr>`;
  }).join("");
}

async function loadRecords() {
  const data = await api("GET", "/api/corrections");
  if (data.error) { notice(data.error); return; }
  records = data.records;
  $("memory").innerHTML = records.map((r) => `
    <tr data-id="${r.id}" class="${r.disabled ? "off" : ""}">
      <td>${r.id}</td><td>${esc(r.text)}</td><td class="rec">${esc(understood(r))}</td>
      <td>${esc(r.scope)}${r.object ? "<br><span class=muted>" + esc(r.object) + "</span>" : ""}</td>
      <td><input type="checkbox" class="switch" data-id="${r.id}" ${r.disabled ? "" : "checked"}></td>
      <td><button class="quiet delete" data-id="${r.id}" title="forget it">delete</button></td>
    </tr>`).join("") || `<tr><td colspan=6 class=muted>nothing remembered yet</td></tr>`;
  if (state) renderRetrieved(state.task);
}

// -- actions -----------------------------------------------------------------------------------
$("task-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = await api("POST", "/api/tasks", {task: $("task-input").value});
  notice(data.error || "");
});
$("task-cancel").addEventListener("click", async () => {
  if (state && state.task) notice((await api("POST", `/api/tasks/${state.task.id}/cancel`)).error || "");
});
$("estop").addEventListener("click", async () => notice((await api("POST", "/api/estop")).error || ""));
$("estop-reset").addEventListener("click", async () => notice((await api("POST", "/api/estop/reset")).error || ""));
$("correction-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = await api("POST", "/api/corrections", {text: $("correction-input").value});
  notice(data.error ? "correction: " + data.error : "");
  if (!data.error) $("correction-input").value = "";
});
document.addEventListener("click", async (event) => {
  const target = event.target;
  if (target.classList.contains("undo")) {
    for (const id of target.dataset.records.split(",")) await api("DELETE", `/api/corrections/${id}`);
  } else if (target.classList.contains("delete")) {
    notice((await api("DELETE", `/api/corrections/${target.dataset.id}`)).error || "");
  }
});
document.addEventListener("change", async (event) => {
  const target = event.target;
  if (!target.classList.contains("switch")) return;
  const data = await api("POST", `/api/corrections/${target.dataset.id}/${target.checked ? "enable" : "disable"}`);
  notice(data.error || "");
});

// -- push to talk: the browser's microphone, sent as a 16-bit WAV and transcribed on the server ---------
let recording = null;
async function startTalking() {
  if (recording) return;
  if (!navigator.mediaDevices) { notice("no microphone here: the page needs localhost or HTTPS"); return; }
  recording = {chunks: [], starting: true};
  try {
    const stream = await navigator.mediaDevices.getUserMedia(
      {audio: {echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1}});
    const context = new AudioContext();
    const source = context.createMediaStreamSource(stream);
    const processor = context.createScriptProcessor(4096, 1, 1);
    processor.onaudioprocess = (e) => recording && recording.chunks.push(new Float32Array(e.inputBuffer.getChannelData(0)));
    source.connect(processor);
    processor.connect(context.destination);
    Object.assign(recording, {stream, context, source, processor, starting: false});
    $("ptt").classList.add("live");
    $("ptt").textContent = "listening… release to send";
    if (recording.stopRequested) stopTalking();
  } catch (err) {
    recording = null;
    notice("microphone: " + err.message);
  }
}

async function stopTalking() {
  if (!recording) return;
  if (recording.starting) { recording.stopRequested = true; return; }
  const {stream, context, source, processor, chunks} = recording;
  recording = null;
  processor.disconnect(); source.disconnect();
  stream.getTracks().forEach((t) => t.stop());
  const rate = context.sampleRate;
  context.close();
  $("ptt").classList.remove("live");
  $("ptt").textContent = "transcribing…";
  const data = await api("POST", "/api/corrections", wav(chunks, rate), "audio/wav");
  $("ptt").textContent = "hold to talk";
  if (data.did_you_mean) {  // heard, not surely: nothing is done until the operator sends it (or an edit of it)
    $("correction-input").value = data.did_you_mean;
    $("correction-input").focus();
    notice(`voice: not sure what was said. Did you mean "${data.did_you_mean}"? It is in the correction box: ` +
           "press Send, or change it first.");
  } else {
    notice(data.error ? "voice: " + data.error : "");
  }
}

function wav(chunks, rate) {
  const count = chunks.reduce((n, c) => n + c.length, 0);
  const buffer = new ArrayBuffer(44 + 2 * count);
  const view = new DataView(buffer);
  const text = (offset, s) => [...s].forEach((ch, i) => view.setUint8(offset + i, ch.charCodeAt(0)));
  text(0, "RIFF"); view.setUint32(4, 36 + 2 * count, true); text(8, "WAVE");
  text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, rate, true); view.setUint32(28, rate * 2, true); view.setUint16(32, 2, true);
  view.setUint16(34, 16, true); text(36, "data"); view.setUint32(40, 2 * count, true);
  let offset = 44;
  for (const chunk of chunks) {
    for (const sample of chunk) {
      view.setInt16(offset, Math.max(-1, Math.min(1, sample)) * 0x7fff, true);
      offset += 2;
    }
  }
  return new Blob([buffer], {type: "audio/wav"});
}

const ptt = $("ptt");
ptt.addEventListener("pointerdown", (e) => { e.preventDefault(); startTalking(); });
ptt.addEventListener("pointerup", stopTalking);
ptt.addEventListener("pointerleave", stopTalking);
ptt.addEventListener("keydown", (e) => { if (e.key === " " && !e.repeat) { e.preventDefault(); startTalking(); } });
ptt.addEventListener("keyup", (e) => { if (e.key === " ") stopTalking(); });

connect();

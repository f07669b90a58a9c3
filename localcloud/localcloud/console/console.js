// The localcloud console: polls the local cloud's JSON API once a second and renders it. No framework.
"use strict";

const api = (path, options) => fetch(`/_localcloud/api/${path}`, options).then((r) => r.json());
const cell = (text, className) => {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  td.title = td.textContent; // the whole text where the column cuts it
  if (className) td.className = className;
  return td;
};
const row = (cells, className) => {
  const tr = document.createElement("tr");
  cells.forEach((c) => tr.appendChild(c));
  if (className) tr.className = className;
  return tr;
};
const fill = (id, rows) => {
  const table = document.getElementById(id);
  table.querySelector("tbody").replaceChildren(...rows);
  table.classList.toggle("empty", rows.length === 0 && id === "schedules");
};

async function refreshOverview() {
  const data = await api("overview");
  document.getElementById("template").textContent = data.template;
  document.getElementById("region").textContent = `region ${data.region}` + (data.state ? ` · state ${data.state}` : "");
  fill("functions", data.functions.map((f) => row([
    cell(f.logical_id), cell(f.workers), cell(f.ready ? "ready" : "starting", f.ready ? "ok" : "error"),
  ])));
  fill("triggers", data.triggers.map((t) => row([cell(t.trigger), cell(t.function), cell(t.lag)])));
  fill("schedules", data.schedules.map((s) => {
    const button = document.createElement("button");
    button.textContent = "fire now";
    button.onclick = () => api(`schedules/${encodeURIComponent(s.name)}/fire`, { method: "POST" });
    const td = document.createElement("td");
    td.appendChild(button);
    return row([cell(s.name), cell(s.expression), cell(s.next), td]);
  }));
  fill("dlqs", data.dead_letter_queues.map((q) => {
    const td = document.createElement("td");
    if (q.redrivable) {
      const button = document.createElement("button");
      button.textContent = "redrive";
      button.disabled = q.depth === 0;
      button.onclick = async () => { await api(`dlq/${encodeURIComponent(q.name)}/redrive`, { method: "POST" }); refreshOverview(); };
      td.appendChild(button);
    }
    return row([cell(q.name), cell(q.depth, q.depth ? "error" : ""), cell(q.in_flight), td], "dlq");
  }));
}

let lastSequence = 0;
const shown = [];
async function refreshInvocations() {
  const data = await api(`invocations?after=${lastSequence}`);
  for (const i of data.invocations) {
    lastSequence = Math.max(lastSequence, i.sequence);
    shown.unshift(i);
  }
  shown.splice(100);
  const fresh = new Set(data.invocations.map((i) => i.sequence));
  fill("invocations", shown.map((i) => row([
    cell(new Date(i.started * 1000).toLocaleTimeString()), cell(i.function), cell(i.trigger),
    cell(i.outcome), cell(i.batch_size), cell(`${i.duration_ms} ms${i.cold ? " (cold)" : ""}`), cell(i.reference),
  ], [i.status === "ok" ? "" : "error", fresh.has(i.sequence) ? "new" : ""].join(" ").trim())));
}

const palette = ["#0b6bcb", "#b35900", "#1a7f37", "#8250df", "#bf3989", "#57606a"];
async function showStory(id) {
  const data = await api(`story?id=${encodeURIComponent(id)}`);
  const colours = Object.fromEntries(data.logs.map((log, n) => [log, palette[n % palette.length]]));
  const contexts = new Set(data.commits.map((c) => c.log));
  document.getElementById("story-summary").textContent =
    `${data.commits.length} commits in ${contexts.size} event log(s) (${[...contexts].join(", ")})`;
  const items = [];
  for (const commit of data.commits) {
    commit.events.forEach((event, n) => {
      const li = document.createElement("li");
      li.className = "story-event";
      li.style.setProperty("--context-colour", colours[commit.log]);
      const when = document.createElement("div");
      when.className = "when";
      when.textContent = `${event.at || commit.committed_at || ""} · ${commit.stream} v${commit.version + n}`;
      const title = document.createElement("div");
      const context = document.createElement("span");
      context.className = "context";
      context.textContent = `${commit.log} `;
      const type = document.createElement("span");
      type.className = "type";
      type.textContent = event.type;
      title.append(context, type);
      const detail = document.createElement("div");
      detail.className = "detail";
      const data = event.data || {};
      detail.textContent = Object.entries(data).filter(([, v]) => typeof v !== "object")
        .map(([k, v]) => `${k}: ${v}`).join(" · ");
      li.append(when, title, detail);
      items.push(li);
    });
  }
  document.getElementById("timeline").replaceChildren(...items);
}

document.getElementById("story-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const id = document.getElementById("story-id").value.trim();
  history.replaceState(null, "", `#story=${encodeURIComponent(id)}`);
  showStory(id);
});

async function tick() {
  try { await Promise.all([refreshOverview(), refreshInvocations()]); } catch (e) { /* the cloud restarts */ }
  setTimeout(tick, 1000);
}
const fromHash = new URLSearchParams(location.hash.slice(1)).get("story");
if (fromHash) { document.getElementById("story-id").value = fromHash; showStory(fromHash); }
tick();

// ingestd's web console: the tables' ingestion status, refreshed every few seconds, and a SQL box.
// It only calls the server's own API (GET /tables, GET /tables/{t}/status, POST /query/sql) and builds
// every element with textContent, so a table name or an error text is never read as HTML.
// URL parameters: ?sql=... fills the SQL box and runs it at once; ?refresh=N refreshes every N seconds.
"use strict";

const params = new URLSearchParams(window.location.search);
const REFRESH_S = Math.max(1, Number(params.get("refresh")) || 3);
const previous = new Map(); // "table/partition" -> {rows, at}: for rows per second between two refreshes

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function show(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

async function getJson(path, options = {}) {
  // against the origin, not the page's URL: a page opened as http://user:pass@host/ui may not fetch
  // URLs that carry credentials; the browser sends the ones it was given for this origin anyway
  const target = new URL(path, window.location.origin);
  const response = await fetch(target, { credentials: "same-origin", ...options });
  let body = null;
  try {
    body = await response.json();
  } catch (ignored) {
    body = null;
  }
  if (!response.ok && !(body && Array.isArray(body.exceptions))) { // a failed query answers exceptions
    const reason = body && body.error ? body.error : response.statusText;
    throw new Error(`${response.status} ${reason}`);
  }
  return body;
}

// tables --------------------------------------------------------------------------------------------

function rowsPerSecond(table, partition, now) {
  if (typeof partition.rowsPerSecond === "number") return partition.rowsPerSecond.toFixed(1);
  const key = `${table}/${partition.partition}`;
  const rows = partition.rowsIndexed;
  const before = previous.get(key);
  if (typeof rows === "number") previous.set(key, { rows, at: now });
  if (!before || typeof rows !== "number" || now <= before.at) return "";
  return Math.max(0, (rows - before.rows) / ((now - before.at) / 1000)).toFixed(1);
}

const COLUMNS = [
  ["Partition", (p) => p.partition],
  ["Worker", (p) => p.worker],
  ["State", (p) => p.state],
  ["Current offset", (p) => p.currentOffset],
  ["Latest offset", (p) => p.latestOffset, "latestOffset"],
  ["Lag", (p) => p.lag, "lag"],
  ["Rows/s", null],
  ["Consuming rows", (p) => p.consumingRows],
  ["Sealed segments", (p) => p.sealedSegments],
  ["Rows indexed", (p) => p.rowsIndexed],
  ["Last error", (p) => p.lastError],
];

function partitionTable(name, partitions, now) {
  const shown = COLUMNS.filter(([, , field]) => !field || partitions.some((p) => p[field] !== undefined));
  const head = el("tr", {}, ...shown.map(([title]) => el("th", { text: title })));
  const body = partitions.map((p) => {
    const cells = shown.map(([title, read]) => {
      const value = read ? show(read(p)) : rowsPerSecond(name, p, now);
      const cell = el("td", { text: value });
      if (title === "State") cell.className = `state state-${String(p.state).toLowerCase()}`;
      if (title === "Last error" && value) cell.className = "error";
      return cell;
    });
    return el("tr", { class: "partition", "data-partition": String(p.partition) }, ...cells);
  });
  return el("table", { class: "partitions" }, el("thead", {}, head), el("tbody", {}, ...body));
}

function tableSection(name, status, now) {
  const partitions = status.partitions || [];
  const sealed = partitions.reduce((sum, p) => sum + (p.sealedSegments || 0), 0);
  const stateClass = `state state-${String(status.state).toLowerCase()}`;
  const state = el("span", { class: stateClass, text: status.state });
  const summary = el("p", { class: "summary" },
    "state ", state,
    ` · topic ${show(status.topic)} · ${partitions.length} partition(s) · ${sealed} sealed segment(s)`);
  const section = el("section", { class: "table", id: `table-${name}`, "data-table": name },
    el("h3", { text: name }), summary);
  if (status.streamError) section.append(el("p", { class: "error", text: status.streamError }));
  if (status.malformedMessages) {
    const skipped = `${status.malformedMessages} malformed message(s) skipped`;
    section.append(el("p", { class: "muted", text: skipped }));
  }
  section.append(partitions.length ? partitionTable(name, partitions, now)
    : el("p", { class: "muted", text: "no partitions assigned yet" }));
  return section;
}

async function refreshTables() {
  const container = document.getElementById("tables");
  const banner = document.getElementById("tables-error");
  try {
    const names = (await getJson("/tables")).tables || [];
    const statuses = await Promise.all(names.map((name) =>
      getJson(`/tables/${encodeURIComponent(name)}/status`).catch((error) => ({ state: "UNKNOWN",
        streamError: `status unavailable: ${error.message}`, partitions: [] }))));
    const now = Date.now();
    const sections = names.map((name, i) => tableSection(name, statuses[i], now));
    const none = "No tables yet: ingestd add-table --schema-file S --table-config-file T";
    container.replaceChildren(...(sections.length ? sections : [el("p", { class: "muted", text: none })]));
    banner.hidden = true;
    document.getElementById("refreshed").textContent =
      `refreshed ${new Date(now).toLocaleTimeString()} · every ${REFRESH_S} s`;
  } catch (error) {
    banner.textContent = `Cannot read the tables: ${error.message}`;
    banner.hidden = false;
  }
}

// query ---------------------------------------------------------------------------------------------

function resultTable(table) {
  const head = el("tr", {}, ...table.dataSchema.columnNames.map((name, i) =>
    el("th", { text: name, title: table.dataSchema.columnDataTypes[i] || "" })));
  const rows = table.rows.map((row) => el("tr", { class: "result-row" },
    ...row.map((value) => el("td", { text: show(value) }))));
  return el("table", { class: "result", id: "result" }, el("thead", {}, head), el("tbody", {}, ...rows));
}

async function runQuery(sql) {
  const status = document.getElementById("query-status");
  const errors = document.getElementById("query-errors");
  const result = document.getElementById("query-result");
  status.textContent = "running…";
  errors.replaceChildren();
  result.replaceChildren();
  try {
    const answer = await getJson("/query/sql", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ sql }),
    });
    for (const exception of answer.exceptions || []) {
      const text = `error ${exception.errorCode}: ${exception.message}`;
      errors.append(el("p", { class: "error exception", text }));
    }
    if (answer.resultTable) {
      result.append(resultTable(answer.resultTable));
      const partial = answer.partialResult ? " · PARTIAL result" : "";
      const rows = answer.resultTable.rows.length;
      status.textContent = `${rows} row(s) · ${answer.numDocsScanned} docs scanned of ${answer.totalDocs}`
        + ` · ${answer.timeUsedMs} ms${partial}`;
    } else {
      status.textContent = "failed";
    }
  } catch (error) {
    status.textContent = "failed";
    errors.append(el("p", { class: "error exception", text: error.message }));
  }
}

function setUpQueryBox() {
  const form = document.getElementById("query-form");
  const box = document.getElementById("sql");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (box.value.trim()) runQuery(box.value);
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });
  const sql = params.get("sql");
  if (sql) {
    box.value = sql;
    runQuery(sql);
  }
}

setUpQueryBox();
refreshTables();
setInterval(refreshTables, REFRESH_S * 1000);

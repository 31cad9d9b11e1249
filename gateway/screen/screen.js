// The big screen: one Server-Sent Events stream from the gateway, read with fetch so that the API key
// travels in a header (EventSource cannot send one). The key comes from the page's fragment
// (/screen#key=...), which never reaches a server or a log, or from a form, and is kept in localStorage.

const STREAM = "/v1/stream?metrics=gmv,paid_orders,buyers,avg_order_value&top=gmv:seller&series=gmv&n=10";
const KEY_STORE = "oneservice.apiKey";
const money = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const count = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const FORMAT = {
  gmv: (cents) => `¥${money.format(cents / 100)}`,
  avg_order_value: (cents) => `¥${money.format(cents / 100)}`,
  paid_orders: (n) => count.format(n),
  buyers: (n) => count.format(n),
};

const state = { values: {}, top: {}, series: {}, meta: null };
const $ = (id) => document.getElementById(id);

function apiKey() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("key");
  if (fromHash) {
    localStorage.setItem(KEY_STORE, fromHash);
    history.replaceState(null, "", location.pathname);
  }
  return localStorage.getItem(KEY_STORE);
}

function setStatus(kind, text) {
  const el = $("status");
  el.className = kind;
  el.textContent = text;
}

// Counters glide to a new value instead of jumping, as a wall display should; data-value holds the
// value itself at once.
function showValue(name, entry) {
  const tile = $(name);
  if (!tile || !entry) return;
  const el = tile.querySelector(".value");
  const format = FORMAT[name] ?? count.format;
  tile.classList.toggle("stale", entry.stale);
  if (entry.value === null) {
    el.dataset.value = "";
    el.textContent = "—";
    return;
  }
  const from = Number(el.dataset.shown ?? entry.value);
  const to = entry.value;
  el.dataset.value = String(to);
  const started = performance.now();
  const step = (t) => {
    const k = Math.min(1, (t - started) / 700);
    const shown = from + (to - from) * (1 - (1 - k) ** 3);
    el.dataset.shown = String(shown);
    el.textContent = format(k === 1 ? to : shown);
    if (k < 1 && el.dataset.value === String(to)) requestAnimationFrame(step);
  };
  requestAnimationFrame(step);
}

function showTop(list) {
  const ol = $("top").querySelector("ol");
  $("top").classList.toggle("stale", list.stale);
  const max = Math.max(1, ...list.entries.map((e) => e.value));
  ol.replaceChildren(
    ...list.entries.map((e, i) => {
      const li = document.createElement("li");
      const rank = document.createElement("span");
      rank.className = "rank";
      rank.textContent = String(i + 1);
      const bar = document.createElement("span");
      bar.className = "bar";
      bar.style.width = `${(e.value / max) * 100}%`;
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = e.key;
      bar.append(name);
      const amount = document.createElement("span");
      amount.className = "amount";
      amount.textContent = FORMAT.gmv(e.value);
      li.append(rank, bar, amount);
      li.dataset.key = e.key;
      return li;
    }),
  );
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v);
}

function showChart(series) {
  const box = $("chart");
  const width = Math.max(300, box.clientWidth);
  const height = Math.max(150, box.clientHeight);
  const pad = { left: 90, right: 16, top: 12, bottom: 28 };
  const points = series.points;
  const top = niceMax(Math.max(0, ...points.map((p) => p.value)));
  const x = (i) => pad.left + (i / Math.max(1, points.length - 1)) * (width - pad.left - pad.right);
  const y = (v) => height - pad.bottom - (v / top) * (height - pad.top - pad.bottom);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "GMV per minute" });
  const defs = svg("defs", {});
  const fade = svg("linearGradient", { id: "fade", x1: 0, y1: 0, x2: 0, y2: 1 });
  fade.append(
    svg("stop", { offset: "0%", "stop-color": "#ff7a1a", "stop-opacity": 0.55 }),
    svg("stop", { offset: "100%", "stop-color": "#ff7a1a", "stop-opacity": 0.02 }),
  );
  defs.append(fade);
  root.append(defs);
  for (let g = 0; g <= 4; g++) {
    const v = (top / 4) * g;
    root.append(svg("line", { class: "grid", x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v) }));
    root.append(
      svg(
        "text",
        { class: "axis", x: pad.left - 8, y: y(v) + 4, "text-anchor": "end" },
        `¥${count.format(v / 100)}`,
      ),
    );
  }
  points.forEach((p, i) => {
    if (i % 10 !== 0 && i !== points.length - 1) return;
    const label = `${p.minute.slice(0, 2)}:${p.minute.slice(2)}`;
    const anchor = i === points.length - 1 ? "end" : i === 0 ? "start" : "middle";
    root.append(svg("text", { class: "axis", x: x(i), y: height - 8, "text-anchor": anchor }, label));
  });
  if (points.length > 0) {
    const line = points
      .map((p, i) => `${i === 0 ? "M" : "L"}${x(i).toFixed(1)},${y(p.value).toFixed(1)}`)
      .join("");
    const base = y(0).toFixed(1);
    root.append(
      svg("path", { class: "area", d: `${line}L${x(points.length - 1)},${base}L${x(0)},${base}Z` }),
    );
    root.append(svg("path", { class: "line", d: line, "data-points": points.length }));
  }
  box.replaceChildren(root);
}

function render() {
  const meta = state.meta;
  if (!meta) return;
  $("link").textContent = meta.link.toUpperCase();
  $("link").dataset.link = meta.link;
  $("routing-version").textContent = String(meta.routingVersion);
  $("date").textContent = meta.date;
  $("as-of").textContent = meta.asOf ? timeOfDay.format(new Date(meta.asOf)) : "—";
  const stoppedAt = meta.staleSince ? ` since ${timeOfDay.format(new Date(meta.staleSince))}` : "";
  setStatus(meta.stale ? "stale" : "live", meta.stale ? `stale${stoppedAt}` : "live");
  const list = state.top["gmv:seller"];
  if (list) showTop(list);
  if (state.series.gmv) showChart(state.series.gmv);
}

// Times read in the business time zone, as the minute chart's labels are; the first event names it.
let timeOfDay = new Intl.DateTimeFormat("en-GB", { timeStyle: "medium" });

function onEvent(event, data) {
  if (event === "unavailable") {
    setStatus("down", "no data");
    return;
  }
  if (data.timeZone)
    timeOfDay = new Intl.DateTimeFormat("en-GB", { timeStyle: "medium", timeZone: data.timeZone });
  state.meta = {
    link: data.link,
    routingVersion: data.routingVersion,
    asOf: data.asOf,
    date: data.date,
    stale: data.stale,
    staleSince: data.staleSince,
  };
  for (const [name, entry] of Object.entries(data.values ?? {})) {
    state.values[name] = entry;
    showValue(name, entry);
  }
  Object.assign(state.top, data.top ?? {});
  Object.assign(state.series, data.series ?? {});
  render();
}

// SSE framing: events end with a blank line; "event:" names it, "data:" lines carry it.
function parseEvents(buffer, emit) {
  const blocks = buffer.split("\n\n");
  const rest = blocks.pop();
  for (const block of blocks) {
    let event = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("data: ")) data.push(line.slice(6));
    }
    if (data.length > 0) emit(event, JSON.parse(data.join("\n")));
  }
  return rest;
}

async function connect(key) {
  let delay = 1000;
  for (;;) {
    try {
      const res = await fetch(STREAM, { headers: { "x-api-key": key, accept: "text/event-stream" } });
      if (res.status === 401 || res.status === 403) {
        localStorage.removeItem(KEY_STORE);
        askForKey("API key refused");
        return;
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      delay = 1000;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer = parseEvents(buffer + value, onEvent);
      }
      throw new Error("stream ended");
    } catch (err) {
      setStatus("down", `reconnecting (${err.message})`);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 10_000);
  }
}

function askForKey(message) {
  document.body.classList.add("needs-key");
  setStatus("down", message);
  const form = $("login").querySelector("form");
  form.onsubmit = (e) => {
    e.preventDefault();
    const key = form.elements.key.value.trim();
    if (!key) return;
    localStorage.setItem(KEY_STORE, key);
    document.body.classList.remove("needs-key");
    connect(key);
  };
}

window.addEventListener("resize", () => state.series.gmv && showChart(state.series.gmv));
const key = apiKey();
if (key) connect(key);
else askForKey("API key needed");

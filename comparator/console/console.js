// The ops console: polls the comparator's read API every second and draws the links side by side, the
// routing and its gateway acknowledgements, the live gaps as an SVG chart, and the audit trail. Changes go
// through POST /v1/failover, /v1/pin and /v1/unpin with the operator's name, token and reason. Every value
// from the server is set as text, never parsed as HTML.

const SVG = "http://www.w3.org/2000/svg";
const REFRESH_MS = 1000;
const view = { links: null, routing: null, auditTop: "", metric: "" };
const cards = new Map();

const byId = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

const number = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"));
const seconds = (ms) => (ms === null || ms === undefined ? "–" : `${(ms / 1000).toFixed(1)} s`);
const clock = (iso) => (iso ? new Date(iso).toLocaleTimeString("en-GB") : "–");
const eventTime = (ms) => (ms ? `${new Date(ms).toISOString().replace("T", " ").slice(0, 19)} UTC` : "–");

async function getJson(path) {
  const res = await fetch(path, { cache: "no-store" });
  if (!res.ok) throw new Error(`${path} answered ${res.status}`);
  return res.json();
}

async function refresh() {
  try {
    const [links, routing, audit] = await Promise.all([
      getJson("/v1/links"),
      getJson("/v1/routing"),
      getJson("/v1/audit?limit=50"),
    ]);
    view.links = links;
    view.routing = routing;
    renderReplica(links, routing);
    renderRouting(routing);
    renderLinks(links, routing);
    renderGateways(routing);
    renderAudit(audit.records);
    if (!view.metric) setupMetrics(links);
    renderChart(await getJson(`/v1/gaps?metric=${encodeURIComponent(view.metric)}`), links);
    byId("connection").textContent = "";
  } catch (err) {
    byId("connection").textContent = `cannot reach the comparator: ${err.message}`;
  }
}

function renderReplica(links, routing) {
  const holder = routing.leader.holder;
  const role = routing.leader.isLeader ? "leader" : `follower (leader: ${holder ? holder.id : "none"})`;
  byId("replica").textContent =
    `comparator ${links.comparatorId} · ${role} · business day ${links.date} · probed ${clock(links.probedAt)}`;
}

function renderRouting(routing) {
  const doc = routing.routing;
  byId("active").textContent = doc ? doc.active : "–";
  const mode = byId("mode");
  mode.textContent = doc
    ? doc.mode === "manual"
      ? "pinned by an operator"
      : "automatic"
    : routing.problem || "";
  mode.className = `mode ${doc ? doc.mode : ""}`;
  byId("version").textContent = doc ? String(doc.version) : "–";
  byId("standby").textContent = doc ? doc.standby.join(", ") || "none" : "–";
  byId("changed").textContent = doc ? new Date(doc.changedAt).toLocaleString("en-GB") : "–";
  byId("changed-by").textContent = doc ? doc.changedBy : "–";
  byId("reason").textContent = doc ? doc.reason : "–";
  const g = routing.gateways;
  byId("acks").textContent = doc ? `${g.onNewest} of ${g.total}` : "–";
  byId("pin-button").disabled = doc?.mode !== "auto";
  byId("unpin-button").disabled = doc?.mode !== "manual";
}

function card(link) {
  let c = cards.get(link.id);
  if (c) return c;
  const root = el("article", "panel link");
  const head = el("div", "link-head");
  const name = el("span", "link-name", link.id);
  const badge = el("span", "badge");
  const role = el("span", "role");
  head.append(name, badge, role);
  const facts = el("dl");
  const fields = {};
  for (const [key, label] of [
    ["since", "In this state since"],
    ["heartbeat", "Heartbeat age"],
    ["watermark", "Watermark"],
    ["behind", "Behind the best"],
    ["lag", "Kafka lag"],
    ["value", "Live value"],
    ["gap", "Gap to the others"],
    ["incomplete", "Incomplete metrics"],
    ["repair", "Repair"],
    ["eligible", "Failover target"],
  ]) {
    facts.append(el("dt", "", label));
    fields[key] = el("dd");
    facts.append(fields[key]);
  }
  const findings = el("ul", "findings");
  const button = el("button", "", `Make ${link.id} active`);
  button.type = "button";
  button.dataset.failover = link.id;
  // An unusable routing document can only be replaced: the same button writes a fresh one.
  button.addEventListener("click", () => openDialog(view.routing?.routing ? "failover" : "replace", link.id));
  const repair = el("button", "", `Repair ${link.id}`);
  repair.type = "button";
  repair.dataset.repair = link.id;
  repair.addEventListener("click", () => openDialog("repair", link.id));
  const actions = el("div", "actions");
  actions.append(button, repair);
  root.append(head, facts, findings, actions);
  byId("links").append(root);
  c = { root, badge, role, fields, findings, button, repair };
  cards.set(link.id, c);
  return c;
}

function renderLinks(links, routing) {
  const doc = routing.routing;
  const metric = view.metric || "gmv";
  for (const link of links.links) {
    const c = card(link);
    const active = doc?.active === link.id;
    c.root.className = `panel link ${link.state}${active ? " is-active" : ""}`;
    c.badge.className = `badge ${link.state}`;
    c.badge.textContent = link.pending ? `${link.state} → ${link.pending.state}?` : link.state;
    c.role.textContent = active ? "active" : doc?.standby.includes(link.id) ? "standby" : "";
    c.fields.since.textContent = clock(link.since);
    c.fields.heartbeat.textContent = link.error ? "unreachable" : seconds(link.heartbeatAgeMs);
    c.fields.watermark.textContent = eventTime(link.watermark);
    c.fields.behind.textContent = seconds(link.watermarkBehindMs);
    c.fields.lag.textContent = link.lagRecords === null ? "unknown" : `${number(link.lagRecords)} records`;
    c.fields.value.textContent = `${metric} ${number(link.values[metric])}`;
    c.fields.gap.textContent = number(link.gaps[metric]);
    // A metric added to a running link counts from then on: not whole for the day until backfilled, so it
    // is left out of every comparison.
    c.fields.incomplete.textContent =
      link.incomplete.length === 0 ? "none" : `${link.incomplete.join(", ")} (not compared until backfilled)`;
    c.fields.eligible.textContent =
      link.state !== "healthy"
        ? "no"
        : link.eligible
          ? "yes"
          : `after ${links.thresholds.failbackAfterMinutes} healthy closed minutes (${link.healthyClosedMinutes})`;
    c.fields.repair.textContent = repairText(link.repair);
    c.repair.disabled = link.repair?.state === "running";
    c.findings.replaceChildren(
      ...link.findings.map((f) => el("li", "", f.detail)),
      ...link.suspicions.map((f) => el("li", "suspect", `suspect: ${f.detail}`)),
      ...(link.error ? [el("li", "", link.error)] : []),
    );
    c.button.disabled = Boolean(active);
  }
}

/** A repair's state as one line: its stage and progress while it runs, its outcome after. */
function repairText(r) {
  if (!r) return "none";
  if (r.state === "running") {
    const p = r.progress;
    if (!p) return `${r.operation} starting`;
    const eta = p.etaSeconds === null ? "" : `, ETA ${Math.ceil(p.etaSeconds)} s`;
    return `${r.operation} ${p.stage}: ${number(p.recomputed)} / ${number(p.total)} records (${number(Math.round(p.recordsPerSecond))}/s${eta})`;
  }
  if (r.state === "succeeded")
    return `${r.operation} done ${clock(r.endedAt)}: ${r.summary?.changed ?? 0} values rewritten`;
  return `${r.operation} ${r.state}: ${r.error ?? ""}`;
}

function renderGateways(routing) {
  const rows = routing.gateways.acks.map((a) => {
    const tr = el("tr");
    tr.append(el("td", "", a.gatewayId), el("td", "", String(a.version)), el("td", "", a.active));
    tr.append(el("td", "", clock(a.appliedAt)));
    return tr;
  });
  if (rows.length === 0) {
    const tr = el("tr");
    const td = el("td", "", "no gateway has acknowledged a routing version");
    td.colSpan = 4;
    tr.append(td);
    rows.push(tr);
  }
  byId("gateways").tBodies[0].replaceChildren(...rows);
}

function renderAudit(records) {
  const top = records.length > 0 ? `${records[0].id}:${records.length}` : "";
  if (top === view.auditTop) return;
  view.auditTop = top;
  byId("audit").tBodies[0].replaceChildren(
    ...records.map((r) => {
      const tr = el("tr");
      const change = r.from || r.to ? `${r.from || "–"} → ${r.to || "–"}` : r.link || "";
      const details = el("details");
      details.append(el("summary", "", "show"), el("pre", "", JSON.stringify(r.evidence, null, 2)));
      const evidence = el("td");
      evidence.append(details);
      tr.append(
        el("td", "", new Date(r.at).toLocaleString("en-GB")),
        el("td", "", r.kind),
        el("td", "", r.by),
        el("td", "", change),
        el("td", "", r.reason),
        evidence,
      );
      return tr;
    }),
  );
}

function setupMetrics(links) {
  const select = byId("metric");
  const names = Object.keys(links.links[0] ? links.links[0].values : {});
  for (const name of names.length > 0 ? names : ["gmv"]) select.append(new Option(name, name));
  view.metric = select.value;
  select.addEventListener("change", () => {
    view.metric = select.value;
    refresh();
  });
}

function renderChart(gaps, links) {
  const chart = byId("chart");
  const W = 900;
  const H = 240;
  const pad = { left: 70, right: 10, top: 10, bottom: 22 };
  const ids = links.links.map((l) => l.id);
  const points = gaps.points;
  const values = points.flatMap((p) => Object.values(p.gaps));
  const extent = Math.max(1, ...values.map((v) => Math.abs(v)));
  const t0 = points.length > 0 ? points[0].t : Date.now();
  const t1 = points.length > 1 ? points[points.length - 1].t : t0 + 1;
  const x = (t) => pad.left + ((t - t0) / (t1 - t0)) * (W - pad.left - pad.right);
  const y = (v) => pad.top + ((extent - v) / (2 * extent)) * (H - pad.top - pad.bottom);
  const nodes = [
    svg("line", { class: "axis", x1: pad.left, y1: pad.top, x2: pad.left, y2: H - pad.bottom }),
    svg("line", { class: "zero", x1: pad.left, y1: y(0), x2: W - pad.right, y2: y(0) }),
  ];
  for (const [v, label] of [
    [extent, `+${number(extent)}`],
    [0, "0"],
    [-extent, `-${number(extent)}`],
  ]) {
    const text = svg("text", { x: pad.left - 6, y: y(v) + 4, "text-anchor": "end" });
    text.textContent = label;
    nodes.push(text);
  }
  const span = svg("text", { x: W - pad.right, y: H - 6, "text-anchor": "end" });
  span.textContent = `last ${Math.round((t1 - t0) / 1000)} s · above 0: the link reads smaller than the others`;
  nodes.push(span);
  ids.forEach((id, i) => {
    const coords = points.filter((p) => p.gaps[id] !== undefined).map((p) => `${x(p.t)},${y(p.gaps[id])}`);
    if (coords.length > 0)
      nodes.push(svg("polyline", { class: `series-${i % 5}`, points: coords.join(" ") }));
  });
  chart.replaceChildren(...nodes);
  byId("legend").replaceChildren(...ids.map((id, i) => el("span", `series-${i % 5}`, `link ${id}`)));
}

let pending = null;

function openDialog(op, to) {
  const link = view.links?.links.find((l) => l.id === to);
  const doc = view.routing?.routing;
  pending = { op, to };
  const titles = {
    failover: `Fail over to link ${to}`,
    pin: `Pin link ${to}`,
    unpin: "Unpin the routing",
    repair: `Repair link ${to}`,
    replace: `Replace the unusable routing document: link ${to} active`,
  };
  byId("confirm-title").textContent = titles[op];
  byId("confirm-what").textContent =
    op === "repair"
      ? `Pauses link ${to}'s processors, recomputes it from its own Kafka up to its stored offsets, rewrites every value that differs, then resumes. It becomes a failover target again only after the healthy-minutes rule.`
      : op === "replace"
        ? `The routing document in Consul is unusable (${view.routing?.problem}). A new one makes link ${to} active, above every version in force, in automatic mode.`
        : op === "failover"
          ? `Every gateway moves its reads from link ${doc ? doc.active : "?"} to link ${to}.`
          : op === "pin"
            ? `Link ${to} stays active until an operator moves or unpins it; automatic failover stops.`
            : "Automatic failover resumes; if the active link is unhealthy the comparator moves it at once.";
  const activeRepair = op === "repair" && doc?.active === to;
  const unhealthy = op !== "unpin" && op !== "repair" && link && link.state !== "healthy";
  byId("confirm-warning").hidden = !unhealthy && !activeRepair;
  if (activeRepair) {
    byId("confirm-state").textContent =
      `Link ${to} is active: the gateways read it while it is paused. The comparator refuses unless you force it.`;
    byId("confirm-evidence").textContent = "";
  } else if (unhealthy) {
    byId("confirm-state").textContent =
      `Link ${to} is ${link.state}. The comparator refuses unless you force it.`;
    byId("confirm-evidence").textContent = JSON.stringify(link.findings, null, 2);
  }
  byId("confirm-force").checked = false;
  byId("confirm-reason").value = "";
  byId("confirm-error").textContent = "";
  byId("confirm").showModal();
  byId("confirm-reason").focus();
}

async function confirmPending() {
  const reason = byId("confirm-reason").value.trim();
  const operator = byId("operator").value.trim();
  const token = byId("token").value;
  if (reason.length < 3) return showDialogError("Give a reason (at least 3 characters).");
  if (!operator) return showDialogError("Fill in your name in the Operator panel.");
  if (!token) return showDialogError("Fill in the admin token in the Operator panel.");
  localStorage.setItem("oneservice.operator", operator);
  sessionStorage.setItem("oneservice.token", token);
  const { op, to } = pending;
  const body = { reason, operator };
  if (op !== "unpin") body.force = byId("confirm-force").checked;
  if (op !== "unpin" && op !== "repair") body.to = to;
  byId("confirm-ok").disabled = true;
  try {
    const url = { repair: `/v1/links/${to}/repair`, replace: "/v1/routing/replace" }[op] ?? `/v1/${op}`;
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    const answer = await res.json();
    if (!res.ok) {
      const evidence = answer.evidence ? `\n${JSON.stringify(answer.evidence, null, 2)}` : "";
      return showDialogError(`${answer.message}${evidence}`);
    }
    byId("confirm").close();
    showResult(
      op === "repair"
        ? `Repair of link ${to} started: its progress shows on its card.`
        : `Done: link ${answer.routing.active} is active, routing version ${answer.routing.version} (${answer.routing.mode}).`,
    );
    await refresh();
  } catch (err) {
    showDialogError(`the request failed: ${err.message}`);
  } finally {
    byId("confirm-ok").disabled = false;
  }
}

function showDialogError(text) {
  byId("confirm-error").textContent = text;
}

function showResult(text) {
  const result = byId("result");
  result.className = "result ok";
  result.textContent = text;
}

byId("operator").value = localStorage.getItem("oneservice.operator") || "";
byId("token").value = sessionStorage.getItem("oneservice.token") || "";
byId("confirm-ok").addEventListener("click", confirmPending);
byId("confirm-cancel").addEventListener("click", () => byId("confirm").close());
byId("pin-button").addEventListener("click", () => {
  const doc = view.routing?.routing;
  if (doc) openDialog("pin", doc.active);
});
byId("unpin-button").addEventListener("click", () => openDialog("unpin", ""));
refresh();
setInterval(refresh, REFRESH_MS);

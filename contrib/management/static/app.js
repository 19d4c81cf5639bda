// The msgbus management page: reads RabbitMQ's management API of this server every second
// and draws the view named by the location's hash. No libraries, no build step.
"use strict";

const REFRESH_MS = 1000;
const COLORS = { publish: "#f60", deliver_get: "#1f77b4", ack: "#2ca02c" };
const view = document.getElementById("view");
let timer = null;

function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : String(child));
    }
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children) node.append(child);
  return node;
}

const enc = encodeURIComponent;
const exchangeLabel = (name) => name === "" ? "(AMQP default)" : name;
const rate = (stats, name) => (stats && stats[name + "_details"]) ? stats[name + "_details"].rate : 0;

async function api(path, options) {
  const response = await fetch(path, Object.assign({ credentials: "same-origin" }, options));
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    throw new Error(`${response.status} ${data ? data.reason || data.error : ""}`);
  }
  return data;
}

function status(text, error) {
  const node = document.getElementById("status");
  node.textContent = text;
  node.className = error ? "status error" : "status";
}

function table(headers, rows, rowAttrs) {
  return h("table", {},
    h("thead", {}, h("tr", {}, headers.map((title) => h("th", {}, title)))),
    h("tbody", {}, rows.map((cells, i) => h("tr", rowAttrs ? rowAttrs(i) : {},
      cells.map((cell) => typeof cell === "number"
        ? h("td", { class: "num" }, cell) : h("td", {}, cell))))));
}

function link(hash, text) { return h("a", { href: hash }, text); }

// -- views ---------------------------------------------------------------------------------

async function overview() {
  const [o, history] = await Promise.all([api("/api/overview"), api("/msgbus/history")]);
  document.getElementById("broker-name").textContent = o.cluster_name;
  const t = o.object_totals, q = o.queue_totals, m = o.message_stats || {};
  const card = (id, value, label) => h("div", { class: "card" },
    h("b", { id: "total-" + id }, value), h("small", {}, label));
  return [
    h("h2", {}, "Totals"),
    h("div", { class: "totals" },
      card("queues", t.queues, "queues"), card("exchanges", t.exchanges, "exchanges"),
      card("connections", t.connections, "connections"), card("channels", t.channels, "channels"),
      card("consumers", t.consumers, "consumers"), card("ready", q.messages_ready, "ready"),
      card("unacked", q.messages_unacknowledged, "unacked"),
      card("published", m.publish || 0, "published"),
      card("delivered", m.deliver_get || 0, "delivered / got")),
    h("h2", {}, `Message rates (per second, sampled every ${history.interval} s)`),
    chart(history.points),
    h("div", { class: "legend" }, Object.entries(COLORS).map(([name, color]) =>
      h("span", { style: `color:${color}` }, `■ ${name} ${rate(m, name)}/s`))),
    ...await queues(),
  ];
}

function chart(points) {
  const width = 720, height = 180, pad = 30;
  const names = Object.keys(COLORS);
  const top = Math.max(1, ...points.flatMap((p) => names.map((n) => p[n])));
  const box = svg("svg", { class: "chart", id: "rate-chart", width, height,
                           viewBox: `0 0 ${width} ${height}` });
  box.append(svg("text", { x: 4, y: 14 }, `${top.toFixed(1)}/s`));
  box.append(svg("line", { x1: pad, y1: height - pad, x2: width - 5, y2: height - pad,
                           stroke: "#ccc" }));
  const step = points.length > 1 ? (width - pad - 5) / (points.length - 1) : 0;
  for (const name of names) {
    const coords = points.map((p, i) =>
      `${(pad + i * step).toFixed(1)},${(height - pad - (p[name] / top) * (height - 2 * pad)).toFixed(1)}`);
    box.append(svg("polyline", { points: coords.join(" "), fill: "none",
                                 stroke: COLORS[name], "stroke-width": 2 }));
  }
  return box;
}

async function queues() {
  const list = await api("/api/queues");
  return [h("h2", {}, "Queues"), table(
    ["vhost", "name", "type", "ready", "unacked", "total", "consumers", "incoming /s",
     "deliver / get /s", "ack /s"],
    list.map((q) => [q.vhost, link(`#queue/${enc(q.vhost)}/${enc(q.name)}`, q.name), q.type,
      q.messages_ready, q.messages_unacknowledged, q.messages, q.consumers,
      rate(q.message_stats, "publish"), rate(q.message_stats, "deliver_get"),
      rate(q.message_stats, "ack")]),
    (i) => ({ "data-queue": list[i].name }))];
}

async function queue(vhost, name) {
  const base = `/api/queues/${enc(vhost)}/${enc(name)}`;
  const [q, bindings] = await Promise.all([api(base), api(base + "/bindings")]);
  const out = h("div", { class: "result", id: "get-result" });
  const form = h("form", { id: "get-form", onsubmit: async (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    try {
      const got = await api(base + "/get", { method: "POST", body: JSON.stringify({
        count: Number(data.get("count")), ackmode: data.get("ackmode"), encoding: "auto",
        truncate: 50000 }) });
      out.replaceChildren(got.length ? table(["#", "routing key", "redelivered", "payload"],
        got.map((m, i) => [i + 1, m.routing_key, String(m.redelivered), m.payload]))
        : "Queue is empty");
    } catch (error) { out.textContent = error.message; }
  } },
  h("label", {}, "Messages"), h("input", { name: "count", type: "number", value: 1, min: 1 }),
  h("label", {}, "Ack mode"), h("select", { name: "ackmode" },
    ["ack_requeue_true", "ack_requeue_false", "reject_requeue_true", "reject_requeue_false"]
      .map((mode) => h("option", { value: mode }, mode))),
  h("button", { type: "submit" }, "Get messages"));
  return [
    h("h2", {}, `Queue ${name}`),
    table(["ready", "unacked", "consumers", "durable", "arguments"],
      [[q.messages_ready, q.messages_unacknowledged, q.consumers, String(q.durable),
        JSON.stringify(q.arguments)]]),
    h("h2", {}, "Consumers"),
    table(["tag", "channel", "ack required", "prefetch"], q.consumer_details.map((c) =>
      [c.consumer_tag, c.channel_details.name, String(c.ack_required), c.prefetch_count])),
    h("h2", {}, "Bindings"), bindingsTable(bindings),
    h("h2", {}, "Get messages"), form, out,
  ];
}

async function exchanges() {
  const list = await api("/api/exchanges");
  return [h("h2", {}, "Exchanges"), table(
    ["vhost", "name", "type", "durable", "auto delete", "in /s", "out /s"],
    list.map((x) => [x.vhost,
      link(`#exchange/${enc(x.vhost)}/${enc(x.name || "amq.default")}`, exchangeLabel(x.name)),
      x.type, String(x.durable), String(x.auto_delete), rate(x.message_stats, "publish_in"),
      rate(x.message_stats, "publish_out")]))];
}

async function exchange(vhost, name) {
  const base = `/api/exchanges/${enc(vhost)}/${enc(name)}`;
  const [x, bindings] = await Promise.all([api(base), api(base + "/bindings/source")]);
  const published = h("div", { class: "result", id: "publish-result" });
  const publishForm = h("form", { id: "publish-form", onsubmit: async (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    try {
      const answer = await api(base + "/publish", { method: "POST", body: JSON.stringify({
        routing_key: data.get("routing_key"), payload: data.get("payload"),
        payload_encoding: "string",
        properties: data.get("persistent") ? { delivery_mode: 2 } : {} }) });
      published.textContent = answer.routed ? "Message published and routed."
        : "Message published, but not routed.";
    } catch (error) { published.textContent = error.message; }
  } },
  h("label", {}, "Routing key"), h("input", { name: "routing_key" }),
  h("label", {}, "Payload"), h("textarea", { name: "payload", rows: 3 }),
  h("label", {}, "Persistent"), h("input", { name: "persistent", type: "checkbox" }),
  h("button", { type: "submit" }, "Publish message"));
  const explained = h("div", { class: "result", id: "explain-result" });
  const explainForm = h("form", { id: "explain-form", onsubmit: async (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    const query = new URLSearchParams({ vhost, exchange: name,
      routing_key: data.get("routing_key"), headers: data.get("headers") || "" });
    try {
      const e = await api("/msgbus/explain?" + query);
      explained.replaceChildren(
        table(["#", "binding", "destination", "verdict", "why"], e.bindings.map((b) => [
          b.number, b.routing_key || JSON.stringify(b.arguments), b.destination,
          h("span", { class: b.matches ? "match" : "nomatch" }, b.matches ? "match" : "no match"),
          h("div", {}, b.steps.map((step) => h("div", {}, step)))])),
        h("p", {}, e.destinations.length ? `Goes to: ${e.destinations.join(", ")}`
          : "No binding matches: the message is dropped (or returned, if mandatory)."));
    } catch (error) { explained.textContent = error.message; }
  } },
  h("label", {}, "Routing key"), h("input", { name: "routing_key" }),
  h("label", {}, "Headers"), h("input", { name: "headers", placeholder: "format=pdf,x=1" }),
  h("button", { type: "submit" }, "Explain routing"));
  return [
    h("h2", {}, `Exchange ${exchangeLabel(x.name)} (${x.type})`),
    h("h2", {}, "Bindings from this exchange"), bindingsTable(bindings),
    h("h2", {}, "Publish message"), publishForm, published,
    h("h2", {}, "Where would a message go?"), explainForm, explained,
  ];
}

function bindingsTable(list) {
  return table(["source", "destination", "type", "routing key", "arguments"],
    list.map((b) => [exchangeLabel(b.source), b.destination, b.destination_type,
      b.routing_key, JSON.stringify(b.arguments)]));
}

async function bindings() {
  return [h("h2", {}, "Bindings"), bindingsTable(await api("/api/bindings"))];
}

async function connections() {
  const list = await api("/api/connections");
  return [h("h2", {}, "Connections"), table(
    ["name", "user", "vhost", "protocol", "client", "channels", "state"],
    list.map((c) => [c.name, c.user, c.vhost, c.protocol,
      (c.client_properties && c.client_properties.product) || "", c.channels, c.state]))];
}

async function channels() {
  const list = await api("/api/channels");
  return [h("h2", {}, "Channels"), table(
    ["name", "user", "consumers", "unacked", "prefetch", "confirm"],
    list.map((c) => [c.name, c.user, c.consumer_count, c.messages_unacknowledged,
      c.prefetch_count, String(c.confirm)]))];
}

async function topology() {
  const [xs, qs, bs] = await Promise.all(
    [api("/api/exchanges"), api("/api/queues"), api("/api/bindings")]);
  const shown = bs.filter((b) => b.source !== "");
  const used = new Set(shown.flatMap((b) => [b.source,
    b.destination_type === "exchange" ? b.destination : null]));
  const exchangeList = xs.filter((x) => x.name !== "" &&
    (used.has(x.name) || !x.name.startsWith("amq.")));
  const rowH = 46, width = 760;
  const height = Math.max(exchangeList.length, qs.length, 1) * rowH + 20;
  const box = svg("svg", { id: "topology", width, height, viewBox: `0 0 ${width} ${height}` });
  const at = {};
  exchangeList.forEach((x, i) => {
    const y = 20 + i * rowH;
    at["exchange:" + x.name] = { x: 40, y };
    box.append(svg("polygon", { points: `30,${y} 40,${y - 14} 190,${y - 14} 200,${y} 190,${y + 14} 40,${y + 14}`,
      fill: "#fff3e6", stroke: "#f60" }));
    box.append(svg("text", { x: 45, y: y + 4 }, `${x.name} (${x.type})`));
  });
  qs.forEach((q, i) => {
    const y = 20 + i * rowH;
    at["queue:" + q.name] = { x: 520, y };
    box.append(svg("rect", { x: 520, y: y - 14, width: 220, height: 28, rx: 10,
      fill: "#e8f1fb", stroke: "#1f77b4" }));
    box.append(svg("text", { x: 530, y: y + 4 }, `${q.name} [${q.messages}]`));
  });
  for (const b of shown) {
    const from = at["exchange:" + b.source], to = at[b.destination_type + ":" + b.destination];
    if (!from || !to) continue;
    const x1 = 200, x2 = to.x === 40 ? 30 : 520;
    const path = to.x === 40
      ? `M ${x1} ${from.y} C 300 ${from.y}, 300 ${to.y}, ${x2 + 170} ${to.y}`
      : `M ${x1} ${from.y} C 360 ${from.y}, 360 ${to.y}, ${x2} ${to.y}`;
    box.append(svg("path", { d: path, fill: "none", stroke: "#888" }));
    const label = b.routing_key || (Object.keys(b.arguments).length ? JSON.stringify(b.arguments) : "");
    const midX = to.x === 40 ? 300 : 360;  // the middle of the curve
    box.append(svg("text", { x: midX, y: (from.y + to.y) / 2 - 4, fill: "#444",
                             "text-anchor": "middle" }, label));
  }
  return [h("h2", {}, "Topology"), box];
}

// -- routing -------------------------------------------------------------------------------

const VIEWS = { overview, queues, queue, exchanges, exchange, bindings, connections, channels,
                topology };
const LIVE = new Set(["overview", "queues", "queue", "exchanges", "bindings", "connections",
                      "channels", "topology"]);

async function render(first) {
  const [name, ...args] = (location.hash.slice(1) || "overview").split("/");
  const draw = VIEWS[name] || overview;
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("active", a.getAttribute("href") === "#" + name);
  }
  if (!first && !LIVE.has(name)) return;
  try {
    const parts = await draw(...args.map(decodeURIComponent));
    // keep forms (and what they show) while the rest refreshes
    const keep = first ? null : view.querySelector("form");
    if (keep) {
      const tables = parts.filter((part) => part.tagName === "TABLE" || part.tagName === "DIV" && !part.id);
      const old = view.querySelectorAll(":scope > table, :scope > div:not([id])");
      tables.forEach((part, i) => old[i] && old[i].replaceWith(part));
    } else {
      view.replaceChildren(...parts);
    }
    status("updated " + new Date().toLocaleTimeString());
  } catch (error) {
    status(error.message, true);
  }
}

function start() {
  clearInterval(timer);
  render(true);
  timer = setInterval(() => render(false), REFRESH_MS);
}

window.addEventListener("hashchange", start);
start();

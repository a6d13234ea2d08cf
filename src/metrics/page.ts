// The status page (`GET /` on the metrics listener): one self-contained HTML document (inline
// style and script, nothing fetched from elsewhere) that polls `/status.json` every second and
// draws it with plain DOM: the nodes, each VIP's bucket map coloured by owner (handovers drawn
// as outlines and stripes), tracked services, real servers with their weights and the last
// ownership changes. Read-only: no forms, no buttons, every text put in with textContent.
// The DOM carries stable hooks (data-node/data-live, data-bucket/data-owner/data-state) for tests.
import { PAGE_STYLE } from './page-style.js';

const SCRIPT = `
"use strict";
var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];
var colours = {};
var MOVED_MS = 15000;
/** Per VIP and bucket: the owner last drawn, and where a bucket moved from and when (kept MOVED_MS). */
var lastOwner = {}, moved = {};
function noteMoves(map, at) {
  var last = lastOwner[map.vip], m = moved[map.vip] || (moved[map.vip] = {});
  map.owners.forEach(function (owner, i) {
    var before = last ? last[i] : undefined;
    if (before && before !== owner) m[i] = { from: before, at: at };
    if (m[i] && at - m[i].at > MOVED_MS) delete m[i];
  });
  lastOwner[map.vip] = map.owners.slice();
  return m;
}
function el(tag, attrs, text) {
  var e = document.createElement(tag);
  if (attrs) for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, String(attrs[k]));
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function add(parent, children) { children.forEach(function (c) { if (c) parent.appendChild(c); }); return parent; }
function row(cells, attrs) { return add(el("tr", attrs), cells.map(function (c) { return c instanceof Node ? add(el("td"), [c]) : el("td", null, c); })); }
function table(head, rows) {
  var t = el("table");
  add(t, [add(el("thead"), [add(el("tr"), head.map(function (h) { return el("th", null, h); }))]), add(el("tbody"), rows)]);
  return t;
}
function badge(ok, yes, no) { return el("span", { class: "badge " + (ok ? "ok" : "bad") }, ok ? yes : no); }
function section(id, title) { var s = el("section", { id: id, class: "card" }); s.appendChild(el("h2", null, title)); return s; }
function colourOf(node) { return node ? colours[node] || "#999" : "transparent"; }
function nodes(st) {
  var s = section("nodes", "Nodes");
  var list = el("ul", { class: "nodes" });
  st.nodes.forEach(function (n) {
    var li = el("li", { "data-node": n.name, "data-live": n.live, "data-local": n.id === st.local.id, class: n.live ? "live" : "dead" });
    var sw = el("span", { class: "swatch" }); sw.style.background = colourOf(n.name);
    add(li, [sw, el("strong", null, n.name), el("span", { class: "muted" }, " #" + n.id + " " + n.address + (n.id === st.local.id ? " (this node)" : "")),
      badge(n.live, "live", "dead"), el("span", { class: "muted" }, "weight " + n.weight),
      n.tracksDown.length ? el("span", { class: "badge bad" }, "down: " + n.tracksDown.join(", ")) : null]);
    list.appendChild(li);
  });
  return add(s, [list, st.disagreeing.length ? el("p", { class: "warn" }, "Configuration differs on: " + st.disagreeing.join(", ")) : null]);
}
function stateOf(map, i) {
  var local = map.local[i];
  if (local === "incoming" || local === "draining") return { state: local, from: local === "draining" ? "local" : "" };
  for (var p in map.peerDraining) if (map.peerDraining[p].indexOf(i + 1) >= 0) return { state: "draining", from: p };
  return { state: "owned", from: "" };
}
function bucketMap(st, map, v) {
  var s = el("div", { class: "vip", "data-vip": map.vip });
  var counts = Object.keys(v.perNode).map(function (n) { return n + " " + v.perNode[n]; }).join(" · ");
  add(s, [el("h3", null, map.vip), el("p", { class: "muted" }, v.backend + ", " + v.hashmode + ", " + v.buckets + " buckets: " + counts),
    el("p", { class: "muted" }, "this node: " + v.local.owned.length + " owned, " + v.local.incoming.length + " incoming, " + v.local.draining.length + " draining; kernel " +
      (v.kernelApplied ? "up to date" : "updating") + (v.leaseMs !== undefined ? "; lease " + (v.leaseMs / 1000).toFixed(1) + " s" : ""))]);
  var grid = el("div", { class: "buckets", role: "img", "aria-label": "bucket owners of " + map.vip });
  var m = noteMoves(map, Date.now());
  map.owners.forEach(function (owner, i) {
    var h = stateOf(map, i);
    var drainer = h.from === "local" ? st.local.name : h.from;
    var from = m[i] ? m[i].from : null;
    var c = el("span", { class: "b " + h.state + (from ? " moved" : ""), "data-bucket": i + 1, "data-owner": owner, "data-state": h.state, "data-drain": drainer || null,
      "data-moved-from": from, title: "bucket " + (i + 1) + ": " + (owner || "no owner") + (h.state !== "owned" ? " (" + h.state + (drainer ? ", " + drainer + " draining" : "") + ")" : "") +
        (from ? "; moved from " + from : "") }, i + 1);
    c.style.backgroundColor = colourOf(owner);
    if (drainer) c.style.borderColor = colourOf(drainer);
    if (from) c.style.boxShadow = "0 0 0 2px var(--card), 0 0 0 4px " + colourOf(from);
    grid.appendChild(c);
  });
  return add(s, [grid]);
}
function vips(st, maps) {
  var s = section("vips", "VIPs and buckets");
  maps.forEach(function (m, i) { s.appendChild(bucketMap(st, m, st.vips[i])); });
  var dup = st.splitBrain.duplicates;
  if (dup.length) s.appendChild(el("p", { class: "warn", "data-split-brain": dup.length }, "Split brain: " + dup.map(function (d) { return d.vip + " bucket " + d.bucket + " on " + d.nodes.join(" and "); }).join("; ")));
  return add(s, [legend()]);
}
function legend() {
  return add(el("p", { class: "legend muted" }), [el("span", { class: "b owned" }, "1"), el("span", null, " owned "), el("span", { class: "b incoming" }, "1"),
    el("span", null, " incoming (this node takes it) "), el("span", { class: "b draining" }, "1"), el("span", null, " draining (old owner keeps its flows; border: who) "),
    el("span", { class: "b moved" }, "1"), el("span", null, " moved in the last " + MOVED_MS / 1000 + " s (ring: where from)")]);
}
function tracks(st) {
  var s = section("tracks", "Tracked services");
  var t = st.tracks || [];
  if (!t.length) return add(s, [el("p", { class: "muted" }, "none on this node")]);
  return add(s, [table(["service", "kind", "state", "since", "on failure", "last"], t.map(function (x) {
    return row([x.name, x.kind, x.up === null ? el("span", { class: "badge" }, "unknown") : badge(x.up, "up", "down"), x.since, x.onFailure, x.lastMessage], { "data-track": x.name, "data-up": x.up });
  }))]);
}
function reals(st) {
  var s = section("reals", "Real servers");
  var vs = st.lvs || [];
  if (!vs.length) return add(s, [el("p", { class: "muted" }, "no ldirectord role on this node")]);
  vs.forEach(function (v) {
    add(s, [el("h3", null, v.virtualService), v.ipvsError ? el("p", { class: "warn" }, "IPVS refused: " + v.ipvsError) : null,
      table(["real server", "state", "weight", "failures", "last check"], v.realServers.map(function (r) {
        return row([r.address, badge(r.state === "up", "up", "down"), r.weight === null ? "not in table" : r.weight, r.failcount, r.message], { "data-real": r.address, "data-weight": r.weight });
      }))]);
  });
  return s;
}
function changes(list) {
  var s = section("changes", "Last ownership changes (this node)");
  if (!list.length) return add(s, [el("p", { class: "muted" }, "none since the daemon started")]);
  var ms = function (x) { return x === null ? "–" : x.toFixed(1) + " ms"; };
  return add(s, [table(["time", "VIP", "gained", "lost", "owned", "takeover", "kernel"], list.map(function (c) {
    return row([new Date(c.at).toLocaleTimeString(), c.vip, "+" + c.gained, "−" + c.lost, c.owned, ms(c.takeoverMs), ms(c.appliedMs)], { "data-change": c.at });
  }))]);
}
function render(data) {
  var st = data.status;
  st.nodes.forEach(function (n, i) { colours[n.name] = PALETTE[i % PALETTE.length]; });
  document.getElementById("cluster").textContent = st.cluster + " — " + st.local.name;
  var v = document.getElementById("view");
  v.textContent = "view " + st.view.epoch + " · " + st.view.live.length + "/" + st.nodes.length + " live · " + (st.view.quorate ? "quorate" : "NO QUORUM") + (st.joined ? "" : " · joining");
  v.className = st.view.quorate ? "" : "warn";
  document.getElementById("main").replaceChildren(nodes(st), vips(st, data.buckets), changes(data.changes), reals(st), tracks(st));
  document.body.setAttribute("data-epoch", st.view.epoch);
  document.body.setAttribute("data-updated", data.generatedAt);
}
function poll() {
  var stamp = document.getElementById("stamp");
  fetch("status.json", { cache: "no-store" }).then(function (r) {
    if (!r.ok) throw new Error("HTTP " + r.status);
    return r.json();
  }).then(function (data) {
    render(data);
    document.body.setAttribute("data-connection", "ok");
    stamp.textContent = "updated " + new Date(data.generatedAt).toLocaleTimeString();
  }).catch(function (e) {
    document.body.setAttribute("data-connection", "lost");
    stamp.textContent = "cannot reach the daemon (" + e.message + "); showing the last answer";
  }).finally(function () { setTimeout(poll, 1000); });
}
poll();
`;

export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>aavip status</title>
<style>${PAGE_STYLE}</style>
</head>
<body data-connection="waiting">
<header><h1 id="cluster">aavip</h1><p id="view"></p><p id="stamp" class="muted">loading…</p></header>
<main id="main"><noscript>This page draws /status.json with a script; that JSON holds everything it shows.</noscript></main>
<script>${SCRIPT}</script>
</body>
</html>
`;

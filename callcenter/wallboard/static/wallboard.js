/* Applies each `wallboard` server-sent event to the page in place (no reload).
   Times, durations and codes go through window.Human (/static/human.js). */
(function () {
  "use strict";
  var H = window.Human;
  var STATUS = {"totals.connection_rate": "connection_status", "totals.service_level_15s": "service_level_15s_status",
                "totals.service_level_80_20": "service_level_80_20_status", "totals.abandonment_rate": "abandonment_status",
                "totals.longest_wait": "longest_wait_status"};
  var legend = {};
  document.querySelectorAll("#wb-legend .key").forEach(function (el) {
    legend[el.classList.contains("green") ? "green" : el.classList.contains("amber") ? "amber" : "red"] = el.textContent;
  });
  function pick(obj, path) {
    return path.split(".").reduce(function (o, k) { return o == null ? undefined : o[k]; }, obj);
  }
  function fmt(value, kind) {
    if (value === null || value === undefined) return "–";
    if (kind === "%") return (value * 100).toFixed(1) + "%";
    if (kind === "s") return H.duration(value);
    return String(value);
  }
  function cell(row, text, numeric) {
    var td = document.createElement("td"); td.textContent = text;
    if (numeric) { td.className = "num"; }
    row.appendChild(td);
  }
  function level(tile, colour) {
    tile.classList.remove("green", "amber", "red");
    var badge = tile.querySelector(".level");
    if (!colour) { if (badge) { badge.remove(); } return; }
    tile.classList.add(colour);
    if (!badge) { badge = document.createElement("span"); badge.className = "level"; tile.querySelector(".k").appendChild(badge); }
    badge.textContent = legend[colour] || "";
  }
  function render(snap) {
    document.querySelectorAll("[data-key]").forEach(function (el) {
      el.textContent = fmt(pick(snap, el.dataset.key), el.dataset.fmt);
      var statusKey = STATUS[el.dataset.key];
      if (statusKey) { level(el.parentNode, snap.totals[statusKey]); }
    });
    var body = document.querySelector("#queues tbody");
    body.textContent = "";
    snap.queues.forEach(function (q) {
      var tr = document.createElement("tr");
      tr.dataset.queue = q.name;
      cell(tr, H.name("queue", q.name));
      [q.waiting, H.duration(q.longest_wait), q.offered, q.answered, q.abandoned,
       fmt(q.service_level_15s, "%")].forEach(function (v) { cell(tr, v, true); });
      body.appendChild(tr);
    });
    var depts = document.querySelector("#departments tbody");
    depts.textContent = "";
    var open = (snap.workorders && snap.workorders.open_by_department) || {};
    Object.keys(open).sort(function (a, b) { return open[b] - open[a]; }).forEach(function (d) {
      var tr = document.createElement("tr"); tr.dataset.department = d;
      cell(tr, H.name("department", d)); cell(tr, open[d], true); depts.appendChild(tr);
    });
    var paused = snap.agents.paused_by_reason || {};
    document.getElementById("paused-by").textContent =
      Object.keys(paused).map(function (r) { return H.name("reason", r) + " " + paused[r]; }).join(" · ") ||
      document.getElementById("paused-by").dataset.none || "–";
    document.getElementById("wb-at").textContent = H.clock(snap.at);
    document.getElementById("wallboard").dataset.version = snap.version;
  }
  render(JSON.parse(document.getElementById("wb-initial").textContent));
  var status = document.getElementById("wb-status");
  var source = new EventSource("/wallboard/events");
  source.addEventListener("open", function () { status.textContent = status.dataset.live; });
  source.addEventListener("error", function () { status.textContent = status.dataset.offline; });
  source.addEventListener("wallboard", function (e) { render(JSON.parse(e.data)); });
}());

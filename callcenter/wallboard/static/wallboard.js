/* Applies each `wallboard` server-sent event to the page in place (no reload). */
(function () {
  "use strict";
  var STATUS = {"totals.connection_rate": "connection_status", "totals.service_level_15s": "service_level_15s_status",
                "totals.service_level_80_20": "service_level_80_20_status", "totals.abandonment_rate": "abandonment_status",
                "totals.longest_wait": "longest_wait_status"};
  function pick(obj, path) {
    return path.split(".").reduce(function (o, k) { return o == null ? undefined : o[k]; }, obj);
  }
  function fmt(value, kind) {
    if (value === null || value === undefined) return "–";
    if (kind === "%") return (value * 100).toFixed(1) + "%";
    if (kind === "s") return String(Math.round(value));
    return String(value);
  }
  function cell(row, text) { var td = document.createElement("td"); td.textContent = text; row.appendChild(td); }
  function render(snap) {
    document.querySelectorAll("[data-key]").forEach(function (el) {
      el.textContent = fmt(pick(snap, el.dataset.key), el.dataset.fmt);
      var statusKey = STATUS[el.dataset.key];
      if (statusKey) {
        var tile = el.parentNode;
        tile.classList.remove("green", "amber", "red");
        tile.classList.add(snap.totals[statusKey]);
      }
    });
    var body = document.querySelector("#queues tbody");
    body.textContent = "";
    snap.queues.forEach(function (q) {
      var tr = document.createElement("tr");
      tr.dataset.queue = q.name;
      [q.name, q.waiting, Math.round(q.longest_wait), q.offered, q.answered, q.abandoned,
       fmt(q.service_level_15s, "%")].forEach(function (v) { cell(tr, v); });
      body.appendChild(tr);
    });
    var depts = document.querySelector("#departments tbody");
    depts.textContent = "";
    var open = (snap.workorders && snap.workorders.open_by_department) || {};
    Object.keys(open).forEach(function (d) {
      var tr = document.createElement("tr"); cell(tr, d); cell(tr, open[d]); depts.appendChild(tr);
    });
    var paused = snap.agents.paused_by_reason || {};
    document.getElementById("paused-by").textContent =
      Object.keys(paused).map(function (r) { return r + " " + paused[r]; }).join(" · ") || "–";
    document.getElementById("wb-at").textContent = snap.at;
    document.getElementById("wallboard").dataset.version = snap.version;
  }
  render(JSON.parse(document.getElementById("wb-initial").textContent));
  var status = document.getElementById("wb-status");
  var source = new EventSource("/wallboard/events");
  source.addEventListener("open", function () { status.textContent = status.dataset.live; });
  source.addEventListener("error", function () { status.textContent = status.dataset.offline; });
  source.addEventListener("wallboard", function (e) { render(JSON.parse(e.data)); });
}());

/* Applies each `calls` server-sent event to /supervisor/calls in place (no reload, text only). */
(function () {
  "use strict";
  var TEXT = JSON.parse(document.getElementById("calls-text").textContent);
  function say(key, fallback) { return TEXT[key] !== undefined ? TEXT[key] : (fallback || ""); }
  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    row.appendChild(td);
    return td;
  }
  function render(snap) {
    var body = document.querySelector("#calls tbody");
    body.textContent = "";
    snap.calls.forEach(function (c) {
      var tr = document.createElement("tr");
      tr.dataset.linkedid = c.linkedid;
      tr.dataset.phase = c.phase;
      var badge = document.createElement("span");
      badge.className = "phase phase-" + c.phase;
      badge.textContent = say("phase." + c.phase, c.phase);
      cell(tr, "").appendChild(badge);
      cell(tr, c.started_local);
      cell(tr, c.caller).className = "caller";
      cell(tr, window.Human.name("queue", c.queue));
      cell(tr, c.waited_seconds === null ? "" : window.Human.duration(c.waited_seconds));
      cell(tr, c.agent);
      cell(tr, c.acd_state ? say("acd." + c.acd_state, c.acd_state) : "");
      cell(tr, c.recording_active ? say("calls.yes") : say("calls.no"));
      cell(tr, c.ivr_active ? say("calls.yes") : say("calls.no"));
      cell(tr, c.channels);
      var link = document.createElement("a");
      link.href = "/supervisor/calls/" + encodeURIComponent(c.linkedid);
      link.textContent = say("calls.details");
      cell(tr, "").appendChild(link);
      body.appendChild(tr);
    });
    if (!snap.calls.length) {
      var empty = document.createElement("tr");
      empty.className = "empty";
      cell(empty, say("calls.none")).colSpan = 11;
      body.appendChild(empty);
    }
    document.getElementById("calls-total").textContent = snap.total;
    document.getElementById("calls-more").hidden = snap.total <= snap.calls.length;
    document.getElementById("calls-at").textContent = snap.at;
  }
  var status = document.getElementById("calls-status");
  var source = new EventSource("/supervisor/calls/events");
  source.addEventListener("open", function () { status.textContent = status.dataset.live; });
  source.addEventListener("error", function () { status.textContent = status.dataset.offline; });
  source.addEventListener("calls", function (e) { render(JSON.parse(e.data)); });
}());

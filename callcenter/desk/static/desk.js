// The agent desk: live updates over server-sent events, actions as JSON with the CSRF token.
// Text from the server is always inserted with textContent, never as HTML.
(function () {
  "use strict";
  var root = document.getElementById("desk");
  if (!root) { return; }
  var csrf = root.getAttribute("data-csrf");
  var text = JSON.parse(document.getElementById("desk-text").textContent);
  var draftTouched = {};
  var $ = function (id) { return document.getElementById(id); };

  function say(message, isError) {
    var box = $("desk-message");
    box.textContent = message;
    box.className = isError ? "notice error" : "notice";
  }

  function api(method, path, body) {
    var init = {method: method, credentials: "same-origin", headers: {"Accept": "application/json"}};
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRF-Token"] = csrf;
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (resp) {
      return resp.json().then(function (data) {
        if (!resp.ok) {
          var msg = text.error + ": " + (data.message || data.error_id);
          say(msg, true);
          throw new Error(data.error_id || "error");
        }
        return data;
      });
    });
  }

  function showState(state, reason) {
    var el = $("agent-state");
    el.setAttribute("data-state", state);
    el.textContent = text.states[state] || state;
    $("agent-reason").textContent = reason || "";
  }

  function list(id, items, render) {
    var ul = $(id);
    ul.textContent = "";
    (items || []).forEach(function (item) {
      var li = document.createElement("li");
      li.textContent = render(item);
      ul.appendChild(li);
    });
  }

  function showCall(call) {
    var info = $("call-info");
    if (!call) {
      info.hidden = true; $("no-call").hidden = false; info.setAttribute("data-call-id", "");
      return;
    }
    info.hidden = false; $("no-call").hidden = true;
    if (info.getAttribute("data-call-id") !== call.call_id) {
      draftTouched = {};
      $("order-result").textContent = "";
      $("order-result").removeAttribute("data-number");
      $("order-form").reset();
    }
    info.setAttribute("data-call-id", call.call_id);
    $("call-number").textContent = call.number || "";
    $("call-queue").textContent = call.queue || "";
    $("call-waited").textContent = call.waited_seconds === null ? "" : String(call.waited_seconds);
    $("call-state").textContent = call.state;
    if (call.transcript) { showTranscript(call.transcript); }
    if (call.draft) { fillDraft(call.draft); }
    if (call.similar) { showSimilar(call.similar); }
  }

  function showTranscript(lines) {
    var box = $("transcript");
    box.textContent = "";
    lines.forEach(function (line) {
      var p = document.createElement("p");
      p.className = "final";
      p.textContent = line;
      box.appendChild(p);
    });
    $("partial").textContent = "";
  }

  function fillDraft(draft) {
    ["type", "category", "district", "urgency", "address", "summary", "description"].forEach(function (name) {
      var el = $("f-" + name);
      if (el && !draftTouched[name] && draft[name] !== undefined && draft[name] !== null) {
        el.value = draft[name];
        el.setAttribute("data-draft", draft[name]);
      }
    });
  }

  function showSimilar(items) {
    list("similar", items, function (o) { return o.number + " · " + o.summary + " (" + o.score + ")"; });
  }

  function refresh() {
    return api("GET", "/agent/api/screen").then(function (screen) {
      showState(screen.agent.state, screen.agent.reason);
      showCall(screen.call);
      var h = screen.history || {};
      list("ivr-path", h.ivr_path, function (s) { return s.node + (s.keys ? " [" + s.keys + "]" : ""); });
      list("previous-orders", h.orders, function (o) { return o.number + " · " + o.status + " · " + o.summary; });
      list("previous-calls", h.calls, function (c) { return c.at + " · " + c.queue + " · " + c.outcome; });
    }).catch(function () {});
  }

  document.querySelectorAll("#state-panel button[data-action]").forEach(function (button) {
    button.addEventListener("click", function () {
      var action = button.getAttribute("data-action");
      var body = {action: action};
      if (action === "pause") { body.reason = $("pause-reason").value; }
      api("POST", "/agent/api/state", body).then(function (agent) {
        showState(agent.state, agent.reason);
        say("");
      }).catch(function () {});
    });
  });

  $("order-form").addEventListener("input", function (event) {
    if (event.target.name) { draftTouched[event.target.name] = true; }
  });

  function submitOrder(resolve) {
    var callId = $("call-info").getAttribute("data-call-id");
    var form = $("order-form");
    var fields = {};
    ["type", "category", "district", "urgency", "address", "caller_name", "summary", "description"]
      .forEach(function (name) {
        var value = form.elements[name].value.trim();
        if (value) { fields[name] = value; }
      });
    var body = {call_id: callId, fields: fields};
    if (resolve) { body.resolve = true; body.reply = $("f-reply").value; }
    api("POST", "/agent/api/order", body).then(function (result) {
      var out = $("order-result");
      out.textContent = text.submitted + ": " + result.order.number + " (" + result.order.status + ")";
      out.setAttribute("data-number", result.order.number);
      say("");
    }).catch(function () {});
  }

  $("order-form").addEventListener("submit", function (event) { event.preventDefault(); submitOrder(false); });
  $("btn-resolve").addEventListener("click", function () { submitOrder(true); });
  $("btn-transfer").addEventListener("click", function () {
    api("POST", "/agent/api/transfer", {line: $("transfer-line").value}).catch(function () {});
  });
  $("btn-hangup").addEventListener("click", function () {
    api("POST", "/agent/api/hangup", {}).catch(function () {});
  });
  $("kb-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var q = encodeURIComponent($("kb-query").value);
    var level = encodeURIComponent($("kb-level").value);
    api("GET", "/agent/api/knowledge?q=" + q + "&level=" + level).then(function (result) {
      list("kb-results", result.items, function (e) {
        return "[" + e.level_name[text.lang] + "] " + e.title[text.lang] + " — " + e.body[text.lang];
      });
    }).catch(function () {});
  });

  var events = new EventSource("/agent/events");
  events.addEventListener("state", function (e) {
    var data = JSON.parse(e.data);
    showState(data.state, data.reason);
  });
  ["ringing", "connected"].forEach(function (name) {
    events.addEventListener(name, function (e) { showCall(JSON.parse(e.data)); refresh(); });
  });
  events.addEventListener("ended", function (e) {
    var data = JSON.parse(e.data);
    if ($("call-info").getAttribute("data-call-id") === data.call_id) {
      if (data.state === "ended") { $("call-state").textContent = "ended"; } else { showCall(null); }
    }
  });
  events.addEventListener("transcript", function (e) {
    var data = JSON.parse(e.data);
    if (data.transcript) { showTranscript(data.transcript); }
    if (data.partial !== undefined) { $("partial").textContent = data.partial; }
  });
  events.addEventListener("draft", function (e) { fillDraft(JSON.parse(e.data).draft); });
  events.addEventListener("similar", function (e) { showSimilar(JSON.parse(e.data).similar); });
  events.addEventListener("order", function (e) {
    var data = JSON.parse(e.data);
    $("order-result").setAttribute("data-number", data.number);
  });
  refresh();
}());

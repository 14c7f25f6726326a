// The agent desk: live updates over server-sent events, actions as JSON with the CSRF token.
// Text from the server is always inserted with textContent, never as HTML.  Codes become names and
// times become the hotline's local time through window.Human (/static/human.js).
// Keyboard: F2 ready, F3 pause, F4 wrap-up done, Ctrl+Enter submit the order.
(function () {
  "use strict";
  var root = document.getElementById("desk");
  if (!root) { return; }
  var H = window.Human;
  var csrf = root.getAttribute("data-csrf");
  var text = JSON.parse(document.getElementById("desk-text").textContent);
  var draftTouched = {};
  var $ = function (id) { return document.getElementById(id); };
  // the hotline clock: its time at page load and how many of its seconds pass per real second
  var clock = {base: Date.parse(root.getAttribute("data-now")) || Date.now(), at: Date.now(),
               rate: parseFloat(root.getAttribute("data-rate")) || 1};
  var call = null;

  function hotlineNow() { return clock.base + (Date.now() - clock.at) * clock.rate; }
  function setClock(c) {
    if (c && c.now) { clock = {base: Date.parse(c.now), at: Date.now(), rate: c.rate || 1}; }
  }

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
    root.setAttribute("data-agent-state", state);
    el.textContent = text.states[state] || state;
    $("agent-reason").textContent = state === "paused" ? H.name("reason", reason) : "";
  }

  function list(id, items, render) {
    var ul = $(id);
    ul.textContent = "";
    if (!items || !items.length) {
      var empty = document.createElement("li"); empty.className = "empty"; empty.textContent = text.none;
      ul.appendChild(empty);
      return;
    }
    items.forEach(function (item) {
      var li = document.createElement("li");
      li.textContent = render(item);
      ul.appendChild(li);
    });
  }

  function tick() {
    var el = $("call-timer");
    if (!call) { el.textContent = ""; return; }
    if (call.answered_at && call.state !== "ended") {
      el.textContent = text.talking + " " + H.duration((hotlineNow() - Date.parse(call.answered_at)) / 1000);
    } else if (call.state === "ringing" && call.seen_at) {
      el.textContent = text.ringing_for + " " + H.duration((hotlineNow() - call.seen_at) / 1000);
    } else {
      el.textContent = "";
    }
  }

  function showCall(data) {
    var info = $("call-info");
    if (!data) {
      call = null;
      info.hidden = true; $("no-call").hidden = false; info.setAttribute("data-call-id", "");
      $("ivr-path").textContent = "";
      tick();
      return;
    }
    info.hidden = false; $("no-call").hidden = true;
    if (info.getAttribute("data-call-id") !== data.call_id) {
      draftTouched = {};
      $("order-result").textContent = "";
      $("order-result").removeAttribute("data-number");
      $("order-form").reset();
      data.seen_at = hotlineNow();
    } else if (call) {
      data.seen_at = call.seen_at;
    }
    call = data;
    info.setAttribute("data-call-id", data.call_id);
    $("call-number").textContent = data.number || "";
    $("call-queue").textContent = H.name("queue", data.queue);
    $("call-waited").textContent = data.waited_seconds === null ? "" : H.duration(data.waited_seconds);
    setCallState(data.state);
    if (data.transcript) { showTranscript(data.transcript); }
    if (data.draft) { fillDraft(data.draft); }
    if (data.similar) { showSimilar(data.similar); }
    tick();
  }

  function setCallState(state) {
    var el = $("call-state");
    el.setAttribute("data-state", state);
    el.textContent = text.call_states[state] || state;
    if (call) { call.state = state; }
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
    box.scrollTop = box.scrollHeight;
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
    $("similar-count").textContent = items && items.length ? "(" + items.length + ")" : "";
    list("similar", items, function (o) {
      return o.number + " · " + (o.summary || "") + (o.status ? " · " + H.name("status", o.status) : "");
    });
  }

  function showPath(steps) {
    var ol = $("ivr-path");
    ol.textContent = "";
    (steps || []).forEach(function (s) {
      var li = document.createElement("li");
      li.textContent = H.name("ivr", s.node) + (s.keys ? " · " + text.keys + " " + s.keys : "");
      ol.appendChild(li);
    });
  }

  function refresh() {
    return api("GET", "/agent/api/screen").then(function (screen) {
      setClock(screen.clock);
      showState(screen.agent.state, screen.agent.reason);
      showCall(screen.call);
      var h = screen.history || {};
      showPath(h.ivr_path);
      list("previous-orders", h.orders, function (o) {
        return o.number + " · " + H.name("status", o.status) + " · " + (o.summary || "");
      });
      list("previous-calls", h.calls, function (c) {
        return H.time(c.at) + " · " + H.name("queue", c.queue) + " · " + H.name("outcome", c.outcome);
      });
    }).catch(function () {});
  }

  function changeState(action) {
    var body = {action: action};
    if (action === "pause") { body.reason = $("pause-reason").value; }
    return api("POST", "/agent/api/state", body).then(function (agent) {
      showState(agent.state, agent.reason);
      say("");
    }).catch(function () {});
  }

  document.querySelectorAll("#state-panel button[data-action]").forEach(function (button) {
    button.addEventListener("click", function () { changeState(button.getAttribute("data-action")); });
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
      out.textContent = text.submitted + ": " + result.order.number + " · " + H.name("status", result.order.status);
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

  // history, similar orders and the knowledge base share one column as tabs
  var tabs = Array.prototype.slice.call(document.querySelectorAll("#side-panel [role=tab]"));
  function select(tab) {
    tabs.forEach(function (t) {
      var on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    });
  }
  tabs.forEach(function (tab, i) {
    tab.addEventListener("click", function () { select(tab); });
    tab.addEventListener("keydown", function (e) {
      var next = e.key === "ArrowRight" ? tabs[(i + 1) % tabs.length] : e.key === "ArrowLeft" ? tabs[(i + tabs.length - 1) % tabs.length] : null;
      if (next) { e.preventDefault(); select(next); next.focus(); }
    });
  });

  document.addEventListener("keydown", function (e) {
    var key = {F2: "ready", F3: "pause", F4: "wrap_up_done"}[e.key];
    if (key && !e.altKey && !e.ctrlKey && !e.metaKey) { e.preventDefault(); changeState(key); return; }
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); submitOrder(false); }
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
      if (data.state === "ended") { setCallState("ended"); tick(); } else { showCall(null); }
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
  setInterval(tick, 1000);
  refresh();
}());

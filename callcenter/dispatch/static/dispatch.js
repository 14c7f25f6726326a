/* The dispatch console: live inbox (server-sent events), bulk dispatch, the order's action forms
   (each posts JSON to /api/v1/workorders/{n}/{action}) and the keyboard shortcuts. */
(function () {
  "use strict";
  var csrfHolder = document.querySelector("[data-csrf]");
  var csrf = csrfHolder ? csrfHolder.dataset.csrf : "";

  function post(url, body) {
    return fetch(url, {method: "POST", credentials: "same-origin", body: JSON.stringify(body),
                       headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}})
      .then(function (resp) {
        return resp.json().then(function (data) { return {ok: resp.ok, status: resp.status, data: data}; });
      });
  }
  function showError(el, data) {
    el.textContent = (data.message || "") + " (" + (data.error_id || "error") + ")";
    el.dataset.errorId = data.error_id || "";
    el.hidden = false;
  }
  function typing(ev) {
    var t = ev.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }

  // -- inbox ------------------------------------------------------------------------------
  var inbox = document.getElementById("inbox");
  if (inbox) {
    var bucket = inbox.dataset.bucket;
    var cursor = 0;
    var rows = function () { return Array.prototype.slice.call(document.querySelectorAll("#inbox-rows tr.order")); };
    var mark = function () {
      rows().forEach(function (r, i) { r.classList.toggle("cursor", i === cursor); });
    };
    var refresh = function () {
      var picked = {};
      document.querySelectorAll("#inbox-rows input.pick:checked").forEach(function (c) { picked[c.value] = true; });
      fetch("/api/v1/dispatch/inbox?bucket=" + encodeURIComponent(bucket), {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (data) {
          Object.keys(data.counts).forEach(function (b) {
            var el = document.querySelector('[data-count="' + b + '"]');
            if (el) { el.textContent = data.counts[b]; }
          });
        });
      var query = new URLSearchParams(window.location.search);  // the pile and its filters, as shown
      query.set("bucket", bucket);
      query.set("fragment", "rows");
      query.delete("lang");
      fetch("/dispatch?" + query.toString(), {credentials: "same-origin"})
        .then(function (r) { return r.text(); })
        .then(function (html) {
          document.getElementById("inbox-rows").innerHTML = html;
          document.querySelectorAll("#inbox-rows input.pick").forEach(function (c) { c.checked = !!picked[c.value]; });
          cursor = Math.min(cursor, Math.max(rows().length - 1, 0));
          mark();
          document.body.dataset.refreshed = String(Date.now());
        });
    };
    var live = document.getElementById("live");
    var source = new EventSource("/dispatch/events");
    source.onopen = function () { live.dataset.state = "live"; live.textContent = live.dataset.live; };
    source.onerror = function () { live.dataset.state = "offline"; live.textContent = live.dataset.offline; };
    source.addEventListener("changed", refresh);
    window.setInterval(refresh, 30000);  // orders made by other processes (IVR, another web worker)
    mark();

    var form = document.getElementById("bulk-form");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var numbers = [];
      document.querySelectorAll("#inbox-rows input.pick:checked").forEach(function (c) { numbers.push(c.value); });
      var err = document.getElementById("bulk-error");
      err.hidden = true;
      if (!numbers.length) { return; }
      post("/api/v1/dispatch/bulk-dispatch", {numbers: numbers}).then(function (res) {
        if (res.ok) {
          var done = document.getElementById("bulk-done");
          done.hidden = false;
          done.dataset.count = String(res.data.dispatched.length);
          refresh();
        } else { showError(err, res.data); }
      });
    });

    document.addEventListener("keydown", function (ev) {
      if (typing(ev) || ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
      var all = rows();
      if (ev.key === "j" && cursor < all.length - 1) { cursor += 1; mark(); }
      else if (ev.key === "k" && cursor > 0) { cursor -= 1; mark(); }
      else if ((ev.key === "o" || ev.key === "Enter" || ev.key === "n") && all[cursor]) {
        window.location.href = all[cursor].querySelector("a.open").href;
      } else if (ev.key === "x" && all[cursor]) {
        var box = all[cursor].querySelector("input.pick");
        box.checked = !box.checked;
      } else { return; }
      ev.preventDefault();
    });
  }

  // -- one order ----------------------------------------------------------------------------
  function params(form) {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name) { return; }
      if (el.type === "radio") {
        if (el.checked) { out[el.name] = el.value === "true"; }
      } else if (el.tagName === "SELECT" && el.multiple) {
        out[el.name] = Array.prototype.filter.call(el.options, function (o) { return o.selected; })
          .map(function (o) { return o.value; });
      } else if (el.value !== "") {
        out[el.name] = el.value;
      }
    });
    if (out.approve === false) { delete out.department; delete out.co_departments; }
    return out;
  }
  document.querySelectorAll("form.api-action").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var err = document.getElementById("action-error");
      err.hidden = true;
      var url = "/api/v1/workorders/" + form.dataset.number + "/" + form.dataset.action;
      post(url, params(form)).then(function (res) {
        if (res.ok) {
          var done = document.getElementById("action-done");
          done.hidden = false;
          done.dataset.action = form.dataset.action;
          window.location.reload();
        } else { showError(err, res.data); }
      });
    });
  });
  if (document.getElementById("order-number")) {
    document.addEventListener("keydown", function (ev) {
      if (typing(ev) || ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
      if (ev.key === "n") {
        var next = document.getElementById("next-order");
        if (next) { window.location.href = next.href; }
      } else if (ev.key === "d") {
        var dispatch = document.getElementById("form-dispatch");
        if (dispatch) { dispatch.requestSubmit(); }
      } else if (ev.key === "s") {
        var first = document.querySelector("details.merge-preview");
        if (first) { first.open = true; first.scrollIntoView(); var b = first.querySelector("button"); if (b) { b.focus(); } }
      } else { return; }
      ev.preventDefault();
    });
  }
})();

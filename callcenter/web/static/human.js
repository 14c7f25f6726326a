// Times, durations and codes as people read them, for scripts that render the JSON APIs
// (the same rules as the template filters in callcenter/web/templates.py: the hotline's zone,
// to the minute — seconds on live timers —, "1 分 20 秒" / "1 min 20 s", codes by name).
(function () {
  "use strict";
  var ZONE = "Asia/Shanghai";
  var lang = (document.documentElement.getAttribute("lang") || "zh").slice(0, 2) === "en" ? "en" : "zh";
  var namesEl = document.getElementById("code-names");
  var names = namesEl ? JSON.parse(namesEl.textContent) : {};

  function parts(date, withSeconds, withDate) {
    var opts = {timeZone: ZONE, hour: "2-digit", minute: "2-digit", hourCycle: "h23"};
    if (withSeconds) { opts.second = "2-digit"; }
    if (withDate) { opts.year = "numeric"; opts.month = "2-digit"; opts.day = "2-digit"; }
    var out = {};
    new Intl.DateTimeFormat("en-GB", opts).formatToParts(date).forEach(function (p) { out[p.type] = p.value; });
    return out;
  }
  function toDate(value) {
    if (value === null || value === undefined || value === "") { return null; }
    var d = typeof value === "number" ? new Date(value * 1000) : new Date(value);
    return isNaN(d.getTime()) ? null : d;
  }
  var Human = {
    lang: lang,
    // 2026-11-23 17:05 in the hotline's zone
    time: function (value) {
      var d = toDate(value); if (!d) { return ""; }
      var p = parts(d, false, true);
      return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute;
    },
    // 17:05 (today)
    hm: function (value) {
      var d = toDate(value); if (!d) { return ""; }
      var p = parts(d, false, false);
      return p.hour + ":" + p.minute;
    },
    // 17:05:09 (live)
    clock: function (value) {
      var d = toDate(value); if (!d) { return ""; }
      var p = parts(d, true, false);
      return p.hour + ":" + p.minute + ":" + p.second;
    },
    duration: function (seconds) {
      if (seconds === null || seconds === undefined || seconds === "" || isNaN(seconds)) { return ""; }
      var total = Math.round(Math.abs(Number(seconds)));
      var sign = Number(seconds) < 0 ? "-" : "";
      var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
      var u = lang === "zh" ? ["小时", "分", "秒"] : ["h", "min", "s"];
      var out;
      if (h) { out = [[h, u[0]], [m, u[1]]]; }
      else if (m) { out = s ? [[m, u[1]], [s, u[2]]] : [[m, u[1]]]; }
      else { out = [[s, u[2]]]; }
      return sign + out.map(function (x) { return x[0] + " " + x[1]; }).join(" ");
    },
    name: function (kind, code) {
      if (code === null || code === undefined || code === "") { return ""; }
      var table = names[kind] || {};
      return Object.prototype.hasOwnProperty.call(table, code) ? table[code] : String(code);
    }
  };
  window.Human = Human;
}());

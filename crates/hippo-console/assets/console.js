// Hippo console: progressive enhancement only (every page works without it).
// 1. Warns before the session ends for inactivity and leaves for the sign-in page when it has.
// 2. Asks for confirmation before irreversible actions (forms with data-confirm).
"use strict";
(function () {
  var WARN_MS = 60 * 1000;
  function start() {
    var body = document.body;
    var idle = Date.parse(body.getAttribute("data-idle-expires") || "");
    var absolute = Date.parse(body.getAttribute("data-absolute-expires") || "");
    if (!isNaN(idle)) {
      var end = isNaN(absolute) ? idle : Math.min(idle, absolute);
      var warning = document.getElementById("timeout-warning");
      var stay = document.getElementById("stay");
      if (stay) {
        stay.addEventListener("click", function (e) {
          e.preventDefault();
          window.location.reload();
        });
      }
      var tick = function () {
        var left = end - Date.now();
        if (left <= 0) {
          window.location.assign("/console/signin?ended=1");
          return;
        }
        if (left <= WARN_MS && warning && warning.hidden) {
          warning.hidden = false;
        }
        window.setTimeout(tick, Math.min(1000, left));
      };
      tick();
    }
    var forms = document.querySelectorAll("form[data-confirm]");
    for (var i = 0; i < forms.length; i++) {
      forms[i].addEventListener("submit", function (e) {
        if (!window.confirm(this.getAttribute("data-confirm"))) {
          e.preventDefault();
        }
      });
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

// Idle session warning: shown before the server ends an idle session, so a
// signed-in officer can stay signed in. The server enforces the limit; this
// only warns and then moves the page to the sign-in screen.
(function () {
  "use strict";
  var body = document.body;
  var idle = parseInt(body.dataset.idleSeconds || "0", 10);
  var warn = parseInt(body.dataset.warningSeconds || "0", 10);
  var dialog = document.getElementById("session-warning");
  var form = document.getElementById("session-keepalive-form");
  if (!idle || !dialog || !form) { return; }
  var warnTimer = null;
  var endTimer = null;
  var lastFocus = null;

  function schedule() {
    window.clearTimeout(warnTimer);
    window.clearTimeout(endTimer);
    warnTimer = window.setTimeout(showWarning, Math.max(0, idle - warn) * 1000);
    endTimer = window.setTimeout(expire, idle * 1000 + 500);
  }
  function showWarning() {
    lastFocus = document.activeElement;
    if (typeof dialog.showModal === "function") { dialog.showModal(); } else { dialog.setAttribute("open", ""); }
    var stay = document.getElementById("session-stay");
    if (stay) { stay.focus(); }
  }
  function closeWarning() {
    if (typeof dialog.close === "function" && dialog.open) { dialog.close(); } else { dialog.removeAttribute("open"); }
    if (lastFocus && lastFocus.focus) { lastFocus.focus(); }
  }
  function expire() {
    window.location.assign(body.dataset.expiredUrl);
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    fetch(body.dataset.keepaliveUrl, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      if (response.ok) { closeWarning(); schedule(); } else { expire(); }
    }).catch(expire);
  });
  dialog.addEventListener("cancel", function (event) { event.preventDefault(); });
  schedule();
}());

// Import progress: asks the job's status every second and moves the bar; when
// the run ends, reloads the page, which then shows the result or the report.
// Without this script the page offers a refresh link instead.
(function () {
  "use strict";
  var box = document.getElementById("import-progress-box");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-status-url");
  var bar = document.getElementById("import-progress");
  var label = document.getElementById("import-progress-label");
  var text = document.getElementById("import-progress-text");
  var live = document.getElementById("import-progress-live");
  var interval = 1000;
  var failures = 0;
  var polls = 0;
  var lastQuarter = -1;
  var lastPhase = null;

  function show(data) {
    if (data.indeterminate) {
      bar.removeAttribute("value");
    } else {
      bar.max = Math.max(1, data.total);
      bar.value = Math.min(data.processed, bar.max);
    }
    bar.textContent = data.percent + "%";
    if (text && data.text) { text.textContent = data.text; }
    if (label && data.phase_label && data.phase !== lastPhase) {
      label.textContent = data.phase_label;
      if (lastPhase !== null && live) { live.textContent = data.phase_label; }
      lastPhase = data.phase;
    }
    // Screen readers hear a quarter at a time, not every second.
    var quarter = Math.floor(data.percent / 25);
    if (live && quarter !== lastQuarter && !data.indeterminate) {
      if (lastQuarter !== -1) { live.textContent = data.text; }
      lastQuarter = quarter;
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (response.redirected || response.status === 401 || response.status === 403 ||
            response.status === 404) {
          return null;  // signed out or gone: stop; the refresh link remains
        }
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (data) {
        if (data === null) { return; }
        failures = 0;
        polls += 1;
        box.setAttribute("data-polls", String(polls));  // lets a test wait for a poll
        show(data);
        if (data.running) {
          window.setTimeout(poll, interval);
        } else {
          window.location.reload();
        }
      })
      .catch(function () {
        // A busy server (on SQLite, other writes wait while an import writes): ask
        // again, less and less often.
        failures += 1;
        window.setTimeout(poll, Math.min(interval * (1 + failures), 10000));
      });
  }

  window.setTimeout(poll, interval);
}());

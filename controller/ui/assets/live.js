// Live refresh for the fwgit console: poll the page's stamp and reload when
// what the page shows has changed. Pages work without this script.
(function () {
  "use strict";
  var body = document.body;
  var url = body.getAttribute("data-live");
  var stamp = body.getAttribute("data-stamp");
  var every = parseInt(body.getAttribute("data-refresh"), 10);
  if (!url || !stamp || !(every > 0)) {
    return;
  }
  function busy() {
    var a = document.activeElement;
    return a && (a.tagName === "INPUT" || a.tagName === "SELECT" || a.tagName === "TEXTAREA");
  }
  function poll() {
    if (document.hidden || busy()) {
      return;
    }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" }, cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) {
        if (j && j.stamp && j.stamp !== stamp) {
          window.location.reload();
        }
      })
      .catch(function () {});
  }
  window.setInterval(poll, every);
})();

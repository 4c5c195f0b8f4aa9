// Panelist dashboard: live regions and copy buttons. No framework, nothing loaded from elsewhere.
(function () {
  "use strict";
  var every = parseInt(document.body.dataset.refresh || "2000", 10);

  // Each [data-live] element re-fetches its fragment. The server answers 304 when nothing changed
  // (ETag), so an idle dashboard costs headers only.
  function live(el) {
    var etag = null;
    var busy = false;
    function tick() {
      if (busy || document.hidden) return;
      busy = true;
      var headers = { "X-Requested-With": "panelist" };
      if (etag) headers["If-None-Match"] = etag;
      fetch(el.dataset.live, { headers: headers, credentials: "same-origin", cache: "no-cache" })
        .then(function (r) {
          if (r.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname); return; }
          if (r.status !== 200) return;
          etag = r.headers.get("ETag");
          return r.text().then(function (html) {
            var scroller = el.querySelector(".transcript");
            var atBottom = scroller && scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 8;
            el.innerHTML = html;
            el.dataset.updated = String(Date.now());
            var next = el.querySelector(".transcript");
            if (next && atBottom) next.scrollTop = next.scrollHeight;
          });
        })
        .catch(function () { /* offline for a moment: the next tick tries again */ })
        .then(function () { busy = false; });
    }
    setInterval(tick, every);
  }
  document.querySelectorAll("[data-live]").forEach(live);

  function copy(text, button) {
    var done = function () { var t = button.textContent; button.textContent = "Copied"; setTimeout(function () { button.textContent = t; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(text).then(done); }
    else { var ta = document.createElement("textarea"); ta.value = text; document.body.appendChild(ta); ta.select(); document.execCommand("copy"); ta.remove(); done(); }
  }
  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-copy]");
    if (b) { copy(b.dataset.copy, b); return; }
    var r = e.target.closest("[data-reveal]");
    if (r) {
      // The secret is never in the page: it is fetched on an admin's click and shown in place.
      fetch(r.dataset.reveal, { credentials: "same-origin" }).then(function (res) { return res.json(); }).then(function (j) {
        var secret = j && j.webhook && j.webhook.secret;
        if (!secret) return;
        var out = document.getElementById(r.dataset.target);
        out.textContent = secret;
        copy(secret, r);
      });
    }
  });
})();

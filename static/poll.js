// poll.js: the live status of a factor answered elsewhere (a keypad during
// a phone call). The page's form carries data-poll="<status URL>"; while
// the answer is pending this asks every two seconds, posts the form once
// the answer is in, and reloads when it failed so the page shows why.
// Without JavaScript the form's own button does the same.
(function () {
  "use strict";
  var form = document.querySelector("form[data-poll]");
  if (!form || !window.fetch) {
    return;
  }
  var url = form.getAttribute("data-poll");
  var delay = 2000;
  var tries = 0;
  function tick() {
    tries++;
    if (tries > 300) {
      return; // ten minutes: the challenge has expired anyway
    }
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (r) {
        return r.ok ? r.json() : { status: "pending" };
      })
      .then(function (s) {
        if (s.status === "answered") {
          form.submit();
        } else if (s.status === "failed") {
          window.location.reload();
        } else {
          window.setTimeout(tick, delay);
        }
      }, function () {
        window.setTimeout(tick, delay * 2);
      });
  }
  window.setTimeout(tick, delay);
})();

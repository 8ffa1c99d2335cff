// chat.js, part 18: live events.

// serial runs a loader one at a time: a call while it runs makes it run
// once more afterwards, so an older answer never overwrites a newer one.
function serial(load) {
  var running = false, again = false, timer = null;
  function go() {
    if (running) { again = true; return; }
    running = true;
    again = false;
    Promise.resolve().then(load).catch(function () {}).then(function () {
      running = false;
      if (again) go();
    });
  }
  return function () {
    clearTimeout(timer);
    timer = setTimeout(go, 100);
  };
}
var scheduleList = serial(function () { return loadList(); });
var refreshHistory = serial(function () { return loadHistory(false); });
function scheduleHistory() {
  if (state.inflight > 0) { state.refreshAfterSend = true; return; }
  refreshHistory();
}

function connectEvents() {
  if (!window.EventSource) return;
  var es = new EventSource("/api/v1/events?session=" + encodeURIComponent(SESSION));
  es.addEventListener("ready", function () {
    showBanner("");
    document.getElementById("app").setAttribute("data-live", "true");
    // After a gap one full reload, so nothing missed stays missing.
    if (connected) { scheduleList(); if (state.view) scheduleHistory(); }
    connected = true;
  });
  var onEvent = function (e) {
    var ev = null;
    try { ev = JSON.parse(e.data); } catch (x) { return; }
    if (!ev) return;
    applyEvent(e.type, ev);
  };
  es.addEventListener("message.created", onEvent);
  es.addEventListener("message.updated", onEvent);
  es.addEventListener("dialog.updated", onEvent);
  // An admin changed someone's rule: what this user sees may have changed.
  es.addEventListener("access.changed", onAccessChanged);
  es.onerror = function () {
    document.getElementById("app").setAttribute("data-live", "false");
    if (es.readyState === EventSource.CLOSED) {
      showBanner(T("offline"));
      setTimeout(connectEvents, 5000);
    } else {
      showBanner(T("offline"));
    }
  };
}

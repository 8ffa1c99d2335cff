// chat.js, part 21: start.

function start() {
  buildShell();
  document.addEventListener("pointerdown", unlockAudio, { once: true });
  document.addEventListener("keydown", unlockAudio, { once: true });
  var meP = loadMe().then(function (me) {
    if (me && me.preferences) state.prefs = me.preferences;
    document.getElementById("app").setAttribute("data-send-key", state.prefs.send_key);
  }).catch(function () {});
  Promise.all([meP, loadList()]).then(function () {
    if (state.mode === "individual") {
      var initial = null;
      state.dialogs.forEach(function (d) { if (d.initial) initial = d; });
      if (initial) openDialog(initial.id);
      else if (state.contacts.length) openContact(state.contacts[0].id);
      else { renderMessages(false); setListOpen(true); }
    } else {
      renderList();
      renderMessages(false);
      if (!isPhone() && state.dialogs.length) openDialog(state.dialogs[0].id);
    }
    state.ready = true;
    renderWriteFirst();
    document.getElementById("app").setAttribute("data-ready", "true");
  }).catch(function (e) {
    ui.empty.textContent = e && e.code ? errorText(e, "load_failed") : T("load_failed");
    document.getElementById("app").setAttribute("data-ready", "error");
  });
  connectEvents();
  setInterval(tickWaits, 30000);
}

function loadMe() {
  return api("GET", "/api/v1/me").then(function (me) {
    state.me = me;
    ui.adminBtn.hidden = !(me && me.user && me.user.is_admin);
    return me;
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();

// chat.js, part 16: preferences.

function buildPrefs() {
  var panel = el("div", { class: "prefs", id: "prefs-panel", role: "dialog", "aria-label": T("settings"), hidden: true });
  panel.addEventListener("click", function (e) { e.stopPropagation(); });
  return panel;
}

function renderPrefs() {
  var p = state.prefs;
  clear(ui.prefs);
  var radio = function (value, label) {
    var i = el("input", { type: "radio", name: "send_key", value: value, id: "pref-send-" + value });
    i.checked = p.send_key === value;
    i.addEventListener("change", function () { savePrefs({ send_key: value }); });
    return el("label", { class: "pref-radio", for: "pref-send-" + value }, i, el("span", { text: label }));
  };
  var check = function (key) {
    var i = el("input", { type: "checkbox", id: "pref-" + key, name: key });
    i.checked = !!p[key];
    i.addEventListener("change", function () { var o = {}; o[key] = i.checked; savePrefs(o); });
    return el("label", { class: "pref-check", for: "pref-" + key }, i, el("span", { text: T(key) }));
  };
  append(ui.prefs, [
    el("div", { class: "prefs-head" }, el("h2", { text: T("settings") }),
      el("button", { type: "button", class: "icon-btn prefs-close", "aria-label": T("close"), title: T("close"), text: "×", onclick: function () { ui.prefs.hidden = true; } })),
    el("fieldset", { class: "pref-group" }, el("legend", { text: T("send_key") }), radio("enter", T("send_enter")), radio("ctrl_enter", T("send_ctrl_enter"))),
    check("sound"), check("show_preview"), check("rich_links")
  ]);
}

function togglePrefs(e) {
  if (e) e.stopPropagation();
  if (ui.prefs.hidden) renderPrefs();
  ui.prefs.hidden = !ui.prefs.hidden;
}

// Preferences go one PUT at a time, the newest state last: two at once
// may be handled out of order, and the older would win on the server.
var prefs = { base: null, wanted: null, busy: false };

function savePrefs(change) {
  if (!prefs.busy) prefs.base = state.prefs; // what the server has
  var next = {};
  for (var k in state.prefs) next[k] = state.prefs[k];
  for (var c in change) next[c] = change[c];
  state.prefs = next;
  applyPrefs();
  prefs.wanted = next;
  if (!prefs.busy) sendPrefs();
}

function sendPrefs() {
  var want = prefs.wanted;
  prefs.wanted = null;
  prefs.busy = true;
  api("PUT", "/api/v1/me/preferences", want).then(function (p) {
    prefs.base = p || want;
    if (prefs.wanted) return sendPrefs();
    prefs.busy = false;
    state.prefs = prefs.base;
    applyPrefs();
  }).catch(function (e) {
    if (prefs.wanted) return sendPrefs(); // a newer change goes anyway
    prefs.busy = false;
    state.prefs = prefs.base;
    applyPrefs();
    renderPrefs();
    toast(errorText(e));
  });
}

function applyPrefs() {
  renderList();
  renderComposer();
  renderMessages(atBottom());
  document.getElementById("app").setAttribute("data-send-key", state.prefs.send_key);
}

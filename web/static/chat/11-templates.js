// chat.js, part 11: the reply window and WhatsApp Business templates.

//
// WhatsApp Business lets a free-form reply out within 24 hours of the
// client's last message, Instagram within 7 days; after that the server
// refuses it (409 window_closed). While the window is closed the composer
// says so and, on WhatsApp Business, offers the channel's approved
// templates: choose one, fill its fields, see the preview, send. While it
// is open the «Шаблоны» button opens the same list.

var windowTimer = null;

function windowChannel(d) {
  var t = d && d.channel && d.channel.transport;
  return t === "wapi" || t === "instagram";
}

function loadWindow() {
  var d = replyDialog();
  var w = state.win;
  if (!d || d.id !== w.dialogId || !windowChannel(d)) {
    w.data = null;
    renderWindow();
    return;
  }
  var my = ++w.seq;
  api("GET", "/api/v1/dialogs/" + d.id + "/templates").then(function (r) {
    if (my !== state.win.seq || d.id !== state.win.dialogId) return;
    var had = state.win.data;
    state.win.data = r;
    if (state.win.chosen && !chosenTemplate()) { state.win.chosen = null; state.win.values = []; }
    if (!had || JSON.stringify(had.templates) !== JSON.stringify(r.templates) || had.window_open !== r.window_open) renderTemplatePanel();
    renderWindow();
    // A dialog just made to write first (createAndOpen) starts in the list.
    if (state.win.focusFirst && !r.window_open && !isPhone()) {
      var first = ui.tplPanel.querySelector(".tpl-item");
      if (first) first.focus();
    }
    state.win.focusFirst = false;
    // An open window closes by itself: look again then.
    clearTimeout(windowTimer);
    var left = r.window_open && r.window_closes_at ? new Date(r.window_closes_at).getTime() - Date.now() : -1;
    if (left > 0 && left < 0x7fffffff) windowTimer = setTimeout(loadWindow, left + 1000);
  }).catch(function () { /* the composer stays as it is; a send says why */ });
}

function windowClosed() {
  var w = state.win.data;
  return !!(w && !w.window_open);
}

function isWABA(d) {
  return !!(d && d.channel && d.channel.transport === "wapi");
}

// renderWindow shows or hides the window's note, the template panel and
// the plain composer.
function renderWindow() {
  var d = replyDialog();
  var closed = !!(d && d.id === state.win.dialogId && windowClosed());
  var waba = isWABA(d);
  var readOnly = !!(d && d.can_write === false);
  ui.composer.classList.toggle("window-closed", closed);
  ui.input.hidden = closed;
  ui.send.hidden = closed;
  ui.attachBtn.hidden = closed;
  if (closed && attached && !attached.busy) removeAttached();
  ui.tplBtn.hidden = !waba || closed || readOnly;
  ui.tplBtn.setAttribute("aria-expanded", state.win.panel ? "true" : "false");
  if (closed) {
    var w = state.win.data;
    ui.windowNote.textContent = waba ? (w.window_closes_at ? T("window_closed_waba") : T("window_never_waba")) :
      (w.window_closes_at ? T("window_closed_ig") : T("window_never_ig"));
  }
  ui.windowNote.hidden = !closed;
  ui.hint.hidden = closed;
  ui.tplPanel.hidden = !(waba && state.win.data && (closed || state.win.panel) && !readOnly);
}

function toggleTemplates() {
  state.win.panel = !state.win.panel;
  if (state.win.panel && !state.win.data) loadWindow();
  renderTemplatePanel();
  renderWindow();
}

function chosenTemplate() {
  var w = state.win.data;
  if (!w || !state.win.chosen) return null;
  for (var i = 0; i < (w.templates || []).length; i++) if (w.templates[i].id === state.win.chosen) return w.templates[i];
  return null;
}

// fillTemplate is the text the client will read, as the server fills it:
// {{n}} takes the n-th value after those of a text header, an empty one
// stays as written.
function fillTemplate(text, values) {
  var highest = 0;
  String(text).replace(/\{\{\s*(\d+)\s*\}\}/g, function (all, n) { highest = Math.max(highest, +n); return all; });
  var off = Math.max(values.length - highest, 0);
  return String(text).replace(/\{\{\s*(\d+)\s*\}\}/g, function (all, n) {
    var v = values[off + (+n) - 1];
    return v && v.trim() ? v : all;
  });
}

function renderTemplatePanel() {
  clear(ui.tplPanel);
  var w = state.win.data;
  if (!w) return;
  var head = el("div", { class: "tpl-head" }, el("span", { class: "tpl-head-title", text: T("tpl_title") }));
  if (w.window_open) {
    head.appendChild(el("button", { type: "button", class: "link-btn tpl-close", id: "template-close", text: T("tpl_cancel"),
      onclick: function () { state.win.panel = false; state.win.chosen = null; renderTemplatePanel(); renderWindow(); } }));
  }
  ui.tplPanel.appendChild(head);
  var list = w.templates || [];
  if (!list.length) {
    ui.tplPanel.appendChild(el("div", { class: "tpl-note", id: "template-none", text: T("tpl_none") }));
    return;
  }
  var items = el("div", { class: "tpl-items", role: "listbox", "aria-label": T("tpl_choose") });
  list.forEach(function (t) {
    var sel = t.id === state.win.chosen;
    items.appendChild(el("button", { type: "button", role: "option", class: "tpl-item" + (sel ? " selected" : ""), "aria-selected": sel ? "true" : "false",
      "data-template-id": t.id, onclick: function () {
        state.win.chosen = t.id;
        state.win.values = [];
        for (var i = 0; i < t.variables; i++) state.win.values.push("");
        renderTemplatePanel();
        var first = document.getElementById("tpl-var-1");
        if (first) first.focus();
      } },
      el("span", { class: "tpl-item-name", text: t.name }),
      el("span", { class: "tpl-item-text", text: t.text })));
  });
  ui.tplPanel.appendChild(items);
  var t = chosenTemplate();
  if (!t) {
    ui.tplPanel.appendChild(el("div", { class: "tpl-note", text: T("tpl_choose") }));
    return;
  }
  var preview = el("div", { class: "tpl-preview-text", id: "tpl-preview", text: fillTemplate(t.text, state.win.values) });
  var error = el("div", { class: "tpl-error", id: "tpl-error", hidden: true });
  var fields = el("div", { class: "tpl-fields" });
  state.win.values.forEach(function (v, i) {
    var label = T("tpl_field").replace("{n}", String(i + 1));
    var input = el("input", { type: "text", class: "set-input tpl-var", id: "tpl-var-" + (i + 1), maxlength: "1024", placeholder: label, "aria-label": label });
    input.value = v;
    input.addEventListener("input", function () {
      state.win.values[i] = input.value;
      preview.textContent = fillTemplate(t.text, state.win.values);
      error.hidden = true;
    });
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.isComposing) { e.preventDefault(); sendChosenTemplate(error); }
    });
    fields.appendChild(input);
  });
  ui.tplPanel.appendChild(fields);
  ui.tplPanel.appendChild(el("div", { class: "tpl-preview" }, el("div", { class: "tpl-preview-label", text: T("tpl_preview") }), preview));
  ui.tplPanel.appendChild(error);
  ui.tplPanel.appendChild(el("div", { class: "tpl-actions" },
    el("button", { type: "button", class: "btn btn-primary btn-small tpl-send", id: "tpl-send", text: T("tpl_send"), onclick: function () { sendChosenTemplate(error); } })));
}

function sendChosenTemplate(errorBox) {
  var d = replyDialog();
  var t = chosenTemplate();
  if (!d || !t || d.id !== state.win.dialogId) return;
  var values = state.win.values.map(function (v) { return v.trim(); });
  if (values.some(function (v) { return !v; })) {
    errorBox.textContent = T("tpl_fill_all");
    errorBox.hidden = false;
    return;
  }
  var cid = randomID();
  var local = { id: "local-" + cid, local: true, dialog_id: d.id, channel: d.channel, direction: "out", kind: TEMPLATE_KIND, text: fillTemplate(t.text, values), attachments: [],
    author: state.me ? { id: state.me.user.id, name: state.me.user.name } : null, status: "pending", error: null,
    created_at: new Date().toISOString() };
  var seq = state.viewSeq;
  state.messages.push(local);
  renderMessages(true);
  state.win.chosen = null;
  state.win.values = [];
  if (!windowClosed()) state.win.panel = false;
  renderTemplatePanel();
  renderWindow();
  state.inflight++;
  api("POST", "/api/v1/dialogs/" + d.id + "/messages", { client_id: cid, template_id: t.id, template_values: values }).then(function (r) {
    if (seq !== state.viewSeq) return;
    settleLocal(local, r.message);
  }).catch(function (e) {
    if (seq !== state.viewSeq) return;
    local.status = "error";
    local.error = errorText(e, "send_failed");
    if (e.code === "template_not_found") loadWindow();
    renderMessages(atBottom());
  }).then(sendSettled);
}

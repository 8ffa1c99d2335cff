// chat.js, part 13: quick replies.

//
// "/" at the start of the composer opens the saved answers (the portal's
// and one's own), filtered by what follows it; arrows and Enter or a click
// put the chosen text in place of the "/query", for editing before it is
// sent; Esc closes. One's own are added, edited and deleted from the list
// (the portal's in the admins' settings).

var quick = { list: null, shown: [], sel: 0, open: false, seq: 0 };

function loadQuick() {
  var my = ++quick.seq;
  return api("GET", "/api/v1/quick-replies").then(function (r) {
    if (my !== quick.seq) return;
    quick.list = r.quick_replies || [];
    if (quick.open) renderQuick();
  }).catch(function (e) {
    if (my !== quick.seq) return;
    if (!quick.list) quick.error = errorText(e);
    if (quick.open) renderQuick();
  });
}

// quickQuery is what follows a "/" that starts the composer, up to the
// caret, or null when the composer does not ask for a quick reply.
function quickQuery() {
  var v = ui.input.value, end = ui.input.selectionEnd;
  if (v.charAt(0) !== "/" || end < 1 || ui.input.selectionStart !== end) return null;
  var qy = v.slice(1, end);
  return qy.indexOf("\n") >= 0 ? null : qy;
}

function updateQuick() {
  var qy = quickQuery();
  if (qy === null) { closeQuick(); return; }
  if (!quick.open) {
    quick.open = true;
    quick.sel = 0;
    loadQuick();
  }
  quick.query = qy;
  renderQuick();
}

function closeQuick() {
  if (!quick.open) return;
  quick.open = false;
  ui.quick.hidden = true;
  ui.input.removeAttribute("aria-activedescendant");
}

// matchQuick keeps the replies whose title or text holds every word of the
// query (any case), the ones whose title does first.
function matchQuick(list, qy) {
  var words = qy.toLowerCase().split(/\s+/).filter(Boolean);
  var inTitle = [], inText = [];
  list.forEach(function (r) {
    var title = r.title.toLowerCase(), all = title + "\n" + r.text.toLowerCase();
    if (!words.every(function (w) { return all.indexOf(w) >= 0; })) return;
    (words.every(function (w) { return title.indexOf(w) >= 0; }) ? inTitle : inText).push(r);
  });
  return inTitle.concat(inText);
}

function renderQuick() {
  clear(ui.quick);
  ui.quick.hidden = false;
  var head = el("div", { class: "quick-head" },
    el("span", { class: "quick-head-title", text: T("qr_title") }),
    el("button", { type: "button", class: "link-btn quick-add", id: "quick-add", text: "+ " + T("qr_add_mine"),
      onmousedown: function (e) { e.preventDefault(); }, onclick: function () { openQuickEditor(null); } }));
  ui.quick.appendChild(head);
  if (!quick.list) {
    ui.quick.appendChild(el("div", { class: "quick-note", text: quick.error || T("loading") }));
    return;
  }
  quick.shown = matchQuick(quick.list, quick.query || "");
  if (quick.sel >= quick.shown.length) quick.sel = Math.max(0, quick.shown.length - 1);
  if (!quick.shown.length) {
    ui.quick.appendChild(el("div", { class: "quick-note", id: "quick-empty", text: quick.list.length ? T("qr_nothing") : T("qr_none") }));
    return;
  }
  var items = el("div", { class: "quick-items" });
  quick.shown.forEach(function (r, i) {
    var mine = r.scope === "personal";
    var item = el("div", { class: "quick-item" + (i === quick.sel ? " selected" : ""), id: "quick-item-" + r.id, role: "option",
      "aria-selected": i === quick.sel ? "true" : "false", "data-id": r.id, "data-scope": r.scope,
      onmousedown: function (e) { e.preventDefault(); },
      onclick: function () { pickQuick(r); } },
    el("div", { class: "quick-main" },
      el("div", { class: "quick-title-line" },
        el("span", { class: "quick-title", text: r.title }),
        mine ? el("span", { class: "quick-badge", text: T("qr_mine") }) : null),
      el("div", { class: "quick-text", text: r.text })),
    mine ? el("button", { type: "button", class: "icon-btn quick-edit", title: T("qr_edit"), "aria-label": T("qr_edit"), text: "✎",
      onclick: function (e) { e.stopPropagation(); openQuickEditor(r); } }) : null);
    items.appendChild(item);
  });
  ui.quick.appendChild(items);
  var cur = document.getElementById("quick-item-" + quick.shown[quick.sel].id);
  ui.input.setAttribute("aria-activedescendant", cur.id);
  if (cur.scrollIntoView) cur.scrollIntoView({ block: "nearest" });
}

// quickKey handles the list's keys while it is open; true when it did.
function quickKey(e) {
  if (!quick.open || e.isComposing || e.keyCode === 229) return false;
  var n = quick.shown.length;
  switch (e.key) {
    case "Escape":
      e.preventDefault();
      e.stopPropagation();
      closeQuick();
      return true;
    case "ArrowDown":
    case "ArrowUp":
      if (!n) return false;
      e.preventDefault();
      quick.sel = (quick.sel + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
      renderQuick();
      return true;
    case "Enter":
    case "Tab":
      if (!n || e.shiftKey) return false;
      e.preventDefault();
      if (e.key === "Enter") swallowBreak = true; // as after a send: its line break may still come
      pickQuick(quick.shown[quick.sel]);
      return true;
  }
  return false;
}

function pickQuick(r) {
  var v = ui.input.value, end = ui.input.selectionEnd;
  ui.input.value = r.text + v.slice(end);
  closeQuick();
  ui.input.focus();
  ui.input.setSelectionRange(r.text.length, r.text.length);
  autoGrow();
}

// openQuickEditor adds (r null) or changes one of the user's own.
function openQuickEditor(r) {
  closeQuick();
  clear(ui.modal);
  var title = el("input", { type: "text", class: "set-input quick-edit-title", id: "quick-edit-title", maxlength: "100", placeholder: T("qr_title_ph"), "aria-label": T("qr_name") });
  var text = el("textarea", { class: "quick-edit-text", id: "quick-edit-text", rows: "5", maxlength: "4096", placeholder: T("qr_text_ph"), "aria-label": T("qr_text") });
  title.value = r ? r.title : "";
  text.value = r ? r.text : "";
  var err = el("div", { class: "modal-error", id: "quick-edit-error", hidden: true });
  var save = el("button", { type: "button", class: "btn btn-primary", id: "quick-edit-save", text: T("qr_save") });
  var del = r ? el("button", { type: "button", class: "btn btn-danger", id: "quick-edit-delete", text: T("qr_delete") }) : null;
  var done = function () {
    closeModal();
    loadQuick();
    ui.input.focus();
  };
  var fail = function (e) {
    save.disabled = false;
    if (del) del.disabled = false;
    err.textContent = errorText(e);
    err.hidden = false;
  };
  save.addEventListener("click", function () {
    if (!title.value.trim() || !text.value.trim()) { err.textContent = T("qr_required"); err.hidden = false; return; }
    save.disabled = true;
    var body = { title: title.value, text: text.value };
    var p = r ? api("PUT", "/api/v1/quick-replies/" + r.id, body) : api("POST", "/api/v1/quick-replies", { title: body.title, text: body.text, scope: "personal" });
    p.then(done, fail);
  });
  if (del) {
    del.addEventListener("click", function () {
      del.disabled = true;
      api("DELETE", "/api/v1/quick-replies/" + r.id).then(done, fail);
    });
  }
  ui.modal.appendChild(el("div", { class: "modal quick-editor", role: "dialog", "aria-modal": "true", "aria-label": r ? T("qr_edit") : T("qr_add_mine") },
    el("h2", { class: "modal-title", text: r ? T("qr_edit") : T("qr_add_mine") }),
    el("p", { class: "modal-text", text: T("qr_mine_hint") }),
    title, text, err,
    el("div", { class: "modal-buttons" }, save, del, el("button", { type: "button", class: "btn", text: T("cancel"), onclick: closeModal }))));
  ui.modal.hidden = false;
  title.focus();
}

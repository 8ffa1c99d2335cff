// chat.js, part 6: the dialog list.

function remember(list) {
  list.forEach(function (d) { state.byId[d.id] = d; });
}

function loadList() {
  if (state.mode === "individual") {
    return api("GET", "/api/v1/dialogs?entity_type=" + encodeURIComponent(ENTITY.type) + "&entity_id=" + ENTITY.id).then(function (r) {
      state.dialogs = r.dialogs || [];
      state.contacts = r.contacts || [];
      remember(state.dialogs);
      afterList();
      return r;
    });
  }
  var limit = Math.min(200, Math.max(LIST_PAGE, state.dialogs.length));
  return api("GET", "/api/v1/dialogs?limit=" + limit).then(function (r) {
    state.dialogs = r.dialogs || [];
    // The server counts every waiting dialog, not only the loaded rows.
    state.waitingTotal = typeof r.unanswered_count === "number" ? r.unanswered_count : null;
    state.next = r.next || null;
    remember(state.dialogs);
    afterList();
    return r;
  });
}

function loadMoreList() {
  if (state.mode !== "general" || !state.next || state.listLoading) return;
  state.listLoading = true;
  ui.listMore.hidden = false;
  api("GET", "/api/v1/dialogs?limit=" + LIST_PAGE + "&after=" + encodeURIComponent(state.next)).then(function (r) {
    var seen = {};
    state.dialogs.forEach(function (d) { seen[d.id] = true; });
    (r.dialogs || []).forEach(function (d) { if (!seen[d.id]) state.dialogs.push(d); });
    state.next = r.next || null;
    remember(r.dialogs || []);
    afterList();
  }).catch(function () {}).then(function () {
    state.listLoading = false;
    ui.listMore.hidden = true;
  });
}

function onListScroll() {
  if (ui.list.scrollTop + ui.list.clientHeight > ui.list.scrollHeight - 80) loadMoreList();
}

function afterList() {
  maybeBeep();
  renderList();
  updateTitle();
  renderHeader();
  renderComposer();
}

// maybeBeep plays the sound when a client wrote since the last look.
function maybeBeep() {
  var seen = {};
  var fresh = false;
  state.dialogs.forEach(function (d) {
    var at = d.last_message ? d.last_message.at : "";
    seen[d.id] = at;
    if (state.lastSeen && d.last_message && d.last_message.direction === "in" && state.lastSeen[d.id] !== at &&
        (!state.lastSeen[d.id] || timeKey(at) > timeKey(state.lastSeen[d.id]))) {
      fresh = true;
    }
  });
  state.lastSeen = seen;
  if (fresh && state.prefs.sound) beep();
}

function waitingCount() {
  var n = 0;
  state.dialogs.forEach(function (d) { if (d.unanswered) n++; });
  if (state.mode !== "individual" && state.waitingTotal != null && state.waitingTotal > n) n = state.waitingTotal;
  return n;
}

function updateTitle() {
  var n = waitingCount();
  var shown = n > 99 ? "99+" : String(n);
  var base = state.mode === "individual" ? T("individual_chat") : T("general_chat");
  var title = (n > 0 ? "(" + shown + ") " : "") + base;
  document.title = title;
  ui.count.textContent = shown;
  ui.count.hidden = n === 0;
  ui.count.title = T("unanswered");
  try { if (window.relay24Frame && relay24Frame.inFrame()) relay24Frame.setTitle(title); } catch (e) { /* outside the portal */ }
}

function renderRow(d) {
  var active = state.view && state.view.kind === "dialog" && state.view.id === d.id;
  var preview = state.prefs.show_preview && d.last_message ? d.last_message.text : "";
  var row = el("div", {
    class: "dialog-row" + (d.unanswered ? " unanswered" : "") + (active ? " active" : ""),
    role: "listitem", tabindex: "0", "data-dialog-id": d.id, "data-unanswered": d.unanswered ? "true" : "false",
    onclick: function () { openDialog(d.id); },
    onkeydown: function (e) { if (e.key === "Enter") openDialog(d.id); }
  },
    el("div", { class: "row-avatar" }, transportIcon(d.channel.transport)),
    el("div", { class: "row-main" },
      el("div", { class: "row-top" },
        el("span", { class: "row-name", text: clientName(d) }),
        el("span", { class: "row-time", text: d.last_message ? shortWhen(d.last_message.at) : "" })),
      el("div", { class: "row-channel" }, el("span", { class: "row-channel-name", text: d.channel.name || d.channel.transport })),
      preview ? el("div", { class: "row-preview" },
        d.last_message.direction === "out" ? el("span", { class: "row-you", text: T("you") + ": " }) : null,
        el("span", { class: "row-preview-text", text: preview })) : null),
    d.unanswered ? el("div", { class: "row-wait", title: T("unanswered") },
      envelopeIcon(true),
      el("span", { class: "row-waited", "data-since": d.unanswered_since || "", text: waited(d.unanswered_since) })) : null);
  return row;
}

function renderList() {
  if (state.search.results) { renderSearch(); return; }
  var keep = ui.list.scrollTop;
  clear(ui.list);
  if (state.mode === "individual") {
    var byContact = {};
    var orphans = [];
    state.dialogs.forEach(function (d) {
      if (d.contact) (byContact[d.contact.id] = byContact[d.contact.id] || []).push(d);
      else orphans.push(d);
    });
    state.contacts.forEach(function (c) {
      var current = state.view && state.view.contactId === c.id;
      var group = el("div", { class: "contact-group", "data-contact-id": c.id },
        el("button", { type: "button", class: "contact-head" + (current ? " active" : ""), "data-contact-id": c.id,
          onclick: function () { openContact(c.id); } }, el("span", { class: "contact-name", text: c.name })));
      (byContact[c.id] || []).forEach(function (d) { group.appendChild(renderRow(d)); });
      if (!(byContact[c.id] || []).length) group.appendChild(el("div", { class: "list-empty small", text: T("no_dialogs_contact") }));
      ui.list.appendChild(group);
    });
    orphans.forEach(function (d) { ui.list.appendChild(renderRow(d)); });
    if (!state.contacts.length && !orphans.length) ui.list.appendChild(el("div", { class: "list-empty", text: T("no_dialogs") }));
  } else {
    state.dialogs.forEach(function (d) { ui.list.appendChild(renderRow(d)); });
    if (!state.dialogs.length) ui.list.appendChild(el("div", { class: "list-empty", text: T("no_dialogs") }));
  }
  ui.list.scrollTop = keep;
}

function tickWaits() {
  Array.prototype.forEach.call(document.querySelectorAll(".row-waited"), function (s) {
    s.textContent = waited(s.getAttribute("data-since"));
  });
}

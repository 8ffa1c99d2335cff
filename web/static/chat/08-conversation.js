// chat.js, part 8: the conversation.

function currentDialog() {
  return state.view && state.view.kind === "dialog" ? state.byId[state.view.id] || null : null;
}

function currentContactId() {
  if (!state.view) return null;
  if (state.view.kind === "dialog") {
    var d = currentDialog();
    return d && d.contact ? d.contact.id : null;
  }
  return state.view.contactId;
}

function contactName(id) {
  for (var i = 0; i < state.contacts.length; i++) if (state.contacts[i].id === id) return state.contacts[i].name;
  for (var k in state.byId) {
    var d = state.byId[k];
    if (d.contact && d.contact.id === id) return d.contact.name;
  }
  return "";
}

function setView(v) {
  state.view = v;
  state.viewSeq++;
  state.messages = [];
  state.msgNext = null;
  state.loadingOlder = false;
  closeChannelsMenu();
  renderList();
  renderHeader();
  renderComposer();
  renderMessages(true);
  showConversation(true);
  if (state.mode === "individual") setListOpen(false);
}

function openDialog(id) {
  setView({ kind: "dialog", id: id });
  loadHistory(true);
  if (state.view && !isPhone()) ui.input.focus();
}

function openContact(contactId) {
  var first = null;
  state.dialogs.forEach(function (d) { if (!first && d.contact && d.contact.id === contactId) first = d; });
  if (first) { openDialog(first.id); return; }
  setView({ kind: "contact", contactId: contactId });
  ui.empty.textContent = T("no_dialogs_contact");
}

function openAll(contactId) {
  setView({ kind: "all", contactId: contactId });
  loadHistory(true);
}

function isPhone() {
  return window.matchMedia && window.matchMedia("(max-width: 700px)").matches;
}

function renderHeader() {
  var v = state.view;
  var d = currentDialog();
  clear(ui.convSub);
  ui.channelsToggle.hidden = !v;
  ui.clientName.disabled = false;
  if (!v) {
    ui.clientName.textContent = state.mode === "individual" ? T("individual_chat") : T("general_chat");
    ui.clientName.disabled = true;
    return;
  }
  if (v.kind === "dialog") {
    ui.clientName.textContent = d ? clientName(d) : "";
    ui.clientName.disabled = !(d && (d.contact || d.lead_id));
    if (d) {
      append(ui.convSub, [transportIcon(d.channel.transport),
        el("span", { class: "conv-channel", text: d.channel.name || d.channel.transport }),
        d.chat_id && d.chat_id !== clientName(d) ? el("span", { class: "conv-chat-id", text: d.chat_id }) : null]);
    }
  } else {
    ui.clientName.textContent = contactName(v.contactId);
    append(ui.convSub, el("span", { class: "conv-channel", text: v.kind === "all" ? T("all_dialogs_hint") : T("no_dialogs_contact") }));
  }
}

function openCard() {
  var path = null;
  var v = state.view;
  if (!v) return;
  var cid = currentContactId();
  if (cid) path = "/crm/contact/details/" + cid + "/";
  else {
    var d = currentDialog();
    if (d && d.lead_id) path = "/crm/lead/details/" + d.lead_id + "/";
  }
  if (path && window.relay24Frame) window.relay24Frame.openPath(path);
}

// replyDialog is the dialog the composer writes in: the open one, or in
// the all-dialogs thread the one chosen beside the composer.
function replyDialog() {
  var v = state.view;
  if (v && v.kind === "all") return v.replyTo ? state.byId[v.replyTo] || null : null;
  return currentDialog();
}

// contactDialogs are the known dialogs of a contact, oldest first.
function contactDialogs(contactId) {
  var out = [];
  for (var k in state.byId) {
    var d = state.byId[k];
    if (d.contact && d.contact.id === contactId) out.push(d);
  }
  return out.sort(function (a, b) { return a.id - b.id; });
}

// pickReply answers in the all-dialogs thread through the dialog the
// client wrote in last, until the user chooses another.
function pickReply() {
  var v = state.view;
  if (!v || v.kind !== "all" || v.replyChosen) return;
  var id = null;
  for (var i = state.messages.length - 1; i >= 0 && !id; i--) {
    if (state.messages[i].direction === "in" && state.byId[state.messages[i].dialog_id]) id = state.messages[i].dialog_id;
  }
  if (!id) {
    var ds = contactDialogs(v.contactId);
    if (ds.length) id = ds[ds.length - 1].id;
  }
  if (id !== v.replyTo) {
    v.replyTo = id;
    renderComposer();
  }
}

function closeReplyMenu() {
  ui.replyMenu.hidden = true;
  ui.replyBtn.setAttribute("aria-expanded", "false");
}

function toggleReplyMenu() {
  var v = state.view;
  if (!ui.replyMenu.hidden || !v || v.kind !== "all") { closeReplyMenu(); return; }
  clear(ui.replyMenu);
  ui.replyMenu.appendChild(el("div", { class: "menu-head", text: T("reply_channel") }));
  contactDialogs(v.contactId).forEach(function (d) {
    ui.replyMenu.appendChild(el("button", { type: "button", role: "menuitem", class: "menu-item reply-choice" + (d.id === v.replyTo ? " current" : ""), "data-dialog-id": d.id,
      onclick: function () {
        closeReplyMenu();
        v.replyTo = d.id;
        v.replyChosen = true;
        renderComposer();
        if (!isPhone()) ui.input.focus();
      } },
      transportIcon(d.channel.transport),
      el("span", { class: "menu-item-text" }, el("span", { class: "menu-item-name", text: d.channel.name || d.channel.transport }),
        el("span", { class: "menu-item-sub", text: d.chat_id }))));
  });
  ui.replyMenu.hidden = false;
  ui.replyBtn.setAttribute("aria-expanded", "true");
}

function renderComposer() {
  var all = !!(state.view && state.view.kind === "all");
  var d = replyDialog();
  var show = !!d;
  ui.composer.hidden = !show;
  ui.replyBtn.hidden = !all;
  if (!all) closeReplyMenu();
  clear(ui.replyBtn);
  if (all && d) {
    ui.replyBtn.setAttribute("data-dialog-id", d.id);
    append(ui.replyBtn, [transportIcon(d.channel.transport), el("span", { class: "reply-channel-name", text: d.channel.name || d.channel.transport }), chevronIcon()]);
  }
  // A dialog this user may not write in (his rule, or a channel that
  // cannot send now): the composer is off and says why, before a send
  // could fail.
  var readOnly = !!(d && d.can_write === false);
  ui.input.disabled = readOnly;
  ui.send.disabled = readOnly;
  ui.attachBtn.disabled = readOnly;
  if (readOnly) {
    showNote(cannotWrite(d));
    ui.composerNote.setAttribute("data-why", "cannot-write");
  } else if (ui.composerNote.getAttribute("data-why") === "cannot-write") {
    showNote("");
  }
  ui.hint.textContent = (state.prefs.send_key === "ctrl_enter" ? T("hint_ctrl_enter") : T("hint_enter")) + " · " + T("qr_hint");
  if (!show) closeQuick();
  clear(ui.noReply);
  var waiting = !!(d && d.unanswered);
  ui.noReply.hidden = all;
  ui.noReply.className = "no-reply " + (waiting ? "waiting" : "idle");
  ui.noReply.setAttribute("data-state", waiting ? "waiting" : "idle");
  ui.noReply.disabled = !waiting;
  ui.noReply.title = waiting ? T("no_reply_needed") : T("nothing_waits");
  ui.noReply.setAttribute("aria-label", ui.noReply.title);
  append(ui.noReply, envelopeIcon(waiting));
  var did = d ? d.id : null;
  if (did !== state.win.dialogId) {
    state.win = { dialogId: did, data: null, seq: state.win.seq + 1, panel: false, chosen: null, values: [] };
    renderTemplatePanel();
    loadWindow();
  }
  renderWindow();
}

// cannotWrite says why the composer of d is off.
function cannotWrite(d) {
  var ch = d.channel || {};
  if (ch.state && ch.state !== "active") return T("channel_cannot_send").replace("{channel}", ch.name || ch.transport || "");
  return T("read_only");
}

function historyURL(before) {
  var v = state.view;
  var q = "?limit=" + HISTORY_PAGE + (before ? "&before=" + encodeURIComponent(before) : "");
  if (v.kind === "all") return "/api/v1/contacts/" + v.contactId + "/messages" + q;
  return "/api/v1/dialogs/" + v.id + "/messages" + q;
}

// timeKey makes RFC 3339 UTC times comparable as strings (the fraction
// has a varying number of digits).
function timeKey(iso) {
  var m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(iso || "");
  if (!m) return new Date(iso).toISOString().replace("Z", "000000");
  return m[1] + "." + ((m[2] || "") + "000000000").slice(0, 9);
}

// sortMessages keeps the server's order: time, then id; a message being
// sent comes after the ones the server knows.
function sortMessages() {
  state.messages.sort(function (a, b) {
    var ka = timeKey(a.created_at), kb = timeKey(b.created_at);
    if (ka !== kb) return ka < kb ? -1 : 1;
    if (!!a.local !== !!b.local) return a.local ? 1 : -1;
    if (a.local) return 0;
    return a.id - b.id;
  });
}

// merge puts server messages into the open view, replacing by id.
function merge(list) {
  var idx = {};
  state.messages.forEach(function (m, i) { idx[m.id] = i; });
  list.forEach(function (m) {
    if (Object.prototype.hasOwnProperty.call(idx, m.id)) state.messages[idx[m.id]] = m;
    else { idx[m.id] = state.messages.length; state.messages.push(m); }
  });
  sortMessages();
}

function atBottom() {
  return ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 80;
}

function scrollToBottom() {
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

// loadHistory loads (first) or refreshes the newest page of the open view.
function loadHistory(first) {
  var v = state.view;
  if (!v || v.kind === "contact") return Promise.resolve();
  var seq = state.viewSeq;
  var stick = first || atBottom();
  return api("GET", historyURL(null)).then(function (r) {
    if (seq !== state.viewSeq) return;
    merge(r.messages || []);
    if (first) state.msgNext = r.next || null;
    renderMessages(stick);
    if (first && !v.focus) fillUp();
  }).catch(function (e) {
    if (seq !== state.viewSeq) return;
    if (first) {
      ui.empty.hidden = false;
      ui.empty.textContent = e.status === 404 ? T("no_messages") : T("load_failed");
    }
  });
}

// fillUp loads older pages until the list can scroll (so scrolling up works).
function fillUp() {
  if (state.msgNext && ui.messages.scrollHeight <= ui.messages.clientHeight + 10) loadOlder();
}

function loadOlder() {
  if (!state.msgNext || state.loadingOlder || !state.view) return;
  var seq = state.viewSeq;
  state.loadingOlder = true;
  ui.messages.classList.add("loading-older");
  api("GET", historyURL(state.msgNext)).then(function (r) {
    if (seq !== state.viewSeq) return;
    var before = ui.messages.scrollHeight, top = ui.messages.scrollTop;
    merge(r.messages || []);
    state.msgNext = r.next || null;
    renderMessages(false);
    ui.messages.scrollTop = top + (ui.messages.scrollHeight - before);
  }).catch(function () {}).then(function () {
    if (seq !== state.viewSeq) return;
    state.loadingOlder = false;
    ui.messages.classList.remove("loading-older");
    fillUp();
  });
}

function onMessagesScroll() {
  if (ui.messages.scrollTop < 60) loadOlder();
}

var STATUS_MARK = { pending: "◷", sent: "✓", delivered: "✓✓", read: "✓✓", error: "!" };

var URL_RE = /\bhttps?:\/\/[^\s<>"'«»]+[^\s<>"'«».,;:!?)\]]/g;

// textWithLinks renders text as text nodes and anchors (hrefs are checked).
function textWithLinks(text, out) {
  var last = 0, m;
  URL_RE.lastIndex = 0;
  while ((m = URL_RE.exec(text))) {
    if (m.index > last) out.appendChild(document.createTextNode(text.slice(last, m.index)));
    var href = safeURL(m[0]);
    if (href) {
      var a = el("a", { href: href, target: "_blank", rel: "noopener noreferrer nofollow", text: m[0] });
      out.appendChild(a);
    } else out.appendChild(document.createTextNode(m[0]));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.appendChild(document.createTextNode(text.slice(last)));
}

function renderMessage(m, showChannel) {
  var out = m.direction === "out";
  var body = el("div", { class: "msg-text" });
  // A file without a caption: the file speaks for itself, not «[Изображение]».
  var shown = m.placeholder && (m.attachments || []).length ? "" : (m.text || "");
  textWithLinks(shown, body);
  var bubble = el("div", { class: "msg-bubble" });
  if (showChannel && m.channel) {
    bubble.appendChild(el("div", { class: "msg-channel", "data-channel-id": m.channel.id },
      transportIcon(m.channel.transport), el("span", { text: m.channel.name || m.channel.transport })));
  }
  if (out && m.author && m.author.name) bubble.appendChild(el("div", { class: "msg-author", text: m.author.name }));
  if (shown) bubble.appendChild(body);
  (m.attachments || []).forEach(function (a, n) {
    var node = renderAttachment(a, !!m.local, m.local ? null : m.id, n);
    if (node) bubble.appendChild(node);
  });
  var cardURL = state.prefs.rich_links && !m.local && firstLink(shown);
  if (cardURL) bubble.appendChild(linkCard(cardURL));
  var metaRow = el("div", { class: "msg-meta" }, el("span", { class: "msg-time", text: clock(new Date(m.created_at)) }));
  if (out) {
    metaRow.appendChild(el("span", { class: "msg-status status-" + m.status, "data-status": m.status, title: T("status_" + m.status), text: STATUS_MARK[m.status] || "" }));
  }
  bubble.appendChild(metaRow);
  if (out && m.status === "error") {
    var errRow = el("div", { class: "msg-error" }, el("span", { class: "msg-error-text", text: m.error || T("send_failed") }));
    var rd = state.byId[m.dialog_id];
    if (m.retried || state.retried[m.id]) {
      errRow.appendChild(el("span", { class: "msg-retried", text: T("retried") }));
    } else if (state.view && state.view.kind === "dialog" && !(rd && rd.can_write === false) && m.kind !== TEMPLATE_KIND) {
      // (a template is sent again from the template list)
      errRow.appendChild(el("button", { type: "button", class: "retry-btn", text: T("retry"), onclick: function () { retry(m); } }));
    }
    bubble.appendChild(errRow);
  }
  return el("div", {
    class: "msg msg-" + (out ? "out" : "in") + (m.local ? " msg-local" : "") + (state.view && state.view.focus === m.id ? " msg-found" : ""),
    "data-message-id": m.id, "data-status": m.status, "data-direction": m.direction, "data-kind": m.kind || "text"
  }, bubble);
}

function renderMessages(stick) {
  var v = state.view;
  clear(ui.messages);
  renderWriteFirst();
  if (!v || v.kind === "contact") {
    ui.messages.hidden = true;
    ui.empty.hidden = false;
    ui.empty.textContent = v ? T("no_dialogs_contact") : (state.dialogs.length ? T("choose_dialog") : T("no_dialogs"));
    if (!ui.writeFirst.hidden) ui.empty.hidden = true; // the panel says it, with what to do
    return;
  }
  ui.messages.hidden = false;
  ui.empty.hidden = true;
  if (state.msgNext) ui.messages.appendChild(el("button", { type: "button", class: "load-older", text: T("load_older"), onclick: loadOlder }));
  if (!state.messages.length) {
    ui.messages.appendChild(el("div", { class: "messages-empty", text: T("no_messages") }));
  }
  var lastDay = null;
  state.messages.forEach(function (m) {
    var d = new Date(m.created_at);
    if (!lastDay || !sameDay(d, lastDay)) {
      ui.messages.appendChild(el("div", { class: "day-sep" }, el("span", { text: dayLabel(d) })));
      lastDay = d;
    }
    ui.messages.appendChild(renderMessage(m, v.kind === "all"));
  });
  if (stick) scrollToBottom();
  pickReply();
}

function onNoReply() {
  var d = currentDialog();
  if (!d || !d.unanswered) return;
  ui.noReply.disabled = true;
  api("POST", "/api/v1/dialogs/" + d.id + "/no-reply-needed").then(function (r) {
    if (r && r.dialog) {
      var nd = r.dialog;
      if (d.initial !== undefined) nd.initial = d.initial;
      state.byId[nd.id] = nd;
      state.dialogs = state.dialogs.map(function (x) { return x.id === nd.id ? nd : x; });
    }
    renderComposer();
    scheduleList();
    afterList();
  }).catch(function (e) {
    toast(e.code === "read_only" ? T("read_only") : errorText(e));
    renderComposer();
  });
}

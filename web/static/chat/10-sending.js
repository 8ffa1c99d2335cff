// chat.js, part 10: sending.

var swallowBreak = false;

function onComposerKey(e) {
  if (quickKey(e)) return;
  if (e.key !== "Enter" || e.isComposing || e.keyCode === 229) return;
  var ctrl = e.ctrlKey || e.metaKey;
  if (e.shiftKey) return; // a new line
  if (state.prefs.send_key === "ctrl_enter" ? ctrl : true) {
    e.preventDefault();
    swallowBreak = true;
    sendFromComposer();
  }
}

function autoGrow() {
  ui.input.style.height = "auto";
  ui.input.style.height = Math.min(ui.input.scrollHeight, 160) + "px";
}

function sendFromComposer() {
  var d = replyDialog();
  if (d && d.can_write === false) return;
  var text = ui.input.value;
  if (d && attached) {
    sendAttached(d.id, text);
    return;
  }
  if (!d || !text.trim()) return;
  ui.input.value = "";
  autoGrow();
  sendText(d.id, text);
}

function sendText(dialogID, text) {
  var cid = randomID();
  var d = state.byId[dialogID];
  var local = { id: "local-" + cid, local: true, dialog_id: dialogID, channel: d ? d.channel : null, direction: "out", kind: "text", text: text, attachments: [],
    author: state.me ? { id: state.me.user.id, name: state.me.user.name } : null, status: "pending", error: null,
    created_at: new Date().toISOString() };
  var seq = state.viewSeq;
  state.messages.push(local);
  renderMessages(true);
  state.inflight++;
  api("POST", "/api/v1/dialogs/" + dialogID + "/messages", { text: text, client_id: cid }).then(function (r) {
    if (seq !== state.viewSeq) return;
    settleLocal(local, r.message);
  }).catch(function (e) {
    if (seq !== state.viewSeq) return;
    local.status = "error";
    local.error = e.code === "read_only" ? T("read_only") : e.code === "text_too_long" ? T("too_long") : errorText(e, "send_failed");
    if (e.code === "read_only") showNote(T("read_only"));
    if (e.code === "window_closed") loadWindow();
    renderMessages(atBottom());
  }).then(sendSettled);
}

// sendSettled ends a send's request, the history refreshing when the last
// one ends if a live event asked for it meanwhile.
function sendSettled() {
  state.inflight--;
  if (state.inflight === 0 && state.refreshAfterSend) {
    state.refreshAfterSend = false;
    scheduleHistory();
  }
}

// settleLocal replaces a message shown while it was being sent with the
// server's; a live event may have brought it already, with a newer status.
function settleLocal(local, message) {
  removeLocal(local.id);
  var known = state.messages.some(function (m) { return m.id === message.id; });
  if (!known) merge([message]);
  renderMessages(true);
}

function removeLocal(id) {
  state.messages = state.messages.filter(function (m) { return m.id !== id; });
}

// retry sends a failed message again, text or file: a message that never
// reached the server goes as a new request; one the server refused later
// is re-sent by the server (POST /api/v1/messages/{id}/retry), as a new
// message keyed by the failed one, so a second click sends nothing more.
function retry(m) {
  state.retried[m.id] = true;
  if (m.local) {
    removeLocal(m.id);
    sendText(m.dialog_id, m.text);
    return;
  }
  var seq = state.viewSeq;
  renderMessages(atBottom());
  state.inflight++;
  api("POST", "/api/v1/messages/" + m.id + "/retry").then(function (r) {
    if (seq !== state.viewSeq || !r || !r.message) return;
    // The live stream may have brought the new message first, with a newer
    // status than this answer's "pending".
    if (!state.messages.some(function (x) { return x.id === r.message.id; })) merge([r.message]);
    renderMessages(true);
  }).catch(function (e) {
    delete state.retried[m.id];
    if (seq === state.viewSeq) renderMessages(atBottom());
    toast(e.code === "read_only" ? T("read_only") : fileError(e));
  }).then(sendSettled);
}

function showNote(text) {
  ui.composerNote.textContent = text;
  ui.composerNote.hidden = !text;
  ui.composerNote.removeAttribute("data-why");
}

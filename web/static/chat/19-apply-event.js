// chat.js, part 19: applying an event in place.

// An event carries the changed dialog row (and the message) as this user
// may see them: the page moves the row and appends the message without
// reloading the list or the history.

// dialogBefore is the list's order: unanswered first, then newest (no
// message last), then the higher id, as the server sorts.
function dialogBefore(a, b) {
  if (!!a.unanswered !== !!b.unanswered) return !!a.unanswered;
  var ta = a.last_message ? timeKey(a.last_message.at) : null;
  var tb = b.last_message ? timeKey(b.last_message.at) : null;
  if (ta !== tb) {
    if (ta === null) return false;
    if (tb === null) return true;
    return ta > tb;
  }
  return a.id > b.id;
}

// allWaitingListed: every waiting dialog of the general chat is in the
// loaded rows (they come first), so a row not listed was not waiting.
function allWaitingListed() {
  if (!state.next) return true;
  for (var i = 0; i < state.dialogs.length; i++) if (!state.dialogs[i].unanswered) return true;
  return false;
}

// belongsHere: whether an individual chat shows a dialog it did not list.
function belongsHere(d) {
  if (ENTITY.type === "lead" && d.lead_id === ENTITY.id) return true;
  if (!d.contact) return false;
  for (var i = 0; i < state.contacts.length; i++) if (state.contacts[i].id === d.contact.id) return true;
  return false;
}

var recountWaiting = serial(function () {
  return api("GET", "/api/v1/dialogs?limit=1").then(function (r) {
    if (typeof r.unanswered_count === "number") state.waitingTotal = r.unanswered_count;
    updateTitle();
  });
});

// applyDialog puts a changed row where the order puts it and keeps the
// waiting count: counted here when the row's old state is known, else
// recounted (one request, at most one per event).
function applyDialog(d) {
  var old = state.byId[d.id];
  var at = -1;
  for (var i = 0; i < state.dialogs.length; i++) if (state.dialogs[i].id === d.id) { at = i; break; }
  if (state.mode === "individual" && at < 0 && !belongsHere(d)) return;
  if (old && old.initial !== undefined) d.initial = old.initial;
  if (state.mode === "general" && state.waitingTotal != null) {
    var was = old ? !!old.unanswered : (allWaitingListed() ? false : null);
    var now = !!d.unanswered;
    if (was === null || (was && !now && state.waitingTotal > 99)) recountWaiting();
    else if (was !== now) state.waitingTotal = Math.min(100, Math.max(0, state.waitingTotal + (now ? 1 : -1)));
  }
  state.byId[d.id] = d;
  if (at >= 0) state.dialogs.splice(at, 1);
  var pos = state.dialogs.length;
  for (var j = 0; j < state.dialogs.length; j++) if (dialogBefore(d, state.dialogs[j])) { pos = j; break; }
  // A row sorting past the loaded page comes with the next page.
  if (pos < state.dialogs.length || !state.next || state.mode !== "general") state.dialogs.splice(pos, 0, d);
  afterList();
}

// applyMessage adds or updates the event's message in the open view.
function applyMessage(ev) {
  var v = state.view, m = ev.message;
  if (!v || !m) return;
  if (v.kind === "dialog" && v.id !== m.dialog_id) return;
  if (v.kind === "all" && !(ev.dialog && ev.dialog.contact && ev.dialog.contact.id === v.contactId)) return;
  if (v.kind !== "dialog" && v.kind !== "all") return;
  var stick = atBottom();
  if (m.client_id) removeLocal("local-" + m.client_id);
  merge([m]);
  renderMessages(stick);
  // The client wrote: the window (re)opens.
  if (m.direction === "in" && m.dialog_id === state.win.dialogId) loadWindow();
}

function applyEvent(type, ev) {
  if (!ev.dialog) {
    // A server that sends only ids: reload as before.
    scheduleList();
    if (concernsView(ev)) scheduleHistory();
    return;
  }
  applyDialog(ev.dialog);
  if (type === "message.created" || type === "message.updated") {
    if (ev.message) applyMessage(ev);
    else if (concernsView(ev)) scheduleHistory();
  }
}

function concernsView(ev) {
  var v = state.view;
  if (!v || !ev) return false;
  if (v.kind === "dialog") return ev.dialog_id === v.id;
  if (v.kind === "all") {
    var d = state.byId[ev.dialog_id];
    return !d || (d.contact && d.contact.id === v.contactId);
  }
  return false;
}

// connected: a stream was open before, so a new one follows a gap (a drop,
// a restart, a stream closed for being slow) in which events were lost.
var connected = false;

// onAccessChanged reloads what the rule decides: the list, the user's own
// access, and whether the open dialog is still his to see.
function onAccessChanged() {
  scheduleList();
  loadMe().catch(function () {});
  var v = state.view;
  if (!v || v.kind !== "dialog") return;
  var seq = state.viewSeq;
  api("GET", "/api/v1/dialogs/" + v.id).then(function () {
    if (seq === state.viewSeq) scheduleHistory();
  }).catch(function (e) {
    if (seq !== state.viewSeq || (e.status !== 403 && e.status !== 404)) return;
    closeView();
  });
}

// closeView leaves a dialog the user may no longer see.
function closeView() {
  state.view = null;
  state.viewSeq++;
  state.messages = [];
  state.msgNext = null;
  closeChannelsMenu();
  renderList();
  renderHeader();
  renderComposer();
  renderMessages(false);
  showConversation(false);
}

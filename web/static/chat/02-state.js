// chat.js, part 2: state.

var state = {
  mode: ENTITY ? "individual" : "general",
  me: null,
  prefs: { send_key: "enter", sound: true, show_preview: true, rich_links: true },
  dialogs: [], // the list shown on the left, in the server's order
  next: null, // general chat: cursor of the list's next page
  contacts: [], // individual chat: the entity's contacts
  byId: {}, // every dialog seen, by id
  lastSeen: null, // dialog id → last_message.at, for the new-message sound
  view: null, // {kind: "dialog", id} | {kind: "all", contactId} | {kind: "contact", contactId}
  messages: [], // of the open view, oldest → newest
  msgNext: null, // cursor of the older page
  loadingOlder: false,
  inflight: 0, // POSTs of messages under way
  refreshAfterSend: false,
  retried: {}, // message ids already retried
  viewSeq: 0, // bumps on every view change so late answers are dropped
  search: { q: "", results: null, seq: 0, timer: null }, // general chat: the search box and its answer
  // the reply dialog's customer-service window and templates (WhatsApp
  // Business, Instagram): GET /api/v1/dialogs/{id}/templates
  win: { dialogId: null, data: null, seq: 0, panel: false, chosen: null, values: [] }
};

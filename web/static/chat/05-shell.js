// chat.js, part 5: shell.

var ui = {};

function buildShell() {
  var app = document.getElementById("app");
  clear(app);
  var individual = state.mode === "individual";

  ui.listTitle = el("h1", { class: "list-title", text: individual ? T("contacts") : T("general_chat") });
  ui.count = el("span", { class: "list-count", id: "waiting-count", hidden: true });
  ui.list = el("div", { class: "dialog-list", id: "dialog-list", role: "list" });
  ui.listMore = el("div", { class: "list-more", hidden: true, text: T("loading") });
  ui.sidebar = el("aside", { class: "sidebar", id: "sidebar" },
    el("header", { class: "sidebar-head" },
      ui.listTitle, ui.count,
      ui.adminBtn = el("button", { type: "button", class: "admin-settings-btn", id: "settings-btn", title: T("admin_settings_title"), hidden: true, onclick: openSettings },
        slidersIcon(), el("span", { class: "admin-settings-label", text: T("admin_settings") })),
      el("button", { type: "button", class: "icon-btn prefs-toggle", title: T("settings"), "aria-label": T("settings"), onclick: togglePrefs }, gearIcon())),
    individual ? null : buildSearch(),
    ui.list, ui.listMore);
  ui.list.addEventListener("scroll", onListScroll);

  ui.back = el("button", { type: "button", class: "icon-btn back-btn", id: "back-btn", title: T("back"), "aria-label": T("back"), onclick: goBack }, backIcon());
  ui.burger = individual ? el("button", { type: "button", class: "icon-btn hamburger", id: "hamburger", title: T("menu"), "aria-label": T("menu"), "aria-expanded": "false", onclick: toggleList }, burgerIcon()) : null;
  ui.clientName = el("button", { type: "button", class: "client-name", id: "client-name", title: T("open_card"), onclick: openCard });
  ui.channelsToggle = el("button", { type: "button", class: "icon-btn channels-toggle", id: "channels-toggle", title: T("channels"), "aria-label": T("channels"), "aria-expanded": "false", onclick: toggleChannelsMenu }, chevronIcon());
  ui.convSub = el("div", { class: "conv-sub", id: "conv-sub" });
  ui.channelsMenu = el("div", { class: "menu channels-menu", id: "channels-menu", role: "menu", hidden: true });
  ui.convHead = el("header", { class: "conv-head" },
    ui.back, ui.burger,
    el("div", { class: "conv-title" },
      el("div", { class: "conv-title-line" }, ui.clientName, ui.channelsToggle),
      ui.convSub),
    individual ? el("button", { type: "button", class: "icon-btn prefs-toggle", title: T("settings"), "aria-label": T("settings"), onclick: togglePrefs }, gearIcon()) : null,
    ui.channelsMenu);

  ui.messages = el("div", { class: "messages", id: "messages", "aria-live": "polite" });
  ui.messages.addEventListener("scroll", onMessagesScroll);
  ui.empty = el("div", { class: "conv-empty", id: "conv-empty", text: T("loading") });
  ui.writeFirst = el("div", { class: "write-first", id: "write-first", hidden: true });

  ui.input = el("textarea", { id: "composer-input", class: "composer-input", rows: "1", placeholder: T("placeholder"), "aria-label": T("placeholder") });
  ui.input.addEventListener("keydown", onComposerKey);
  // Some keyboards (and synthetic input) deliver the Enter's character
  // apart from its keydown: after a send, swallow that line break.
  ui.input.addEventListener("beforeinput", function (e) {
    if (swallowBreak && (e.inputType === "insertLineBreak" || e.inputType === "insertParagraph")) e.preventDefault();
  });
  ui.input.addEventListener("keypress", function (e) { if (swallowBreak && e.key === "Enter") e.preventDefault(); });
  ui.input.addEventListener("keyup", function (e) { if (e.key === "Enter") swallowBreak = false; });
  ui.input.addEventListener("input", autoGrow);
  ui.input.addEventListener("input", updateQuick);
  ui.input.addEventListener("click", updateQuick);
  ui.noReply = el("button", { type: "button", class: "no-reply", id: "no-reply", onclick: onNoReply });
  ui.send = el("button", { type: "button", class: "send-btn", id: "send-btn", title: T("send"), "aria-label": T("send"), onclick: function () { sendFromComposer(); } }, sendIcon());
  ui.hint = el("div", { class: "composer-hint", id: "composer-hint" });
  ui.composerNote = el("div", { class: "composer-note", id: "composer-note", hidden: true });
  ui.quick = el("div", { class: "quick-menu", id: "quick-replies", role: "listbox", "aria-label": T("qr_title"), hidden: true });
  buildAttach();
  ui.replyBtn = el("button", { type: "button", class: "reply-channel", id: "reply-channel", title: T("reply_channel"), "aria-label": T("reply_channel"), "aria-expanded": "false", hidden: true,
    onclick: toggleReplyMenu });
  ui.replyMenu = el("div", { class: "menu reply-menu", id: "reply-menu", role: "menu", hidden: true });
  ui.windowNote = el("div", { class: "window-note", id: "window-note", role: "status", hidden: true });
  ui.tplPanel = el("div", { class: "tpl-panel", id: "template-panel", hidden: true });
  ui.tplBtn = el("button", { type: "button", class: "tpl-btn", id: "template-btn", hidden: true, text: T("tpl_button"), title: T("tpl_title"),
    onclick: toggleTemplates });
  ui.composer = el("footer", { class: "composer", id: "composer" },
    ui.quick,
    ui.replyMenu,
    ui.composerNote,
    ui.windowNote,
    ui.tplPanel,
    ui.filePreview,
    el("div", { class: "composer-row" }, ui.replyBtn, ui.attachBtn, ui.fileInput, ui.input, ui.tplBtn, ui.noReply, ui.send),
    ui.hint);

  ui.conv = el("section", { class: "conversation", id: "conversation" }, ui.convHead, ui.empty, ui.writeFirst, ui.messages, ui.composer);
  ui.lightbox = el("div", { class: "lightbox", id: "lightbox", role: "dialog", "aria-label": T("file_lightbox"), hidden: true, onclick: closeLightbox });
  bindFileDrop();

  ui.banner = el("div", { class: "banner", id: "banner", role: "alert", hidden: true });
  ui.toast = el("div", { class: "toast", id: "toast", role: "status", hidden: true });
  ui.prefs = buildPrefs();
  ui.modal = el("div", { class: "modal-backdrop", id: "create-dialog", hidden: true, onclick: function (e) { if (e.target === ui.modal) closeModal(); } });
  ui.scrim = el("div", { class: "scrim", onclick: function () { setListOpen(false); } });
  ui.settings = el("section", { class: "settings", id: "settings", "aria-label": T("admin_settings_title"), hidden: true });

  append(app, [ui.banner, ui.sidebar, ui.scrim, ui.conv, ui.prefs, ui.modal, ui.settings, ui.toast, ui.lightbox]);
  document.addEventListener("click", onDocumentClick);
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { closeChannelsMenu(); closeModal(); ui.prefs.hidden = true; }
  });
  showConversation(false);
  renderHeader();
  renderComposer();
}

function showBanner(text) {
  if (!ui.banner) return;
  ui.banner.textContent = text || "";
  ui.banner.hidden = !text;
}

var toastTimer = null;
function toast(text) {
  ui.toast.textContent = text;
  ui.toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(function () { ui.toast.hidden = true; }, 4000);
}

// Phone: the list and the conversation are two screens.
function showConversation(on) {
  document.getElementById("app").classList.toggle("show-conv", !!on);
}

function goBack() {
  if (state.mode === "individual") {
    setListOpen(true);
    return;
  }
  showConversation(false);
}

function setListOpen(on) {
  var app = document.getElementById("app");
  app.classList.toggle("list-open", !!on);
  if (ui.burger) ui.burger.setAttribute("aria-expanded", on ? "true" : "false");
}

function toggleList() {
  setListOpen(!document.getElementById("app").classList.contains("list-open"));
}

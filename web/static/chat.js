// relay24 chat: the general chat (every dialog the employee may see) and the
// individual chat (the dialogs of one deal's, lead's or contact's clients),
// both inside the Bitrix24 iframe. Plain JavaScript, no build step.
//
// Client text is text: everything a client or an employee wrote goes into the
// page through textContent or DOM properties, never through innerHTML.
(function () {
  "use strict";

  // ---- page inputs -------------------------------------------------------

  function meta(name) {
    var m = document.querySelector('meta[name="' + name + '"]');
    return m ? m.getAttribute("content") || "" : "";
  }

  var SESSION = meta("relay24-session");
  var LANG = meta("relay24-lang") || "ru";
  var ENTITY = (function () {
    var v = meta("relay24-entity");
    if (!v) return null;
    var i = v.indexOf(":");
    return { type: v.slice(0, i), id: parseInt(v.slice(i + 1), 10) };
  })();
  var TEXTS = {};
  try {
    TEXTS = JSON.parse(document.getElementById("relay24-texts").textContent || "{}") || {};
  } catch (e) {
    TEXTS = {};
  }
  function T(key) {
    return Object.prototype.hasOwnProperty.call(TEXTS, key) ? TEXTS[key] : key;
  }

  var HISTORY_PAGE = 30;
  // TEMPLATE_KIND is the kind of a message that was a WhatsApp Business template.
  var TEMPLATE_KIND = "wapi_template";
  var LIST_PAGE = 50;

  // ---- state -------------------------------------------------------------

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

  // ---- helpers -----------------------------------------------------------

  function el(tag, attrs) {
    var n = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (!Object.prototype.hasOwnProperty.call(attrs, k)) continue;
        var v = attrs[k];
        if (v === null || v === undefined || v === false) continue;
        if (k === "class") n.className = v;
        else if (k === "text") n.textContent = v;
        else if (k.slice(0, 2) === "on") n.addEventListener(k.slice(2), v);
        else if (k === "hidden") n.hidden = !!v;
        else n.setAttribute(k, v === true ? "" : String(v));
      }
    }
    for (var i = 2; i < arguments.length; i++) append(n, arguments[i]);
    return n;
  }

  function append(n, c) {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) {
      c.forEach(function (x) { append(n, x); });
      return;
    }
    if (typeof c === "string" || typeof c === "number") {
      n.appendChild(document.createTextNode(String(c)));
      return;
    }
    n.appendChild(c);
  }

  function clear(n) {
    while (n.firstChild) n.removeChild(n.firstChild);
  }

  var SVGNS = "http://www.w3.org/2000/svg";

  // svg builds an icon from shapes: [tag, {attr: value}].
  function svg(cls, viewBox, shapes) {
    var s = document.createElementNS(SVGNS, "svg");
    s.setAttribute("viewBox", viewBox);
    s.setAttribute("class", "icon " + cls);
    s.setAttribute("aria-hidden", "true");
    s.setAttribute("focusable", "false");
    shapes.forEach(function (sh) {
      var e = document.createElementNS(SVGNS, sh[0]);
      for (var k in sh[1]) e.setAttribute(k, sh[1][k]);
      s.appendChild(e);
    });
    return s;
  }

  function transportIcon(transport) {
    switch (transport) {
      case "whatsapp":
        return svg("tr tr-whatsapp", "0 0 24 24", [
          ["circle", { cx: "12", cy: "12", r: "12", fill: "#25d366" }],
          ["path", { fill: "#fff", d: "M12 5.2a6.8 6.8 0 0 0-5.9 10.2L5.2 18.8l3.5-.9A6.8 6.8 0 1 0 12 5.2zm0 1.3a5.5 5.5 0 1 1-2.9 10.2l-.2-.1-2 .5.5-2-.1-.2A5.5 5.5 0 0 1 12 6.5z" }],
          ["path", { fill: "#fff", d: "M9.6 8.7c.2 0 .3 0 .4.3l.6 1.3c0 .2 0 .3-.1.4l-.4.5c-.1.1-.1.2 0 .4.5.9 1.2 1.6 2.1 2.1.2.1.3.1.4 0l.5-.6c.1-.1.3-.2.4-.1l1.3.6c.2.1.3.2.2.4-.1.8-.8 1.4-1.6 1.4-2.1-.2-4.4-2.4-4.6-4.5 0-.8.5-1.5 1.3-1.6z" }]
        ]);
      case "instagram":
        return svg("tr tr-instagram", "0 0 24 24", [
          ["rect", { x: "0", y: "0", width: "24", height: "24", rx: "7", fill: "#d6249f" }],
          ["rect", { x: "5", y: "5", width: "14", height: "14", rx: "4", fill: "none", stroke: "#fff", "stroke-width": "1.8" }],
          ["circle", { cx: "12", cy: "12", r: "3.2", fill: "none", stroke: "#fff", "stroke-width": "1.8" }],
          ["circle", { cx: "16.2", cy: "7.8", r: "1", fill: "#fff" }]
        ]);
      case "telegram":
        return svg("tr tr-telegram", "0 0 24 24", [
          ["circle", { cx: "12", cy: "12", r: "12", fill: "#2aabee" }],
          ["path", { fill: "#fff", d: "M5.4 11.7l11.3-4.4c.5-.2 1 .1.8.9l-1.9 9c-.1.6-.5.8-1 .5l-2.9-2.1-1.4 1.3c-.2.2-.3.3-.6.3l.2-3 5.4-4.9c.2-.2 0-.3-.3-.1l-6.7 4.2-2.9-.9c-.6-.2-.6-.6.1-.8z" }]
        ]);
      case "vk":
        return svg("tr tr-vk", "0 0 24 24", [
          ["circle", { cx: "12", cy: "12", r: "12", fill: "#0077ff" }],
          ["path", { fill: "#fff", d: "M6 8.5h2c.2 0 .3.1.4.3.7 1.8 1.7 3.3 2.1 3.3.2 0 .2-.1.2-.5V9.3c0-.5-.3-.6-.3-.8 0-.1.1-.2.3-.2h2.4c.3 0 .4.1.4.4v3c0 .3.1.4.2.4.2 0 .4-.1.8-.5.9-1.1 1.6-2.6 1.6-2.6.1-.2.2-.3.5-.3h2c.4 0 .5.2.4.5-.3 1.2-2.6 3.9-2.6 3.9-.2.3-.2.4 0 .7.3.4 1.9 1.9 2.2 2.7.1.3 0 .5-.3.5h-2c-.3 0-.5-.1-.8-.5-.7-.8-1.1-1.3-1.5-1.3-.3 0-.4.2-.4.6v.8c0 .3-.1.4-.8.4-1.8 0-3.7-1.1-5-3.2C6.8 11.8 6 9.6 6 9c0-.3.1-.5.4-.5z" }]
        ]);
      default:
        return svg("tr tr-other", "0 0 24 24", [
          ["circle", { cx: "12", cy: "12", r: "12", fill: "#a8adb4" }],
          ["path", { fill: "#fff", d: "M6 7.5h12v7.5h-7l-3 2.5V15H6z" }]
        ]);
    }
  }

  function envelopeIcon(waiting) {
    var shapes = [
      ["rect", { x: "2", y: "5", width: "17", height: "12", rx: "2", fill: waiting ? "#ff5752" : "#c3c7cc" }],
      ["path", { d: "M3 6.5l7.5 5.5 7.5-5.5", fill: "none", stroke: "#fff", "stroke-width": "1.6", "stroke-linejoin": "round" }]
    ];
    if (!waiting) {
      shapes.push(["circle", { cx: "18.5", cy: "16.5", r: "5", fill: "#fff" }]);
      shapes.push(["path", { d: "M15.6 16.6l2 2 3.6-4", fill: "none", stroke: "#7bd500", "stroke-width": "2", "stroke-linecap": "round", "stroke-linejoin": "round" }]);
    }
    return svg("envelope " + (waiting ? "envelope-waiting" : "envelope-idle"), "0 0 24 24", shapes);
  }

  function chevronIcon() {
    return svg("chevron", "0 0 16 16", [["path", { d: "M4 6l4 4 4-4", fill: "none", stroke: "currentColor", "stroke-width": "1.8", "stroke-linecap": "round" }]]);
  }
  function burgerIcon() {
    return svg("burger", "0 0 20 20", [["path", { d: "M3 5h14M3 10h14M3 15h14", stroke: "currentColor", "stroke-width": "2", "stroke-linecap": "round" }]]);
  }
  function backIcon() {
    return svg("back", "0 0 20 20", [["path", { d: "M12.5 4l-6 6 6 6", fill: "none", stroke: "currentColor", "stroke-width": "2", "stroke-linecap": "round", "stroke-linejoin": "round" }]]);
  }
  function gearIcon() {
    return svg("gear", "0 0 20 20", [
      ["circle", { cx: "10", cy: "10", r: "2.8", fill: "none", stroke: "currentColor", "stroke-width": "1.7" }],
      ["path", { d: "M10 1.8v2.4M10 15.8v2.4M1.8 10h2.4M15.8 10h2.4M4.2 4.2l1.7 1.7M14.1 14.1l1.7 1.7M4.2 15.8l1.7-1.7M14.1 5.9l1.7-1.7", stroke: "currentColor", "stroke-width": "1.7", "stroke-linecap": "round" }]
    ]);
  }
  function slidersIcon() {
    return svg("sliders", "0 0 20 20", [
      ["path", { d: "M3 5h8M15 5h2M3 10h2M9 10h8M3 15h10M17 15h0", stroke: "currentColor", "stroke-width": "1.7", "stroke-linecap": "round" }],
      ["circle", { cx: "13", cy: "5", r: "2", fill: "none", stroke: "currentColor", "stroke-width": "1.7" }],
      ["circle", { cx: "7", cy: "10", r: "2", fill: "none", stroke: "currentColor", "stroke-width": "1.7" }],
      ["circle", { cx: "15", cy: "15", r: "2", fill: "none", stroke: "currentColor", "stroke-width": "1.7" }]
    ]);
  }
  function sendIcon() {
    return svg("send-icon", "0 0 20 20", [["path", { d: "M2.5 10L17.5 3l-3.5 14-4-5.5z M10 11.5l7.5-8.5", fill: "currentColor" }]]);
  }

  function randomID() {
    var b = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
  }

  function pad(n) { return n < 10 ? "0" + n : "" + n; }

  function sameDay(a, b) {
    return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  }

  function clock(d) { return pad(d.getHours()) + ":" + pad(d.getMinutes()); }

  function shortWhen(iso) {
    if (!iso) return "";
    var d = new Date(iso), now = new Date();
    if (sameDay(d, now)) return clock(d);
    var y = new Date(now.getTime() - 864e5);
    if (sameDay(d, y)) return T("yesterday");
    return pad(d.getDate()) + "." + pad(d.getMonth() + 1) + "." + String(d.getFullYear()).slice(-2);
  }

  function dayLabel(d) {
    var now = new Date();
    if (sameDay(d, now)) return T("today");
    if (sameDay(d, new Date(now.getTime() - 864e5))) return T("yesterday");
    return pad(d.getDate()) + "." + pad(d.getMonth() + 1) + "." + d.getFullYear();
  }

  function waited(iso) {
    if (!iso) return "";
    var s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
    if (s < 60) return T("just_now");
    if (s < 3600) return Math.floor(s / 60) + " " + T("min");
    if (s < 86400) return Math.floor(s / 3600) + " " + T("hour");
    return Math.floor(s / 86400) + " " + T("day");
  }

  function clientName(d) {
    if (!d) return "";
    return (d.contact && d.contact.name) || d.client_name || d.chat_id || "";
  }

  function safeURL(u) {
    try {
      var p = new URL(u, location.href);
      return p.protocol === "http:" || p.protocol === "https:" ? p.href : null;
    } catch (e) {
      return null;
    }
  }

  // ---- API ---------------------------------------------------------------

  function ApiError(status, code, message, data) {
    this.status = status;
    this.code = code;
    this.message = message;
    this.data = data || {};
  }

  // errorText says an API error in the page's language, from its code
  // ("err_" + code in the catalogue), with the error's fields filling the
  // text's {parameters}. The server's own message is the last resort, for a
  // code the catalogue lacks; then the fallback key.
  function errorText(e, fallback) {
    if (!e) return T(fallback || "error");
    var code = String(e.code || "");
    if (/^http_/.test(code)) code = "http";
    var key = "err_" + code;
    if (Object.prototype.hasOwnProperty.call(TEXTS, key)) {
      var d = e.data || {};
      return TEXTS[key].replace(/\{([a-z_]+)\}/g, function (all, k) {
        return d[k] !== undefined && d[k] !== null ? String(d[k]) : all;
      });
    }
    return e.message || T(fallback || "error");
  }

  function api(method, path, body) {
    var opts = { method: method, headers: { Authorization: "Bearer " + SESSION, Accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(path, opts).then(function (res) {
      return res.text().then(function (txt) {
        var data = null;
        try { data = txt ? JSON.parse(txt) : null; } catch (e) { data = null; }
        if (!res.ok) {
          var err = (data && data.error) || {};
          if (res.status === 401) showBanner(T("session_expired") !== "session_expired" ? T("session_expired") : T("error"));
          throw new ApiError(res.status, err.code || "http_" + res.status, err.message || res.statusText, err);
        }
        return data;
      });
    }, function (e) {
      throw new ApiError(0, "network", String(e && e.message || e));
    });
  }

  // ---- shell -------------------------------------------------------------

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

  // ---- the dialog list ---------------------------------------------------

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

  // ---- search (general chat) ----------------------------------------------

  function buildSearch() {
    ui.searchInput = el("input", { type: "search", id: "search-input", class: "search-input", maxlength: "200", autocomplete: "off",
      placeholder: T("search_placeholder"), "aria-label": T("search") });
    ui.searchInput.addEventListener("input", onSearchInput);
    ui.searchInput.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { e.stopPropagation(); clearSearch(); }
      if (e.key === "Enter") { e.preventDefault(); runSearch(); }
    });
    ui.searchClear = el("button", { type: "button", class: "icon-btn search-clear", id: "search-clear", title: T("search_clear"), "aria-label": T("search_clear"),
      hidden: true, onclick: function () { clearSearch(); ui.searchInput.focus(); } }, "×");
    return el("div", { class: "sidebar-search", role: "search" }, searchIcon(), ui.searchInput, ui.searchClear);
  }

  function searchIcon() {
    return svg("search-icon", "0 0 24 24", [["circle", { cx: "11", cy: "11", r: "6.5", fill: "none", stroke: "currentColor", "stroke-width": "2" }],
      ["path", { d: "M16 16l4.5 4.5", stroke: "currentColor", "stroke-width": "2", "stroke-linecap": "round" }]]);
  }

  function onSearchInput() {
    clearTimeout(state.search.timer);
    ui.searchClear.hidden = ui.searchInput.value === "";
    if (!ui.searchInput.value.trim()) { clearSearch(); return; }
    state.search.timer = setTimeout(runSearch, 250);
  }

  function runSearch() {
    clearTimeout(state.search.timer);
    var q = ui.searchInput.value.trim();
    if (!q) { clearSearch(); return; }
    if (q === state.search.q && state.search.results) return;
    var seq = ++state.search.seq;
    api("GET", "/api/v1/search?limit=20&q=" + encodeURIComponent(q)).then(function (r) {
      if (seq !== state.search.seq) return;
      state.search.q = q;
      state.search.results = { dialogs: r.dialogs || [], messages: r.messages || [], failed: false };
      renderList();
    }).catch(function () {
      if (seq !== state.search.seq) return;
      state.search.q = q;
      state.search.results = { dialogs: [], messages: [], failed: true };
      renderList();
    });
  }

  function clearSearch() {
    clearTimeout(state.search.timer);
    state.search.seq++;
    state.search.q = "";
    state.search.results = null;
    if (ui.searchInput) { ui.searchInput.value = ""; ui.searchClear.hidden = true; }
    ui.list.scrollTop = 0;
    renderList();
  }

  // stems are the query's words cut to what their forms share (доставка,
  // доставку → достав), to mark them in a found message.
  function stems(q) {
    return (q.toLowerCase().match(/[\p{L}\p{N}]+/gu) || []).map(function (w) {
      return /^\p{N}+$/u.test(w) || w.length <= 4 ? w : w.slice(0, Math.max(4, w.length - 2));
    });
  }

  // marked renders text with the words the query found marked; a long text
  // starts a little before the first of them.
  function marked(text, q) {
    var st = stems(q);
    var parts = text.split(/([\p{L}\p{N}]+)/u);
    var hit = function (w) {
      var lw = w.toLowerCase();
      return st.some(function (s) { return /^\p{N}+$/u.test(s) ? lw.indexOf(s) >= 0 : lw.indexOf(s) === 0; });
    };
    var first = -1, pos = 0;
    for (var i = 0; i < parts.length; i++) {
      if (i % 2 === 1 && hit(parts[i])) { first = pos; break; }
      pos += parts[i].length;
    }
    var out = el("span", { class: "search-snippet" });
    var skip = first > 40 ? first - 25 : 0;
    if (skip) out.appendChild(document.createTextNode("…"));
    pos = 0;
    parts.forEach(function (p, i) {
      var end = pos + p.length;
      if (end > skip) {
        var shown = pos < skip ? p.slice(skip - pos) : p;
        if (i % 2 === 1 && hit(p)) out.appendChild(el("mark", { class: "search-mark", text: shown }));
        else out.appendChild(document.createTextNode(shown));
      }
      pos = end;
    });
    return out;
  }

  function renderSearch() {
    var r = state.search.results;
    clear(ui.list);
    if (r.failed) { ui.list.appendChild(el("div", { class: "list-empty", text: T("search_failed") })); return; }
    if (!r.dialogs.length && !r.messages.length) { ui.list.appendChild(el("div", { class: "list-empty", id: "search-nothing", text: T("search_nothing") })); return; }
    var results = el("div", { class: "search-results", id: "search-results" });
    if (r.dialogs.length) {
      results.appendChild(el("div", { class: "search-section", text: T("search_dialogs") }));
      r.dialogs.forEach(function (d) {
        if (!state.byId[d.id]) state.byId[d.id] = d;
        var row = renderRow(d);
        row.classList.add("search-dialog");
        results.appendChild(row);
      });
    }
    if (r.messages.length) {
      results.appendChild(el("div", { class: "search-section", text: T("search_messages") }));
      r.messages.forEach(function (hit) {
        var d = hit.dialog, m = hit.message;
        var active = state.view && state.view.kind === "dialog" && state.view.id === d.id && state.view.focus === m.id;
        var open = function () { openMessage(d, m.id); };
        results.appendChild(el("div", {
          class: "dialog-row search-message" + (active ? " active" : ""), role: "listitem", tabindex: "0",
          "data-dialog-id": d.id, "data-message-id": m.id,
          onclick: open, onkeydown: function (e) { if (e.key === "Enter") open(); }
        },
          el("div", { class: "row-avatar" }, transportIcon(d.channel.transport)),
          el("div", { class: "row-main" },
            el("div", { class: "row-top" },
              el("span", { class: "row-name", text: clientName(d) }),
              el("span", { class: "row-time", text: shortWhen(m.created_at) })),
            el("div", { class: "row-preview" },
              m.direction === "out" ? el("span", { class: "row-you", text: T("you") + ": " }) : null,
              marked(m.text || "", state.search.q)))));
      });
    }
    ui.list.appendChild(results);
  }

  // openMessage opens a found message's dialog, pages back to the message
  // when it is older than the first page, and scrolls to it, marked.
  function openMessage(d, messageID) {
    if (!state.byId[d.id]) state.byId[d.id] = d;
    setView({ kind: "dialog", id: d.id, focus: messageID });
    var seq = state.viewSeq;
    loadHistory(true).then(function () { return reveal(messageID, seq); });
    if (state.view && !isPhone()) ui.input.focus();
  }

  function reveal(id, seq) {
    var pages = 0;
    var has = function () { return state.messages.some(function (m) { return m.id === id; }); };
    var step = function () {
      if (seq !== state.viewSeq) return;
      if (has() || !state.msgNext || pages >= 100) {
        state.loadingOlder = false;
        ui.messages.classList.remove("loading-older");
        renderMessages(false);
        var n = ui.messages.querySelector('.msg[data-message-id="' + id + '"]');
        if (n) n.scrollIntoView({ block: "center" });
        return;
      }
      pages++;
      state.loadingOlder = true;
      ui.messages.classList.add("loading-older");
      return api("GET", historyURL(state.msgNext)).then(function (r) {
        if (seq !== state.viewSeq) return;
        merge(r.messages || []);
        state.msgNext = r.next || null;
        return step();
      }, function () {
        if (seq !== state.viewSeq) return;
        pages = 100; // stop paging; show what is loaded
        return step();
      });
    };
    return step();
  }

  // ---- the conversation --------------------------------------------------

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

  // ---- rich links: a card for a message's first link (issue 12) ----
  // Only where the user's rich_links preference is on. relay24 fetches the
  // page (GET /api/v1/link-preview) and proxies its picture, so the browser
  // never asks the third party; a card loads when it scrolls into view and
  // each link is asked once per page. Without a card the link stays plain.
  var linkPreviews = {}; // url → Promise of the preview, or null
  var observedCards = [];
  var cardObserver = window.IntersectionObserver ? new IntersectionObserver(function (entries) {
    entries.forEach(function (en) {
      if (en.isIntersecting) { cardObserver.unobserve(en.target); fillLinkCard(en.target); }
    });
  }, { rootMargin: "200px" }) : null;

  function firstLink(text) {
    URL_RE.lastIndex = 0;
    var m = URL_RE.exec(text), href = m && safeURL(m[0]);
    URL_RE.lastIndex = 0;
    return href || null;
  }

  function linkCard(href) {
    // Empty until its preview comes (an element that is not displayed is
    // never seen by the observer).
    var card = el("div", { class: "link-card", "data-url": href });
    if (linkPreviews[href] || !cardObserver) fillLinkCard(card); // known: no flicker on a re-render
    else {
      // Cards a re-render replaced before they were seen are let go.
      observedCards = observedCards.filter(function (c) { return c.isConnected || cardObserver.unobserve(c); });
      observedCards.push(card);
      cardObserver.observe(card);
    }
    return card;
  }

  function fillLinkCard(card) {
    var href = card.getAttribute("data-url");
    if (!linkPreviews[href]) {
      linkPreviews[href] = api("GET", "/api/v1/link-preview?url=" + encodeURIComponent(href)).then(function (r) {
        return (r && r.preview) || null;
      }, function (e) {
        if (e.status === 429 || e.status === 0) delete linkPreviews[href]; // may be had later
        return null;
      });
    }
    linkPreviews[href].then(function (p) {
      if (!p || (!p.title && !p.description && !p.image)) return;
      var a = !p.title && !p.description ?
        // A link to a picture (or a page with nothing but one) shows the
        // picture, through relay24's proxy like a card's.
        el("a", { class: "msg-att msg-att-image rich", href: href, target: "_blank", rel: "noopener noreferrer" },
          el("img", { src: p.image, alt: "", loading: "lazy", referrerpolicy: "no-referrer", onerror: function () { this.remove(); } })) :
        el("a", { class: "link-card-body", href: href, target: "_blank", rel: "noopener noreferrer" },
        p.image ? el("img", { class: "link-card-image", src: p.image, alt: "", loading: "lazy", referrerpolicy: "no-referrer",
          onerror: function () { this.remove(); } }) : null,
        el("span", { class: "link-card-text" },
          el("span", { class: "link-card-site", text: p.site_name || p.domain }),
          p.title ? el("span", { class: "link-card-title", text: p.title }) : null,
          p.description ? el("span", { class: "link-card-desc", text: p.description }) : null));
      // A card that grows the last message keeps a list read to its end there.
      var box = ui.messages, atEnd = box && box.scrollHeight - box.scrollTop - box.clientHeight < 40;
      card.appendChild(a);
      if (atEnd) box.scrollTop = box.scrollHeight;
    });
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
    (m.attachments || []).forEach(function (a) {
      var node = renderAttachment(a, !!m.local);
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

  // ---- sending -----------------------------------------------------------

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


  // ---- the reply window and WhatsApp Business templates -------------------
  //
  // WhatsApp Business lets a free-form reply out within 24 hours of the
  // client's last message, Instagram within 7 days; after that the server
  // refuses it (409 window_closed). While the window is closed the composer
  // says so and, on WhatsApp Business, offers the channel's approved
  // templates: choose one, fill its fields, see the preview, send. While it
  // is open the «Шаблоны» button opens the same list.

  // The write-first flow (checkWindow) hands over a new WhatsApp Business
  // dialog whose window is closed: its first message is a template, chosen
  // here.
  window.relay24Templates = {
    open: function (d, answer) {
      if (!d || d.id !== state.win.dialogId || !answer) return;
      state.win.data = answer;
      renderTemplatePanel();
      renderWindow();
      var first = ui.tplPanel.querySelector(".tpl-item");
      if (first && !isPhone()) first.focus();
    }
  };

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

  // ---- files ---------------------------------------------------------------
  //
  // One file at a time: chosen with the paperclip, dropped on the
  // conversation or pasted (a pasted image becomes a file). The composer
  // shows it (a thumbnail, or an icon with its name and size) until it is
  // sent or removed; the composer's text is its caption. Sending uploads it
  // (POST /api/v1/files, with a progress bar), then posts the message with
  // the file's client_id, which stays the same for every retry of this file,
  // so it goes out once. A refusal leaves the file in the composer with the
  // reason.

  var attached = null; // {file, thumb, cid, uploaded, busy, progress}

  function clipIcon() {
    return svg("clip-icon", "0 0 24 24", [["path", { d: "M16.5 6.5l-7.8 7.8a1.8 1.8 0 0 0 2.5 2.5l8-8a3.5 3.5 0 0 0-5-5l-8.2 8.2a5.2 5.2 0 0 0 7.4 7.4l7.1-7.1",
      fill: "none", stroke: "currentColor", "stroke-width": "1.8", "stroke-linecap": "round", "stroke-linejoin": "round" }]]);
  }

  function docIcon() {
    return svg("doc-icon", "0 0 24 24", [
      ["path", { d: "M6 2.5h8l4.5 4.5v14.5H6z", fill: "#eef2f4", stroke: "#8fa0ad", "stroke-width": "1.2" }],
      ["path", { d: "M14 2.5V7h4.5", fill: "none", stroke: "#8fa0ad", "stroke-width": "1.2" }]]);
  }

  function buildAttach() {
    ui.fileInput = el("input", { type: "file", id: "file-input", class: "file-input", hidden: true, tabindex: "-1" });
    ui.fileInput.addEventListener("change", function () {
      var f = ui.fileInput.files && ui.fileInput.files[0];
      if (f) attachFile(f);
      ui.fileInput.value = "";
    });
    ui.attachBtn = el("button", { type: "button", class: "icon-btn attach-btn", id: "attach-btn", title: T("file_attach"), "aria-label": T("file_attach"),
      onclick: function () { if (!(attached && attached.busy)) ui.fileInput.click(); } }, clipIcon());
    ui.filePreview = el("div", { class: "file-preview", id: "file-preview", hidden: true });
    ui.input.addEventListener("paste", function (e) {
      var items = (e.clipboardData && e.clipboardData.files) || [];
      if (!items.length) return;
      e.preventDefault();
      attachFile(pastedName(items[0]));
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && ui.lightbox && !ui.lightbox.hidden) closeLightbox();
    });
  }

  // pastedName names a pasted screenshot (the clipboard calls every one
  // "image.png").
  function pastedName(f) {
    if (f.name && f.name !== "image.png") return f;
    var d = new Date();
    var ext = (f.type && f.type.split("/")[1]) || "png";
    var name = "image-" + d.getFullYear() + pad(d.getMonth() + 1) + pad(d.getDate()) + "-" + pad(d.getHours()) + pad(d.getMinutes()) + pad(d.getSeconds()) + "." + ext;
    try { return new File([f], name, { type: f.type }); } catch (e) { return f; }
  }

  function bindFileDrop() {
    var depth = 0;
    var hasFiles = function (e) {
      var t = e.dataTransfer && e.dataTransfer.types;
      return !!t && Array.prototype.indexOf.call(t, "Files") >= 0;
    };
    ui.conv.addEventListener("dragenter", function (e) {
      if (!hasFiles(e) || !currentDialog()) return;
      e.preventDefault();
      depth++;
      ui.conv.classList.add("drop-target");
    });
    ui.conv.addEventListener("dragover", function (e) {
      if (!hasFiles(e) || !currentDialog()) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
    });
    ui.conv.addEventListener("dragleave", function () {
      depth = Math.max(0, depth - 1);
      if (!depth) ui.conv.classList.remove("drop-target");
    });
    ui.conv.addEventListener("drop", function (e) {
      depth = 0;
      ui.conv.classList.remove("drop-target");
      if (!hasFiles(e)) return;
      e.preventDefault();
      var f = e.dataTransfer.files && e.dataTransfer.files[0];
      if (f && currentDialog()) attachFile(f);
    });
  }

  function isImageFile(f) {
    return /^image\/(png|jpe?g|gif|webp|bmp)$/i.test(f.type || "");
  }

  function attachFile(f) {
    if (attached && attached.busy) return;
    dropAttached();
    var a = attached = { file: f, thumb: null, cid: randomID(), uploaded: null, busy: false, progress: 0 };
    showNote("");
    renderAttached();
    // The thumbnail is a data: URL (the page's policy allows no blob: images).
    if (isImageFile(f) && f.size <= 25 * 1048576) {
      var rd = new FileReader();
      rd.onload = function () {
        if (attached !== a) return;
        a.thumb = rd.result;
        renderAttached();
      };
      rd.readAsDataURL(f);
    }
    ui.input.focus();
  }

  function dropAttached() {
    attached = null;
  }

  function removeAttached() {
    if (attached && attached.busy) return;
    dropAttached();
    showNote("");
    renderAttached();
  }

  function fileSize(n) {
    if (n < 1024) return n + " " + T("file_unit_b");
    if (n < 1024 * 1024) return Math.max(1, Math.round(n / 1024)) + " " + T("file_unit_kb");
    // «1,2 МБ» / "1.2 MB": the page's language writes the decimal mark.
    var mb = Math.round(n / 104857.6) / 10;
    return (mb.toLocaleString ? mb.toLocaleString(LANG === "en" ? "en" : "ru", { maximumFractionDigits: 1 }) : String(mb)) + " " + T("file_unit_mb");
  }

  function renderAttached() {
    clear(ui.filePreview);
    ui.filePreview.hidden = !attached;
    ui.attachBtn.disabled = !!(attached && attached.busy);
    if (!attached) return;
    var f = attached.file;
    ui.filePreview.setAttribute("data-busy", attached.busy ? "true" : "false");
    ui.filePreview.appendChild(attached.thumb
      ? el("img", { class: "file-thumb", src: attached.thumb, alt: f.name })
      : el("span", { class: "file-icon" }, docIcon()));
    ui.fileBar = el("span", { class: "file-progress-bar" });
    ui.fileBar.style.width = Math.round(attached.progress * 100) + "%";
    ui.filePreview.appendChild(el("div", { class: "file-info" },
      el("div", { class: "file-name", text: f.name || T("attachment") }),
      el("div", { class: "file-size", text: fileSize(f.size) }),
      el("div", { class: "file-progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100",
        "aria-valuenow": String(Math.round(attached.progress * 100)), hidden: !attached.busy }, ui.fileBar)));
    ui.filePreview.appendChild(el("button", { type: "button", class: "icon-btn file-remove", id: "file-remove", title: T("file_remove"), "aria-label": T("file_remove"),
      disabled: attached.busy, onclick: removeAttached, text: "×" }));
  }

  function setProgress(p) {
    if (!attached) return;
    attached.progress = p;
    if (ui.fileBar) {
      ui.fileBar.style.width = Math.round(p * 100) + "%";
      ui.fileBar.parentNode.setAttribute("aria-valuenow", String(Math.round(p * 100)));
    }
  }

  // upload posts the file as multipart with the session's header, as api
  // does, and reports the upload's progress.
  function upload(file, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/v1/files");
      xhr.setRequestHeader("Authorization", "Bearer " + SESSION);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) onProgress(e.loaded / e.total);
      });
      xhr.onload = function () {
        var data = null;
        try { data = xhr.responseText ? JSON.parse(xhr.responseText) : null; } catch (e) { data = null; }
        if (xhr.status >= 200 && xhr.status < 300 && data && data.file) {
          resolve(data.file);
          return;
        }
        var err = (data && data.error) || {};
        if (xhr.status === 401) showBanner(T("session_expired"));
        if (xhr.status === 413 && !err.code) err.code = "file_too_large";
        reject(new ApiError(xhr.status, err.code || "http_" + xhr.status, err.message || xhr.statusText, err));
      };
      xhr.onerror = function () { reject(new ApiError(0, "network", "")); };
      var form = new FormData();
      form.append("file", file, file.name || "file");
      xhr.send(form);
    });
  }

  // fileError says, in the page's language, why a file did not go and what
  // to do about it.
  function fileError(e) {
    switch (e.code) {
      case "file_too_large": return T("file_too_large");
      case "empty_file": return T("file_empty");
      case "no_file":
      case "not_multipart": return T("file_not_received");
      case "file_too_large_for_channel":
        var limit = e.data && e.data.limit_mb;
        return limit ? T("file_too_large_for_channel").replace("{limit}", limit) : T("file_too_large_for_channel_any");
      case "file_type_not_allowed_for_channel": return T("file_type_not_allowed");
      case "file_not_found": return T("file_not_found");
      case "file_refused_by_channel": return T("file_refused");
      case "read_only": return T("read_only");
      case "network": return T("file_network");
    }
    return errorText(e, "file_send_failed");
  }

  function attachmentKind(f) {
    var t = f.type || "";
    if (isImageFile(f)) return "image";
    if (/^video\//.test(t)) return "video";
    if (/^audio\//.test(t)) return "audio";
    return "document";
  }

  function sendAttached(dialogID, text) {
    var a = attached;
    if (!a || a.busy) return;
    a.busy = true;
    showNote("");
    ui.input.value = "";
    autoGrow();
    var kind = attachmentKind(a.file);
    var ad = state.byId[dialogID];
    var local = { id: "local-" + a.cid, local: true, dialog_id: dialogID, channel: ad ? ad.channel : null, direction: "out", kind: kind, text: text,
      attachments: [{ url: a.thumb || "", type: kind, name: a.file.name, size: a.file.size }],
      author: state.me ? { id: state.me.user.id, name: state.me.user.name } : null, status: "pending", error: null,
      created_at: new Date().toISOString() };
    var seq = state.viewSeq;
    state.messages.push(local);
    renderMessages(true);
    renderAttached();
    state.inflight++;
    var uploaded = a.uploaded ? Promise.resolve(a.uploaded) : upload(a.file, setProgress).then(function (f) {
      a.uploaded = f;
      setProgress(1);
      return f;
    });
    uploaded.then(function (f) {
      var body = { client_id: a.cid, file_id: f.id };
      if (text.trim()) body.text = text;
      return api("POST", "/api/v1/dialogs/" + dialogID + "/messages", body);
    }).then(function (r) {
      if (attached === a) {
        a.busy = false;
        dropAttached();
        renderAttached();
      }
      if (seq !== state.viewSeq) return;
      settleLocal(local, r.message);
    }).catch(function (e) {
      a.busy = false;
      a.progress = 0;
      if (e.code === "file_not_found") a.uploaded = null; // upload it again
      if (attached === a) {
        if (!ui.input.value) { ui.input.value = text; autoGrow(); }
        renderAttached();
        showNote(fileError(e));
      }
      if (seq !== state.viewSeq) return;
      removeLocal(local.id);
      renderMessages(atBottom());
    }).then(sendSettled);
  }

  // renderAttachment shows what a message carries: images and video inline
  // (a click opens them large), audio and voice with a player, any other
  // file with its name, size and a download link. Only the message's own
  // (signed) links are used; a message being sent shows the local file.
  function renderAttachment(a, local) {
    var href = local ? (/^data:image\//.test(a.url || "") ? a.url : null) : safeURL(a.url);
    var name = a.name || T("attachment");
    if (local && !href) {
      return el("div", { class: "msg-att msg-att-doc msg-att-local" }, el("span", { class: "file-icon" }, docIcon()),
        el("span", { class: "att-name", text: name }), a.size ? el("span", { class: "att-size", text: fileSize(a.size) }) : null);
    }
    if (a.unavailable) {
      // The client's file could not be copied from the gateway (its link
      // expired, or it was refused): say so instead of a broken link.
      return el("div", { class: "msg-att msg-att-doc msg-att-unavailable", title: a.reason || "" },
        el("span", { class: "file-icon" }, docIcon()),
        el("span", { class: "att-name", text: a.name || T("attachment") }),
        el("span", { class: "att-size", text: T("file_unavailable") }));
    }
    if (!href) return null;
    switch (a.type) {
      case "image":
        return el("a", { class: "msg-att msg-att-image", href: href, target: "_blank", rel: "noopener noreferrer",
          onclick: function (e) { e.preventDefault(); openLightbox("image", href, name); } },
          el("img", { src: href, alt: name, loading: "lazy" }));
      case "video":
        return el("div", { class: "msg-att msg-att-video" },
          el("video", { src: href, controls: true, preload: "metadata" }),
          el("button", { type: "button", class: "link-btn att-expand", text: T("file_open_large"),
            onclick: function () { openLightbox("video", href, name); } }));
      case "audio":
      case "voice":
        return el("div", { class: "msg-att msg-att-audio" },
          el("audio", { src: href, controls: true, preload: "metadata", "aria-label": name }),
          a.type === "audio" && a.name ? el("div", { class: "att-name", text: a.name }) : null);
    }
    return el("a", { class: "msg-att msg-att-doc", href: href, download: a.name || "", target: "_blank", rel: "noopener noreferrer", title: T("file_download") },
      el("span", { class: "file-icon" }, docIcon()),
      el("span", { class: "att-name", text: name }),
      a.size ? el("span", { class: "att-size", text: fileSize(a.size) }) : null,
      el("span", { class: "att-download", text: T("file_download") }));
  }

  function openLightbox(kind, href, name) {
    clear(ui.lightbox);
    ui.lightbox.appendChild(kind === "video"
      ? el("video", { class: "lightbox-media", src: href, controls: true, autoplay: true, onclick: function (e) { e.stopPropagation(); } })
      : el("img", { class: "lightbox-media", src: href, alt: name }));
    ui.lightbox.appendChild(el("button", { type: "button", class: "lightbox-close", "aria-label": T("close"), title: T("close"), text: "×" }));
    ui.lightbox.hidden = false;
  }

  function closeLightbox() {
    ui.lightbox.hidden = true;
    clear(ui.lightbox);
  }

  // ---- quick replies -----------------------------------------------------
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
      merge([r.message]);
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

  // ---- the channels menu, "Create dialog", "View all dialogs" ------------

  function toggleChannelsMenu(e) {
    if (e) e.stopPropagation();
    if (!ui.channelsMenu.hidden) { closeChannelsMenu(); return; }
    openChannelsMenu();
  }

  function closeChannelsMenu() {
    if (!ui.channelsMenu) return;
    ui.channelsMenu.hidden = true;
    ui.channelsToggle.setAttribute("aria-expanded", "false");
  }

  function onDocumentClick(e) {
    if (!ui.channelsMenu.hidden && !ui.channelsMenu.contains(e.target) && !ui.channelsToggle.contains(e.target)) closeChannelsMenu();
    if (!ui.prefs.hidden && !ui.prefs.contains(e.target) && !(e.target.closest && e.target.closest(".prefs-toggle"))) ui.prefs.hidden = true;
    if (quick.open && !ui.composer.contains(e.target)) closeQuick();
    if (!ui.replyMenu.hidden && !ui.replyMenu.contains(e.target) && !ui.replyBtn.contains(e.target)) closeReplyMenu();
  }

  function openChannelsMenu() {
    var cid = currentContactId();
    clear(ui.channelsMenu);
    ui.channelsMenu.hidden = false;
    ui.channelsToggle.setAttribute("aria-expanded", "true");
    ui.channelsMenu.appendChild(el("div", { class: "menu-head", text: T("client_channels") }));
    var holder = el("div", { class: "menu-items" }, el("div", { class: "menu-note", text: T("loading") }));
    ui.channelsMenu.appendChild(holder);
    var fill = function (dialogs) {
      clear(holder);
      dialogs.forEach(function (d) {
        var cur = state.view && state.view.kind === "dialog" && state.view.id === d.id;
        holder.appendChild(el("button", { type: "button", role: "menuitem", class: "menu-item channel-item" + (cur ? " current" : ""), "data-dialog-id": d.id,
          onclick: function () { closeChannelsMenu(); if (!state.byId[d.id]) state.byId[d.id] = d; openDialog(d.id); } },
          transportIcon(d.channel.transport),
          el("span", { class: "menu-item-text" }, el("span", { class: "menu-item-name", text: d.channel.name || d.channel.transport }),
            el("span", { class: "menu-item-sub", text: d.chat_id })),
          d.unanswered ? envelopeIcon(true) : null));
      });
      if (!dialogs.length) holder.appendChild(el("div", { class: "menu-note", text: T("no_dialogs_contact") }));
    };
    if (cid) {
      ui.channelsMenu.appendChild(el("div", { class: "menu-sep" }));
      ui.channelsMenu.appendChild(el("button", { type: "button", role: "menuitem", class: "menu-item menu-action", id: "create-dialog-btn",
        onclick: function () { closeChannelsMenu(); openCreateDialog(cid); }, text: "+ " + T("create_dialog") }));
      ui.channelsMenu.appendChild(el("button", { type: "button", role: "menuitem", class: "menu-item menu-action", id: "view-all-btn",
        onclick: function () { closeChannelsMenu(); openAll(cid); }, text: T("view_all") }));
      api("GET", "/api/v1/dialogs?entity_type=contact&entity_id=" + cid).then(function (r) {
        remember(r.dialogs || []);
        fill(r.dialogs || []);
      }).catch(function () {
        fill(state.dialogs.filter(function (d) { return d.contact && d.contact.id === cid; }));
      });
    } else {
      var d = currentDialog();
      fill(d ? [d] : []);
      ui.channelsMenu.appendChild(el("div", { class: "menu-note", text: T("no_contact") }));
    }
  }

  function closeModal() {
    if (!ui.modal) return;
    ui.modal.hidden = true;
    clear(ui.modal);
  }

  // ---- choosing where to write: «Создать диалог» and «Написать клиенту» --
  //
  // One chooser serves both: the contact (when the card has several), the
  // channel (the portal's channels this user may write on) and the phone or
  // account from the CRM contact that fits the channel. «Создать диалог»
  // also takes a number typed by hand. Its answer is the existing "Create
  // dialog" (POST /api/v1/dialogs); the dialog then opens with the normal
  // composer, which sends the first message.

  // handlesFor are a contact's identities a channel can start a dialog
  // with, in the channel's order of preference.
  function handlesFor(contact, channel) {
    var out = [];
    (channel.handle_kinds || []).forEach(function (k) {
      ((contact && contact.handles) || []).forEach(function (h) { if (h.kind === k) out.push(h); });
    });
    return out;
  }

  function handleText(h) {
    return h.kind === "phone" ? "+" + h.value : (h.kind === "telegram" || h.kind === "instagram") && !/^\d+$/.test(h.value) ? "@" + h.value : h.value;
  }

  // buildChooser fills box with the choices and calls onChange(choice) as
  // they change: choice is {contact, channel, handle} (handle may be null),
  // or null while no channel is chosen.
  function buildChooser(box, contacts, opts, onChange) {
    var pick = { contact: contacts.length === 1 ? contacts[0] : null, channel: null, handle: null };
    contacts.forEach(function (c) { if (c.id === opts.contactId) pick.contact = c; });
    var chans = null, loadErr = null;
    var prefix = opts.prefix;
    var changed = function () { onChange(pick.contact && pick.channel ? pick : null); };
    var radio = function (name, id, checked, disabled, on) {
      var i = el("input", { type: "radio", name: prefix + name, id: id, disabled: !!disabled });
      i.checked = !!checked;
      i.addEventListener("change", on);
      return i;
    };
    var render = function () {
      clear(box);
      if (contacts.length > 1) {
        box.appendChild(el("div", { class: "chooser-label", text: T("write_contact") }));
        var cl = el("div", { class: "channel-choices", role: "radiogroup", "aria-label": T("write_contact") });
        contacts.forEach(function (c) {
          cl.appendChild(el("label", { class: "channel-choice contact-choice", "data-contact-id": c.id },
            radio("contact", prefix + "contact-" + c.id, pick.contact === c, false, function () { pick.contact = c; pick.handle = null; render(); changed(); }),
            el("span", { class: "choice-name", text: c.name })));
        });
        box.appendChild(cl);
      }
      box.appendChild(el("div", { class: "chooser-label", text: T("write_channel") }));
      var list = el("div", { class: "channel-choices", role: "radiogroup", "aria-label": T("write_channel") });
      box.appendChild(list);
      if (loadErr) { list.appendChild(el("div", { class: "modal-error", text: loadErr })); return; }
      if (!chans) { list.appendChild(el("div", { class: "menu-note", text: T("loading") })); return; }
      var usable = chans.filter(function (c) { return c.can_write !== false || (!c.state || c.state === "active"); });
      if (!chans.length) list.appendChild(el("div", { class: "menu-note", text: T("no_channels") }));
      else if (!usable.length) list.appendChild(el("div", { class: "menu-note", text: T("write_no_channels") }));
      chans.forEach(function (c) {
        var ok = c.can_write !== undefined ? c.can_write : (!c.state || c.state === "active");
        list.appendChild(el("label", { class: "channel-choice" + (ok ? "" : " inactive"), "data-channel-id": c.id, "data-transport": c.transport },
          radio("channel", prefix + "channel-" + c.id, pick.channel === c, !ok, function () { pick.channel = c; pick.handle = null; render(); changed(); }),
          transportIcon(c.transport),
          el("span", { class: "choice-name", text: c.name || c.transport }),
          ok ? null : el("span", { class: "choice-state", text: T("channel_inactive") })));
      });
      if (!pick.channel || !pick.contact) return;
      var kinds = pick.channel.handle_kinds || [];
      var hs = handlesFor(pick.contact, pick.channel);
      if (hs.length === 1 && !pick.handle) pick.handle = hs[0];
      box.appendChild(el("div", { class: "chooser-label", text: T("write_handle") }));
      if (!kinds.length) {
        box.appendChild(el("div", { class: "chooser-note", id: prefix + "no-handle", text: T("write_channel_cannot") }));
        return;
      }
      if (!hs.length) {
        box.appendChild(el("div", { class: "chooser-note", id: prefix + "no-handle", text: T("write_no_handle").replace("{what}", T("handle_kind_" + kinds[0])) }));
        return;
      }
      var hl = el("div", { class: "channel-choices", role: "radiogroup", "aria-label": T("write_handle") });
      hs.forEach(function (h, i) {
        hl.appendChild(el("label", { class: "channel-choice handle-choice", "data-handle": h.value },
          radio("handle", prefix + "handle-" + i, pick.handle === h, false, function () { pick.handle = h; changed(); }),
          el("span", { class: "choice-name", text: handleText(h) })));
      });
      box.appendChild(hl);
    };
    render();
    api("GET", "/api/v1/channels").then(function (r) {
      chans = r.channels || [];
      render();
      changed();
    }).catch(function (e) {
      loadErr = errorText(e);
      render();
    });
    return { rerender: render };
  }

  // createAndOpen is "Create dialog" (POST /api/v1/dialogs) followed by
  // opening the dialog: its composer sends the first message.
  function createAndOpen(contactId, channel, chatId) {
    return api("POST", "/api/v1/dialogs", { contact_id: contactId, channel_id: channel.id, chat_id: chatId || "" }).then(function (r) {
      var d = r.dialog;
      state.byId[d.id] = d;
      var known = state.dialogs.some(function (x) { return x.id === d.id; });
      if (!known) state.dialogs.push(d);
      afterList();
      openDialog(d.id);
      scheduleList();
      checkWindow(d);
      return d;
    }).catch(function (e) {
      if (e.code === "handle_belongs_to_other_client" && !(e.data && e.data.client)) e = { code: "handle_belongs_to_other_client_hidden" };
      throw e;
    });
  }

  // checkWindow: on a channel with a customer-service window (WhatsApp
  // Business), a client who has not written (or not for 24 hours) can only
  // get a template. HOOK for the templates' picker: it registers
  // window.relay24Templates.open(dialog, answer) and is called when the
  // dialog's templates answer says the window is closed; until then the
  // composer says so.
  function checkWindow(d) {
    if (!d || !d.channel || d.channel.transport !== "wapi") return;
    var seq = state.viewSeq;
    api("GET", "/api/v1/dialogs/" + d.id + "/templates").then(function (r) {
      if (seq !== state.viewSeq || !r || r.window_open !== false) return;
      if (window.relay24Templates && window.relay24Templates.open) window.relay24Templates.open(d, r);
      else showNote(T("write_template_first"));
    }).catch(function () { /* no templates answer yet: the send says why */ });
  }

  // contactWithHandles reads a contact's phones and accounts (the individual
  // chat's answer for that contact).
  function contactWithHandles(contactId) {
    for (var i = 0; i < state.contacts.length; i++) {
      if (state.contacts[i].id === contactId && state.contacts[i].handles) return Promise.resolve(state.contacts[i]);
    }
    return api("GET", "/api/v1/dialogs?entity_type=contact&entity_id=" + contactId).then(function (r) {
      var cs = r.contacts || [];
      return cs.length ? cs[0] : { id: contactId, name: contactName(contactId), handles: [] };
    }, function () { return { id: contactId, name: contactName(contactId), handles: [] }; });
  }

  function openCreateDialog(contactId) {
    clear(ui.modal);
    var chosen = null;
    var holder = el("div", { class: "chooser" }, el("div", { class: "menu-note", text: T("loading") }));
    var chatInput = el("input", { type: "text", class: "chat-id-input", id: "create-chat-id", placeholder: T("chat_id"), "aria-label": T("chat_id") });
    var err = el("div", { class: "modal-error", id: "create-error", hidden: true });
    var go = el("button", { type: "button", class: "btn btn-primary", id: "go-to-dialog", disabled: true, text: T("go_to_dialog") });
    var box = el("div", { class: "modal", role: "dialog", "aria-modal": "true", "aria-label": T("create_dialog") },
      el("h2", { class: "modal-title", text: T("create_dialog") }),
      el("div", { class: "modal-sub", text: contactName(contactId) }),
      el("p", { class: "modal-text", text: T("choose_channel") }),
      holder, chatInput, err,
      el("div", { class: "modal-buttons" }, go, el("button", { type: "button", class: "btn", text: T("cancel"), onclick: closeModal })));
    ui.modal.appendChild(box);
    ui.modal.hidden = false;
    contactWithHandles(contactId).then(function (c) {
      if (!box.parentNode) return;
      buildChooser(holder, [c], { prefix: "create-" }, function (pick) { chosen = pick; go.disabled = !pick; });
    });
    go.addEventListener("click", function () {
      if (!chosen) return;
      go.disabled = true;
      err.hidden = true;
      var typed = chatInput.value.trim();
      createAndOpen(contactId, chosen.channel, typed || (chosen.handle ? chosen.handle.value : "")).then(function () {
        closeModal();
      }).catch(function (e) {
        err.textContent = errorText(e);
        err.hidden = false;
        go.disabled = false;
      });
    });
  }

  // renderWriteFirst shows, in the empty chat of a card whose client has no
  // dialog yet, the «Написать клиенту» action: the chooser unfolds under it,
  // and «Написать» opens the new dialog with the composer ready.
  function renderWriteFirst() {
    var v = state.view;
    var show = state.mode === "individual" && (!v || v.kind === "contact") && state.ready;
    ui.writeFirst.hidden = !show;
    if (!show) { clear(ui.writeFirst); ui.writeFirst.removeAttribute("data-for"); return; }
    ui.empty.hidden = true; // the panel says it, with what to do
    var key = (v ? "c" + v.contactId : "none") + ":" + state.contacts.length;
    if (ui.writeFirst.getAttribute("data-for") === key) return;
    ui.writeFirst.setAttribute("data-for", key);
    clear(ui.writeFirst);
    var mayWrite = !(state.me && state.me.access && state.me.access.can_write === false);
    // Every contact of the card may be written to; the one open is chosen.
    var contacts = state.contacts.slice();
    ui.writeFirst.appendChild(el("p", { class: "write-first-text", text: contacts.length ? T("write_first_intro") : T("write_no_contacts") }));
    if (!contacts.length) return;
    if (!mayWrite) {
      ui.writeFirst.appendChild(el("p", { class: "chooser-note", text: T("read_only") }));
      return;
    }
    var panel = el("div", { class: "write-first-panel", id: "write-first-panel", hidden: true });
    var err = el("div", { class: "modal-error", id: "write-error", hidden: true });
    var go = el("button", { type: "button", class: "btn btn-primary", id: "write-go", disabled: true, text: T("write_go") });
    var holder = el("div", { class: "chooser" });
    var chosen = null;
    var open = el("button", { type: "button", class: "btn btn-primary write-first-btn", id: "write-first-btn", text: T("write_first"),
      onclick: function () {
        open.hidden = true;
        panel.hidden = false;
        buildChooser(holder, contacts, { prefix: "write-", contactId: v ? v.contactId : null }, function (pick) {
          chosen = pick;
          go.disabled = !(pick && pick.handle);
        });
      } });
    go.addEventListener("click", function () {
      if (!chosen || !chosen.handle) return;
      go.disabled = true;
      err.hidden = true;
      createAndOpen(chosen.contact.id, chosen.channel, chosen.handle.value).then(function () {
        if (!isPhone()) ui.input.focus();
      }).catch(function (e) {
        err.textContent = errorText(e);
        err.hidden = false;
        go.disabled = false;
      });
    });
    append(panel, [holder, err, el("div", { class: "modal-buttons" }, go)]);
    append(ui.writeFirst, [open, panel]);
  }

  // ---- preferences -------------------------------------------------------

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

  // ---- sound -------------------------------------------------------------

  var audio = null;
  function unlockAudio() {
    if (audio) return;
    var AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return;
    try { audio = new AC(); } catch (e) { audio = null; }
  }

  function beep() {
    if (!audio) return;
    try {
      if (audio.state === "suspended") audio.resume();
      var o = audio.createOscillator(), g = audio.createGain();
      o.type = "sine";
      o.frequency.value = 880;
      g.gain.setValueAtTime(0.0001, audio.currentTime);
      g.gain.exponentialRampToValueAtTime(0.15, audio.currentTime + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.25);
      o.connect(g);
      g.connect(audio.destination);
      o.start();
      o.stop(audio.currentTime + 0.3);
    } catch (e) { /* no sound, no harm */ }
  }

  // ---- live events -------------------------------------------------------

  // serial runs a loader one at a time: a call while it runs makes it run
  // once more afterwards, so an older answer never overwrites a newer one.
  function serial(load) {
    var running = false, again = false, timer = null;
    function go() {
      if (running) { again = true; return; }
      running = true;
      again = false;
      Promise.resolve().then(load).catch(function () {}).then(function () {
        running = false;
        if (again) go();
      });
    }
    return function () {
      clearTimeout(timer);
      timer = setTimeout(go, 100);
    };
  }
  var scheduleList = serial(function () { return loadList(); });
  var refreshHistory = serial(function () { return loadHistory(false); });
  function scheduleHistory() {
    if (state.inflight > 0) { state.refreshAfterSend = true; return; }
    refreshHistory();
  }

  // ---- applying an event in place ----------------------------------------
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

  function connectEvents() {
    if (!window.EventSource) return;
    var es = new EventSource("/api/v1/events?session=" + encodeURIComponent(SESSION));
    es.addEventListener("ready", function () {
      showBanner("");
      document.getElementById("app").setAttribute("data-live", "true");
      // After a gap one full reload, so nothing missed stays missing.
      if (connected) { scheduleList(); if (state.view) scheduleHistory(); }
      connected = true;
    });
    var onEvent = function (e) {
      var ev = null;
      try { ev = JSON.parse(e.data); } catch (x) { return; }
      if (!ev) return;
      applyEvent(e.type, ev);
    };
    es.addEventListener("message.created", onEvent);
    es.addEventListener("message.updated", onEvent);
    es.addEventListener("dialog.updated", onEvent);
    // An admin changed someone's rule: what this user sees may have changed.
    es.addEventListener("access.changed", onAccessChanged);
    es.onerror = function () {
      document.getElementById("app").setAttribute("data-live", "false");
      if (es.readyState === EventSource.CLOSED) {
        showBanner(T("offline"));
        setTimeout(connectEvents, 5000);
      } else {
        showBanner(T("offline"));
      }
    };
  }

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

  function loadMe() {
    return api("GET", "/api/v1/me").then(function (me) {
      state.me = me;
      ui.adminBtn.hidden = !(me && me.user && me.user.is_admin);
      return me;
    });
  }

  // ---- the admin's settings (settings.js) --------------------------------

  function openSettings() {
    if (!window.relay24Settings) return;
    ui.prefs.hidden = true;
    closeChannelsMenu();
    ui.settings.hidden = false;
    document.getElementById("app").classList.add("show-settings");
    window.relay24Settings.open(ui.settings, { onClose: closeSettings });
  }

  function closeSettings() {
    if (window.relay24Settings) window.relay24Settings.close();
    ui.settings.hidden = true;
    clear(ui.settings);
    document.getElementById("app").classList.remove("show-settings");
  }

  // What settings.js borrows from the chat.
  window.relay24Chat = {
    api: api, T: T, errorText: errorText, el: el, append: append, clear: clear, svg: svg, transportIcon: transportIcon, toast: toast, backIcon: backIcon,
    me: function () { return state.me; }
  };

  // ---- start -------------------------------------------------------------

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

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

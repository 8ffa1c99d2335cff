// chat.js, part 7: search (general chat).

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

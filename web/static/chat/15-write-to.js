// chat.js, part 15: choosing where to write: «Создать диалог» and «Написать клиенту».

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
    // Opening it reads its window (loadWindow): on WhatsApp Business a
    // client who has not written can only get a template, so the first
    // message is chosen in the template list, which takes the focus.
    state.win.focusFirst = true;
    scheduleList();
    return d;
  }).catch(function (e) {
    if (e.code === "handle_belongs_to_other_client" && !(e.data && e.data.client)) e = { code: "handle_belongs_to_other_client_hidden" };
    throw e;
  });
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

// chat.js, part 14: the channels menu, "Create dialog", "View all dialogs".

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

// chat.js, part 20: the admin's settings (settings.js).

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

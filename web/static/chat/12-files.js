// chat.js, part 12: files.

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

// Signed links expire (their exp is in the URL; an hour or so) while a page
// stays open all day. Before a link near or past its expiry is used, the
// message's links are renewed (GET /api/v1/messages/{id}, the history's
// access rule); an <img>, <audio> or <video> whose file fails to load (a
// lazy picture scrolled to after the hour) asks once for a fresh link.
var LINK_MARGIN = 2 * 60 * 1000;
var freshening = {}; // message id → Promise of the message with fresh links

function linkExpiring(url) {
  var m = /[?&]exp=(\d+)/.exec(url || "");
  return !!m && Number(m[1]) * 1000 - LINK_MARGIN <= Date.now();
}

function shownMessage(id) {
  for (var i = 0; i < state.messages.length; i++) if (state.messages[i].id === id) return state.messages[i];
  return null;
}

// freshMessage asks for message id's fresh links (one request at a time)
// and keeps them in the open view's state, so a re-render uses them.
function freshMessage(id) {
  if (!freshening[id]) {
    var done = function () { delete freshening[id]; };
    freshening[id] = api("GET", "/api/v1/messages/" + id).then(function (r) {
      done();
      var m = shownMessage(id);
      if (m && r && r.message) m.attachments = r.message.attachments;
      return r && r.message;
    }, function (e) { done(); throw e; });
  }
  return freshening[id];
}

// freshLink is a promise of attachment n's renewed link (fallback when it
// cannot be had).
function freshLink(msgId, n, fallback) {
  return freshMessage(msgId).then(function (m) {
    var a = m && m.attachments && m.attachments[n];
    return (a && safeURL(a.url)) || fallback;
  }, function () { return fallback; });
}

// usableLink is a promise of attachment n's link to use now: the newest
// one the page holds, renewed first if it is near its expiry.
function usableLink(msgId, n, known) {
  var m = shownMessage(msgId), a = m && m.attachments && m.attachments[n];
  var url = (a && safeURL(a.url)) || known;
  if (!msgId || !linkExpiring(url)) return Promise.resolve(url);
  return freshLink(msgId, n, url);
}

// retryFresh makes a media element whose load fails try once more with a
// fresh link (an <img> cannot tell why it failed: one retry is cheap; a
// load that succeeds allows the next). A player started after its link
// expired renews it first, once per link (a clock far off cannot loop it).
function retryFresh(node, msgId, n) {
  if (!msgId) return node;
  var media = node.tagName !== "IMG";
  node.addEventListener("error", function () {
    if (node.getAttribute("data-retried")) return;
    node.setAttribute("data-retried", "1");
    var wanted = media && node.getAttribute("data-wants-play");
    freshLink(msgId, n, null).then(function (url) {
      if (!url || url === node.getAttribute("src")) return;
      node.src = url;
      if (wanted) node.play().catch(function () {});
    });
  });
  node.addEventListener(media ? "loadeddata" : "load", function () { node.removeAttribute("data-retried"); });
  if (media) {
    node.addEventListener("play", function () {
      node.setAttribute("data-wants-play", "1");
      var src = node.getAttribute("src");
      if (!linkExpiring(src) || node.getAttribute("data-renewed") === src) return;
      node.pause();
      usableLink(msgId, n, src).then(function (url) {
        node.setAttribute("data-renewed", url);
        if (url !== src) node.src = url;
        node.play().catch(function () {});
      });
    });
  }
  return node;
}

// renderAttachment shows what a message carries: images and video inline
// (a click opens them large), audio and voice with a player, any other
// file with its name, size and a download link. Only the message's own
// (signed) links are used, renewed when they expire (msgId and n name the
// attachment); a message being sent shows the local file.
function renderAttachment(a, local, msgId, n) {
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
        onclick: function (e) { e.preventDefault(); openLightbox("image", href, name, msgId, n); } },
        // loading before src: set after it, the fetch may already be under way.
        retryFresh(el("img", { loading: "lazy", src: href, alt: name }), msgId, n));
    case "video":
      return el("div", { class: "msg-att msg-att-video" },
        retryFresh(el("video", { src: href, controls: true, preload: "metadata" }), msgId, n),
        el("button", { type: "button", class: "link-btn att-expand", text: T("file_open_large"),
          onclick: function () { openLightbox("video", href, name, msgId, n); } }));
    case "audio":
    case "voice":
      return el("div", { class: "msg-att msg-att-audio" },
        retryFresh(el("audio", { src: href, controls: true, preload: "metadata", "aria-label": name }), msgId, n),
        a.type === "audio" && a.name ? el("div", { class: "att-name", text: a.name }) : null);
  }
  return el("a", { class: "msg-att msg-att-doc", href: href, download: a.name || "", target: "_blank", rel: "noopener noreferrer", title: T("file_download"),
    onclick: function (e) {
      // Clicked after the hour: a fresh link first, then the download
      // (once per link: a clock far off cannot loop it).
      var link = this, old = link.getAttribute("href");
      if (!msgId || !linkExpiring(old) || link.getAttribute("data-renewed") === old) return;
      e.preventDefault();
      usableLink(msgId, n, old).then(function (url) {
        link.setAttribute("href", url);
        link.setAttribute("data-renewed", url);
        link.click();
      });
    } },
    el("span", { class: "file-icon" }, docIcon()),
    el("span", { class: "att-name", text: name }),
    a.size ? el("span", { class: "att-size", text: fileSize(a.size) }) : null,
    el("span", { class: "att-download", text: T("file_download") }));
}

var lightboxSeq = 0; // an answer for a lightbox since closed is dropped

function openLightbox(kind, href, name, msgId, n) {
  clear(ui.lightbox);
  var seq = ++lightboxSeq;
  usableLink(msgId, n, href).then(function (url) {
    if (seq === lightboxSeq && !ui.lightbox.hidden && url) ui.lightbox.insertBefore(retryFresh(kind === "video"
      ? el("video", { class: "lightbox-media", src: url, controls: true, autoplay: true, onclick: function (e) { e.stopPropagation(); } })
      : el("img", { class: "lightbox-media", src: url, alt: name }), msgId, n), ui.lightbox.firstChild);
  });
  ui.lightbox.appendChild(el("button", { type: "button", class: "lightbox-close", "aria-label": T("close"), title: T("close"), text: "×" }));
  ui.lightbox.hidden = false;
}

function closeLightbox() {
  lightboxSeq++;
  ui.lightbox.hidden = true;
  clear(ui.lightbox);
}

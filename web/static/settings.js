// relay24 settings: the portal administrator's page inside the chat page —
// channels, employees' access, new clients, notifications, the portal's
// quick replies, the left-menu
// button and the first sync. Plain JavaScript, no build step; it borrows the
// chat's helpers (window.relay24Chat) and shows in the chat's #settings view.
//
// Every change is saved at once and shows its own saved/error state. Names
// come from the portal and go into the page as text, never as markup.
(function () {
  "use strict";

  var C = null; // window.relay24Chat, set on open
  var root = null;
  var gen = 0; // bumps on every open/close so late answers are dropped
  var syncTimer = null;

  var PLACEMENTS = ["LEFT_MENU", "CRM_DEAL_DETAIL_TOOLBAR", "CRM_LEAD_DETAIL_TOOLBAR", "CRM_CONTACT_DETAIL_TOOLBAR"];
  var SECTIONS = ["channels", "users", "newclient", "notify", "quick", "placements", "sync"];

  var data; // what the page shows, as the server last said

  function T(k) { return C.T(k); }
  function el() { return C.el.apply(null, arguments); }

  function has(o, k) { return Object.prototype.hasOwnProperty.call(o, k); }

  // ---- saved / error states ------------------------------------------------

  function saveState(id) {
    return el("span", { class: "save-state", id: id || null, role: "status", "aria-live": "polite", "data-state": "idle" });
  }

  function setSave(node, st, msg) {
    node.setAttribute("data-state", st);
    node.textContent = st === "saving" ? T("s_saving") : st === "saved" ? "✓ " + (msg || T("saved")) : st === "error" ? (msg || T("error")) : "";
  }

  function errText(e) {
    if (!e) return T("error");
    if (e.status === 403) return T("s_forbidden");
    if (e.code === "network") return T("offline");
    return C.errorText(e);
  }

  // ---- the page --------------------------------------------------------------

  function open(container, opts) {
    C = window.relay24Chat;
    root = container;
    gen++;
    data = { settings: null, channels: [], pipelines: null, pipelinesError: "", placements: null, placementsError: "", departments: null, sync: null };
    var my = gen;
    C.clear(root);
    root.removeAttribute("data-ready");

    var nav = el("nav", { class: "set-nav", "aria-label": T("s_title") });
    SECTIONS.forEach(function (s) {
      nav.appendChild(el("button", { type: "button", class: "set-nav-item", "data-section": s, text: T("s_" + s),
        onclick: function () { var n = document.getElementById("set-" + s); if (n) n.scrollIntoView({ block: "start", behavior: "smooth" }); } }));
    });
    var head = el("header", { class: "set-head" },
      el("button", { type: "button", class: "icon-btn set-back", id: "settings-back", title: T("s_back"), "aria-label": T("s_back"), onclick: function () { opts.onClose(); } }, C.backIcon()),
      el("h1", { class: "set-title", text: T("s_title") }));
    var body = el("div", { class: "set-body", id: "settings-body" });
    SECTIONS.forEach(function (s) {
      body.appendChild(el("section", { class: "set-card", id: "set-" + s, "aria-labelledby": "set-" + s + "-h" },
        el("h2", { class: "set-card-title", id: "set-" + s + "-h", text: T("s_" + s) }),
        el("div", { class: "set-card-body" }, el("div", { class: "set-note", text: T("loading") }))));
    });
    C.append(root, [head, nav, body]);
    root.scrollTop = 0;

    var p1 = loadSettings(my);
    var p2 = loadUsers(my);
    var p3 = loadSync(my);
    var p4 = loadQuick(my);
    Promise.all([p1, p2, p3, p4]).then(function () {
      if (my === gen) root.setAttribute("data-ready", "true");
    });
  }

  function close() {
    gen++;
    clearTimeout(syncTimer);
    syncTimer = null;
    root = null;
  }

  function cardBody(s) {
    var n = document.getElementById("set-" + s);
    return n ? n.querySelector(".set-card-body") : null;
  }

  function fail(s, e, retry) {
    var b = cardBody(s);
    if (!b) return;
    C.clear(b);
    b.appendChild(el("div", { class: "set-error" }, el("span", { text: errText(e) + " " }),
      retry ? el("button", { type: "button", class: "link-btn", text: T("retry"), onclick: retry }) : null));
  }

  function loadSettings(my) {
    return C.api("GET", "/api/v1/settings").then(function (r) {
      if (my !== gen) return;
      data.settings = r.settings;
      data.channels = r.channels || [];
      data.pipelines = r.pipelines || null;
      data.pipelinesError = r.pipelines_error || "";
      data.placements = r.placements || null;
      data.placementsError = r.placements_error || "";
      renderChannels();
      renderNewClient();
      renderNotify();
      renderPlacements();
      if (data.departments) renderUsers();
    }).catch(function (e) {
      if (my !== gen) return;
      var again = function () { loadSettings(gen); };
      ["channels", "newclient", "notify", "placements"].forEach(function (s) { fail(s, e, again); });
    });
  }

  function loadUsers(my) {
    return C.api("GET", "/api/v1/users").then(function (r) {
      if (my !== gen) return;
      data.departments = r.departments || [];
      renderUsers();
      if (data.settings) renderNewClient();
    }).catch(function (e) {
      if (my !== gen) return;
      fail("users", e, function () { loadUsers(gen); });
    });
  }

  // ---- quick replies: the portal's, for every employee's composer ----------------

  function loadQuick(my) {
    return C.api("GET", "/api/v1/quick-replies").then(function (r) {
      if (my !== gen) return;
      data.quick = (r.quick_replies || []).filter(function (x) { return x.scope === "portal"; });
      renderQuick();
    }).catch(function (e) {
      if (my !== gen) return;
      fail("quick", e, function () { loadQuick(gen); });
    });
  }

  // quickForm is the form that adds (r null) or edits a portal's reply.
  function quickForm(r, onCancel) {
    var id = r ? "qr-edit-" + r.id : "qr-new";
    var title = el("input", { type: "text", class: "set-input", id: id + "-title", maxlength: "100", placeholder: T("qr_title_ph"), "aria-label": T("qr_name") });
    var text = el("textarea", { class: "qr-text", id: id + "-text", rows: r ? "4" : "3", maxlength: "4096", placeholder: T("qr_text_ph"), "aria-label": T("qr_text") });
    title.value = r ? r.title : "";
    text.value = r ? r.text : "";
    var go = el("button", { type: "submit", class: "btn btn-primary btn-small", id: id + "-save", text: r ? T("qr_save") : T("qr_add") });
    var st = saveState(id + "-state");
    var form = el("form", { class: "qr-form", id: id },
      r ? null : el("h3", { class: "set-sub", text: T("qr_new_portal") }),
      title, text,
      el("div", { class: "qr-form-buttons" }, go,
        onCancel ? el("button", { type: "button", class: "btn btn-small", text: T("cancel"), onclick: onCancel }) : null, st));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (!title.value.trim() || !text.value.trim()) { setSave(st, "error", T("qr_required")); return; }
      go.disabled = true;
      setSave(st, "saving");
      var my = gen;
      var body = { title: title.value, text: text.value };
      var p = r ? C.api("PUT", "/api/v1/quick-replies/" + r.id, body) : C.api("POST", "/api/v1/quick-replies", { title: body.title, text: body.text, scope: "portal" });
      p.then(function () {
        if (my !== gen) return;
        return loadQuick(my).then(function () {
          var s2 = document.getElementById("qr-new-state");
          if (s2 && !r) setSave(s2, "saved");
        });
      }).catch(function (e) {
        if (my !== gen) return;
        go.disabled = false;
        setSave(st, "error", errText(e));
      });
    });
    return form;
  }

  function renderQuick() {
    var b = cardBody("quick");
    if (!b) return;
    C.clear(b);
    b.appendChild(el("div", { class: "set-hint", text: T("s_quick_hint") }));
    var list = el("div", { class: "qr-list", id: "qr-list" });
    if (!data.quick.length) list.appendChild(el("div", { class: "set-note", text: T("qr_none") }));
    data.quick.forEach(function (r) {
      var row = el("div", { class: "qr-row", "data-id": r.id });
      var show = function () {
        C.clear(row);
        var actions = el("div", { class: "qr-actions" });
        var resetActions = function () {
          C.clear(actions);
          actions.appendChild(el("button", { type: "button", class: "btn btn-small qr-edit-btn", text: T("qr_edit"), onclick: edit }));
          actions.appendChild(el("button", { type: "button", class: "btn btn-small qr-delete-btn", text: T("qr_delete"), onclick: confirmDelete }));
        };
        var confirmDelete = function () {
          C.clear(actions);
          var st = saveState();
          var yes = el("button", { type: "button", class: "btn btn-danger btn-small qr-confirm-yes", text: T("qr_delete") });
          yes.addEventListener("click", function () {
            yes.disabled = true;
            setSave(st, "saving");
            var my = gen;
            C.api("DELETE", "/api/v1/quick-replies/" + r.id).then(function () {
              if (my === gen) return loadQuick(my);
            }).catch(function (e) {
              if (my !== gen) return;
              yes.disabled = false;
              setSave(st, "error", errText(e));
            });
          });
          actions.appendChild(el("div", { class: "set-confirm" }, el("span", { class: "set-confirm-text", text: T("qr_delete_confirm") }), yes,
            el("button", { type: "button", class: "btn btn-small", text: T("cancel"), onclick: resetActions }), st));
        };
        resetActions();
        C.append(row, [el("div", { class: "qr-main" }, el("div", { class: "qr-title", text: r.title }), el("div", { class: "qr-body", text: r.text })), actions]);
      };
      var edit = function () {
        C.clear(row);
        var f = quickForm(r, show);
        f.classList.add("qr-main");
        row.appendChild(f);
        var t = document.getElementById("qr-edit-" + r.id + "-title");
        if (t) t.focus();
      };
      show();
      list.appendChild(row);
    });
    b.appendChild(list);
    b.appendChild(quickForm(null, null));
  }

  // ---- 1. channels -------------------------------------------------------------

  function stateLabel(c) {
    var st = String(c.state || "").toLowerCase();
    if (!st || st === "active") return T("chs_active");
    var k = "chs_" + st;
    var label = T(k) !== k ? T(k) : T("chs_other") + ": " + c.state;
    return label;
  }

  function providerLabel(p) {
    var k = "prov_" + p;
    return T(k) !== k ? T(k) : p;
  }

  function renderChannels() {
    var b = cardBody("channels");
    if (!b) return;
    C.clear(b);
    var list = el("div", { class: "ch-list", id: "channel-list" });
    if (!data.channels.length) list.appendChild(el("div", { class: "set-note", text: T("no_channels") }));
    data.channels.forEach(function (c) {
      var ok = !c.state || String(c.state).toLowerCase() === "active";
      var actions = el("div", { class: "ch-actions" });
      var row = el("div", { class: "ch-row" + (ok ? "" : " ch-bad"), "data-channel-id": c.id, "data-state": c.state || "active" },
        el("div", { class: "ch-icon" }, C.transportIcon(c.transport)),
        el("div", { class: "ch-main" },
          el("div", { class: "ch-name", text: c.name || c.plain_id || c.transport }),
          el("div", { class: "ch-sub", text: [c.plain_id, providerLabel(c.provider)].filter(Boolean).join(" · ") })),
        el("div", { class: "ch-state " + (ok ? "ok" : "bad"), title: c.state_detail || "" },
          el("span", { class: "ch-dot", "aria-hidden": "true" }), el("span", { class: "ch-state-text", text: stateLabel(c) })),
        actions);
      var disconnect = function () {
        C.clear(actions);
        var note = el("span", { class: "set-confirm-text", text: T("s_disconnect_confirm") });
        var yes = el("button", { type: "button", class: "btn btn-danger btn-small ch-confirm-yes", text: T("s_disconnect") });
        var no = el("button", { type: "button", class: "btn btn-small", text: T("cancel"), onclick: function () { resetActions(); } });
        var st = saveState();
        yes.addEventListener("click", function () {
          yes.disabled = true;
          setSave(st, "saving");
          var my = gen;
          C.api("DELETE", "/api/v1/channels/" + c.id).then(function () {
            if (my !== gen) return;
            return reloadChannels(my);
          }).catch(function (e) {
            if (my !== gen) return;
            yes.disabled = false;
            setSave(st, "error", errText(e));
          });
        });
        actions.appendChild(el("div", { class: "set-confirm" }, note, yes, no, st));
      };
      var resetActions = function () {
        C.clear(actions);
        actions.appendChild(el("button", { type: "button", class: "btn btn-small ch-disconnect", text: T("s_disconnect"), onclick: disconnect }));
      };
      resetActions();
      list.appendChild(row);
    });
    b.appendChild(list);
    b.appendChild(connectForm());
  }

  function reloadChannels(my) {
    return C.api("GET", "/api/v1/settings").then(function (r) {
      if (my !== gen) return;
      data.channels = r.channels || [];
      renderChannels();
      if (data.departments) renderUsers();
    });
  }

  function connectForm() {
    var provider = el("select", { id: "connect-provider", class: "set-select", "aria-label": T("s_provider") },
      el("option", { value: "wazzup", text: T("prov_wazzup") }),
      el("option", { value: "telegram", text: T("prov_telegram") }));
    var key = el("input", { type: "text", id: "connect-key", class: "set-input", autocomplete: "off", spellcheck: "false" });
    var keyLabel = el("label", { class: "set-label", for: "connect-key" });
    var hint = el("div", { class: "set-hint" });
    var go = el("button", { type: "submit", class: "btn btn-primary", id: "connect-btn", text: T("s_connect") });
    var st = saveState("connect-state");
    var sync = function () {
      var tg = provider.value === "telegram";
      keyLabel.textContent = tg ? T("s_bot_token") : T("s_api_key");
      key.placeholder = tg ? "123456789:AA…" : T("s_api_key_ph");
      hint.textContent = tg ? T("s_bot_token_hint") : T("s_api_key_hint");
    };
    provider.addEventListener("change", sync);
    sync();
    var form = el("form", { class: "connect-form", id: "connect-form" },
      el("h3", { class: "set-sub", text: T("s_connect_title") }),
      el("div", { class: "connect-row" },
        el("label", { class: "set-field" }, el("span", { class: "set-label", text: T("s_provider") }), provider),
        el("div", { class: "set-field set-field-grow" }, keyLabel, key),
        el("div", { class: "set-field set-field-btn" }, go)),
      hint, st);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var v = key.value.trim();
      if (!v) { setSave(st, "error", T("s_key_required")); key.focus(); return; }
      var body = provider.value === "telegram" ? { provider: "telegram", bot_token: v } : { provider: "wazzup", api_key: v };
      go.disabled = true;
      setSave(st, "saving");
      var my = gen;
      C.api("POST", "/api/v1/channels", body).then(function () {
        if (my !== gen) return;
        return reloadChannels(my).then(function () {
          var s2 = document.getElementById("connect-state");
          if (s2) setSave(s2, "saved", T("s_connected"));
        });
      }).catch(function (e) {
        if (my !== gen) return;
        go.disabled = false;
        setSave(st, "error", errText(e));
      });
    });
    return form;
  }

  // ---- 2. employees ------------------------------------------------------------

  // depsInTreeOrder lists departments parents first, children under them, each
  // with its depth; the users without a department (id 0) come last.
  function depsInTreeOrder(deps) {
    var byId = {}, kids = {}, roots = [], none = null;
    deps.forEach(function (d) { byId[d.id] = d; });
    deps.forEach(function (d) {
      if (d.id === 0) { none = d; return; }
      if (d.parent_id !== null && d.parent_id !== undefined && byId[d.parent_id] && d.parent_id !== d.id) (kids[d.parent_id] = kids[d.parent_id] || []).push(d);
      else roots.push(d);
    });
    var out = [], seen = {};
    var walk = function (d, depth) {
      if (seen[d.id]) return;
      seen[d.id] = true;
      out.push({ dep: d, depth: depth });
      (kids[d.id] || []).forEach(function (k) { walk(k, depth + 1); });
    };
    roots.forEach(function (d) { walk(d, 0); });
    deps.forEach(function (d) { if (d.id !== 0 && !seen[d.id]) walk(d, 0); }); // cycles, just in case
    if (none) out.push({ dep: none, depth: 0 });
    return out;
  }

  function allUsers() {
    var out = [];
    (data.departments || []).forEach(function (d) { (d.users || []).forEach(function (u) { out.push(u); }); });
    return out;
  }

  function renderUsers() {
    var b = cardBody("users");
    if (!b) return;
    C.clear(b);
    b.appendChild(el("p", { class: "set-hint", text: T("s_users_hint") }));
    var wrap = el("div", { class: "users", id: "user-list" });
    var total = 0;
    depsInTreeOrder(data.departments || []).forEach(function (x) {
      var d = x.dep;
      var users = d.users || [];
      var group = el("div", { class: "dep", "data-department-id": d.id, "data-depth": x.depth, style: "--depth:" + x.depth });
      group.appendChild(el("h3", { class: "dep-name" }, el("span", { text: d.id === 0 ? T("s_no_department") : (d.name || "—") }),
        el("span", { class: "dep-count", text: String(users.length) })));
      if (!users.length) group.appendChild(el("div", { class: "set-note dep-empty", text: T("s_dep_empty") }));
      users.forEach(function (u) { total++; group.appendChild(userRow(u, d)); });
      wrap.appendChild(group);
    });
    if (!total) wrap.appendChild(el("div", { class: "set-note", text: T("s_no_users") }));
    b.appendChild(wrap);
  }

  var VISIBILITY = ["all", "department", "own", "none"];

  function userRow(u, dep) {
    var a = u.access || {};
    var st = saveState();
    var seq = 0;
    var row = el("div", { class: "user-row" + (u.active ? "" : " inactive"), "data-user-id": u.id, "data-active": u.active ? "true" : "false" });
    var vis = el("select", { class: "set-select acc-visibility", "aria-label": T("s_visibility") + " — " + u.name });
    VISIBILITY.forEach(function (v) { vis.appendChild(el("option", { value: v, text: T("vis_" + v) })); });
    var check = function (key, label) {
      var i = el("input", { type: "checkbox", class: "acc-" + key });
      return { input: i, label: el("label", { class: "acc-check", title: label }, i, el("span", { text: label })) };
    };
    var cw = check("can_write", T("s_can_write"));
    var rn = check("receives_new_clients", T("s_receives_new"));
    var nt = check("notify", T("s_notify_user"));
    var chSummary = el("summary", { class: "acc-channels-summary" });
    var chAll = el("input", { type: "checkbox", class: "acc-ch-all" });
    var chBoxes = {};
    var chList = el("div", { class: "acc-ch-list" });
    data.channels.forEach(function (c) {
      var i = el("input", { type: "checkbox", class: "acc-ch", value: c.id, "data-channel-id": c.id });
      chBoxes[c.id] = i;
      chList.appendChild(el("label", { class: "acc-check" }, i, C.transportIcon(c.transport), el("span", { text: c.name || c.plain_id })));
    });
    var chDetails = el("details", { class: "acc-channels" }, chSummary,
      el("div", { class: "acc-ch-panel" }, el("label", { class: "acc-check acc-ch-all-label" }, chAll, el("span", { text: T("s_all_channels") })), chList));

    var fill = function () {
      vis.value = a.visibility;
      cw.input.checked = !!a.can_write;
      rn.input.checked = !!a.receives_new_clients;
      nt.input.checked = !!a.notify;
      var all = a.channel_ids === null || a.channel_ids === undefined;
      chAll.checked = all;
      var n = 0;
      data.channels.forEach(function (c) {
        var on = all || a.channel_ids.indexOf(c.id) >= 0;
        chBoxes[c.id].checked = on;
        chBoxes[c.id].disabled = all;
        if (!all && on) n++;
      });
      chSummary.textContent = all ? T("s_channels_all") : T("s_channels_some").replace("{n}", n).replace("{total}", data.channels.length);
      row.setAttribute("data-visibility", a.visibility);
    };
    fill();

    var save = function (change) {
      var my = ++seq;
      var g = gen;
      setSave(st, "saving");
      C.api("PUT", "/api/v1/access/" + u.id, change).then(function (r) {
        if (g !== gen || my !== seq) return;
        a = r;
        u.access = r;
        fill();
        setSave(st, "saved");
      }).catch(function (e) {
        if (g !== gen || my !== seq) return;
        fill(); // back to what the server has
        setSave(st, "error", errText(e));
      });
    };
    vis.addEventListener("change", function () { save({ visibility: vis.value }); });
    cw.input.addEventListener("change", function () { save({ can_write: cw.input.checked }); });
    rn.input.addEventListener("change", function () { save({ receives_new_clients: rn.input.checked }); });
    nt.input.addEventListener("change", function () { save({ notify: nt.input.checked }); });
    chAll.addEventListener("change", function () {
      save({ channel_ids: chAll.checked ? null : data.channels.map(function (c) { return c.id; }) });
    });
    data.channels.forEach(function (c) {
      chBoxes[c.id].addEventListener("change", function () {
        var ids = data.channels.filter(function (x) { return chBoxes[x.id].checked; }).map(function (x) { return x.id; });
        save({ channel_ids: ids });
      });
    });

    var me = C.me();
    row.appendChild(el("div", { class: "user-who" },
      el("span", { class: "user-name", text: u.name || ("#" + u.id) }),
      me && me.user && me.user.id === u.id ? el("span", { class: "badge badge-you", text: T("s_you") }) : null,
      u.is_admin ? el("span", { class: "badge badge-admin", text: T("s_admin") }) : null,
      u.active ? null : el("span", { class: "badge badge-fired", text: T("s_fired") }),
      dep && dep.head_id === u.id ? el("span", { class: "badge badge-head", text: T("s_head") }) : null));
    row.appendChild(el("div", { class: "user-access" },
      el("label", { class: "acc-vis" }, el("span", { class: "acc-vis-label", text: T("s_visibility") }), vis),
      cw.label, rn.label, nt.label, chDetails, st));
    return row;
  }

  // ---- 3. new clients ----------------------------------------------------------

  function radio(name, value, label, checked, onChange) {
    var id = "set-" + name + "-" + value;
    var i = el("input", { type: "radio", name: name, value: value, id: id });
    i.checked = !!checked;
    i.addEventListener("change", function () { if (i.checked) onChange(value); });
    return el("label", { class: "set-radio", for: id }, i, el("span", { text: label }));
  }

  var settingsSeq = 0;

  // putSettings saves a change of the settings; the section re-renders from
  // what the server answers (or from what it had, on an error).
  function putSettings(change, st, after) {
    var my = ++settingsSeq;
    var g = gen;
    setSave(st, "saving");
    return C.api("PUT", "/api/v1/settings", change).then(function (r) {
      if (g !== gen || my !== settingsSeq) return;
      data.settings = r.settings;
      after();
      var n = st.id ? document.getElementById(st.id) : null;
      setSave(n || st, "saved");
    }).catch(function (e) {
      if (g !== gen || my !== settingsSeq) return;
      after();
      var n = st.id ? document.getElementById(st.id) : null;
      setSave(n || st, "error", errText(e));
    });
  }

  function pipelineOf(id) {
    var ps = data.pipelines || [];
    for (var i = 0; i < ps.length; i++) if (ps[i].id === id) return ps[i];
    return null;
  }

  function renderNewClient() {
    var b = cardBody("newclient");
    if (!b || !data.settings) return;
    var s = data.settings;
    var keepState = document.getElementById("newclient-state");
    var st = saveState("newclient-state");
    if (keepState) { st.setAttribute("data-state", keepState.getAttribute("data-state")); st.textContent = keepState.textContent; }
    C.clear(b);
    var rerender = function () { renderNewClient(); };

    var kinds = el("fieldset", { class: "set-group", id: "new-client" }, el("legend", { text: T("s_new_client_q") }));
    ["none", "contact", "lead", "deal"].forEach(function (k) {
      kinds.appendChild(radio("new_client", k, T("nc_" + k), s.new_client === k, function (v) {
        var change = { new_client: v };
        if (v === "deal" && data.pipelines && data.pipelines.length) {
          var p = pipelineOf(s.deal_category_id) || data.pipelines[0];
          change.deal_category_id = p.id;
          var ok = p.stages.some(function (x) { return x.id === s.deal_stage_id; });
          change.deal_stage_id = ok ? s.deal_stage_id : (p.stages[0] ? p.stages[0].id : "");
        }
        putSettings(change, st, rerender);
      }));
    });
    b.appendChild(kinds);

    if (s.new_client === "deal") {
      var deal = el("div", { class: "set-row deal-where" });
      if (data.pipelines && data.pipelines.length) {
        var pipe = el("select", { id: "set-pipeline", class: "set-select" });
        data.pipelines.forEach(function (p) { pipe.appendChild(el("option", { value: p.id, text: p.name })); });
        pipe.value = String(s.deal_category_id);
        var cur = pipelineOf(s.deal_category_id);
        var stage = el("select", { id: "set-stage", class: "set-select" });
        if (!cur || !cur.stages.some(function (x) { return x.id === s.deal_stage_id; })) {
          stage.appendChild(el("option", { value: "", text: T("s_stage_default") }));
        }
        (cur ? cur.stages : []).forEach(function (x) { stage.appendChild(el("option", { value: x.id, text: x.name })); });
        stage.value = s.deal_stage_id || "";
        pipe.addEventListener("change", function () {
          var p = pipelineOf(parseInt(pipe.value, 10));
          putSettings({ deal_category_id: p.id, deal_stage_id: p.stages[0] ? p.stages[0].id : "" }, st, rerender);
        });
        stage.addEventListener("change", function () {
          if (stage.value) putSettings({ deal_stage_id: stage.value }, st, rerender);
        });
        deal.appendChild(el("label", { class: "set-field" }, el("span", { class: "set-label", text: T("s_pipeline") }), pipe));
        deal.appendChild(el("label", { class: "set-field" }, el("span", { class: "set-label", text: T("s_stage") }), stage));
      } else {
        deal.appendChild(el("div", { class: "set-error", text: T("s_pipelines_failed") + (data.pipelinesError ? " (" + data.pipelinesError + ")" : "") }));
      }
      b.appendChild(deal);
    }

    var resp = el("fieldset", { class: "set-group", id: "responsible" }, el("legend", { text: T("s_responsible_q") }));
    var users = allUsers().filter(function (u) { return u.active; });
    var fixedSel = el("select", { id: "set-responsible-user", class: "set-select", "aria-label": T("rm_fixed") });
    if (!users.length) fixedSel.appendChild(el("option", { value: "", text: data.departments ? "—" : T("loading") }));
    users.forEach(function (u) { fixedSel.appendChild(el("option", { value: u.id, text: u.name })); });
    if (s.responsible_user_id !== null && s.responsible_user_id !== undefined) fixedSel.value = String(s.responsible_user_id);
    fixedSel.disabled = s.responsible_mode !== "fixed" || !users.length;
    fixedSel.addEventListener("change", function () {
      putSettings({ responsible_mode: "fixed", responsible_user_id: parseInt(fixedSel.value, 10) }, st, rerender);
    });
    ["fixed", "round_robin", "first_answer"].forEach(function (m) {
      var r = radio("responsible_mode", m, T("rm_" + m), s.responsible_mode === m, function (v) {
        var change = { responsible_mode: v };
        if (v === "fixed") {
          var id = s.responsible_user_id;
          if (id === null || id === undefined) {
            var me = C.me();
            id = parseInt(fixedSel.value, 10) || (me && me.user ? me.user.id : null);
          }
          change.responsible_user_id = id;
        }
        putSettings(change, st, rerender);
      });
      var line = el("div", { class: "set-radio-line" }, r);
      if (m === "fixed") line.appendChild(fixedSel);
      line.appendChild(el("div", { class: "set-hint", text: T("rm_" + m + "_hint") }));
      resp.appendChild(line);
    });
    b.appendChild(resp);
    b.appendChild(st);
  }

  // ---- 4. notifications ------------------------------------------------------

  function renderNotify() {
    var b = cardBody("notify");
    if (!b || !data.settings) return;
    var s = data.settings;
    var keepState = document.getElementById("notify-state");
    var st = saveState("notify-state");
    if (keepState) { st.setAttribute("data-state", keepState.getAttribute("data-state")); st.textContent = keepState.textContent; }
    C.clear(b);
    var on = el("input", { type: "checkbox", id: "set-notify" });
    on.checked = !!s.notify;
    var mins = el("input", { type: "number", id: "set-escalate", class: "set-input set-number", min: "1", max: "1440", step: "1", inputmode: "numeric" });
    mins.value = String(s.escalate_after_minutes || 5);
    // The delay stays editable with notifications off: it also starts the
    // CRM trigger «Нет ответа клиенту N минут».
    on.addEventListener("change", function () { putSettings({ notify: on.checked }, st, renderNotify); });
    mins.addEventListener("change", function () {
      var n = parseInt(mins.value, 10);
      if (!(n >= 1 && n <= 1440)) { setSave(st, "error", T("s_minutes_bad")); return; }
      putSettings({ escalate_after_minutes: n }, st, renderNotify);
    });
    C.append(b, [
      el("label", { class: "set-check", for: "set-notify" }, on, el("span", { text: T("s_notify_on") })),
      el("div", { class: "set-hint", text: T("s_notify_hint") }),
      el("div", { class: "set-row escalate" },
        el("label", { for: "set-escalate", text: T("s_escalate_before") }), mins, el("span", { text: T("s_escalate_after") })),
      el("div", { class: "set-hint", text: T("s_escalate_hint") }),
      el("div", { class: "set-hint", id: "escalate-trigger-hint", text: T("s_escalate_trigger_hint") }),
      st]);
  }

  // ---- 5. the left-menu button -------------------------------------------------

  // automationList is the robot's and triggers' state after a repair; a
  // failure says why, in the portal's words.
  function automationList(items) {
    var list = el("ul", { class: "pl-list", id: "automation-list" });
    items.forEach(function (a) {
      var ok = a.state !== "failed";
      var state = T("auto_" + a.state) + (a.reason ? ": " + a.reason : "");
      list.appendChild(el("li", { class: "pl-item " + (ok ? "ok" : "bad"), "data-code": a.code, "data-state": a.state },
        el("span", { class: "pl-mark", "aria-hidden": "true", text: ok ? "✓" : "✕" }),
        el("span", { class: "pl-name", text: T("auto_" + a.kind + "_" + a.code) }),
        el("span", { class: "pl-state", text: state })));
    });
    var box = el("div", { class: "automation" });
    C.append(box, [el("h3", { class: "set-sub", text: T("s_automation") }), list]);
    return box;
  }

  function renderPlacements() {
    var b = cardBody("placements");
    if (!b) return;
    C.clear(b);
    var pl = data.placements;
    var st = saveState("repair-state");
    var status = el("div", { class: "pl-status", id: "placements-status" });
    if (pl) {
      var missing = pl.missing || [];
      status.setAttribute("data-ok", missing.length ? "false" : "true");
      status.className = "pl-status " + (missing.length ? "bad" : "ok");
      status.textContent = missing.length ? T("s_pl_missing").replace("{n}", missing.length) : T("s_pl_ok");
      var list = el("ul", { class: "pl-list", id: "placement-list" });
      PLACEMENTS.forEach(function (code) {
        var bound = !!(pl.bound && pl.bound[code]);
        list.appendChild(el("li", { class: "pl-item " + (bound ? "ok" : "bad"), "data-placement": code, "data-bound": bound ? "true" : "false" },
          el("span", { class: "pl-mark", "aria-hidden": "true", text: bound ? "✓" : "✕" }),
          el("span", { class: "pl-name", text: T("pl_" + code) }),
          el("span", { class: "pl-state", text: bound ? T("s_bound") : T("s_not_bound") })));
      });
      var evs = pl.events || {};
      var evMissing = missing.filter(function (m) { return PLACEMENTS.indexOf(m) < 0; });
      var evTotal = Object.keys(evs).length + evMissing.filter(function (m) { return !has(evs, m); }).length;
      var evBound = Object.keys(evs).filter(function (k) { return evs[k]; }).length;
      list.appendChild(el("li", { class: "pl-item " + (evMissing.length ? "bad" : "ok"), id: "placement-events", "data-bound": evMissing.length ? "false" : "true" },
        el("span", { class: "pl-mark", "aria-hidden": "true", text: evMissing.length ? "✕" : "✓" }),
        el("span", { class: "pl-name", text: T("s_events") }),
        el("span", { class: "pl-state", text: evMissing.length ? T("s_events_missing") + ": " + evMissing.join(", ") : evBound + " / " + Math.max(evTotal, evBound) })));
      C.append(b, [status, list]);
      if (pl.automation && pl.automation.length) b.appendChild(automationList(pl.automation));
    } else {
      status.className = "pl-status bad";
      status.setAttribute("data-ok", "false");
      status.textContent = T("s_pl_unknown") + (data.placementsError ? " (" + data.placementsError + ")" : "");
      b.appendChild(status);
    }
    var repair = el("button", { type: "button", class: "btn btn-primary", id: "repair-btn", text: T("s_repair") });
    repair.addEventListener("click", function () {
      repair.disabled = true;
      setSave(st, "saving");
      var g = gen;
      C.api("POST", "/api/v1/settings/repair").then(function (r) {
        if (g !== gen) return;
        var auto = r.automation || [];
        data.placements = { bound: r.bound || {}, events: r.events || {}, missing: r.missing || [], automation: auto };
        data.placementsError = "";
        renderPlacements();
        var partial = (r.missing || []).length || auto.some(function (a) { return a.state === "failed"; });
        var n = document.getElementById("repair-state");
        if (n) setSave(n, partial ? "error" : "saved", partial ? T("s_repair_partial") : T("s_repaired"));
      }).catch(function (e) {
        if (g !== gen) return;
        repair.disabled = false;
        setSave(st, "error", errText(e));
      });
    });
    b.appendChild(el("div", { class: "set-row" }, repair, st));
    b.appendChild(el("h3", { class: "set-sub", text: T("s_menu_all_title") }));
    var steps = el("ol", { class: "set-steps" });
    ["s_menu_step1", "s_menu_step2", "s_menu_step3"].forEach(function (k) { steps.appendChild(el("li", { text: T(k) })); });
    b.appendChild(steps);
    b.appendChild(el("div", { class: "set-hint", text: T("s_menu_note") }));
  }

  // ---- 6. the first sync -------------------------------------------------------

  function loadSync(my) {
    clearTimeout(syncTimer);
    return C.api("GET", "/api/v1/sync").then(function (r) {
      if (my !== gen) return;
      data.sync = r;
      renderSync();
      if (!r.complete) syncTimer = setTimeout(function () { loadSync(my); }, 3000);
    }).catch(function (e) {
      if (my !== gen) return;
      if (!data.sync) fail("sync", e, function () { loadSync(gen); });
      syncTimer = setTimeout(function () { loadSync(my); }, 6000);
    });
  }

  function bar(done, total, phase) {
    var pct = total > 0 ? Math.min(100, Math.round(done * 100 / total)) : (phase === "done" ? 100 : 0);
    return el("div", { class: "bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(pct) },
      el("div", { class: "bar-fill", style: "width:" + pct + "%" }));
  }

  function renderSync() {
    var b = cardBody("sync");
    if (!b || !data.sync) return;
    C.clear(b);
    var r = data.sync;
    var ents = r.entities || [];
    var done = 0, total = 0;
    ents.forEach(function (x) { done += x.done || 0; total += x.total || 0; });
    var failed = ents.some(function (x) { return x.phase === "failed"; });
    var wrap = el("div", { class: "sync", id: "sync-progress", "data-complete": r.complete ? "true" : "false" });
    wrap.appendChild(el("div", { class: "sync-overall" },
      el("div", { class: "sync-line" },
        el("span", { class: "sync-name", text: r.complete ? T("s_sync_complete") : failed ? T("s_sync_failed") : T("s_sync_running") }),
        el("span", { class: "sync-num", text: done + " / " + total })),
      bar(r.complete ? 1 : done, r.complete ? 1 : total, r.complete ? "done" : "")));
    var rows = el("div", { class: "sync-rows" });
    ents.forEach(function (x) {
      var k = "sync_" + x.entity;
      rows.appendChild(el("div", { class: "sync-row phase-" + x.phase, "data-entity": x.entity, "data-phase": x.phase },
        el("div", { class: "sync-line" },
          el("span", { class: "sync-name", text: T(k) !== k ? T(k) : x.entity }),
          el("span", { class: "sync-phase", text: T("phase_" + x.phase) }),
          el("span", { class: "sync-num", text: (x.done || 0) + " / " + (x.total || 0) + (x.skipped ? " · " + T("s_skipped") + " " + x.skipped : "") })),
        bar(x.done || 0, x.total || 0, x.phase)));
    });
    wrap.appendChild(rows);
    b.appendChild(wrap);
  }

  window.relay24Settings = { open: open, close: close };
})();

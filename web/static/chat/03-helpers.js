// chat.js, part 3: helpers.

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
    case "wapi": // WhatsApp Business: the same messenger to the client
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

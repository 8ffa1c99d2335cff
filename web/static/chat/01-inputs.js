// chat.js, part 1: page inputs.

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

// relay24Frame talks to the Bitrix24 page around the iframe. It uses the
// portal's BX24.js when it loaded, and otherwise speaks the frame protocol
// itself (window.name is "DOMAIN|PROTOCOL|APP_SID"; commands go to the parent
// as "command:params:callback:APP_SID"), so the page also works where the
// SDK script cannot be fetched, such as the demo sandbox.
(function () {
  "use strict";
  function frameInfo() {
    var parts = (window.name || "").split("|");
    if (parts.length < 3) return null;
    return { domain: parts[0], protocol: parts[1] === "1" ? "https" : "http", sid: parts[2] };
  }
  function send(cmd, params) {
    var f = frameInfo();
    if (!f || window.parent === window) return false;
    window.parent.postMessage(cmd + ":" + (params ? JSON.stringify(params) : "") + "::" + f.sid, f.protocol + "://" + f.domain);
    return true;
  }
  window.relay24Frame = {
    inFrame: function () { return window.parent !== window; },
    installFinish: function () {
      if (window.BX24 && BX24.init) { BX24.init(function () { BX24.installFinish(); }); return; }
      send("setInstallFinish", {});
    },
    openPath: function (path) {
      if (window.BX24 && BX24.openPath) { BX24.openPath(path); return true; }
      return send("openPath", { path: path });
    },
    setTitle: function (title) {
      if (window.BX24 && BX24.setTitle) { BX24.setTitle(title); return; }
      send("setTitle", { title: title });
    }
  };
})();

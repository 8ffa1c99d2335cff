// chat.js, part 4: API.

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

package handlers_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/relay24/relay24/handlers"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/web"
)

// answer runs the error handler on err for a request and returns the
// recorded answer and the log it wrote.
func answer(t *testing.T, method, target string, form url.Values, err error) (*httptest.ResponseRecorder, string) {
	t.Helper()
	assets, werr := web.New()
	if werr != nil {
		t.Fatal(werr)
	}
	var logs bytes.Buffer
	h := &handlers.Handlers{Web: assets, Log: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req := httptest.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationForm)
	}
	rec := httptest.NewRecorder()
	c := echo.New().NewContext(req, rec)
	h.ErrorHandler(err, c)
	return rec, logs.String()
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Every problem code has its status; the answer is CONTRACT §5's
// {"error":{"code","message"}} with the reason as code. An internal error
// (a problem of code internal, or any error without a code) never shows its
// text: it may hold a query, a credential or a client's data.
func TestErrorStatusesAndBodies(t *testing.T) {
	const secret = "password=hunter2 SELECT * FROM portals"
	for _, c := range []struct {
		name        string
		err         error
		status      int
		code, msg   string
		loggedError bool // logged at level ERROR (else INFO)
	}{
		{"invalid", problem.New(problem.Invalid, "bad_cursor", "the cursor is not one this server gave"), 400, "bad_cursor", "the cursor is not one this server gave", false},
		{"unauthorized", problem.New(problem.Unauthorized, "", "no session"), 401, "unauthorized", "no session", false},
		{"forbidden", problem.New(problem.Forbidden, "admin_only", "admins only"), 403, "admin_only", "admins only", false},
		{"not found", problem.New(problem.NotFound, "dialog_not_found", "dialog not found"), 404, "dialog_not_found", "dialog not found", false},
		{"conflict", problem.New(problem.Conflict, "window_closed", "the window is closed"), 409, "window_closed", "the window is closed", false},
		{"too large", problem.New(problem.TooLarge, "file_too_large", "over 25 MB"), 413, "file_too_large", "over 25 MB", false},
		{"unavailable", problem.Wrap(errors.New(secret), problem.Unavailable, "portal_unavailable", "the portal did not answer"), 502, "portal_unavailable", "the portal did not answer", true},
		{"wrapped in context", fmt.Errorf("send: %w", problem.New(problem.NotFound, "channel_not_found", "channel not found")), 404, "channel_not_found", "channel not found", false},
		{"wrap keeps the cause out", problem.Wrap(errors.New(secret), problem.Invalid, "gateway_refused", "Wazzup refused"), 400, "gateway_refused", "Wazzup refused", false},
		{"internal problem", problem.Wrap(errors.New(secret), problem.Internal, "db_down", secret), 500, "internal", "internal error", true},
		{"plain error", errors.New(secret), 500, "internal", "internal error", true},
		{"echo's not found", echo.NewHTTPError(http.StatusNotFound, "no such route"), 404, "not_found", "no such route", false},
		{"echo's method", echo.ErrMethodNotAllowed, 405, "method_not_allowed", "Method Not Allowed", false},
		{"echo's 500 text", echo.NewHTTPError(http.StatusInternalServerError, secret), 500, "internal_server_error", "Internal Server Error", true},
		{"body too large", fmt.Errorf("bind: %w", &http.MaxBytesError{Limit: 1 << 20}), 413, "body_too_large", "the request body is too large", false},
	} {
		rec, logs := answer(t, http.MethodGet, "/api/v1/dialogs", nil, c.err)
		if rec.Code != c.status {
			t.Errorf("%s: status %d, want %d", c.name, rec.Code, c.status)
		}
		if ct := rec.Header().Get(echo.HeaderContentType); !strings.HasPrefix(ct, echo.MIMEApplicationJSON) {
			t.Errorf("%s: Content-Type %q", c.name, ct)
		}
		var got apiError
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Errorf("%s: body %q: %v", c.name, rec.Body, err)
			continue
		}
		if got.Error.Code != c.code || got.Error.Message != c.msg {
			t.Errorf("%s: error %+v, want code %q message %q", c.name, got.Error, c.code, c.msg)
		}
		if strings.Contains(rec.Body.String(), "hunter2") {
			t.Errorf("%s: the answer leaks the cause: %s", c.name, rec.Body)
		}
		// The log keeps what the answer hides, at the level that pages someone.
		level := `"level":"INFO"`
		if c.loggedError {
			level = `"level":"ERROR"`
		}
		if !strings.Contains(logs, level) {
			t.Errorf("%s: logged %s, want %s", c.name, logs, level)
		}
		if strings.Contains(c.err.Error(), "hunter2") && !strings.Contains(logs, "hunter2") {
			t.Errorf("%s: the log lost the cause: %s", c.name, logs)
		}
	}
}

// Programs (the API, webhooks, the portal's events, the operator's probes,
// the installer's event form) get JSON; a person opening a page gets an HTML
// page in the portal's language, its message escaped.
func TestErrorHTMLOrJSON(t *testing.T) {
	nf := problem.New(problem.NotFound, "unknown_portal", `relay24 is not installed on <script>alert(1)</script>`)
	for _, c := range []struct {
		method, target string
		form           url.Values
		html           bool
		title          string
	}{
		{"GET", "/api/v1/me", nil, false, ""},
		{"POST", "/webhooks/wazzup/k", nil, false, ""},
		{"POST", "/webhooks/telegram/k", nil, false, ""},
		{"POST", "/b24/events", url.Values{"event": {"ONCRMDEALADD"}}, false, ""},
		{"GET", "/healthz", nil, false, ""},
		{"GET", "/readyz", nil, false, ""},
		{"GET", "/metrics", nil, false, ""},
		{"POST", "/b24/install", url.Values{"event": {"ONAPPINSTALL"}}, false, ""},
		{"POST", "/b24/install?LANG=en", url.Values{"AUTH_ID": {"x"}}, true, "Not found"},
		{"POST", "/b24/app", url.Values{"AUTH_ID": {"x"}}, true, "Не найдено"},
		{"POST", "/b24/placement?LANG=en", nil, true, "Not found"},
		{"POST", "/b24/placement?LANG=de", nil, true, "Not found"},
		{"POST", "/b24/placement?LANG=ua", nil, true, "Не найдено"},
		{"GET", "/login?portal=x", nil, true, "Не найдено"},
		{"GET", "/app", nil, true, "Не найдено"},
	} {
		name := c.method + " " + c.target
		rec, _ := answer(t, c.method, c.target, c.form, nf)
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s: status %d", name, rec.Code)
		}
		ct := rec.Header().Get(echo.HeaderContentType)
		body := rec.Body.String()
		if !c.html {
			var got apiError
			if !strings.HasPrefix(ct, echo.MIMEApplicationJSON) || json.Unmarshal(rec.Body.Bytes(), &got) != nil || got.Error.Code != "unknown_portal" {
				t.Errorf("%s: want JSON, got %q %s", name, ct, body)
			}
			continue
		}
		if !strings.HasPrefix(ct, "text/html") || !strings.Contains(body, "<html") {
			t.Errorf("%s: want an HTML page, got %q %.80s", name, ct, body)
			continue
		}
		if !strings.Contains(body, c.title) {
			t.Errorf("%s: the page has no title %q: %s", name, c.title, body)
		}
		// A person reads the catalogue's text in his language, with what he
		// can do; the English detail (here hostile) never reaches the page.
		if strings.Contains(body, "alert(1)") || strings.Contains(body, "relay24 is not installed on") {
			t.Errorf("%s: the page shows the developer's message: %s", name, body)
		}
		lang := "ru"
		if c.title == "Not found" {
			lang = "en"
		}
		want, _ := web.ErrorText(lang, "unknown_portal")
		if !strings.Contains(body, template.HTMLEscapeString(want)) || !strings.Contains(body, template.HTMLEscapeString(web.Word(lang, "page_error_hint"))) {
			t.Errorf("%s: the page lacks the %s text of unknown_portal and the hint: %s", name, lang, body)
		}
		for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
			if got := rec.Header().Get(h); got != want {
				t.Errorf("%s: %s %q, want %q", name, h, got, want)
			}
		}
		if !strings.Contains(rec.Header().Get("Content-Security-Policy"), "frame-ancestors") {
			t.Errorf("%s: no frame-ancestors in the page's CSP", name)
		}
	}
}

// The page's title names the kind of failure, in the person's language.
func TestErrorPageTitles(t *testing.T) {
	for _, c := range []struct {
		err   error
		lang  string
		title string
	}{
		{problem.New(problem.Unauthorized, "", "x"), "en", web.T("en").AccessDenied},
		{problem.New(problem.Forbidden, "", "x"), "ru", web.T("ru").AccessDenied},
		{problem.New(problem.NotFound, "", "x"), "en", web.T("en").NotFound},
		{problem.New(problem.Unavailable, "", "x"), "ru", web.T("ru").Unavailable},
		{errors.New("boom: password=hunter2"), "en", web.T("en").Unavailable},
		{problem.New(problem.Invalid, "", "x"), "ru", web.T("ru").BadRequest},
		{problem.New(problem.Conflict, "", "x"), "en", web.T("en").BadRequest},
	} {
		rec, _ := answer(t, http.MethodPost, "/b24/app?LANG="+c.lang, nil, c.err)
		if !strings.Contains(rec.Body.String(), "<h1>"+c.title+"</h1>") {
			t.Errorf("%v (%s): page without %q: %s", c.err, c.lang, c.title, rec.Body)
		}
		if strings.Contains(rec.Body.String(), "hunter2") {
			t.Errorf("%v: the page leaks the cause", c.err)
		}
		// Titles differ by kind: a page must not carry another kind's title.
		for _, other := range []string{web.T(c.lang).AccessDenied, web.T(c.lang).NotFound, web.T(c.lang).Unavailable, web.T(c.lang).BadRequest} {
			if other != c.title && strings.Contains(rec.Body.String(), other) {
				t.Errorf("%v (%s): page also says %q", c.err, c.lang, other)
			}
		}
	}
}

// An answer already on its way is left alone (a stream that failed midway).
func TestErrorAfterCommit(t *testing.T) {
	assets, err := web.New()
	if err != nil {
		t.Fatal(err)
	}
	h := &handlers.Handlers{Web: assets, Log: slog.New(slog.DiscardHandler)}
	rec := httptest.NewRecorder()
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/api/v1/events", nil), rec)
	c.Response().WriteHeader(http.StatusOK)
	_, _ = c.Response().Write([]byte("data: {}\n\n"))
	h.ErrorHandler(problem.New(problem.NotFound, "", "late"), c)
	if rec.Code != http.StatusOK || rec.Body.String() != "data: {}\n\n" {
		t.Fatalf("after commit: %d %q", rec.Code, rec.Body)
	}
}

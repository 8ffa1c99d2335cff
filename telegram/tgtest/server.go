// Package tgtest is an in-process emulator of the Telegram Bot API server
// (api.telegram.org), for relay24's tests and its demo mode.
//
// A Server is a real HTTP server on 127.0.0.1 serving /bot<token>/<method>
// (GET or POST; query, form, multipart or JSON parameters) and
// /file/bot<token>/<path> for downloads. It holds bots; each bot has a
// webhook, private chats with users, sent messages and files (uploads by
// sendPhoto/Document/Video/Audio/Voice are checked against the upload caps
// and recorded for tests). Answers use the
// exact envelopes of the real server ({"ok":true,"result":...} and
// {"ok":false,"error_code":N,"description":"...","parameters":{...}}) with its
// wording, taken from tdlib/telegram-bot-api. Users "write" through
// UserWrites and UserSendsPhoto, which POST updates to the bot's webhook
// with the secret header and retry on non-2xx answers.
//
// ASSUMPTIONS.md next to this file lists where the emulator departs from, or
// guesses at, the real server.
package tgtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of the webhook pusher. The real server retries with growing
// delays until the update expires; tests want a bounded, fast version.
const (
	DefaultWebhookAttempts = 3
	DefaultWebhookBackoff  = time.Second
	DefaultWebhookTimeout  = 30 * time.Second
)

// Server is the emulated Bot API server. All state sits behind one mutex;
// webhook POSTs are made without it.
type Server struct {
	srv    *httptest.Server
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	once   sync.Once

	mu           sync.Mutex
	now          func() time.Time
	bots         map[string]*Bot
	files        map[string]*file // by file_id
	attempts     int
	backoff      time.Duration
	timeout      time.Duration
	requireHTTPS bool
	nextFile     int
}

// file is a file the server can hand out with getFile.
type file struct {
	id, uniqueID, path string
	data               []byte
	bot                *Bot
}

// NewServer starts an emulator on 127.0.0.1. Close it when done.
func NewServer() *Server {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		ctx: ctx, cancel: cancel, now: time.Now,
		bots: map[string]*Bot{}, files: map[string]*file{},
		attempts: DefaultWebhookAttempts, backoff: DefaultWebhookBackoff, timeout: DefaultWebhookTimeout,
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// URL is the API base, e.g. http://127.0.0.1:41234 (TELEGRAM_API_URL).
func (s *Server) URL() string { return s.srv.URL }

// Close interrupts pending webhook POSTs and stops the server.
func (s *Server) Close() {
	s.once.Do(func() {
		s.cancel()
		s.srv.Close()
	})
}

// SetWebhookRetry sets how often an update is POSTed until a 2xx answer, and
// the first pause (doubled after each attempt). Default 3 attempts, 1 s.
func (s *Server) SetWebhookRetry(attempts int, backoff time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts, s.backoff = max(attempts, 1), max(backoff, 0)
}

// SetWebhookTimeout sets how long a webhook POST waits for the answer.
func (s *Server) SetWebhookTimeout(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d > 0 {
		s.timeout = d
	}
}

// RequireHTTPS makes setWebhook refuse what the real server refuses: non-HTTPS
// URLs and ports other than 80, 88, 443, 8443. Off by default because tests
// and the demo listen on plain http at random ports.
func (s *Server) RequireHTTPS(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requireHTTPS = on
}

// SetClock replaces time.Now for message dates.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// errorDescriptions are the default descriptions of Fault statuses, in the
// server's wording (Client.cpp prefixes).
var errorDescriptions = map[int]string{
	400: "Bad Request",
	401: "Unauthorized",
	403: "Forbidden",
	404: "Not Found",
	409: "Conflict",
	500: "Internal Server Error",
	502: "Bad Gateway",
}

// answerOK writes {"ok":true,"result":...[,"description":...]}.
func answerOK(w http.ResponseWriter, result any, description string) {
	env := struct {
		OK          bool   `json:"ok"`
		Result      any    `json:"result"`
		Description string `json:"description,omitempty"`
	}{true, result, description}
	writeJSON(w, http.StatusOK, env)
}

// answerError writes {"ok":false,"error_code":N,"description":...} with
// parameters only when there are some; the HTTP status is the error code.
func answerError(w http.ResponseWriter, code int, description string, retryAfter int) {
	type params struct {
		RetryAfter int `json:"retry_after,omitempty"`
	}
	env := struct {
		OK          bool    `json:"ok"`
		ErrorCode   int     `json:"error_code"`
		Description string  `json:"description"`
		Parameters  *params `json:"parameters,omitempty"`
	}{false, code, description, nil}
	if retryAfter > 0 {
		env.Parameters = &params{retryAfter}
	}
	writeJSON(w, code, env)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// validTokenShape mirrors ClientManager::send: "<bot id>:<secret>", no '/',
// at most 80 bytes, the id positive and not starting with 0.
func validTokenShape(token string) bool {
	id, _, ok := strings.Cut(token, ":")
	if !ok || token == "" || token[0] == '0' || len(token) > 80 || strings.Contains(token, "/") {
		return false
	}
	n, err := strconv.ParseInt(id, 10, 64)
	return err == nil && n > 0 && n < 1<<54
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if strings.HasPrefix(p, "/file/bot") {
		s.serveFile(w, r)
		return
	}
	rest, ok := strings.CutPrefix(p, "/bot")
	if !ok {
		answerError(w, http.StatusNotFound, "Not Found", 0)
		return
	}
	token, method, _ := strings.Cut(rest, "/")
	if !validTokenShape(token) {
		answerError(w, http.StatusUnauthorized, "Unauthorized: invalid token specified", 0)
		return
	}
	s.mu.Lock()
	b := s.bots[token]
	var f *Fault
	if b != nil {
		f = b.takeFault(method)
	}
	s.mu.Unlock()
	if b == nil {
		answerError(w, http.StatusUnauthorized, "Unauthorized", 0)
		return
	}
	if f.apply(w, r) {
		return
	}
	params, files, ok := readParams(r)
	if !ok {
		answerError(w, http.StatusBadRequest, "Bad Request: can't parse JSON object", 0)
		return
	}
	b.dispatch(w, strings.ToLower(method), params, files)
}

// upload is one file part of a multipart request.
type upload struct {
	name, ctype string
	data        []byte
	size        int64 // bytes sent; more than data holds when over maxUpload
}

// maxUpload is the most the emulator keeps of a file part: the Bot API's
// largest upload cap (50 MB, non-photo files). A bigger part is measured, not
// kept, and refused with 413.
const maxUpload = 50 << 20

// readParams merges the query string with a form, multipart or JSON body, as
// the Bot API accepts all of them. JSON values that are not strings keep
// their JSON text (chat_id 123 → "123", allowed_updates [..] → "[..]").
// File parts of a multipart body come back by part name.
func readParams(r *http.Request) (map[string]string, map[string]*upload, bool) {
	if ctype, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ctype == "multipart/form-data" {
		return readMultipart(r)
	}
	p, ok := readSimpleParams(r)
	return p, nil, ok
}

// readMultipart streams a multipart body: values kept (1 MiB each), files
// read up to maxUpload and measured beyond it, so an oversized upload is
// answered 413 rather than held in memory.
func readMultipart(r *http.Request) (map[string]string, map[string]*upload, bool) {
	out := map[string]string{}
	for k, v := range r.URL.Query() {
		out[k] = v[0]
	}
	files := map[string]*upload{}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, nil, false
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return out, files, true
		}
		if err != nil {
			return nil, nil, false
		}
		name := part.FormName()
		if part.FileName() == "" {
			v, err := io.ReadAll(io.LimitReader(part, 1<<20))
			if err != nil {
				return nil, nil, false
			}
			out[name] = string(v)
			continue
		}
		data, err := io.ReadAll(io.LimitReader(part, maxUpload+1))
		if err != nil {
			return nil, nil, false
		}
		size := int64(len(data))
		if size > maxUpload {
			rest, err := io.Copy(io.Discard, part)
			if err != nil {
				return nil, nil, false
			}
			size, data = size+rest, nil
		}
		files[name] = &upload{name: part.FileName(), ctype: part.Header.Get("Content-Type"), data: data, size: size}
	}
}

func readSimpleParams(r *http.Request) (map[string]string, bool) {
	out := map[string]string{}
	for k, v := range r.URL.Query() {
		out[k] = v[0]
	}
	ctype, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ctype {
	case "application/json":
		raw, err := io.ReadAll(io.LimitReader(r.Body, 50<<20))
		if err != nil {
			return nil, false
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			return out, true
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return nil, false
		}
		for k, v := range obj {
			var s string
			if json.Unmarshal(v, &s) == nil {
				out[k] = s
			} else if string(v) != "null" {
				out[k] = string(v)
			}
		}
	case "application/x-www-form-urlencoded":
		if r.ParseForm() != nil {
			return nil, false
		}
		for k, v := range r.PostForm {
			out[k] = v[0]
		}
	}
	return out, true
}

// apply plays a fault on a request: waits its delay (or until the client
// gives up) and answers its error. It reports whether the request is
// answered (or abandoned); a nil fault does nothing.
func (f *Fault) apply(w http.ResponseWriter, r *http.Request) bool {
	if f == nil {
		return false
	}
	if f.Delay > 0 {
		// Drain the body first: only then does net/http notice a client
		// that gives up, and cancel r.Context(). The body is kept for a
		// fault that only delays.
		if body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20)); err == nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		}
	}
	if f.Status != 0 {
		f.answer(w)
		return true
	}
	return false
}

// serveFile is GET /file/bot<token>/<file_path>.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/file/bot")
	token, path, _ := strings.Cut(rest, "/")
	s.mu.Lock()
	var found *file
	var fault *Fault
	if b := s.bots[token]; b != nil {
		fault = b.takeFault(FileDownload)
		for _, f := range s.files {
			if f.bot == b && f.path == path {
				found = f
				break
			}
		}
	}
	s.mu.Unlock()
	if found == nil || r.Method != http.MethodGet {
		answerError(w, http.StatusNotFound, "Not Found", 0)
		return
	}
	if fault.apply(w, r) {
		return
	}
	w.Header().Set("Content-Type", mime.TypeByExtension(pathExt(path)))
	_, _ = w.Write(found.data)
}

func pathExt(p string) string {
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[i:]
	}
	return ""
}

// validWebhookURL is the check setWebhook makes: an absolute http(s) URL;
// with RequireHTTPS also https on an allowed port.
func validWebhookURL(raw string, requireHTTPS bool) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "Bad Request: invalid webhook URL specified"
	}
	if !requireHTTPS {
		return ""
	}
	if u.Scheme != "https" {
		return "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
	}
	switch u.Port() {
	case "", "443", "80", "88", "8443":
		return ""
	}
	return "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
}

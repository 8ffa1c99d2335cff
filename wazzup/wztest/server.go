package wztest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Documented limits (channels.md §1.4, §1.6, §1.7, §1.15).
const (
	DefaultRateLimit      = 500              // requests per key ...
	DefaultRateWindow     = 5 * time.Second  // ... per window, counter reset each window
	DefaultWebhookTimeout = 30 * time.Second // Wazzup waits this long for our webhook answer
	CrmMessageIDWindow    = 60 * time.Second // a repeated crmMessageId is refused this long
	MaxEntities           = 100              // users/contacts/deals per request
	MaxWebhookURILength   = 200
	MaxContentSize        = 10 << 20 // contentUri download limit of the API
	// DefaultContentTimeout bounds the download of a contentUri. Wazzup
	// publishes none; 30 s is a guess (ASSUMPTIONS.md).
	DefaultContentTimeout = 30 * time.Second
)

// Default webhook retry policy of the emulator: none. Wazzup documents no
// retries for v3 (channels.md §1.7, [UNCONFIRMED]), so every payload is
// POSTed once and a first-try failure of relay24 shows in tests as a
// DeliveryError; a test that wants redelivery turns it on (SetWebhookRetry).
const (
	DefaultWebhookAttempts = 1
	DefaultWebhookBackoff  = time.Second
)

// Server is the emulated api.wazzup24.com. All its state sits behind one
// mutex; network calls (webhook POSTs, content downloads) are made without it.
type Server struct {
	srv *httptest.Server

	ctx    context.Context // cancelled by Close: stops pending deliveries
	cancel context.CancelFunc
	once   sync.Once

	mu             sync.Mutex
	idle           *sync.Cond // signalled when pending drops to 0
	pending        int        // asynchronous deliveries in flight
	closed         bool
	now            func() time.Time
	keys           map[string]*keyState
	accounts       []*Account
	attempts       int
	backoff        time.Duration
	webhookTimeout time.Duration
	rateLimit      int
	rateWindow     time.Duration
	fetchContent   bool
	contentTimeout time.Duration
	maxContent     int64
	store          map[string]storedFile // GET /store/{id}
}

// keyState is one API key: its account, its mode and its rate-limit window.
type keyState struct {
	account     *Account
	restricted  bool
	windowStart time.Time
	count       int
}

type storedFile struct {
	contentType string
	body        []byte
	fails       int // the next downloads that answer 500 (< 0: all)
	gets        int // downloads asked for
}

// NewServer starts an emulator on 127.0.0.1. Close it when done.
func NewServer() *Server {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		ctx: ctx, cancel: cancel,
		now:            time.Now,
		keys:           map[string]*keyState{},
		attempts:       DefaultWebhookAttempts,
		backoff:        DefaultWebhookBackoff,
		webhookTimeout: DefaultWebhookTimeout,
		rateLimit:      DefaultRateLimit,
		rateWindow:     DefaultRateWindow,
		fetchContent:   true,
		contentTimeout: DefaultContentTimeout,
		maxContent:     MaxContentSize,
		store:          map[string]storedFile{},
	}
	s.idle = sync.NewCond(&s.mu)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// URL is the API base, e.g. http://127.0.0.1:41234 (WAZZUP_API_URL).
func (s *Server) URL() string { return s.srv.URL }

// Close stops pending deliveries and the HTTP server. It may be called twice.
func (s *Server) Close() {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.cancel()
		s.Wait()
		s.srv.Close()
	})
}

// Wait blocks until every asynchronous delivery (echoes and statuses after a
// send) has finished, so tests need not sleep.
func (s *Server) Wait() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.pending > 0 {
		s.idle.Wait()
	}
}

// goAsync runs fn in the background unless the server is closing; the
// caller holds s.mu. Wait and Close wait for it.
func (s *Server) goAsync(fn func()) {
	if s.closed {
		return
	}
	s.pending++
	go func() {
		defer func() {
			s.mu.Lock()
			s.pending--
			if s.pending == 0 {
				s.idle.Broadcast()
			}
			s.mu.Unlock()
		}()
		fn()
	}()
}

// AddAccount creates an account reached with apiKey, or returns the account
// that key already opens.
func (s *Server) AddAccount(apiKey string) *Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.keys[apiKey]; k != nil {
		return k.account
	}
	a := newAccount(s)
	s.accounts = append(s.accounts, a)
	s.keys[apiKey] = &keyState{account: a}
	return a
}

// Account returns the account apiKey opens, or nil.
func (s *Server) Account(apiKey string) *Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.keys[apiKey]; k != nil {
		return k.account
	}
	return nil
}

// SetRestricted turns the "sidecar" mode of a key on or off: such a key opens
// channels, sending and webhook settings only, and gets 403
// {"error":"FORBIDDEN"} on users, contacts, deals, pipelines, iframe and
// unanswered; crmUserId of its sends is ignored. An unknown key is ignored.
func (s *Server) SetRestricted(apiKey string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.keys[apiKey]; k != nil {
		k.restricted = on
	}
}

// SetWebhookRetry sets how often a webhook POST is tried when relay24 does not
// answer 200 in time, and the first pause (doubled after each attempt). The
// real policy is not documented; the default is one attempt (no retry).
// The {"test":true} probe of PATCH /v3/webhooks and PostRaw are always tried
// once.
func (s *Server) SetWebhookRetry(attempts int, backoff time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts = max(attempts, 1)
	s.backoff = max(backoff, 0)
}

// SetWebhookTimeout sets how long a webhook POST waits for an answer (30 s).
func (s *Server) SetWebhookTimeout(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d > 0 {
		s.webhookTimeout = d
	}
}

// SetRateLimit changes the per-key limit (500 requests per 5 s).
func (s *Server) SetRateLimit(requests int, window time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimit, s.rateWindow = requests, window
}

// SetClock replaces the emulator's clock (time.Now), which drives the rate
// window, the crmMessageId window and every timestamp it emits.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetFetchContent turns off (or on) the download of contentUri on send. On by
// default, as Wazzup fetches the file the moment the request arrives.
func (s *Server) SetFetchContent(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fetchContent = on
}

// SetContentLimits changes how long a contentUri download may take
// (DefaultContentTimeout) and how big the file may be (MaxContentSize), so
// tests reach the limits quickly. Zero keeps a value.
func (s *Server) SetContentLimits(timeout time.Duration, maxBytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if timeout > 0 {
		s.contentTimeout = timeout
	}
	if maxBytes > 0 {
		s.maxContent = maxBytes
	}
}

// clock reads the clock; the caller holds s.mu.
func (s *Server) clock() time.Time { return s.now().UTC() }

// serveHTTP authenticates, rate-limits and applies faults before routing.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/store/") {
		s.serveStore(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/iframe/") {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><title>Wazzup chat (emulated)</title><p>Wazzup chat window (emulated)</p>"))
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/v3/") {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	key, ok := bearer(r.Header.Get("Authorization"))
	s.mu.Lock()
	k := s.keys[key]
	if !ok || k == nil {
		s.mu.Unlock()
		// 401 with an empty body: the documentation describes the status
		// only, and "4xx with an empty body" is one of its two forms.
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	now := s.clock()
	if now.Sub(k.windowStart) >= s.rateWindow || now.Before(k.windowStart) {
		k.windowStart, k.count = now, 0
	}
	k.count++
	if s.rateLimit > 0 && k.count > s.rateLimit {
		s.mu.Unlock()
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	a, restricted := k.account, k.restricted
	f := a.takeFault(r.URL.Path)
	s.mu.Unlock()

	if f != nil {
		if f.Delay > 0 || f.Hold != nil {
			// Drain the body first: only then does net/http notice a client
			// that gives up, and cancel r.Context().
			// The body is kept for a fault that only delays.
			if body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20)); err == nil {
				r.Body = io.NopCloser(bytes.NewReader(body))
			}
		}
		if f.Hold != nil {
			select {
			case <-f.Hold:
			case <-r.Context().Done():
				return
			}
		}
		if f.Delay > 0 {
			t := time.NewTimer(f.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if f.Status != 0 {
			if f.Body != "" {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
			}
			w.WriteHeader(f.Status)
			_, _ = w.Write([]byte(f.Body))
			return
		}
	}
	a.route(w, r, restricted)
}

// bearer extracts the key of "Authorization: Bearer <key>".
func bearer(h string) (string, bool) {
	scheme, key, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	key = strings.TrimSpace(key)
	return key, key != ""
}

func (s *Server) serveStore(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/store/"), "/")
	s.mu.Lock()
	f, ok := s.store[id]
	fail := false
	if ok {
		f.gets++
		if f.fails != 0 {
			fail = true
			if f.fails > 0 {
				f.fails--
			}
		}
		s.store[id] = f
	}
	s.mu.Unlock()
	if !ok || r.Method != http.MethodGet {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if fail {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	_, _ = w.Write(f.body)
}

// PutMedia keeps a client's file in the emulator's store, as Wazzup keeps
// the media of an incoming message, and returns its public link (what a
// webhook's contentUri carries, ending in "/?filename=<name>" as Wazzup's
// do): GET answers the bytes to anyone, with
// the type given.
func (s *Server) PutMedia(name, contentType string, body []byte) string {
	id := randomHex(20)
	s.mu.Lock()
	s.store[id] = storedFile{contentType: contentType, body: body}
	s.mu.Unlock()
	return s.URL() + "/store/" + id + "/?filename=" + url.QueryEscape(name)
}

// storeID is the id of a store link.
func (s *Server) storeID(link string) string {
	u, err := url.Parse(link)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(strings.TrimPrefix(u.Path, "/store/"), "/")
}

// FailMedia makes the next n downloads of a stored file answer 500 (n < 0:
// every one, until FailMedia(link, 0)).
func (s *Server) FailMedia(link string, n int) {
	id := s.storeID(link)
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.store[id]; ok {
		f.fails = n
		s.store[id] = f
	}
}

// DropMedia forgets a stored file: its link answers 404, as an expired one.
func (s *Server) DropMedia(link string) {
	id := s.storeID(link)
	s.mu.Lock()
	delete(s.store, id)
	s.mu.Unlock()
}

// MediaGets counts the downloads a stored file was asked for.
func (s *Server) MediaGets(link string) int {
	id := s.storeID(link)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.store[id].gets
}

// apiError is the error envelope. The extended form (with status and
// requestId) is what POST /v3/message answers; other routes use the common
// {error, description, data}.
type apiError struct {
	Status      int    `json:"status,omitempty"`
	RequestID   string `json:"requestId,omitempty"`
	Error       string `json:"error"`
	Description string `json:"description,omitempty"`
	Data        any    `json:"data,omitempty"`
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// fail answers the common envelope.
func fail(w http.ResponseWriter, status int, code, description string, data any) {
	writeJSON(w, status, apiError{Error: code, Description: description, Data: data})
}

// failExtended answers the extended envelope of the message routes.
func failExtended(w http.ResponseWriter, status int, code, description string, data any) {
	writeJSON(w, status, apiError{Status: status, RequestID: randomHex(16), Error: code, Description: description, Data: data})
}

// forbidden is the live answer of a route closed to a sidecar key.
func forbidden(w http.ResponseWriter) {
	writeJSON(w, http.StatusForbidden, map[string]string{"error": "FORBIDDEN"})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// iso formats a timestamp the way Wazzup does: UTC, milliseconds, Z.
func iso(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

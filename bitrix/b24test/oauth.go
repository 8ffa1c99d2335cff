package b24test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultScope is the scope the emulated application is registered with.
const DefaultScope = "crm,placement,user,department,im,bizproc"

// Token lifetimes of the real servers (settings/oauth/index.md).
const (
	AccessTokenTTL  = 3600 * time.Second
	RefreshTokenTTL = 180 * 24 * time.Hour
	AuthCodeTTL     = 30 * time.Second
)

// App is the Bitrix24 application registered in the vendor console.
type App struct {
	ClientID, ClientSecret string
	// RedirectURI is where /oauth/authorize/ sends the browser (the app's
	// /oauth/callback).
	RedirectURI string
	// Scope is the comma-separated application scope; default DefaultScope.
	// Methods, events and placements outside it are refused.
	Scope string
}

// OAuth is the stand-in for oauth.bitrix.info (one per test), hosting
// /oauth/token/. It owns the emulated clock and every token of its portals.
type OAuth struct {
	app    App
	srv    *httptest.Server
	client *http.Client
	offset atomic.Int64 // emulated clock = wall clock + offset

	mu            sync.Mutex
	access        map[string]*accessToken
	refresh       map[string]*refreshToken
	codes         map[string]*authCode
	fault         *faultState
	tokenRequests int
	portals       []*Portal
	closed        bool
}

type accessToken struct {
	portal  *Portal
	userID  int
	expires time.Time
	revoked bool
}

type refreshToken struct {
	portal  *Portal
	userID  int
	expires time.Time
	used    bool
	revoked bool
}

type authCode struct {
	portal  *Portal
	userID  int
	expires time.Time
	used    bool
}

// faultState is a Fault with its remaining skips and count.
type faultState struct {
	f    Fault
	skip int
	left int
}

func newFaultState(f *Fault) *faultState {
	if f == nil {
		return nil
	}
	n := f.Count
	if n <= 0 {
		n = 1
	}
	return &faultState{f: *f, skip: max(0, f.Skip), left: n}
}

// take is the fault's verdict on one matching request (the caller holds the
// lock): nil while Skip lets requests through, else the fault; done reports
// that the fault is used up.
func (fs *faultState) take() (f *Fault, done bool) {
	if fs.skip > 0 {
		fs.skip--
		return nil, false
	}
	ff := fs.f
	fs.left--
	return &ff, fs.left <= 0
}

// NewOAuth starts the authorization server on 127.0.0.1.
func NewOAuth(app App) *OAuth {
	if app.Scope == "" {
		app.Scope = DefaultScope
	}
	o := &OAuth{
		app:     app,
		access:  map[string]*accessToken{},
		refresh: map[string]*refreshToken{},
		codes:   map[string]*authCode{},
		client: &http.Client{
			Timeout: 60 * time.Second, // the cloud's request timeout
			// The portal reports what the application answered; it does
			// not follow redirects on the application's behalf.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth/token/", o.handleToken)
	mux.HandleFunc("/rest/", o.handleServerREST)
	o.srv = httptest.NewServer(mux)
	return o
}

// URL is the server's base URL (the application's B24_OAUTH_URL).
func (o *OAuth) URL() string { return o.srv.URL }

// Host is host:port of the server: what token answers carry as "domain" and
// the authorize redirect as "server_domain".
func (o *OAuth) Host() string { return strings.TrimPrefix(o.srv.URL, "http://") }

// App returns the registered application.
func (o *OAuth) App() App { return o.app }

// Close stops the server and every portal created from it.
func (o *OAuth) Close() {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.closed = true
	portals := append([]*Portal(nil), o.portals...)
	o.mu.Unlock()
	for _, p := range portals {
		p.Close()
	}
	o.srv.Close()
}

// Advance moves the emulated clock forward (token expiry, code TTL, rate
// limit drain, timestamps of new records).
func (o *OAuth) Advance(d time.Duration) { o.offset.Add(int64(d)) }

// Now is the emulated time.
func (o *OAuth) Now() time.Time { return time.Now().Add(time.Duration(o.offset.Load())) }

// SetFault makes the next token-endpoint answers fail per f (nil clears).
func (o *OAuth) SetFault(f *Fault) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.fault = newFaultState(f)
}

// TokenRequests is how many /oauth/token/ requests were served.
func (o *OAuth) TokenRequests() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.tokenRequests
}

// issue creates a token pair for a user of a portal.
func (o *OAuth) issue(p *Portal, userID int) Tokens {
	now := o.Now()
	t := Tokens{
		Access:    randomHex(16),
		Refresh:   randomHex(16),
		ExpiresIn: int(AccessTokenTTL / time.Second),
		Expires:   now.Add(AccessTokenTTL).Truncate(time.Second),
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.access[t.Access] = &accessToken{portal: p, userID: userID, expires: t.Expires}
	o.refresh[t.Refresh] = &refreshToken{portal: p, userID: userID, expires: now.Add(RefreshTokenTTL)}
	return t
}

// issueAccess creates an access token only (what event deliveries carry).
func (o *OAuth) issueAccess(p *Portal, userID int) (string, time.Time) {
	exp := o.Now().Add(AccessTokenTTL).Truncate(time.Second)
	tok := randomHex(16)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.access[tok] = &accessToken{portal: p, userID: userID, expires: exp}
	return tok, exp
}

func (o *OAuth) newCode(p *Portal, userID int) string {
	code := randomHex(16)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.codes[code] = &authCode{portal: p, userID: userID, expires: o.Now().Add(AuthCodeTTL)}
	return code
}

// tokenState is the verdict on an access token presented to a portal.
type tokenState int

const (
	tokenUnknown tokenState = iota
	tokenValid
	tokenExpired
	tokenRevoked
)

func (o *OAuth) checkAccess(p *Portal, token string) (tokenState, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	t, ok := o.access[token]
	if !ok || t.portal != p {
		return tokenUnknown, 0
	}
	if t.revoked {
		return tokenRevoked, t.userID
	}
	if !o.Now().Before(t.expires) {
		return tokenExpired, t.userID
	}
	return tokenValid, t.userID
}

// revokePortal invalidates every token of p (uninstall, RevokeAll).
func (o *OAuth) revokePortal(p *Portal) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, t := range o.access {
		if t.portal == p {
			t.revoked = true
		}
	}
	for _, t := range o.refresh {
		if t.portal == p {
			t.revoked = true
		}
	}
	for k, c := range o.codes {
		if c.portal == p {
			delete(o.codes, k)
		}
	}
}

// tokenResponse mirrors oauth.token.refresh.response.json field for field.
type tokenResponse struct {
	AccessToken    string `json:"access_token"`
	ClientEndpoint string `json:"client_endpoint"`
	Domain         string `json:"domain"`
	Expires        int64  `json:"expires"`
	ExpiresIn      int    `json:"expires_in"`
	MemberID       string `json:"member_id"`
	RefreshToken   string `json:"refresh_token"`
	Scope          string `json:"scope"`
	ServerEndpoint string `json:"server_endpoint"`
	Status         string `json:"status"`
	UserID         int    `json:"user_id"`
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func (o *OAuth) handleToken(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.tokenRequests++
	var f *Fault
	if fs := o.fault; fs != nil {
		var done bool
		if f, done = fs.take(); done {
			o.fault = nil
		}
	}
	o.mu.Unlock()
	if f != nil {
		if !sleepCtx(r.Context(), f.Delay) {
			return
		}
		if f.Status != 0 {
			body := f.Body
			if body == "" {
				body = `{"error":"server_error","error_description":"Internal server error"}`
			}
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(f.Status)
			_, _ = w.Write([]byte(body))
			return
		}
	}
	if r.URL.Path != "/oauth/token/" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "The request method must be GET")
		return
	}
	q := r.URL.Query()
	grant, clientID, secret := q.Get("grant_type"), q.Get("client_id"), q.Get("client_secret")
	if grant == "" || clientID == "" || secret == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "The grant type, client_id and client_secret are required")
		return
	}
	if clientID != o.app.ClientID || secret != o.app.ClientSecret {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed")
		return
	}
	var (
		p      *Portal
		userID int
	)
	switch grant {
	case "authorization_code":
		code := q.Get("code")
		if code == "" {
			oauthError(w, http.StatusBadRequest, "invalid_request", "Missing parameter: code")
			return
		}
		o.mu.Lock()
		c, ok := o.codes[code]
		valid := ok && !c.used && o.Now().Before(c.expires)
		if ok {
			c.used = true // a code is good for one exchange, even a failed one
		}
		o.mu.Unlock()
		if !valid {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "The provided authorization grant is invalid, expired, revoked")
			return
		}
		p, userID = c.portal, c.userID
	case "refresh_token":
		rt := q.Get("refresh_token")
		if rt == "" {
			oauthError(w, http.StatusBadRequest, "invalid_request", "Missing parameter: refresh_token")
			return
		}
		o.mu.Lock()
		t, ok := o.refresh[rt]
		valid := ok && !t.used && !t.revoked && o.Now().Before(t.expires)
		if valid {
			t.used = true // rotation: the old refresh token dies with this use
		}
		o.mu.Unlock()
		if !valid {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "The provided authorization grant is invalid, expired, revoked")
			return
		}
		p, userID = t.portal, t.userID
	default:
		oauthError(w, http.StatusBadRequest, "invalid_request", "Invalid grant_type parameter or parameter missing")
		return
	}
	tok := o.issue(p, userID)
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken:    tok.Access,
		ClientEndpoint: p.ClientEndpoint(),
		Domain:         o.Host(),
		Expires:        tok.Expires.Unix(),
		ExpiresIn:      tok.ExpiresIn,
		MemberID:       p.MemberID(),
		RefreshToken:   tok.Refresh,
		Scope:          o.app.Scope,
		ServerEndpoint: o.serverEndpoint(),
		Status:         "L",
		UserID:         userID,
	})
}

func (o *OAuth) serverEndpoint() string { return o.srv.URL + "/rest/" }

// handleServerREST answers the few methods oauth.bitrix.info itself serves
// (app.info: the trusted application status).
func (o *OAuth) handleServerREST(w http.ResponseWriter, r *http.Request) {
	method := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/rest/"), ".json"))
	if method != "app.info" {
		writeAPIError(w, errMethodNotFound())
		return
	}
	_ = r.ParseForm()
	token := r.Form.Get("auth")
	o.mu.Lock()
	t, ok := o.access[token]
	o.mu.Unlock()
	switch {
	case !ok:
		writeAPIError(w, errNoAuth())
		return
	case t.revoked:
		writeAPIError(w, errInvalidToken())
		return
	case !o.Now().Before(t.expires):
		writeAPIError(w, errExpiredToken())
		return
	}
	start := o.Now()
	writeJSON(w, http.StatusOK, successEnvelope{Result: t.portal.appInfo(), Time: newTimeInfo(start, o.Now(), &operatingInfo{resetAt: start.Add(operatingWindow), operating: o.Now().Sub(start)})})
}

// sleepCtx waits d or until ctx ends; it reports whether the wait completed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// withQuery appends query parameters to a URL that may already have some.
func withQuery(raw string, q url.Values) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	existing := u.Query()
	for k, vs := range q {
		existing[k] = vs
	}
	u.RawQuery = existing.Encode()
	return u.String(), nil
}

package b24test

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// PortalOptions configure a new portal.
type PortalOptions struct {
	MemberID  string  // default: random 32 hex
	Burst     int     // leaky bucket size X, default 50; <0 disables the limit
	PerSecond float64 // leak rate Y, default 2
	// OperatingLimit is each method's time budget per 10 minutes, default
	// DefaultOperatingLimit (480 s); <0 disables it.
	OperatingLimit time.Duration
	Lang           string // default "ru"
}

// Portal is one Bitrix24 portal with its own httptest server (its own
// host:port). All methods are safe for concurrent use.
type Portal struct {
	o        *OAuth
	srv      *httptest.Server
	memberID string
	lang     string
	scope    map[string]bool
	closeMu  sync.Once
	events   sync.WaitGroup // automatic event deliveries in flight

	mu           sync.Mutex
	bucket       bucket
	fault        *faultState
	pageFault    *pageFaultState // SetPageFault: one page of a batched listing
	latency      time.Duration
	calls        []Call
	httpRequests int
	opLimit      time.Duration            // per-method time budget; <=0: none
	opCost       map[string]time.Duration // SetOperatingCost surcharges
	budgets      map[string]*opBudget     // by lower-case method
	autoEvents   bool
	loginUser    int

	installed    bool // BX24.installFinish() done or the no-UI install accepted
	installing   bool // the installer was opened: the app exists on the portal
	appToken     string
	appID        int
	nextBindID   int
	placements   []PlacementBinding
	eventBinds   []EventBinding
	deliveries   []Delivery
	timeline     []TimelineEntry
	notes        []Notification
	nextTimeline int
	nextNote     int

	users      map[int]*User
	nextUserID int
	depts      map[int]*Department
	nextDeptID int

	contacts   table[contactRec]
	leads      table[leadRec]
	deals      table[dealRec]
	nextMulti  int
	categories []dealCategory
	phoneIdx   commIndex // digits → contact / lead ids
	emailIdx   commIndex // lower-cased e-mail → contact / lead ids
	dealsByCt  map[int][]int

	automation *automation    // robots, event tokens, triggers (bizproc.go)
	webhooks   map[string]int // incoming webhooks: secret → user (AddWebhook)
}

type dealCategory struct {
	ID   int
	Name string
	Sort int
}

// NewPortal creates a portal (with its own server on 127.0.0.1) where the
// application is known but not installed yet. User 1 ("Admin Adminov",
// administrator) and department 1 (the company root) exist.
func (o *OAuth) NewPortal(opts PortalOptions) *Portal {
	if opts.MemberID == "" {
		opts.MemberID = randomHex(16)
	}
	if opts.Burst == 0 {
		opts.Burst = 50
	}
	if opts.PerSecond == 0 {
		opts.PerSecond = 2
	}
	if opts.Lang == "" {
		opts.Lang = "ru"
	}
	if opts.OperatingLimit == 0 {
		opts.OperatingLimit = DefaultOperatingLimit
	}
	p := &Portal{
		o:          o,
		memberID:   opts.MemberID,
		lang:       opts.Lang,
		scope:      map[string]bool{},
		bucket:     bucket{burst: opts.Burst, rate: opts.PerSecond},
		opLimit:    opts.OperatingLimit,
		opCost:     map[string]time.Duration{},
		budgets:    map[string]*opBudget{},
		loginUser:  1,
		appToken:   randomHex(16),
		appID:      5,
		nextBindID: 1,
		users:      map[int]*User{},
		nextUserID: 1,
		depts:      map[int]*Department{},
		nextDeptID: 1,
		nextMulti:  1,
		categories: []dealCategory{{ID: 0, Name: "General", Sort: 100}},
		phoneIdx:   commIndex{},
		emailIdx:   commIndex{},
		dealsByCt:  map[int][]int{},
	}
	for _, s := range strings.Split(o.app.Scope, ",") {
		if s = strings.TrimSpace(s); s != "" {
			p.scope[s] = true
		}
	}
	p.contacts.next, p.leads.next, p.deals.next = 1, 1, 1
	p.AddDepartment(Department{ID: 1, Name: "Company", Head: 1})
	p.AddUser(User{ID: 1, Name: "Admin", LastName: "Adminov", Email: "admin@example.com", Active: true, Admin: true, Departments: []int{1}})

	mux := http.NewServeMux()
	mux.HandleFunc("/rest/", p.handleREST)
	mux.HandleFunc("/oauth/authorize/", p.handleAuthorize)
	p.srv = httptest.NewServer(mux)

	o.mu.Lock()
	o.portals = append(o.portals, p)
	o.mu.Unlock()
	return p
}

// URL is the portal's base URL, e.g. http://127.0.0.1:port.
func (p *Portal) URL() string { return p.srv.URL }

// Domain is "127.0.0.1:port": what DOMAIN and auth[domain] carry.
func (p *Portal) Domain() string { return strings.TrimPrefix(p.srv.URL, "http://") }

// MemberID is the portal's member_id.
func (p *Portal) MemberID() string { return p.memberID }

// ClientEndpoint is URL()+"/rest/".
func (p *Portal) ClientEndpoint() string { return p.srv.URL + "/rest/" }

// OAuth returns the authorization server the portal belongs to.
func (p *Portal) OAuth() *OAuth { return p.o }

// Close stops the portal's server after automatic event deliveries finished.
func (p *Portal) Close() {
	p.closeMu.Do(func() {
		p.events.Wait()
		p.srv.Close()
	})
}

// LoginAs sets the user logged in in the browser (for /oauth/authorize/ and
// the no-UI install); default 1.
func (p *Portal) LoginAs(userID int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.loginUser = userID
}

// IssueTokens returns a fresh access+refresh pair for that user of this
// portal, as the portal does when it opens a page for him.
func (p *Portal) IssueTokens(userID int) Tokens { return p.o.issue(p, userID) }

// RevokeAll makes every token of the portal invalid (uninstall does this).
func (p *Portal) RevokeAll() { p.o.revokePortal(p) }

// ApplicationToken is the application_token the portal signs events with.
// A new one is generated after an uninstall, for the next installation.
func (p *Portal) ApplicationToken() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.appToken
}

// Installed is false until InstallFinish (UI install) or the no-UI install
// event was accepted, and again after Uninstall.
func (p *Portal) Installed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.installed
}

// SetAutoEvents makes CRM changes done through REST fire the matching
// ONCRM* events (asynchronously, like the real queue); default off.
func (p *Portal) SetAutoEvents(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.autoEvents = on
}

// WaitEvents blocks until automatic event deliveries in flight are done.
func (p *Portal) WaitEvents() { p.events.Wait() }

// SetFault makes the next REST requests fail per f (nil clears). The fault
// is applied before anything else, including the rate limit.
func (p *Portal) SetFault(f *Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = newFaultState(f)
}

// SetLatency delays every REST answer by d.
func (p *Portal) SetLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = d
}

// SetLimit replaces the leaky bucket (burst <0 disables it) and empties it.
func (p *Portal) SetLimit(burst int, perSecond float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bucket = bucket{burst: burst, rate: perSecond}
}

// Calls returns every REST method answered so far (batch sub-commands
// appear with InBatch=true after their batch).
func (p *Portal) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Call(nil), p.calls...)
}

// HTTPRequests is how many HTTP requests reached /rest/ (what the rate limit
// counts: a batch is one).
func (p *Portal) HTTPRequests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.httpRequests
}

// ResetCalls forgets recorded calls and zeroes HTTPRequests.
func (p *Portal) ResetCalls() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = nil
	p.httpRequests = 0
}

// Deliveries returns every POST the portal sent to application handlers
// through FireEvent, automatic events, Uninstall and InstallFinish.
func (p *Portal) Deliveries() []Delivery {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Delivery(nil), p.deliveries...)
}

// Timeline returns what crm.timeline.comment.add, crm.timeline.logmessage.add
// and crm.activity.todo.add wrote.
func (p *Portal) Timeline() []TimelineEntry {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]TimelineEntry(nil), p.timeline...)
}

// Notifications returns what im.notify.system.add / personal.add wrote.
func (p *Portal) Notifications() []Notification {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Notification(nil), p.notes...)
}

// Placements returns the current placement bindings.
func (p *Portal) Placements() []PlacementBinding {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]PlacementBinding(nil), p.placements...)
}

// EventBindings returns the current event bindings.
func (p *Portal) EventBindings() []EventBinding {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]EventBinding(nil), p.eventBinds...)
}

// handleAuthorize is the portal's /oauth/authorize/: the logged-in user is
// sent back to the application's redirect URI with a 30-second code.
func (p *Portal) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != p.o.app.ClientID {
		errorPage(w, http.StatusBadRequest, "The application was not found (wrong client_id).")
		return
	}
	p.mu.Lock()
	present := p.installed || p.installing
	u := p.users[p.loginUser]
	userID := p.loginUser
	p.mu.Unlock()
	if !present {
		// The real portal shows its own error page and never redirects when
		// the application is not installed there.
		errorPage(w, http.StatusBadRequest, "The application is not installed on this portal.")
		return
	}
	if u == nil || !u.Active {
		errorPage(w, http.StatusForbidden, "Access denied: the user cannot log in.")
		return
	}
	code := p.o.newCode(p, userID)
	v := url.Values{}
	v.Set("code", code)
	if st := q.Get("state"); st != "" {
		v.Set("state", st)
	}
	v.Set("domain", p.Domain())
	v.Set("member_id", p.memberID)
	v.Set("scope", p.o.app.Scope)
	v.Set("server_domain", p.o.Host())
	target, err := withQuery(p.o.app.RedirectURI, v)
	if err != nil {
		errorPage(w, http.StatusBadRequest, "The application's redirect URI is invalid.")
		return
	}
	http.Redirect(w, r, target, http.StatusFound)
}

func errorPage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!DOCTYPE html><html><body><h1>Error</h1><p>%s</p></body></html>", html.EscapeString(msg))
}

// bucket is the leaky bucket of limits.md: every incoming request adds one
// to the counter, a refused one too ("each incoming request increases the
// counter"), the counter drains at rate per second, and a request that takes
// it above burst is refused. The counter has no ceiling: a client that keeps
// knocking while refused keeps the bucket full (ASSUMPTIONS.md).
type bucket struct {
	burst int
	rate  float64
	level float64
	last  time.Time
}

func (b *bucket) allow(now time.Time) bool {
	if b.burst < 0 {
		return true
	}
	if !b.last.IsZero() {
		if el := now.Sub(b.last).Seconds(); el > 0 {
			b.level -= el * b.rate
			if b.level < 0 {
				b.level = 0
			}
		}
	}
	b.last = now
	b.level++
	return b.level <= float64(b.burst)
}

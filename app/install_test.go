package app_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/placement"
	"github.com/relay24/relay24/portal"
	"github.com/relay24/relay24/store"
)

// What CONTRACT §3 says relay24 binds on install, written out here rather
// than taken from package placement, so that a wrong table there fails.
var (
	contractPlacements = []string{"LEFT_MENU", "CRM_DEAL_DETAIL_TOOLBAR", "CRM_LEAD_DETAIL_TOOLBAR", "CRM_CONTACT_DETAIL_TOOLBAR"}
	contractEvents     = []string{
		"ONCRMCONTACTADD", "ONCRMCONTACTUPDATE", "ONCRMCONTACTDELETE",
		"ONCRMDEALADD", "ONCRMDEALUPDATE", "ONCRMDEALDELETE",
		"ONCRMLEADADD", "ONCRMLEADUPDATE", "ONCRMLEADDELETE",
		"ONAPPUNINSTALL",
	}
)

// checkContractBindings checks that the portal holds exactly the contract's
// bindings, each once: the placements with HANDLER=$PUBLIC_URL/b24/placement,
// the events (names are case-insensitive) with handler=$PUBLIC_URL/b24/events.
func (e *env) checkContractBindings(p *b24test.Portal, when string) {
	e.t.Helper()
	pls := map[string][]string{}
	for _, b := range p.Placements() {
		pls[b.Placement] = append(pls[b.Placement], b.Handler)
	}
	for _, code := range contractPlacements {
		if h := pls[code]; len(h) != 1 || h[0] != e.URL+"/b24/placement" {
			e.t.Errorf("%s: placement %s bound to %q, want once to %s/b24/placement", when, code, h, e.URL)
		}
		delete(pls, code)
	}
	for code, h := range pls {
		e.t.Errorf("%s: placement %s (to %q) is not in the contract", when, code, h)
	}
	evs := map[string][]string{}
	for _, b := range p.EventBindings() {
		evs[strings.ToUpper(b.Event)] = append(evs[strings.ToUpper(b.Event)], b.Handler)
	}
	for _, ev := range contractEvents {
		if h := evs[ev]; len(h) != 1 || h[0] != e.URL+"/b24/events" {
			e.t.Errorf("%s: event %s bound to %q, want once to %s/b24/events", when, ev, h, e.URL)
		}
		delete(evs, ev)
	}
	for ev, h := range evs {
		e.t.Errorf("%s: event %s (to %q) is not in the contract", when, ev, h)
	}
}

// checkBindCalls checks the bind calls the portal received against the
// protocol notes (bitrix24.md §e, §f): placement.bind with PLACEMENT and
// HANDLER, event.bind with event and handler, spelled as documented, and
// nothing the methods do not know.
func (e *env) checkBindCalls(p *b24test.Portal) {
	e.t.Helper()
	documented := map[string]map[string]bool{
		"placement.bind": {"PLACEMENT": true, "HANDLER": true, "TITLE": true, "DESCRIPTION": true, "GROUP_NAME": true, "LANG_ALL": true, "OPTIONS": true, "USER_ID": true},
		"event.bind":     {"event": true, "handler": true, "auth_type": true, "event_type": true, "auth_connector": true, "options": true},
	}
	required := map[string][2]string{"placement.bind": {"PLACEMENT", "HANDLER"}, "event.bind": {"event", "handler"}}
	handler := map[string]string{"placement.bind": e.URL + "/b24/placement", "event.bind": e.URL + "/b24/events"}
	bound := map[string]int{}
	for _, c := range p.Calls() {
		names, ok := documented[c.Method]
		if !ok {
			continue
		}
		for k := range c.Params {
			if !names[k] {
				e.t.Errorf("%s sent %q, not a documented parameter (%v)", c.Method, k, c.Params)
			}
		}
		req := required[c.Method]
		code, _ := c.Params[req[0]].(string)
		if code == "" || c.Params[req[1]] != handler[c.Method] {
			e.t.Errorf("%s with %s=%v %s=%v, want the code and %s", c.Method, req[0], c.Params[req[0]], req[1], c.Params[req[1]], handler[c.Method])
		}
		bound[strings.ToUpper(code)]++
		if c.Method == "placement.bind" {
			if langs, ok := c.Params["LANG_ALL"].(map[string]any); ok {
				for lang, v := range langs {
					m, _ := v.(map[string]any)
					for k := range m {
						if k != "TITLE" && k != "DESCRIPTION" && k != "GROUP_NAME" {
							e.t.Errorf("placement.bind LANG_ALL[%s][%s] is not documented", lang, k)
						}
					}
				}
			}
		}
	}
	for _, code := range append(append([]string{}, contractPlacements...), contractEvents...) {
		if bound[code] != 1 {
			e.t.Errorf("%s bound %d times, want once", code, bound[code])
		}
	}
}

func TestInstallBindsEverythingOnceAndStartsTheSync(t *testing.T) {
	e := newEnv(t)
	p := e.installedPortal()
	e.checkContractBindings(p, "install")
	e.checkBindCalls(p)
	if n := e.count(`SELECT count(*) FROM portals WHERE member_id = $1 AND installed_at IS NOT NULL`, p.MemberID()); n != 1 {
		t.Fatalf("%d portal rows", n)
	}
	if n := e.count(`SELECT count(*) FROM jobs WHERE kind = $1`, portal.JobFirstSync); n != 1 {
		t.Fatalf("%d first-sync jobs", n)
	}

	// A re-install looks, finds everything bound and binds nothing twice.
	binds := methodCalls(p, "placement.bind") + methodCalls(p, "event.bind")
	r, err := p.PostInstall(e.ctx, e.URL+"/b24/install", 1)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("re-install: %v %d %s", err, r.Status, r.Body)
	}
	if got := methodCalls(p, "placement.bind") + methodCalls(p, "event.bind"); got != binds {
		t.Fatalf("re-install made %d more bind calls", got-binds)
	}
	e.checkContractBindings(p, "re-install")
	if n := e.count(`SELECT count(*) FROM jobs WHERE kind = $1`, portal.JobFirstSync); n != 1 {
		t.Fatalf("re-install made %d first-sync jobs", n)
	}
	if n := e.count(`SELECT count(*) FROM portals`); n != 1 {
		t.Fatalf("%d portals after re-install", n)
	}
}

func TestInstallByEventWithoutUI(t *testing.T) {
	e := newEnv(t)
	p := e.OAuth.NewPortal(b24test.PortalOptions{})
	defer p.Close()
	r, err := p.PostInstallEvent(e.ctx, e.URL+"/b24/install")
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("ONAPPINSTALL: %v %d %s", err, r.Status, r.Body)
	}
	if n := e.count(`SELECT count(*) FROM portals WHERE member_id = $1 AND application_token_hash IS NOT NULL`, p.MemberID()); n != 1 {
		t.Fatal("portal not stored with its application token")
	}
	e.checkContractBindings(p, "install by event")
	// Events now authenticate with the application token of the event.
	replies, err := p.FireEvent(e.ctx, "ONCRMCONTACTADD", map[string]any{"FIELDS": map[string]any{"ID": "7"}}, 1)
	if err != nil || len(replies) != 1 || replies[0].Status != http.StatusOK {
		t.Fatalf("event after install: %v %+v", err, replies)
	}
}

func TestForgedAndMalformedInstallsChangeNothing(t *testing.T) {
	e := newEnv(t)
	a := e.installedPortal()
	b := e.OAuth.NewPortal(b24test.PortalOptions{})
	defer b.Close()
	before := e.count(`SELECT count(*) FROM portals`)
	domainBefore := a.Domain()

	bTok := b.IssueTokens(1)
	base := func() url.Values {
		return url.Values{
			"AUTH_ID": {bTok.Access}, "AUTH_EXPIRES": {"3600"}, "REFRESH_ID": {bTok.Refresh},
			"member_id": {a.MemberID()}, "status": {"L"}, "PLACEMENT": {"DEFAULT"}, "PLACEMENT_OPTIONS": {"{}"},
			"APPLICATION_TOKEN": {"forged"},
		}
	}
	cases := []struct {
		name   string
		query  url.Values
		form   func() url.Values
		status int
	}{
		{"another portal's token under A's member_id", url.Values{"DOMAIN": {a.Domain()}}, base, http.StatusUnauthorized},
		{"A's member_id with another DOMAIN", url.Values{"DOMAIN": {"evil.example"}}, func() url.Values {
			f := base()
			tok := a.IssueTokens(1)
			f.Set("REFRESH_ID", tok.Refresh)
			return f
		}, http.StatusUnauthorized},
		{"no member_id", url.Values{"DOMAIN": {b.Domain()}}, func() url.Values { f := base(); f.Del("member_id"); return f }, http.StatusBadRequest},
		{"no refresh token", url.Values{"DOMAIN": {b.Domain()}}, func() url.Values { f := base(); f.Del("REFRESH_ID"); return f }, http.StatusBadRequest},
		{"made-up refresh token", url.Values{"DOMAIN": {b.Domain()}}, func() url.Values {
			f := base()
			f.Set("REFRESH_ID", "0123456789abcdef0123456789abcdef")
			f.Set("member_id", b.MemberID())
			return f
		}, http.StatusUnauthorized},
		{"wrong placement", url.Values{"DOMAIN": {b.Domain()}}, func() url.Values { f := base(); f.Set("PLACEMENT", "LEFT_MENU"); return f }, http.StatusBadRequest},
		{"oversized body", url.Values{"DOMAIN": {b.Domain()}}, func() url.Values { f := base(); f.Set("junk", strings.Repeat("x", 2<<20)); return f }, http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := e.postForm("/b24/install", c.query, c.form())
			if status != c.status {
				t.Fatalf("status %d, want %d:\n%s", status, c.status, body)
			}
		})
	}
	if n := e.count(`SELECT count(*) FROM portals`); n != before {
		t.Fatalf("%d portals, had %d", n, before)
	}
	if n := e.count(`SELECT count(*) FROM portals WHERE member_id = $1 AND domain = $2`, a.MemberID(), domainBefore); n != 1 {
		t.Fatal("portal A's domain was changed by a forged install")
	}
	// A's application token is still the real one.
	replies, err := a.FireEvent(e.ctx, "ONCRMDEALADD", map[string]any{"FIELDS": map[string]any{"ID": "1"}}, 1)
	if err != nil || replies[0].Status != http.StatusOK {
		t.Fatalf("A's events after forgeries: %v %+v", err, replies)
	}
}

func TestInstallFailsClearlyWhenThePortalFailsAndARetryCompletes(t *testing.T) {
	for _, fault := range []b24test.Fault{
		{Status: 500, Count: 50},
		{Status: 503, Count: 50},
		{Status: 502, Body: "<html>bad gateway</html>", Count: 50},
	} {
		t.Run(http.StatusText(fault.Status), func(t *testing.T) {
			e := newEnv(t)
			p := e.OAuth.NewPortal(b24test.PortalOptions{})
			defer p.Close()
			f := fault
			p.SetFault(&f)
			r, err := p.PostInstall(e.ctx, e.URL+"/b24/install", 1)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status < 500 || !strings.Contains(string(r.Body), "role=\"alert\"") || strings.Contains(string(r.Body), "installFinish();") {
				t.Fatalf("failed install answered %d:\n%s", r.Status, r.Body)
			}
			p.SetFault(nil)
			r, err = p.PostInstall(e.ctx, e.URL+"/b24/install", 1)
			if err != nil || r.Status != http.StatusOK {
				t.Fatalf("retry: %v %d %s", err, r.Status, r.Body)
			}
			e.checkContractBindings(p, "after retry")
		})
	}
}

func TestOAuthServerFailureDuringInstall(t *testing.T) {
	e := newEnv(t)
	p := e.OAuth.NewPortal(b24test.PortalOptions{})
	defer p.Close()
	e.OAuth.SetFault(&b24test.Fault{Status: 503, Count: 1})
	r, err := p.PostInstall(e.ctx, e.URL+"/b24/install", 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != http.StatusBadGateway {
		t.Fatalf("install during an OAuth outage answered %d:\n%s", r.Status, r.Body)
	}
	if n := e.count(`SELECT count(*) FROM portals`); n != 0 {
		t.Fatal("a portal was stored without the OAuth server's word")
	}
	r, err = p.PostInstall(e.ctx, e.URL+"/b24/install", 1)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("retry: %v %d", err, r.Status)
	}
}

func TestEventAuthentication(t *testing.T) {
	e := newEnv(t)
	p := e.installedPortal()
	replies, err := p.FireEvent(e.ctx, "ONCRMCONTACTUPDATE", map[string]any{"FIELDS": map[string]any{"ID": "42"}}, 1)
	if err != nil || len(replies) != 1 || replies[0].Status != http.StatusOK {
		t.Fatalf("genuine event: %v %+v", err, replies)
	}
	if n := e.count(`SELECT count(*) FROM portal_events WHERE event = 'ONCRMCONTACTUPDATE' AND payload->'data'->'FIELDS'->>'ID' = '42'`); n != 1 {
		t.Fatalf("%d events recorded", n)
	}
	form := func(member, token string) url.Values {
		return url.Values{
			"event": {"ONCRMCONTACTUPDATE"}, "data[FIELDS][ID]": {"43"}, "ts": {"1727018926"},
			"auth[member_id]": {member}, "auth[application_token]": {token}, "auth[domain]": {p.Domain()},
		}
	}
	for name, f := range map[string]url.Values{
		"wrong application token":    form(p.MemberID(), "3c6c9248ec54af6bea1159b43ee0ab32"),
		"no application token":       form(p.MemberID(), ""),
		"unknown portal":             form("010b6886ebc205e43ae65000ee00addb", p.ApplicationToken()),
		"uninstall with wrong token": {"event": {"ONAPPUNINSTALL"}, "data[CLEAN]": {"1"}, "auth[member_id]": {p.MemberID()}, "auth[application_token]": {"nope"}},
	} {
		status, body := e.postForm("/b24/events", nil, f)
		if status != http.StatusUnauthorized || !strings.Contains(body, `"error"`) {
			t.Errorf("%s: %d %s", name, status, body)
		}
	}
	if status, _ := e.postForm("/b24/events", nil, url.Values{"junk": {"1"}}); status != http.StatusBadRequest {
		t.Errorf("eventless form: %d", status)
	}
	if status, _ := e.postForm("/b24/events", nil, url.Values{"auth[x]": {"1"}, "auth[x][y]": {"2"}, "event": {"E"}}); status != http.StatusBadRequest {
		t.Errorf("contradictory keys: %d", status)
	}
	if n := e.count(`SELECT count(*) FROM portal_events`); n != 1 {
		t.Fatalf("%d events recorded after forgeries", n)
	}
	if n := e.count(`SELECT count(*) FROM portals WHERE uninstalled_at IS NULL`); n != 1 {
		t.Fatal("a forged uninstall uninstalled")
	}
}

func TestPlacementSessionAndMe(t *testing.T) {
	e := newEnv(t)
	p := e.installedPortal()
	tok := e.session(p, placement.DealToolbar, map[string]string{"ID": "8061"}, 2)
	var me struct {
		User struct {
			ID      int64  `json:"id"`
			Name    string `json:"name"`
			IsAdmin bool   `json:"is_admin"`
		} `json:"user"`
		Portal struct {
			Domain string `json:"domain"`
		} `json:"portal"`
		Preferences struct {
			SendKey string `json:"send_key"`
		} `json:"preferences"`
	}
	if s := e.api("GET", "/api/v1/me", tok, nil, &me); s != http.StatusOK {
		t.Fatalf("/me: %d", s)
	}
	if me.User.ID != 2 || me.User.Name != "Sales Person" || me.User.IsAdmin || me.Portal.Domain != p.Domain() || me.Preferences.SendKey != "enter" {
		t.Fatalf("/me = %+v", me)
	}
	admin := e.session(p, placement.LeftMenu, nil, 1)
	if e.api("GET", "/api/v1/me", admin, nil, &me); !me.User.IsAdmin || me.User.ID != 1 {
		t.Fatalf("admin /me = %+v", me)
	}
	// The app page too.
	r, err := p.OpenApp(e.ctx, e.URL+"/b24/app", 2)
	if err != nil || r.Status != http.StatusOK || !sessionMeta.Match(r.Body) {
		t.Fatalf("app page: %v %d", err, r.Status)
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self' "+p.URL()) {
		t.Fatalf("CSP %q does not let the portal frame the page", csp)
	}
	if r.Header.Get("X-Frame-Options") != "" {
		t.Fatal("X-Frame-Options would stop the portal's iframe")
	}

	for name, s := range map[string]string{"none": "", "garbage": "abc.def", "tampered": tok[:len(tok)-3] + "xyz"} {
		if got := e.api("GET", "/api/v1/me", s, nil, nil); got != http.StatusUnauthorized {
			t.Errorf("%s session: %d", name, got)
		}
	}
}

func TestPlacementRefusesForgedAndMalformedOpens(t *testing.T) {
	e := newEnv(t)
	p := e.installedPortal()
	other := e.installedPortal()
	calls := len(p.Calls())
	good := p.IssueTokens(2)
	form := func(mut func(url.Values)) url.Values {
		f := url.Values{"AUTH_ID": {good.Access}, "AUTH_EXPIRES": {"3600"}, "REFRESH_ID": {good.Refresh},
			"member_id": {p.MemberID()}, "status": {"L"}, "PLACEMENT": {placement.DealToolbar}, "PLACEMENT_OPTIONS": {`{"ID":"5"}`}}
		mut(f)
		return f
	}
	q := url.Values{"DOMAIN": {p.Domain()}, "PROTOCOL": {"0"}, "LANG": {"ru"}, "APP_SID": {"x"}}
	cases := map[string]struct {
		form   url.Values
		status int
	}{
		"forged AUTH_ID":                {form(func(f url.Values) { f.Set("AUTH_ID", "ffffffffffffffffffffffffffffffff") }), 401},
		"another portal's AUTH_ID":      {form(func(f url.Values) { f.Set("AUTH_ID", other.IssueTokens(1).Access) }), 401},
		"unknown portal":                {form(func(f url.Values) { f.Set("member_id", "deadbeefdeadbeefdeadbeefdeadbeef") }), 401},
		"no member_id":                  {form(func(f url.Values) { f.Del("member_id") }), 400},
		"bad PLACEMENT_OPTIONS":         {form(func(f url.Values) { f.Set("PLACEMENT_OPTIONS", `{"ID":`) }), 400},
		"entity without ID":             {form(func(f url.Values) { f.Set("PLACEMENT_OPTIONS", `{"URI":"/x"}`) }), 400},
		"placement relay24 never binds": {form(func(f url.Values) { f.Set("PLACEMENT", "TASK_VIEW_TAB") }), 400},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			status, body := e.postForm("/b24/placement", q, c.form)
			if status != c.status {
				t.Fatalf("status %d, want %d\n%s", status, c.status, body)
			}
			if sessionMeta.MatchString(body) {
				t.Fatal("a session was issued")
			}
		})
	}
	// Malformed opens were refused before asking the portal anything; the
	// three that needed the portal asked once each (user.current+user.admin
	// in one batch).
	if got := len(p.Calls()) - calls; got > 3*3 {
		t.Fatalf("refusals cost %d portal calls", got)
	}
	// An expired user token is refused too.
	e.OAuth.Advance(2 * time.Hour)
	status, _ := e.postForm("/b24/placement", q, form(func(url.Values) {}))
	if status != http.StatusUnauthorized {
		t.Fatalf("expired AUTH_ID: %d", status)
	}
}

func TestSessionsOfOnePortalSeeNothingOfAnother(t *testing.T) {
	e := newEnv(t)
	a := e.installedPortal()
	b := e.installedPortal()
	ta := e.session(a, placement.LeftMenu, nil, 2)
	tb := e.session(b, placement.LeftMenu, nil, 2)
	var ma, mb struct {
		Portal struct{ Domain string } `json:"portal"`
	}
	e.api("GET", "/api/v1/me", ta, nil, &ma)
	e.api("GET", "/api/v1/me", tb, nil, &mb)
	if ma.Portal.Domain != a.Domain() || mb.Portal.Domain != b.Domain() {
		t.Fatalf("sessions crossed: %q %q", ma.Portal.Domain, mb.Portal.Domain)
	}
	// Preferences written under A stay A's.
	if s := e.api("PUT", "/api/v1/me/preferences", ta, map[string]any{"send_key": "ctrl_enter"}, nil); s != http.StatusOK {
		t.Fatalf("PUT preferences: %d", s)
	}
	var pb struct {
		SendKey string `json:"send_key"`
	}
	e.api("GET", "/api/v1/me/preferences", tb, nil, &pb)
	if pb.SendKey != "enter" {
		t.Fatalf("portal B's user 2 sees A's preference %q", pb.SendKey)
	}
	// Portal B's events cannot touch portal A: B's application token under A's member_id.
	status, _ := e.postForm("/b24/events", nil, url.Values{"event": {"ONAPPUNINSTALL"}, "data[CLEAN]": {"1"},
		"auth[member_id]": {a.MemberID()}, "auth[application_token]": {b.ApplicationToken()}})
	if status != http.StatusUnauthorized {
		t.Fatalf("B's token uninstalling A: %d", status)
	}
}

func TestPreferencesValidation(t *testing.T) {
	e := newEnv(t)
	p := e.installedPortal()
	tok := e.session(p, placement.LeftMenu, nil, 2)
	for name, body := range map[string]any{
		"bad send key":  map[string]any{"send_key": "space"},
		"unknown field": map[string]any{"colour": "red"},
		"wrong type":    map[string]any{"sound": "loud"},
	} {
		if s := e.api("PUT", "/api/v1/me/preferences", tok, body, nil); s != http.StatusBadRequest {
			t.Errorf("%s: %d", name, s)
		}
	}
	var got map[string]any
	e.api("PUT", "/api/v1/me/preferences", tok, map[string]any{"sound": false}, &got)
	if got["sound"] != false || got["send_key"] != "enter" || got["show_preview"] != true {
		t.Fatalf("partial update: %v", got)
	}
}

// After the access token expires the next REST call refreshes it exactly
// once, however many callers race, and the rotated refresh token is kept.
func TestTokenRefreshAfterExpiry(t *testing.T) {
	e := newEnv(t)
	p := e.installedPortal()
	var portalID int64
	if err := e.App.Store.DB().Get(&portalID, `SELECT id FROM portals WHERE member_id = $1`, p.MemberID()); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		e.OAuth.Advance(2 * time.Hour)
		before := e.OAuth.TokenRequests()
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				if _, err := e.App.Portals.BindingsOf(e.ctx, portalID); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}
		if got := e.OAuth.TokenRequests() - before; got != 1 {
			t.Fatalf("round %d: %d token refreshes, want 1", round, got)
		}
	}
}

func TestUninstall(t *testing.T) {
	for _, clean := range []bool{false, true} {
		t.Run(map[bool]string{false: "keep data", true: "clean"}[clean], func(t *testing.T) {
			e := newEnv(t)
			p := e.installedPortal()
			tok := e.session(p, placement.LeftMenu, nil, 2)
			replies, err := p.Uninstall(e.ctx, clean)
			if err != nil || len(replies) != 1 || replies[0].Status != http.StatusOK {
				t.Fatalf("uninstall: %v %+v", err, replies)
			}
			if s := e.api("GET", "/api/v1/me", tok, nil, nil); s != http.StatusUnauthorized {
				t.Fatalf("session after uninstall: %d", s)
			}
			if clean {
				if n := e.count(`SELECT count(*) FROM portals`); n != 0 {
					t.Fatal("clean uninstall kept the portal")
				}
				if n := e.count(`SELECT count(*) FROM users`); n != 0 {
					t.Fatal("clean uninstall kept users")
				}
			} else if n := e.count(`SELECT count(*) FROM portals WHERE access_token IS NULL AND refresh_token IS NULL AND application_token_hash IS NULL AND uninstalled_at IS NOT NULL`); n != 1 {
				t.Fatal("uninstall kept tokens")
			}
			// And a fresh install works again on the same portal.
			r, err := p.PostInstall(e.ctx, e.URL+"/b24/install", 1)
			if err != nil || r.Status != http.StatusOK {
				t.Fatalf("re-install after uninstall: %v %d %s", err, r.Status, r.Body)
			}
			p.InstallFinish()
			e.session(p, placement.LeftMenu, nil, 2)
		})
	}
}

func TestStandaloneLogin(t *testing.T) {
	e := newEnv(t)
	p := e.installedPortal()
	p.LoginAs(2)
	jar := newJar()
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	res, err := c.Get(e.URL + "/login?portal=" + url.QueryEscape(p.Domain()))
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(res)
	if res.StatusCode != http.StatusOK || !sessionMeta.MatchString(body) || res.Request.URL.Path != "/app" {
		t.Fatalf("login ended at %s with %d:\n%s", res.Request.URL, res.StatusCode, body)
	}
	// The cookie session reads the API.
	req, _ := http.NewRequest("GET", e.URL+"/api/v1/me", nil)
	res, err = c.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("/me with cookie: %v %d", err, res.StatusCode)
	}
	if b := readAll(res); !strings.Contains(b, `"id":2`) {
		t.Fatalf("/me = %s", b)
	}
	// A callback with a state from elsewhere is refused.
	res, err = c.Get(e.URL + "/oauth/callback?code=abc&state=forged.state")
	if err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged state: %v %d", err, res.StatusCode)
	}
	// Unknown portal.
	res, err = c.Get(e.URL + "/login?portal=nowhere.example")
	if err != nil || res.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown portal login: %v %d", err, res.StatusCode)
	}
}

func TestOperatorEndpoints(t *testing.T) {
	e := newEnv(t)
	e.installedPortal()
	for path, want := range map[string]string{
		"/healthz": `"ok"`,
		"/readyz":  `"database":"ok"`,
		"/metrics": "relay24_bitrix_requests_total",
	} {
		res, err := http.Get(e.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b := readAll(res)
		if res.StatusCode != http.StatusOK || !strings.Contains(b, want) {
			t.Errorf("%s: %d, lacks %q", path, res.StatusCode, want)
		}
	}
}

// portalRow is everything stored of a portal (tokens sealed, application
// token hashed), to compare before and after a refused request.
func (e *env) portalRow(p *b24test.Portal) store.Portal {
	e.t.Helper()
	r, err := e.App.Store.PortalByMemberID(e.ctx, p.MemberID())
	if err != nil {
		e.t.Fatal(err)
	}
	return *r
}

func (e *env) samePortalRow(p *b24test.Portal, before store.Portal, after string) {
	e.t.Helper()
	if now := e.portalRow(p); !reflect.DeepEqual(now, before) {
		e.t.Fatalf("%s changed the portal row:\nbefore %+v\nafter  %+v", after, before, now)
	}
}

// installerForm is the documented installer POST body
// (app-open.POST.DEFAULT.print_r.txt) with the given tokens.
func installerForm(t *testing.T, p *b24test.Portal, tok b24test.Tokens, appToken string) url.Values {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "bitrix", "b24test", "testdata", "app-open.POST.DEFAULT.print_r.txt"))
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]string{
		"AUTH_ID": tok.Access, "REFRESH_ID": tok.Refresh, "APPLICATION_TOKEN": appToken, "member_id": p.MemberID(),
		"SERVER_ENDPOINT": p.OAuth().URL() + "/rest/", "APPLICATION_SCOPE": b24test.DefaultScope, "status": "L",
	}
	form := url.Values{}
	for _, m := range regexp.MustCompile(`(?m)^\s*\[(\w+)\] => (.*)$`).FindAllStringSubmatch(string(b), -1) {
		switch k, v := m[1], m[2]; k {
		case "DOMAIN", "PROTOCOL", "LANG", "APP_SID": // the query string's
		default:
			if s, ok := set[k]; ok {
				v = s
			}
			if v != "" {
				form.Set(k, v)
			}
		}
	}
	return form
}

func installerQuery(p *b24test.Portal) url.Values {
	return url.Values{"DOMAIN": {p.Domain()}, "PROTOCOL": {"0"}, "LANG": {"en"}, "APP_SID": {"dd8cec11e347088fe87c44870a9f1dba"}}
}

// onAppInstallForm is the documented ONAPPINSTALL event (event.ONAPPINSTALL.json,
// form-encoded as the portal sends it) for p with the given tokens; an empty
// refresh token leaves auth[refresh_token] out.
func onAppInstallForm(t *testing.T, p *b24test.Portal, tok b24test.Tokens, appToken string) url.Values {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "bitrix", "b24test", "testdata", "event.ONAPPINSTALL.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	auth := ev["auth"].(map[string]any)
	auth["domain"], auth["client_endpoint"], auth["member_id"] = p.Domain(), p.ClientEndpoint(), p.MemberID()
	auth["server_endpoint"], auth["scope"] = p.OAuth().URL()+"/rest/", b24test.DefaultScope
	auth["access_token"], auth["refresh_token"], auth["application_token"] = tok.Access, tok.Refresh, appToken
	if tok.Refresh == "" {
		delete(auth, "refresh_token")
	}
	form, err := url.ParseQuery(bitrix.EncodeQuery(ev))
	if err != nil {
		t.Fatal(err)
	}
	return form
}

// forgedEvent is an event form signed with appToken.
func forgedEvent(p *b24test.Portal, event, appToken string, data url.Values) url.Values {
	f := url.Values{"event": {event}, "event_handler_id": {"1"}, "ts": {"1727018926"},
		"auth[domain]": {p.Domain()}, "auth[member_id]": {p.MemberID()}, "auth[application_token]": {appToken},
		"auth[client_endpoint]": {p.ClientEndpoint()}}
	for k, v := range data {
		f[k] = v
	}
	return f
}

// An employee receives his own refresh token with every page the portal opens
// for him. With it, the portal's member_id and an application token of his
// choosing he must not reinstall relay24: the portal stays exactly as it was,
// its real events still pass, and his forged ones (up to a cleaning uninstall)
// are refused.
func TestEmployeeCannotTakeOverThePortal(t *testing.T) {
	e := newEnv(t)
	p := e.installedPortal()
	e.session(p, placement.LeftMenu, nil, 2)
	const evil = "0badc0de0badc0de0badc0de0badc0de"
	before := e.portalRow(p)
	users := e.count(`SELECT count(*) FROM users WHERE portal_id = $1`, before.ID)

	status, body := e.postForm("/b24/install", installerQuery(p), installerForm(t, p, p.IssueTokens(2), evil))
	if status != http.StatusForbidden || !strings.Contains(body, `role="alert"`) || !strings.Contains(body, "administrator") ||
		strings.Contains(body, "installFinish();") {
		t.Fatalf("employee's install answered %d:\n%s", status, body)
	}
	e.samePortalRow(p, before, "the employee's installer POST")

	// The same through the ONAPPINSTALL event, on both handlers.
	for _, path := range []string{"/b24/events", "/b24/install"} {
		status, body := e.postForm(path, nil, onAppInstallForm(t, p, p.IssueTokens(2), evil))
		if status != http.StatusForbidden || !strings.Contains(body, `"not_portal_admin"`) {
			t.Fatalf("employee's ONAPPINSTALL to %s answered %d: %s", path, status, body)
		}
		e.samePortalRow(p, before, "the employee's ONAPPINSTALL to "+path)
	}

	// The portal's real events still authenticate.
	replies, err := p.FireEvent(e.ctx, "ONCRMCONTACTADD", map[string]any{"FIELDS": map[string]any{"ID": "7"}}, 1)
	if err != nil || len(replies) != 1 || replies[0].Status != http.StatusOK {
		t.Fatalf("the portal's own event after the attempt: %v %+v", err, replies)
	}
	recorded, jobsBefore := e.count(`SELECT count(*) FROM portal_events`), e.count(`SELECT count(*) FROM jobs`)

	// The employee's token authenticates nothing, not even the uninstall.
	for name, f := range map[string]url.Values{
		"CRM event": forgedEvent(p, "ONCRMDEALUPDATE", evil, url.Values{"data[FIELDS][ID]": {"1"}}),
		"uninstall": forgedEvent(p, "ONAPPUNINSTALL", evil, url.Values{"data[LANGUAGE_ID]": {"ru"}, "data[CLEAN]": {"1"}}),
	} {
		if status, body := e.postForm("/b24/events", nil, f); status != http.StatusUnauthorized {
			t.Fatalf("forged %s answered %d: %s", name, status, body)
		}
	}
	e.samePortalRow(p, before, "the forged events")
	if n := e.count(`SELECT count(*) FROM portal_events`); n != recorded {
		t.Fatalf("forged events recorded: %d, had %d", n, recorded)
	}
	if n := e.count(`SELECT count(*) FROM users WHERE portal_id = $1`, before.ID); n != users {
		t.Fatalf("%d users, had %d", n, users)
	}
	if n := e.count(`SELECT count(*) FROM jobs`); n != jobsBefore {
		t.Fatalf("forged events made %d jobs", n-jobsBefore)
	}
	// The stored refresh token still works: the employee's refreshes did not
	// touch it.
	e.OAuth.Advance(2 * time.Hour)
	if _, err := e.App.Portals.BindingsOf(e.ctx, before.ID); err != nil {
		t.Fatalf("the portal's own tokens after the attempt: %v", err)
	}
}

// An administrator's re-install that fails while binding leaves the stored
// portal exactly as it was (its tokens still work), and a retry completes.
func TestFailedReinstallLeavesThePortalAsItWas(t *testing.T) {
	e := newEnv(t)
	p := e.installedPortal()
	// Something to bind on re-install: the portal dropped the left-menu item.
	admin := p.IssueTokens(1)
	res, err := http.PostForm(p.ClientEndpoint()+"placement.unbind", url.Values{"auth": {admin.Access},
		"PLACEMENT": {placement.LeftMenu}, "HANDLER": {e.URL + "/b24/placement"}})
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("placement.unbind: %v %v", err, res)
	}
	res.Body.Close()
	before := e.portalRow(p)
	jobsBefore := e.count(`SELECT count(*) FROM jobs`)

	// The install's batches: who installs (user.current + user.admin), what
	// is bound, then the binding, which fails.
	p.SetFault(&b24test.Fault{Method: "batch", Skip: 2, Status: http.StatusInternalServerError, Count: 20})
	r, err := p.PostInstall(e.ctx, e.URL+"/b24/install", 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status < 500 || !strings.Contains(string(r.Body), `role="alert"`) {
		t.Fatalf("re-install with a failing bind answered %d:\n%s", r.Status, r.Body)
	}
	p.SetFault(nil)
	e.samePortalRow(p, before, "the failed re-install")
	if n := e.count(`SELECT count(*) FROM jobs`); n != jobsBefore {
		t.Fatalf("%d jobs after the failed re-install, had %d", n, jobsBefore)
	}
	e.OAuth.Advance(2 * time.Hour)
	if _, err := e.App.Portals.BindingsOf(e.ctx, before.ID); err != nil {
		t.Fatalf("the stored tokens after the failed re-install: %v", err)
	}

	r, err = p.PostInstall(e.ctx, e.URL+"/b24/install", 1)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("retry: %v %d %s", err, r.Status, r.Body)
	}
	e.checkContractBindings(p, "after the retry")
	if after := e.portalRow(p); after.TokenVersion <= before.TokenVersion || !after.TokenUserID.Valid || after.TokenUserID.Int64 != 1 {
		t.Fatalf("the retry did not store the new tokens: %+v", after)
	}
}

// ONAPPINSTALL without a refresh token proves nothing: it must not give a
// portal installed without an application token (an older portal's
// installer posts none) the token its sender chose.
func TestUnprovenONAPPINSTALLStoresNoApplicationToken(t *testing.T) {
	e := newEnv(t)
	p := e.OAuth.NewPortal(b24test.PortalOptions{})
	defer p.Close()
	form := installerForm(t, p, p.IssueTokens(1), "")
	form.Del("APPLICATION_TOKEN")
	if status, body := e.postForm("/b24/install", installerQuery(p), form); status != http.StatusOK {
		t.Fatalf("install without APPLICATION_TOKEN: %d\n%s", status, body)
	}
	before := e.portalRow(p)
	if before.ApplicationTokenHash != nil {
		t.Fatal("an application token was stored from nothing")
	}
	const chosen = "51856fefc120afa4b628cc82d3935cce"
	status, body := e.postForm("/b24/events", nil, onAppInstallForm(t, p, b24test.Tokens{Access: "s6p6eclrvim6da22ft9ch94ekreb52lv"}, chosen))
	if status != http.StatusUnauthorized {
		t.Fatalf("ONAPPINSTALL without a refresh token: %d %s", status, body)
	}
	e.samePortalRow(p, before, "an unproven ONAPPINSTALL")
	if status, _ := e.postForm("/b24/events", nil, forgedEvent(p, "ONAPPUNINSTALL", chosen, url.Values{"data[CLEAN]": {"1"}})); status != http.StatusUnauthorized {
		t.Fatalf("uninstall with the chosen token: %d", status)
	}
	if n := e.count(`SELECT count(*) FROM portals`); n != 1 {
		t.Fatal("the portal is gone")
	}
}

// Text that is not valid UTF-8, or holds NUL, anywhere in what the portal's
// handlers receive is a clear 400 before anything is asked or stored
// (PostgreSQL would refuse it halfway, as a 500).
func TestMalformedTextIsRefusedBeforeAnything(t *testing.T) {
	e := newEnv(t)
	p := e.installedPortal()
	before := e.portalRow(p)
	events := e.count(`SELECT count(*) FROM portal_events`)
	tokenRequests := e.OAuth.TokenRequests()
	calls := len(p.Calls())
	event := func(mut func(url.Values)) url.Values {
		f := forgedEvent(p, "ONCRMCONTACTUPDATE", p.ApplicationToken(), url.Values{"data[FIELDS][ID]": {"5"}})
		mut(f)
		return f
	}
	page := func(mut func(url.Values)) url.Values {
		tok := p.IssueTokens(2)
		f := url.Values{"AUTH_ID": {tok.Access}, "AUTH_EXPIRES": {"3600"}, "REFRESH_ID": {tok.Refresh}, "member_id": {p.MemberID()},
			"status": {"L"}, "PLACEMENT": {placement.DealToolbar}, "PLACEMENT_OPTIONS": {`{"ID":"5"}`}}
		mut(f)
		return f
	}
	install := func(mut func(url.Values)) url.Values {
		f := installerForm(t, p, p.IssueTokens(1), p.ApplicationToken())
		mut(f)
		return f
	}
	q := installerQuery(p)
	badQuery := func(k, v string) url.Values {
		b := url.Values{}
		for kk, vv := range q {
			b[kk] = vv
		}
		b.Set(k, v)
		return b
	}
	cases := []struct {
		name, path  string
		query, form url.Values
	}{
		{"event member_id", "/b24/events", nil, event(func(f url.Values) { f.Set("auth[member_id]", p.MemberID()+"\xff") })},
		{"event member_id with NUL", "/b24/events", nil, event(func(f url.Values) { f.Set("auth[member_id]", "\x00"+p.MemberID()) })},
		{"event data", "/b24/events", nil, event(func(f url.Values) { f.Set("data[FIELDS][ID]", "5\xc3\x28") })},
		{"event key", "/b24/events", nil, event(func(f url.Values) { f.Set("data[\xff]", "1") })},
		{"ONAPPINSTALL member_id", "/b24/install", nil, func() url.Values {
			f := onAppInstallForm(t, p, p.IssueTokens(1), p.ApplicationToken())
			f.Set("auth[member_id]", "\xfe"+p.MemberID())
			return f
		}()},
		{"installer member_id", "/b24/install", q, install(func(f url.Values) { f.Set("member_id", p.MemberID()+"\xff") })},
		{"installer APPLICATION_TOKEN", "/b24/install", q, install(func(f url.Values) { f.Set("APPLICATION_TOKEN", "ab\x00cd") })},
		{"installer LANG", "/b24/install", badQuery("LANG", "\xffen"), install(func(url.Values) {})},
		{"installer DOMAIN", "/b24/install", badQuery("DOMAIN", p.Domain()+"\xff"), install(func(url.Values) {})},
		{"app member_id", "/b24/app", q, page(func(f url.Values) { f.Set("member_id", p.MemberID()+"\xff"); f.Set("PLACEMENT", "DEFAULT") })},
		{"placement options", "/b24/placement", q, page(func(f url.Values) { f.Set("PLACEMENT_OPTIONS", "{\"ID\":\"5\",\"URI\":\"\xff\"}") })},
		{"placement LANG", "/b24/placement", badQuery("LANG", "r\x00u"), page(func(url.Values) {})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := e.postForm(c.path, c.query, c.form)
			// A page names the refusal by its code, in the catalogue's
			// words (the API answers name the bad text).
			if status != http.StatusBadRequest || (!strings.Contains(body, "UTF-8") && !strings.Contains(body, "<code>malformed_form</code>")) {
				t.Fatalf("status %d, want 400 naming the bad text:\n%s", status, body)
			}
			if sessionMeta.MatchString(body) || strings.Contains(body, "installFinish();") {
				t.Fatal("answered as if accepted")
			}
		})
	}
	e.samePortalRow(p, before, "malformed requests")
	if n := e.count(`SELECT count(*) FROM portal_events`); n != events {
		t.Fatalf("%d events recorded, had %d", n, events)
	}
	if n := e.OAuth.TokenRequests(); n != tokenRequests {
		t.Fatalf("malformed installs redeemed %d refresh tokens", n-tokenRequests)
	}
	if n := len(p.Calls()); n != calls {
		t.Fatalf("malformed requests cost %d portal calls", n-calls)
	}
}

// A page open writes the opener's own row only, with what the portal says
// of him; a posted LANG that is no language id is not stored.
func TestPageOpenWritesOnlyTheOpenersRow(t *testing.T) {
	e := newEnv(t)
	p := e.installedPortal()
	e.session(p, placement.LeftMenu, nil, 1)
	before := e.portalRow(p)
	var adminBefore store.User
	if u, err := e.App.Store.UserByID(e.ctx, before.ID, 1); err == nil {
		adminBefore = *u
	} else {
		t.Fatal(err)
	}
	tok := p.IssueTokens(2)
	form := url.Values{"AUTH_ID": {tok.Access}, "AUTH_EXPIRES": {"3600"}, "REFRESH_ID": {tok.Refresh}, "member_id": {p.MemberID()},
		"APPLICATION_TOKEN": {"0badc0de0badc0de0badc0de0badc0de"}, "status": {"L"}, "PLACEMENT": {placement.LeftMenu},
		"PLACEMENT_OPTIONS": {`{"URI":"\/crm\/lead\/list\/"}`}}
	for _, lang := range []string{"en", "de<script>alert(1)</script>", strings.Repeat("x", 300)} {
		q := url.Values{"DOMAIN": {p.Domain()}, "PROTOCOL": {"0"}, "LANG": {lang}, "APP_SID": {"x"}}
		if status, body := e.postForm("/b24/placement", q, form); status != http.StatusOK {
			t.Fatalf("LANG %.20q: %d\n%s", lang, status, body)
		}
	}
	u, err := e.App.Store.UserByID(e.ctx, before.ID, 2)
	if err != nil || u.Lang != "en" || u.IsAdmin || u.Name != "Sales Person" {
		t.Fatalf("the opener's row: %+v %v", u, err)
	}
	e.samePortalRow(p, before, "an employee's page opens")
	if a, err := e.App.Store.UserByID(e.ctx, before.ID, 1); err != nil || !reflect.DeepEqual(*a, adminBefore) {
		t.Fatalf("the admin's row changed: %+v, was %+v (%v)", a, adminBefore, err)
	}
}

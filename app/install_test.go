package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/placement"
	"github.com/relay24/relay24/portal"
)

func TestInstallBindsEverythingOnceAndStartsTheSync(t *testing.T) {
	e := newEnv(t)
	p := e.installedPortal()

	pls := map[string]string{}
	for _, b := range p.Placements() {
		pls[b.Placement] = b.Handler
	}
	for _, b := range placement.Bindings {
		if pls[b.Placement] != e.URL+"/b24/placement" {
			t.Errorf("placement %s bound to %q", b.Placement, pls[b.Placement])
		}
	}
	evs := map[string]string{}
	for _, b := range p.EventBindings() {
		evs[strings.ToUpper(b.Event)] = b.Handler
	}
	for _, ev := range placement.Events {
		if evs[ev] != e.URL+"/b24/events" {
			t.Errorf("event %s bound to %q", ev, evs[ev])
		}
	}
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
	if len(p.Placements()) != len(placement.Bindings) || len(p.EventBindings()) != len(placement.Events) {
		t.Fatalf("bindings after re-install: %d placements, %d events", len(p.Placements()), len(p.EventBindings()))
	}
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
	if len(p.Placements()) != len(placement.Bindings) {
		t.Fatalf("%d placements bound", len(p.Placements()))
	}
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
			if len(p.Placements()) != len(placement.Bindings) || len(p.EventBindings()) != len(placement.Events) {
				t.Fatalf("after retry: %d placements, %d events", len(p.Placements()), len(p.EventBindings()))
			}
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

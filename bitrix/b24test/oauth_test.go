package b24test_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/relay24/relay24/bitrix/b24test"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func tokenRequest(t *testing.T, o *b24test.OAuth, q url.Values) answer {
	t.Helper()
	resp, err := http.Get(o.URL() + "/oauth/token/?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	return readAnswer(t, resp)
}

func authorize(t *testing.T, p *b24test.Portal, clientID, state string) *http.Response {
	t.Helper()
	resp, err := noRedirect.Get(p.URL() + "/oauth/authorize/?" + url.Values{"client_id": {clientID}, "state": {state}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestOAuthCodeFlow(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})

	// Not installed: the portal shows its own error page, no redirect.
	if resp := authorize(t, e.p, testApp.ClientID, "s1"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("authorize before install: %d, want 400", resp.StatusCode)
	}
	e.p.InstallFinish()
	if resp := authorize(t, e.p, "wrong.client", "s1"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("authorize with a wrong client_id: %d, want 400", resp.StatusCode)
	}

	resp := authorize(t, e.p, testApp.ClientID, "JJHgsdgfkdaslg7lbadsfg")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d, want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != testApp.RedirectURI {
		t.Errorf("redirect to %s, want %s", got, testApp.RedirectURI)
	}
	q := loc.Query()
	for k, want := range map[string]string{
		"state": "JJHgsdgfkdaslg7lbadsfg", "domain": e.p.Domain(), "member_id": e.p.MemberID(),
		"scope": b24test.DefaultScope, "server_domain": e.o.Host(),
	} {
		if q.Get(k) != want {
			t.Errorf("redirect %s=%q, want %q", k, q.Get(k), want)
		}
	}
	code := q.Get("code")
	if len(code) != 32 {
		t.Fatalf("code %q", code)
	}

	grant := url.Values{"grant_type": {"authorization_code"}, "client_id": {testApp.ClientID}, "client_secret": {testApp.ClientSecret}, "code": {code}}
	a := tokenRequest(t, e.o, grant)
	if a.Status != http.StatusOK {
		t.Fatalf("token: %d %s", a.Status, a.Raw)
	}
	assertKeysCover(t, "authorization_code answer", fixtureJSON(t, "oauth.token.authorization_code.response.json"), a.Body)
	assertSameKeys(t, "token answer", fixtureJSON(t, "oauth.token.refresh.response.json"), a.Body)
	for k, want := range map[string]any{
		"client_endpoint": e.p.ClientEndpoint(), "domain": e.o.Host(), "member_id": e.p.MemberID(),
		"expires_in": 3600.0, "status": "L", "scope": b24test.DefaultScope, "server_endpoint": e.o.URL() + "/rest/", "user_id": 1.0,
	} {
		if a.Body[k] != want {
			t.Errorf("%s = %v, want %v", k, a.Body[k], want)
		}
	}
	access := a.Body["access_token"].(string)
	if len(access) != 32 || a.Body["refresh_token"] == access {
		t.Errorf("tokens %v", a.Body)
	}
	cur := e.callAs(access, "user.current", nil).mustOK(t)
	if cur.Body["result"].(map[string]any)["ID"] != "1" {
		t.Errorf("user.current with the exchanged token: %s", cur.Raw)
	}

	// A code is good once.
	assertError(t, tokenRequest(t, e.o, grant), http.StatusBadRequest, "invalid_grant")

	// A code lives 30 s.
	resp = authorize(t, e.p, testApp.ClientID, "s2")
	loc, _ = url.Parse(resp.Header.Get("Location"))
	e.o.Advance(31 * time.Second)
	grant.Set("code", loc.Query().Get("code"))
	assertError(t, tokenRequest(t, e.o, grant), http.StatusBadRequest, "invalid_grant")
}

func TestOAuthTokenErrors(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	base := func(extra ...string) url.Values {
		v := url.Values{"grant_type": {"refresh_token"}, "client_id": {testApp.ClientID}, "client_secret": {testApp.ClientSecret}, "refresh_token": {e.tok.Refresh}}
		for i := 0; i+1 < len(extra); i += 2 {
			if extra[i+1] == "" {
				v.Del(extra[i])
			} else {
				v.Set(extra[i], extra[i+1])
			}
		}
		return v
	}
	tests := []struct {
		name   string
		q      url.Values
		status int
		code   string
	}{
		{"wrong secret", base("client_secret", "nope"), http.StatusUnauthorized, "invalid_client"},
		{"wrong client id", base("client_id", "app.x"), http.StatusUnauthorized, "invalid_client"},
		{"no grant type", base("grant_type", ""), http.StatusBadRequest, "invalid_request"},
		{"no secret", base("client_secret", ""), http.StatusBadRequest, "invalid_request"},
		{"no refresh token", base("refresh_token", ""), http.StatusBadRequest, "invalid_request"},
		{"unknown refresh token", base("refresh_token", "0123456789abcdef0123456789abcdef"), http.StatusBadRequest, "invalid_grant"},
		{"unknown grant", base("grant_type", "password"), http.StatusBadRequest, "invalid_request"},
		{"unknown code", base("grant_type", "authorization_code", "code", "deadbeef"), http.StatusBadRequest, "invalid_grant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assertError(t, tokenRequest(t, e.o, tc.q), tc.status, tc.code)
		})
	}
	// The error bodies have the shape of the SDK's mocks.
	assertSameKeys(t, "invalid_client", fixtureJSON(t, "oauth.error.invalid_client.sdk-mock.json"), tokenRequest(t, e.o, base("client_secret", "nope")).Body)

	resp, err := http.Post(e.o.URL()+"/oauth/token/", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /oauth/token/: %d, want 405", resp.StatusCode)
	}
	if n := e.o.TokenRequests(); n != len(tests)+2 {
		t.Errorf("TokenRequests = %d, want %d", n, len(tests)+2)
	}
}

func TestRefreshRotation(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	refresh := func(rt string) answer {
		return tokenRequest(t, e.o, url.Values{"grant_type": {"refresh_token"}, "client_id": {testApp.ClientID}, "client_secret": {testApp.ClientSecret}, "refresh_token": {rt}})
	}
	a := refresh(e.tok.Refresh)
	if a.Status != http.StatusOK {
		t.Fatalf("refresh: %s", a.Raw)
	}
	assertSameKeys(t, "refresh answer", fixtureJSON(t, "oauth.token.refresh.response.json"), a.Body)
	newRefresh := a.Body["refresh_token"].(string)
	if newRefresh == e.tok.Refresh {
		t.Fatal("refresh token was not rotated")
	}
	if a.Body["user_id"] != 1.0 || a.Body["member_id"] != e.p.MemberID() {
		t.Errorf("refresh changed portal or user: %s", a.Raw)
	}
	// The old one is dead, the new one works (once).
	assertError(t, refresh(e.tok.Refresh), http.StatusBadRequest, "invalid_grant")
	if b := refresh(newRefresh); b.Status != http.StatusOK {
		t.Fatalf("new refresh token: %s", b.Raw)
	}
	assertError(t, refresh(newRefresh), http.StatusBadRequest, "invalid_grant")

	// Refresh tokens live 180 days.
	old := e.p.IssueTokens(1)
	e.o.Advance(181 * 24 * time.Hour)
	assertError(t, refresh(old.Refresh), http.StatusBadRequest, "invalid_grant")
}

func TestAccessTokenExpiry(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	e.call("user.current", nil).mustOK(t)
	e.o.Advance(3599 * time.Second)
	e.call("user.current", nil).mustOK(t)
	e.o.Advance(2 * time.Second)
	assertErrorFixture(t, e.call("user.current", nil), http.StatusUnauthorized, "error.expired_token.SYNTH.json")

	a := tokenRequest(t, e.o, url.Values{"grant_type": {"refresh_token"}, "client_id": {testApp.ClientID}, "client_secret": {testApp.ClientSecret}, "refresh_token": {e.tok.Refresh}})
	if a.Status != http.StatusOK {
		t.Fatalf("refresh after expiry: %s", a.Raw)
	}
	e.callAs(a.Body["access_token"].(string), "user.current", nil).mustOK(t)
	if exp := int64(a.Body["expires"].(float64)); exp != e.o.Now().Add(time.Hour).Unix() && exp != e.o.Now().Add(time.Hour).Unix()-1 {
		t.Errorf("expires = %d, want about now+3600 (%d)", exp, e.o.Now().Add(time.Hour).Unix())
	}
}

func TestOAuthFault(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	e.o.SetFault(&b24test.Fault{Status: http.StatusBadGateway, Body: "<html>bad gateway</html>", Count: 2})
	q := url.Values{"grant_type": {"refresh_token"}, "client_id": {testApp.ClientID}, "client_secret": {testApp.ClientSecret}, "refresh_token": {e.tok.Refresh}}
	for i := 0; i < 2; i++ {
		resp, err := http.Get(e.o.URL() + "/oauth/token/?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("faulted request %d: %d", i, resp.StatusCode)
		}
	}
	if a := tokenRequest(t, e.o, q); a.Status != http.StatusOK {
		t.Fatalf("after the fault: %s", a.Raw)
	}
}

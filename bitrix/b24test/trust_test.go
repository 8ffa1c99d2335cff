package b24test_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/relay24/relay24/bitrix/b24test"
)

// Every employee gets his own tokens; redeeming his refresh token answers for
// him (user_id, user.admin false) and leaves the administrator's tokens alive.
func TestRefreshIsPerUserToken(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	e.p.AddUser(b24test.User{ID: 2, Name: "Olga", Active: true})
	emp := e.p.IssueTokens(2)
	refresh := func(rt string) answer {
		return tokenRequest(t, e.o, url.Values{"grant_type": {"refresh_token"}, "client_id": {testApp.ClientID},
			"client_secret": {testApp.ClientSecret}, "refresh_token": {rt}})
	}
	a := refresh(emp.Refresh)
	if a.Status != http.StatusOK || a.Body["user_id"] != 2.0 || a.Body["member_id"] != e.p.MemberID() {
		t.Fatalf("employee's refresh: %s", a.Raw)
	}
	if e.callAs(a.Body["access_token"].(string), "user.admin", nil).mustOK(t).Body["result"] != false {
		t.Fatal("the employee's refreshed token says admin")
	}
	assertError(t, refresh(emp.Refresh), http.StatusBadRequest, "invalid_grant")
	// The administrator's pair is untouched by the employee's rotation.
	e.call("user.current", nil).mustOK(t)
	if a := refresh(e.tok.Refresh); a.Status != http.StatusOK || a.Body["user_id"] != 1.0 {
		t.Fatalf("admin's refresh after the employee's: %s", a.Raw)
	}
}

func TestFaultSkip(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	e.p.SetFault(&b24test.Fault{Method: "user.current", Skip: 2, Status: http.StatusInternalServerError, Count: 1})
	e.call("user.current", nil).mustOK(t)
	e.call("app.info", nil).mustOK(t) // another method neither skips nor fails
	e.call("user.current", nil).mustOK(t)
	assertError(t, e.call("user.current", nil), http.StatusInternalServerError, "INTERNAL_SERVER_ERROR")
	e.call("user.current", nil).mustOK(t)

	e.o.SetFault(&b24test.Fault{Skip: 1, Status: http.StatusBadGateway})
	q := url.Values{"grant_type": {"refresh_token"}, "client_id": {testApp.ClientID}, "client_secret": {testApp.ClientSecret}}
	q.Set("refresh_token", e.tok.Refresh)
	a := tokenRequest(t, e.o, q)
	if a.Status != http.StatusOK {
		t.Fatalf("skipped token request: %s", a.Raw)
	}
	q.Set("refresh_token", a.Body["refresh_token"].(string))
	resp, err := http.Get(e.o.URL() + "/oauth/token/?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("second token request: %d", resp.StatusCode)
	}
}

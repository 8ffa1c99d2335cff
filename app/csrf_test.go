package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// A cookie session (the personal cabinet) rides along on any site's request:
// a write resting on it must come from relay24's own pages, and a session in
// the URL is taken only by the event stream.
func TestCookieWritesNeedSameOrigin(t *testing.T) {
	e := newEnv(t)
	p := e.installedPortal()
	p.LoginAs(2)
	c := &http.Client{Jar: newJar(), Timeout: 10 * time.Second}
	res, err := c.Get(e.URL + "/login?portal=" + url.QueryEscape(p.Domain()))
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("login: %v", err)
	}
	readAll(res)

	write := func(headers map[string]string, sound string) int {
		t.Helper()
		req, _ := http.NewRequest("PUT", e.URL+"/api/v1/me/preferences", strings.NewReader(`{"sound":`+sound+`}`))
		req.Header.Set("Content-Type", "text/plain")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(res)
		return res.StatusCode
	}
	sound := func() bool {
		t.Helper()
		res, err := c.Get(e.URL + "/api/v1/me/preferences")
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("preferences: %v", err)
		}
		return strings.Contains(readAll(res), `"sound":true`)
	}
	before := sound()
	flip := map[bool]string{true: "false", false: "true"}[before]

	for name, h := range map[string]map[string]string{
		"foreign origin":          {"Origin": "https://evil.example"},
		"foreign site by fetch":   {"Sec-Fetch-Site": "cross-site", "Origin": e.URL},
		"same site, other origin": {"Sec-Fetch-Site": "same-site"},
		"opaque origin":           {"Origin": "null"},
		"no origin at all":        {},
	} {
		if s := write(h, flip); s != http.StatusForbidden {
			t.Errorf("%s: cookie write answered %d, want 403", name, s)
		}
	}
	if sound() != before {
		t.Fatal("a cross-origin write changed the preferences")
	}
	// relay24's own page writes.
	if s := write(map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": e.URL}, flip); s != http.StatusOK {
		t.Fatalf("same-origin write: %d", s)
	}
	if sound() == before {
		t.Fatal("the same-origin write did not apply")
	}
	if s := write(map[string]string{"Origin": e.URL}, flip); s != http.StatusOK {
		t.Fatalf("same-origin write by Origin alone: %d", s)
	}

	// A Bearer session is no ambient credential: any origin may use it.
	tok := e.session(p, "LEFT_MENU", nil, 2)
	req, _ := http.NewRequest("PUT", e.URL+"/api/v1/me/preferences", strings.NewReader(`{"sound":true}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Origin", "https://evil.example")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("bearer write: %v %v", err, res)
	}

	// ?session= only on the event stream.
	for _, path := range []string{"/api/v1/me", "/api/v1/dialogs"} {
		res, err := http.Get(e.URL + path + "?session=" + url.QueryEscape(tok))
		if err != nil {
			t.Fatal(err)
		}
		if b := readAll(res); res.StatusCode != http.StatusUnauthorized || !strings.Contains(b, "session_in_url") {
			t.Errorf("%s?session=: %d %s", path, res.StatusCode, b)
		}
	}
	req, _ = http.NewRequest("POST", e.URL+"/api/v1/me/preferences?session="+url.QueryEscape(tok), strings.NewReader(`{}`))
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode == http.StatusOK {
		t.Fatalf("write with ?session=: %v %v", err, res)
	}
}

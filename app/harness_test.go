package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/relay24/relay24/apptest"
	"github.com/relay24/relay24/bitrix/b24test"
)

const (
	testClientID     = apptest.ClientID
	testClientSecret = apptest.ClientSecret
)

// env is a relay24 booted for real (PostgreSQL, HTTP on 127.0.0.1) against an
// emulated Bitrix24 OAuth server and its portals, Wazzup and Telegram: OAuth,
// WZ, TG, App, URL and DBURL come from the apptest.Server.
type env struct {
	*apptest.Server
	t    testing.TB
	ctx  context.Context
	http *http.Client
}

func newEnv(t testing.TB) *env { return newEnvWorkers(t, -1) }

// newEnvWorkers boots with job workers running (-1: none; tests then drive
// the queue with drain).
func newEnvWorkers(t testing.TB, workers int) *env { return newEnvLogged(t, workers, nil) }

// newEnvLogged also copies every log line, at every level, to logs.
func newEnvLogged(t testing.TB, workers int, logs io.Writer) *env {
	t.Helper()
	o := apptest.Options{Workers: workers}
	if logs != nil {
		o.Log, o.Level = logs, slog.LevelDebug
	}
	return newEnvOptions(t, o)
}

// newEnvOptions boots with any apptest options (another environment, a
// clock...).
func newEnvOptions(t testing.TB, o apptest.Options) *env {
	t.Helper()
	s := apptest.Boot(t, o)
	return &env{Server: s, t: t, ctx: s.Ctx,
		http: &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// portal makes a portal with an admin (user 1, built in), a salesperson (2)
// and installs relay24 on it through the UI installer.
func (e *env) installedPortal() *b24test.Portal {
	e.t.Helper()
	p := e.OAuth.NewPortal(b24test.PortalOptions{})
	e.t.Cleanup(p.Close)
	p.AddUser(b24test.User{ID: 2, Name: "Sales", LastName: "Person", Active: true, Departments: []int{1}})
	r, err := p.PostInstall(e.ctx, e.URL+"/b24/install", 1)
	if err != nil {
		e.t.Fatal(err)
	}
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "installFinish") {
		e.t.Fatalf("install answered %d:\n%s", r.Status, r.Body)
	}
	p.InstallFinish()
	return p
}

var sessionMeta = regexp.MustCompile(`<meta name="relay24-session" content="([^"]+)">`)

// session opens a placement as user and returns the page's session token.
func (e *env) session(p *b24test.Portal, placement string, opts map[string]string, user int) string {
	e.t.Helper()
	r, err := p.OpenPlacement(e.ctx, placement, opts, user)
	if err != nil {
		e.t.Fatal(err)
	}
	if r.Status != http.StatusOK {
		e.t.Fatalf("placement %s answered %d:\n%s", placement, r.Status, r.Body)
	}
	m := sessionMeta.FindSubmatch(r.Body)
	if m == nil {
		e.t.Fatalf("placement page carries no session:\n%s", r.Body)
	}
	return string(m[1])
}

// api calls the JSON API with a session and decodes the answer into out.
func (e *env) api(method, path, token string, body any, out any) int {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, e.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %d %s: %v", method, path, res.StatusCode, b, err)
		}
	}
	return res.StatusCode
}

// postForm posts a form like the portal does.
func (e *env) postForm(path string, query, form url.Values) (int, string) {
	e.t.Helper()
	u := e.URL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	res, err := e.http.Post(u, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// count runs a counting query on the app's database.
func (e *env) count(query string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.App.Store.DB().Get(&n, query, args...); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func methodCalls(p *b24test.Portal, method string) int {
	n := 0
	for _, c := range p.Calls() {
		if c.Method == method {
			n++
		}
	}
	return n
}

// drain runs due jobs until none is left.
func (e *env) drain() {
	e.t.Helper()
	for i := 0; i < 100000; i++ {
		ran, err := e.App.Jobs.RunOnce(e.ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		if !ran {
			return
		}
	}
	e.t.Fatal("jobs never ran out")
}

func (e *env) portalID(p *b24test.Portal) int64 {
	e.t.Helper()
	var id int64
	if err := e.App.Store.DB().Get(&id, `SELECT id FROM portals WHERE member_id = $1`, p.MemberID()); err != nil {
		e.t.Fatal(err)
	}
	return id
}

package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/relay24/relay24/app"
	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/config"
	"github.com/relay24/relay24/store/storetest"
	"github.com/relay24/relay24/telegram/tgtest"
	"github.com/relay24/relay24/wazzup/wztest"
)

const (
	testClientID     = "local.6650d0e0a1b2c3.12345678"
	testClientSecret = "Lw3vN0tAReAlSeCrEtJuStAtEsToNe0123456789abcd"
)

// env is a relay24 booted for real (PostgreSQL, HTTP on 127.0.0.1) against an
// emulated Bitrix24 OAuth server and its portals.
type env struct {
	t     testing.TB
	ctx   context.Context
	OAuth *b24test.OAuth
	WZ    *wztest.Server
	TG    *tgtest.Server
	App   *app.App
	URL   string
	DBURL string
	http  *http.Client
}

func newEnv(t testing.TB) *env { return newEnvWorkers(t, -1) }

// newEnvWorkers boots with job workers running (-1: none; tests then drive
// the queue with drain).
func newEnvWorkers(t testing.TB, workers int) *env { return newEnvLogged(t, workers, nil) }

// newEnvLogged also copies every log line, at every level, to logs.
func newEnvLogged(t testing.TB, workers int, logs io.Writer) *env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	public := "http://" + ln.Addr().String()
	oauth := b24test.NewOAuth(b24test.App{ClientID: testClientID, ClientSecret: testClientSecret, RedirectURI: public + "/oauth/callback"})
	t.Cleanup(oauth.Close)
	wz := wztest.NewServer()
	t.Cleanup(wz.Close)
	tg := tgtest.NewServer()
	t.Cleanup(tg.Close)
	dbURL := storetest.URL(t)
	cfg, err := config.Parse(func(k string) string {
		return map[string]string{
			"DATABASE_URL": dbURL, "PUBLIC_URL": public, "B24_CLIENT_ID": testClientID, "B24_CLIENT_SECRET": testClientSecret,
			"B24_OAUTH_URL": oauth.URL(), "B24_ALLOW_HTTP": "1", "SECRET_KEY": strings.Repeat("ab", 32),
			"WAZZUP_API_URL": wz.URL(), "TELEGRAM_API_URL": tg.URL(),
		}[k]
	}, false, "")
	if err != nil {
		t.Fatal(err)
	}
	level := slog.LevelWarn
	if os.Getenv("RELAY24_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	var out io.Writer = testWriter{t}
	if logs != nil {
		level, out = slog.LevelDebug, logs
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
	a, err := app.New(context.Background(), cfg, app.Options{Log: log, Listener: ln, Workers: workers, RetryBase: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.Start(ctx)
	t.Cleanup(func() {
		cancel()
		if err := a.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &env{t: t, ctx: ctx, OAuth: oauth, WZ: wz, TG: tg, App: a, URL: public, DBURL: dbURL,
		http: &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
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

// Package apptest is a relay24 booted for a test against its emulators: a
// fresh migrated database (store/storetest), the emulated Bitrix24 OAuth
// server and its portals (bitrix/b24test), Wazzup (wazzup/wztest) and
// Telegram (telegram/tgtest).
//
// Boot runs the App in the test's process on 127.0.0.1; NewBackends gives
// the same database, emulators and environment to a test that runs the
// built binary; StartDemo runs `relay24 demo` on a fresh database. Every
// piece is closed when the test ends.
package apptest

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
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

// The application's credentials at the emulated OAuth server, and the
// SECRET_KEY relay24 is booted with.
const (
	ClientID     = "local.6650d0e0a1b2c3.12345678"
	ClientSecret = "Lw3vN0tAReAlSeCrEtJuStAtEsToNe0123456789abcd"
	SecretKey    = "abababababababababababababababababababababababababababababababab"
)

// Options tune a boot; the zero value is relay24 with the app's default
// workers, logging warnings and errors to the test's log.
type Options struct {
	// Workers is how many job workers run, as in app.Options: 0 the app's
	// default, -1 none (the test drives the queue).
	Workers int
	// Log receives the log lines; nil: the test's log.
	Log io.Writer
	// Level is the lowest level logged; nil: warn. RELAY24_TEST_LOG set in
	// the environment logs everything.
	Level slog.Leveler
	// Env overrides the test environment: a value replaces a variable, ""
	// removes it (B24_ALLOW_HTTP: "" boots a relay24 that refuses portals
	// over plain http).
	Env map[string]string
	// NoTelegram runs no Telegram emulator and leaves TELEGRAM_API_URL unset.
	NoTelegram bool
	// Now is the app's clock; nil: time.Now.
	Now func() time.Time
	// RetryBase shortens the backoffs; 0: 5 ms.
	RetryBase time.Duration
	// Poll is how often idle workers look for due jobs; 0: the queue's
	// default.
	Poll time.Duration
	// BeforeStart runs once the App is built, before it serves: the place to
	// tune it, seed the emulated portal or add routes.
	BeforeStart func(*Server)
}

// Backends is what relay24 talks to in a test, and the environment that
// points it there.
type Backends struct {
	Addr  string // host:port relay24 listens on
	URL   string // http://Addr, its PUBLIC_URL
	DBURL string // a fresh migrated database, dropped when the test ends
	OAuth *b24test.OAuth
	WZ    *wztest.Server
	TG    *tgtest.Server // nil with Options.NoTelegram
	vars  map[string]string
}

// NewBackends starts the database and the emulators for a relay24 that
// will listen on addr.
func NewBackends(t testing.TB, addr string, o Options) *Backends {
	t.Helper()
	b := &Backends{Addr: addr, URL: "http://" + addr}
	b.OAuth = b24test.NewOAuth(b24test.App{ClientID: ClientID, ClientSecret: ClientSecret, RedirectURI: b.URL + "/oauth/callback"})
	t.Cleanup(b.OAuth.Close)
	b.WZ = wztest.NewServer()
	t.Cleanup(b.WZ.Close)
	b.vars = map[string]string{
		"DATABASE_URL": "", "LISTEN_ADDR": addr, "PUBLIC_URL": b.URL, "B24_CLIENT_ID": ClientID, "B24_CLIENT_SECRET": ClientSecret,
		"B24_OAUTH_URL": b.OAuth.URL(), "B24_ALLOW_HTTP": "1", "SECRET_KEY": SecretKey,
		"WAZZUP_API_URL": b.WZ.URL(), "TELEGRAM_API_URL": "",
	}
	if !o.NoTelegram {
		b.TG = tgtest.NewServer()
		t.Cleanup(b.TG.Close)
		b.vars["TELEGRAM_API_URL"] = b.TG.URL()
	}
	b.DBURL = storetest.URL(t)
	b.vars["DATABASE_URL"] = b.DBURL
	for k, v := range o.Env {
		b.vars[k] = v
	}
	return b
}

// Getenv reads the test environment (for config.Parse).
func (b *Backends) Getenv(k string) string { return b.vars[k] }

// Environ is this process's environment with the test environment over it
// (for exec.Cmd.Env): a variable the test environment removes is removed.
func (b *Backends) Environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !b.has(k) {
			env = append(env, kv)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(b.vars)) {
		if v := b.vars[k]; v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func (b *Backends) has(k string) bool { _, ok := b.vars[k]; return ok }

// Server is a relay24 serving in the test's process.
type Server struct {
	*Backends
	App *app.App
	Ctx context.Context // ends when the test does
}

// Boot starts relay24 on 127.0.0.1 against fresh backends; it is closed
// when the test ends.
func Boot(t testing.TB, o Options) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := NewBackends(t, ln.Addr().String(), o)
	cfg, err := config.Parse(b.Getenv, false, "")
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	var level slog.Leveler = slog.LevelWarn
	if o.Level != nil {
		level = o.Level
	}
	if os.Getenv("RELAY24_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	out := o.Log
	if out == nil {
		out = testWriter{t}
	}
	if o.RetryBase == 0 {
		o.RetryBase = 5 * time.Millisecond
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
	a, err := app.New(context.Background(), cfg, app.Options{Log: log, Listener: ln, Workers: o.Workers, RetryBase: o.RetryBase, Now: o.Now})
	if err != nil {
		t.Fatal(err)
	}
	if o.Poll > 0 {
		a.Jobs.Poll = o.Poll
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{Backends: b, App: a, Ctx: ctx}
	stop := func() {
		cancel()
		if err := a.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
	started := false
	defer func() {
		if !started { // BeforeStart failed the test
			stop()
		}
	}()
	if o.BeforeStart != nil {
		o.BeforeStart(s)
	}
	a.Start(ctx)
	started = true
	// Registered last, so it runs first: the app stops before whatever
	// BeforeStart made is closed.
	t.Cleanup(stop)
	return s
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

package apptest

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/relay24/relay24/config"
	"github.com/relay24/relay24/demo"
	"github.com/relay24/relay24/store/storetest"
)

// DemoOptions tune StartDemo; the zero value is `relay24 demo` as a
// newcomer runs it, on a fresh database.
type DemoOptions struct {
	// DBURL is the database; "": a fresh one.
	DBURL string
	// DataDir is DEMO_DATA_DIR, where the demo keeps its key; "": none (a
	// key generated for the run).
	DataDir string
	// Demo is passed to demo.RunWith.
	Demo demo.Options
}

// Demo is `relay24 demo` running for a test, until Stop or the test's end.
type Demo struct {
	Base    string // http://host:port
	Sandbox string // the sandbox page the banner names (Base + "/demo")
	Login   string // the login link the banner names
	t       testing.TB
	out     *Buffer
	cancel  context.CancelFunc
	done    chan error
}

var (
	sandboxLine = regexp.MustCompile(`Sandbox[^:]*: ((http://\S+)/demo)`)
	loginLine   = regexp.MustCompile(`Open (http://\S+)`)
)

// StartDemo runs the demo on 127.0.0.1 and waits for its banner.
func StartDemo(t testing.TB, o DemoOptions) *Demo {
	t.Helper()
	if o.DBURL == "" {
		o.DBURL = storetest.URL(t)
	}
	env := map[string]string{"DATABASE_URL": o.DBURL, "LISTEN_ADDR": "127.0.0.1:0", "DEMO_DATA_DIR": o.DataDir}
	cfg, err := config.Parse(func(k string) string { return env[k] }, true, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &Demo{t: t, out: &Buffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { d.done <- demo.RunWith(ctx, cfg, slog.New(slog.DiscardHandler), d.out, o.Demo) }()
	t.Cleanup(d.Stop)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		out := d.out.String()
		if s, l := sandboxLine.FindStringSubmatch(out), loginLine.FindStringSubmatch(out); s != nil && l != nil {
			d.Sandbox, d.Base, d.Login = s[1], s[2], l[1]
			return d
		}
		select {
		case err := <-d.done:
			d.done <- err // for Stop
			t.Fatalf("demo stopped: %v\n%s", err, out)
		default:
		}
	}
	t.Fatalf("demo printed no banner:\n%s", d.out.String())
	return nil
}

// Output is what the demo printed so far.
func (d *Demo) Output() string { return d.out.String() }

// Stop stops the demo and waits for it to shut down cleanly.
func (d *Demo) Stop() {
	d.t.Helper()
	if d.cancel == nil {
		return
	}
	d.cancel()
	d.cancel = nil
	select {
	case err := <-d.done:
		if err != nil {
			d.t.Errorf("demo shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		d.t.Error("demo did not stop")
	}
}

// Buffer collects what goroutines write (logs, a program's output) for a
// test to read at any time.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

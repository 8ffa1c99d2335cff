package demo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relay24/relay24/config"
	"github.com/relay24/relay24/demo"
	"github.com/relay24/relay24/store/storetest"

	"log/slog"
)

// syncBuffer is written by the demo and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// The demo installs itself into its emulated portal and a newcomer can log
// in through the printed link.
func TestDemoInstallsAndLogsIn(t *testing.T) {
	dbURL := storetest.URL(t)
	cfg, err := config.Parse(func(k string) string {
		return map[string]string{"DATABASE_URL": dbURL, "LISTEN_ADDR": "127.0.0.1:0"}[k]
	}, true, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- demo.Run(ctx, cfg, slog.New(slog.DiscardHandler), out) }()
	link := regexp.MustCompile(`Open (http://\S+)`)
	var url string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := link.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("demo stopped: %v", err)
		default:
		}
	}
	if url == "" {
		t.Fatalf("demo printed no link:\n%s", out.String())
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `name="relay24-session"`) || !strings.Contains(string(body), "Общий чат") {
		t.Fatalf("login ended with %d:\n%s", res.StatusCode, body)
	}

	// The sandbox: the banner names it, it shows the portal's menu, and its
	// frames carry real sessions that see the seeded dialogs.
	sandbox := regexp.MustCompile(`Sandbox[^:]*: (http://\S+/demo)`).FindStringSubmatch(out.String())
	if sandbox == nil {
		t.Fatalf("the banner names no sandbox:\n%s", out.String())
	}
	page := get(t, c, sandbox[1])
	if !strings.Contains(page, "Общий чат") || !strings.Contains(page, "chat-button") {
		t.Fatalf("sandbox page:\n%s", page)
	}
	frame := get(t, c, sandbox[1]+"/frame?placement=LEFT_MENU")
	m := regexp.MustCompile(`<meta name="relay24-session" content="([^"]+)">`).FindStringSubmatch(frame)
	if m == nil {
		t.Fatalf("the sandbox frame carries no session:\n%s", frame)
	}
	base := strings.TrimSuffix(sandbox[1], "/demo")
	var dialogs []any
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		req, _ := http.NewRequest("GET", base+"/api/v1/dialogs", nil)
		req.Header.Set("Authorization", "Bearer "+m[1])
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Dialogs []any `json:"dialogs"`
		}
		_ = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if dialogs = body.Dialogs; len(dialogs) >= 5 {
			break
		}
	}
	if len(dialogs) < 5 {
		t.Fatalf("the demo seeded %d dialogs, want 5", len(dialogs))
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop")
	}
}

func get(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	res, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", url, res.StatusCode, b)
	}
	return string(b)
}

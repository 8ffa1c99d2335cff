package apptest_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relay24/relay24/apptest"
)

// Boot serves against the emulators with the test environment, overridden
// where Options say so; Environ hands the same environment to a child
// process.
func TestBootWithOptions(t *testing.T) {
	t.Setenv("B24_ALLOW_HTTP", "1") // the child's environment must lose it
	var before time.Duration
	s := apptest.Boot(t, apptest.Options{Workers: -1, NoTelegram: true, Poll: 7 * time.Millisecond,
		Env:         map[string]string{"B24_ALLOW_HTTP": "", "RECONCILE_EVERY": "1h"},
		BeforeStart: func(s *apptest.Server) { before = s.App.Jobs.Poll }})
	if before != 7*time.Millisecond {
		t.Errorf("BeforeStart saw the poll interval %v", before)
	}
	cfg := s.App.Config
	if cfg.B24AllowHTTP || cfg.ReconcileEvery != time.Hour || cfg.DatabaseURL != s.DBURL || cfg.PublicURL != s.URL {
		t.Errorf("configured %+v", cfg.Redacted())
	}
	if s.TG != nil || cfg.TelegramAPIURL != "https://api.telegram.org" {
		t.Errorf("NoTelegram: emulator %v, TELEGRAM_API_URL %s", s.TG, cfg.TelegramAPIURL)
	}
	res, err := http.Get(s.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %d", res.StatusCode)
	}
	env := s.Environ()
	for _, kv := range []string{"DATABASE_URL=" + s.DBURL, "LISTEN_ADDR=" + s.Addr, "SECRET_KEY=" + apptest.SecretKey, "RECONCILE_EVERY=1h"} {
		if !slices.Contains(env, kv) {
			t.Errorf("the child's environment lacks %s", kv)
		}
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "B24_ALLOW_HTTP=") || strings.HasPrefix(kv, "TELEGRAM_API_URL=") {
			t.Errorf("the child's environment has %s", kv)
		}
	}
}

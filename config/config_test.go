package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) Getenv { return func(k string) string { return m[k] } }

const key = "0000000000000000000000000000000000000000000000000000000000000001"

func TestParseDefaults(t *testing.T) {
	c, err := Parse(env(map[string]string{"B24_CLIENT_ID": "app.1", "B24_CLIENT_SECRET": "s", "SECRET_KEY": key}), false, "postgres://local/db")
	if err != nil {
		t.Fatal(err)
	}
	if c.ListenAddr != "127.0.0.1:8080" || c.PublicURL != "http://127.0.0.1:8080" || c.PublicURLSet {
		t.Errorf("listen/public: %q %q %v", c.ListenAddr, c.PublicURL, c.PublicURLSet)
	}
	if c.B24OAuthURL != "https://oauth.bitrix.info" || c.WazzupAPIURL != "https://api.wazzup24.com" || c.TelegramAPIURL != "https://api.telegram.org" {
		t.Errorf("remote defaults: %+v", c)
	}
	if c.ReconcileEvery != 15*time.Minute || c.DatabaseURL != "postgres://local/db" || len(c.SecretKey) != 32 {
		t.Errorf("defaults: %+v", c)
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	_, err := Parse(env(map[string]string{
		"LISTEN_ADDR": "nope", "PUBLIC_URL": "ftp://x", "SECRET_KEY": "abcd", "RECONCILE_EVERY": "soon", "LOG_LEVEL": "loud",
		"B24_ALLOW_HTTP": "maybe",
	}), false, "postgres://local/db")
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	want := []string{"LISTEN_ADDR", "PUBLIC_URL", "B24_CLIENT_ID", "B24_CLIENT_SECRET", "SECRET_KEY", "RECONCILE_EVERY", "LOG_LEVEL", "B24_ALLOW_HTTP"}
	all := strings.Join(ce.Problems, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("no line names %s in:\n%s", w, all)
		}
	}
	if len(ce.Problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(ce.Problems), len(want), all)
	}
}

func TestDemoGeneratesSecret(t *testing.T) {
	c, err := Parse(env(nil), true, "postgres://local/db")
	if err != nil {
		t.Fatal(err)
	}
	if !c.SecretGenerated || len(c.SecretKey) < 32 {
		t.Fatalf("demo secret: %+v", c)
	}
}

func TestSecretFromFileAndBase64(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/secret"
	if err := writeFile(path, "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\n"); err != nil {
		t.Fatal(err)
	}
	c, err := Parse(env(map[string]string{"B24_CLIENT_ID": "a", "B24_CLIENT_SECRET": "b", "SECRET_KEY_FILE": path}), false, "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.SecretKey) != 32 || c.SecretKey[0] != 1 || c.SecretKey[31] != 32 {
		t.Fatalf("key %v", c.SecretKey)
	}
	if r := c.Redacted(); r["database_url"] == nil {
		t.Fatal("redacted dump lacks database_url")
	}
}

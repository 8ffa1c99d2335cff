package config

import (
	"errors"
	"os"
	"path/filepath"
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

// The demo keeps its key in DEMO_DATA_DIR: created 0600 on the first run,
// the same key on the next, so what one run sealed the next can open. An
// explicit SECRET_KEY still wins, and outside demo mode the directory is
// never used.
func TestDemoKeyKeptInDataDir(t *testing.T) {
	dir := t.TempDir()
	first, err := Parse(env(map[string]string{"DEMO_DATA_DIR": dir}), true, "postgres://local/db")
	if err != nil {
		t.Fatal(err)
	}
	second, err := Parse(env(map[string]string{"DEMO_DATA_DIR": dir}), true, "postgres://local/db")
	if err != nil {
		t.Fatal(err)
	}
	if first.SecretGenerated || len(first.SecretKey) != 32 || string(first.SecretKey) != string(second.SecretKey) {
		t.Fatalf("the second start has another key (generated=%v): %x vs %x", first.SecretGenerated, first.SecretKey, second.SecretKey)
	}
	path := filepath.Join(dir, DemoKeyFile)
	if first.SecretFile != path {
		t.Errorf("SecretFile = %q, want %q", first.SecretFile, path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}

	explicit, err := Parse(env(map[string]string{"DEMO_DATA_DIR": dir, "SECRET_KEY": key}), true, "postgres://local/db")
	if err != nil {
		t.Fatal(err)
	}
	if explicit.SecretFile != "" || explicit.SecretKey[31] != 1 {
		t.Errorf("SECRET_KEY did not win over the demo's key: %+v", explicit)
	}

	other := t.TempDir()
	_, err = Parse(env(map[string]string{"DEMO_DATA_DIR": other, "B24_CLIENT_ID": "a", "B24_CLIENT_SECRET": "b"}), false, "postgres://local/db")
	var ce *Error
	if !errors.As(err, &ce) || !strings.Contains(strings.Join(ce.Problems, "\n"), "SECRET_KEY is required") {
		t.Errorf("outside demo mode without SECRET_KEY: %v", err)
	}
	if entries, _ := os.ReadDir(other); len(entries) != 0 {
		t.Errorf("serve wrote into DEMO_DATA_DIR: %v", entries)
	}
}

// A damaged key file stops the demo with the file named: replacing it
// silently would make everything sealed with the old key unreadable.
func TestDemoKeyDamaged(t *testing.T) {
	dir := t.TempDir()
	if err := writeFile(filepath.Join(dir, DemoKeyFile), "not a key\n"); err != nil {
		t.Fatal(err)
	}
	_, err := Parse(env(map[string]string{"DEMO_DATA_DIR": dir}), true, "postgres://local/db")
	var ce *Error
	if !errors.As(err, &ce) || !strings.Contains(strings.Join(ce.Problems, "\n"), DemoKeyFile) {
		t.Fatalf("err = %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, DemoKeyFile))
	if string(b) != "not a key\n" {
		t.Errorf("the damaged key was replaced: %q", b)
	}
}

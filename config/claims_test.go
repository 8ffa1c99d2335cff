package config

import (
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

// What README's configuration table promises, one claim at a time.

func required(extra map[string]string) map[string]string {
	m := map[string]string{"B24_CLIENT_ID": "app.1", "B24_CLIENT_SECRET": "s", "SECRET_KEY": key}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func problems(t *testing.T, err error) string {
	t.Helper()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a configuration error", err)
	}
	return strings.Join(ce.Problems, "\n")
}

// LOG_LEVEL: debug, info, warn, error; info by default.
func TestClaimLogLevels(t *testing.T) {
	for v, want := range map[string]slog.Level{
		"": slog.LevelInfo, "debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
	} {
		c, err := Parse(env(required(map[string]string{"LOG_LEVEL": v})), false, "postgres://local/db")
		if err != nil {
			t.Fatalf("LOG_LEVEL=%q: %v", v, err)
		}
		if c.LogLevel != want {
			t.Errorf("LOG_LEVEL=%q gives %v, want %v", v, c.LogLevel, want)
		}
	}
	_, err := Parse(env(required(map[string]string{"LOG_LEVEL": "trace"})), false, "postgres://local/db")
	if all := problems(t, err); !strings.Contains(all, "LOG_LEVEL") {
		t.Errorf("LOG_LEVEL=trace: %s", all)
	}
}

// Secrets may come from a file named by NAME_FILE: SECRET_KEY_FILE,
// B24_CLIENT_SECRET_FILE and DATABASE_URL_FILE (its password); a file that
// cannot be read is a problem naming the variable.
func TestClaimSecretsFromNameFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := writeFile(p, content); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := Parse(env(map[string]string{
		"B24_CLIENT_ID":          "app.1",
		"SECRET_KEY_FILE":        write("key", key+"\n"),
		"B24_CLIENT_SECRET_FILE": write("client", "from-a-file\n"),
		"DATABASE_URL_FILE":      write("db", "postgres://u:pw@db.example/relay24\n"),
	}), false, "postgres://local/db")
	if err != nil {
		t.Fatal(err)
	}
	if c.B24ClientSecret != "from-a-file" || c.DatabaseURL != "postgres://u:pw@db.example/relay24" || c.DatabaseDefaulted ||
		len(c.SecretKey) != 32 || c.SecretKey[31] != 1 {
		t.Fatalf("from files: secret %q, database %q (defaulted %v), key %x", c.B24ClientSecret, c.DatabaseURL, c.DatabaseDefaulted, c.SecretKey)
	}

	missing := filepath.Join(dir, "absent")
	_, err = Parse(env(map[string]string{"B24_CLIENT_ID": "app.1", "B24_CLIENT_SECRET": "s", "SECRET_KEY_FILE": missing}), false, "postgres://local/db")
	if all := problems(t, err); !strings.Contains(all, "SECRET_KEY_FILE") {
		t.Errorf("an unreadable SECRET_KEY_FILE is not named:\n%s", all)
	}
}

// SECRET_KEY: 32 or more bytes, hex or base64; fewer is a problem.
func TestClaimSecretKeyShape(t *testing.T) {
	for name, c := range map[string]struct {
		key string
		ok  bool
	}{
		"hex, 32 bytes":    {strings.Repeat("0f", 32), true},
		"hex, 64 bytes":    {strings.Repeat("0f", 64), true},
		"hex, 31 bytes":    {strings.Repeat("0f", 31), false},
		"base64, 32 bytes": {"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=", true},
		"base64, 24 bytes": {"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcY", false},
		"neither":          {"not a key at all!", false},
	} {
		_, err := Parse(env(required(map[string]string{"SECRET_KEY": c.key})), false, "postgres://local/db")
		if c.ok && err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
		if !c.ok && (err == nil || !strings.Contains(problems(t, err), "SECRET_KEY")) {
			t.Errorf("%s: accepted or not named: %v", name, err)
		}
	}
}

// B24_ALLOW_HTTP: unset by default; 1 lets relay24 talk to plain-http
// portals. PUBLIC_URL: http:// + LISTEN_ADDR by default, whatever
// LISTEN_ADDR is; set, it is taken as given.
func TestClaimAllowHTTPAndPublicURLDefault(t *testing.T) {
	c, err := Parse(env(required(map[string]string{"LISTEN_ADDR": "0.0.0.0:9090"})), false, "postgres://local/db")
	if err != nil {
		t.Fatal(err)
	}
	if c.B24AllowHTTP {
		t.Error("B24_ALLOW_HTTP unset allows plain http")
	}
	if c.PublicURL != "http://0.0.0.0:9090" || c.PublicURLSet {
		t.Errorf("PUBLIC_URL unset with LISTEN_ADDR 0.0.0.0:9090: %q (set %v)", c.PublicURL, c.PublicURLSet)
	}
	c, err = Parse(env(required(map[string]string{"B24_ALLOW_HTTP": "1", "PUBLIC_URL": "https://relay.example.com"})), false, "postgres://local/db")
	if err != nil {
		t.Fatal(err)
	}
	if !c.B24AllowHTTP {
		t.Error("B24_ALLOW_HTTP=1 does not allow plain http")
	}
	if c.PublicURL != "https://relay.example.com" || !c.PublicURLSet {
		t.Errorf("PUBLIC_URL set: %q (set %v)", c.PublicURL, c.PublicURLSet)
	}
}

// Package config reads relay24's configuration from environment variables once
// at start-up, validates it and reports every problem on its own line.
package config

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config is relay24's whole configuration (CONTRACT §1).
type Config struct {
	DatabaseURL     string
	ListenAddr      string
	PublicURL       string
	B24ClientID     string
	B24ClientSecret string
	B24OAuthURL     string
	B24AllowHTTP    bool
	WazzupAPIURL    string
	TelegramAPIURL  string
	SecretKey       []byte
	ReconcileEvery  time.Duration
	LogLevel        slog.Level

	// Demo is set by `relay24 demo`: the emulated portal stands in for
	// Bitrix24, so credentials and the secret may be generated.
	Demo bool
	// SecretGenerated tells start-up to say that sessions and sealed
	// credentials will not survive a restart (demo mode without DEMO_DATA_DIR).
	SecretGenerated bool
	// SecretFile is the demo's own key file in DEMO_DATA_DIR when the key
	// came from there (demo mode only).
	SecretFile string
	// DatabaseDefaulted is true when DATABASE_URL was unset and the local
	// development cluster (scripts/pg: fsync off) was taken.
	DatabaseDefaulted bool
	// PublicURLSet is false when PUBLIC_URL was derived from LISTEN_ADDR, so
	// the server may put the port it actually bound into it (LISTEN_ADDR :0).
	PublicURLSet bool
}

// Getenv matches os.Getenv; tests pass a map lookup instead.
type Getenv func(string) string

// Parse builds the configuration. defaultDB is the URL of the local cluster
// (scripts/pg) used when DATABASE_URL is unset. All problems are collected so
// an operator fixes them in one pass.
func Parse(getenv Getenv, demo bool, defaultDB string) (*Config, error) {
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }

	c := &Config{Demo: demo}
	c.DatabaseURL = fromEnvOrFile(getenv, "DATABASE_URL", &problems)
	if c.DatabaseURL == "" {
		c.DatabaseURL = defaultDB
		c.DatabaseDefaulted = defaultDB != ""
	}
	if c.DatabaseURL == "" {
		bad("DATABASE_URL is not set and no local cluster was found (run scripts/pg)")
	}

	c.ListenAddr = or(getenv("LISTEN_ADDR"), "127.0.0.1:8080")
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		bad("LISTEN_ADDR %q is not host:port: %v", c.ListenAddr, err)
	}
	c.PublicURLSet = getenv("PUBLIC_URL") != ""
	c.PublicURL = strings.TrimRight(or(getenv("PUBLIC_URL"), "http://"+c.ListenAddr), "/")
	if !isHTTPURL(c.PublicURL) {
		bad("PUBLIC_URL %q must be an absolute http(s) URL", c.PublicURL)
	}

	c.B24ClientID = getenv("B24_CLIENT_ID")
	c.B24ClientSecret = fromEnvOrFile(getenv, "B24_CLIENT_SECRET", &problems)
	if !demo {
		if c.B24ClientID == "" {
			bad("B24_CLIENT_ID is required (the app's client_id from the Bitrix24 vendor console)")
		}
		if c.B24ClientSecret == "" {
			bad("B24_CLIENT_SECRET is required (the app's client_secret from the Bitrix24 vendor console)")
		}
	}
	c.B24OAuthURL = strings.TrimRight(or(getenv("B24_OAUTH_URL"), "https://oauth.bitrix.info"), "/")
	if !isHTTPURL(c.B24OAuthURL) {
		bad("B24_OAUTH_URL %q must be an absolute http(s) URL", c.B24OAuthURL)
	}
	switch v := getenv("B24_ALLOW_HTTP"); v {
	case "", "0", "false":
	case "1", "true":
		c.B24AllowHTTP = true
	default:
		bad("B24_ALLOW_HTTP %q must be 1 or unset", v)
	}
	c.WazzupAPIURL = strings.TrimRight(or(getenv("WAZZUP_API_URL"), "https://api.wazzup24.com"), "/")
	if !isHTTPURL(c.WazzupAPIURL) {
		bad("WAZZUP_API_URL %q must be an absolute http(s) URL", c.WazzupAPIURL)
	}
	c.TelegramAPIURL = strings.TrimRight(or(getenv("TELEGRAM_API_URL"), "https://api.telegram.org"), "/")
	if !isHTTPURL(c.TelegramAPIURL) {
		bad("TELEGRAM_API_URL %q must be an absolute http(s) URL", c.TelegramAPIURL)
	}

	if raw := fromEnvOrFile(getenv, "SECRET_KEY", &problems); raw != "" {
		key, err := decodeKey(raw)
		if err != nil {
			bad("SECRET_KEY: %v", err)
		}
		c.SecretKey = key
	} else if dir := getenv("DEMO_DATA_DIR"); demo && dir != "" {
		// The demo keeps its key next to its data, so what one run sealed
		// (portal tokens, gateway credentials) the next run can open.
		c.SecretFile = filepath.Join(dir, DemoKeyFile)
		key, err := demoKey(c.SecretFile)
		if err != nil {
			bad("DEMO_DATA_DIR: %v", err)
		}
		c.SecretKey = key
	} else if demo {
		c.SecretKey = make([]byte, 32)
		if _, err := rand.Read(c.SecretKey); err != nil {
			bad("SECRET_KEY: generating one: %v", err)
		}
		c.SecretGenerated = true
	} else {
		bad("SECRET_KEY is required: 32 or more random bytes, hex or base64 (e.g. `openssl rand -hex 32`)")
	}

	c.ReconcileEvery = 15 * time.Minute
	if v := getenv("RECONCILE_EVERY"); v != "" {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			bad("RECONCILE_EVERY %q is not a Go duration (e.g. 15m)", v)
		case d < time.Minute:
			bad("RECONCILE_EVERY %s is shorter than 1m", d)
		default:
			c.ReconcileEvery = d
		}
	}

	switch v := strings.ToLower(or(getenv("LOG_LEVEL"), "info")); v {
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "info":
		c.LogLevel = slog.LevelInfo
	case "warn":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		bad("LOG_LEVEL %q must be debug, info, warn or error", v)
	}

	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	return c, nil
}

// Error lists every configuration problem, one per line.
type Error struct{ Problems []string }

func (e *Error) Error() string {
	return "configuration: " + strings.Join(e.Problems, "\nconfiguration: ")
}

// Redacted is the configuration as it may be logged or shown to support.
func (c *Config) Redacted() map[string]any {
	return map[string]any{
		"database_url":     redactURL(c.DatabaseURL),
		"listen_addr":      c.ListenAddr,
		"public_url":       c.PublicURL,
		"b24_client_id":    c.B24ClientID,
		"b24_oauth_url":    c.B24OAuthURL,
		"b24_allow_http":   c.B24AllowHTTP,
		"wazzup_api_url":   c.WazzupAPIURL,
		"telegram_api_url": c.TelegramAPIURL,
		"reconcile_every":  c.ReconcileEvery.String(),
		"log_level":        c.LogLevel.String(),
		"demo":             c.Demo,
	}
}

// fromEnvOrFile reads NAME, or the file named by NAME_FILE (for secrets
// mounted by an orchestrator).
func fromEnvOrFile(getenv Getenv, name string, problems *[]string) string {
	if v := getenv(name); v != "" {
		return v
	}
	path := getenv(name + "_FILE")
	if path == "" {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		*problems = append(*problems, fmt.Sprintf("%s_FILE: %v", name, err))
		return ""
	}
	return strings.TrimSpace(string(b))
}

func decodeKey(raw string) ([]byte, error) {
	raw = strings.TrimSpace(raw)
	if b, err := hex.DecodeString(raw); err == nil {
		if len(b) < 32 {
			return nil, fmt.Errorf("hex key has %d bytes, need 32 or more", len(b))
		}
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(raw); err == nil {
			if len(b) < 32 {
				return nil, fmt.Errorf("base64 key has %d bytes, need 32 or more", len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("neither hex nor base64")
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable)"
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	return u.String()
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

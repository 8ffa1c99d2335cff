package secret

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
)

// The shapes a credential takes in the text of an error or a log line. The
// clients redact what they know (a bot's own token); these catch the rest,
// above all the URLs that net/http and oauth2 quote whole in their errors.
var scrubbers = []struct {
	re   *regexp.Regexp
	with string
}{
	// A Telegram bot token, alone or in /bot<token>/ and /file/bot<token>/.
	{regexp.MustCompile(`\d{3,15}:[A-Za-z0-9_-]{30,}`), "<token>"},
	// Bearer credentials (Wazzup's API key, sessions).
	{regexp.MustCompile(`(?i)\b(bearer\s+)[^\s"',;]+`), "${1}<redacted>"},
	// Credentials by name, in a query string, a form or JSON: REST auth,
	// the OAuth server's GET (client_secret, refresh_token), application tokens.
	{regexp.MustCompile(`(?i)((?:access_token|refresh_token|client_secret|application_token|auth_id|refresh_id|api_key|apikey|bot_token|secret_key|password)(?:%5D|\])?(?:"\s*:\s*"|=|:\s*))[^&\s"',}]+`), "${1}<redacted>"},
	// Names that are credentials only as query parameters (an OAuth code, a
	// signed URL, a session in the event stream's URL).
	{regexp.MustCompile(`(?i)([?&](?:auth|code|token|session|sig|secret|key)=)[^&\s"'#]+`), "${1}<redacted>"},
	// The secret part of relay24's own webhook URLs.
	{regexp.MustCompile(`(/webhooks/(?:wazzup|telegram)/)[^/\s"'?#]+`), "${1}<key>"},
}

// Scrub removes credentials from a text that is about to leave the process
// (a log line, a stored error), so that no token, key or secret is kept where
// people and other systems read.
func Scrub(s string) string {
	for _, sc := range scrubbers {
		s = sc.re.ReplaceAllString(s, sc.with)
	}
	return s
}

// LogHandler wraps h so that every message and string attribute is scrubbed:
// one place that keeps credentials out of every log line, whatever error text
// a library hands up.
func LogHandler(h slog.Handler) slog.Handler {
	if _, done := h.(scrubHandler); done {
		return h
	}
	return scrubHandler{h}
}

type scrubHandler struct{ next slog.Handler }

func (s scrubHandler) Enabled(ctx context.Context, l slog.Level) bool { return s.next.Enabled(ctx, l) }

func (s scrubHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(scrubAttr(a))
		return true
	})
	return s.next.Handle(ctx, out)
}

func (s scrubHandler) WithAttrs(as []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(as))
	for i, a := range as {
		clean[i] = scrubAttr(a)
	}
	return scrubHandler{s.next.WithAttrs(clean)}
}

func (s scrubHandler) WithGroup(name string) slog.Handler {
	return scrubHandler{s.next.WithGroup(name)}
}

func scrubAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Scrub(v.String()))
	case slog.KindGroup:
		g := v.Group()
		clean := make([]any, len(g))
		for i, ga := range g {
			clean[i] = scrubAttr(ga)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, Scrub(err.Error()))
		}
		// Structured values (a map of settings) are printed by the handler:
		// scrub their printed form.
		if s, ok := v.Any().(interface{ String() string }); ok {
			return slog.String(a.Key, Scrub(s.String()))
		}
		return slog.Attr{Key: a.Key, Value: v}
	default:
		return slog.Attr{Key: a.Key, Value: v}
	}
}

// ErrorText is an error's text fit to store: scrubbed, valid UTF-8 without
// NUL (PostgreSQL's text refuses both), and bounded.
func ErrorText(err error) string {
	s := strings.ToValidUTF8(strings.ReplaceAll(Scrub(err.Error()), "\x00", ""), "\uFFFD")
	if len(s) > 2000 {
		s = strings.ToValidUTF8(s[:2000], "") + "…"
	}
	return s
}

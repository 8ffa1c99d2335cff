package secret

import (
	"bytes"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

func TestScrub(t *testing.T) {
	const bot = "223456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw8"
	for _, tc := range []struct{ in, secret string }{
		{`Get "https://api.telegram.org/file/bot` + bot + `/documents/a.pdf": context canceled`, bot},
		{`telegram getMe: Post "http://127.0.0.1:1/bot` + bot + `/getMe": EOF`, bot},
		{`oauth2: cannot fetch token: Get "https://oauth.bitrix.info/oauth/token/?client_id=app.1&client_secret=Lw3vN0tAReAl&grant_type=refresh_token&refresh_token=3a8e9f00006b": dial tcp`, "Lw3vN0tAReAl"},
		{`…&refresh_token=3a8e9f00006b`, "3a8e9f00006b"},
		{`{"auth":"x","access_token":"5f1e8c0000abc","refresh_token":"77aa"}`, "5f1e8c0000abc"},
		{`auth[application_token]=51856fefc120afa4b628cc82d3935cce`, "51856fefc120afa4b628cc82d3935cce"},
		{`auth%5Bapplication_token%5D=51856fefc120afa4b628cc82d3935cce`, "51856fefc120afa4b628cc82d3935cce"},
		{`Authorization: Bearer c8cf90444023482f909520d454368d27`, "c8cf90444023482f909520d454368d27"},
		{`GET /api/v1/events?session=v1.abc.def`, "v1.abc.def"},
		{`/oauth/callback?code=abc123&state=s`, "abc123"},
		{`POST http://relay/webhooks/wazzup/k3y-s3cr3t: refused`, "k3y-s3cr3t"},
		{`/api/v1/messages/5/attachments/0?exp=1&sig=deadbeef`, "deadbeef"},
	} {
		if out := Scrub(tc.in); strings.Contains(out, tc.secret) {
			t.Errorf("Scrub(%q) = %q: keeps %q", tc.in, out, tc.secret)
		}
	}
	// What is no credential stays readable.
	for _, s := range []string{
		`bitrix crm.contact.add: QUERY_LIMIT_EXCEEDED: Too many requests`,
		`{"error":{"code":"expired_token","message":"The access token provided has expired"}}`,
		`dialog 12 of portal 3: message 55 filed`,
	} {
		if out := Scrub(s); out != s {
			t.Errorf("Scrub(%q) = %q: changed a harmless text", s, out)
		}
	}
}

func TestLogHandlerScrubsEveryLine(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	const bot = "223456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw8"
	uerr := &url.Error{Op: "Get", URL: "https://api.telegram.org/file/bot" + bot + "/a.html", Err: errors.New("context canceled")}
	log.Debug("downloading https://api.telegram.org/bot"+bot+"/getFile", slog.String("url", "x?refresh_token=r1"))
	log.With(slog.String("auth", "access_token=a1")).Error("failed", slog.Any("error", uerr),
		slog.Group("req", slog.String("header", "Bearer k1")))
	out := buf.String()
	for _, s := range []string{bot, `r1"`, `a1"`, `k1"`} {
		if strings.Contains(out, s) {
			t.Errorf("log keeps %q:\n%s", s, out)
		}
	}
	if !strings.Contains(out, "context canceled") || strings.Count(out, "\n") != 2 {
		t.Errorf("log lost its substance:\n%s", out)
	}
}

func TestErrorText(t *testing.T) {
	s := ErrorText(errors.New("bad \x00 byte \xff and token=x&access_token=secret1 " + strings.Repeat("é", 3000)))
	if strings.Contains(s, "\x00") || strings.Contains(s, "secret1") || len(s) > 2010 || !strings.HasPrefix(s, "bad  byte \uFFFD") {
		t.Fatalf("ErrorText = %.80q (%d bytes)", s, len(s))
	}
}

package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/relay24/relay24/telegram/tgtest"
)

// A Telegram document keeps the name the client's app gave it, in the chat
// and in the download; the name never decides how the file is served, and a
// path in it is cut to its last element.
func TestTelegramDocumentKeepsItsName(t *testing.T) {
	r := newRelayEnv(t)
	const token = "423456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw8"
	bot := r.connectBot(r.Admin, token, "docs_bot")
	client := tgtest.User{ID: 902, FirstName: "Нина"}
	for _, d := range []struct{ name, claimed string }{
		{"Прайс 2026.pdf", "application/pdf"},
		{`..\..\x/evil.html`, "image/png"},
	} {
		if _, err := bot.UserSendsDocument(r.ctx, client, d.name, d.claimed, []byte("%PDF-1.4\n"), ""); err != nil {
			t.Fatal(err)
		}
	}
	r.settle()
	msgs := r.history(r.Admin, r.dialogs(r.Admin)[0].ID)
	if len(msgs) != 2 {
		t.Fatalf("messages %+v", msgs)
	}
	for i, want := range []string{"Прайс 2026.pdf", "evil.html"} {
		a := msgs[i].Attachments
		if len(a) != 1 || a[0]["name"] != want {
			t.Fatalf("attachment %d: %+v, want the name %q", i, a, want)
		}
		res, _ := r.get(a[0]["url"])
		cd := res.Header.Get("Content-Disposition")
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/octet-stream" ||
			!strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, "filename*=UTF-8''"+strings.ReplaceAll(url.PathEscape(want), "+", "%2B")) {
			t.Errorf("download %d: %d %q %q", i, res.StatusCode, res.Header.Get("Content-Type"), cd)
		}
	}
}

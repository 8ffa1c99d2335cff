package app_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/relay24/relay24/apptest"
	"github.com/relay24/relay24/placement"
	"github.com/relay24/relay24/telegram/tgtest"
)

// No log line, at any level, carries a token, key or secret: not when a
// browser gives up on a Telegram file (whose URL holds the bot's token), not
// when a gateway refuses, not in the debug lines of an install.
func TestNoSecretInAnyLogLine(t *testing.T) {
	logs := &apptest.Buffer{}
	e := newEnvLogged(t, -1, logs)
	p := e.installedPortal()
	admin := e.session(p, placement.LeftMenu, nil, 1)

	const botToken = "323456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw9"
	const wazzupKey = "d8cf90444023482f909520d454368d99"
	bot := e.connectBot(admin, botToken, "files_bot")
	acc := e.WZ.AddAccount(wazzupKey)
	acc.AddChannel("whatsapp", "79865784400", "Sales WhatsApp")
	if s := e.api("POST", "/api/v1/channels", admin, map[string]string{"provider": "wazzup", "api_key": wazzupKey}, nil); s != http.StatusCreated {
		t.Fatalf("connect wazzup: %d", s)
	}
	// A wrong key is refused by the gateway and said so.
	if s := e.api("POST", "/api/v1/channels", admin, map[string]string{"provider": "wazzup", "api_key": "0000aaaa1111bbbb2222cccc3333dddd"}, nil); s < 400 {
		t.Fatalf("a wrong Wazzup key was accepted: %d", s)
	}

	if _, err := bot.UserSendsDocument(e.ctx, tgtest.User{ID: 501, FirstName: "Клиент"}, "price.pdf", "application/pdf", []byte("%PDF-1.4"), ""); err != nil {
		t.Fatal(err)
	}
	e.drain()
	var list struct {
		Dialogs []struct {
			ID int64 `json:"id"`
		} `json:"dialogs"`
	}
	if s := e.api("GET", "/api/v1/dialogs", admin, nil, &list); s != http.StatusOK || len(list.Dialogs) != 1 {
		t.Fatalf("dialogs: %d %+v", s, list)
	}
	var msgs struct {
		Messages []struct {
			Attachments []attachmentJSON `json:"attachments"`
		} `json:"messages"`
	}
	e.api("GET", "/api/v1/dialogs/"+itoa64(list.Dialogs[0].ID)+"/messages", admin, nil, &msgs)
	if len(msgs.Messages) != 1 || len(msgs.Messages[0].Attachments) != 1 {
		t.Fatalf("messages: %+v", msgs)
	}

	// The browser gives up while relay24 is still downloading from Telegram:
	// the file as it was before its copy was kept (the attachment route
	// fetches a Telegram file that is not copied yet with the bot's token).
	if _, err := e.App.Store.DB().Exec(`UPDATE messages SET attachments = jsonb_build_array((attachments->0) - 'source' ||
		jsonb_build_object('url', attachments->0->>'source'))`); err != nil {
		t.Fatal(err)
	}
	bot.SetFault(&tgtest.Fault{Method: tgtest.FileDownload, Delay: time.Hour})
	ctx, cancel := context.WithCancel(e.ctx)
	req, _ := http.NewRequestWithContext(ctx, "GET", e.URL+msgs.Messages[0].Attachments[0]["url"], nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	time.Sleep(300 * time.Millisecond) // lets the download start; not an assertion
	cancel()
	<-done
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "context canceled") {
		if time.Now().After(deadline) {
			t.Fatalf("the cancelled download was never logged; the test proves nothing:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	bot.SetFault(nil)

	out := logs.String()
	if !strings.Contains(out, "level=INFO") || !strings.Contains(out, "level=ERROR") {
		t.Fatalf("the scenario logged no info or no error line:\n%s", out)
	}
	secrets := map[string]string{
		"bot token":             botToken,
		"bot token's secret":    strings.SplitN(botToken, ":", 2)[1],
		"Wazzup key":            wazzupKey,
		"client secret":         testClientSecret,
		"SECRET_KEY":            apptest.SecretKey,
		"application token":     p.ApplicationToken(),
		"session":               admin,
		"attachment signature":  regexp.MustCompile(`sig=([^&]+)`).FindStringSubmatch(msgs.Messages[0].Attachments[0]["url"])[1],
		"wrong Wazzup key":      "0000aaaa1111bbbb2222cccc3333dddd",
		"relay24's webhook key": webhookKey(t, acc.Webhook()),
	}
	for name, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("a log line carries the %s", name)
		}
	}
	// OAuth and REST tokens are 32 hex digits here; the member id is the one
	// such value that is no secret.
	for _, m := range regexp.MustCompile(`\b[0-9a-f]{32}\b`).FindAllString(out, -1) {
		if m != p.MemberID() {
			t.Errorf("a log line carries a token-shaped value %s", m)
		}
	}
}

// webhookKey is the secret part of the URL relay24 registered with Wazzup.
func webhookKey(t *testing.T, uri string) string {
	t.Helper()
	if !strings.Contains(uri, "/webhooks/wazzup/") {
		t.Fatalf("no webhook registered with Wazzup: %q", uri)
	}
	return uri[strings.LastIndex(uri, "/")+1:]
}

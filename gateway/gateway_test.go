package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/telegram"
	"github.com/relay24/relay24/wazzup"
)

func registry() *Registry {
	return NewRegistry(&Wazzup{AccountOf: func(string) string { return "acct" }}, &Telegram{})
}

// Each provider finds its adapter (an unknown one none), with its limits
// per transport, its reply window (WhatsApp Business 24 h, Instagram 7
// days, the rest none) and its traits.
func TestAdapters(t *testing.T) {
	r := registry()
	if _, ok := r.Lookup("viber"); ok {
		t.Error("an unknown provider has an adapter")
	}
	if got := strings.Join(r.Providers(), ","); got != "telegram,wazzup" {
		t.Errorf("providers %q", got)
	}
	for _, c := range []struct {
		provider, transport string
		textLimit           int
		chatType            string
		window              time.Duration
		dedupe, secret      bool
	}{
		{ProviderWazzup, "whatsapp", 10000, "whatsapp", 0, true, false},
		{ProviderWazzup, "wapi", 4096, "whatsapp", 24 * time.Hour, true, false},
		{ProviderWazzup, "WAPI", 4096, "whatsapp", 24 * time.Hour, true, false},
		{ProviderWazzup, "instagram", 1000, "instagram", 7 * 24 * time.Hour, true, false},
		{ProviderWazzup, "telegram", 4096, "telegram", 0, true, false},
		{ProviderWazzup, "tgapi", 4096, "telegram", 0, true, false},
		{ProviderWazzup, "viber", 6999, "viber", 0, true, false},
		{ProviderWazzup, "vk", 1000, "vk", 0, true, false},
		{ProviderWazzup, "avito", 1000, "avito", 0, true, false},
		{ProviderWazzup, "max", 4096, "max", 0, true, false},
		{ProviderTelegram, "telegram", 4096, "telegram", 0, false, true},
	} {
		gw, ok := r.Lookup(c.provider)
		if !ok || gw.Provider() != c.provider {
			t.Fatalf("%s: no adapter", c.provider)
		}
		name := c.provider + "/" + c.transport
		if got := gw.TextLimit(c.transport); got != c.textLimit {
			t.Errorf("%s: text limit %d, want %d", name, got, c.textLimit)
		}
		if got := gw.ChatType(c.transport); got != c.chatType {
			t.Errorf("%s: chat type %q, want %q", name, got, c.chatType)
		}
		if got := gw.ReplyWindow(c.transport); got != c.window {
			t.Errorf("%s: reply window %v, want %v", name, got, c.window)
		}
		tr := gw.Traits()
		if (tr.DedupeWindow > 0) != c.dedupe || tr.WebhookSecret != c.secret {
			t.Errorf("%s: traits %+v", name, tr)
		}
		// An emoji counts twice (UTF-16), as both gateways count.
		if got := gw.TextLen("a👍"); got != 3 {
			t.Errorf("%s: TextLen(a👍) = %d, want 3", name, got)
		}
	}
	// Only Wazzup is told the CRM's side.
	for provider, pushes := range map[string]bool{ProviderWazzup: true, ProviderTelegram: false} {
		gw, _ := r.Lookup(provider)
		if _, ok := gw.(CRMPusher); ok != pushes {
			t.Errorf("%s: pushes the CRM %v, want %v", provider, ok, pushes)
		}
	}
	if gw, ok := r.ForFileRef("tg-file:AgAD"); !ok || gw.Provider() != ProviderTelegram {
		t.Errorf("a bot's file reference is not Telegram's")
	}
	for _, ref := range []string{"https://store.wazzup24.com/x/photo.jpg", "file:12", ""} {
		if gw, ok := r.ForFileRef(ref); ok {
			t.Errorf("%q is opened by %s, want a public link or relay24's own", ref, gw.Provider())
		}
	}
}

// A bot never has templates (a typed error).
func TestTemplatesNotSupported(t *testing.T) {
	ctx := context.Background()
	gw := &Telegram{}
	_, err := gw.SendTemplate(ctx, "cred", Outgoing{}, Template{Name: "hello"})
	var ns *NotSupportedError
	if !errors.As(err, &ns) || ns.Provider != gw.Provider() || !errors.Is(err, ErrNotSupported) {
		t.Errorf("SendTemplate: %v, want NotSupportedError", err)
	}
	if _, err := gw.Templates(ctx, "cred"); !errors.Is(err, ErrNotSupported) {
		t.Errorf("Templates: %v, want not supported", err)
	}
	if gw.TemplatesOn("telegram") {
		t.Error("a bot takes templates")
	}
}

// The connect form is checked by its gateway before anything is asked.
func TestCredential(t *testing.T) {
	r := registry()
	wz, _ := r.Lookup(ProviderWazzup)
	tg, _ := r.Lookup(ProviderTelegram)
	for _, c := range []struct {
		gw     Gateway
		req    ConnectRequest
		reason string
	}{
		{wz, ConnectRequest{APIKey: " key123 "}, ""},
		{wz, ConnectRequest{APIKey: "a b"}, "bad_api_key"},
		{wz, ConnectRequest{}, "bad_api_key"},
		{tg, ConnectRequest{BotToken: "123456:" + strings.Repeat("A", 35)}, ""},
		{tg, ConnectRequest{BotToken: "nope"}, "bad_bot_token"},
	} {
		cred, err := c.gw.Credential(c.req)
		pe, _ := problem.As(err)
		switch {
		case c.reason == "" && (err != nil || strings.TrimSpace(cred) != cred):
			t.Errorf("%s %+v: %q %v", c.gw.Provider(), c.req, cred, err)
		case c.reason != "" && (pe == nil || pe.Reason != c.reason):
			t.Errorf("%s %+v: %v, want %s", c.gw.Provider(), c.req, err, c.reason)
		}
	}
}

// A send's failure is classified as relay acts on it.
func TestSendErrorOutcomes(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want Outcome
	}{
		{"wazzup duplicate", wazzupSendError(&wazzup.Error{Status: 400, Code: "REPEATED_CRM_MESSAGE_ID"}), AlreadySent},
		{"wazzup 500", wazzupSendError(&wazzup.Error{Status: 500}), Uncertain},
		{"wazzup refusal", wazzupSendError(&wazzup.Error{Status: 400, Code: "CHANNEL_BLOCKED"}), Refused},
		{"telegram 429", telegramSendError(&telegram.Error{Code: 429, RetryAfter: 3}), NotSent},
		{"telegram 502", telegramSendError(&telegram.Error{Code: 502}), NotSent},
		{"telegram no answer", telegramSendError(io.ErrUnexpectedEOF), Uncertain},
		{"telegram 403", telegramSendError(&telegram.Error{Code: 403, Description: "Forbidden: bot was blocked by the user"}), Refused},
	} {
		var se *SendError
		if !errors.As(c.err, &se) || se.Outcome != c.want {
			t.Errorf("%s: %v, want outcome %d", c.name, c.err, c.want)
		}
	}
	var se *SendError
	if err := telegramSendError(&telegram.Error{Code: 429, RetryAfter: 3}); !errors.As(err, &se) || se.RetryAfter != 3*time.Second {
		t.Errorf("Telegram's retry_after is lost: %v", err)
	}
	if _, err := (&Telegram{}).SendText(context.Background(), "t", Outgoing{Target: Target{ChatID: "@someone"}}); !errors.As(err, &se) || se.Code != "send_bot_cannot_start" {
		t.Errorf("a bot writing first: %v", err)
	}
}

// Wazzup's 429 Too Many Requests (documented: ≤500 requests per 5 s;
// wazzup.Temporary calls it temporary) is the gateway's (502, try again),
// like Telegram's 429.
func TestProblemWazzupRateLimit(t *testing.T) {
	err := Problem(&wazzup.Error{Status: 429, Code: "TOO_MANY_REQUESTS"}, "registering relay24's webhook with Wazzup")
	if pe, ok := problem.As(err); !ok || pe.Code != problem.Unavailable || pe.Reason != "gateway_unavailable" {
		t.Fatalf("Wazzup 429: %v, want unavailable gateway_unavailable", err)
	}
}

// Telegram's media are named in the gateways' common vocabulary.
func TestKinds(t *testing.T) {
	for in, want := range map[string]string{
		"photo": "image", "animation": "video", "video_note": "video", "contact": "vcard", "location": "geo",
		"video": "video", "voice": "voice", "audio": "audio", "document": "document", "sticker": "sticker", "text": "text",
		"": "unsupported",
	} {
		if got := TelegramKind(in); got != want {
			t.Errorf("TelegramKind(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{
		"https://store.wazzup24.com/abc/photo.jpg":                "photo.jpg",
		"https://store.wazzup24.com/abc/doc.pdf?filename=x.pdf#p": "doc.pdf",
		"https://store.wazzup24.com/dir/":                         "",
		"report.docx":                                             "report.docx",
		"":                                                        "",
		"https://x/a/b?next=/c/d.exe":                             "b",
	} {
		if got := FileName(in); got != want {
			t.Errorf("FileName(%q) = %q, want %q", in, got, want)
		}
	}
}

// A gateway's refusal is what the admin is told: rejected credentials and
// other refusals are the request's fault (400, with the gateway's reason);
// everything else, rate limits included, is the gateway's (502, retry).
func TestGatewayProblem(t *testing.T) {
	for _, c := range []struct {
		name   string
		err    error
		code   problem.Code
		reason string
	}{
		{"wazzup 401", &wazzup.Error{Status: 401, Code: "unauthorized"}, problem.Invalid, "gateway_rejected_credentials"},
		{"wazzup 403", &wazzup.Error{Status: 403, Code: "forbidden"}, problem.Invalid, "gateway_rejected_credentials"},
		{"wazzup 400", &wazzup.Error{Status: 400, Code: "uriNotValid", Description: "bad uri"}, problem.Invalid, "gateway_refused"},
		{"wazzup 500", &wazzup.Error{Status: 500}, problem.Unavailable, "gateway_unavailable"},
		{"telegram 401", &telegram.Error{Code: 401, Description: "Unauthorized"}, problem.Invalid, "gateway_rejected_credentials"},
		{"telegram 404", &telegram.Error{Code: 404, Description: "Not Found"}, problem.Invalid, "gateway_rejected_credentials"},
		{"telegram 400", &telegram.Error{Code: 400, Description: "Bad Request: bad webhook"}, problem.Invalid, "gateway_refused"},
		{"telegram 429", &telegram.Error{Code: 429, RetryAfter: 3}, problem.Unavailable, "gateway_unavailable"},
		{"telegram 502", &telegram.Error{Code: 502}, problem.Unavailable, "gateway_unavailable"},
		{"network", fmt.Errorf("post: %w", io.ErrUnexpectedEOF), problem.Unavailable, "gateway_unavailable"},
	} {
		got := Problem(fmt.Errorf("client: %w", c.err), "connecting")
		pe, ok := problem.As(got)
		if !ok || pe.Code != c.code || pe.Reason != c.reason || !strings.HasPrefix(pe.Message, "connecting: ") {
			t.Errorf("%s: %v, want %s %s", c.name, got, c.code, c.reason)
		}
		if !errors.Is(got, c.err) {
			t.Errorf("%s: the cause is lost", c.name)
		}
	}
}

// What a failed reply shows: the gateway's code and words, or Telegram's.
func TestErrorText(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&wazzup.Error{Status: 400, Code: "MESSAGE_TEXT_TOO_LONG", Description: "Text is too long"}, "MESSAGE_TEXT_TOO_LONG: Text is too long"},
		{&wazzup.Error{Status: 400, Code: "CHANNEL_BLOCKED"}, "CHANNEL_BLOCKED:"},
		{fmt.Errorf("send: %w", &telegram.Error{Code: 403, Description: "Forbidden: bot was blocked by the user"}), "Forbidden: bot was blocked by the user"},
		{errors.New("boom"), "boom"},
	} {
		if got := ErrorText(c.err); got != c.want {
			t.Errorf("ErrorText(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

// A channel's state is Wazzup's word, lower-cased; any spelling of active
// is active, and no word is unknown.
func TestChannelState(t *testing.T) {
	for in, want := range map[string]string{
		"active": "active", "ACTIVE": "active", "Active": "active", "": "unknown",
		"qr": "qr", "QR": "qr", "qridle": "qridle", "openElsewhere": "openelsewhere", "phoneUnavailable": "phoneunavailable",
	} {
		if got := ChannelState(in); got != want {
			t.Errorf("ChannelState(%q) = %q, want %q", in, got, want)
		}
	}
}

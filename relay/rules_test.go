package relay

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/gateway"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/store/storetest"
	"github.com/relay24/relay24/wazzup"
)

// A message without text reads as a placeholder in the portal's language:
// every media kind the gateways send has its own in ru and en (never the
// "unsupported" one, never the other language's), unknown kinds share the
// unsupported one, and an unknown language reads Russian.
func TestPlaceholders(t *testing.T) {
	// The kinds Wazzup documents, and Telegram's media as relay24 names them.
	kinds := []string{"image", "video", "audio", "voice", "document", "vcard", "geo", "sticker", "missing_call", "wapi_template", "deleted"}
	for _, k := range []string{"photo", "animation", "document", "voice", "audio", "video", "video_note", "sticker", "contact", "location"} {
		kinds = append(kinds, gateway.TelegramKind(k))
	}
	for _, lang := range []string{"ru", "en"} {
		unsupported := Placeholder("no-such-kind", lang)
		seen := map[string]string{}
		for _, k := range kinds {
			p := Placeholder(k, lang)
			if p == "" || p == unsupported || !strings.HasPrefix(p, "[") || !strings.HasSuffix(p, "]") {
				t.Errorf("%s %q: placeholder %q", lang, k, p)
			}
			if other, ok := seen[p]; ok && other != k {
				t.Errorf("%s: %q and %q read alike: %q", lang, k, other, p)
			}
			seen[p] = k
		}
		for _, k := range []string{"unsupported", "unknown", "system", "sticker_v2", ""} {
			if p := Placeholder(k, lang); p != unsupported {
				t.Errorf("%s %q: %q, want the unsupported placeholder %q", lang, k, p, unsupported)
			}
		}
	}
	for _, c := range []struct{ kind, ru, en string }{
		{"image", "[Изображение]", "[Image]"},
		{"voice", "[Голосовое сообщение]", "[Voice message]"},
		{"missing_call", "[Пропущенный звонок]", "[Missed call]"},
		{"deleted", "[Сообщение удалено]", "[Message deleted]"},
	} {
		if got := Placeholder(c.kind, "ru"); got != c.ru {
			t.Errorf("ru %s: %q, want %q", c.kind, got, c.ru)
		}
		if got := Placeholder(c.kind, "en"); got != c.en {
			t.Errorf("en %s: %q, want %q", c.kind, got, c.en)
		}
		for _, lang := range []string{"", "de", "ua", "RU"} {
			if got := Placeholder(c.kind, lang); got != c.ru {
				t.Errorf("%q %s: %q, want the Russian %q", lang, c.kind, got, c.ru)
			}
		}
	}
}

// A kind Wazzup sends is kept, an absent one is text.
func TestKinds(t *testing.T) {
	for in, want := range map[string]string{"": "text", "text": "text", "image": "image", "sticker_v2": "sticker_v2"} {
		if got := kindOf(in); got != want {
			t.Errorf("kindOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// The echo of a message sent from the phone is at least sent; a known
// delivery status is kept.
func TestEchoStatus(t *testing.T) {
	for in, want := range map[string]string{
		"sent": "sent", "delivered": "delivered", "read": "read", "error": "error",
		"inbound": "sent", "": "sent", "edited": "sent", "pending": "sent", "READ": "sent",
	} {
		if got := echoStatus(in); got != want {
			t.Errorf("echoStatus(%q) = %q, want %q", in, got, want)
		}
	}
}

// A gateway's time is believed unless it is missing or ahead of ours by
// more than the allowed skew (a future time would keep a dialog waiting
// past every answer); a past time is kept, however old.
func TestProviderTime(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	s := New(Options{Now: func() time.Time { return now }})
	for _, c := range []struct {
		name string
		at   time.Time
		want time.Time
	}{
		{"missing", time.Time{}, now},
		{"a minute ago", now.Add(-time.Minute), now.Add(-time.Minute)},
		{"last year", now.AddDate(-1, 0, 0), now.AddDate(-1, 0, 0)},
		{"a little ahead", now.Add(4 * time.Minute), now.Add(4 * time.Minute)},
		{"far ahead", now.Add(time.Hour), now},
		{"beyond timestamptz", time.UnixMilli(9999999999999999), now},
	} {
		if got := s.providerTime(c.at); !got.Equal(c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// A reply is refused before anything is stored when it is empty, holds an
// invisible control character (said where), or has no usable client id.
func TestSendRefusesBadInput(t *testing.T) {
	s := New(Options{}) // no store: each case must be refused before one is needed
	long := strings.Repeat("x", 65)
	for _, c := range []struct {
		name, text, clientID, reason string
		where                        string // in the message
	}{
		{"empty", "", "c1", "empty_text", ""},
		{"blanks", " \t\r\n ", "c1", "empty_text", ""},
		{"NUL", "при\x00вет", "c1", "invalid_text", "U+0000) at character 4"},
		{"escape", "ok\x1b[31m", "c1", "invalid_text", "U+001B) at character 3"},
		{"C1 control", "a\u0085", "c1", "invalid_text", "U+0085"},
		{"no client id", "hello", "", "bad_client_id", ""},
		{"blank client id", "hello", "   ", "bad_client_id", ""},
		{"client id too long", "hello", long, "bad_client_id", ""},
	} {
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("not refused before the store: %v", r)
				}
			}()
			_, err = s.Send(context.Background(), 1, Author{ID: 1}, 1, c.text, c.clientID)
		}()
		pe, ok := problem.As(err)
		if !ok || pe.Code != problem.Invalid || pe.Reason != c.reason || !strings.Contains(pe.Message, c.where) {
			t.Errorf("%s: %v, want invalid %s (%s)", c.name, err, c.reason, c.where)
		}
	}
	for _, text := range []string{"line one\nline two", "tab\there", "windows\r\nline", "emoji 👍🏽 and ё"} {
		if err := checkSendable(text); err != nil {
			t.Errorf("%q: %v", text, err)
		}
	}
}

// Each transport takes at most its number of characters, counted as Wazzup
// counts them (UTF-16 units: an emoji is two); the limit itself passes.
func TestSendTextLimits(t *testing.T) {
	ctx := context.Background()
	st := store.New(storetest.DB(t))
	p, err := st.UpsertInstall(ctx, store.Install{MemberID: "limits", Domain: "limits.example", ClientEndpoint: "https://limits.example/rest/",
		TokenExpiresAt: time.Now().Add(time.Hour), AccessToken: func(int64) []byte { return []byte("a") }, RefreshToken: func(int64) []byte { return []byte("r") }})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{Store: st})
	n := 0
	for _, c := range []struct {
		transport string
		limit     int
	}{
		{"whatsapp", 10000},
		{"instagram", 1000},
		{"telegram", 4096},
		{"tgapi", 4096},
		{"wapi", 4096},
		{"vk", 1000},
		{"avito", 1000},
		{"viber", 6999},
		{"max", 4096},
	} {
		n++
		g := &store.Gateway{PortalID: p.ID, Provider: "wazzup", Credentials: []byte("x"), WebhookKey: []byte(fmt.Sprint("k", n)), State: "active"}
		if err := st.CreateGateway(ctx, g); err != nil {
			t.Fatal(err)
		}
		// A channel that cannot send now: a text within the limit gets past
		// the limit to this refusal, and nothing is stored.
		ch := &store.Channel{PortalID: p.ID, GatewayID: g.ID, ExternalID: "c", Provider: "wazzup", Transport: c.transport, Name: c.transport, State: "qr"}
		if err := st.UpsertChannel(ctx, ch); err != nil {
			t.Fatal(err)
		}
		var d *store.Dialog
		if err := st.Tx(ctx, func(tx *store.Store) error {
			var err error
			d, _, err = tx.UpsertDialog(ctx, p.ID, store.DialogKey{ChannelID: ch.ID, ChatType: wazzup.ChatTypeFor(c.transport), ChatID: "79001234567"}, store.ClientInfo{})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		emoji := strings.Repeat("👍", c.limit/2) + strings.Repeat("a", c.limit%2)
		for _, x := range []struct {
			name   string
			text   string
			passes bool
		}{
			{"at the limit", strings.Repeat("я", c.limit), true},
			{"one over", strings.Repeat("я", c.limit+1), false},
			{"emoji at the limit", emoji, true},
			{"emoji one over", emoji + "a", false},
			{"trailing blanks do not count", strings.Repeat("a", c.limit) + " \n\n", true},
		} {
			_, err := s.Send(ctx, p.ID, Author{ID: 1}, d.ID, x.text, "cid")
			pe, _ := problem.As(err)
			switch {
			case pe == nil:
				t.Errorf("%s %s: %v", c.transport, x.name, err)
			case x.passes && pe.Reason != "channel_unavailable":
				t.Errorf("%s %s: %v, want past the limit", c.transport, x.name, err)
			case !x.passes && pe.Reason != "text_too_long":
				t.Errorf("%s %s: %v, want text_too_long", c.transport, x.name, err)
			case !x.passes && !strings.Contains(pe.Message, fmt.Sprint(c.limit)):
				t.Errorf("%s %s: the refusal does not say the limit: %q", c.transport, x.name, pe.Message)
			}
		}
	}
	var stored int
	if err := st.DB().Get(&stored, `SELECT count(*) FROM messages`); err != nil || stored != 0 {
		t.Errorf("%d messages stored by refused sends (%v)", stored, err)
	}
}

// A new client's CRM record carries what finds him next time: his phone
// (from a WhatsApp or Viber chat id, else what the gateway told) and his
// messenger account.
func TestComms(t *testing.T) {
	for _, c := range []struct {
		name        string
		d           store.Dialog
		phone, im   string
		imType      string
		wantNoPhone bool
	}{
		{"whatsapp", store.Dialog{ChatType: "whatsapp", ChatID: "79001234567"}, "+79001234567", "", "", false},
		{"whatsapp with another phone told", store.Dialog{ChatType: "whatsapp", ChatID: "79001234567", ClientPhone: "79990000000"}, "+79001234567", "", "", false},
		{"viber", store.Dialog{ChatType: "viber", ChatID: "79001234567"}, "+79001234567", "", "", false},
		{"telegram with a username", store.Dialog{ChatType: "telegram", ChatID: "123456", ClientUsername: "anna"}, "", "@anna", "TELEGRAM", true},
		{"telegram username with @", store.Dialog{ChatType: "telegram", ChatID: "123456", ClientUsername: "@anna"}, "", "@anna", "TELEGRAM", true},
		{"telegram without", store.Dialog{ChatType: "telegram", ChatID: "123456"}, "", "123456", "TELEGRAM", true},
		{"telegram with a phone told", store.Dialog{ChatType: "telegram", ChatID: "123456", ClientPhone: "+7 900 123-45-67"}, "+79001234567", "123456", "TELEGRAM", false},
		{"instagram", store.Dialog{ChatType: "instagram", ChatID: "anna.shop"}, "", "anna.shop", "INSTAGRAM", true},
	} {
		f := bitrix.Params{}
		comms(f, &c.d)
		phones, _ := f["PHONE"].([]map[string]any)
		if c.wantNoPhone {
			if phones != nil {
				t.Errorf("%s: PHONE %v, want none", c.name, phones)
			}
		} else if len(phones) != 1 || phones[0]["VALUE"] != c.phone {
			t.Errorf("%s: PHONE %v, want %s", c.name, phones, c.phone)
		}
		ims, _ := f["IM"].([]map[string]any)
		if c.im == "" {
			if ims != nil {
				t.Errorf("%s: IM %v, want none", c.name, ims)
			}
		} else if len(ims) != 1 || ims[0]["VALUE"] != c.im || ims[0]["VALUE_TYPE"] != c.imType {
			t.Errorf("%s: IM %v, want %s %s", c.name, ims, c.imType, c.im)
		}
	}
	if got := leadTitle(&store.Dialog{ChatType: "whatsapp"}, "Anna"); got != "WhatsApp: Anna" {
		t.Errorf("leadTitle = %q", got)
	}
	if got := leadTitle(&store.Dialog{ChatType: "newgram"}, "Anna"); got != "newgram: Anna" {
		t.Errorf("leadTitle of an unknown messenger = %q", got)
	}
}

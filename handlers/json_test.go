package handlers

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/secret"
	"github.com/relay24/relay24/session"
	"github.com/relay24/relay24/store"
)

// CONTRACT §5's Dialog as the chat shows it: a client without a name is
// named by his chat id, a contact without a name by the client's; waiting
// time only while the dialog waits; the last message's text, or for a
// message without text its kind's placeholder in the reader's language; times
// in UTC.
func TestDialogJSON(t *testing.T) {
	msk := time.FixedZone("MSK", 3*3600)
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, msk)
	base := store.DialogView{
		Dialog:   store.Dialog{ID: 5, ChannelID: 2, ChatType: "whatsapp", ChatID: "79001234567"},
		Provider: "wazzup", Transport: "whatsapp", ChannelName: "Sales line",
	}
	for _, c := range []struct {
		name  string
		edit  func(v *store.DialogView)
		lang  string
		check func(d Dialog) bool
	}{
		{"a nameless client is his chat id", func(v *store.DialogView) {}, "ru",
			func(d Dialog) bool { return d.ClientName == "79001234567" && d.Contact == nil && d.LastMessage == nil }},
		{"the client's own name", func(v *store.DialogView) { v.ClientName = "Anna" }, "ru",
			func(d Dialog) bool { return d.ClientName == "Anna" }},
		{"a nameless contact is the client's name", func(v *store.DialogView) {
			v.ClientName, v.ContactID = "Anna", sql.NullInt64{Int64: 9, Valid: true}
		}, "ru", func(d Dialog) bool { return d.Contact != nil && d.Contact.ID == 9 && d.Contact.Name == "Anna" }},
		{"the contact's CRM name", func(v *store.DialogView) {
			v.ContactID, v.ContactName = sql.NullInt64{Int64: 9, Valid: true}, sql.NullString{String: "Anna Petrova", Valid: true}
		}, "ru", func(d Dialog) bool { return d.Contact.Name == "Anna Petrova" }},
		{"waiting, since when in UTC", func(v *store.DialogView) {
			v.Unanswered, v.UnansweredSince = true, sql.NullTime{Time: at, Valid: true}
		}, "ru", func(d Dialog) bool {
			return d.Unanswered && d.UnansweredSince != nil && d.UnansweredSince.Equal(at) && d.UnansweredSince.Location() == time.UTC
		}},
		{"no waiting time once answered", func(v *store.DialogView) {
			v.Unanswered, v.UnansweredSince = false, sql.NullTime{Time: at, Valid: true}
		}, "ru", func(d Dialog) bool { return !d.Unanswered && d.UnansweredSince == nil }},
		{"the last message's text", func(v *store.DialogView) {
			v.LastMessageAt, v.LastText, v.LastDirection = sql.NullTime{Time: at, Valid: true}, sql.NullString{String: "hello", Valid: true}, sql.NullString{String: "in", Valid: true}
		}, "ru", func(d Dialog) bool {
			return d.LastMessage != nil && d.LastMessage.Text == "hello" && d.LastMessage.Direction == "in" && d.LastMessage.At.Location() == time.UTC
		}},
		{"a photo without caption, in Russian", func(v *store.DialogView) {
			v.LastMessageAt, v.LastKind, v.LastDirection = sql.NullTime{Time: at, Valid: true}, sql.NullString{String: "image", Valid: true}, sql.NullString{String: "in", Valid: true}
		}, "ru", func(d Dialog) bool { return d.LastMessage.Text == "[Изображение]" }},
		{"a voice message, in English", func(v *store.DialogView) {
			v.LastMessageAt, v.LastKind, v.LastDirection = sql.NullTime{Time: at, Valid: true}, sql.NullString{String: "voice", Valid: true}, sql.NullString{String: "in", Valid: true}
		}, "en", func(d Dialog) bool { return d.LastMessage.Text == "[Voice message]" }},
		{"the deal and lead", func(v *store.DialogView) {
			v.DealID, v.LeadID = sql.NullInt64{Int64: 3, Valid: true}, sql.NullInt64{Int64: 4, Valid: true}
		}, "ru", func(d Dialog) bool { return d.DealID != nil && *d.DealID == 3 && d.LeadID != nil && *d.LeadID == 4 }},
	} {
		v := base
		c.edit(&v)
		d := dialogJSON(&v, c.lang, nil)
		if d.ID != 5 || d.Channel != (ChannelRef{ID: 2, Provider: "wazzup", Transport: "whatsapp", Name: "Sales line"}) || !c.check(d) {
			b, _ := json.Marshal(d)
			t.Errorf("%s: %s", c.name, b)
		}
	}
	// The JSON keys are the contract's; absent values are null, not missing.
	b, _ := json.Marshal(dialogJSON(&base, "ru", nil))
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for _, k := range []string{"id", "channel", "chat_type", "chat_id", "contact", "unanswered", "unanswered_since", "last_message"} {
		if _, ok := m[k]; !ok {
			t.Errorf("Dialog JSON lacks %q: %s", k, b)
		}
	}
}

// CONTRACT §5's Message: a client's message reads as delivered; the error
// only on a failed message; an author only on an answer; a placeholder for
// media without text; every attachment behind relay24's signed link.
func TestMessageJSON(t *testing.T) {
	keys, err := secret.New(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	h := &Handlers{Sessions: session.NewSigner(keys, time.Now)}
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.FixedZone("MSK", 3*3600))
	for _, c := range []struct {
		name  string
		m     store.Message
		lang  string
		check func(m Message) bool
	}{
		{"a client's message is delivered", store.Message{Direction: "in", Status: "inbound", Kind: "text", Text: "hi", AuthorName: "ignored"}, "ru",
			func(m Message) bool {
				return m.Status == "delivered" && m.Author == nil && m.Error == nil && m.Text == "hi"
			}},
		{"a failed answer says why", store.Message{Direction: "out", Status: "error", Kind: "text", Text: "x",
			Error: sql.NullString{String: "24_HOURS_EXCEEDED", Valid: true}, AuthorID: sql.NullInt64{Int64: 7, Valid: true}, AuthorName: "Ivan"}, "ru",
			func(m Message) bool {
				return m.Status == "error" && m.Error != nil && *m.Error == "24_HOURS_EXCEEDED" && m.Author != nil && m.Author.ID == 7 && m.Author.Name == "Ivan"
			}},
		{"an attempt's note is no error", store.Message{Direction: "out", Status: "pending", Kind: "text", Text: "x",
			Error: sql.NullString{String: "retry", Valid: true}}, "ru",
			func(m Message) bool { return m.Status == "pending" && m.Error == nil && m.Author == nil }},
		{"an echo from the phone has no author", store.Message{Direction: "out", Status: "sent", Kind: "text", Text: "x"}, "ru",
			func(m Message) bool { return m.Author == nil }},
		{"media without text", store.Message{Direction: "in", Status: "inbound", Kind: "document",
			Attachments: json.RawMessage(`[{"url":"https://store.wazzup24.com/a.pdf","type":"document","name":"a.pdf"}]`)}, "en",
			func(m Message) bool {
				if m.Text != "[Document]" || len(m.Attachments) != 1 || m.Attachments[0].Name != "a.pdf" {
					return false
				}
				u, err := url.Parse(m.Attachments[0].URL)
				return err == nil && u.Path == "/api/v1/messages/11/attachments/0" && u.Query().Get("sig") != "" && u.Query().Get("exp") != ""
			}},
		{"a file whose copy failed has no link", store.Message{Direction: "in", Status: "inbound", Kind: "image",
			Attachments: json.RawMessage(`[{"url":"https://store.wazzup24.com/a.jpg","type":"image","name":"a.jpg","unavailable":true,"reason":"gone"}]`)}, "en",
			func(m Message) bool {
				b, _ := json.Marshal(m.Attachments)
				return string(b) == `[{"type":"image","name":"a.jpg","unavailable":true,"reason":"gone"}]`
			}},
		{"a copied file hides where it came from", store.Message{Direction: "in", Status: "inbound", Kind: "image",
			Attachments: json.RawMessage(`[{"url":"file:7","type":"image","name":"a.jpg","source":"https://store.wazzup24.com/a.jpg"}]`)}, "en",
			func(m Message) bool {
				b, _ := json.Marshal(m.Attachments)
				return len(m.Attachments) == 1 && strings.HasPrefix(m.Attachments[0].URL, "/api/v1/messages/11/attachments/0?") &&
					!strings.Contains(string(b), "wazzup24") && !strings.Contains(string(b), "file:")
			}},
		{"a text message keeps its text", store.Message{Direction: "in", Status: "inbound", Kind: "text", Text: ""}, "en",
			func(m Message) bool { return m.Text == "" && len(m.Attachments) == 0 && m.Attachments != nil }},
	} {
		c.m.ID, c.m.PortalID, c.m.DialogID, c.m.SentAt = 11, 1, 5, at
		m := h.messageJSON(&store.MessageView{Message: c.m}, c.lang, false)
		if m.ID != 11 || m.DialogID != 5 || !m.CreatedAt.Equal(at) || m.CreatedAt.Location() != time.UTC || m.Channel != nil || !c.check(m) {
			b, _ := json.Marshal(m)
			t.Errorf("%s: %s", c.name, b)
		}
	}
	withChannel := h.messageJSON(&store.MessageView{Message: store.Message{ID: 1, ChannelID: 3, Kind: "text"}, ChannelName: "Insta", Transport: "instagram"}, "ru", true)
	if withChannel.Channel == nil || withChannel.Channel.ID != 3 || withChannel.Channel.Name != "Insta" || withChannel.Channel.Transport != "instagram" {
		t.Errorf("View all dialogs: channel %+v", withChannel.Channel)
	}
}

// Path ids and limits: a malformed id is just not found, a limit is 1..200
// (50 when absent).
func TestPathIDAndLimit(t *testing.T) {
	e := echo.New()
	for raw, want := range map[string]int64{"7": 7, "0": 0, "-3": 0, "abc": 0, "9223372036854775808": 0, "": 0, "1e3": 0} {
		c := e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
		c.SetParamNames("id")
		c.SetParamValues(raw)
		id, err := pathID(c, "id")
		if want > 0 && (err != nil || id != want) {
			t.Errorf("pathID(%q) = %d, %v", raw, id, err)
		}
		if want == 0 && !problem.Is(err, problem.NotFound) {
			t.Errorf("pathID(%q) = %d, %v; want not found", raw, id, err)
		}
	}
	for raw, want := range map[string]int{"": 50, "1": 1, "200": 200, "0": -1, "201": -1, "-1": -1, "ten": -1} {
		q := ""
		if raw != "" {
			q = "?limit=" + url.QueryEscape(raw)
		}
		c := e.NewContext(httptest.NewRequest(http.MethodGet, "/"+q, nil), httptest.NewRecorder())
		n, err := queryLimit(c)
		if want > 0 && (err != nil || n != want) {
			t.Errorf("limit %q: %d, %v; want %d", raw, n, err, want)
		}
		if want < 0 {
			if pe, ok := problem.As(err); !ok || pe.Reason != "bad_limit" {
				t.Errorf("limit %q: %d, %v; want bad_limit", raw, n, err)
			}
		}
	}
}

// The reader's language is his own when the portal told it, else the
// portal's, in the languages the pages have.
func TestCallerLang(t *testing.T) {
	for _, c := range []struct{ user, portal, want string }{
		{"en", "ru", "en"},
		{"", "en", "en"},
		{"", "", "ru"},
		{"de", "ru", "en"},
		{"", "ua", "ru"},
	} {
		cl := &Caller{User: &store.User{Lang: c.user}, Portal: &store.Portal{Lang: c.portal}}
		if got := cl.lang(); got != c.want {
			t.Errorf("user %q, portal %q: %q, want %q", c.user, c.portal, got, c.want)
		}
	}
	for endpoint, want := range map[string]string{
		"https://acme.bitrix24.ru/rest/":      "https://acme.bitrix24.ru",
		"http://127.0.0.1:9000/rest/":         "http://127.0.0.1:9000",
		"not a url":                           "",
		"https://acme.bitrix24.ru:8443/rest/": "https://acme.bitrix24.ru:8443",
	} {
		if got := portalOrigin(&store.Portal{ClientEndpoint: endpoint}); got != want {
			t.Errorf("portalOrigin(%q) = %q, want %q (the frame ancestor)", endpoint, got, want)
		}
	}
}

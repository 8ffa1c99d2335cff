package wazzup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseWebhookFixtures(t *testing.T) {
	tests := []struct {
		file  string
		check func(t *testing.T, w *Webhook)
	}{
		{"webhook_test_request.json", func(t *testing.T, w *Webhook) {
			if !w.Test {
				t.Error("Test = false")
			}
		}},
		{"webhook_statuses_delivered.json", func(t *testing.T, w *Webhook) {
			want := Status{MessageID: "be3dc577-60c4-4fc8-83a5-8c358e0bfe15", Status: "delivered",
				Timestamp: time.Date(2025, 2, 5, 6, 1, 7, 499e6, time.UTC)}
			if len(w.Statuses) != 1 || w.Statuses[0] != want {
				t.Errorf("Statuses = %+v, want [%+v]", w.Statuses, want)
			}
		}},
		{"webhook_channels_updates.json", func(t *testing.T, w *Webhook) {
			want := ChannelUpdate{ChannelID: "d9e5721c-ce2b-444f-9627-60a8129d7e1f", State: "qr",
				QR: "data:image/png;base64,iVBORw0KGgoAAAANS", Timestamp: time.UnixMilli(1603977171000).UTC()}
			if len(w.ChannelsUpdates) != 1 || w.ChannelsUpdates[0] != want {
				t.Errorf("ChannelsUpdates = %+v, want [%+v]", w.ChannelsUpdates, want)
			}
		}},
		{"webhook_create_contact.json", func(t *testing.T, w *Webhook) {
			c := w.CreateContact
			if c == nil || c.ResponsibleUserID != "1" || c.Name != "contacts.name" || c.Source != "auto" ||
				len(c.ContactData) != 1 || c.ContactData[0].ChatType != "..." || c.ContactData[0].ChatID != "..." {
				t.Errorf("CreateContact = %+v", c)
			}
		}},
		{"webhook_create_deal.json", func(t *testing.T, w *Webhook) {
			d := w.CreateDeal
			if d == nil || d.ResponsibleUserID != "1" || d.Source != "auto" || len(d.Contacts) != 1 || d.Contacts[0] != "1" {
				t.Errorf("CreateDeal = %+v", d)
			}
		}},
		{"webhook_template_status.json", func(t *testing.T, w *Webhook) {
			if !strings.Contains(string(w.TemplateStatus), `"approved"`) {
				t.Errorf("TemplateStatus = %s", w.TemplateStatus)
			}
			want := TemplateStatus{TemplateGUID: "8d255e5d-aefd-44dc-8131-c3ad6c3ab28c", Name: "Test", Status: "approved"}
			if w.Template == nil || *w.Template != want {
				t.Errorf("Template = %+v", w.Template)
			}
		}},
		{"webhook_statuses_error_24_hours_exceeded.INFERRED.json", func(t *testing.T, w *Webhook) {
			if len(w.Statuses) != 1 {
				t.Fatalf("Statuses = %+v", w.Statuses)
			}
			s := w.Statuses[0]
			if s.MessageID != "be3dc577-60c4-4fc8-83a5-8c358e0bfe15" || s.Status != "error" || s.Error == nil ||
				s.Error.Error != Code24HoursExceeded || s.Error.Description == "" || !s.WindowClosed() || s.Timestamp.IsZero() {
				t.Errorf("status %+v %+v", s, s.Error)
			}
		}},
		{"webhook_messages_sticker_s11.json", func(t *testing.T, w *Webhook) {
			if len(w.Messages) != 1 {
				t.Fatalf("Messages = %+v", w.Messages)
			}
			m := w.Messages[0]
			if m.MessageID != "6a2087e8-e0f4-9999-b968-9d9999933c81" || m.ChatType != "whatsapp" || m.ChatID != "79999999999" ||
				m.Type != "image" || m.IsEcho || m.Status != "inbound" || m.Contact.Name != "79999999999" ||
				!strings.HasSuffix(m.ContentURI, ".was") || !strings.HasPrefix(m.Contact.AvatarURI, "https://store.wazzup24.com/") {
				t.Errorf("message = %+v", m)
			}
			if !m.DateTime.Equal(time.Date(2025, 5, 6, 14, 16, 0, 2e6, time.UTC)) {
				t.Errorf("DateTime = %v", m.DateTime)
			}
			if !strings.Contains(string(m.Raw), `"avatarUri"`) {
				t.Errorf("Raw = %s", m.Raw)
			}
		}},
		{"webhook_messages_poll_s11.json", func(t *testing.T, w *Webhook) {
			if len(w.Messages) != 1 || w.Messages[0].Text != "Тестовый\n• Вариант1\n• Вариант2" || w.Messages[0].Type != "text" {
				t.Errorf("Messages = %+v", w.Messages)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			w, err := ParseWebhook(readFixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(w.Unknown) != 0 {
				t.Errorf("Unknown = %v", w.Unknown)
			}
			tt.check(t, w)
		})
	}
}

// The schema fixtures carry type names ("Boolean") where values go: they are
// shapes, not payloads, and a boolean field holding a word is refused.
func TestParseWebhookSchemaFixtureIsNotAPayload(t *testing.T) {
	if _, err := ParseWebhook(readFixture(t, "webhook_messages_schema.json")); err == nil {
		t.Error("schema with \"isEcho\": \"Boolean\" parsed")
	}
}

func TestParseWebhookLenient(t *testing.T) {
	body := `{"messages":[{"messageId":123,"channelId":"c","chatType":"telegram","chatId":456789,
		"dateTime":1700000000000,"type":"sticker_v2","isEcho":"true","status":"error",
		"error":"BAD_CONTACT","contact":{"name":null,"username":"anna","phone":79990001122},
		"sentFromApp":1,"isEdited":"Y","oldInfo":{"oldText":"before"},"quotedMessage":{"messageId":"q"},
		"instPost":null}],
		"statuses":[{"messageId":"m1","timestamp":"2025-02-05T06:01:07Z","status":"read",
		"error":{"error":"SPAM","description":"spam"}}],
		"somethingNew":{"x":1},"alsoNew":[]}`
	w, err := ParseWebhook([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	m := w.Messages[0]
	if m.MessageID != "123" || m.ChatID != "456789" || !m.IsEcho || !m.SentFromApp || !m.IsEdited || m.IsDeleted {
		t.Errorf("message = %+v", m)
	}
	if m.Type != "sticker_v2" {
		t.Errorf("Type = %q, want the unknown type kept", m.Type)
	}
	if !m.DateTime.Equal(time.UnixMilli(1700000000000)) {
		t.Errorf("DateTime = %v", m.DateTime)
	}
	if m.Error == nil || m.Error.Error != "BAD_CONTACT" {
		t.Errorf("Error = %+v", m.Error)
	}
	if m.Contact != (MessageContact{Username: "anna", Phone: "79990001122"}) {
		t.Errorf("Contact = %+v", m.Contact)
	}
	if m.OldText != "before" || string(m.QuotedMessage) != `{"messageId":"q"}` || m.InstPost != nil {
		t.Errorf("OldText %q QuotedMessage %s InstPost %s", m.OldText, m.QuotedMessage, m.InstPost)
	}
	st := w.Statuses[0]
	if st.Error == nil || *st.Error != (MessageError{"SPAM", "spam"}) || !st.Timestamp.Equal(time.Date(2025, 2, 5, 6, 1, 7, 0, time.UTC)) {
		t.Errorf("status = %+v", st)
	}
	if strings.Join(w.Unknown, ",") != "alsoNew,somethingNew" {
		t.Errorf("Unknown = %v", w.Unknown)
	}
}

func TestParseWebhookTimes(t *testing.T) {
	want := time.Date(2025, 5, 6, 14, 16, 0, 2e6, time.UTC)
	for _, v := range []string{`"2025-05-06T14:16:00.002Z"`, `"2025-05-06T14:16:00.002"`, `"2025-05-06T17:16:00.002+03:00"`,
		`1746540960002`, `"1746540960002"`} {
		w, err := ParseWebhook([]byte(`{"messages":[{"messageId":"m","channelId":"c","chatId":"1","dateTime":` + v + `}]}`))
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if got := w.Messages[0].DateTime; !got.Equal(want) {
			t.Errorf("%s → %v, want %v", v, got, want)
		}
	}
	for _, v := range []string{`"yesterday"`, `null`, `{}`, `-5`, `1e300`} {
		w, err := ParseWebhook([]byte(`{"messages":[{"messageId":"m","channelId":"c","chatId":"1","dateTime":` + v + `}]}`))
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if !w.Messages[0].DateTime.IsZero() {
			t.Errorf("%s → %v, want zero", v, w.Messages[0].DateTime)
		}
	}
}

func TestParseWebhookErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"empty", ``, "not a JSON object"},
		{"array", `[{"test":true}]`, "not a JSON object"},
		{"null", `null`, "not a JSON object"},
		{"string", `"x"`, "not a JSON object"},
		{"malformed", `{"messages":[`, "wazzup webhook"},
		{"messages not array", `{"messages":{"messageId":"m"}}`, "messages: want an array"},
		{"message not object", `{"messages":["m"]}`, "messages: [0]: want an object"},
		{"no messageId", `{"messages":[{"channelId":"c","chatId":"1"}]}`, "missing messageId"},
		{"no channelId", `{"messages":[{"messageId":"m","chatId":"1"}]}`, "missing channelId"},
		{"no chatId", `{"messages":[{"messageId":"m","channelId":"c"}]}`, "missing chatId"},
		{"second message bad", `{"messages":[{"messageId":"m","channelId":"c","chatId":"1"},{"messageId":"n"}]}`, "[1]"},
		{"status no id", `{"statuses":[{"status":"read"}]}`, "statuses: [0]: missing messageId"},
		{"channel no id", `{"channelsUpdates":[{"state":"active"}]}`, "missing channelId"},
		{"messageId object", `{"messages":[{"messageId":{},"channelId":"c","chatId":"1"}]}`, "want a string"},
		{"isEcho word", `{"messages":[{"messageId":"m","channelId":"c","chatId":"1","isEcho":"maybe"}]}`, "want a boolean"},
		{"createContact array", `{"createContact":[]}`, "createContact: want an object"},
		{"templateStatus string", `{"templateStatus":"approved"}`, "templateStatus: want an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseWebhook([]byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestParseWebhookNullsAreEmpty(t *testing.T) {
	w, err := ParseWebhook([]byte(`{"messages":null,"statuses":null,"createContact":null,"templateStatus":null,"test":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if w.Test || w.Messages != nil || w.Statuses != nil || w.CreateContact != nil || w.TemplateStatus != nil {
		t.Errorf("webhook = %+v", w)
	}
}

func FuzzParseWebhook(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "webhook*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no webhook fixtures: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"messages":[{"messageId":1,"channelId":2,"chatId":3,"dateTime":"x","isEcho":"Y"}],"statuses":[]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := ParseWebhook(body)
		if err != nil {
			return
		}
		for _, m := range w.Messages {
			if m.MessageID == "" || m.ChannelID == "" || m.ChatID == "" {
				t.Fatalf("accepted a message without ids: %+v", m)
			}
		}
		for _, s := range w.Statuses {
			if s.MessageID == "" {
				t.Fatalf("accepted a status without messageId: %+v", s)
			}
		}
		if (w.Template == nil) != (w.TemplateStatus == nil) || (w.Template != nil && w.Template.TemplateGUID == "") {
			t.Fatalf("templateStatus %s read as %+v", w.TemplateStatus, w.Template)
		}
	})
}

func FuzzParseTemplates(f *testing.F) {
	f.Add(readFixture(f, "templates_whatsapp_get_response.INFERRED.json"))
	f.Add([]byte(`{"data":[{"templateGuid":"g","status":"APPROVED","components":[{"type":"BODY","text":"Hi {{1}}","example":{"body_text":[["Ann"]]}}]}]}`))
	f.Add([]byte(`[{"templateGuid":7,"channels":[null,"c"],"templateCode":"@template: 7 { [[a]]; [[b]] }"}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ts, err := ParseTemplates(body)
		if err != nil {
			return
		}
		for _, tp := range ts {
			if tp.GUID == "" {
				t.Fatalf("accepted a template without templateGuid: %+v", tp)
			}
			if n := tp.Variables(); n < 0 {
				t.Fatalf("variables %d", n)
			}
			_ = tp.Preview([]string{"x"})
		}
	})
}

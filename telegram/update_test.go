package telegram

import (
	"encoding/json"
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

var testUser = User{ID: 1111111, FirstName: "Test Firstname", LastName: "Test Lastname", Username: "Testusername"}

func TestParseUpdateFixtures(t *testing.T) {
	date := time.Unix(1441645532, 0).UTC()
	private := Chat{ID: 1111111, Type: "private", FirstName: "Test Firstname", LastName: "Test Lastname", Username: "Testusername"}
	tests := []struct {
		file  string
		check func(t *testing.T, u *Update)
	}{
		{"update_text_message_official_guide.json", func(t *testing.T, u *Update) {
			m := u.Message
			if u.Kind != "message" || m == nil || m.MessageID != 1365 || !m.Date.Equal(date) || m.Chat != private ||
				m.From == nil || *m.From != testUser || m.Text != "/start" || m.MediaKind() != "text" || m.BestFileID() != "" {
				t.Errorf("update = %+v, message %+v", u, m)
			}
		}},
		{"update_edited_message_official_guide.json", func(t *testing.T, u *Update) {
			m := u.EditedMessage
			if u.Kind != "edited_message" || u.Message != nil || m == nil || m.Text != "Edited text" ||
				!m.EditDate.Equal(time.Unix(1441646600, 0)) || m.Chat.ID != 1111111 {
				t.Errorf("update = %+v, edited %+v", u, m)
			}
		}},
		{"update_document_message_official_guide.json", func(t *testing.T, u *Update) {
			m := u.Message
			want := Document{FileID: "AwADBAADbXXXXXXXXXXXGBdhD2l6_XX", FileName: "Testfile.pdf", MimeType: "application/pdf", FileSize: 536392}
			if m == nil || m.Document == nil || *m.Document != want || m.MediaKind() != "document" || m.BestFileID() != want.FileID {
				t.Errorf("message %+v", m)
			}
		}},
		{"update_callback_query_official_guide.json", func(t *testing.T, u *Update) {
			if u.Kind != "callback_query" || u.Message != nil || !strings.Contains(string(u.CallbackQuery), `"Data from button callback"`) {
				t.Errorf("update = %+v", u)
			}
		}},
		{"update_photo_message_assembled.json", func(t *testing.T, u *Update) {
			m := u.Message
			if m == nil || len(m.Photo) != 2 || m.MediaKind() != "photo" || m.Caption != "Look" ||
				m.BestFileID() != "AgACAgIAAxkBAAIK72SFQ-wJEdPZj9HsnH8AAXuZ8Oqa-QACm8wxG0dqKUgQqRxybRKa-wEAAwIAA3kAAy8E" ||
				m.From.LanguageCode != "en" || m.From.IsBot || m.Chat.Type != "private" {
				t.Errorf("message %+v", m)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := readFixture(t, tt.file)
			u, err := ParseUpdate(body)
			if err != nil {
				t.Fatal(err)
			}
			if u.UpdateID == 0 || string(u.Raw) != strings.TrimSpace(string(body)) {
				t.Errorf("UpdateID %d, Raw kept: %v", u.UpdateID, string(u.Raw) == string(body))
			}
			tt.check(t, u)
		})
	}
}

func TestMessageFromRealCapture(t *testing.T) {
	var env struct {
		OK     bool    `json:"ok"`
		Result Message `json:"result"`
	}
	if err := json.Unmarshal(readFixture(t, "sendMessage_response_real_capture.json"), &env); err != nil {
		t.Fatal(err)
	}
	m := env.Result
	if !env.OK || m.MessageID != 9 || m.Text != "Hello World" || m.Chat != (Chat{ID: -100000000, Type: "group", Title: "Logging"}) ||
		m.From == nil || *m.From != (User{ID: 2084591315, IsBot: true, FirstName: "Roger-logger", Username: "RogerLoggerBot"}) ||
		!m.Date.Equal(time.Unix(1635877783, 0)) {
		t.Errorf("message %+v", m)
	}
}

func TestParseUpdateLenient(t *testing.T) {
	u, err := ParseUpdate([]byte(`{"update_id":"42","message":{"message_id":"7","date":"1441645532","chat":{"id":"-100123","type":"supergroup"},
		"voice":{"file_id":"VOICE","duration":3},"unknown_field":{}}}`))
	if err != nil {
		t.Fatal(err)
	}
	m := u.Message
	if u.UpdateID != 42 || m.MessageID != 7 || m.Chat.ID != -100123 || m.MediaKind() != "voice" || m.BestFileID() != "VOICE" || m.From != nil {
		t.Errorf("update %+v message %+v", u, m)
	}
	u, err = ParseUpdate([]byte(`{"update_id":5,"my_chat_member":{"chat":{"id":1}}}`))
	if err != nil || u.Kind != "my_chat_member" || u.Message != nil {
		t.Errorf("unknown kind: %+v %v", u, err)
	}
}

func TestParseUpdateErrors(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"empty", ``, "not a JSON object"},
		{"array", `[]`, "not a JSON object"},
		{"malformed", `{"update_id":1,`, "telegram update"},
		{"no update_id", `{"message":{"message_id":1,"chat":{"id":1}}}`, "missing update_id"},
		{"bad update_id", `{"update_id":"x"}`, "bad update_id"},
		{"zero update_id", `{"update_id":0}`, "bad update_id"},
		{"message not object", `{"update_id":1,"message":"hi"}`, "not an object"},
		{"no message_id", `{"update_id":1,"message":{"chat":{"id":1},"text":"x"}}`, "missing message_id"},
		{"no chat", `{"update_id":1,"message":{"message_id":1,"text":"x"}}`, "missing chat"},
		{"chat id text", `{"update_id":1,"message":{"message_id":1,"chat":{"id":"abc"}}}`, "integer"},
		{"callback not object", `{"update_id":1,"callback_query":[]}`, "callback_query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseUpdate([]byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q in it", err, tt.want)
			}
		})
	}
}

func TestValidSecretToken(t *testing.T) {
	for s, want := range map[string]bool{
		"Abc_123-xyz": true, strings.Repeat("a", 256): true, strings.Repeat("a", 257): false, "": false,
		"a b": false, "a.b": false, "секрет": false, "a+b/c=": false, "a:b": false,
	} {
		if ValidSecretToken(s) != want {
			t.Errorf("ValidSecretToken(%.20q) = %v", s, !want)
		}
	}
	var req struct {
		SecretToken string `json:"secret_token"`
	}
	_ = json.Unmarshal(readFixture(t, "setWebhook_request.json"), &req)
	if !ValidSecretToken(req.SecretToken) {
		t.Errorf("the fixture's secret %q is refused", req.SecretToken)
	}
}

func TestTextLen(t *testing.T) {
	if TextLen("hello") != 5 || TextLen("привет") != 6 || TextLen("👍🏽") != 4 {
		t.Errorf("TextLen: %d %d %d", TextLen("hello"), TextLen("привет"), TextLen("👍🏽"))
	}
}

func FuzzParseUpdate(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "update_*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no update fixtures: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"update_id":"1","message":{"message_id":1.0,"chat":{"id":"2"},"photo":[{"file_id":3,"width":"9"}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := ParseUpdate(body)
		if err != nil {
			return
		}
		if u.UpdateID == 0 {
			t.Fatal("accepted an update without update_id")
		}
		for _, m := range []*Message{u.Message, u.EditedMessage} {
			if m == nil {
				continue
			}
			if m.MessageID == 0 || m.Chat.ID == 0 {
				t.Fatalf("accepted a message without ids: %+v", m)
			}
			_ = m.MediaKind()
			_ = m.BestFileID()
		}
	})
}

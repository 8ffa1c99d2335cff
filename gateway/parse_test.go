package gateway

import (
	"strings"
	"testing"
)

// A bot's update reads as relay's message: its id is chat:message, the
// channel is the bot's account, a document keeps its base name and is a
// reference only the bot opens; a group's message is ignored.
func TestTelegramParseWebhook(t *testing.T) {
	tg := &Telegram{}
	in, err := tg.ParseWebhook([]byte(`{"update_id":1,"message":{"message_id":5,"date":1700000000,
		"chat":{"id":42,"type":"private","first_name":"Anna","last_name":"K","username":"anna"},
		"document":{"file_id":"F1","file_unique_id":"U1","file_name":"dir\\report.pdf"},"caption":"see"}}`), "777")
	if err != nil || len(in.Messages) != 1 {
		t.Fatalf("%+v %v", in, err)
	}
	m := in.Messages[0]
	if m.ProviderID != "42:5" || m.ChannelExt != "777" || m.ChatType != "telegram" || m.ChatID != "42" || m.Text != "see" ||
		m.Client.Name != "Anna K" || m.Client.Username != "anna" || m.Kind != "document" {
		t.Errorf("message %+v", m)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].URL != TelegramFileRef+"F1" || m.Attachments[0].Name != "report.pdf" {
		t.Errorf("attachments %+v", m.Attachments)
	}
	in, err = tg.ParseWebhook([]byte(`{"update_id":2,"message":{"message_id":6,"date":1700000000,"chat":{"id":-100,"type":"group"},"text":"hi"}}`), "777")
	if err != nil || len(in.Messages) != 0 || !strings.Contains(in.Ignored, "group") {
		t.Errorf("group message: %+v %v", in, err)
	}
	if _, err := tg.CheckWebhook([]byte(`{"message":{}}`)); err == nil {
		t.Error("an update without update_id is acknowledged")
	}
}

// Wazzup's statuses and channel updates read in relay's words: a refusal
// is kept as the catalogue's send_refused with Wazzup's words, a state
// lower-cased; the probe is acknowledged and not stored.
func TestWazzupParseWebhook(t *testing.T) {
	wz := &Wazzup{}
	in, err := wz.ParseWebhook([]byte(`{"statuses":[{"messageId":"m1","timestamp":"2025-03-01T12:00:00Z","status":"ERROR",
		"error":{"error":"BAD_CONTACT","description":"no such chat"}}],
		"channelsUpdates":[{"channelId":"c1","state":"QRidle"}]}`), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Statuses) != 1 || in.Statuses[0].ProviderID != "m1" || in.Statuses[0].Status != "error" ||
		in.Statuses[0].Error != "send_refused: BAD_CONTACT no such chat" {
		t.Errorf("statuses %+v", in.Statuses)
	}
	if len(in.ChannelUpdates) != 1 || in.ChannelUpdates[0].ChannelExt != "c1" || in.ChannelUpdates[0].State != "qridle" {
		t.Errorf("channel updates %+v", in.ChannelUpdates)
	}
	if probe, err := wz.CheckWebhook([]byte(`{"test":true}`)); !probe || err != nil {
		t.Errorf("probe: %v %v", probe, err)
	}
	if probe, _ := wz.CheckWebhook([]byte(`{"messages":[]}`)); probe {
		t.Error("a webhook taken for the probe")
	}
}

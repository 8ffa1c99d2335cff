package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relay24/relay24/apptest"
	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/placement"
	"github.com/relay24/relay24/relay"
	"github.com/relay24/relay24/wazzup/wztest"
)

// The paths no other test reached: edits and deletions from Wazzup, inbound
// media, a channel added after connecting, the refusal of a plain-http
// portal, and users and departments beyond one page.

// historyMsg is a message of GET /api/v1/dialogs/{id}/messages with what
// these tests look at.
type historyMsg struct {
	ID          int64            `json:"id"`
	Direction   string           `json:"direction"`
	Kind        string           `json:"kind"`
	Text        string           `json:"text"`
	Status      string           `json:"status"`
	Attachments []attachmentJSON `json:"attachments"`
}

func (r *relayEnv) history(token string, dialogID int64) []historyMsg {
	r.t.Helper()
	var out struct {
		Messages []historyMsg `json:"messages"`
	}
	if s := r.api("GET", "/api/v1/dialogs/"+itoa64(dialogID)+"/messages", token, nil, &out); s != http.StatusOK {
		r.t.Fatalf("messages: %d", s)
	}
	return out.Messages
}

// dialogOf finds the dialog of a chat in the general chat.
func (r *relayEnv) dialogOf(token, chatID string) (dialogJSON, bool) {
	r.t.Helper()
	for _, d := range r.dialogs(token) {
		if d.ChatID == chatID {
			return d, true
		}
	}
	return dialogJSON{}, false
}

// waitUntil polls cond until it holds; the deadline is generous, only a
// broken path meets it.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// placeholderOf is the stand-in text of a kind in either language.
func isPlaceholderOf(kind, text string) bool {
	return text != "" && (text == relay.Placeholder(kind, "ru") || text == relay.Placeholder(kind, "en"))
}

// documentedKeys are the keys of messages[] the Wazzup docs list.
func documentedKeys(t *testing.T) map[string]map[string]bool {
	t.Helper()
	var schema struct {
		Messages []map[string]json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal(readTestdata(t, "wazzup_webhook_messages_schema.json"), &schema); err != nil || len(schema.Messages) != 1 {
		t.Fatalf("schema: %v", err)
	}
	out := map[string]map[string]bool{"": {}}
	for k, v := range schema.Messages[0] {
		out[""][k] = true
		var sub map[string]json.RawMessage
		if json.Unmarshal(v, &sub) == nil {
			out[k] = map[string]bool{}
			for sk := range sub {
				out[k][sk] = true
			}
		}
	}
	return out
}

// checkDocumentedItem fails unless a delivered messages[] item uses only
// documented keys.
func checkDocumentedItem(t *testing.T, keys map[string]map[string]bool, item map[string]json.RawMessage) {
	t.Helper()
	for k, v := range item {
		if !keys[""][k] {
			t.Fatalf("the emulator sent %q, which messages[] does not document", k)
		}
		var sub map[string]json.RawMessage
		if keys[k] != nil && json.Unmarshal(v, &sub) == nil {
			for sk := range sub {
				if !keys[k][sk] {
					t.Fatalf("the emulator sent %s.%s, which messages[] does not document", k, sk)
				}
			}
		}
	}
}

// lastDelivered is the messages[] item of the newest delivery carrying key.
func lastDelivered(t *testing.T, acc *wztest.Account, key string) map[string]json.RawMessage {
	t.Helper()
	ds := acc.Deliveries()
	for i := len(ds) - 1; i >= 0; i-- {
		var body struct {
			Messages []map[string]json.RawMessage `json:"messages"`
		}
		if json.Unmarshal(ds[i].Body, &body) == nil && len(body.Messages) == 1 && body.Messages[0][key] != nil {
			return body.Messages[0]
		}
	}
	t.Fatalf("no delivery with %q", key)
	return nil
}

// A client edits and deletes his messages in WhatsApp; an employee edits a
// reply in Wazzup. The stored message changes in place (no new message),
// the history and the dialog list show it, the stream tells the open
// chats, and a deleted message keeps nothing of what it said.
func TestWazzupEditsAndDeletionsChangeTheStoredMessage(t *testing.T) {
	r := newRelayEnv(t)
	keys := documentedKeys(t)
	const chat = "79995551001"
	first := r.clientWrites(r.WA, "whatsapp", chat, "Нужен счёт на 3 шт")
	second := r.clientWrites(r.WA, "whatsapp", chat, "Номер карты 1234 5678")
	r.settle()
	d, ok := r.dialogOf(r.Admin, chat)
	if !ok {
		t.Fatal("no dialog")
	}
	stream := r.openStream(r.Admin)

	// The edit.
	if err := r.Acc.ClientEdits(r.ctx, first, "Нужен счёт на 5 шт"); err != nil {
		t.Fatal(err)
	}
	edit := lastDelivered(t, r.Acc, "isEdited")
	checkDocumentedItem(t, keys, edit)
	if string(edit["isEdited"]) != "true" || string(edit["messageId"]) != strconv.Quote(first) || !bytes.Contains(edit["oldInfo"], []byte("3 шт")) {
		t.Fatalf("the edit delivered: %v", edit)
	}
	r.settle()
	ms := r.history(r.Admin, d.ID)
	if len(ms) != 2 || ms[0].Text != "Нужен счёт на 5 шт" || ms[0].Kind != "text" || ms[1].Text != "Номер карты 1234 5678" {
		t.Fatalf("history after the edit: %+v", ms)
	}
	if n := r.count(`SELECT count(*) FROM messages WHERE dialog_id = $1`, d.ID); n != 2 {
		t.Fatalf("%d messages stored after an edit, want the same 2", n)
	}
	waitFor(t, stream, func(ev streamEvent) bool { return ev.Type == "message.updated" && ev.DialogID == d.ID })

	// The deletion: the newest message, so the dialog list shows it too.
	if err := r.Acc.ClientDeletes(r.ctx, second); err != nil {
		t.Fatal(err)
	}
	checkDocumentedItem(t, keys, lastDelivered(t, r.Acc, "isDeleted"))
	r.settle()
	ms = r.history(r.Admin, d.ID)
	if len(ms) != 2 || ms[1].Kind != "deleted" || !isPlaceholderOf("deleted", ms[1].Text) || len(ms[1].Attachments) != 0 {
		t.Fatalf("history after the deletion: %+v", ms)
	}
	d, _ = r.dialogOf(r.Admin, chat)
	if d.LastMessage == nil || !isPlaceholderOf("deleted", d.LastMessage.Text) {
		t.Fatalf("the dialog's last message after the deletion: %+v", d.LastMessage)
	}
	if n := r.count(`SELECT count(*) FROM messages WHERE text LIKE '%1234 5678%'`); n != 0 {
		t.Fatal("the deleted text is still stored")
	}
	waitFor(t, stream, func(ev streamEvent) bool { return ev.Type == "message.updated" && ev.DialogID == d.ID })

	// An employee edits the reply in Wazzup (its own chat or another
	// integration): the echo of the edit changes the reply, which stays
	// ours, with its status.
	if s, _ := r.reply(r.Admin, d.ID, "Счёт на 5 шт готов", "edit-1"); s != http.StatusAccepted {
		t.Fatalf("reply: %d", s)
	}
	r.settle()
	sent := r.Acc.Sent()
	if len(sent) != 1 {
		t.Fatalf("%d sent", len(sent))
	}
	req, _ := http.NewRequest(http.MethodPatch, r.WZ.URL()+"/v3/message/"+sent[0].MessageID, strings.NewReader(`{"text":"Счёт на 5 шт готов, в приложении"}`))
	req.Header.Set("Authorization", "Bearer c8cf90444023482f909520d454368d27")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("PATCH /v3/message: %v %v", err, res)
	}
	res.Body.Close()
	r.WZ.Wait()
	checkDocumentedItem(t, keys, lastDelivered(t, r.Acc, "isEdited"))
	r.settle()
	ms = r.history(r.Admin, d.ID)
	if len(ms) != 3 || ms[2].Direction != "out" || ms[2].Text != "Счёт на 5 шт готов, в приложении" || ms[2].Status != "read" {
		t.Fatalf("history after the reply's edit: %+v", ms)
	}
}

// An edit or deletion of a message relay24 never stored (sent before the
// account was connected) changes nothing and opens no dialog; its job ends
// done, not failed.
func TestWazzupEditOfAMessageNeverStoredChangesNothing(t *testing.T) {
	r := newRelayEnv(t)
	r.clientWrites(r.WA, "whatsapp", "79995551101", "Здесь всё в порядке")
	r.settle()
	before := r.count(`SELECT count(*) FROM messages`)
	tmpl := readTestdata(t, "wazzup_webhook_message_doc.json")
	for i, flag := range []string{"isEdited", "isDeleted"} {
		body := fill(t, tmpl, func(v map[string]any) {
			m := v["messages"].([]any)[0].(map[string]any)
			m["messageId"] = "5b1d7f5e-0c4a-4c1e-9f3e-00000000000" + strconv.Itoa(i)
			m["channelId"] = r.WA.ChannelID
			m["chatId"] = "79995551102"
			m["text"] = "Текст, которого не было"
			m[flag] = true
			m["oldInfo"] = map[string]any{"oldText": "Старый текст"}
		}, nil)
		if s, err := r.Acc.PostRaw(r.ctx, body); s != http.StatusOK {
			t.Fatalf("%s: %d %v", flag, s, err)
		}
	}
	r.settle()
	if n := r.count(`SELECT count(*) FROM messages`); n != before {
		t.Fatalf("%d messages, had %d", n, before)
	}
	if _, ok := r.dialogOf(r.Admin, "79995551102"); ok {
		t.Fatal("an edit of an unknown message opened a dialog")
	}
	if n := r.count(`SELECT count(*) FROM dialogs WHERE chat_id = '79995551102'`); n != 0 {
		t.Fatal("an edit of an unknown message stored a dialog")
	}
	if n := r.count(`SELECT count(*) FROM jobs WHERE kind = $1 AND state <> 'done'`, relay.JobWazzupWebhook); n != 0 {
		t.Fatalf("%d webhook jobs not done", n)
	}
}

// A database error while recording an edit is not "a message we never
// saw": the job is retried, and the edit lands once the database takes it.
func TestWazzupEditMeetingADatabaseErrorIsRetried(t *testing.T) {
	r := newRelayEnv(t)
	id := r.clientWrites(r.WA, "whatsapp", "79995551201", "Исходный текст")
	r.settle()
	var msgID int64
	if err := r.App.Store.DB().Get(&msgID, `SELECT id FROM messages WHERE provider_message_id = $1`, id); err != nil {
		t.Fatal(err)
	}
	// The database refuses every change of that one row.
	db := r.App.Store.DB()
	if _, err := db.Exec(`CREATE FUNCTION relay24_test_refuse() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN RAISE EXCEPTION 'relay24 test: the database refuses this update'; END $$`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TRIGGER relay24_test_refuse BEFORE UPDATE ON messages FOR EACH ROW
		WHEN (OLD.id = ` + itoa64(msgID) + `) EXECUTE FUNCTION relay24_test_refuse()`); err != nil {
		t.Fatal(err)
	}
	if err := r.Acc.ClientEdits(r.ctx, id, "Исправленный текст"); err != nil {
		t.Fatal(err)
	}
	r.drain()
	var job struct {
		ID        int64   `db:"id"`
		State     string  `db:"state"`
		Attempts  int     `db:"attempts"`
		LastError *string `db:"last_error"`
	}
	if err := db.Get(&job, `SELECT id, state, attempts, last_error FROM jobs WHERE kind = $1
		AND payload->'b'->'messages'->0->>'isEdited' = 'true'`, relay.JobWazzupWebhook); err != nil {
		t.Fatal(err)
	}
	if job.State != "ready" || job.Attempts < 1 || !strings.Contains(deref(job.LastError), "refuses this update") {
		t.Fatalf("the edit's job after a database error: %+v %q (want it waiting for a retry)", job, deref(job.LastError))
	}
	var text string
	if err := db.Get(&text, `SELECT text FROM messages WHERE id = $1`, msgID); err != nil || text != "Исходный текст" {
		t.Fatalf("text %q %v", text, err)
	}
	// The database takes it again; the retry lands the edit.
	if _, err := db.Exec(`DROP TRIGGER relay24_test_refuse ON messages`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE jobs SET run_at = now() WHERE id = $1`, job.ID); err != nil {
		t.Fatal(err)
	}
	r.drain()
	if err := db.Get(&text, `SELECT text FROM messages WHERE id = $1`, msgID); err != nil || text != "Исправленный текст" {
		t.Fatalf("text after the retry %q %v", text, err)
	}
	if err := db.Get(&job.State, `SELECT state FROM jobs WHERE id = $1`, job.ID); err != nil || job.State != "done" {
		t.Fatalf("job %s %v", job.State, err)
	}
}

// Images, documents, voice and video arrive as messages with a type and a
// link to Wazzup's store (channels.md §1.19). Each is stored with its kind,
// shown with its placeholder and its file (named as the link names it), in
// history, in the dialog list and on the CRM timeline; the file opens
// through relay24's signed link, which sends the browser on to Wazzup's
// https link.
func TestWazzupInboundMedia(t *testing.T) {
	r := newRelayEnv(t)
	const chat = "79995552001"
	sticker := readTestdata(t, "wazzup_webhook_image_sticker_doc.json")
	document := readTestdata(t, "wazzup_webhook_document_inbound.INFERRED.json")
	stickerURI := "https://store.wazzup24.com/e51159999e0046d628b3924161d411e5812d2546/?filename=f9ebe1b1-3ed5-4ec2-97fb-03f0c25e413f.was"
	documentURI := "https://store.wazzup24.com/7d1e0c9b2a3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d/?filename=contract.pdf"
	// The emulator's store serves each file as Wazzup's does, at a link of
	// the same shape (".../<id>/?filename=<name>").
	webp := append([]byte("RIFF\x24\x00\x00\x00WEBPVP8 "), bytes.Repeat([]byte{7}, 32)...)
	pdf := []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
	ogg := append([]byte("OggS\x00\x02"), bytes.Repeat([]byte{1}, 40)...)
	mp4 := append([]byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"), bytes.Repeat([]byte{2}, 40)...)
	cases := []struct {
		tmpl         []byte
		kind, docURI string
		wantName     string
		ids          string
		body         []byte
		inline       bool
		uri          string
	}{
		{sticker, "image", stickerURI, "f9ebe1b1-3ed5-4ec2-97fb-03f0c25e413f.was", "6a2087e8-e0f4-4999-b968-9d9999933c81", webp, true, ""},
		{document, "document", documentURI, "contract.pdf", "3c1d2e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", pdf, false, ""},
		{sticker, "audio", "", "voice.ogg", "7b3c9d21-4e5f-4a6b-8c7d-9e0f1a2b3c4d", ogg, true, ""},
		{sticker, "video", "", "clip.mp4", "8c4dae32-5f60-4b7c-9d8e-af10b2c3d4e5", mp4, true, ""},
	}
	start := time.Now().UTC().Add(-10 * time.Minute)
	for i := range cases {
		c := &cases[i]
		c.uri = r.WZ.PutMedia(c.wantName, "application/x-whatever", c.body)
		body := fill(t, c.tmpl, func(v map[string]any) {
			m := v["messages"].([]any)[0].(map[string]any)
			if m["contentUri"] != c.docURI && c.docURI != "" {
				t.Fatalf("the documented contentUri is %v", m["contentUri"])
			}
			m["messageId"] = c.ids
			m["channelId"] = r.WA.ChannelID
			m["chatId"] = chat
			m["type"] = c.kind
			m["contentUri"] = c.uri
			m["dateTime"] = start.Add(time.Duration(i) * time.Minute).Format("2006-01-02T15:04:05.000Z")
			m["contact"].(map[string]any)["name"] = "Клиент с файлами"
		}, nil)
		if s, err := r.Acc.PostRaw(r.ctx, body); s != http.StatusOK {
			t.Fatalf("%s: %d %v", c.kind, s, err)
		}
	}
	r.settle()
	d, ok := r.dialogOf(r.Admin, chat)
	if !ok {
		t.Fatal("no dialog")
	}
	ms := r.history(r.Admin, d.ID)
	if len(ms) != len(cases) {
		t.Fatalf("history: %+v", ms)
	}
	for i, c := range cases {
		m := ms[i]
		if m.Kind != c.kind || m.Direction != "in" || !isPlaceholderOf(c.kind, m.Text) {
			t.Errorf("%s: kind %q, text %q", c.kind, m.Kind, m.Text)
		}
		if len(m.Attachments) != 1 {
			t.Fatalf("%s: attachments %+v", c.kind, m.Attachments)
		}
		a := m.Attachments[0]
		if a["type"] != c.kind || a["name"] != c.wantName {
			t.Errorf("%s: attachment type %q, name %q; want %q", c.kind, a["type"], a["name"], c.wantName)
		}
		// The page gets relay24's signed link, never Wazzup's.
		u, err := url.Parse(a["url"])
		if err != nil || !strings.HasPrefix(a["url"], "/api/v1/messages/"+itoa64(m.ID)+"/attachments/0?") ||
			u.Query().Get("exp") == "" || u.Query().Get("sig") == "" || strings.Contains(a["url"], "wazzup24") {
			t.Fatalf("%s: attachment url %q", c.kind, a["url"])
		}
		// The file was copied into relay24: the link opens it with no
		// session from relay24's storage, even once the gateway's link has
		// expired (no redirect, no request to the store).
		gets := r.WZ.MediaGets(c.uri)
		r.WZ.DropMedia(c.uri)
		res, got := r.get(a["url"])
		disposition := "attachment"
		if c.inline {
			disposition = "inline"
		}
		if res.StatusCode != http.StatusOK || res.Header.Get("Location") != "" || !bytes.Equal(got, c.body) ||
			res.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(res.Header.Get("Content-Security-Policy"), "sandbox") ||
			!strings.HasPrefix(res.Header.Get("Content-Disposition"), disposition) || gets != 1 {
			t.Errorf("%s: link answered %d, Location %q, %v, %d downloads", c.kind, res.StatusCode, res.Header.Get("Location"), res.Header, gets)
		}
		// A link of another message's file is refused.
		if i > 0 {
			other := strings.Replace(a["url"], "/messages/"+itoa64(m.ID)+"/", "/messages/"+itoa64(ms[0].ID)+"/", 1)
			if res, _ := r.get(other); res.StatusCode != http.StatusNotFound {
				t.Errorf("%s: its signature opened another message's file: %d", c.kind, res.StatusCode)
			}
		}
	}
	if d.LastMessage == nil || !isPlaceholderOf("video", d.LastMessage.Text) {
		t.Fatalf("the dialog list's last message: %+v", d.LastMessage)
	}
	// The CRM timeline names each file by its placeholder.
	var timeline []string
	for _, e := range r.P.Timeline() {
		timeline = append(timeline, e.Text)
	}
	for _, c := range cases {
		if !slices.ContainsFunc(timeline, func(s string) bool {
			return strings.Contains(s, relay.Placeholder(c.kind, "ru")) || strings.Contains(s, relay.Placeholder(c.kind, "en"))
		}) {
			t.Errorf("no timeline entry shows the %s: %q", c.kind, timeline)
		}
	}

	// The client deletes the document: its file goes with it, and the link
	// the page already holds no longer opens it.
	docLink := ms[1].Attachments[0]["url"]
	var stored string
	if err := r.App.Store.DB().Get(&stored, `SELECT attachments->0->>'url' FROM messages WHERE id = $1`, ms[1].ID); err != nil || !strings.HasPrefix(stored, "file:") {
		t.Fatalf("the document is stored as %q: %v", stored, err)
	}
	body := fill(t, document, func(v map[string]any) {
		m := v["messages"].([]any)[0].(map[string]any)
		m["channelId"] = r.WA.ChannelID
		m["chatId"] = chat
		m["isDeleted"] = true
		m["oldInfo"] = map[string]any{"oldText": ""}
	}, nil)
	if s, err := r.Acc.PostRaw(r.ctx, body); s != http.StatusOK {
		t.Fatalf("deletion: %d %v", s, err)
	}
	r.settle()
	ms = r.history(r.Admin, d.ID)
	if len(ms) != len(cases) || ms[1].Kind != "deleted" || !isPlaceholderOf("deleted", ms[1].Text) || len(ms[1].Attachments) != 0 {
		t.Fatalf("the deleted document: %+v", ms[1])
	}
	if res, _ := r.get(docLink); res.StatusCode != http.StatusNotFound || res.Header.Get("Location") != "" {
		t.Fatalf("the deleted document's link answered %d, Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	var files int
	if err := r.App.Store.DB().Get(&files, `SELECT count(*) FROM files WHERE id = $1`, strings.TrimPrefix(stored, "file:")); err != nil || files != 0 {
		t.Fatalf("the deleted document's copy: %d rows, %v", files, err)
	}
}

type channelJSON struct {
	ID         int64  `json:"id"`
	ExternalID string `json:"external_id"`
	Transport  string `json:"transport"`
	Name       string `json:"name"`
	PlainID    string `json:"plain_id"`
	State      string `json:"state"`
}

func (r *relayEnv) channelList() map[string]channelJSON {
	r.t.Helper()
	var out struct {
		Channels []channelJSON `json:"channels"`
	}
	if s := r.api("GET", "/api/v1/channels", r.Admin, nil, &out); s != http.StatusOK {
		r.t.Fatalf("channels: %d", s)
	}
	m := map[string]channelJSON{}
	for _, c := range out.Channels {
		if _, dup := m[c.ExternalID]; dup {
			r.t.Fatalf("channel %s listed twice", c.ExternalID)
		}
		m[c.ExternalID] = c
	}
	return m
}

// A channel added to the Wazzup account after it was connected: Wazzup's
// channelsUpdates announces it, and relay24 lists it at once (named as the
// account lists it) and follows its state; a channel no update announced
// is learnt from the account's listing when its first message comes. The
// messages of both are filed into their own dialogs.
func TestWazzupChannelAddedAfterConnecting(t *testing.T) {
	r := newRelayEnv(t)
	// The documented channelsUpdates shape is what the emulator sends.
	var doc struct {
		ChannelsUpdates []map[string]json.RawMessage `json:"channelsUpdates"`
	}
	if err := json.Unmarshal(readTestdata(t, "wazzup_webhook_channels_updates_doc.json"), &doc); err != nil {
		t.Fatal(err)
	}

	added := r.Acc.AddChannel("whatsapp", "79990007788", "Second WhatsApp")
	// A new WhatsApp number waits for its QR code to be scanned.
	if err := r.Acc.SetChannelState(r.ctx, added.ChannelID, "qr", "data:image/png;base64,iVBORw0KGgoAAAANS"); err != nil {
		t.Fatal(err)
	}
	var sent struct {
		ChannelsUpdates []map[string]json.RawMessage `json:"channelsUpdates"`
	}
	ds := r.Acc.Deliveries()
	if err := json.Unmarshal(ds[len(ds)-1].Body, &sent); err != nil || len(sent.ChannelsUpdates) != 1 {
		t.Fatalf("delivered %s: %v", ds[len(ds)-1].Body, err)
	}
	for k := range sent.ChannelsUpdates[0] {
		if doc.ChannelsUpdates[0][k] == nil {
			t.Fatalf("the emulator sent %q, which channelsUpdates does not document", k)
		}
	}
	r.settle()
	c, ok := r.channelList()[added.ChannelID]
	if !ok {
		t.Fatalf("the announced channel is not listed: %+v", r.channelList())
	}
	if c.Transport != "whatsapp" || c.Name != "Second WhatsApp" || c.PlainID != "79990007788" || c.State != "qr" {
		t.Fatalf("the announced channel: %+v", c)
	}
	// Scanned: active.
	if err := r.Acc.SetChannelState(r.ctx, added.ChannelID, "active", ""); err != nil {
		t.Fatal(err)
	}
	r.settle()
	waitUntil(t, "the channel to become active", func() bool { return r.channelList()[added.ChannelID].State == "active" })

	// Another channel, announced by nothing: its first message brings it.
	quiet := r.Acc.AddChannel("instagram", "second.shop", "Second Instagram")
	r.clientWrites(added, "whatsapp", "79995553001", "Пишу на второй номер")
	r.clientWrites(quiet, "instagram", "buyer.three", "Hi from Instagram")
	r.settle()
	list := r.channelList()
	if len(list) != 4 {
		t.Fatalf("channels: %+v", list)
	}
	q := list[quiet.ChannelID]
	if q.Transport != "instagram" || q.Name != "Second Instagram" || q.PlainID != "second.shop" || q.State != "active" {
		t.Fatalf("the learnt channel: %+v", q)
	}
	for chat, ch := range map[string]channelJSON{"79995553001": list[added.ChannelID], "buyer.three": q} {
		d, ok := r.dialogOf(r.Admin, chat)
		if !ok || d.Channel.ID != ch.ID || d.Channel.Transport != ch.Transport || d.LastMessage == nil {
			t.Fatalf("dialog of %s: %+v (channel %+v)", chat, d, ch)
		}
		if ms := r.history(r.Admin, d.ID); len(ms) != 1 || ms[0].Direction != "in" {
			t.Fatalf("messages of %s: %+v", chat, ms)
		}
	}
	// Replies go out through the new channel.
	d, _ := r.dialogOf(r.Admin, "79995553001")
	if s, _ := r.reply(r.Admin, d.ID, "Отвечаем со второго", "second-1"); s != http.StatusAccepted {
		t.Fatalf("reply: %d", s)
	}
	r.settle()
	sentMsgs := r.Acc.Sent()
	if len(sentMsgs) != 1 || sentMsgs[0].Request.ChannelID != added.ChannelID {
		t.Fatalf("sent %+v", sentMsgs)
	}
}

// relay24 started without B24_ALLOW_HTTP refuses a portal whose OAuth
// answer names a plain-http REST endpoint: the installer page says why,
// nothing is stored, no job is queued, and the portal is not called.
func TestPlainHTTPPortalIsRefusedWithoutAllowHTTP(t *testing.T) {
	e := newEnvOptions(t, apptest.Options{Workers: -1, Env: map[string]string{"B24_ALLOW_HTTP": ""}})
	p := e.OAuth.NewPortal(b24test.PortalOptions{})
	t.Cleanup(p.Close)
	if !strings.HasPrefix(p.ClientEndpoint(), "http://") {
		t.Fatalf("the emulated portal is at %s", p.ClientEndpoint())
	}
	r, err := p.PostInstall(e.ctx, e.URL+"/b24/install", 1)
	if err != nil {
		t.Fatal(err)
	}
	body := string(r.Body)
	if r.Status != http.StatusBadRequest || !strings.Contains(body, `role="alert"`) || strings.Contains(body, "installFinish") ||
		!strings.Contains(body, "https") || !strings.Contains(body, "plain http") {
		t.Fatalf("install of a plain-http portal answered %d:\n%s", r.Status, body)
	}
	// The event install (no UI) is refused the same way.
	r, err = p.PostInstallEvent(e.ctx, e.URL+"/b24/install")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "client_endpoint_refused") {
		t.Fatalf("ONAPPINSTALL of a plain-http portal answered %d: %s", r.Status, r.Body)
	}
	for table, n := range map[string]int{
		"portals": e.count(`SELECT count(*) FROM portals`),
		"users":   e.count(`SELECT count(*) FROM users`),
		"jobs":    e.count(`SELECT count(*) FROM jobs`),
	} {
		if n != 0 {
			t.Errorf("%d rows in %s after a refused install", n, table)
		}
	}
	// Nothing was asked of the portal (its tokens came from the OAuth
	// server; the endpoint itself is never reached).
	if calls := p.Calls(); len(calls) != 0 {
		t.Fatalf("the refused portal was called: %+v", calls)
	}
}

// Portals have more than one page (50) of employees and of departments:
// the first sync and every reconciliation mirror all of them, and a page
// that fails stops the sync before anyone is taken for dismissed.
func TestUsersAndDepartmentsBeyondOnePage(t *testing.T) {
	e := newEnv(t)
	p := e.OAuth.NewPortal(b24test.PortalOptions{})
	t.Cleanup(p.Close)
	const depts, users = 120, 160 // three pages of departments, four of users
	for i := 2; i <= depts; i++ {
		parent := 1
		if i > 10 {
			parent = 2 + i%9 // a tree, not only the root's children
		}
		p.AddDepartment(b24test.Department{ID: i, Name: "Отдел " + strconv.Itoa(i), Parent: parent})
	}
	for i := 2; i <= users; i++ {
		p.AddUser(b24test.User{ID: i, Name: "Сотрудник", LastName: strconv.Itoa(i), Active: true, Departments: []int{1 + i%depts}})
	}
	if r, err := p.PostInstall(e.ctx, e.URL+"/b24/install", 1); err != nil || r.Status != http.StatusOK {
		t.Fatalf("install: %v %+v", err, r)
	}
	p.InstallFinish()
	e.drain()
	pid := e.portalID(p)
	check := func(when string, wantUsers, wantActive, wantDepts int) {
		t.Helper()
		if n := e.count(`SELECT count(*) FROM users WHERE portal_id = $1`, pid); n != wantUsers {
			t.Fatalf("%s: %d users mirrored, want %d", when, n, wantUsers)
		}
		if n := e.count(`SELECT count(*) FROM users WHERE portal_id = $1 AND active`, pid); n != wantActive {
			t.Fatalf("%s: %d active users, want %d", when, n, wantActive)
		}
		if n := e.count(`SELECT count(*) FROM departments WHERE portal_id = $1`, pid); n != wantDepts {
			t.Fatalf("%s: %d departments mirrored, want %d", when, n, wantDepts)
		}
	}
	check("first sync", users, users, depts)
	// The admin's page lists them all, each in his department.
	admin := e.session(p, placement.LeftMenu, nil, 1)
	apiUsers := func() (map[int64]int64, int) {
		var out struct {
			Departments []struct {
				ID    int64 `json:"id"`
				Users []struct {
					ID int64 `json:"id"`
				} `json:"users"`
			} `json:"departments"`
		}
		if s := e.api("GET", "/api/v1/users", admin, nil, &out); s != http.StatusOK {
			t.Fatalf("users: %d", s)
		}
		where := map[int64]int64{}
		for _, d := range out.Departments {
			for _, u := range d.Users {
				where[u.ID] = d.ID
			}
		}
		return where, len(out.Departments)
	}
	where, nd := apiUsers()
	if len(where) != users || nd != depts {
		t.Fatalf("GET /api/v1/users: %d users in %d departments, want %d in %d", len(where), nd, users, depts)
	}
	if where[users] != int64(1+users%depts) {
		t.Fatalf("user %d listed under department %d", users, where[users])
	}

	// Changes on the last pages, without events: a new department and a
	// new employee in it, one dismissed, one moved.
	p.AddDepartment(b24test.Department{ID: depts + 1, Name: "Новый отдел", Parent: 5})
	p.AddUser(b24test.User{ID: users + 1, Name: "Новый", LastName: "Сотрудник", Active: true, Departments: []int{depts + 1}})
	gone, _ := p.User(users - 1)
	gone.Active = false
	p.AddUser(gone)
	moved, _ := p.User(users - 2)
	moved.Departments = []int{depts + 1}
	p.AddUser(moved)

	// A reconciliation whose third page of users fails ends without
	// taking the unread pages' employees for dismissed.
	reconcile := func() {
		t.Helper()
		if err := e.App.Sync.ScheduleReconcile(e.ctx); err != nil {
			t.Fatal(err)
		}
		e.drain()
	}
	p.SetPageFault(&b24test.PageFault{Method: "user.get", Nth: 2, Count: -1})
	reconcile()
	if n := e.count(`SELECT count(*) FROM jobs WHERE kind = 'sync.reconcile' AND state = 'ready' AND attempts > 0`); n != 1 {
		t.Fatalf("%d reconciliations waiting for a retry after a failed page", n)
	}
	if n := e.count(`SELECT count(*) FROM users WHERE portal_id = $1 AND active`, pid); n != users {
		t.Fatalf("a failed page: %d active users, want all %d still", n, users)
	}
	p.SetPageFault(nil)
	if _, err := e.App.Store.DB().Exec(`UPDATE jobs SET run_at = now() WHERE kind = 'sync.reconcile' AND state = 'ready'`); err != nil {
		t.Fatal(err)
	}
	e.drain()
	check("reconciliation", users+1, users, depts+1)
	if n := e.count(`SELECT count(*) FROM users WHERE portal_id = $1 AND id = $2 AND NOT active`, pid, users-1); n != 1 {
		t.Fatal("the dismissed employee on the last page is still active")
	}
	where, nd = apiUsers()
	if len(where) != users+1 || nd != depts+1 || where[users+1] != depts+1 || where[int64(users-2)] != depts+1 {
		t.Fatalf("after the reconciliation: %d users in %d departments; new one under %d, moved one under %d",
			len(where), nd, where[users+1], where[int64(users-2)])
	}
}

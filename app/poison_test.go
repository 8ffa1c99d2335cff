package app_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/relay24/relay24/bitrix/b24test"
)

// poison is one kind of payload PostgreSQL refuses as it is (issue 9).
type poison struct {
	kind string // what the stored job's "repaired" names, or "refused"
	text string // the text as written into the JSON body (escapes verbatim), %d: the index
	want string // the text as the chat and the timeline must show it
	date string // the date's JSON value ("": the time of sending)
	id   string // the message id's JSON value ("": a fresh one)
	name string // the client's name as written into the body ("": a plain one)
}

var poisons = []poison{
	{kind: "nul", text: `до\u0000после %d`, want: "допосле %d", name: `Имя\u0000Фамилия`},
	{kind: "surrogate", text: `половина смайлика \ud83d %d`, want: "половина смайлика \uFFFD %d"},
	{kind: "utf8", text: "байт \xff %d", want: "байт \uFFFD %d"},
	// A date no clock can hold: the message is filed at its time of receipt.
	{kind: "number", text: `дата 1e999999 %d`, want: "дата 1e999999 %d", date: `1e999999`},
}

// readTestdata reads a payload copied from the protocol notes.
func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fill decodes a documented payload, lets set change it and encodes it
// again; then each placeholder string "@@KEY@@" (quotes included) is
// replaced by raw[KEY] verbatim, so that bytes no encoder writes (a lone
// surrogate escape, an invalid UTF-8 byte, 1e999999) reach the body.
func fill(t *testing.T, tmpl []byte, set func(map[string]any), raw map[string]string) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(tmpl))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	set(v)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	b := bytes.TrimSpace(buf.Bytes())
	for k, val := range raw {
		b = bytes.ReplaceAll(b, []byte(`"@@`+k+`@@"`), []byte(val))
	}
	return b
}

type answer struct {
	status int
	body   string
}

// burst posts every body with conc senders at once and returns the answers.
func burst(t *testing.T, n, conc int, post func(i int) (*http.Response, error)) []answer {
	t.Helper()
	out := make([]answer, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				res, err := post(i)
				if err != nil {
					out[i] = answer{status: -1, body: err.Error()}
					continue
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				out[i] = answer{status: res.StatusCode, body: string(b)}
			}
		})
	}
	wg.Wait()
	return out
}

// unthrottled lets the emulated portal and relay24's limiter take a burst's
// timeline writes at once.
func (r *relayEnv) unthrottled() {
	r.t.Helper()
	r.P.SetLimit(10000, 10000)
	burst, rate := 10000, 10000.0
	if err := r.App.Store.SetPortalRateLimit(r.ctx, r.PortalID, &burst, &rate); err != nil {
		r.t.Fatal(err)
	}
}

// shot is one webhook of a burst and what must come of it.
type shot struct {
	providerID string // the stored message's provider id
	poison     *poison
	want       string
	body       []byte
	chat       string
}

// checkFiled checks that every accepted webhook of a burst was filed exactly
// once with the text the chat must show, the poisoned ones with their bytes
// as received kept beside the repaired body, and that no text reached the
// timeline with a NUL or invalid UTF-8.
func (r *relayEnv) checkFiled(shots []shot, answers []answer, kind string, start time.Time) {
	t := r.t
	t.Helper()
	tl := r.P.Timeline()
	for _, e := range tl {
		if strings.ContainsRune(e.Text, 0) || !utf8.ValidString(e.Text) {
			t.Errorf("timeline entry %d holds a NUL or invalid UTF-8: %q", e.ID, e.Text)
		}
	}
	db := r.App.Store.DB()
	for i, s := range shots {
		if answers[i].status != http.StatusOK {
			continue
		}
		var rows []struct {
			Text   string    `db:"text"`
			SentAt time.Time `db:"sent_at"`
		}
		if err := db.Select(&rows, `SELECT text, sent_at FROM messages WHERE provider_message_id = $1`, s.providerID); err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].Text != s.want {
			t.Errorf("webhook %d: stored %+v, want one message %q", i, rows, s.want)
			continue
		}
		onTimeline := 0
		for _, e := range tl {
			if strings.Contains(e.Text, "\n"+s.want+"\n") {
				onTimeline++
			}
		}
		if onTimeline != 1 {
			t.Errorf("webhook %d (%q) is on the timeline %d times", i, s.want, onTimeline)
		}
		var job struct {
			Raw      *string `db:"raw"`
			Repaired *string `db:"repaired"`
			State    string  `db:"state"`
		}
		if err := db.Get(&job, `SELECT payload->>'raw' AS raw, payload->>'repaired' AS repaired, state FROM jobs
			WHERE kind = $1 AND $2 = COALESCE(payload->'b'->'messages'->0->>'messageId',
				(payload->'b'->'message'->'chat'->>'id') || ':' || (payload->'b'->'message'->>'message_id'))`, kind, s.providerID); err != nil {
			t.Fatalf("webhook %d: its job: %v", i, err)
		}
		if job.State != "done" {
			t.Errorf("webhook %d: job %s", i, job.State)
		}
		if s.poison == nil {
			if job.Raw != nil {
				t.Errorf("webhook %d: a clean body was stored twice", i)
			}
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(deref(job.Raw))
		if err != nil || !bytes.Equal(raw, s.body) || !strings.Contains(deref(job.Repaired), s.poison.kind) {
			t.Errorf("webhook %d (%s): kept raw %q (%v), repaired %q; sent %q", i, s.poison.kind, raw, err, deref(job.Repaired), s.body)
		}
		if s.poison.date != "" && (rows[0].SentAt.Before(start.Add(-time.Minute)) || rows[0].SentAt.After(time.Now().Add(time.Minute))) {
			t.Errorf("webhook %d: an unusable date filed at %s, not at its receipt", i, rows[0].SentAt)
		}
	}
	// What the salesperson sees of the poisoned chats: each message once,
	// repaired, and a preview without a NUL.
	want := map[string]map[string]int{}
	for i, s := range shots {
		if s.poison != nil && answers[i].status == http.StatusOK {
			if want[s.chat] == nil {
				want[s.chat] = map[string]int{}
			}
			want[s.chat][s.want]++
		}
	}
	for _, d := range r.dialogs(r.Admin) {
		w, ok := want[d.ChatID]
		if !ok {
			continue
		}
		delete(want, d.ChatID)
		if d.LastMessage == nil || w[d.LastMessage.Text] == 0 {
			t.Errorf("chat %s: preview %+v", d.ChatID, d.LastMessage)
		}
		got := map[string]int{}
		for _, m := range r.messages(r.Admin, d.ID) {
			got[m.Text]++
		}
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("chat %s shows %v, want %v", d.ChatID, got, w)
		}
	}
	if len(want) > 0 {
		t.Errorf("chats without a dialog: %v", want)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// A burst of Wazzup webhooks, one in ten poisoned: every clean one is
// answered 200 and filed once, every poisoned one is stored (its bytes as
// received kept), answered 200 and filed repaired; nothing gets a 5xx.
func TestPoisonedWazzupWebhooksInABurst(t *testing.T) {
	r := newRelayEnv(t)
	r.unthrottled()
	tmpl := readTestdata(t, "wazzup_webhook_message_doc.json")
	const n = 240
	start := time.Now()
	shots := make([]shot, n)
	for i := range n {
		s := shot{providerID: fmt.Sprintf("burst-%03d", i), chat: fmt.Sprintf("7999444000%d", i%4)}
		text := fmt.Sprintf("чистое сообщение %d", i)
		s.want = text
		raw := map[string]string{"DATE": strconv.Quote(time.Now().UTC().Format("2006-01-02T15:04:05.000Z")), "NAME": `"Клиент"`}
		if i%10 == 9 {
			k := (i / 10) % len(poisons)
			s.poison = &poisons[k]
			s.chat = fmt.Sprintf("7999444100%d", k) // a chat of its own, to read its dialog back
			text, s.want = fmt.Sprintf(s.poison.text, i), fmt.Sprintf(s.poison.want, i)
			if s.poison.date != "" {
				raw["DATE"] = s.poison.date
			}
			if s.poison.name != "" {
				raw["NAME"] = `"` + s.poison.name + `"`
			}
		}
		raw["TEXT"] = `"` + text + `"`
		s.body = fill(t, tmpl, func(v map[string]any) {
			m := v["messages"].([]any)[0].(map[string]any)
			m["messageId"], m["channelId"], m["chatId"] = s.providerID, r.WA.ChannelID, s.chat
			m["text"], m["dateTime"] = "@@TEXT@@", "@@DATE@@"
			m["contact"].(map[string]any)["name"] = "@@NAME@@"
		}, raw)
		shots[i] = s
	}
	hook := r.Acc.Webhook()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}, Timeout: 30 * time.Second}
	answers := burst(t, n, 24, func(i int) (*http.Response, error) {
		return client.Post(hook, "application/json", bytes.NewReader(shots[i].body))
	})
	for i, a := range answers {
		if a.status != http.StatusOK {
			t.Errorf("webhook %d (poison %v): %d %s", i, shots[i].poison != nil, a.status, a.body)
		}
	}
	r.settle()
	r.checkFiled(shots, answers, "inbound.wazzup", start)
	// The client's name came with a NUL: the dialog shows it without.
	var names []string
	if err := r.App.Store.DB().Select(&names, `SELECT client_name FROM dialogs WHERE chat_id = '79994441000'`); err != nil || len(names) != 1 || names[0] != "ИмяФамилия" {
		t.Errorf("client name %q %v", names, err)
	}
}

// The same for Telegram updates; an update whose message_id no integer can
// hold is refused with 400 and the reason, up front (its filing could never
// store it exactly once).
func TestPoisonedTelegramUpdatesInABurst(t *testing.T) {
	r := newRelayEnv(t)
	r.unthrottled()
	const token = "323456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw8"
	bot := r.connectBot(r.Admin, token, "poison_bot")
	hook, secret := bot.Webhook()
	tgPoisons := append(append([]poison(nil), poisons...), poison{kind: "refused", text: "id %d", id: "1e999999"})
	tmpl := readTestdata(t, "telegram_update_text_doc.json")
	const n = 100
	start := time.Now()
	shots := make([]shot, n)
	for i := range n {
		chat := int64(5551000 + i%3)
		msgID := strconv.Itoa(i + 1)
		text := fmt.Sprintf("чистое сообщение %d", i)
		s := shot{want: text}
		raw := map[string]string{"DATE": strconv.FormatInt(time.Now().Unix(), 10), "ID": msgID, "NAME": `"Олег"`}
		if i%10 == 9 {
			k := (i / 10) % len(tgPoisons)
			s.poison = &tgPoisons[k]
			chat = int64(5552000 + k)
			text, s.want = fmt.Sprintf(s.poison.text, i), fmt.Sprintf(s.poison.want, i)
			if s.poison.date != "" {
				raw["DATE"] = s.poison.date
			}
			if s.poison.id != "" {
				raw["ID"] = s.poison.id
			}
			if s.poison.name != "" {
				raw["NAME"] = `"` + s.poison.name + `"`
			}
		}
		s.chat = strconv.FormatInt(chat, 10)
		s.providerID = s.chat + ":" + msgID
		raw["TEXT"] = `"` + text + `"`
		s.body = fill(t, tmpl, func(v map[string]any) {
			v["update_id"] = 1000 + i
			m := v["message"].(map[string]any)
			m["message_id"], m["date"], m["text"] = "@@ID@@", "@@DATE@@", "@@TEXT@@"
			c := m["chat"].(map[string]any)
			c["id"], c["first_name"], c["last_name"] = chat, "@@NAME@@", ""
			m["from"].(map[string]any)["id"] = chat
		}, raw)
		shots[i] = s
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}, Timeout: 30 * time.Second}
	answers := burst(t, n, 16, func(i int) (*http.Response, error) {
		req, _ := http.NewRequest("POST", hook, bytes.NewReader(shots[i].body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		return client.Do(req)
	})
	for i, a := range answers {
		refused := shots[i].poison != nil && shots[i].poison.kind == "refused"
		switch {
		case refused && (a.status != http.StatusBadRequest || !strings.Contains(a.body, "malformed_update") || !strings.Contains(a.body, "1e999999")):
			t.Errorf("update %d with an unusable message_id: %d %s, want 400 saying why", i, a.status, a.body)
		case !refused && a.status != http.StatusOK:
			t.Errorf("update %d (poison %v): %d %s", i, shots[i].poison != nil, a.status, a.body)
		}
	}
	r.settle()
	r.checkFiled(shots, answers, "inbound.telegram", start)
	var names []string
	if err := r.App.Store.DB().Select(&names, `SELECT client_name FROM dialogs WHERE chat_id = '5552000'`); err != nil || len(names) != 1 || names[0] != "ИмяФамилия" {
		t.Errorf("client name %q %v", names, err)
	}
}

// A reply holding a NUL or another control character is refused with 400
// invalid_text and the reason; tabs and line breaks are text. A body that
// is not UTF-8 is refused rather than sent with U+FFFD in it.
func TestReplyWithControlCharacters(t *testing.T) {
	r := newRelayEnv(t)
	r.clientWrites(r.WA, "whatsapp", "79995550501", "Здравствуйте")
	r.settle()
	d := r.dialogs(r.Sales)[0]
	path := "/api/v1/dialogs/" + strconv.FormatInt(d.ID, 10) + "/messages"
	for _, text := range []string{"до\x00после", "звонок\x07", "\x1b[31mкрасный"} {
		var out struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if s := r.api("POST", path, r.Sales, map[string]string{"text": text, "client_id": "c-" + text}, &out); s != http.StatusBadRequest ||
			out.Error.Code != "invalid_text" || out.Error.Message == "" {
			t.Errorf("reply %q: %d %+v, want 400 invalid_text", text, s, out.Error)
		}
	}
	req, _ := http.NewRequest("POST", r.URL+path, strings.NewReader("{\"text\":\"\xff\xfe\",\"client_id\":\"bad-utf8\"}"))
	req.Header.Set("Authorization", "Bearer "+r.Sales)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(res); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "UTF-8") {
		t.Errorf("a body that is not UTF-8: %d %s", res.StatusCode, body)
	}
	if s, m := r.reply(r.Sales, d.ID, "строка 1\r\n\tстрока 2", "ok-1"); s != http.StatusAccepted || m.Text != "строка 1\r\n\tстрока 2" {
		t.Fatalf("tabs and line breaks: %d %+v", s, m)
	}
	r.settle()
	var sent []string
	for _, m := range r.Acc.Sent() {
		sent = append(sent, m.Request.Text)
	}
	if len(sent) != 1 || sent[0] != "строка 1\r\n\tстрока 2" {
		t.Fatalf("sent %q", sent)
	}
}

// After the portal uninstalls relay24, or an admin disconnects the channel,
// the old webhook address answers 404 at once, not a 5xx for as long as the
// gateway stays cached: the gateway stops retrying what nothing will file.
func TestWebhookAfterUninstallIsRefusedAtOnce(t *testing.T) {
	cases := []struct {
		name string
		stop func(r *relayEnv)
	}{
		{"uninstalled with its data", func(r *relayEnv) { r.uninstall(true) }},
		{"uninstalled keeping its data", func(r *relayEnv) { r.uninstall(false) }},
		// Another instance handled the uninstall: this one's cache still
		// holds the gateway, and the intake meets the deleted portal.
		{"deleted by another instance", func(r *relayEnv) {
			if _, err := r.App.Store.DB().Exec(`DELETE FROM portals WHERE id = $1`, r.PortalID); err != nil {
				t.Fatal(err)
			}
		}},
		{"channel disconnected", func(r *relayEnv) {
			if s := r.api("DELETE", "/api/v1/channels/"+strconv.FormatInt(r.chans[r.WA.ChannelID], 10), r.Admin, nil, nil); s != http.StatusOK && s != http.StatusNoContent {
				t.Fatalf("disconnect: %d", s)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRelayEnv(t)
			r.clientWrites(r.WA, "whatsapp", "79995550601", "до") // the gateway is cached now
			r.settle()
			c.stop(r)
			for i := range 3 {
				body := webhookBody(r.WA.ChannelID, "after-"+strconv.Itoa(i), "79995550601", time.Now())
				if s, err := r.Acc.PostRaw(r.ctx, body); s != http.StatusNotFound {
					t.Fatalf("webhook %d after: %d %v, want 404", i, s, err)
				}
			}
			if n := r.count(`SELECT count(*) FROM jobs WHERE position('after-' IN payload::text) > 0`); n != 0 {
				t.Fatalf("%d webhooks stored after the end", n)
			}
		})
	}
}

func (r *relayEnv) uninstall(clean bool) {
	r.t.Helper()
	replies, err := r.P.Uninstall(r.ctx, clean)
	if err != nil || len(replies) == 0 || replies[0].Status != http.StatusOK {
		r.t.Fatalf("uninstall: %+v %v", replies, err)
	}
}

// A contact whose name holds a NUL (the portal's REST answer carries
// \u0000) is mirrored without it; its page of the sync is not failed.
func TestCRMNameWithNULIsMirrored(t *testing.T) {
	r := newRelayEnv(t)
	c := r.P.AddContact(b24test.Contact{Name: "Ир\x00ина", LastName: "Нулевая", AssignedByID: 2,
		Phones: []b24test.Multi{{TypeID: "PHONE", ValueType: "MOBILE", Value: "+7 999 555-07-01"}}})
	if _, err := r.P.FireEvent(r.ctx, "ONCRMCONTACTADD", map[string]any{"FIELDS": map[string]any{"ID": strconv.Itoa(c.ID)}}, 1); err != nil {
		t.Fatal(err)
	}
	r.settle()
	var name string
	if err := r.App.Store.DB().Get(&name, `SELECT name FROM contacts WHERE portal_id = $1 AND id = $2`, r.PortalID, c.ID); err != nil ||
		!strings.Contains(name, "Ирина") || strings.ContainsRune(name, 0) {
		t.Fatalf("mirrored name %q %v", name, err)
	}
	if n := r.count(`SELECT count(*) FROM jobs WHERE kind LIKE 'sync.%' AND state <> 'done'`); n != 0 {
		t.Fatalf("%d sync jobs not done", n)
	}
}

// A Wazzup webhook is stored as soon as it is a JSON object; one whose
// message no filing can use (no messageId: it could not be stored exactly
// once) ends failed with the reason, kept for support, and is not retried.
func TestWazzupWebhookWithoutUsableIDEndsFailed(t *testing.T) {
	r := newRelayEnv(t)
	body := fmt.Sprintf(`{"messages":[{"messageId":null,"channelId":%q,"chatId":"79995550701","text":"без id"}]}`, r.WA.ChannelID)
	if s, err := r.Acc.PostRaw(r.ctx, []byte(body)); s != http.StatusOK {
		t.Fatalf("webhook: %d %v", s, err)
	}
	r.settle()
	var job struct {
		State     string  `db:"state"`
		LastError *string `db:"last_error"`
	}
	if err := r.App.Store.DB().Get(&job, `SELECT state, last_error FROM jobs WHERE kind = 'inbound.wazzup'
		AND payload->'b'->'messages'->0->>'chatId' = '79995550701'`); err != nil {
		t.Fatal(err)
	}
	if job.State != "failed" || !strings.Contains(deref(job.LastError), "messageId") {
		t.Fatalf("job %s: %q", job.State, deref(job.LastError))
	}
}

package app_test

import (
	"bytes"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/wazzup/wztest"
	"github.com/relay24/relay24/web"
)

// canWriteDialog is the part of Dialog JSON these tests read.
type canWriteDialog struct {
	ID       int64 `json:"id"`
	CanWrite *bool `json:"can_write"`
	Channel  struct {
		ID    int64  `json:"id"`
		State string `json:"state"`
	} `json:"channel"`
}

func (r *relayEnv) dialogAs(token string, id int64) (int, canWriteDialog) {
	r.t.Helper()
	var out struct {
		Dialog canWriteDialog `json:"dialog"`
	}
	s := r.api("GET", "/api/v1/dialogs/"+itoa64(id), token, nil, &out)
	return s, out.Dialog
}

func (r *relayEnv) listAs(token string) []canWriteDialog {
	r.t.Helper()
	var out struct {
		Dialogs []canWriteDialog `json:"dialogs"`
	}
	if s := r.api("GET", "/api/v1/dialogs", token, nil, &out); s != http.StatusOK {
		r.t.Fatalf("dialogs: %d", s)
	}
	return out.Dialogs
}

func (r *relayEnv) setAccess(user string, rule map[string]any) {
	r.t.Helper()
	if s := r.api("PUT", "/api/v1/access/"+user, r.Admin, rule, nil); s != http.StatusOK {
		r.t.Fatalf("access of %s: %d", user, s)
	}
}

// Dialog JSON says whether this user may write in the dialog now: his rule
// (an employee without can_write may not), and an active channel (a channel
// waiting for its QR may not); sending where it says no is refused. The
// channels list says the same, and an individual chat lists its contacts'
// phones for writing first.
func TestDialogCanWrite(t *testing.T) {
	r := newRelayEnv(t)
	c := r.P.AddContact(b24test.Contact{Name: "Пётр", LastName: "Первый", AssignedByID: 2,
		Phones: []b24test.Multi{{TypeID: "PHONE", ValueType: "MOBILE", Value: "+7 999 555-03-01"}}})
	if _, err := r.P.FireEvent(r.ctx, "ONCRMCONTACTADD", map[string]any{"FIELDS": map[string]any{"ID": itoaInt(c.ID)}}, 1); err != nil {
		t.Fatal(err)
	}
	r.settle()
	r.clientWrites(r.WA, "whatsapp", "79995550301", "Здравствуйте")
	r.settle()
	d := r.dialogs(r.Sales)[0]
	if _, got := r.dialogAs(r.Sales, d.ID); got.CanWrite == nil || !*got.CanWrite || got.Channel.State != "active" {
		t.Fatalf("a salesperson's own dialog: %+v", got)
	}

	// An employee without can_write: every answer says false, and a send,
	// a retry, a new dialog are refused (403), nothing is stored.
	r.setAccess("2", map[string]any{"visibility": "all", "can_write": false})
	if _, got := r.dialogAs(r.Sales, d.ID); got.CanWrite == nil || *got.CanWrite {
		t.Fatalf("a read-only employee's dialog: %+v", got)
	}
	for _, x := range r.listAs(r.Sales) {
		if x.CanWrite == nil || *x.CanWrite {
			t.Fatalf("the list says a read-only employee may write: %+v", x)
		}
	}
	before := r.count(`SELECT count(*) FROM messages`)
	if s, _ := r.reply(r.Sales, d.ID, "нельзя", "ro-1"); s != http.StatusForbidden {
		t.Fatalf("a read-only employee's send: %d", s)
	}
	if n := r.count(`SELECT count(*) FROM messages`); n != before {
		t.Fatalf("a refused send stored a message")
	}
	var chans struct {
		Channels []struct {
			ID          int64    `json:"id"`
			CanWrite    bool     `json:"can_write"`
			HandleKinds []string `json:"handle_kinds"`
			Transport   string   `json:"transport"`
		} `json:"channels"`
	}
	r.api("GET", "/api/v1/channels", r.Sales, nil, &chans)
	if len(chans.Channels) == 0 {
		t.Fatal("no channels listed")
	}
	for _, ch := range chans.Channels {
		if ch.CanWrite {
			t.Fatalf("a read-only employee may write on channel %+v", ch)
		}
	}

	// Writing again; the channel then waits for a QR scan: nobody may
	// write in its dialogs, and the answer names the channel's state.
	r.setAccess("2", map[string]any{"visibility": "all", "can_write": true})
	if _, got := r.dialogAs(r.Sales, d.ID); !*got.CanWrite {
		t.Fatalf("writing again: %+v", got)
	}
	if _, err := r.App.Store.DB().Exec(`UPDATE channels SET state = 'qr' WHERE id = $1`, d.Channel.ID); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{r.Sales, r.Admin} {
		if _, got := r.dialogAs(tok, d.ID); got.CanWrite == nil || *got.CanWrite || got.Channel.State != "qr" {
			t.Fatalf("a dialog of a channel waiting for its QR: %+v", got)
		}
	}
	if s, _ := r.reply(r.Sales, d.ID, "канал не готов", "qr-1"); s != http.StatusConflict {
		t.Fatalf("a send on an inactive channel: %d", s)
	}
	r.api("GET", "/api/v1/channels", r.Sales, nil, &chans)
	for _, ch := range chans.Channels {
		if ch.ID == d.Channel.ID && ch.CanWrite {
			t.Fatalf("an inactive channel may be written on: %+v", ch)
		}
		if ch.Transport == "whatsapp" && strings.Join(ch.HandleKinds, ",") != "phone" {
			t.Fatalf("a WhatsApp channel starts with %v", ch.HandleKinds)
		}
	}

	// The contact's card lists his phone, to write first.
	var card struct {
		Contacts []struct {
			ID      int64 `json:"id"`
			Handles []struct {
				Kind  string `json:"kind"`
				Value string `json:"value"`
			} `json:"handles"`
		} `json:"contacts"`
	}
	if s := r.api("GET", "/api/v1/dialogs?entity_type=contact&entity_id="+itoaInt(c.ID), r.Sales, nil, &card); s != http.StatusOK {
		t.Fatalf("individual chat: %d", s)
	}
	if len(card.Contacts) != 1 || len(card.Contacts[0].Handles) != 1 || card.Contacts[0].Handles[0].Kind != "phone" ||
		card.Contacts[0].Handles[0].Value != "79995550301" {
		t.Fatalf("the card's contact: %+v", card.Contacts)
	}

	// Another portal's dialog is not found, whoever asks.
	b := r.secondPortal("0c4fa1d1e9a7466c8b8a5e1f2d3c4b5a")
	if s, _ := b.dialogAs(b.Admin, d.ID); s != http.StatusNotFound {
		t.Fatalf("another portal's dialog: %d", s)
	}
}

type retryMessage struct {
	ID          int64            `json:"id"`
	Kind        string           `json:"kind"`
	Text        string           `json:"text"`
	Status      string           `json:"status"`
	ClientID    *string          `json:"client_id"`
	Retried     bool             `json:"retried"`
	Attachments []attachmentJSON `json:"attachments"`
}

func (r *relayEnv) retry(token string, id int64) (int, retryMessage, apiError) {
	r.t.Helper()
	var raw json.RawMessage
	s := r.api("POST", "/api/v1/messages/"+itoa64(id)+"/retry", token, nil, &raw)
	var out struct {
		Message retryMessage `json:"message"`
	}
	var e apiError
	_ = json.Unmarshal(raw, &out)
	_ = json.Unmarshal(raw, &e)
	return s, out.Message, e
}

func (r *relayEnv) historyOf(token string, dialogID int64) []retryMessage {
	r.t.Helper()
	var out struct {
		Messages []retryMessage `json:"messages"`
	}
	if s := r.api("GET", "/api/v1/dialogs/"+itoa64(dialogID)+"/messages", token, nil, &out); s != http.StatusOK {
		r.t.Fatalf("history: %d", s)
	}
	return out.Messages
}

// A file reply the gateway refused is sent again with «Повторить»: a new
// message (client id retry:<id>) with the same file, sent once however
// often the retry is asked; the failed one stays, marked retried. A text
// retries the same way. The history shows every stored file's size.
// Another portal's message is 404, a sent one cannot be retried, and an
// employee without can_write may not retry.
func TestRetryFailedFileAndText(t *testing.T) {
	r := newRelayEnv(t)
	r.clientWrites(r.WA, "whatsapp", "79995550302", "Пришлите счёт")
	r.settle()
	d := r.dialogs(r.Sales)[0]
	_, doc, _ := r.upload(r.Sales, "счёт.pdf", "", pdfBytes)
	r.Acc.SetFault(&wztest.Fault{Status: 400, Body: `{"error":"CHANNEL_BLOCKED","description":"Channel is blocked"}`, Path: "/v3/message"})
	s, failed, e := r.sendFile(r.Sales, d.ID, doc.ID, "", "doc-1")
	if s != http.StatusAccepted {
		t.Fatalf("file reply: %d %+v", s, e)
	}
	r.settle()
	h := r.historyOf(r.Sales, d.ID)
	last := h[len(h)-1]
	if last.ID != failed.ID || last.Status != "error" || last.Retried {
		t.Fatalf("the refused file: %+v", last)
	}
	if len(last.Attachments) != 1 || last.Attachments[0]["size"] != itoaInt(len(pdfBytes)) {
		t.Fatalf("the file's size in the history: %+v", last.Attachments)
	}
	if n := len(r.Acc.Sent()); n != 0 {
		t.Fatalf("%d sent while refused", n)
	}

	// The retry, asked twice (a double click, a second tab): one message.
	s1, m1, e1 := r.retry(r.Sales, failed.ID)
	s2, m2, _ := r.retry(r.Sales, failed.ID)
	if s1 != http.StatusAccepted || s2 != http.StatusAccepted || m1.ID == 0 || m1.ID != m2.ID || m1.ID == failed.ID ||
		m1.ClientID == nil || *m1.ClientID != "retry:"+itoa64(failed.ID) || m1.Kind != "document" {
		t.Fatalf("retry: %d %d %+v %+v %+v", s1, s2, m1, m2, e1)
	}
	r.settle()
	sent := r.Acc.Sent()
	if len(sent) != 1 || sent[0].File == nil || !bytes.Equal(sent[0].File.Bytes, pdfBytes) || sent[0].File.Name != "счёт.pdf" {
		t.Fatalf("the retried file went out %d times: %+v", len(sent), sent)
	}
	h = r.historyOf(r.Sales, d.ID)
	var old, again retryMessage
	for _, m := range h {
		switch m.ID {
		case failed.ID:
			old = m
		case m1.ID:
			again = m
		}
	}
	if old.Status != "error" || !old.Retried || !sentOK(again.Status) || again.Retried {
		t.Fatalf("after the retry: failed %+v, retry %+v", old, again)
	}
	if s, _, _ := r.retry(r.Sales, failed.ID); s != http.StatusAccepted || len(r.Acc.Sent()) != 1 {
		t.Fatalf("a third retry sent again: %d, %d sent", s, len(r.Acc.Sent()))
	}

	// A text the same way.
	r.Acc.SetFault(&wztest.Fault{Status: 400, Body: `{"error":"CHANNEL_BLOCKED","description":"Channel is blocked"}`, Path: "/v3/message"})
	_, txt := r.reply(r.Sales, d.ID, "Счёт отправил", "txt-1")
	r.settle()
	if s, _, e := r.retry(r.Sales, txt.ID); s != http.StatusAccepted {
		t.Fatalf("text retry: %d %+v", s, e)
	}
	r.settle()
	if sent := r.Acc.Sent(); len(sent) != 2 || sent[1].Request.Text != "Счёт отправил" {
		t.Fatalf("the retried text: %+v", sent)
	}

	// What may not be retried.
	if s, _, e := r.retry(r.Sales, m1.ID); s != http.StatusConflict || e.Error.Code != "not_retriable" {
		t.Fatalf("retrying a sent message: %d %+v", s, e)
	}
	b := r.secondPortal("7e1d2c3b4a5968778695a4b3c2d1e0f9")
	if s, _, _ := b.retry(b.Admin, failed.ID); s != http.StatusNotFound {
		t.Fatalf("another portal's message: %d", s)
	}
	r.Acc.SetFault(&wztest.Fault{Status: 400, Body: `{"error":"CHANNEL_BLOCKED","description":"Channel is blocked"}`, Path: "/v3/message"})
	_, txt2 := r.reply(r.Sales, d.ID, "ещё раз", "txt-2")
	r.settle()
	r.setAccess("2", map[string]any{"visibility": "all", "can_write": false})
	if s, _, _ := r.retry(r.Sales, txt2.ID); s != http.StatusForbidden {
		t.Fatalf("a read-only employee's retry: %d", s)
	}
	if r.count(`SELECT count(*) FROM messages WHERE client_id = $1`, "retry:"+itoa64(txt2.ID)) != 0 {
		t.Fatal("a refused retry stored a message")
	}
}

// Uploads no reply took within a day are deleted by the periodic sweep; a
// sent one and a recent one stay; a reply with a file deleted meanwhile is
// refused (404 file_not_found) and stores nothing.
func TestUnsentUploadsAreDeleted(t *testing.T) {
	r := newRelayEnv(t)
	r.clientWrites(r.WA, "whatsapp", "79995550303", "Жду файлы")
	r.settle()
	d := r.dialogs(r.Sales)[0]
	_, sentDoc, _ := r.upload(r.Sales, "sent.pdf", "", pdfBytes)
	_, unsent, _ := r.upload(r.Sales, "unsent.pdf", "", pdfBytes)
	_, recent, _ := r.upload(r.Sales, "recent.pdf", "", pdfBytes)
	_, late, _ := r.upload(r.Sales, "late.pdf", "", pdfBytes)
	if s, _, e := r.sendFile(r.Sales, d.ID, sentDoc.ID, "", "sent-1"); s != http.StatusAccepted {
		t.Fatalf("send: %d %+v", s, e)
	}
	r.settle()
	old := time.Now().Add(-25 * time.Hour)
	if _, err := r.App.Store.DB().Exec(`UPDATE files SET created_at = $1 WHERE id IN ($2, $3, $4)`, old, sentDoc.ID, unsent.ID, late.ID); err != nil {
		t.Fatal(err)
	}
	if n := r.App.SweepUnsentFiles(r.ctx); n != 2 {
		t.Fatalf("the sweep deleted %d files, want 2 (unsent, late)", n)
	}
	left := map[int64]bool{}
	rows, err := r.App.Store.DB().Query(`SELECT id FROM files`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		_ = rows.Scan(&id)
		left[id] = true
	}
	rows.Close()
	if !left[sentDoc.ID] || !left[recent.ID] || left[unsent.ID] || left[late.ID] {
		t.Fatalf("files left: %v (sent %d, recent %d, unsent %d, late %d)", left, sentDoc.ID, recent.ID, unsent.ID, late.ID)
	}
	before := r.count(`SELECT count(*) FROM messages`)
	if s, _, e := r.sendFile(r.Sales, d.ID, late.ID, "", "late-1"); s != http.StatusNotFound || e.Error.Code != "file_not_found" {
		t.Fatalf("sending a deleted upload: %d %+v", s, e)
	}
	if r.count(`SELECT count(*) FROM messages`) != before {
		t.Fatal("a refused file reply stored a message")
	}
	// The sent file still opens from the history, and a second sweep
	// deletes nothing more.
	h := r.historyOf(r.Sales, d.ID)
	res, body := r.get(h[len(h)-1].Attachments[0]["url"])
	if res.StatusCode != http.StatusOK || !bytes.Equal(body, pdfBytes) {
		t.Fatalf("the sent file: %d", res.StatusCode)
	}
	if n := r.App.SweepUnsentFiles(r.ctx); n != 0 {
		t.Fatalf("a second sweep deleted %d", n)
	}
	// Another portal cannot send (and so cannot keep) this portal's upload.
	b := r.secondPortal("3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d")
	b.clientWrites(b.WA, "whatsapp", "79995550304", "Привет")
	b.settle()
	bd := b.dialogs(b.Admin)[0]
	if s, _, e := b.sendFile(b.Admin, bd.ID, recent.ID, "", "foreign-1"); s != http.StatusNotFound || e.Error.Code != "file_not_found" {
		t.Fatalf("another portal's upload: %d %+v", s, e)
	}
	var pending bool
	if err := r.App.Store.DB().Get(&pending, `SELECT pending FROM files WHERE id = $1`, recent.ID); err != nil || !pending {
		t.Fatalf("another portal's send touched the upload: pending %v, %v", pending, err)
	}
}

// Error pages a person sees are in his language, from the catalogue, with
// what he can do: the LANG of the URL, else the portal's, else the
// browser's Accept-Language; never the developer's English detail.
func TestErrorPagesTranslated(t *testing.T) {
	r := newRelayEnv(t)
	page := func(res *http.Response, body []byte, lang, code string) {
		t.Helper()
		text, _ := web.ErrorText(lang, code)
		b := html.UnescapeString(string(body))
		if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(b, text) ||
			!strings.Contains(b, web.Word(lang, "page_error_hint")) || !strings.Contains(b, `lang="`+lang+`"`) {
			t.Fatalf("want the %s page of %s, got %d %s", lang, code, res.StatusCode, b)
		}
	}
	res, body := r.get("/login?portal=nowhere.bitrix24.ru", "Accept-Language", "en-GB,en;q=0.9,ru;q=0.5")
	page(res, body, "en", "unknown_portal")
	res, body = r.get("/login?portal=nowhere.bitrix24.ru", "Accept-Language", "de-DE,ru;q=0.8,en;q=0.3")
	page(res, body, "ru", "unknown_portal")
	if strings.Contains(string(body), "is not installed on") {
		t.Fatal("the page shows the developer's English")
	}
	// A bad placement open of a portal whose language is English.
	if _, err := r.App.Store.DB().Exec(`UPDATE portals SET lang = 'en' WHERE id = $1`, r.PortalID); err != nil {
		t.Fatal(err)
	}
	s, b := r.postForm("/b24/placement", url.Values{"DOMAIN": {r.P.Domain()}},
		url.Values{"PLACEMENT": {"NO_SUCH_PLACEMENT"}, "member_id": {r.P.MemberID()}, "AUTH_ID": {"x"}})
	if s != http.StatusBadRequest {
		t.Fatalf("a bad placement: %d %s", s, b)
	}
	text, _ := web.ErrorText("en", "bad_placement")
	if !strings.Contains(html.UnescapeString(b), text) {
		t.Fatalf("the bad placement page is not the portal's English: %s", b)
	}
}

package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relay24/relay24/apptest"
	"github.com/relay24/relay24/automation"
	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/netguard"
	"github.com/relay24/relay24/placement"
	"github.com/relay24/relay24/wazzup/wztest"
)

// "Create dialog" for a client the employee sees may find the client's
// existing dialog on the channel; when that dialog is someone else's (its
// responsible person reassigned), it is 404 as any hidden dialog, not its
// Dialog JSON with the last message. A contact of another portal, or one he
// does not see, is 404 too, and the card's individual chat names such a
// contact without his phones.
func TestCreateDialogDoesNotOpenAHiddenDialog(t *testing.T) {
	r := newRelayEnv(t)
	tok := r.company()
	c7, d := r.clientOf(7, "79990007001")
	if _, err := r.App.Store.DB().Exec(`UPDATE dialogs SET responsible_id = 3 WHERE id = $1`, d); err != nil {
		t.Fatal(err)
	}
	if s, _ := r.dialogAs(tok[7], d); s != http.StatusNotFound {
		t.Fatalf("the reassigned dialog is visible to user 7: %d", s)
	}
	c3, _ := r.clientOf(3, "79990007003")
	wa := r.chans[r.WA.ChannelID]
	b := r.secondPortal("5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b")
	// A contact of portal B whose CRM id this portal's contacts do not have.
	bc := 0
	for bc == 0 || bc == c7 || bc == c3 {
		bc = b.P.AddContact(b24test.Contact{Name: "Чужой", AssignedByID: 1}).ID
	}
	if _, err := b.P.FireEvent(r.ctx, "ONCRMCONTACTADD", map[string]any{"FIELDS": map[string]any{"ID": strconv.Itoa(bc)}}, 1); err != nil {
		t.Fatal(err)
	}
	r.settle()
	for _, c := range []struct {
		name    string
		contact int
		code    string
	}{
		{"his client's dialog, now someone else's", c7, "dialog_not_found"},
		{"a client he does not see", c3, "contact_not_found"},
		{"another portal's client", bc, "contact_not_found"},
	} {
		var out struct {
			Dialog *dialogJSON `json:"dialog"`
			apiError
		}
		s := r.api("POST", "/api/v1/dialogs", tok[7], map[string]any{"contact_id": c.contact, "channel_id": wa}, &out)
		if s != http.StatusNotFound || out.Dialog != nil || out.Error.Code != c.code {
			t.Errorf("%s: %d %+v %+v, want 404 %s", c.name, s, out.Dialog, out.Error, c.code)
		}
	}

	// The individual chat of user 3's client, opened by user 7: the contact
	// is named, his phone is not.
	var card struct {
		Contacts []struct {
			ID      int64            `json:"id"`
			Handles []map[string]any `json:"handles"`
		} `json:"contacts"`
	}
	if s := r.api("GET", "/api/v1/dialogs?entity_type=contact&entity_id="+strconv.Itoa(c3), tok[7], nil, &card); s != http.StatusOK {
		t.Fatalf("individual chat: %d", s)
	}
	if len(card.Contacts) != 1 || len(card.Contacts[0].Handles) != 0 {
		t.Fatalf("a hidden contact's handles: %+v", card.Contacts)
	}
}

// The robot acts only within the portal whose application token the call
// carries: this portal's token under another portal's member_id is 401; a
// channel_id of another portal's channel, or a document the portal does not
// have, is reported to the workflow and sends nothing; a text with a control
// character is refused as a reply would be; another portal replaying this
// portal's event token runs its own call and does not stop this one.
func TestRobotStaysInItsPortal(t *testing.T) {
	r := newRelayEnv(t)
	r.settle()
	b := r.secondPortal("6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c")
	r.settle()
	const phone = "79161237001"
	_, deal := r.dealOf("Аудитова", phone)
	wa := strconv.FormatInt(r.chans[r.WA.ChannelID], 10)
	var bch int64
	if err := r.App.Store.DB().Get(&bch, `SELECT id FROM channels WHERE portal_id = $1 LIMIT 1`, b.PortalID); err != nil {
		t.Fatal(err)
	}
	bwa := strconv.FormatInt(bch, 10)

	swapped := r.runRobot(b24test.RobotCall{Document: dealDoc(deal.ID), MemberID: b.P.MemberID(),
		Properties: map[string]string{"channel_id": wa, "text": "Подмена"}})
	if swapped.Reply.Status != http.StatusUnauthorized {
		t.Fatalf("this portal's token under another portal's member_id: %d %s", swapped.Reply.Status, swapped.Reply.Body)
	}
	for _, c := range []struct {
		name  string
		doc   [3]string
		props map[string]string
		code  string
	}{
		{"another portal's channel", dealDoc(deal.ID), map[string]string{"channel_id": bwa, "text": "Через чужой канал"}, "robot_no_channel"},
		{"a deal the portal does not have", dealDoc(987654), map[string]string{"channel_id": wa, "text": "Нет сделки"}, "robot_no_contact"},
		{"a control character", dealDoc(deal.ID), map[string]string{"channel_id": wa, "text": "Звонок\x07\x1b[31m"}, "invalid_text"},
	} {
		call := r.runRobot(b24test.RobotCall{Document: c.doc, Properties: c.props})
		if call.Reply.Status != http.StatusOK {
			t.Fatalf("%s: answered %d %s", c.name, call.Reply.Status, call.Reply.Body)
		}
		r.untilReported(call.EventToken)
		if rep := reports(r.P, call.EventToken); len(rep) != 1 || rep[0].ReturnValues["status"] != c.code || rep[0].ReturnValues["message_id"] != "" {
			t.Errorf("%s: %+v, want %s", c.name, rep, c.code)
		}
	}
	if n := len(b.Acc.Sent()) + len(r.Acc.Sent()); n != 0 {
		t.Fatalf("refused robot calls sent %d messages", n)
	}

	// This portal's call goes; portal B then replays its event token on a
	// deal of its own: B's call is B's (its channel; its portal refuses the
	// report), and this portal's call is neither sent nor reported again.
	call := r.runRobot(b24test.RobotCall{Document: dealDoc(deal.ID), Properties: map[string]string{"channel_id": wa, "text": "От А"}})
	r.untilReported(call.EventToken)
	_, bdeal := b.dealOf("Бэ", "79161237002")
	bcall := b.runRobot(b24test.RobotCall{Document: dealDoc(bdeal.ID), EventToken: call.EventToken,
		Properties: map[string]string{"channel_id": bwa, "text": "От Б"}})
	if bcall.Reply.Status != http.StatusOK {
		t.Fatalf("B's call: %d %s", bcall.Reply.Status, bcall.Reply.Body)
	}
	for i := 0; i < 100 && r.count(`SELECT count(*) FROM robot_runs WHERE portal_id = $1 AND reported_at IS NOT NULL`, b.PortalID) == 0; i++ {
		r.drain()
		r.WZ.Wait()
		time.Sleep(50 * time.Millisecond)
	}
	r.settle()
	if rep := reports(r.P, call.EventToken); len(rep) != 1 || rep[0].ReturnValues["status"] != "sent" {
		t.Fatalf("A's reports: %+v", rep)
	}
	if sent := sentTo(r.Acc, phone); len(sent) != 1 || sent[0].Request.Text != "От А" {
		t.Fatalf("A sent %+v", sent)
	}
	if sent := b.Acc.Sent(); len(sent) != 1 || sent[0].Request.Text != "От Б" {
		t.Fatalf("B sent %+v", sent)
	}
}

// Templates stay in their portal: another portal's approved template is
// 404 template_not_found on this portal's dialog (nothing stored or sent),
// and another portal's gateway's templateStatus webhook naming this
// portal's template changes nothing here. An employee without can_write
// may not send a template; 10 000 values or a huge one are refused.
func TestTemplatesStayInTheirPortal(t *testing.T) {
	w := newWABAEnv(t)
	const chat = "79995557001"
	d := w.wrote(chat, "Здравствуйте")
	const bKey = "7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d"
	b := w.secondPortal(bKey)
	bWABA := b.Acc.AddChannel("wapi", "79865784470", "B WABA")
	bTpl := b.Acc.AddTemplate(wztest.Template{Title: "Чужой", Name: "b_only", Status: "approved", Language: "ru",
		Channels: []string{bWABA.ChannelID}, Components: []wztest.TemplateComponent{{Type: "BODY", Text: "Шаблон портала Б"}}})
	if s := w.api("POST", "/api/v1/channels", b.Admin, map[string]string{"provider": "wazzup", "api_key": bKey}, nil); s != http.StatusCreated {
		t.Fatalf("reconnect B: %d", s)
	}
	w.settle()
	if n := w.count(`SELECT count(*) FROM waba_templates WHERE portal_id = $1 AND guid = $2 AND status = 'approved'`, b.PortalID, bTpl.GUID); n != 1 {
		t.Fatalf("B's template not cached: %d", n)
	}

	before := w.count(`SELECT count(*) FROM messages`)
	sent := len(w.Acc.Sent()) + len(b.Acc.Sent())
	big := make([]string, 10000)
	for i := range big {
		big[i] = "x"
	}
	for _, c := range []struct {
		name   string
		guid   string
		values []string
		status int
		code   string
	}{
		{"another portal's template", bTpl.GUID, []string{}, http.StatusNotFound, "template_not_found"},
		{"10 000 values", w.Ready.GUID, big, http.StatusBadRequest, "template_values_count"},
		{"a huge value", w.Ready.GUID, []string{"Анна", strings.Repeat("я", 5000)}, http.StatusBadRequest, "text_too_long"},
		{"a control character", w.Ready.GUID, []string{"Анна", "A\x1b[2J"}, http.StatusBadRequest, "invalid_text"},
	} {
		if s, _, e := w.sendTemplate(w.Sales, d.ID, c.guid, c.values, "audit-"+c.name); s != c.status || e.Error.Code != c.code {
			t.Errorf("%s: %d %+v, want %d %s", c.name, s, e, c.status, c.code)
		}
	}
	w.setAccess("2", map[string]any{"visibility": "all", "can_write": false})
	if s, _, e := w.sendTemplate(w.Sales, d.ID, w.Ready.GUID, []string{"Анна", "A-1"}, "audit-ro"); s != http.StatusForbidden {
		t.Errorf("a read-only employee's template: %d %+v", s, e)
	}
	w.settle()
	if n := w.count(`SELECT count(*) FROM messages`); n != before {
		t.Fatalf("refused templates stored %d messages", n-before)
	}
	if n := len(w.Acc.Sent()) + len(b.Acc.Sent()); n != sent {
		t.Fatalf("refused templates sent %d", n-sent)
	}

	// B's gateway names this portal's template in its webhook.
	if err := b.Acc.PostTemplateStatus(w.ctx, w.Ready.GUID, "order_ready", "REJECTED"); err != nil {
		t.Fatal(err)
	}
	w.settle()
	if n := w.count(`SELECT count(*) FROM waba_templates WHERE portal_id = $1 AND guid = $2 AND status = 'approved'`, w.PortalID, w.Ready.GUID); n != 1 {
		t.Fatal("another portal's webhook changed this portal's template")
	}
	w.setAccess("2", map[string]any{"visibility": "all", "can_write": true})
	if s, _, e := w.sendTemplate(w.Sales, d.ID, w.Ready.GUID, []string{"Анна", "A-1"}, "audit-ok"); s != http.StatusAccepted {
		t.Fatalf("this portal's template after B's webhook: %d %+v", s, e)
	}

	// The robot with B's template on this portal's WABA channel: refused,
	// told to the workflow, nothing sent.
	const phone = "79161237003"
	_, deal := w.dealOf("Шаблонная", phone)
	call := w.runRobot(b24test.RobotCall{Document: dealDoc(deal.ID),
		Properties: map[string]string{"channel_id": strconv.FormatInt(w.chans[w.WABA.ChannelID], 10), "template_id": bTpl.GUID}})
	w.untilReported(call.EventToken)
	if rep := reports(w.P, call.EventToken); len(rep) != 1 || rep[0].ReturnValues["status"] != "template_not_found" {
		t.Fatalf("the robot with another portal's template: %+v", rep)
	}
	if n := len(sentTo(w.Acc, phone)) + len(b.Acc.Sent()); n != 0 {
		t.Fatalf("the robot sent %d with another portal's template", n)
	}
}

// «Повторить» is for a failed reply only, by whom may write in its dialog:
// a client's message is 409 not_retriable; a colleague's failed reply in a
// dialog a quality controller sees but may not write in is 403; twenty
// retries at once are one new message, sent once.
func TestRetryAttacks(t *testing.T) {
	r := newRelayEnv(t)
	tok := r.company() // 9: sees all, may not write
	r.clientWrites(r.WA, "whatsapp", "79995557101", "Пришлите счёт")
	r.settle()
	d := r.dialogs(r.Sales)[0]
	var incoming int64
	if err := r.App.Store.DB().Get(&incoming, `SELECT id FROM messages WHERE dialog_id = $1 AND direction = 'in'`, d.ID); err != nil {
		t.Fatal(err)
	}
	if s, _, e := r.retry(r.Sales, incoming); s != http.StatusConflict || e.Error.Code != "not_retriable" {
		t.Fatalf("retrying the client's message: %d %+v", s, e)
	}
	r.Acc.SetFault(&wztest.Fault{Status: 400, Body: `{"error":"CHANNEL_BLOCKED","description":"Channel is blocked"}`, Path: "/v3/message"})
	_, failed := r.reply(r.Sales, d.ID, "Счёт во вложении", "storm-1")
	r.settle()
	if st := r.count(`SELECT count(*) FROM messages WHERE id = $1 AND status = 'error'`, failed.ID); st != 1 {
		t.Fatalf("the reply did not fail")
	}
	if s, _ := r.dialogAs(tok[9], d.ID); s != http.StatusOK {
		t.Fatalf("the controller does not see the dialog: %d", s)
	}
	if s, _, _ := r.retry(tok[9], failed.ID); s != http.StatusForbidden {
		t.Fatalf("a read-only colleague's retry: %d", s)
	}
	sentBefore := len(r.Acc.Sent())
	const n = 20
	ids := make([]int64, n)
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var out struct {
				Message struct {
					ID int64 `json:"id"`
				} `json:"message"`
			}
			codes[i] = r.api("POST", "/api/v1/messages/"+itoa64(failed.ID)+"/retry", r.Sales, nil, &out)
			ids[i] = out.Message.ID
		})
	}
	wg.Wait()
	for i := range n {
		if codes[i] != http.StatusAccepted || ids[i] == 0 || ids[i] != ids[0] {
			t.Fatalf("retry %d: %d message %d (first %d)", i, codes[i], ids[i], ids[0])
		}
	}
	r.settle()
	if c := r.count(`SELECT count(*) FROM messages WHERE client_id = $1`, "retry:"+itoa64(failed.ID)); c != 1 {
		t.Fatalf("%d retry messages", c)
	}
	if c := len(r.Acc.Sent()) - sentBefore; c != 1 {
		t.Fatalf("the retry went out %d times", c)
	}
}

// A preview picture's signed link is bound to the portal it was made for:
// the same link with another portal's p= is 404 and fetches nothing.
func TestPreviewImageLinkBoundToPortal(t *testing.T) {
	var imageHits atomic.Int32
	gif := []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cover" {
			imageHits.Add(1)
			w.Write(gif)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<html><head><title>Витрина</title><meta property="og:image" content="/cover"></head></html>`)
	}))
	defer site.Close()
	siteURL, _ := url.Parse(site.URL)
	e := newEnvOptions(t, apptest.Options{Workers: -1, BeforeStart: func(s *apptest.Server) {
		s.App.Links.Fetcher.SetTrusted(netguard.TrustOnly(siteURL.Host))
	}})
	pa, pb := e.installedPortal(), e.installedPortal()
	var out linkPreviewJSON
	if s := e.api("GET", "/api/v1/link-preview?url="+url.QueryEscape(site.URL+"/shop"), e.session(pa, placement.LeftMenu, nil, 2), nil, &out); s != http.StatusOK ||
		out.Preview == nil || out.Preview.Image == "" {
		t.Fatalf("card: %d %+v", s, out)
	}
	link, err := url.Parse(out.Preview.Image)
	if err != nil {
		t.Fatal(err)
	}
	fetch := func(l *url.URL) int {
		res, err := http.Get(e.URL + l.String())
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	q := link.Query()
	if q.Get("p") != itoa64(e.portalID(pa)) {
		t.Fatalf("the link names portal %s", q.Get("p"))
	}
	q.Set("p", itoa64(e.portalID(pb)))
	swapped := *link
	swapped.RawQuery = q.Encode()
	if s := fetch(&swapped); s != http.StatusNotFound || imageHits.Load() != 0 {
		t.Fatalf("another portal's p=: %d, picture fetched %d times", s, imageHits.Load())
	}
	if s := fetch(link); s != http.StatusOK || imageHits.Load() != 1 {
		t.Fatalf("the genuine link: %d", s)
	}
}

// Hostile robot bodies: over the body limit (without a declared length) is
// 413, as a form or as JSON; a JSON call whose event token or text holds a
// NUL (which the form path refuses up front) is 400 and records nothing.
func TestRobotHostileBodies(t *testing.T) {
	r := newRelayEnv(t)
	r.settle()
	_, deal := r.dealOf("Враждебная", "79161237004")
	wa := strconv.FormatInt(r.chans[r.WA.ChannelID], 10)
	post := func(ct string, body string) (int, string) {
		// No Content-Length: the cap must cut the stream itself.
		req, _ := http.NewRequest("POST", r.URL+"/b24/robot", struct{ io.Reader }{strings.NewReader(body)})
		req.Header.Set("Content-Type", ct)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	call := func(token, text string) string {
		b, _ := json.Marshal(map[string]any{"event_token": token, "code": automation.RobotCode,
			"document_id": []string{"crm", "CCrmDocumentDeal", "DEAL_" + strconv.Itoa(deal.ID)},
			"properties":  map[string]string{"channel_id": wa, "text": text},
			"auth":        map[string]string{"member_id": r.P.MemberID(), "application_token": r.P.ApplicationToken()}})
		return string(b)
	}
	form := url.Values{"auth[member_id]": {r.P.MemberID()}, "auth[application_token]": {r.P.ApplicationToken()}, "event_token": {"a|A1_2_3_4|b"},
		"document_id[0]": {"crm"}, "document_id[1]": {"CCrmDocumentDeal"}, "document_id[2]": {"DEAL_" + strconv.Itoa(deal.ID)},
		"properties[channel_id]": {wa}, "properties[text]": {strings.Repeat("я", 1<<20)}}
	for _, c := range []struct {
		name, ct, body string
		status         int
	}{
		{"a 2 MB form", "application/x-www-form-urlencoded", form.Encode(), http.StatusRequestEntityTooLarge},
		{"2 MB of JSON", "application/json", call("a|A1_2_3_4|b", strings.Repeat("я", 1<<20)), http.StatusRequestEntityTooLarge},
		{"a NUL in the event token", "application/json", call("a|A1_2_3_4|b\x00", "Привет"), http.StatusBadRequest},
		{"a NUL in the text", "application/json", call("a|A1_2_3_4|c", "При\x00вет"), http.StatusBadRequest},
	} {
		if s, body := post(c.ct, c.body); s != c.status {
			t.Errorf("%s: %d %.200s, want %d", c.name, s, body, c.status)
		}
	}
	if n := r.count(`SELECT count(*) FROM robot_runs`); n != 0 {
		t.Fatalf("%d robot calls recorded", n)
	}
}

// An employee limited to one channel: the channels list offers only it for
// writing (the admin still sees every channel, each writable), and "Create
// dialog" on another channel is 404 channel_not_found, creating nothing.
func TestChannelRestrictedWriter(t *testing.T) {
	r := newRelayEnv(t)
	c := r.P.AddContact(b24test.Contact{Name: "Ограниченный", AssignedByID: 2,
		Phones: []b24test.Multi{{TypeID: "PHONE", ValueType: "MOBILE", Value: "79995557201"}}})
	if _, err := r.P.FireEvent(r.ctx, "ONCRMCONTACTADD", map[string]any{"FIELDS": map[string]any{"ID": strconv.Itoa(c.ID)}}, 1); err != nil {
		t.Fatal(err)
	}
	r.settle()
	wa, ig := r.chans[r.WA.ChannelID], r.chans[r.IG.ChannelID]
	r.setAccess("2", map[string]any{"visibility": "all", "can_write": true, "channel_ids": []int64{wa}})
	type chanJSON struct {
		ID       int64 `json:"id"`
		CanWrite bool  `json:"can_write"`
	}
	list := func(token string) map[int64]bool {
		var out struct {
			Channels []chanJSON `json:"channels"`
		}
		if s := r.api("GET", "/api/v1/channels", token, nil, &out); s != http.StatusOK {
			t.Fatalf("channels: %d", s)
		}
		m := map[int64]bool{}
		for _, ch := range out.Channels {
			m[ch.ID] = ch.CanWrite
		}
		return m
	}
	if got := list(r.Sales); len(got) != 1 || !got[wa] {
		t.Fatalf("a WhatsApp-only employee's channels: %v (wa %d)", got, wa)
	}
	if got := list(r.Admin); !got[wa] || !got[ig] {
		t.Fatalf("the admin's channels: %v", got)
	}
	before := r.count(`SELECT count(*) FROM dialogs`)
	var out apiError
	if s := r.api("POST", "/api/v1/dialogs", r.Sales, map[string]any{"contact_id": c.ID, "channel_id": ig, "chat_id": "ogr.ig"}, &out); s != http.StatusNotFound ||
		out.Error.Code != "channel_not_found" {
		t.Fatalf("a dialog on a channel he may not use: %d %+v", s, out)
	}
	if n := r.count(`SELECT count(*) FROM dialogs`); n != before {
		t.Fatal("a refused dialog was created")
	}
}

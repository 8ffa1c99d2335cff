package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/placement"
	"github.com/relay24/relay24/relay"
	"github.com/relay24/relay24/wazzup/wztest"
	"github.com/relay24/relay24/web"
)

// relayEnv is an installed, synced portal with a connected Wazzup account
// (a WhatsApp and an Instagram channel).
type relayEnv struct {
	*env
	P        *b24test.Portal
	Acc      *wztest.Account
	WA, IG   wztest.Channel
	Admin    string // admin session
	Sales    string // salesperson (user 2) session
	PortalID int64
	chans    map[string]int64 // external id → relay24 channel id
}

func newRelayEnv(t testing.TB) *relayEnv { return newRelayEnvWorkers(t, -1) }

func newRelayEnvWorkers(t testing.TB, workers int) *relayEnv {
	t.Helper()
	e := newEnvWorkers(t, workers)
	p := e.installedPortal()
	e.App.Sync.Coalesce = time.Millisecond
	e.App.Relay.SetNotifyDelay(time.Millisecond)
	e.drain()
	r := &relayEnv{env: e, P: p, PortalID: e.portalID(p), chans: map[string]int64{}}
	r.Acc = e.WZ.AddAccount("c8cf90444023482f909520d454368d27")
	r.WA = r.Acc.AddChannel("whatsapp", "79865784457", "Sales WhatsApp")
	r.IG = r.Acc.AddChannel("instagram", "shop.official", "Shop Instagram")
	r.Admin = e.session(p, placement.LeftMenu, nil, 1)
	r.Sales = e.session(p, placement.LeftMenu, nil, 2)
	var res struct {
		Channels []struct {
			ID         int64  `json:"id"`
			ExternalID string `json:"external_id"`
			Transport  string `json:"transport"`
			State      string `json:"state"`
		} `json:"channels"`
	}
	if s := e.api("POST", "/api/v1/channels", r.Admin, map[string]string{"provider": "wazzup", "api_key": "c8cf90444023482f909520d454368d27"}, &res); s != http.StatusCreated {
		t.Fatalf("connect wazzup: %d", s)
	}
	if len(res.Channels) != 2 {
		t.Fatalf("connected channels: %+v", res.Channels)
	}
	for _, c := range res.Channels {
		r.chans[c.ExternalID] = c.ID
		if c.State != "active" {
			t.Fatalf("channel %+v not active", c)
		}
	}
	if r.chans[r.WA.ChannelID] == 0 || r.chans[r.IG.ChannelID] == 0 {
		t.Fatalf("connected channels %+v, want the account's %s and %s", res.Channels, r.WA.ChannelID, r.IG.ChannelID)
	}
	return r
}

type dialogJSON struct {
	ID      int64 `json:"id"`
	Channel struct {
		ID        int64  `json:"id"`
		Transport string `json:"transport"`
	} `json:"channel"`
	ChatType string `json:"chat_type"`
	ChatID   string `json:"chat_id"`
	Contact  *struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	} `json:"contact"`
	Unanswered      bool       `json:"unanswered"`
	UnansweredSince *time.Time `json:"unanswered_since"`
	LastMessage     *struct {
		Text      string `json:"text"`
		Direction string `json:"direction"`
	} `json:"last_message"`
	Initial *bool `json:"initial"`
}

type messageJSON struct {
	ID        int64  `json:"id"`
	Direction string `json:"direction"`
	Text      string `json:"text"`
	Status    string `json:"status"`
	Error     *string
	Author    *struct{ ID int64 }
}

func (r *relayEnv) dialogs(token string) []dialogJSON {
	r.t.Helper()
	var out struct {
		Dialogs []dialogJSON `json:"dialogs"`
	}
	if s := r.api("GET", "/api/v1/dialogs", token, nil, &out); s != http.StatusOK {
		r.t.Fatalf("dialogs: %d", s)
	}
	return out.Dialogs
}

func (r *relayEnv) messages(token string, dialogID int64) []messageJSON {
	r.t.Helper()
	var out struct {
		Messages []messageJSON `json:"messages"`
	}
	if s := r.api("GET", "/api/v1/dialogs/"+strconv.FormatInt(dialogID, 10)+"/messages", token, nil, &out); s != http.StatusOK {
		r.t.Fatalf("messages: %d", s)
	}
	return out.Messages
}

func (r *relayEnv) clientWrites(ch wztest.Channel, chatType, chatID, text string) string {
	r.t.Helper()
	id, err := r.Acc.ClientWrites(r.ctx, ch.ChannelID, chatType, chatID, wztest.Incoming{Text: text, ContactName: "Client " + chatID})
	if err != nil {
		r.t.Fatalf("client writes: %v", err)
	}
	return id
}

// settle runs jobs until the emulators and the queue are quiet.
func (r *relayEnv) settle() {
	r.t.Helper()
	for i := 0; i < 20; i++ {
		r.drain()
		r.WZ.Wait()
		time.Sleep(5 * time.Millisecond)
	}
	r.drain()
}

func TestUnknownNumberBecomesContactAndDealAndWaitsOnTop(t *testing.T) {
	r := newRelayEnv(t)
	contactsBefore, dealsBefore := r.P.Contacts(), r.P.Deals()
	r.clientWrites(r.WA, "whatsapp", "79995550101", "Здравствуйте! Сколько стоит доставка?")
	r.settle()

	if r.P.Contacts() != contactsBefore+1 || r.P.Deals() != dealsBefore+1 {
		t.Fatalf("portal has %d contacts (+%d), %d deals (+%d)", r.P.Contacts(), r.P.Contacts()-contactsBefore, r.P.Deals(), r.P.Deals()-dealsBefore)
	}
	ds := r.dialogs(r.Admin)
	if len(ds) != 1 || !ds[0].Unanswered || ds[0].Contact == nil || ds[0].ChatID != "79995550101" || ds[0].UnansweredSince == nil {
		t.Fatalf("general chat: %+v", ds)
	}
	c, ok := r.P.Contact(int(ds[0].Contact.ID))
	if !ok || len(c.Phones) != 1 || !strings.Contains(c.Phones[0].Value, "79995550101") {
		t.Fatalf("created contact %+v", c)
	}
	// The deal is in the default pipeline's first stage, with the contact.
	var found *b24test.Deal
	for id := r.P.Deals() + 50; id > 0; id-- {
		if d, ok := r.P.Deal(id); ok && len(d.ContactIDs) > 0 && d.ContactIDs[0] == c.ID {
			found = &d
			break
		}
	}
	if found == nil || found.CategoryID != 0 || found.StageID != "NEW" || found.AssignedByID == 0 {
		t.Fatalf("created deal %+v", found)
	}
	// The message is on the deal's timeline, and the responsible person was told once.
	tl := r.P.Timeline()
	if len(tl) != 1 || !strings.Contains(tl[0].Text, "Сколько стоит доставка") {
		t.Fatalf("timeline %+v", tl)
	}
	notes := r.P.Notifications()
	if len(notes) != 1 || notes[0].ToUserID != found.AssignedByID {
		t.Fatalf("notifications %+v (responsible %d)", notes, found.AssignedByID)
	}

	// A second client waits too: the newest unanswered is on top; an answered one goes below.
	r.clientWrites(r.IG, "instagram", "buyer.two", "Hi")
	r.settle()
	ds = r.dialogs(r.Admin)
	if len(ds) != 2 || ds[0].ChatID != "buyer.two" || !ds[0].Unanswered || !ds[1].Unanswered {
		t.Fatalf("two waiting: %+v", ds)
	}
	r.reply(r.Admin, ds[0].ID, "Hello!", "c-1")
	r.settle()
	ds = r.dialogs(r.Admin)
	if ds[0].ChatID != "79995550101" || !ds[0].Unanswered || ds[1].Unanswered {
		t.Fatalf("answered dialog still above a waiting one: %+v", ds)
	}
}

func (r *relayEnv) reply(token string, dialogID int64, text, clientID string) (int, messageJSON) {
	r.t.Helper()
	var out struct {
		Message messageJSON `json:"message"`
	}
	s := r.api("POST", "/api/v1/dialogs/"+strconv.FormatInt(dialogID, 10)+"/messages", token, map[string]string{"text": text, "client_id": clientID}, &out)
	return s, out.Message
}

func TestKnownNumberAttachesToItsContact(t *testing.T) {
	r := newRelayEnv(t)
	known := r.P.AddContact(b24test.Contact{Name: "Ирина", LastName: "Известная", AssignedByID: 2,
		Phones: []b24test.Multi{{TypeID: "PHONE", ValueType: "MOBILE", Value: "8 (912) 345-67-89"}}})
	if _, err := r.P.FireEvent(r.ctx, "ONCRMCONTACTADD", map[string]any{"FIELDS": map[string]any{"ID": strconv.Itoa(known.ID)}}, 1); err != nil {
		t.Fatal(err)
	}
	r.settle()
	before := r.P.Contacts()
	r.P.ResetCalls()
	r.clientWrites(r.WA, "whatsapp", "79123456789", "Это Ирина")
	r.settle()
	if r.P.Contacts() != before {
		t.Fatal("a known client got a new contact")
	}
	if n := methodCalls(r.P, "crm.duplicate.findbycomm"); n != 0 {
		t.Fatalf("the portal was asked %d times for a client the mirror knows", n)
	}
	ds := r.dialogs(r.Sales)
	if len(ds) != 1 || ds[0].Contact == nil || ds[0].Contact.ID != int64(known.ID) {
		t.Fatalf("dialog %+v, want contact %d", ds, known.ID)
	}
}

func TestRedeliveredWebhookIsOneMessage(t *testing.T) {
	r := newRelayEnv(t)
	r.clientWrites(r.WA, "whatsapp", "79995550102", "once")
	r.settle()
	var body []byte
	for _, d := range r.Acc.Deliveries() {
		if strings.Contains(string(d.Body), `"once"`) {
			body = d.Body
		}
	}
	if body == nil {
		t.Fatal("no delivery recorded")
	}
	for i := 0; i < 3; i++ {
		if s, err := r.Acc.PostRaw(r.ctx, body); err != nil || s != http.StatusOK {
			t.Fatalf("redelivery: %d %v", s, err)
		}
	}
	r.settle()
	ds := r.dialogs(r.Admin)
	if len(ds) != 1 {
		t.Fatalf("%d dialogs", len(ds))
	}
	if ms := r.messages(r.Admin, ds[0].ID); len(ms) != 1 {
		t.Fatalf("%d messages after redeliveries", len(ms))
	}
	if n := len(r.P.Timeline()); n != 1 {
		t.Fatalf("%d timeline entries", n)
	}
}

func TestReplyGoesOutOnceWithStatuses(t *testing.T) {
	r := newRelayEnv(t)
	r.clientWrites(r.WA, "whatsapp", "79995550103", "Есть в наличии?")
	r.settle()
	d := r.dialogs(r.Sales)[0]
	s1, m1 := r.reply(r.Sales, d.ID, "Да, есть", "click-1")
	s2, m2 := r.reply(r.Sales, d.ID, "Да, есть", "click-1")
	if s1 != http.StatusAccepted || s2 != http.StatusAccepted || m1.ID != m2.ID || m1.Status != "pending" {
		t.Fatalf("double click: %d %d %+v %+v", s1, s2, m1, m2)
	}
	r.settle()
	sent := r.Acc.Sent()
	if len(sent) != 1 {
		t.Fatalf("%d messages sent", len(sent))
	}
	req := sent[0].Request
	if req.ChannelID != r.WA.ChannelID || req.ChatType != "whatsapp" || req.ChatID != "79995550103" || req.Text != "Да, есть" ||
		req.CrmMessageID == "" || req.CrmUserID != "2" {
		t.Fatalf("sent %+v", req)
	}
	ms := r.messages(r.Sales, d.ID)
	if len(ms) != 2 || ms[1].Status != "read" || ms[1].Direction != "out" {
		t.Fatalf("messages after statuses: %+v", ms)
	}
	if r.dialogs(r.Sales)[0].Unanswered {
		t.Fatal("an answered dialog is still unanswered")
	}
}

func TestEchoAndNoReplyNeededEndTheWait(t *testing.T) {
	r := newRelayEnv(t)
	r.clientWrites(r.WA, "whatsapp", "79995550104", "Алло?")
	r.settle()
	d := r.dialogs(r.Sales)[0]
	if !d.Unanswered {
		t.Fatal("not waiting")
	}
	// The salesperson answers from the phone: the echo ends the wait.
	if _, err := r.Acc.PhoneWrites(r.ctx, r.WA.ChannelID, "whatsapp", "79995550104", "Перезвоню"); err != nil {
		t.Fatal(err)
	}
	r.settle()
	if r.dialogs(r.Sales)[0].Unanswered {
		t.Fatal("the phone's echo did not end the wait")
	}
	r.clientWrites(r.WA, "whatsapp", "79995550104", "Спасибо")
	r.settle()
	if !r.dialogs(r.Sales)[0].Unanswered {
		t.Fatal("a new client message did not start a wait")
	}
	// Viewing changes nothing.
	r.messages(r.Sales, d.ID)
	if !r.dialogs(r.Sales)[0].Unanswered {
		t.Fatal("viewing ended the wait")
	}
	if s := r.api("POST", "/api/v1/dialogs/"+strconv.FormatInt(d.ID, 10)+"/no-reply-needed", r.Sales, nil, nil); s != http.StatusOK {
		t.Fatalf("no-reply-needed: %d", s)
	}
	if r.dialogs(r.Sales)[0].Unanswered {
		t.Fatal("no reply needed did not end the wait")
	}
	if ms := r.messages(r.Sales, d.ID); len(ms) != 3 || ms[1].Direction != "out" {
		t.Fatalf("history %+v", ms)
	}
}

func TestTimelineLandsOnceUnderATinyRateLimit(t *testing.T) {
	r := newRelayEnv(t)
	// The portal's bucket is tiny and relay24 is told a far larger one: it
	// meets QUERY_LIMIT_EXCEEDED constantly and must still write each once.
	r.P.SetLimit(3, 20)
	burst, rate := 50, 100.0
	if err := r.App.Store.SetPortalRateLimit(r.ctx, r.PortalID, &burst, &rate); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		r.clientWrites(r.WA, "whatsapp", "79995550105", "сообщение "+strconv.Itoa(i))
	}
	r.settle()
	tl := r.P.Timeline()
	seen := map[string]int{}
	for _, e := range tl {
		for i := 0; i < 30; i++ {
			if strings.Contains(e.Text, "сообщение "+strconv.Itoa(i)+"\n") {
				seen[strconv.Itoa(i)]++
			}
		}
	}
	if len(tl) != 30 || len(seen) != 30 {
		t.Fatalf("%d timeline entries covering %d messages", len(tl), len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("message %s on the timeline %d times", k, n)
		}
	}
	if n := len(r.P.Notifications()); n != 1 {
		t.Fatalf("a burst of 30 messages made %d notifications", n)
	}
}

func TestBadWebhooks(t *testing.T) {
	r := newRelayEnv(t)
	hook := r.Acc.Webhook()
	if !strings.HasPrefix(hook, r.URL+"/webhooks/wazzup/") {
		t.Fatalf("registered webhook %q", hook)
	}
	post := func(url, body string) int {
		res, err := http.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	jobsBefore := r.count(`SELECT count(*) FROM jobs WHERE kind = 'inbound.wazzup'`)
	cases := []struct {
		name, url, body string
		status          int
	}{
		{"malformed JSON", hook, `{"messages": [`, 400},
		{"not an object", hook, `[1,2,3]`, 400},
		{"unknown key", r.URL + "/webhooks/wazzup/0123456789abcdef", `{"messages":[]}`, 404},
		{"oversized", hook, `{"x":"` + strings.Repeat("a", 2<<20) + `"}`, 413},
	}
	for _, c := range cases {
		if s := post(c.url, c.body); s != c.status {
			t.Errorf("%s: %d, want %d", c.name, s, c.status)
		}
	}
	if n := r.count(`SELECT count(*) FROM jobs WHERE kind = 'inbound.wazzup'`); n != jobsBefore {
		t.Fatalf("bad webhooks stored %d jobs", n-jobsBefore)
	}
	// An event kind relay24 does not know is stored, acknowledged and ignored.
	if s := post(hook, `{"somethingNew":{"a":1}}`); s != 200 {
		t.Fatalf("unknown kind: %d", s)
	}
	r.settle()
	if n := r.count(`SELECT count(*) FROM jobs WHERE kind = 'inbound.wazzup' AND state = 'done'`); n != jobsBefore+1 {
		t.Fatalf("unknown kind not stored and processed")
	}
}

func TestTextLimitsAndPermanentSendErrors(t *testing.T) {
	r := newRelayEnv(t)
	r.clientWrites(r.IG, "instagram", "long.reader", "hi")
	r.settle()
	d := r.dialogs(r.Admin)[0]
	if s, _ := r.reply(r.Admin, d.ID, strings.Repeat("я", 1001), "long"); s != http.StatusBadRequest {
		t.Fatalf("1001 characters to Instagram: %d", s)
	}
	if s, _ := r.reply(r.Admin, d.ID, strings.Repeat("я", 1000), "ok-len"); s != http.StatusAccepted {
		t.Fatalf("1000 characters to Instagram: %d", s)
	}
	if s, _ := r.reply(r.Admin, d.ID, "   ", "blank"); s != http.StatusBadRequest {
		t.Fatalf("blank: %d", s)
	}
	if s, _ := r.reply(r.Admin, d.ID, "no id", ""); s != http.StatusBadRequest {
		t.Fatalf("no client_id: %d", s)
	}
	r.settle()
	// The gateway refuses the next one for good: the error is visible.
	r.Acc.SetFault(&wztest.Fault{Status: 400, Body: `{"error":"CHANNEL_BLOCKED","description":"Channel is blocked"}`, Path: "/v3/message"})
	r.reply(r.Admin, d.ID, "blocked?", "b-1")
	r.settle()
	ms := r.messages(r.Admin, d.ID)
	last := ms[len(ms)-1]
	if last.Status != "error" || last.Error == nil || !strings.Contains(*last.Error, "CHANNEL_BLOCKED") {
		t.Fatalf("refused message: %+v", last)
	}
	// …in the reader's words, with the gateway's own kept for support.
	if e := *last.Error; !strings.HasPrefix(e, web.Word("ru", "err_send_refused")+" (") && !strings.HasPrefix(e, web.Word("en", "err_send_refused")+" (") {
		t.Fatalf("the refusal is not said in the interface's words: %q", e)
	}
	// A temporary failure is retried and goes out once.
	r.Acc.SetFault(&wztest.Fault{Status: 503, Path: "/v3/message"})
	r.reply(r.Admin, d.ID, "retry me", "r-1")
	r.drain()
	if _, err := r.App.Store.DB().Exec(`UPDATE jobs SET run_at = now() WHERE kind = 'send.message' AND state = 'ready'`); err != nil {
		t.Fatal(err)
	}
	r.settle()
	n := 0
	for _, s := range r.Acc.Sent() {
		if s.Request.Text == "retry me" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("retried message sent %d times", n)
	}
}

func TestWazzupConnectErrorsAndAdminOnly(t *testing.T) {
	r := newRelayEnv(t)
	if s := r.api("POST", "/api/v1/channels", r.Sales, map[string]string{"provider": "wazzup", "api_key": "x"}, nil); s != http.StatusForbidden {
		t.Fatalf("salesperson connecting: %d", s)
	}
	if s := r.api("POST", "/api/v1/channels", r.Admin, map[string]string{"provider": "wazzup", "api_key": "ffffffffffffffffffffffffffffffff"}, nil); s != http.StatusBadRequest {
		t.Fatalf("wrong key: %d", s)
	}
	if s := r.api("POST", "/api/v1/channels", r.Admin, map[string]string{"provider": "pigeon"}, nil); s != http.StatusBadRequest {
		t.Fatalf("unknown provider: %d", s)
	}
	// A channel that needs a QR scan shows it.
	if err := r.Acc.SetChannelState(r.ctx, r.WA.ChannelID, "qr", "data:image/png;base64,AAAA"); err != nil {
		t.Fatal(err)
	}
	r.settle()
	var out struct {
		Channels []struct {
			ExternalID string `json:"external_id"`
			State      string `json:"state"`
		} `json:"channels"`
	}
	if s := r.api("GET", "/api/v1/channels", r.Admin, nil, &out); s != http.StatusOK {
		t.Fatalf("channels: %d", s)
	}
	// The channel must be listed (a missing one is no pass), in state qr.
	states := map[string][]string{}
	for _, c := range out.Channels {
		states[c.ExternalID] = append(states[c.ExternalID], c.State)
	}
	if got := states[r.WA.ChannelID]; len(got) != 1 || got[0] != "qr" {
		t.Fatalf("WhatsApp channel %s listed with states %q after a QR request, want [qr] (channels %+v)", r.WA.ChannelID, got, out.Channels)
	}
	if got := states[r.IG.ChannelID]; len(got) != 1 || got[0] != "active" {
		t.Fatalf("Instagram channel %s listed with states %q, want [active]", r.IG.ChannelID, got)
	}
}

// Wazzup learns the CRM side: employees, the contacts it talks to, their deals.
func TestWazzupLearnsTheCRMSide(t *testing.T) {
	r := newRelayEnv(t)
	r.clientWrites(r.WA, "whatsapp", "79995550199", "Здравствуйте")
	r.settle()
	if _, err := r.App.Store.DB().Exec(`UPDATE jobs SET run_at = now() WHERE kind = 'wazzup.crm'`); err != nil {
		t.Fatal(err)
	}
	r.settle()
	users := r.Acc.Users()
	if len(users) < 2 {
		t.Fatalf("wazzup users %+v", users)
	}
	contacts := r.Acc.Contacts()
	if len(contacts) != 1 || len(contacts[0].ContactData) != 1 || contacts[0].ContactData[0].ChatID != "79995550199" ||
		contacts[0].ResponsibleUserID == "" || !strings.Contains(contacts[0].URI, "/crm/contact/details/") {
		t.Fatalf("wazzup contacts %+v", contacts)
	}
	deals := r.Acc.Deals()
	if len(deals) != 1 || len(deals[0].Contacts) != 1 || deals[0].Contacts[0] != contacts[0].ID || deals[0].Closed {
		t.Fatalf("wazzup deals %+v", deals)
	}
}

// A timeline write retried after an attempt that may have reached the portal
// looks first and writes nothing twice.
func TestTimelineRetryLooksBeforeWriting(t *testing.T) {
	r := newRelayEnv(t)
	r.clientWrites(r.WA, "whatsapp", "79995550177", "только один раз")
	r.settle()
	if n := len(r.P.Timeline()); n != 1 {
		t.Fatalf("%d timeline entries", n)
	}
	// As if the answer to the first write had been lost: no id recorded, the
	// job tried once already.
	db := r.App.Store.DB()
	if _, err := db.Exec(`UPDATE messages SET timeline_id = NULL`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE jobs SET state = 'ready', attempts = 1, run_at = now() WHERE kind = 'timeline.message'`); err != nil {
		t.Fatal(err)
	}
	r.settle()
	if n := len(r.P.Timeline()); n != 1 {
		t.Fatalf("the retry wrote again: %d timeline entries", n)
	}
	if n := r.count(`SELECT count(*) FROM messages WHERE timeline_id = $1`, r.P.Timeline()[0].ID); n != 1 {
		t.Fatal("the found comment's id was not recorded")
	}
}

// Messages take the provider's time, not the order they arrive in: a client
// message delivered late, older than the answer, does not make the dialog
// wait again, and history shows it where it belongs.
func TestReorderedDeliveriesKeepProviderOrder(t *testing.T) {
	r := newRelayEnv(t)
	base := time.Now().Add(-time.Hour).UTC()
	post := func(id string, at time.Time, echo bool, text string) {
		t.Helper()
		body := fmt.Sprintf(`{"messages":[{"messageId":%q,"channelId":%q,"chatType":"whatsapp","chatId":"79995550188",`+
			`"dateTime":%q,"type":"text","isEcho":%t,"status":%q,"text":%q,"contact":{"name":"Late"}}]}`,
			id, r.WA.ChannelID, at.Format("2006-01-02T15:04:05.000Z"), echo, map[bool]string{true: "sent", false: "inbound"}[echo], text)
		if s, err := r.Acc.PostRaw(r.ctx, []byte(body)); err != nil || s != 200 {
			t.Fatalf("post %s: %d %v", id, s, err)
		}
	}
	post("m3", base.Add(3*time.Minute), true, "answer at 3")
	post("m1", base.Add(1*time.Minute), false, "question at 1")
	post("m2", base.Add(2*time.Minute), false, "question at 2")
	r.settle()
	d := r.dialogs(r.Admin)[0]
	if d.Unanswered {
		t.Fatal("client messages older than the answer made the dialog wait")
	}
	ms := r.messages(r.Admin, d.ID)
	if len(ms) != 3 || ms[0].Text != "question at 1" || ms[1].Text != "question at 2" || ms[2].Text != "answer at 3" {
		t.Fatalf("history out of provider order: %+v", ms)
	}
	post("m4", base.Add(4*time.Minute), false, "question at 4")
	r.settle()
	if !r.dialogs(r.Admin)[0].Unanswered {
		t.Fatal("a newer client message did not make the dialog wait")
	}
}

// The waiting count comes with every page, not only the first.
func TestDialogPagesCarryTheWaitingCount(t *testing.T) {
	r := newRelayEnv(t)
	r.clientWrites(r.WA, "whatsapp", "79995550301", "a")
	r.clientWrites(r.WA, "whatsapp", "79995550302", "b")
	r.settle()
	var page struct {
		Dialogs []dialogJSON `json:"dialogs"`
		Next    *string      `json:"next"`
		Count   int          `json:"unanswered_count"`
	}
	after := ""
	for i := 0; i < 3; i++ {
		page.Next = nil
		r.api("GET", "/api/v1/dialogs?limit=1"+after, r.Admin, nil, &page)
		if page.Count != 2 {
			t.Fatalf("page %d: unanswered_count %d, want 2", i, page.Count)
		}
		if page.Next == nil {
			if i != 1 {
				t.Fatalf("page %d is the last", i)
			}
			break
		}
		after = "&after=" + *page.Next
	}
}

// quiet runs jobs until no webhook is left to file and no reply to send,
// waiting for those put back to wait for something (a send's answer), and
// for the emulator's deliveries.
func (r *relayEnv) quiet() {
	r.t.Helper()
	busy := func() int {
		return r.count(`SELECT count(*) FROM jobs WHERE kind = ANY($1) AND state IN ('ready', 'running')`,
			"{"+strings.Join(append(append([]string{}, relay.FilingKinds...), relay.SendKinds...), ",")+"}")
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r.drain()
		if busy() == 0 {
			// Every send has answered, so the deliveries that follow it
			// have begun: once they are stored, file them and look again.
			r.WZ.Wait()
			r.drain()
			if busy() == 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("webhooks or sends still waiting after a minute: %d", busy())
		}
	}
}

// runKinds runs workers for some job kinds only, until the returned stop.
func (r *relayEnv) runKinds(kinds []string) (stop func()) {
	r.App.Jobs.SetPoll(10 * time.Millisecond)
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.App.Jobs.RunKinds(ctx, 1, kinds)
	}()
	return func() { cancel(); <-done }
}

// checkReplyAndPhoneMessage checks a dialog holding the client's question,
// the reply (sent once, through to the last status the gateway reported:
// read) and the phone's message of the same text, each in its own row.
func (r *relayEnv) checkReplyAndPhoneMessage(dialogID, replyID int64, text string) {
	r.t.Helper()
	sent := 0
	for _, s := range r.Acc.Sent() {
		if s.Request.Text == text {
			sent++
		}
	}
	if sent != 1 {
		r.t.Errorf("the gateway got the reply %d times, want once", sent)
	}
	var reply, phone []messageJSON
	for _, m := range r.messages(r.Admin, dialogID) {
		switch {
		case m.ID == replyID:
			reply = append(reply, m)
		case m.Direction == "out" && m.Author == nil && m.Text == text:
			phone = append(phone, m)
		case m.Direction == "out":
			r.t.Errorf("an outgoing message that is neither the reply nor the phone's: %+v", m)
		}
	}
	if len(reply) != 1 || reply[0].Status != "read" {
		r.t.Errorf("the reply is %+v, want it read: the gateway reported sent, delivered and read for it", reply)
	}
	if len(phone) != 1 || phone[0].Status != "sent" {
		r.t.Errorf("the phone's message is %+v, want one, sent", phone)
	}
}

// The phone writes the client the same text as a reply waiting in the queue:
// the phone's echo is not the reply's (it has not even left), so the reply
// still goes out and follows its own statuses.
func TestEchoOfTheSameTextBeforeTheReplyLeaves(t *testing.T) {
	r := newRelayEnv(t)
	r.clientWrites(r.WA, "whatsapp", "79995550401", "Заказ готов?")
	r.settle()
	d := r.dialogs(r.Sales)[0]
	s, reply := r.reply(r.Sales, d.ID, "Ок", "ok-1")
	if s != http.StatusAccepted {
		t.Fatalf("reply: %d", s)
	}
	if _, err := r.Acc.PhoneWrites(r.ctx, r.WA.ChannelID, "whatsapp", "79995550401", "Ок"); err != nil {
		t.Fatal(err)
	}
	// The phone's echo is filed before the reply's send job runs.
	stop := r.runKinds(relay.FilingKinds)
	defer stop()
	waitUntil(t, "the phone's echo is filed", func() bool {
		return r.count(`SELECT count(*) FROM jobs WHERE kind = 'inbound.wazzup' AND state <> 'done'`) == 0
	})
	stop()
	if n := r.count(`SELECT count(*) FROM messages WHERE id = $1 AND send_started_at IS NULL`, reply.ID); n != 1 {
		t.Fatal("setup: the reply's send began before the phone's echo was filed")
	}
	r.quiet()
	r.checkReplyAndPhoneMessage(d.ID, reply.ID, "Ок")
}

// Wazzup's webhooks may overtake a send's answer. While a reply is on its
// way (Wazzup holds the request), the phone writes the client the same text
// and its echo comes: only the send's answer tells whose echo is whose, so
// the reply ends with the statuses Wazzup reported for it (read), not with
// those of the phone's message, and nothing is shown twice or lost.
func TestEchoOfTheSameTextWhileTheReplyIsOnItsWay(t *testing.T) {
	r := newRelayEnv(t)
	r.clientWrites(r.WA, "whatsapp", "79995550402", "Заказ готов?")
	r.settle()
	d := r.dialogs(r.Sales)[0]
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	defer free()
	r.Acc.SetFault(&wztest.Fault{Path: "/v3/message", Hold: release})
	s, reply := r.reply(r.Sales, d.ID, "Ок", "ok-1")
	if s != http.StatusAccepted {
		t.Fatalf("reply: %d", s)
	}
	stopSend := r.runKinds(relay.SendKinds)
	defer stopSend()
	waitUntil(t, "the reply's send is on its way", func() bool {
		return r.count(`SELECT count(*) FROM messages WHERE id = $1 AND send_started_at IS NOT NULL`, reply.ID) == 1
	})
	if _, err := r.Acc.PhoneWrites(r.ctx, r.WA.ChannelID, "whatsapp", "79995550402", "Ок"); err != nil {
		t.Fatal(err)
	}
	r.drain() // files the phone's echo, or puts it back to wait
	if n := r.count(`SELECT count(*) FROM jobs WHERE kind = 'inbound.wazzup' AND state = 'ready' AND last_error IS NULL`); n != 0 {
		t.Fatal("setup: the phone's echo was not looked at while the reply was on its way")
	}
	if len(r.Acc.Sent()) != 0 {
		t.Fatal("setup: Wazzup took the reply before the phone's echo was filed")
	}
	free()
	r.quiet()
	stopSend()
	r.checkReplyAndPhoneMessage(d.ID, reply.ID, "Ок")
}

// A status of a message relay24 never stored, and that no send of its is
// waiting to learn, is dropped, not retried for ever.
func TestStatusOfAnUnknownMessageIsDropped(t *testing.T) {
	r := newRelayEnv(t)
	old := time.Now().Add(-time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	body := `{"statuses":[{"messageId":"5f0c2b8e-0000-4000-8000-00000000dead","timestamp":"` + old + `","status":"read"}]}`
	if s, err := r.Acc.PostRaw(r.ctx, []byte(body)); err != nil || s != http.StatusOK {
		t.Fatalf("status: %d %v", s, err)
	}
	r.quiet()
}

package wazzup_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relay24/relay24/wazzup"
	"github.com/relay24/relay24/wazzup/wztest"
)

const apiKey = "c8cf90444023482f909520d454368d27"

// receiver is relay24's webhook endpoint as the tests see it: it records
// every POST and answers what status() says for the n-th one (from 1).
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	heads  []http.Header
	status func(n int) int
}

func newReceiver(t *testing.T, status func(n int) int) *receiver {
	t.Helper()
	rc := &receiver{status: status}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, b)
		rc.heads = append(rc.heads, r.Header.Clone())
		n := len(rc.bodies)
		rc.mu.Unlock()
		code := http.StatusOK
		if rc.status != nil {
			code = rc.status(n)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) got() ([][]byte, []http.Header) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([][]byte(nil), rc.bodies...), append([]http.Header(nil), rc.heads...)
}

// env is one emulator with an account, a channel per transport we need, a
// client, and a subscribed receiver.
type env struct {
	srv      *wztest.Server
	acc      *wztest.Account
	c        *wazzup.Client
	wa, ig   wztest.Channel
	tg, waba wztest.Channel
	rc       *receiver
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := wztest.NewServer()
	t.Cleanup(srv.Close)
	srv.SetWebhookRetry(1, 0)
	e := &env{srv: srv, acc: srv.AddAccount(apiKey)}
	e.wa = e.acc.AddChannel("whatsapp", "79865784457", "Sales")
	e.ig = e.acc.AddChannel("instagram", "shop", "Insta")
	e.tg = e.acc.AddChannel("telegram", "shop_bot", "Bot")
	e.waba = e.acc.AddChannel("wapi", "79865784458", "WABA")
	e.c = wazzup.NewClient(srv.URL(), apiKey, &http.Client{Timeout: 10 * time.Second})
	return e
}

func (e *env) subscribe(t *testing.T, s wazzup.Subscriptions) *receiver {
	t.Helper()
	e.rc = newReceiver(t, nil)
	if err := e.c.SetWebhooks(context.Background(), e.rc.srv.URL+"/webhooks/wazzup/key123", s); err != nil {
		t.Fatal(err)
	}
	return e.rc
}

func asError(t *testing.T, err error) *wazzup.Error {
	t.Helper()
	var we *wazzup.Error
	if !errors.As(err, &we) {
		t.Fatalf("err = %v (%T), want *wazzup.Error", err, err)
	}
	return we
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestChannelsRoundTrip(t *testing.T) {
	e := newEnv(t)
	got, err := e.c.Channels(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []wazzup.Channel{
		{ChannelID: e.wa.ChannelID, Transport: "whatsapp", PlainID: "79865784457", State: "active", Name: "Sales"},
		{ChannelID: e.ig.ChannelID, Transport: "instagram", PlainID: "shop", State: "active", Name: "Insta"},
		{ChannelID: e.tg.ChannelID, Transport: "telegram", PlainID: "shop_bot", State: "active", Name: "Bot"},
		{ChannelID: e.waba.ChannelID, Transport: "wapi", PlainID: "79865784458", State: "active", Name: "WABA"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("channel %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(e.wa.ChannelID) {
		t.Errorf("channelId %q is not a uuid v4", e.wa.ChannelID)
	}
}

func TestSetWebhooksProbesAndStores(t *testing.T) {
	e := newEnv(t)
	subs := wazzup.Subscriptions{MessagesAndStatuses: true, ChannelsUpdates: true, TemplateStatus: true}
	rc := e.subscribe(t, subs)
	bodies, heads := rc.got()
	if len(bodies) != 1 || string(bodies[0]) != `{"test":true}` {
		t.Fatalf("probe bodies = %q", bodies)
	}
	var probe, want any
	_ = json.Unmarshal(bodies[0], &probe)
	_ = json.Unmarshal(fixture(t, "webhook_test_request.json"), &want)
	if !jsonEqual(probe, want) {
		t.Errorf("probe %s differs from the fixture", bodies[0])
	}
	if ct := heads[0].Get("Content-Type"); ct != "application/json; charset-utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if heads[0].Get("Authorization") != "" {
		t.Error("the probe carries an Authorization header")
	}
	uri, got, err := e.c.Webhooks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if uri != rc.srv.URL+"/webhooks/wazzup/key123" || got != subs {
		t.Errorf("Webhooks() = %q %+v", uri, got)
	}
}

func TestSetWebhooksRefusals(t *testing.T) {
	e := newEnv(t)
	failing := newReceiver(t, func(int) int { return http.StatusInternalServerError })
	tests := []struct {
		name, uri, code string
	}{
		{"receiver answers 500", failing.srv.URL + "/hook", wazzup.CodeTestPostNotPassed},
		{"receiver answers 204", newReceiver(t, func(int) int { return http.StatusNoContent }).srv.URL, wazzup.CodeTestPostNotPassed},
		{"nobody listens", "http://127.0.0.1:1/hook", wazzup.CodeTestPostNotPassed},
		{"not a uri", "not a uri", wazzup.CodeURINotValid},
		{"ftp", "ftp://example.com/x", wazzup.CodeURINotValid},
		{"empty", "", wazzup.CodeURINotValid},
		{"201 chars", "https://example.com/" + strings.Repeat("a", 181), wazzup.CodeURINotValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.c.SetWebhooks(context.Background(), tt.uri, wazzup.Subscriptions{MessagesAndStatuses: true})
			we := asError(t, err)
			if we.Status != 400 || !wazzup.HasCode(err, tt.code) || wazzup.Temporary(err) {
				t.Errorf("err = %v", err)
			}
		})
	}
	if uri, _, _ := e.c.Webhooks(context.Background()); uri != "" {
		t.Errorf("a refused PATCH stored %q", uri)
	}
}

// GET /v3/webhooks is documented with "true" strings; live accounts answer
// booleans and call the template switch wabaTemplatesStatus.
func TestWebhooksLenientRead(t *testing.T) {
	for _, body := range []string{
		string(fixture(t, "webhooks_get_response_documented.json")),
		`{"webhooksUri":"https://example.com/webhooks","subscriptions":{"messagesAndStatuses":true,"contactsAndDealsCreation":true,"channelsUpdates":false,"wabaTemplatesStatus":false}}`,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+apiKey || r.URL.Path != "/v3/webhooks" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			_, _ = w.Write([]byte(body))
		}))
		uri, s, err := wazzup.NewClient(srv.URL+"/", apiKey, nil).Webhooks(context.Background())
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := wazzup.Subscriptions{MessagesAndStatuses: true, ContactsAndDealsCreation: true}
		if uri != "https://example.com/webhooks" || s != want {
			t.Errorf("%s → %q %+v", body, uri, s)
		}
	}
}

func TestSendSuccess(t *testing.T) {
	e := newEnv(t)
	keep := false
	res, err := e.c.Send(context.Background(), wazzup.SendRequest{
		ChannelID: e.wa.ChannelID, ChatType: "whatsapp", ChatID: "79011112233", Text: "Hello",
		CrmUserID: "u-7", CrmMessageID: "b24-msg-1", ClearUnanswered: &keep,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ChatID != "79011112233" || res.MessageID == "" {
		t.Errorf("result = %+v", res)
	}
	sent := e.acc.Sent()
	if len(sent) != 1 || sent[0].MessageID != res.MessageID || sent[0].Request.Text != "Hello" ||
		sent[0].Request.CrmMessageID != "b24-msg-1" || sent[0].Request.ClearUnanswered == nil || *sent[0].Request.ClearUnanswered {
		t.Errorf("Sent() = %+v", sent)
	}
	// Absent fields are omitted, not sent empty.
	var raw map[string]any
	_ = json.Unmarshal(sent[0].Raw, &raw)
	for _, k := range []string{"contentUri", "refMessageId", "username", "phone"} {
		if _, ok := raw[k]; ok {
			t.Errorf("request carries %q: %s", k, sent[0].Raw)
		}
	}
}

func TestSendTelegramByUsername(t *testing.T) {
	e := newEnv(t)
	res, err := e.c.Send(context.Background(), wazzup.SendRequest{
		ChannelID: e.tg.ChannelID, ChatType: "telegram", Username: "anna", Text: "Hi"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.c.Send(context.Background(), wazzup.SendRequest{
		ChannelID: e.tg.ChannelID, ChatType: "telegram", Username: "anna", Text: "Hi again"})
	if err != nil {
		t.Fatal(err)
	}
	if res.ChatID == "" || res.ChatID != again.ChatID {
		t.Errorf("chat ids %q, %q: want one stable id", res.ChatID, again.ChatID)
	}
}

func TestSendStrictErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	inactive := e.acc.AddChannel("whatsapp", "79000000001", "Off")
	_ = e.acc.SetChannelState(ctx, inactive.ChannelID, "phoneUnavailable", "")
	blocked := e.acc.AddChannel("whatsapp", "79000000002", "Blocked")
	_ = e.acc.SetChannelState(ctx, blocked.ChannelID, "blocked", "")
	wa := func(r wazzup.SendRequest) wazzup.SendRequest {
		if r.ChannelID == "" {
			r.ChannelID = e.wa.ChannelID
		}
		if r.ChatType == "" {
			r.ChatType = "whatsapp"
		}
		if r.ChatID == "" {
			r.ChatID = "79011112233"
		}
		return r
	}
	tests := []struct {
		name   string
		req    wazzup.SendRequest
		code   string
		fields []string
	}{
		{"unknown channel", wa(wazzup.SendRequest{ChannelID: "dffa1c7b-6db8-4b8f-b559-91166aba879e", Text: "x"}), "CHANNEL_NOT_FOUND", nil},
		{"channel id not a uuid", wa(wazzup.SendRequest{ChannelID: "nope", Text: "x"}), "INVALID_MESSAGE_DATA", []string{"channelId"}},
		{"no chat type", wazzup.SendRequest{ChannelID: e.wa.ChannelID, ChatID: "79011112233", Text: "x"}, "INVALID_MESSAGE_DATA", []string{"chatType"}},
		{"no chat id", wazzup.SendRequest{ChannelID: e.wa.ChannelID, ChatType: "whatsapp", Text: "x"}, "INVALID_MESSAGE_DATA", []string{"chatId"}},
		{"whatsapp chat id with plus", wa(wazzup.SendRequest{ChatID: "+79011112233", Text: "x"}), "INVALID_MESSAGE_DATA", []string{"chatId"}},
		{"username off telegram", wa(wazzup.SendRequest{Username: "anna", Text: "x"}), "INVALID_MESSAGE_DATA", []string{"username"}},
		{"vk chat on whatsapp", wa(wazzup.SendRequest{ChatType: "vk", ChatID: "123", Text: "x"}), "WRONG_TRANSPORT", nil},
		{"instagram chat on whatsapp", wa(wazzup.SendRequest{ChatType: "instagram", ChatID: "anna", Text: "x"}), "WRONG_TRANSPORT", nil},
		{"text and content", wa(wazzup.SendRequest{Text: "x", ContentURI: "https://example.com/a.png"}), "MESSAGE_ONLY_TEXT_OR_CONTENT", nil},
		{"nothing", wa(wazzup.SendRequest{}), "MESSAGE_NOTHING_TO_SEND", nil},
		{"blank", wa(wazzup.SendRequest{Text: "  \n "}), "MESSAGES_TEXT_CAN_NOT_BE_BLANK", nil},
		{"whatsapp 10001", wa(wazzup.SendRequest{Text: strings.Repeat("a", 10001)}), "MESSAGE_TEXT_TOO_LONG", nil},
		{"whatsapp emoji counts twice", wa(wazzup.SendRequest{Text: strings.Repeat("😀", 5001)}), "MESSAGE_TEXT_TOO_LONG", nil},
		{"telegram 4097", wazzup.SendRequest{ChannelID: e.tg.ChannelID, ChatType: "telegram", ChatID: "123", Text: strings.Repeat("a", 4097)}, "MESSAGES_TOO_LONG_TELEGRAM", nil},
		{"instagram 1001", wazzup.SendRequest{ChannelID: e.ig.ChannelID, ChatType: "instagram", ChatID: "anna", Text: strings.Repeat("a", 1001)}, "MESSAGES_TOO_LONG_INSTAGRAM", nil},
		{"waba 4097", wazzup.SendRequest{ChannelID: e.waba.ChannelID, ChatType: "whatsapp", ChatID: "79011112233", Text: strings.Repeat("a", 4097)}, "MESSAGES_TOO_LONG_WABA", nil},
		{"channel unavailable", wa(wazzup.SendRequest{ChannelID: inactive.ChannelID, Text: "x"}), "MESSAGE_CHANNEL_UNAVAILABLE", nil},
		{"channel blocked", wa(wazzup.SendRequest{ChannelID: blocked.ChannelID, Text: "x"}), "CHANNEL_BLOCKED", nil},
		{"unknown quote", wa(wazzup.SendRequest{Text: "x", RefMessageID: "61e5a375-1760-452f-ad73-5318844ffc4f"}), "REFERENCE_MESSAGE_NOT_FOUND", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.c.Send(ctx, tt.req)
			we := asError(t, err)
			if we.Status != 400 || we.Code != tt.code || we.RequestID == "" || we.Description == "" {
				t.Errorf("err = %+v, want 400 %s with the extended envelope", we, tt.code)
			}
			if tt.fields != nil && strings.Join(we.Fields(), ",") != strings.Join(tt.fields, ",") {
				t.Errorf("Fields() = %v, want %v", we.Fields(), tt.fields)
			}
			if wazzup.Temporary(err) || wazzup.IsDuplicate(err) {
				t.Errorf("%s classified temporary or duplicate", tt.code)
			}
		})
	}
	// The limits the client advertises are the ones the emulator enforces.
	for _, ch := range []wztest.Channel{e.wa, e.ig, e.tg, e.waba} {
		chatID := "79011112233"
		if ch.Transport == "instagram" {
			chatID = "anna"
		}
		_, err := e.c.Send(ctx, wazzup.SendRequest{ChannelID: ch.ChannelID, ChatType: wazzup.ChatTypeFor(ch.Transport),
			ChatID: chatID, Text: strings.Repeat("я", wazzup.TextLimit(ch.Transport))})
		if err != nil {
			t.Errorf("%s: a text of TextLimit was refused: %v", ch.Transport, err)
		}
	}
	if len(e.acc.Sent()) != 4 {
		t.Errorf("Sent() has %d messages, want only the 4 accepted", len(e.acc.Sent()))
	}
}

func TestSendDuplicateCrmMessageID(t *testing.T) {
	e := newEnv(t)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var mu sync.Mutex
	e.srv.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	req := wazzup.SendRequest{ChannelID: e.wa.ChannelID, ChatType: "whatsapp", ChatID: "79011112233", Text: "x", CrmMessageID: "42"}
	if _, err := e.c.Send(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	_, err := e.c.Send(context.Background(), req)
	we := asError(t, err)
	if !wazzup.IsDuplicate(err) || we.Status != 400 || we.RequestID == "" || !strings.Contains(string(we.Data), `"crmMessageId":"42"`) {
		t.Errorf("second send: %+v", we)
	}
	if wazzup.Temporary(err) {
		t.Error("a duplicate is not temporary")
	}
	// A refused send does not burn its crmMessageId.
	bad := req
	bad.CrmMessageID, bad.ChatType = "43", "vk"
	if _, err := e.c.Send(context.Background(), bad); !wazzup.HasCode(err, "WRONG_TRANSPORT") {
		t.Fatalf("err = %v", err)
	}
	ok := req
	ok.CrmMessageID = "43"
	if _, err := e.c.Send(context.Background(), ok); err != nil {
		t.Errorf("crmMessageId of a refused send is blocked: %v", err)
	}
	mu.Lock()
	now = now.Add(61 * time.Second)
	mu.Unlock()
	if _, err := e.c.Send(context.Background(), req); err != nil {
		t.Errorf("after 61 s: %v", err)
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t)
	e.srv.SetRateLimit(3, time.Hour)
	for i := 0; i < 3; i++ {
		if _, err := e.c.Channels(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.c.Channels(context.Background())
	we := asError(t, err)
	if we.Status != 429 || we.Code != wazzup.CodeTooManyRequests || !wazzup.Temporary(err) {
		t.Errorf("err = %+v", we)
	}
}

func TestDefaultRateLimitIs500Per5s(t *testing.T) {
	e := newEnv(t)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	e.srv.SetClock(func() time.Time { return now })
	var err error
	n := 0
	for ; n < 600 && err == nil; n++ {
		_, err = e.c.Channels(context.Background())
	}
	if n != 501 || !wazzup.HasCode(err, wazzup.CodeTooManyRequests) {
		t.Errorf("refused at request %d with %v, want 429 at 501", n, err)
	}
}

func TestAuthAndRestrictedKey(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := wazzup.NewClient(e.srv.URL(), "wrong", nil).Channels(ctx)
	if we := asError(t, err); we.Status != 401 || we.Code != wazzup.CodeUnauthorized || wazzup.Temporary(err) {
		t.Errorf("wrong key: %+v", we)
	}
	const sidecar = "sidecar-key-0000000000000000000000"
	e.acc.AddKey(sidecar)
	e.srv.SetRestricted(sidecar, true)
	sc := wazzup.NewClient(e.srv.URL(), sidecar, nil)
	if _, err := sc.Channels(ctx); err != nil {
		t.Errorf("sidecar key on channels: %v", err)
	}
	if _, err := sc.Send(ctx, wazzup.SendRequest{ChannelID: e.wa.ChannelID, ChatType: "whatsapp", ChatID: "79011112233", Text: "x", CrmUserID: "u-7"}); err != nil {
		t.Errorf("sidecar key on send: %v", err)
	}
	for name, call := range map[string]func() error{
		"users":    func() error { return sc.UpsertUsers(ctx, []wazzup.User{{ID: "1", Name: "A"}}) },
		"contacts": func() error { return sc.UpsertContacts(ctx, []wazzup.Contact{{ID: "1"}}) },
		"deals":    func() error { return sc.UpsertDeals(ctx, []wazzup.Deal{{ID: "1"}}) },
	} {
		err := call()
		we := asError(t, err)
		if we.Status != 403 || we.Code != wazzup.CodeForbidden || we.Description != "" || wazzup.Temporary(err) {
			t.Errorf("%s: %+v", name, we)
		}
	}
}

func TestFaultsClassify(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.acc.SetFault(&wztest.Fault{Status: 500, Path: "/v3/message"})
	_, err := e.c.Send(ctx, wazzup.SendRequest{ChannelID: e.wa.ChannelID, ChatType: "whatsapp", ChatID: "79011112233", Text: "x"})
	if we := asError(t, err); we.Status != 500 || !wazzup.Temporary(err) {
		t.Errorf("500: %+v", we)
	}
	e.acc.SetFault(&wztest.Fault{Status: 400, Body: `{"error":"UNKNOWN_ERROR","description":"boom"}`})
	_, err = e.c.Channels(ctx)
	if we := asError(t, err); we.Code != "UNKNOWN_ERROR" || we.Description != "boom" || wazzup.Temporary(err) {
		t.Errorf("400: %+v", we)
	}
	if _, err := e.c.Channels(ctx); err != nil {
		t.Errorf("the fault outlived its count: %v", err)
	}
	// A hung server: the client's own timeout ends the call, classified temporary.
	e.acc.SetFault(&wztest.Fault{Delay: time.Minute})
	short := wazzup.NewClient(e.srv.URL(), apiKey, &http.Client{Timeout: 50 * time.Millisecond})
	if _, err := short.Channels(ctx); err == nil || !wazzup.Temporary(err) {
		t.Errorf("timeout: %v", err)
	}
	// So does a cancelled context.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.c.Channels(cctx); err == nil || !wazzup.Temporary(err) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestUpsertsRoundTrip(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	users := make([]wazzup.User, 250)
	for i := range users {
		users[i] = wazzup.User{ID: "u" + string(rune('a'+i/26)) + string(rune('a'+i%26)), Name: "User", Phone: ""}
	}
	users[0].Phone = "79263334567"
	users[1].Phone = "12" // malformed: Wazzup drops it silently
	if err := e.c.UpsertUsers(ctx, users); err != nil {
		t.Fatal(err)
	}
	got := e.acc.Users()
	if len(got) != 250 || got[0].Phone != "79263334567" || got[1].Phone != "" {
		t.Errorf("Users() = %d users, first %+v %+v", len(got), got[0], got[1])
	}
	contacts := []wazzup.Contact{{ID: "c-101", ResponsibleUserID: "u-7", Name: "Anna",
		ContactData: []wazzup.ContactData{{ChatType: "whatsapp", ChatID: "79011112233"}, {ChatType: "telegram", Username: "anna"}},
		URI:         "https://portal.bitrix24.ru/crm/contact/details/101/"}}
	if err := e.c.UpsertContacts(ctx, contacts); err != nil {
		t.Fatal(err)
	}
	gc := e.acc.Contacts()
	if len(gc) != 1 || gc[0].Name != "Anna" || len(gc[0].ContactData) != 2 || gc[0].ContactData[1].Username != "anna" || gc[0].URI == "" {
		t.Errorf("Contacts() = %+v", gc)
	}
	deals := []wazzup.Deal{{ID: "1", ResponsibleUserID: "id007", Name: "Daily Deal Test", URI: "https://link-to-deal-in-crm.com",
		Contacts: []string{"c-101"}}, {ID: "2", ResponsibleUserID: "id007", Name: "Closed", URI: "https://x.example/2", Closed: true}}
	if err := e.c.UpsertDeals(ctx, deals); err != nil {
		t.Fatal(err)
	}
	gd := e.acc.Deals()
	if len(gd) != 2 || gd[0].Contacts[0] != "c-101" || gd[0].Closed || !gd[1].Closed || len(gd[1].Contacts) != 0 {
		t.Errorf("Deals() = %+v", gd)
	}
	// Upsert by id: the second write replaces the first.
	contacts[0].Name = "Anna K."
	if err := e.c.UpsertContacts(ctx, contacts); err != nil {
		t.Fatal(err)
	}
	if gc := e.acc.Contacts(); len(gc) != 1 || gc[0].Name != "Anna K." {
		t.Errorf("after update: %+v", gc)
	}
}

func TestUpsertsInvalid(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	err := e.c.UpsertContacts(ctx, []wazzup.Contact{
		{ID: "ok", ResponsibleUserID: "u", Name: "A", ContactData: []wazzup.ContactData{{ChatType: "whatsapp", ChatID: "7901"}}},
		{ID: "bad", ResponsibleUserID: "u", Name: "B"},
	})
	if we := asError(t, err); we.Code != wazzup.CodeInvalidContactsData || strings.Join(we.Fields(), ",") != "contactData" ||
		!strings.Contains(string(we.Data), `"index":1`) {
		t.Errorf("contacts: %+v %s", we, we.Data)
	}
	if len(e.acc.Contacts()) != 0 {
		t.Error("a refused request stored contacts")
	}
	err = e.c.UpsertUsers(ctx, []wazzup.User{{ID: "1"}})
	if we := asError(t, err); we.Code != wazzup.CodeInvalidUsersData || strings.Join(we.Fields(), ",") != "name" {
		t.Errorf("users: %+v", we)
	}
	err = e.c.UpsertDeals(ctx, []wazzup.Deal{{ID: "1", ResponsibleUserID: "u", Name: "D"}})
	if we := asError(t, err); we.Code != wazzup.CodeInvalidDealsData || strings.Join(we.Fields(), ",") != "uri" {
		t.Errorf("deals: %+v", we)
	}
}

// keySet collects the member names of every object in v, dotted by path,
// with array items under "[]".
func keySet(v any, prefix string, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, sub := range x {
			out[prefix+k] = true
			keySet(sub, prefix+k+".", out)
		}
	case []any:
		for _, sub := range x {
			keySet(sub, strings.TrimSuffix(prefix, ".")+"[].", out)
		}
	}
}

func keysOf(t *testing.T, b []byte) map[string]bool {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	out := map[string]bool{}
	keySet(v, "", out)
	return out
}

// subset fails unless every key of got is in the fixture's set.
func subset(t *testing.T, what string, got, fixture map[string]bool) {
	t.Helper()
	var extra []string
	for k := range got {
		if !fixture[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("%s: keys not in the documented payload: %v", what, extra)
	}
}

var isoMillis = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func TestEmittedPayloadsMatchFixtures(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rc := e.subscribe(t, wazzup.Subscriptions{MessagesAndStatuses: true, ChannelsUpdates: true, ContactsAndDealsCreation: true})
	e.acc.SetAutoStatuses(false)

	msgSchema := keysOf(t, fixture(t, "webhook_messages_schema.json"))
	stSchema := keysOf(t, fixture(t, "webhook_statuses_schema.json"))

	inID, err := e.acc.ClientWrites(ctx, e.tg.ChannelID, "telegram", "207777314", wztest.Incoming{
		Text: "Hello", ContactName: "Anna", Username: "anna", Phone: "79011112233"})
	if err != nil {
		t.Fatal(err)
	}
	echoID, err := e.acc.PhoneWrites(ctx, e.wa.ChannelID, "whatsapp", "79011112233", "typed on the phone")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.acc.PostStatus(ctx, echoID, "error", "BAD_CONTACT"); err != nil {
		t.Fatal(err)
	}
	if err := e.acc.SetChannelState(ctx, e.wa.ChannelID, "qr", "data:image/png;base64,AAAA"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.AskCreateContact(ctx, wztest.CreateContactRequest{ResponsibleUserID: "1", Name: "Anna",
		ContactData: []wztest.ContactData{{ChatType: "whatsapp", ChatID: "79011112233"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.AskCreateDeal(ctx, "1", []string{"1"}, ""); err != nil {
		t.Fatal(err)
	}
	bodies, heads := rc.got()
	bodies, heads = bodies[1:], heads[1:] // drop the probe
	if len(bodies) != 6 {
		t.Fatalf("got %d webhooks", len(bodies))
	}
	for i, h := range heads {
		if h.Get("Content-Type") != "application/json; charset-utf-8" || h.Get("Authorization") != "" {
			t.Errorf("webhook %d headers %v", i, h)
		}
	}
	parsed := make([]*wazzup.Webhook, len(bodies))
	for i, b := range bodies {
		w, err := wazzup.ParseWebhook(b)
		if err != nil {
			t.Fatalf("webhook %d %s: %v", i, b, err)
		}
		if len(w.Unknown) > 0 {
			t.Errorf("webhook %d has unknown keys %v", i, w.Unknown)
		}
		parsed[i] = w
	}

	subset(t, "incoming message", keysOf(t, bodies[0]), msgSchema)
	in := parsed[0].Messages[0]
	if in.MessageID != inID || in.ChannelID != e.tg.ChannelID || in.ChatType != "telegram" || in.ChatID != "207777314" ||
		in.IsEcho || in.Status != "inbound" || in.Type != "text" || in.Text != "Hello" ||
		in.Contact != (wazzup.MessageContact{Name: "Anna", Username: "anna", Phone: "79011112233"}) {
		t.Errorf("incoming = %+v", in)
	}
	var rawIn struct {
		Messages []map[string]any `json:"messages"`
	}
	_ = json.Unmarshal(bodies[0], &rawIn)
	if dt, _ := rawIn.Messages[0]["dateTime"].(string); !isoMillis.MatchString(dt) {
		t.Errorf("dateTime %q is not ISO UTC with milliseconds", dt)
	}

	subset(t, "phone echo", keysOf(t, bodies[1]), msgSchema)
	echo := parsed[1].Messages[0]
	if echo.MessageID != echoID || !echo.IsEcho || echo.SentFromApp || echo.Status != "sent" || echo.AuthorID != "" ||
		echo.Contact.Name != "79011112233" {
		t.Errorf("phone echo = %+v", echo)
	}

	subset(t, "error status", keysOf(t, bodies[2]), stSchema)
	st := parsed[2].Statuses[0]
	if st.MessageID != echoID || st.Status != "error" || st.Error == nil || st.Error.Error != "BAD_CONTACT" || st.Error.Description == "" {
		t.Errorf("status = %+v", st)
	}

	chUpdates := keysOf(t, fixture(t, "webhook_channels_updates.json"))
	chUpdates["channelsUpdates[].tier"] = true // documented, absent from the sample
	subset(t, "channelsUpdates", keysOf(t, bodies[3]), chUpdates)
	cu := parsed[3].ChannelsUpdates[0]
	if cu.ChannelID != e.wa.ChannelID || cu.State != "qr" || cu.QR != "data:image/png;base64,AAAA" || cu.Timestamp.IsZero() {
		t.Errorf("channel update = %+v", cu)
	}

	if got, want := keysOf(t, bodies[4]), keysOf(t, fixture(t, "webhook_create_contact.json")); !sameKeys(got, want) {
		t.Errorf("createContact keys %v, want %v", got, want)
	}
	if got, want := keysOf(t, bodies[5]), keysOf(t, fixture(t, "webhook_create_deal.json")); !sameKeys(got, want) {
		t.Errorf("createDeal keys %v, want %v", got, want)
	}
}

func TestAutoStatusesAfterSend(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rc := e.subscribe(t, wazzup.Subscriptions{MessagesAndStatuses: true})
	if err := e.c.UpsertUsers(ctx, []wazzup.User{{ID: "u-7", Name: "Alex Salesman"}}); err != nil {
		t.Fatal(err)
	}
	res, err := e.c.Send(ctx, wazzup.SendRequest{ChannelID: e.wa.ChannelID, ChatType: "whatsapp", ChatID: "79011112233",
		Text: "Your order is ready", CrmUserID: "u-7", CrmMessageID: "m-1"})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Wait()
	bodies, _ := rc.got()
	bodies = bodies[1:]
	if len(bodies) != 4 {
		t.Fatalf("got %d webhooks after the send, want echo + 3 statuses: %q", len(bodies), bodies)
	}
	w, err := wazzup.ParseWebhook(bodies[0])
	if err != nil {
		t.Fatal(err)
	}
	echo := w.Messages[0]
	if echo.MessageID != res.MessageID || !echo.IsEcho || echo.Status != "sent" || echo.AuthorID != "u-7" ||
		echo.AuthorName != "Alex Salesman" || echo.Text != "Your order is ready" || echo.SentFromApp {
		t.Errorf("echo = %+v", echo)
	}
	var order []string
	for _, b := range bodies[1:] {
		w, err := wazzup.ParseWebhook(b)
		if err != nil || len(w.Statuses) != 1 || len(w.Messages) != 0 || w.Statuses[0].MessageID != res.MessageID {
			t.Fatalf("%s: %v", b, err)
		}
		order = append(order, w.Statuses[0].Status)
		var raw struct {
			Statuses []struct {
				Timestamp string `json:"timestamp"`
			} `json:"statuses"`
		}
		_ = json.Unmarshal(b, &raw)
		if !isoMillis.MatchString(raw.Statuses[0].Timestamp) {
			t.Errorf("timestamp %q", raw.Statuses[0].Timestamp)
		}
	}
	if strings.Join(order, ",") != "sent,delivered,read" {
		t.Errorf("statuses in order %v", order)
	}
}

func TestContentSend(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rc := e.subscribe(t, wazzup.Subscriptions{MessagesAndStatuses: true})
	e.acc.SetAutoStatuses(true)
	png := []byte("\x89PNG\r\n\x1a\n0000")
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/file.png":
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(png)
		case "/moved.png":
			http.Redirect(w, r, "/file.png", http.StatusFound)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer files.Close()
	res, err := e.c.Send(ctx, wazzup.SendRequest{ChannelID: e.wa.ChannelID, ChatType: "whatsapp", ChatID: "79011112233",
		ContentURI: files.URL + "/file.png"})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Wait()
	bodies, _ := rc.got()
	w, err := wazzup.ParseWebhook(bodies[1])
	if err != nil {
		t.Fatal(err)
	}
	echo := w.Messages[0]
	if echo.MessageID != res.MessageID || echo.Type != "image" || !strings.HasPrefix(echo.ContentURI, e.srv.URL()+"/store/") {
		t.Errorf("echo = %+v", echo)
	}
	resp, err := http.Get(echo.ContentURI)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Errorf("store answered %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, path := range []string{"/moved.png", "/missing.png"} {
		_, err := e.c.Send(ctx, wazzup.SendRequest{ChannelID: e.wa.ChannelID, ChatType: "whatsapp", ChatID: "79011112233",
			ContentURI: files.URL + path, CrmMessageID: "c" + path})
		if !wazzup.HasCode(err, wazzup.CodeMessageDownloadContent) {
			t.Errorf("%s: %v", path, err)
		}
	}
}

func sameKeys(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestTemplateStatusWebhook(t *testing.T) {
	e := newEnv(t)
	rc := e.subscribe(t, wazzup.Subscriptions{TemplateStatus: true})
	if err := e.acc.PostTemplateStatus(context.Background(), "8d255e5d-aefd-44dc-8131-c3ad6c3ab28c", "Test", "approved"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.ClientWrites(context.Background(), e.wa.ChannelID, "whatsapp", "79011112233", wztest.Incoming{Text: "hi"}); !errors.Is(err, wztest.ErrNoWebhook) {
		t.Errorf("messages without the subscription: %v", err)
	}
	bodies, _ := rc.got()
	if len(bodies) != 2 || !sameKeys(keysOf(t, bodies[1]), keysOf(t, fixture(t, "webhook_template_status.json"))) {
		t.Fatalf("bodies %q", bodies)
	}
	w, err := wazzup.ParseWebhook(bodies[1])
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	_ = json.Unmarshal(w.TemplateStatus, &got)
	var fx struct {
		TemplateStatus any `json:"templateStatus"`
	}
	_ = json.Unmarshal(fixture(t, "webhook_template_status.json"), &fx)
	want = fx.TemplateStatus
	if !jsonEqual(got, want) {
		t.Errorf("templateStatus %s", w.TemplateStatus)
	}
}

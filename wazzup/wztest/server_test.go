package wztest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

const key = "33a817cbc1504bd5885574d8f0290cd3"

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// call makes one raw API request and returns status and body.
func call(t *testing.T, s *Server, apiKey, method, path, body string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL()+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// topKeys lists the member names of an object and of its "data" object.
func topKeys(t *testing.T, b []byte) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	var keys []string
	for k, v := range m {
		keys = append(keys, k)
		var sub map[string]json.RawMessage
		if k == "data" && json.Unmarshal(v, &sub) == nil {
			for sk := range sub {
				keys = append(keys, "data."+sk)
			}
		}
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

// hook is a webhook receiver answering statuses from a script; after the
// script it answers 200.
type hook struct {
	srv    *httptest.Server
	mu     sync.Mutex
	script []int
	bodies []string
	block  bool // hold every request until the sender gives up
}

func newHook(t *testing.T, script ...int) *hook {
	h := &hook{script: script}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, string(b))
		status, block := http.StatusOK, h.block
		if len(h.script) > 0 && string(b) != `{"test":true}` {
			status, h.script = h.script[0], h.script[1:]
		}
		h.mu.Unlock()
		if block {
			<-r.Context().Done()
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"id":"c-101","responsibleUserId":"u-7","name":"Anna","contactData":[{"chatType":"whatsapp","chatId":"79011112233"}]}`))
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.bodies...)
}

func setup(t *testing.T) (*Server, *Account, Channel) {
	t.Helper()
	s := NewServer()
	t.Cleanup(s.Close)
	a := s.AddAccount(key)
	return s, a, a.AddChannel("whatsapp", "79865784457", "Sales")
}

func subscribe(t *testing.T, s *Server, h *hook, subs string) {
	t.Helper()
	if subs == "" {
		subs = `{"messagesAndStatuses":true,"contactsAndDealsCreation":true,"channelsUpdates":true,"templateStatus":true}`
	}
	st, b := call(t, s, key, "PATCH", "/v3/webhooks", `{"webhooksUri":"`+h.srv.URL+`/hook?key=k","subscriptions":`+subs+`}`)
	if st != 200 || string(b) != `{"ok":true}` {
		t.Fatalf("PATCH /v3/webhooks: %d %s", st, b)
	}
}

func TestAuth(t *testing.T) {
	s, _, _ := setup(t)
	for _, k := range []string{"", "wrong"} {
		st, b := call(t, s, k, "GET", "/v3/channels", "")
		if st != 401 || len(b) != 0 {
			t.Errorf("key %q: %d %q, want 401 with an empty body", k, st, b)
		}
	}
	req, _ := http.NewRequest("GET", s.URL()+"/v3/channels", nil)
	req.Header.Set("Authorization", "Basic "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("Basic scheme: %d", resp.StatusCode)
	}
}

func TestShapesMatchFixtures(t *testing.T) {
	s, a, wa := setup(t)
	st, b := call(t, s, key, "GET", "/v3/channels", "")
	var got, want []map[string]any
	_ = json.Unmarshal(b, &got)
	_ = json.Unmarshal(fixture(t, "channels_get_response.json"), &want)
	if st != 200 || len(got) != 1 {
		t.Fatalf("%d %s", st, b)
	}
	for k := range want[0] {
		if _, ok := got[0][k]; !ok {
			t.Errorf("channel lacks %q", k)
		}
	}

	st, b = call(t, s, key, "POST", "/v3/message", `{"channelId":"`+wa.ChannelID+`","chatType":"whatsapp","chatId":"79011112233","text":"hi","crmMessageId":"1"}`)
	if st != 201 || topKeys(t, b) != topKeys(t, fixture(t, "message_send_response_201.json")) {
		t.Errorf("send: %d %s", st, b)
	}
	tests := []struct {
		fixture, body string
	}{
		{"error_400_repeated_crm_message_id.json", `{"channelId":"` + wa.ChannelID + `","chatType":"whatsapp","chatId":"79011112233","text":"hi","crmMessageId":"1"}`},
		{"error_400_wrong_transport.json", `{"channelId":"` + wa.ChannelID + `","chatType":"vk","chatId":"1","text":"hi"}`},
		{"error_400_invalid_message_data.json", `{"chatType":"whatsapp","chatId":"79011112233","text":"hi"}`},
	}
	for _, tt := range tests {
		st, b := call(t, s, key, "POST", "/v3/message", tt.body)
		want := fixture(t, tt.fixture)
		if st != 400 || topKeys(t, b) != topKeys(t, want) {
			t.Errorf("%s: %d %s, want the keys of %s", tt.fixture, st, b, want)
		}
	}
	_, b = call(t, s, key, "POST", "/v3/message", tests[1].body)
	if !bytes.Contains(b, []byte(`"description":"You can't send message to vk chat from whatsapp transport"`)) {
		t.Errorf("WRONG_TRANSPORT wording: %s", b)
	}
	_, b = call(t, s, key, "POST", "/v3/message", tests[2].body)
	if !bytes.Contains(b, []byte(`"data":{"fields":["channelId"]}`)) {
		t.Errorf("INVALID_MESSAGE_DATA data: %s", b)
	}

	a.AddKey("sidecar")
	s.SetRestricted("sidecar", true)
	for _, p := range []string{"GET /v3/users", "POST /v3/contacts", "GET /v3/deals", "GET /v3/pipelines", "POST /v3/iframe", "GET /v3/unanswered/1"} {
		method, path, _ := strings.Cut(p, " ")
		st, b := call(t, s, "sidecar", method, path, "[]")
		if st != 403 || !jsonSame(b, fixture(t, "error_403_forbidden_live.json")) {
			t.Errorf("%s: %d %s", p, st, b)
		}
	}
	if st, _ := call(t, s, "sidecar", "GET", "/v3/webhooks", ""); st != 200 {
		t.Errorf("sidecar GET /v3/webhooks: %d", st)
	}
}

func jsonSame(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}

func TestMessageValidation(t *testing.T) {
	s, _, wa := setup(t)
	base := `"channelId":"` + wa.ChannelID + `","chatType":"whatsapp","chatId":"79011112233"`
	tests := []struct {
		name, body, code string
	}{
		{"not json", `hello`, "VALIDATION_ERROR"},
		{"array", `[]`, "VALIDATION_ERROR"},
		{"text a number", `{` + base + `,"text":5}`, "INVALID_MESSAGE_DATA"},
		{"clearUnanswered a string", `{` + base + `,"text":"x","clearUnanswered":"false"}`, "INVALID_MESSAGE_DATA"},
		{"bad chat type", `{"channelId":"` + wa.ChannelID + `","chatType":"sms","chatId":"1","text":"x"}`, "INVALID_MESSAGE_DATA"},
		{"content not a url", `{` + base + `,"contentUri":"file:///etc/passwd"}`, "INVALID_MESSAGE_DATA"},
		{"phone off telegram", `{` + base + `,"text":"x","phone":"79011112233"}`, "INVALID_MESSAGE_DATA"},
	}
	for _, tt := range tests {
		st, b := call(t, s, key, "POST", "/v3/message", tt.body)
		var e apiError
		_ = json.Unmarshal(b, &e)
		if st != 400 || e.Error != tt.code || e.Status != 400 || e.RequestID == "" {
			t.Errorf("%s: %d %s", tt.name, st, b)
		}
	}
}

func TestEntityLimits(t *testing.T) {
	s, _, _ := setup(t)
	var items []string
	for i := 0; i < 101; i++ {
		items = append(items, fmt.Sprintf(`{"id":"%d","name":"U"}`, i))
	}
	for _, path := range []string{"/v3/users", "/v3/contacts", "/v3/deals"} {
		st, b := call(t, s, key, "POST", path, "["+strings.Join(items, ",")+"]")
		if st != 400 || !bytes.Contains(b, []byte(`"error":"TOO_MANY_ENTITIES"`)) {
			t.Errorf("%s: %d %s", path, st, b)
		}
	}
	st, b := call(t, s, key, "PATCH", "/v3/contacts/bulk_delete", `[`+strings.Repeat(`"x",`, 100)+`"x"]`)
	if st != 400 || !bytes.Contains(b, []byte("TOO_MANY_ENTITIES")) {
		t.Errorf("bulk_delete: %d %s", st, b)
	}
	c := `{"id":"c1","responsibleUserId":"u","name":"A","contactData":[{"chatType":"whatsapp","chatId":"7901"}]}`
	if st, _ := call(t, s, key, "POST", "/v3/contacts", "["+c+","+c+"]"); st != 500 {
		t.Errorf("duplicate contact ids: %d, want 500 as observed live", st)
	}
	st, b = call(t, s, key, "POST", "/v3/users", `[{"id":"1","name":"A","phone":"79263334567"},{"id":"2","name":"B","phone":"79263334567"}]`)
	if st != 400 || !bytes.Contains(b, []byte("DUPLICATE_PHONE_NUMBER")) {
		t.Errorf("duplicate phone: %d %s", st, b)
	}
	st, b = call(t, s, key, "POST", "/v3/users", `[{"id":"1","name":""},{"id":"2","name":"B"},{"name":"C"}]`)
	if st != 400 || !jsonSame(b, []byte(`{"error":"INVALID_USERS_DATA","description":"Users data is invalid","data":[{"index":0,"fields":["name"]},{"index":2,"fields":["id"]}]}`)) {
		t.Errorf("invalid users: %d %s", st, b)
	}
}

func TestPagedListsAndCRMReads(t *testing.T) {
	s, _, _ := setup(t)
	var items []string
	for i := 0; i < 100; i++ {
		items = append(items, fmt.Sprintf(`{"id":"c%03d","responsibleUserId":"u","name":"N","contactData":[{"chatType":"whatsapp","chatId":"7901%d"}]}`, i, i))
	}
	for _, chunk := range [][]string{items[:50], items[50:]} {
		if st, b := call(t, s, key, "POST", "/v3/contacts", "["+strings.Join(chunk, ",")+"]"); st != 200 || len(b) != 0 {
			t.Fatalf("%d %s", st, b)
		}
	}
	if st, _ := call(t, s, key, "POST", "/v3/contacts", `[{"id":"c999","responsibleUserId":"u","name":"N","contactData":[{"chatType":"telegram","username":"anna"}]}]`); st != 200 {
		t.Fatal(st)
	}
	var page struct {
		Count int               `json:"count"`
		Data  []json.RawMessage `json:"data"`
	}
	_, b := call(t, s, key, "GET", "/v3/contacts?offset=100", "")
	if json.Unmarshal(b, &page) != nil || page.Count != 101 || len(page.Data) != 1 || !bytes.Contains(page.Data[0], []byte(`"username":"anna"`)) {
		t.Errorf("page 2: %s", b)
	}
	if st, _ := call(t, s, key, "GET", "/v3/contacts?offset=-1", ""); st != 400 {
		t.Errorf("negative offset: %d", st)
	}
	if st, _ := call(t, s, key, "DELETE", "/v3/contacts/c000", ""); st != 200 {
		t.Errorf("delete: %d", st)
	}
	if st, _ := call(t, s, key, "GET", "/v3/contacts/c000", ""); st != 404 {
		t.Errorf("deleted contact: %d", st)
	}
	call(t, s, key, "POST", "/v3/users", `[{"id":"2","name":"Zed"},{"id":"1","name":"Alex","phone":"79263334567"}]`)
	_, b = call(t, s, key, "GET", "/v3/users", "")
	if string(b) != `[{"id":"1","name":"Alex","phone":"79263334567"},{"id":"2","name":"Zed"}]` {
		t.Errorf("users sorted by name: %s", b)
	}
	st, b := call(t, s, key, "POST", "/v3/pipelines", `[{"id":"p","name":"Sales","stages":[]}]`)
	if st != 400 || !bytes.Contains(b, []byte(`"fields":["stages"]`)) {
		t.Errorf("empty stages: %d %s", st, b)
	}
	body := `[{"id":"p","name":"Sales","stages":[{"id":"1","name":"New"}]},{"id":"q","name":"Other"}]`
	if st, _ := call(t, s, key, "POST", "/v3/pipelines", body); st != 200 {
		t.Errorf("pipelines: %d", st)
	}
	if _, b := call(t, s, key, "GET", "/v3/pipelines", ""); !jsonSame(b, []byte(body)) {
		t.Errorf("GET pipelines: %s", b)
	}
	st, b = call(t, s, key, "POST", "/v3/iframe", `{"user":{"id":"u1","name":"M"},"scope":"card"}`)
	if st != 400 || !bytes.Contains(b, []byte(`"error":{"code":"VALIDATION_ERROR"`)) {
		t.Errorf("iframe without filter: %d %s", st, b)
	}
	st, b = call(t, s, key, "POST", "/v3/iframe", `{"user":{"id":"u1","name":"M"},"scope":"card","filter":[{"chatType":"whatsapp","chatId":"79011112233","name":"Anna"}]}`)
	var frame struct{ URL string }
	if st != 200 || json.Unmarshal(b, &frame) != nil || !strings.HasPrefix(frame.URL, s.URL()+"/iframe/") {
		t.Errorf("iframe: %d %s", st, b)
	}
	if st, _ := call(t, s, key, "GET", "/v3/nothing", ""); st != 404 {
		t.Errorf("unknown route: %d", st)
	}
}

func TestWebhookSettings(t *testing.T) {
	s, _, _ := setup(t)
	_, b := call(t, s, key, "GET", "/v3/webhooks", "")
	if !jsonSame(b, []byte(`{"webhooksUri":null,"subscriptions":{"messagesAndStatuses":false,"contactsAndDealsCreation":false,"channelsUpdates":false,"wabaTemplatesStatus":false}}`)) {
		t.Errorf("initial: %s", b)
	}
	h := newHook(t)
	st, b := call(t, s, key, "PATCH", "/v3/webhooks", `{"webhooksUri":"`+h.srv.URL+`","subscriptions":{"messagesAndStatuses":"true"}}`)
	if st != 400 || !bytes.Contains(b, []byte("subscriptions.messagesAndStatuses")) {
		t.Errorf("string switch: %d %s", st, b)
	}
	subscribe(t, s, h, `{"messagesAndStatuses":true}`)
	_, b = call(t, s, key, "GET", "/v3/webhooks", "")
	if !jsonSame(b, []byte(`{"webhooksUri":"`+h.srv.URL+`/hook?key=k","subscriptions":{"messagesAndStatuses":true,"contactsAndDealsCreation":false,"channelsUpdates":false,"wabaTemplatesStatus":false}}`)) {
		t.Errorf("after PATCH: %s", b)
	}
	bad := newHook(t)
	bad.script = nil
	bad.mu.Lock()
	bad.block = true
	bad.mu.Unlock()
	s.SetWebhookTimeout(20 * time.Millisecond)
	st, b = call(t, s, key, "PATCH", "/v3/webhooks", `{"webhooksUri":"`+bad.srv.URL+`"}`)
	if st != 400 || !bytes.Contains(b, []byte(`"error":"testPostNotPassed"`)) || !bytes.Contains(b, []byte(`"status":null`)) {
		t.Errorf("hanging receiver: %d %s", st, b)
	}
}

// Wazzup documents no webhook retries for v3: by default a payload is POSTed
// once, and a first-try failure of the receiver is a lost delivery the
// caller sees.
func TestDeliveryIsOnceByDefault(t *testing.T) {
	s, a, wa := setup(t)
	h := newHook(t, 500)
	subscribe(t, s, h, "")
	_, err := a.ClientWrites(context.Background(), wa.ChannelID, "whatsapp", "79011112233", Incoming{Text: "hi"})
	var de *DeliveryError
	if !errors.As(err, &de) || de.Attempts != 1 || de.Status != 500 {
		t.Fatalf("a 500 on the first try: err = %v", err)
	}
	if ds := a.Deliveries()[1:]; len(ds) != 1 || ds[0].Attempt != 1 || ds[0].Status != 500 {
		t.Fatalf("deliveries after the probe: %+v", ds)
	}
	if got := h.got(); len(got) != 2 { // the probe and the one try
		t.Fatalf("the receiver got %d POSTs", len(got))
	}
	// The next payload is its own single try: the hook answers 200 now.
	if _, err := a.ClientWrites(context.Background(), wa.ChannelID, "whatsapp", "79011112233", Incoming{Text: "again"}); err != nil {
		t.Fatalf("second payload: %v", err)
	}
}

// A test that wants redelivery turns it on.
func TestDeliveryRetries(t *testing.T) {
	s, a, wa := setup(t)
	s.SetWebhookRetry(3, 0)
	h := newHook(t, 500, 503)
	subscribe(t, s, h, "")
	id, err := a.ClientWrites(context.Background(), wa.ChannelID, "whatsapp", "79011112233", Incoming{Text: "hi"})
	if err != nil || id == "" {
		t.Fatalf("ClientWrites: %q %v", id, err)
	}
	ds := a.Deliveries()[1:] // after the probe
	if len(ds) != 3 {
		t.Fatalf("%d deliveries", len(ds))
	}
	for i, want := range []int{500, 503, 200} {
		if ds[i].Attempt != i+1 || ds[i].Status != want || string(ds[i].Body) != string(ds[0].Body) {
			t.Errorf("delivery %d: attempt %d status %d", i, ds[i].Attempt, ds[i].Status)
		}
		if ds[i].Header.Get("Content-Type") != "application/json; charset-utf-8" || ds[i].Header.Get("Authorization") != "" {
			t.Errorf("headers %v", ds[i].Header)
		}
	}

	h.mu.Lock()
	h.script = []int{500, 500, 500}
	h.mu.Unlock()
	_, err = a.ClientWrites(context.Background(), wa.ChannelID, "whatsapp", "79011112233", Incoming{Text: "again"})
	var de *DeliveryError
	if !errors.As(err, &de) || de.Attempts != 3 || de.Status != 500 {
		t.Errorf("err = %v", err)
	}

	status, err := a.PostRaw(context.Background(), []byte(`garbage`))
	if err != nil || status != 200 {
		t.Errorf("PostRaw: %d %v", status, err)
	}
	if got := h.got(); got[len(got)-1] != "garbage" {
		t.Errorf("last body %q", got[len(got)-1])
	}
}

func TestNoWebhook(t *testing.T) {
	s, a, wa := setup(t)
	ctx := context.Background()
	if _, err := a.ClientWrites(ctx, wa.ChannelID, "whatsapp", "79011112233", Incoming{Text: "hi"}); !errors.Is(err, ErrNoWebhook) {
		t.Errorf("no webhook: %v", err)
	}
	h := newHook(t)
	subscribe(t, s, h, `{"messagesAndStatuses":true}`)
	if err := a.SetChannelState(ctx, wa.ChannelID, "qr", "x"); err != nil {
		t.Errorf("unsubscribed channel update: %v", err)
	}
	if got := a.Channels()[0].State; got != "qr" {
		t.Errorf("state %q", got)
	}
	if _, err := a.AskCreateContact(ctx, CreateContactRequest{Name: "A"}); !errors.Is(err, ErrNoWebhook) {
		t.Errorf("createContact unsubscribed: %v", err)
	}
	if _, err := a.ClientWrites(ctx, wa.ChannelID, "vk", "1", Incoming{Text: "hi"}); err == nil {
		t.Error("a vk chat on a whatsapp channel")
	}
	if _, err := a.ClientWrites(ctx, "nope", "whatsapp", "1", Incoming{Text: "hi"}); !errors.Is(err, ErrUnknownChannel) {
		t.Errorf("unknown channel: %v", err)
	}
}

func TestCreationRequestsStoreAnswers(t *testing.T) {
	s, a, _ := setup(t)
	h := newHook(t)
	subscribe(t, s, h, "")
	d, err := a.AskCreateContact(context.Background(), CreateContactRequest{ResponsibleUserID: "u-7", Name: "Anna",
		ContactData: []ContactData{{ChatType: "whatsapp", ChatID: "79011112233"}}})
	if err != nil || d.Status != 200 {
		t.Fatalf("%+v %v", d, err)
	}
	if c := a.Contacts(); len(c) != 1 || c[0].ID != "c-101" {
		t.Errorf("Contacts() = %+v", c)
	}
}

func TestUnansweredCounter(t *testing.T) {
	s, a, wa := setup(t)
	ctx := context.Background()
	h := newHook(t)
	subscribe(t, s, h, "")
	a.SetAutoStatuses(false)
	call(t, s, key, "POST", "/v3/users", `[{"id":"u-7","name":"Alex"}]`)
	call(t, s, key, "POST", "/v3/contacts", `[{"id":"c","responsibleUserId":"u-7","name":"Anna","contactData":[{"chatType":"whatsapp","chatId":"79011112233"}]}]`)
	if _, err := a.ClientWrites(ctx, wa.ChannelID, "whatsapp", "79011112233", Incoming{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	counter := func() string {
		_, b := call(t, s, key, "GET", "/v3/unanswered/u-7", "")
		var v struct {
			CounterV2 int     `json:"counterV2"`
			Type      string  `json:"type"`
			Last      *string `json:"lastMsgDateTime"`
		}
		_ = json.Unmarshal(b, &v)
		return fmt.Sprintf("%d %s %v", v.CounterV2, v.Type, v.Last != nil)
	}
	if got := counter(); got != "1 red true" {
		t.Errorf("after a client message: %s", got)
	}
	send := `{"channelId":"` + wa.ChannelID + `","chatType":"whatsapp","chatId":"79011112233","text":"auto","clearUnanswered":false}`
	if st, b := call(t, s, key, "POST", "/v3/message", send); st != 201 {
		t.Fatalf("%d %s", st, b)
	}
	if got := counter(); got != "1 red true" {
		t.Errorf("after clearUnanswered:false: %s", got)
	}
	call(t, s, key, "POST", "/v3/message", strings.Replace(send, `,"clearUnanswered":false`, "", 1))
	if got := counter(); got != "0 red false" {
		t.Errorf("after an answer: %s", got)
	}
	if _, b := call(t, s, key, "GET", "/v3/unanswered/nobody", ""); !bytes.Contains(b, []byte(`"counterV2":0`)) {
		t.Errorf("unknown user: %s", b)
	}
}

func TestEditAndDelete(t *testing.T) {
	s, a, wa := setup(t)
	h := newHook(t)
	subscribe(t, s, h, "")
	a.SetAutoStatuses(false)
	waba := a.AddChannel("wapi", "79000000000", "WABA")
	send := func(ch Channel) string {
		_, b := call(t, s, key, "POST", "/v3/message", `{"channelId":"`+ch.ChannelID+`","chatType":"whatsapp","chatId":"79011112233","text":"first"}`)
		var r struct{ MessageID string }
		_ = json.Unmarshal(b, &r)
		return r.MessageID
	}
	id := send(wa)
	if st, b := call(t, s, key, "PATCH", "/v3/message/"+id, `{"text":"second"}`); st != 200 {
		t.Fatalf("edit: %d %s", st, b)
	}
	s.Wait()
	got := h.got()
	last := got[len(got)-1]
	if !strings.Contains(last, `"isEdited":true`) || !strings.Contains(last, `"oldInfo":{"oldText":"first"}`) || !strings.Contains(last, `"text":"second"`) {
		t.Errorf("edit webhook %s", last)
	}
	if st, _ := call(t, s, key, "DELETE", "/v3/message/"+id, ""); st != 200 {
		t.Errorf("delete: %d", st)
	}
	s.Wait()
	got = h.got()
	if last := got[len(got)-1]; !strings.Contains(last, `"isDeleted":true`) {
		t.Errorf("delete webhook %s", last)
	}
	if _, b := call(t, s, key, "DELETE", "/v3/message/"+id, ""); !bytes.Contains(b, []byte("MESSAGES_NOT_FOUND")) {
		t.Errorf("second delete: %s", b)
	}
	wid := send(waba)
	if _, b := call(t, s, key, "PATCH", "/v3/message/"+wid, `{"text":"x"}`); !bytes.Contains(b, []byte("CHANNEL_INVALID_TRANSPORT_FOR_EDITING")) {
		t.Errorf("WABA edit: %s", b)
	}
	if _, b := call(t, s, key, "DELETE", "/v3/message/"+wid, ""); !bytes.Contains(b, []byte("CHANNEL_INVALID_TRANSPORT_FOR_DELETION")) {
		t.Errorf("WABA delete: %s", b)
	}
}

// Close must not wait for a receiver that never answers.
func TestCloseInterruptsDeliveries(t *testing.T) {
	s := NewServer()
	a := s.AddAccount(key)
	wa := a.AddChannel("whatsapp", "79865784457", "Sales")
	h := newHook(t)
	subscribe(t, s, h, "")
	h.mu.Lock()
	h.block = true
	h.mu.Unlock()
	if st, _ := call(t, s, key, "POST", "/v3/message", `{"channelId":"`+wa.ChannelID+`","chatType":"whatsapp","chatId":"79011112233","text":"x"}`); st != 201 {
		t.Fatal(st)
	}
	s.Close()
	s.Close()
}

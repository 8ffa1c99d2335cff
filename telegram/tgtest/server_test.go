package tgtest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const token = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameJSON compares two JSON texts by value.
func sameJSON(t *testing.T, got, want []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(got, &x); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if err := json.Unmarshal(want, &y); err != nil {
		t.Fatalf("%s: %v", want, err)
	}
	a, _ := json.Marshal(x)
	b, _ := json.Marshal(y)
	return string(a) == string(b)
}

func do(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func postJSON(t *testing.T, s *Server, tok, method, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.URL()+"/bot"+tok+"/"+method, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return do(t, req)
}

func setup(t *testing.T) (*Server, *Bot) {
	t.Helper()
	s := NewServer()
	t.Cleanup(s.Close)
	s.SetWebhookRetry(2, 0)
	return s, s.AddBot(token, "relay24_test_bot")
}

func TestEnvelopesMatchFixtures(t *testing.T) {
	s, b := setup(t)
	var req struct {
		ChatID int64 `json:"chat_id"`
	}
	_ = json.Unmarshal(fixture(t, "sendMessage_request.json"), &req)
	b.AddChat(User{ID: req.ChatID, FirstName: "Anna"})

	st, body := postJSON(t, s, token, "sendMessage", `{"chat_id":1,"text":"x"}`)
	if st != 400 || !sameJSON(t, body, fixture(t, "error_400_chat_not_found.json")) {
		t.Errorf("chat not found: %d %s", st, body)
	}
	b.Block(req.ChatID)
	st, body = postJSON(t, s, token, "sendMessage", string(fixture(t, "sendMessage_request.json")))
	if st != 403 || !sameJSON(t, body, fixture(t, "error_403_bot_blocked.json")) {
		t.Errorf("blocked: %d %s", st, body)
	}
	b.Unblock(req.ChatID)
	b.SetFault(&Fault{Status: 429})
	st, body = postJSON(t, s, token, "sendMessage", string(fixture(t, "sendMessage_request.json")))
	if st != 429 || !sameJSON(t, body, fixture(t, "error_429_too_many_requests.json")) {
		t.Errorf("429: %d %s", st, body)
	}
	st, body = postJSON(t, s, token, "setWebhook", string(fixture(t, "setWebhook_request.json")))
	if st != 200 || !sameJSON(t, body, fixture(t, "setWebhook_response.json")) {
		t.Errorf("setWebhook: %d %s", st, body)
	}
	if u, sec := b.Webhook(); u != "https://example.com/tg/webhook" || sec != "Abc_123-xyz" {
		t.Errorf("Webhook() = %q %q", u, sec)
	}
	st, body = postJSON(t, s, token, "setWebhook", string(fixture(t, "setWebhook_request.json")))
	if st != 200 || !sameJSON(t, body, []byte(`{"ok":true,"result":true,"description":"Webhook is already set"}`)) {
		t.Errorf("setWebhook again: %d %s", st, body)
	}

	st, body = postJSON(t, s, token, "sendMessage", string(fixture(t, "sendMessage_request.json")))
	var ok struct {
		OK     bool            `json:"ok"`
		Result json.RawMessage `json:"result"`
	}
	if st != 200 || json.Unmarshal(body, &ok) != nil || !ok.OK || strings.Contains(string(body), "description") {
		t.Fatalf("send: %d %s", st, body)
	}
	var real struct {
		OK     bool           `json:"ok"`
		Result map[string]any `json:"result"`
	}
	_ = json.Unmarshal(fixture(t, "sendMessage_response_real_capture.json"), &real)
	var got map[string]any
	_ = json.Unmarshal(ok.Result, &got)
	for k := range real.Result {
		if _, present := got[k]; !present {
			t.Errorf("result lacks %q: %s", k, ok.Result)
		}
	}
	for k := range got {
		if _, present := real.Result[k]; !present {
			t.Errorf("result has %q the capture lacks: %s", k, ok.Result)
		}
	}
	from, _ := got["from"].(map[string]any)
	if from["id"] != float64(123456) || from["is_bot"] != true || from["username"] != "relay24_test_bot" {
		t.Errorf("from = %v", from)
	}
}

func TestRequestForms(t *testing.T) {
	s, b := setup(t)
	b.AddChat(User{ID: 77, FirstName: "Q"})
	// Query string, form and multipart all carry parameters.
	st, body := do(t, mustReq(t, "GET", s.URL()+"/bot"+token+"/sendMessage?chat_id=77&text=via+query", "", ""))
	if st != 200 {
		t.Errorf("query: %d %s", st, body)
	}
	st, body = do(t, mustReq(t, "POST", s.URL()+"/bot"+token+"/SENDMESSAGE", "application/x-www-form-urlencoded",
		url.Values{"chat_id": {"77"}, "text": {"via form"}}.Encode()))
	if st != 200 {
		t.Errorf("form, method in capitals: %d %s", st, body)
	}
	sent := b.Sent()
	if len(sent) != 2 || sent[0].Text != "via query" || sent[1].Text != "via form" || sent[1].MessageID != sent[0].MessageID+1 {
		t.Errorf("Sent() = %+v", sent)
	}
	st, body = postJSON(t, s, token, "sendMessage", `{"chat_id":77,"text":"x","parse_mode":"BBCode"}`)
	if st != 400 || !strings.Contains(string(body), `"Bad Request: unsupported parse_mode"`) {
		t.Errorf("parse_mode: %d %s", st, body)
	}
	st, body = postJSON(t, s, token, "sendMessage", `{"text":"x"}`)
	if st != 400 || !strings.Contains(string(body), `"Bad Request: chat_id is empty"`) {
		t.Errorf("no chat_id: %d %s", st, body)
	}
	st, body = postJSON(t, s, token, "sendMessage", `{"chat_id":77,`)
	if st != 400 {
		t.Errorf("broken JSON: %d %s", st, body)
	}
	st, body = postJSON(t, s, token, "sendSticker", `{}`)
	if st != 404 || !sameJSON(t, body, []byte(`{"ok":false,"error_code":404,"description":"Not Found: method not found"}`)) {
		t.Errorf("unknown method: %d %s", st, body)
	}
	st, body = postJSON(t, s, "123456:wrong", "getMe", `{}`)
	if st != 401 || !sameJSON(t, body, []byte(`{"ok":false,"error_code":401,"description":"Unauthorized"}`)) {
		t.Errorf("unknown token: %d %s", st, body)
	}
	st, body = do(t, mustReq(t, "GET", s.URL()+"/elsewhere", "", ""))
	if st != 404 {
		t.Errorf("outside /bot: %d %s", st, body)
	}
}

func mustReq(t *testing.T, method, target, ctype, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	return req
}

func TestPendingUpdatesAndGetUpdates(t *testing.T) {
	s, b := setup(t)
	ctx := context.Background()
	u := User{ID: 5, FirstName: "P"}
	id1, err := b.UserWrites(ctx, u, "one")
	if !errors.Is(err, ErrNoWebhook) {
		t.Fatal(err)
	}
	id2, _ := b.UserWrites(ctx, u, "two")
	_, body := postJSON(t, s, token, "getUpdates", `{}`)
	var res struct {
		Result []struct {
			UpdateID int64 `json:"update_id"`
		} `json:"result"`
	}
	_ = json.Unmarshal(body, &res)
	if len(res.Result) != 2 || res.Result[0].UpdateID != id1 || res.Result[1].UpdateID != id2 {
		t.Errorf("getUpdates: %s", body)
	}
	_, body = postJSON(t, s, token, "getUpdates", `{"offset":`+jsonInt(id2)+`}`)
	_ = json.Unmarshal(body, &res)
	if len(res.Result) != 1 {
		t.Errorf("getUpdates with offset: %s", body)
	}
	postJSON(t, s, token, "setWebhook", `{"url":"https://example.com/hook"}`)
	st, body := postJSON(t, s, token, "getUpdates", `{}`)
	if st != 409 || !strings.Contains(string(body), "Conflict: can't use getUpdates method while webhook is active") {
		t.Errorf("getUpdates with a webhook: %d %s", st, body)
	}
	st, body = postJSON(t, s, token, "deleteWebhook", `{}`)
	if st != 200 || !sameJSON(t, body, []byte(`{"ok":true,"result":true,"description":"Webhook was deleted"}`)) {
		t.Errorf("deleteWebhook: %s", body)
	}
	_, body = postJSON(t, s, token, "deleteWebhook", `{}`)
	if !strings.Contains(string(body), "Webhook is already deleted") {
		t.Errorf("deleteWebhook again: %s", body)
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestAllowedUpdatesFilter(t *testing.T) {
	s, b := setup(t)
	var mu sync.Mutex
	hits := 0
	h := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
	}))
	defer h.Close()
	postJSON(t, s, token, "setWebhook", `{"url":"`+h.URL+`","allowed_updates":["callback_query"]}`)
	if _, err := b.UserWrites(context.Background(), User{ID: 9, FirstName: "F"}, "hi"); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("err = %v", err)
	}
	postJSON(t, s, token, "setWebhook", `{"url":"`+h.URL+`","allowed_updates":[]}`)
	if _, err := b.UserWrites(context.Background(), User{ID: 9, FirstName: "F"}, "hi"); err != nil {
		t.Errorf("err = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if hits != 1 {
		t.Errorf("%d deliveries", hits)
	}
}

func TestBasicAuthFromWebhookURL(t *testing.T) {
	s, b := setup(t)
	var got string
	h := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		got = user + ":" + pass
	}))
	defer h.Close()
	hook := strings.Replace(h.URL, "http://", "http://relay:p%40ss@", 1)
	postJSON(t, s, token, "setWebhook", `{"url":"`+hook+`"}`)
	if _, err := b.UserWrites(context.Background(), User{ID: 9, FirstName: "F"}, "hi"); err != nil {
		t.Fatal(err)
	}
	if got != "relay:p@ss" {
		t.Errorf("basic auth %q", got)
	}
}

func TestCloseInterruptsDeliveries(t *testing.T) {
	s := NewServer()
	b := s.AddBot(token, "x_bot")
	release := make(chan struct{})
	h := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer h.Close()
	defer close(release)
	postJSON(t, s, token, "setWebhook", `{"url":"`+h.URL+`"}`)
	done := make(chan error, 1)
	go func() {
		_, err := b.UserWrites(context.Background(), User{ID: 1, FirstName: "A"}, "hi")
		done <- err
	}()
	s.Close() // whether the POST has started or not, it ends now
	if err := <-done; err == nil {
		t.Error("a delivery interrupted by Close reported success")
	}
}

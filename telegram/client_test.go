package telegram_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/jpeg"
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

	"github.com/relay24/relay24/telegram"
	"github.com/relay24/relay24/telegram/tgtest"
)

const token = "2084591315:AAE-test_secret_part_0123456789abcde"

var anna = tgtest.User{ID: 207777314, FirstName: "Anna", LastName: "K", Username: "anna_k", LanguageCode: "ru"}

// hook is the bot's webhook endpoint as relay24 would run it.
type hook struct {
	srv     *httptest.Server
	mu      sync.Mutex
	bodies  [][]byte
	secrets []string
	script  []int
}

func newHook(t *testing.T, script ...int) *hook {
	h := &hook{script: script}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, b)
		h.secrets = append(h.secrets, r.Header.Get("X-Telegram-Bot-Api-Secret-Token"))
		status := http.StatusOK
		if len(h.script) > 0 {
			status, h.script = h.script[0], h.script[1:]
		}
		h.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) got() ([][]byte, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][]byte(nil), h.bodies...), append([]string(nil), h.secrets...)
}

func setup(t *testing.T) (*tgtest.Server, *tgtest.Bot, *telegram.Client) {
	t.Helper()
	s := tgtest.NewServer()
	t.Cleanup(s.Close)
	s.SetWebhookRetry(3, 0)
	b := s.AddBot(token, "RogerLoggerBot")
	return s, b, telegram.NewClient(s.URL(), token, &http.Client{Timeout: 10 * time.Second})
}

func apiError(t *testing.T, err error) *telegram.Error {
	t.Helper()
	var e *telegram.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *telegram.Error", err, err)
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("the token leaks into %q", err)
	}
	return e
}

func TestGetMe(t *testing.T) {
	_, _, c := setup(t)
	me, err := c.GetMe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if me.ID != 2084591315 || !me.IsBot || me.Username != "RogerLoggerBot" || me.FirstName == "" {
		t.Errorf("GetMe = %+v", me)
	}
}

func TestUnauthorized(t *testing.T) {
	s, _, _ := setup(t)
	for tok, want := range map[string]string{
		"2084591316:AAE-unknown":    "Unauthorized",
		"not-a-token":               "Unauthorized: invalid token specified",
		"0123:starts-with-zero-bad": "Unauthorized: invalid token specified",
	} {
		_, err := telegram.NewClient(s.URL(), tok, nil).GetMe(context.Background())
		var e *telegram.Error
		if !errors.As(err, &e) || e.Code != 401 || e.Description != want || telegram.Temporary(err) {
			t.Errorf("%s: %v", tok, err)
		}
		if strings.Contains(err.Error(), tok) {
			t.Errorf("token in %q", err)
		}
	}
}

func TestWebhookRoundTrip(t *testing.T) {
	_, b, c := setup(t)
	ctx := context.Background()
	h := newHook(t)
	url := h.srv.URL + "/webhooks/telegram/portal-key"
	if err := c.SetWebhook(ctx, url, "Abc_123-xyz", []string{"message", "edited_message", "callback_query"}); err != nil {
		t.Fatal(err)
	}
	if gu, gs := b.Webhook(); gu != url || gs != "Abc_123-xyz" {
		t.Errorf("Webhook() = %q %q", gu, gs)
	}
	if err := c.SetWebhook(ctx, url, "Abc_123-xyz", nil); err != nil {
		t.Errorf("unchanged webhook: %v", err)
	}
	info, err := c.GetWebhookInfo(ctx)
	if err != nil || info.URL != url || strings.Join(info.AllowedUpdates, ",") != "message,edited_message,callback_query" || info.MaxConnections != 40 {
		t.Errorf("GetWebhookInfo = %+v %v", info, err)
	}

	id, err := b.UserWrites(ctx, anna, "/start hello")
	if err != nil {
		t.Fatal(err)
	}
	bodies, secrets := h.got()
	if len(bodies) != 1 || secrets[0] != "Abc_123-xyz" {
		t.Fatalf("deliveries %q secrets %q", bodies, secrets)
	}
	u, err := telegram.ParseUpdate(bodies[0])
	if err != nil {
		t.Fatal(err)
	}
	m := u.Message
	if u.UpdateID != id || u.Kind != "message" || m.Text != "/start hello" || m.Chat.ID != anna.ID || m.Chat.Type != "private" ||
		m.From == nil || m.From.ID != anna.ID || m.From.IsBot || m.From.LanguageCode != "ru" || m.Date.IsZero() {
		t.Errorf("update %+v message %+v", u, m)
	}
	if !bytes.Contains(bodies[0], []byte(`"entities":[{"offset":0,"length":6,"type":"bot_command"}]`)) {
		t.Errorf("no bot_command entity: %s", bodies[0])
	}
	// Same keys as the official sample plus is_bot/language_code/entities real updates carry.
	sample := keys(t, fixture(t, "update_text_message_official_guide.json"))
	for k := range keys(t, bodies[0]) {
		switch k {
		case "message.from.is_bot", "message.from.language_code", "message.entities", "message.entities[].offset",
			"message.entities[].length", "message.entities[].type":
			continue
		}
		if !sample[k] {
			t.Errorf("update key %q is not in the official sample", k)
		}
	}
	next, err := b.UserWrites(ctx, anna, "again")
	if err != nil || next != id+1 {
		t.Errorf("next update id %d %v", next, err)
	}

	if err := c.DeleteWebhook(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.UserWrites(ctx, anna, "nobody listens"); !errors.Is(err, tgtest.ErrNoWebhook) {
		t.Errorf("without a webhook: %v", err)
	}
}

func TestSetWebhookRefusals(t *testing.T) {
	s, _, c := setup(t)
	ctx := context.Background()
	tests := []struct {
		url, secret, want string
	}{
		{"https://example.com/hook", "a b", "Bad Request: secret token contains unallowed characters"},
		{"https://example.com/hook", "a+b/c=", "Bad Request: secret token contains unallowed characters"},
		{"https://example.com/hook", strings.Repeat("a", 257), "Bad Request: secret token is too long"},
		{"not a url", "", "Bad Request: invalid webhook URL specified"},
		{"ftp://example.com/hook", "", "Bad Request: invalid webhook URL specified"},
	}
	for _, tt := range tests {
		err := c.SetWebhook(ctx, tt.url, tt.secret, nil)
		if e := apiError(t, err); e.Code != 400 || e.Description != tt.want || telegram.Temporary(err) {
			t.Errorf("%q %.20q: %v", tt.url, tt.secret, err)
		}
	}
	s.RequireHTTPS(true)
	for url, want := range map[string]string{
		"http://example.com/hook":       "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
		"https://example.com:8080/hook": "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
	} {
		if e := apiError(t, c.SetWebhook(ctx, url, "", nil)); e.Description != want {
			t.Errorf("%s: %q", url, e.Description)
		}
	}
	if err := c.SetWebhook(ctx, "https://example.com:8443/hook", "", nil); err != nil {
		t.Errorf("port 8443: %v", err)
	}
}

func keys(t *testing.T, b []byte) map[string]bool {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	var walk func(v any, prefix string)
	walk = func(v any, prefix string) {
		switch x := v.(type) {
		case map[string]any:
			for k, sub := range x {
				out[prefix+k] = true
				walk(sub, prefix+k+".")
			}
		case []any:
			for _, sub := range x {
				walk(sub, strings.TrimSuffix(prefix, ".")+"[].")
			}
		}
	}
	walk(v, "")
	return out
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sortedKeys(m map[string]bool) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func TestSendMessage(t *testing.T) {
	_, b, c := setup(t)
	ctx := context.Background()
	b.AddChat(anna)
	m1, err := c.SendMessage(ctx, anna.ID, "Hello World")
	if err != nil {
		t.Fatal(err)
	}
	m2, err := c.SendMessage(ctx, anna.ID, "Second")
	if err != nil {
		t.Fatal(err)
	}
	if m1.Text != "Hello World" || m1.Chat.ID != anna.ID || m1.Chat.Type != "private" || m1.From == nil || !m1.From.IsBot ||
		m1.From.ID != b.ID() || m2.MessageID <= m1.MessageID || m1.Date.IsZero() {
		t.Errorf("messages %+v %+v", m1, m2)
	}
	sent := b.Sent()
	if len(sent) != 2 || sent[0].ChatID != anna.ID || sent[0].MessageID != m1.MessageID || sent[1].Text != "Second" {
		t.Errorf("Sent() = %+v", sent)
	}
	// The result has the shape of the real capture: same members, the chat
	// those of a private chat instead of a group's.
	var real struct {
		Result json.RawMessage `json:"result"`
	}
	_ = json.Unmarshal(fixture(t, "sendMessage_response_real_capture.json"), &real)
	want := keys(t, real.Result)
	delete(want, "chat.title")
	delete(want, "chat.all_members_are_administrators")
	want["chat.first_name"], want["chat.last_name"], want["chat.username"] = true, true, true
	if got := keys(t, sent[0].Result); sortedKeys(got) != sortedKeys(want) {
		t.Errorf("result keys\n got %s\nwant %s", sortedKeys(got), sortedKeys(want))
	}
	// The user's next message continues the bot's message box.
	h := newHook(t)
	if err := c.SetWebhook(ctx, h.srv.URL, "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.UserWrites(ctx, anna, "reply"); err != nil {
		t.Fatal(err)
	}
	bodies, secrets := h.got()
	u, _ := telegram.ParseUpdate(bodies[0])
	if u.Message.MessageID <= m2.MessageID || secrets[0] != "" {
		t.Errorf("incoming message id %d after %d; secret %q", u.Message.MessageID, m2.MessageID, secrets[0])
	}
}

func TestSendMessageErrors(t *testing.T) {
	_, b, c := setup(t)
	ctx := context.Background()
	b.AddChat(anna)
	blocked := tgtest.User{ID: 42, FirstName: "Blocker"}
	b.AddChat(blocked)
	b.Block(blocked.ID)
	tests := []struct {
		name   string
		chatID int64
		text   string
		code   int
		desc   string
	}{
		{"unknown chat", 999, "hi", 400, "Bad Request: chat not found"},
		{"empty text", anna.ID, "", 400, "Bad Request: message text is empty"},
		{"blank text", anna.ID, " \n", 400, "Bad Request: message text is empty"},
		{"4097 characters", anna.ID, strings.Repeat("a", 4097), 400, "Bad Request: message is too long"},
		{"2049 emoji", anna.ID, strings.Repeat("😀", 2049), 400, "Bad Request: message is too long"},
		{"blocked", blocked.ID, "hi", 403, "Forbidden: bot was blocked by the user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.SendMessage(ctx, tt.chatID, tt.text)
			e := apiError(t, err)
			if e.Code != tt.code || e.Description != tt.desc || telegram.Temporary(err) || telegram.Forbidden(err) != (tt.code == 403) {
				t.Errorf("err = %+v", e)
			}
		})
	}
	if _, err := c.SendMessage(ctx, anna.ID, strings.Repeat("я", telegram.MaxTextLength)); err != nil {
		t.Errorf("MaxTextLength characters: %v", err)
	}
	// Writing again unblocks.
	if _, err := b.UserWrites(ctx, blocked, "I'm back"); !errors.Is(err, tgtest.ErrNoWebhook) {
		t.Fatal(err)
	}
	if _, err := c.SendMessage(ctx, blocked.ID, "welcome back"); err != nil {
		t.Errorf("after the user wrote: %v", err)
	}
}

func TestFaults(t *testing.T) {
	s, b, c := setup(t)
	ctx := context.Background()
	b.AddChat(anna)
	b.SetFault(&tgtest.Fault{Status: 429, RetryAfter: 7, Method: "sendMessage"})
	if _, err := c.GetMe(ctx); err != nil {
		t.Errorf("the fault hit another method: %v", err)
	}
	_, err := c.SendMessage(ctx, anna.ID, "hi")
	if e := apiError(t, err); e.Code != 429 || e.RetryAfter != 7 || e.Description != "Too Many Requests: retry after 7" || !telegram.Temporary(err) {
		t.Errorf("429: %+v", e)
	}
	b.SetFault(&tgtest.Fault{Status: 500, Count: 2})
	for i := 0; i < 2; i++ {
		_, err := c.SendMessage(ctx, anna.ID, "hi")
		if e := apiError(t, err); e.Code != 500 || e.Description != "Internal Server Error" || !telegram.Temporary(err) {
			t.Errorf("500: %+v", e)
		}
	}
	b.SetFault(&tgtest.Fault{Status: 502, Body: "<html>502 Bad Gateway</html>"})
	_, err = c.SendMessage(ctx, anna.ID, "hi")
	if e := apiError(t, err); e.Code != 502 || !strings.Contains(e.Description, "Bad Gateway") || !telegram.Temporary(err) {
		t.Errorf("502: %+v", e)
	}
	if _, err := c.SendMessage(ctx, anna.ID, "hi"); err != nil {
		t.Errorf("after the faults: %v", err)
	}
	b.SetFault(&tgtest.Fault{Delay: time.Minute})
	short := telegram.NewClient(s.URL(), token, &http.Client{Timeout: 50 * time.Millisecond})
	_, err = short.GetMe(ctx)
	if err == nil || !telegram.Temporary(err) || strings.Contains(err.Error(), token) {
		t.Errorf("timeout: %v", err)
	}
}

func TestDeliveryRetriesKeepTheSecret(t *testing.T) {
	_, b, c := setup(t)
	ctx := context.Background()
	h := newHook(t, 500, 502)
	if err := c.SetWebhook(ctx, h.srv.URL, "s3cret", nil); err != nil {
		t.Fatal(err)
	}
	id, err := b.UserWrites(ctx, anna, "hi")
	if err != nil {
		t.Fatal(err)
	}
	ds := b.Deliveries()
	if len(ds) != 3 {
		t.Fatalf("%d deliveries", len(ds))
	}
	for i, want := range []int{500, 502, 200} {
		d := ds[i]
		if d.Attempt != i+1 || d.Status != want || d.UpdateID != id || d.Header.Get("X-Telegram-Bot-Api-Secret-Token") != "s3cret" ||
			d.Header.Get("Content-Type") != "application/json" {
			t.Errorf("delivery %d: %+v", i, d)
		}
	}
	_, secrets := h.got()
	for _, s := range secrets {
		if s != "s3cret" {
			t.Errorf("secret header %q", s)
		}
	}
	h.mu.Lock()
	h.script = []int{503, 503, 503}
	h.mu.Unlock()
	_, err = b.UserWrites(ctx, anna, "lost")
	var de *tgtest.DeliveryError
	if !errors.As(err, &de) || de.Attempts != 3 || de.Status != 503 {
		t.Errorf("err = %v", err)
	}
	info, _ := c.GetWebhookInfo(ctx)
	if info.LastErrorDate == 0 || !strings.Contains(info.LastErrorMessage, "503") {
		t.Errorf("webhook info %+v", info)
	}
}

func TestPhotoAndGetFile(t *testing.T) {
	_, b, c := setup(t)
	ctx := context.Background()
	h := newHook(t)
	if err := c.SetWebhook(ctx, h.srv.URL, "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.UserSendsPhoto(ctx, anna, "my receipt"); err != nil {
		t.Fatal(err)
	}
	bodies, _ := h.got()
	u, err := telegram.ParseUpdate(bodies[0])
	if err != nil {
		t.Fatal(err)
	}
	m := u.Message
	if m.MediaKind() != "photo" || len(m.Photo) != 3 || m.Caption != "my receipt" || m.Photo[2].Width != 1280 || m.BestFileID() != m.Photo[2].FileID {
		t.Fatalf("message %+v", m)
	}
	f, err := c.GetFile(ctx, m.BestFileID())
	if err != nil {
		t.Fatal(err)
	}
	if f.FileID != m.Photo[2].FileID || f.FilePath == "" || f.FileSize != m.Photo[2].FileSize {
		t.Errorf("GetFile = %+v", f)
	}
	resp, err := http.Get(c.FileURL(f.FilePath))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil || img.Bounds().Dx() != 1280 || int64(len(data)) != f.FileSize {
		t.Errorf("download: %v %d bytes", err, len(data))
	}
	_, err = c.GetFile(ctx, "AgACAgIAAxkBAAInope")
	if e := apiError(t, err); e.Code != 400 || e.Description != "Bad Request: invalid file_id" {
		t.Errorf("unknown file: %+v", e)
	}
}

func TestNetworkErrorsHideTheToken(t *testing.T) {
	c := telegram.NewClient("http://127.0.0.1:1", token, nil)
	_, err := c.SendMessage(context.Background(), 1, "x")
	if err == nil || !telegram.Temporary(err) || strings.Contains(err.Error(), token) {
		t.Errorf("err = %v", err)
	}
}

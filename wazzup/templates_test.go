package wazzup_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relay24/relay24/wazzup"
	"github.com/relay24/relay24/wazzup/wztest"
)

// The documented item reads into a Template: three variables by its
// templateCode, the body previewed with the body's values (the header's
// come first), usable on its channel only while approved.
func TestParseTemplatesFixture(t *testing.T) {
	ts, err := wazzup.ParseTemplates(fixture(t, "templates_whatsapp_get_response.INFERRED.json"))
	if err != nil || len(ts) != 1 {
		t.Fatalf("%d templates, %v", len(ts), err)
	}
	tp := ts[0]
	if tp.GUID != "6201005a-9a6f-486f-bdd5-e6cb86c76ddb" || tp.Title != "Заказ готов" || tp.Name != "order_ready" ||
		tp.Language != "ru" || tp.Category != "UTILITY" || tp.AccountID != "12345678" || len(tp.Raw) == 0 {
		t.Errorf("template %+v", tp)
	}
	if len(tp.Components) != 4 || tp.Components[1].Type != "BODY" || strings.Join(tp.Components[1].Example, ",") != "Анна,123" ||
		len(tp.Components[3].Buttons) != 2 || tp.Components[3].Buttons[1].URL != "https://shop.example.com/o/{{1}}" {
		t.Errorf("components %+v", tp.Components)
	}
	if n := tp.Variables(); n != 3 {
		t.Errorf("variables %d, want 3 (the [[…]] of templateCode)", n)
	}
	if got := tp.Preview([]string{"123", "Анна", "123"}); got != "Здравствуйте, Анна! Ваш заказ 123 готов к выдаче." {
		t.Errorf("preview %q", got)
	}
	if got := tp.Preview(nil); got != tp.Text() || !strings.Contains(got, "{{1}}") {
		t.Errorf("preview without values %q", got)
	}
	ch := "24197d5f-06de-421f-8576-9f6e6cb67f28"
	if !tp.Approved() || !tp.UsableOn(ch) || tp.UsableOn("other") {
		t.Errorf("usable on %s: %v, on other: %v", ch, tp.UsableOn(ch), tp.UsableOn("other"))
	}
	tp.Status = "APPROVED"
	if !tp.UsableOn(ch) {
		t.Error("upper-case APPROVED not usable")
	}
	for _, st := range []string{"pending", "REJECTED", "archived", ""} {
		tp.Status = st
		if tp.UsableOn(ch) {
			t.Errorf("status %q usable", st)
		}
	}
}

// Without templateCode the variables are Meta's {{n}}: header, body and
// URL buttons; Meta's example object is read as well as Wazzup's array.
func TestParseTemplatesEnvelopeAndFallbacks(t *testing.T) {
	body := `{"data":[{"templateGuid":"g1","status":"approved","channels":["c1"],"components":[
		{"type":"HEADER","format":"TEXT","text":"Order {{1}}","example":{"header_text":["7"]}},
		{"type":"BODY","text":"Hi {{1}}, {{2}} and {{1}} again","example":{"body_text":[["Ann","7"]]}},
		{"type":"BUTTONS","buttons":[{"type":"URL","text":"Open","url":"https://x/{{1}}"},{"type":"QUICK_REPLY","text":"{{1}}"}]}]},
		{"templateGuid":"g2","components":[{"type":"BODY","text":"No variables","example":42}]}]}`
	ts, err := wazzup.ParseTemplates([]byte(body))
	if err != nil || len(ts) != 2 {
		t.Fatalf("%d templates, %v", len(ts), err)
	}
	if n := ts[0].Variables(); n != 4 {
		t.Errorf("fallback variables %d, want 4 (1 header, 2 body, 1 URL button)", n)
	}
	if got := strings.Join(ts[0].Components[0].Example, ",") + "|" + strings.Join(ts[0].Components[1].Example, ","); got != "7|Ann,7" {
		t.Errorf("Meta's examples read as %q", got)
	}
	if got := ts[0].Preview([]string{"7", "Ann", "Bob", "x"}); got != "Hi Ann, Bob and Ann again" {
		t.Errorf("preview %q", got)
	}
	if ts[1].Variables() != 0 || ts[1].Preview(nil) != "No variables" {
		t.Errorf("template without variables: %d %q", ts[1].Variables(), ts[1].Preview(nil))
	}
	for _, bad := range []string{`[{"title":"no guid"}]`, `["x"]`, `{"data":{"x":1}}`, `"x"`} {
		if _, err := wazzup.ParseTemplates([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if ts, err := wazzup.ParseTemplates([]byte(`{"data":null}`)); err != nil || len(ts) != 0 {
		t.Errorf("empty envelope: %v %v", ts, err)
	}
}

// Templates pages by 100 until a short page: 230 templates come in three
// requests, in order; a page of the {data:[…]} form is read too.
func TestTemplatesPaging(t *testing.T) {
	e := newEnv(t)
	for i := range 230 {
		e.acc.AddTemplate(wztest.Template{Title: fmt.Sprintf("t%03d", i), Status: "approved", Channels: []string{e.waba.ChannelID},
			Components: []wztest.TemplateComponent{{Type: "BODY", Text: "Hello {{1}}"}}})
	}
	ts, err := e.c.Templates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 230 || ts[0].Title != "t000" || ts[229].Title != "t229" {
		t.Fatalf("%d templates", len(ts))
	}
	if ts[5].Variables() != 1 || !ts[5].UsableOn(e.waba.ChannelID) || ts[5].GUID != e.acc.Templates()[5].GUID {
		t.Errorf("template %+v", ts[5])
	}

	var mu sync.Mutex
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		n := len(queries)
		mu.Unlock()
		var items []string
		if n == 1 {
			for i := range wazzup.TemplatesPageSize {
				items = append(items, fmt.Sprintf(`{"templateGuid":"g%d"}`, i))
			}
		} else {
			items = []string{`{"templateGuid":"last"}`}
		}
		fmt.Fprintf(w, `{"data":[%s]}`, strings.Join(items, ","))
	}))
	defer srv.Close()
	ts, err = wazzup.NewClient(srv.URL, "k", nil).Templates(context.Background())
	if err != nil || len(ts) != 101 || ts[100].GUID != "last" {
		t.Fatalf("%d templates, %v", len(ts), err)
	}
	if strings.Join(queries, " ") != "limit=100&offset=0 limit=100&offset=100" {
		t.Errorf("queries %q", queries)
	}
}

// A template send carries templateId and templateValues as the fixture
// does; the emulator refuses what is not an approved template of the
// channel with the right values, and the client types those refusals.
func TestSendTemplate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	comps := []wztest.TemplateComponent{
		{Type: "HEADER", Format: "TEXT", Text: "Заказ {{1}}"},
		{Type: "BODY", Text: "Здравствуйте, {{1}}! Ваш заказ {{2}} готов к выдаче."},
	}
	ok := e.acc.AddTemplate(wztest.Template{Title: "ready", Status: "approved", Channels: []string{e.waba.ChannelID}, Components: comps})
	rejected := e.acc.AddTemplate(wztest.Template{Title: "bad", Status: "REJECTED", Channels: []string{e.waba.ChannelID}, Components: comps})
	other := e.acc.AddTemplate(wztest.Template{Title: "elsewhere", Status: "approved", Channels: []string{"24197d5f-06de-421f-8576-9f6e6cb67f28"}, Components: comps})
	req := func(id string, values ...string) wazzup.SendRequest {
		return wazzup.SendRequest{ChannelID: e.waba.ChannelID, ChatType: "whatsapp", ChatID: "79994621848",
			TemplateID: id, TemplateValues: values, CrmMessageID: "relay24-msg-" + id + strings.Join(values, "")}
	}
	res, err := e.c.SendTemplate(ctx, req(ok.GUID, "123", "Анна", "123"))
	if err != nil || res.MessageID == "" {
		t.Fatalf("send: %+v %v", res, err)
	}
	sent := e.acc.Sent()
	if len(sent) != 1 || sent[0].Request.TemplateID != ok.GUID || strings.Join(sent[0].Request.TemplateValues, ",") != "123,Анна,123" || sent[0].WindowError != "" {
		t.Fatalf("sent %+v", sent)
	}
	if !sameKeys(keysOf(t, sent[0].Raw), keysOf(t, fixture(t, "message_send_request_waba_template_values.INFERRED.json"))) {
		t.Errorf("request %s has not the fixture's keys", sent[0].Raw)
	}

	long := strings.Repeat("я", 1000)
	cases := []struct {
		name string
		r    wazzup.SendRequest
		kind wazzup.TemplateKind
		code string
	}{
		{"rejected", req(rejected.GUID, "1", "2", "3"), wazzup.TemplateNotUsable, wazzup.CodeTemplateRejected},
		{"another channel's", req(other.GUID, "1", "2", "3"), wazzup.TemplateBadValues, wazzup.CodeInvalidMessageData},
		{"unknown", req("6201005a-9a6f-486f-bdd5-e6cb86c76ddb", "1", "2", "3"), wazzup.TemplateBadValues, wazzup.CodeInvalidMessageData},
		{"too few values", req(ok.GUID, "1", "2"), wazzup.TemplateBadValues, wazzup.CodeValidationError},
		{"too many values", req(ok.GUID, "1", "2", "3", "4"), wazzup.TemplateBadValues, wazzup.CodeValidationError},
		{"too long", req(ok.GUID, "1", "2", long), wazzup.TemplateTooLong, wazzup.CodeTooLongWABATemplate},
		{"long header", req(ok.GUID, strings.Repeat("1", 61), "2", "3"), wazzup.TemplateTooLong, wazzup.CodeTooLongWABAHeader},
		{"empty value", req(ok.GUID, "1", " ", "3"), wazzup.TemplateBadRequest, ""},
		{"no template", req("", "1"), wazzup.TemplateBadRequest, ""},
		{"text too", func() wazzup.SendRequest { r := req(ok.GUID, "1", "2", "3"); r.Text = "x"; return r }(), wazzup.TemplateBadRequest, ""},
	}
	for _, c := range cases {
		_, err := e.c.SendTemplate(ctx, c.r)
		var te *wazzup.TemplateError
		if !errors.As(err, &te) || te.Kind != c.kind || wazzup.TemplateKindOf(err) != c.kind {
			t.Errorf("%s: %v (%T), want kind %v", c.name, err, err, c.kind)
			continue
		}
		if c.code != "" && !wazzup.HasCode(err, c.code) {
			t.Errorf("%s: %v, want code %s", c.name, err, c.code)
		}
		if c.code == "" && te.Err != nil {
			t.Errorf("%s: sent to Wazzup: %v", c.name, err)
		}
		if wazzup.Temporary(err) {
			t.Errorf("%s: temporary", c.name)
		}
	}
	// A template on a channel that is not WABA is refused by Wazzup, too.
	r := req(ok.GUID, "1", "2", "3")
	r.ChannelID = e.wa.ChannelID
	if _, err := e.c.Send(ctx, r); !wazzup.HasCode(err, wazzup.CodeInvalidMessageData) || wazzup.TemplateKindOf(err) != wazzup.TemplateBadValues {
		t.Errorf("template on personal WhatsApp: %v", err)
	}
	e.acc.SetFault(&wztest.Fault{Status: 400, Path: "/v3/message", Body: `{"status":400,"error":"BALANCE_IS_EMPTY","description":"WABA balance is empty"}`})
	if _, err := e.c.SendTemplate(ctx, req(ok.GUID, "9", "9", "9")); wazzup.TemplateKindOf(err) != wazzup.TemplateNoBalance {
		t.Errorf("balance: %v", err)
	}
	if n := len(e.acc.Sent()); n != 1 {
		t.Errorf("%d sends accepted, want only the first", n)
	}
}

// A plain message on WABA 25 hours after the client's last message is
// accepted (201) and then fails in a statuses webhook with
// 24_HOURS_EXCEEDED, in the INFERRED fixture's shape; inside the window it
// goes through; a template goes out whatever the window; Instagram closes
// after 7 days; personal WhatsApp has no window.
func TestWindowErrorStatus(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rc := e.subscribe(t, wazzup.Subscriptions{MessagesAndStatuses: true})
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	e.srv.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	later := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	tpl := e.acc.AddTemplate(wztest.Template{Title: "hi", Status: "approved", Channels: []string{e.waba.ChannelID},
		Components: []wztest.TemplateComponent{{Type: "BODY", Text: "Hello"}}})

	statusesOf := func(from int) (errs []wazzup.Status, n int) {
		e.srv.Wait()
		bodies, _ := rc.got()
		for _, b := range bodies[from:] {
			w, err := wazzup.ParseWebhook(b)
			if err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			for _, st := range w.Statuses {
				if st.Status == "error" {
					errs = append(errs, st)
				}
			}
		}
		return errs, len(bodies)
	}
	send := func(ch wztest.Channel, chatType, chatID string) string {
		t.Helper()
		res, err := e.c.Send(ctx, wazzup.SendRequest{ChannelID: ch.ChannelID, ChatType: chatType, ChatID: chatID, Text: "hello"})
		if err != nil {
			t.Fatalf("send on %s: %v (a window is not refused synchronously)", ch.Transport, err)
		}
		return res.MessageID
	}
	_, seen := statusesOf(0)

	// Never wrote: closed.
	id := send(e.waba, "whatsapp", "79011112233")
	errs, seen2 := statusesOf(seen)
	if len(errs) != 1 || errs[0].MessageID != id || !errs[0].WindowClosed() || errs[0].Error.Error != wazzup.Code24HoursExceeded {
		t.Fatalf("no inbound: error statuses %+v", errs)
	}
	bodies, _ := rc.got()
	if !sameKeys(keysOf(t, bodies[seen2-1]), keysOf(t, fixture(t, "webhook_statuses_error_24_hours_exceeded.INFERRED.json"))) {
		t.Errorf("window status %s has not the fixture's keys", bodies[seen2-1])
	}
	seen = seen2

	if _, err := e.acc.ClientWrites(ctx, e.waba.ChannelID, "whatsapp", "79011112233", wztest.Incoming{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	later(23 * time.Hour)
	send(e.waba, "whatsapp", "79011112233")
	if errs, seen = statusesOf(seen); len(errs) != 0 {
		t.Fatalf("inside the window: %+v", errs)
	}
	later(2 * time.Hour)
	id = send(e.waba, "whatsapp", "79011112233")
	if errs, seen = statusesOf(seen); len(errs) != 1 || errs[0].MessageID != id || errs[0].Error.Error != wazzup.Code24HoursExceeded {
		t.Fatalf("25 h later: %+v", errs)
	}
	if _, err := e.c.SendTemplate(ctx, wazzup.SendRequest{ChannelID: e.waba.ChannelID, ChatType: "whatsapp", ChatID: "79011112233", TemplateID: tpl.GUID}); err != nil {
		t.Fatal(err)
	}
	if errs, seen = statusesOf(seen); len(errs) != 0 {
		t.Fatalf("template outside the window: %+v", errs)
	}
	id = send(e.waba, "whatsapp", "79011112233") // the template opened nothing
	if errs, seen = statusesOf(seen); len(errs) != 1 || errs[0].MessageID != id {
		t.Fatalf("after the template: %+v", errs)
	}

	e.acc.SetLastInbound(e.ig.ChannelID, "instagram", "anna", now.Add(-6*24*time.Hour))
	send(e.ig, "instagram", "anna")
	if errs, seen = statusesOf(seen); len(errs) != 0 {
		t.Fatalf("Instagram after 6 days: %+v", errs)
	}
	e.acc.SetLastInbound(e.ig.ChannelID, "instagram", "anna", now.Add(-8*24*time.Hour))
	id = send(e.ig, "instagram", "anna")
	if errs, seen = statusesOf(seen); len(errs) != 1 || errs[0].MessageID != id || errs[0].Error.Error != wazzup.Code7DaysExceeded || !errs[0].WindowClosed() {
		t.Fatalf("Instagram after 8 days: %+v", errs)
	}
	send(e.wa, "whatsapp", "79011112233")
	if errs, _ = statusesOf(seen); len(errs) != 0 {
		t.Fatalf("personal WhatsApp: %+v", errs)
	}
	var windowErrs []string
	for _, s := range e.acc.Sent() {
		windowErrs = append(windowErrs, s.WindowError)
	}
	if got := strings.Join(windowErrs, ","); got != "24_HOURS_EXCEEDED,,24_HOURS_EXCEEDED,,24_HOURS_EXCEEDED,,7_DAYS_EXCEEDED," {
		t.Errorf("Sent().WindowError %s", got)
	}
}

// The window itself is the gateway adapter's (gateway.Wazzup.ReplyWindow);
// here only which transports take templates and which codes close it.
func TestWindowCodes(t *testing.T) {
	if !wazzup.TemplatesAllowed("wapi") || wazzup.TemplatesAllowed("instagram") || wazzup.TemplatesAllowed("whatsapp") {
		t.Error("TemplatesAllowed")
	}
	if !wazzup.IsWindowClosed("24_hours_exceeded") || !wazzup.IsWindowClosed("7DAYSEXCEEDED") || wazzup.IsWindowClosed("BAD_CONTACT") {
		t.Error("IsWindowClosed")
	}
}

// A test changing a template's status makes the emulator POST the
// templateStatus webhook, which ParseWebhook types.
func TestTemplateStatusChange(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tpl := e.acc.AddTemplate(wztest.Template{Title: "x", Name: "order_ready", Status: "pending", Channels: []string{e.waba.ChannelID}})
	if err := e.acc.SetTemplateStatus(ctx, tpl.GUID, "approved"); !errors.Is(err, wztest.ErrNoWebhook) {
		t.Errorf("without a webhook: %v", err)
	}
	rc := e.subscribe(t, wazzup.Subscriptions{MessagesAndStatuses: true, TemplateStatus: true})
	if _, s, err := e.c.Webhooks(ctx); err != nil || !s.TemplateStatus {
		t.Fatalf("subscription not kept: %+v %v", s, err)
	}
	if err := e.acc.SetTemplateStatus(ctx, tpl.GUID, "rejected"); err != nil {
		t.Fatal(err)
	}
	bodies, _ := rc.got()
	w, err := wazzup.ParseWebhook(bodies[len(bodies)-1])
	if err != nil || w.Template == nil {
		t.Fatalf("%s: %+v %v", bodies[len(bodies)-1], w, err)
	}
	if *w.Template != (wazzup.TemplateStatus{TemplateGUID: tpl.GUID, Name: "order_ready", Status: "rejected"}) {
		t.Errorf("template status %+v", *w.Template)
	}
	ts, err := e.c.Templates(ctx)
	if err != nil || len(ts) != 1 || ts[0].Status != "rejected" || ts[0].UsableOn(e.waba.ChannelID) {
		t.Errorf("after the change: %+v %v", ts, err)
	}
	if _, err := wazzup.ParseWebhook([]byte(`{"templateStatus":{"name":"x","status":"approved"}}`)); err == nil {
		t.Error("a template status without templateGuid accepted")
	}
}

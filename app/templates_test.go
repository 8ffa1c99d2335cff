package app_test

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/telegram/tgtest"
	"github.com/relay24/relay24/wazzup/wztest"
)

// wabaEnv is a relayEnv whose Wazzup account also has a WhatsApp Business
// channel with templates, and one clock for relay24 and the emulator.
type wabaEnv struct {
	*relayEnv
	WABA         wztest.Channel
	Ready, Greet wztest.Template
	mu           sync.Mutex
	now          time.Time
}

func (w *wabaEnv) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

// advance moves both clocks.
func (w *wabaEnv) advance(d time.Duration) {
	w.mu.Lock()
	w.now = w.now.Add(d)
	w.mu.Unlock()
}

func newWABAEnv(t *testing.T) *wabaEnv {
	t.Helper()
	r := newRelayEnv(t)
	w := &wabaEnv{relayEnv: r, now: time.Now().UTC()}
	r.App.Relay.SetClock(w.clock)
	r.WZ.SetClock(w.clock)
	w.WABA = r.Acc.AddChannel("wapi", "79865784460", "Sales WABA")
	w.Ready = r.Acc.AddTemplate(wztest.Template{Title: "Заказ готов", Name: "order_ready", Status: "approved", Language: "ru",
		Channels:   []string{w.WABA.ChannelID},
		Components: []wztest.TemplateComponent{{Type: "BODY", Text: "Здравствуйте, {{1}}! Ваш заказ {{2}} готов к выдаче."}}})
	w.Greet = r.Acc.AddTemplate(wztest.Template{Title: "Продолжим разговор", Name: "follow_up", Status: "approved", Language: "ru",
		Channels:   []string{w.WABA.ChannelID},
		Components: []wztest.TemplateComponent{{Type: "BODY", Text: "Здравствуйте! Мы ответили на ваш вопрос — напишите, если удобно продолжить."}}})
	r.Acc.AddTemplate(wztest.Template{Title: "На модерации", Name: "pending_one", Status: "pending", Channels: []string{w.WABA.ChannelID},
		Components: []wztest.TemplateComponent{{Type: "BODY", Text: "Скидка {{1}}"}}})
	// Connecting again learns the new channel and fetches its templates.
	var res struct {
		Channels []struct {
			ID         int64  `json:"id"`
			ExternalID string `json:"external_id"`
		} `json:"channels"`
	}
	if s := r.api("POST", "/api/v1/channels", r.Admin, map[string]string{"provider": "wazzup", "api_key": "c8cf90444023482f909520d454368d27"}, &res); s != http.StatusCreated {
		t.Fatalf("reconnect: %d", s)
	}
	for _, c := range res.Channels {
		r.chans[c.ExternalID] = c.ID
	}
	r.settle()
	return w
}

type templatesJSON struct {
	WindowOpen     bool       `json:"window_open"`
	WindowClosesAt *time.Time `json:"window_closes_at"`
	Templates      []struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		Text      string `json:"text"`
		Variables int    `json:"variables"`
	} `json:"templates"`
}

// wrote files a client's message on the WhatsApp Business channel and
// answers the salesperson's view of its dialog.
func (w *wabaEnv) wrote(chat, text string) dialogJSON {
	w.t.Helper()
	w.clientWrites(w.WABA, "whatsapp", chat, text)
	w.settle()
	d, ok := w.dialogOf(w.Sales, chat)
	if !ok {
		w.t.Fatal("no WABA dialog")
	}
	return d
}

func (w *wabaEnv) templates(token string, dialogID int64) (int, templatesJSON) {
	w.t.Helper()
	var out templatesJSON
	s := w.api("GET", "/api/v1/dialogs/"+strconv.FormatInt(dialogID, 10)+"/templates", token, nil, &out)
	return s, out
}

func (w *wabaEnv) sendTemplate(token string, dialogID int64, id string, values []string, clientID string) (int, messageJSON, apiError) {
	w.t.Helper()
	var raw struct {
		Message messageJSON `json:"message"`
		apiError
	}
	body := map[string]any{"client_id": clientID, "template_id": id, "template_values": values}
	s := w.api("POST", "/api/v1/dialogs/"+strconv.FormatInt(dialogID, 10)+"/messages", token, body, &raw)
	return s, raw.Message, raw.apiError
}

func (w *wabaEnv) replyErr(token string, dialogID int64, body map[string]any) (int, apiError) {
	w.t.Helper()
	var e apiError
	s := w.api("POST", "/api/v1/dialogs/"+strconv.FormatInt(dialogID, 10)+"/messages", token, body, &e)
	return s, e
}

// sentTo lists what the emulator accepted for a chat.
func (w *wabaEnv) sentTo(chatID string) []wztest.SentMessage {
	var out []wztest.SentMessage
	for _, s := range w.Acc.Sent() {
		if s.ChatID == chatID {
			out = append(out, s)
		}
	}
	return out
}

// A WABA client wrote: the window is open for 24 h (text goes), then closed
// by the clocks (+25 h): a text and a file are 409 window_closed and leave
// nothing behind; the approved templates are listed and one goes out
// exactly once with its values, its text the filled template.
func TestWABAWindowAndTemplates(t *testing.T) {
	w := newWABAEnv(t)
	const chat = "79995550301"
	d := w.wrote(chat, "Здравствуйте, мой заказ готов?")

	s, tl := w.templates(w.Sales, d.ID)
	if s != http.StatusOK || !tl.WindowOpen || tl.WindowClosesAt == nil || len(tl.Templates) != 2 {
		t.Fatalf("open window: %d %+v", s, tl)
	}
	if tl.WindowClosesAt.Sub(w.clock()) > 24*time.Hour || tl.WindowClosesAt.Sub(w.clock()) < 23*time.Hour {
		t.Errorf("window closes at %v, now %v", tl.WindowClosesAt, w.clock())
	}
	byName := map[string]int{}
	for _, tp := range tl.Templates {
		byName[tp.Name] = tp.Variables
	}
	if v, ok := byName["Заказ готов"]; !ok || v != 2 || byName["Продолжим разговор"] != 0 {
		t.Fatalf("templates %+v (the pending one must not be listed)", tl.Templates)
	}
	s, open1 := w.reply(w.Sales, d.ID, "Да, готов", "open-1")
	if s != http.StatusAccepted || open1.ID == 0 {
		t.Fatalf("reply in the window: %d", s)
	}
	w.settle()

	w.advance(25 * time.Hour)
	// A request repeated after the window closed is still the one message.
	if s, again := w.reply(w.Sales, d.ID, "Да, готов", "open-1"); s != http.StatusAccepted || again.ID != open1.ID {
		t.Fatalf("a repeated request after the window closed: %d %+v, want the first message %d", s, again, open1.ID)
	}
	s, tl = w.templates(w.Sales, d.ID)
	if s != http.StatusOK || tl.WindowOpen || len(tl.Templates) != 2 {
		t.Fatalf("closed window: %d %+v", s, tl)
	}
	msgsBefore := w.count(`SELECT count(*) FROM messages WHERE dialog_id = $1`, d.ID)
	sentBefore := len(w.sentTo(chat))
	if s, e := w.replyErr(w.Sales, d.ID, map[string]any{"text": "Вы тут?", "client_id": "late-1"}); s != http.StatusConflict || e.Error.Code != "window_closed" {
		t.Fatalf("text to a closed window: %d %+v", s, e)
	}
	st, f, _ := w.upload(w.Sales, "прайс.pdf", "", pdfBytes)
	if st != http.StatusCreated {
		t.Fatalf("upload %d", st)
	}
	if s, _, e := w.sendFile(w.Sales, d.ID, f.ID, "", "late-2"); s != http.StatusConflict || e.Error.Code != "window_closed" {
		t.Fatalf("file to a closed window: %d %+v", s, e)
	}
	w.settle()
	if n := w.count(`SELECT count(*) FROM messages WHERE dialog_id = $1`, d.ID); n != msgsBefore {
		t.Fatalf("a refused reply was stored: %d messages, were %d", n, msgsBefore)
	}
	if n := len(w.sentTo(chat)); n != sentBefore {
		t.Fatalf("a refused reply reached Wazzup: %d sends, were %d", n, sentBefore)
	}

	// Bad template requests change nothing either.
	for _, c := range []struct {
		body   map[string]any
		status int
		code   string
	}{
		{map[string]any{"client_id": "b1", "template_id": "6201005a-9a6f-486f-bdd5-e6cb86c76ddb", "template_values": []string{}}, 404, "template_not_found"},
		{map[string]any{"client_id": "b2", "template_id": w.Ready.GUID, "template_values": []string{"Анна"}}, 400, "template_values_count"},
		{map[string]any{"client_id": "b3", "template_id": w.Ready.GUID, "template_values": []string{"Анна", "  "}}, 400, "template_value_empty"},
		{map[string]any{"client_id": "b4", "template_id": w.Ready.GUID, "template_values": []string{"Анна", "A-1"}, "text": "и ещё"}, 400, "template_with_text"},
		{map[string]any{"client_id": "b5", "template_id": w.Ready.GUID, "template_values": []string{"Анна", "A-1"}, "file_id": f.ID}, 400, "template_with_text"},
	} {
		if s, e := w.replyErr(w.Sales, d.ID, c.body); s != c.status || e.Error.Code != c.code {
			t.Errorf("%v: %d %+v, want %d %s", c.body, s, e, c.status, c.code)
		}
	}

	s1, m1, e1 := w.sendTemplate(w.Sales, d.ID, w.Ready.GUID, []string{"Анна", "A-17"}, "tpl-1")
	s2, m2, _ := w.sendTemplate(w.Sales, d.ID, w.Ready.GUID, []string{"Анна", "A-17"}, "tpl-1")
	if s1 != http.StatusAccepted || s2 != http.StatusAccepted || m1.ID == 0 || m1.ID != m2.ID ||
		m1.Text != "Здравствуйте, Анна! Ваш заказ A-17 готов к выдаче." {
		t.Fatalf("template: %d %d %+v %+v %+v", s1, s2, m1, m2, e1)
	}
	w.settle()
	sent := w.sentTo(chat)
	if len(sent) != sentBefore+1 {
		t.Fatalf("%d sends after the template, want %d", len(sent), sentBefore+1)
	}
	last := sent[len(sent)-1]
	if last.Request.TemplateID != w.Ready.GUID || strings.Join(last.Request.TemplateValues, "|") != "Анна|A-17" ||
		last.Request.Text != "" || last.WindowError != "" {
		t.Fatalf("the emulator got %+v", last)
	}
	var status string
	if err := w.App.Store.DB().Get(&status, `SELECT status FROM messages WHERE id = $1`, m1.ID); err != nil || !sentOK(status) {
		t.Fatalf("template message status %q %v", status, err)
	}

	// The client answers: the window opens again.
	w.clientWrites(w.WABA, "whatsapp", chat, "Спасибо, заберу завтра")
	w.settle()
	if _, tl = w.templates(w.Sales, d.ID); !tl.WindowOpen {
		t.Fatalf("window after the client's answer: %+v", tl)
	}
}

// A plain message the gateway failed later for the window (the client's
// last message is older than relay24 knows) ends in error window_closed.
func TestWindowClosedLateStatus(t *testing.T) {
	w := newWABAEnv(t)
	const chat = "79995550302"
	d := w.wrote(chat, "Привет")
	// Wazzup's view: the client wrote two days ago.
	w.Acc.SetLastInbound(w.WABA.ChannelID, "whatsapp", chat, w.clock().Add(-48*time.Hour))
	s, m := w.reply(w.Sales, d.ID, "Ответ", "late-status")
	if s != http.StatusAccepted {
		t.Fatalf("reply: %d", s)
	}
	w.settle()
	var errText string
	if err := w.App.Store.DB().Get(&errText, `SELECT coalesce(error, '') FROM messages WHERE id = $1 AND status = 'error'`, m.ID); err != nil ||
		!strings.HasPrefix(errText, "window_closed") {
		t.Fatalf("late window error: %q %v", errText, err)
	}
}

// The templateStatus webhook updates the list: a rejected template goes, an
// approved one comes; an unknown template has the list fetched again.
func TestTemplateStatusWebhook(t *testing.T) {
	w := newWABAEnv(t)
	const chat = "79995550303"
	d := w.wrote(chat, "Добрый день")
	if err := w.Acc.SetTemplateStatus(w.ctx, w.Greet.GUID, "REJECTED"); err != nil {
		t.Fatal(err)
	}
	w.settle()
	_, tl := w.templates(w.Sales, d.ID)
	if len(tl.Templates) != 1 || tl.Templates[0].ID != w.Ready.GUID {
		t.Fatalf("after rejection: %+v", tl.Templates)
	}
	if s, _, e := w.sendTemplate(w.Sales, d.ID, w.Greet.GUID, []string{}, "rej-1"); s != http.StatusNotFound || e.Error.Code != "template_not_found" {
		t.Fatalf("a rejected template: %d %+v", s, e)
	}
	// A template made at Wazzup after the last fetch, approved.
	fresh := w.Acc.AddTemplate(wztest.Template{Title: "Новый", Name: "fresh", Status: "pending", Channels: []string{w.WABA.ChannelID},
		Components: []wztest.TemplateComponent{{Type: "BODY", Text: "Новинка для вас"}}})
	if err := w.Acc.SetTemplateStatus(w.ctx, fresh.GUID, "approved"); err != nil {
		t.Fatal(err)
	}
	w.settle()
	_, tl = w.templates(w.Sales, d.ID)
	if len(tl.Templates) != 2 || (tl.Templates[0].ID != fresh.GUID && tl.Templates[1].ID != fresh.GUID) {
		t.Fatalf("after a new approval: %+v", tl.Templates)
	}
	// A template whose webhook was lost comes with the periodic refresh.
	quiet := w.Acc.AddTemplate(wztest.Template{Title: "Тихий", Name: "quiet", Status: "approved", Channels: []string{w.WABA.ChannelID},
		Components: []wztest.TemplateComponent{{Type: "BODY", Text: "Без вебхука"}}})
	if err := w.App.Relay.ScheduleTemplateRefresh(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.settle()
	_, tl = w.templates(w.Sales, d.ID)
	found := false
	for _, tp := range tl.Templates {
		found = found || tp.ID == quiet.GUID
	}
	if len(tl.Templates) != 3 || !found {
		t.Fatalf("after the periodic refresh: %+v", tl.Templates)
	}
}

// Instagram's window is 7 days and has no templates; Telegram (and a
// personal WhatsApp) never close; another portal's dialog and a dialog the
// employee may not see are 404.
func TestWindowsOfOtherChannels(t *testing.T) {
	w := newWABAEnv(t)
	w.clientWrites(w.IG, "instagram", "buyer.ig", "Hi")
	w.clientWrites(w.WA, "whatsapp", "79995550304", "Привет")
	w.settle()
	ig, _ := w.dialogOf(w.Sales, "buyer.ig")
	wa, _ := w.dialogOf(w.Sales, "79995550304")

	w.advance(6 * 24 * time.Hour)
	if s, tl := w.templates(w.Sales, ig.ID); s != 200 || !tl.WindowOpen || len(tl.Templates) != 0 {
		t.Fatalf("instagram on day 6: %d %+v", s, tl)
	}
	w.advance(2 * 24 * time.Hour)
	if s, tl := w.templates(w.Sales, ig.ID); s != 200 || tl.WindowOpen || len(tl.Templates) != 0 {
		t.Fatalf("instagram on day 8: %d %+v", s, tl)
	}
	if s, e := w.replyErr(w.Sales, ig.ID, map[string]any{"text": "Hello?", "client_id": "ig-late"}); s != http.StatusConflict || e.Error.Code != "window_closed" {
		t.Fatalf("instagram text after 8 days: %d %+v", s, e)
	}
	if s, _, e := w.sendTemplate(w.Sales, ig.ID, w.Ready.GUID, []string{"a", "b"}, "ig-tpl"); s != http.StatusConflict || e.Error.Code != "templates_not_supported" {
		t.Fatalf("template to instagram: %d %+v", s, e)
	}
	if s, tl := w.templates(w.Sales, wa.ID); s != 200 || !tl.WindowOpen || tl.WindowClosesAt != nil {
		t.Fatalf("personal WhatsApp after 8 days: %d %+v", s, tl)
	}
	if s, _ := w.reply(w.Sales, wa.ID, "Всё ещё можно", "wa-late"); s != http.StatusAccepted {
		t.Fatalf("personal WhatsApp reply after 8 days: %d", s)
	}

	// A Telegram bot never closes.
	const token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw8"
	bot := w.TG.AddBot(token, "relay24_shop_bot")
	if s := w.api("POST", "/api/v1/channels", w.Admin, map[string]string{"provider": "telegram", "bot_token": token}, nil); s != http.StatusCreated {
		t.Fatalf("connect bot: %d", s)
	}
	if _, err := bot.UserWrites(w.ctx, tgtest.User{ID: 5550001, FirstName: "Алексей"}, "Привет, бот"); err != nil {
		t.Fatal(err)
	}
	w.settle()
	tg, ok := w.dialogOf(w.Sales, "5550001")
	if !ok {
		t.Fatal("no telegram dialog")
	}
	w.advance(30 * 24 * time.Hour)
	if s, tl := w.templates(w.Sales, tg.ID); s != 200 || !tl.WindowOpen || len(tl.Templates) != 0 {
		t.Fatalf("telegram after a month: %d %+v", s, tl)
	}

	// Another portal's dialog is 404, to its admin too.
	b := w.secondPortal("d9df90444023482f909520d454368d28")
	if s, _ := w.templates(b.Admin, ig.ID); s != http.StatusNotFound {
		t.Fatalf("another portal's dialog: %d", s)
	}
	// An employee who may not see the dialog: 404.
	if s := w.api("PUT", "/api/v1/access/2", w.Admin, map[string]any{"visibility": "none"}, nil); s != http.StatusOK {
		t.Fatalf("access: %d", s)
	}
	if s, _ := w.templates(w.Sales, ig.ID); s != http.StatusNotFound {
		t.Fatalf("a hidden dialog: %d", s)
	}
}

// A template Wazzup refuses (an empty WABA balance) ends in error with its
// code; «Повторить» does not send it again as plain text.
func TestTemplateRefusedIsNotRetriedAsText(t *testing.T) {
	w := newWABAEnv(t)
	const chat = "79995550305"
	d := w.wrote(chat, "Здравствуйте")
	w.Acc.SetFault(&wztest.Fault{Status: 400, Path: "/v3/message", Body: `{"status":400,"error":"BALANCE_IS_EMPTY","description":"WABA balance is empty"}`})
	s, m, e := w.sendTemplate(w.Sales, d.ID, w.Greet.GUID, []string{}, "broke-1")
	if s != http.StatusAccepted {
		t.Fatalf("template: %d %+v", s, e)
	}
	w.settle()
	var st, errText, kind string
	if err := w.App.Store.DB().QueryRow(`SELECT status, coalesce(error, ''), kind FROM messages WHERE id = $1`, m.ID).Scan(&st, &errText, &kind); err != nil {
		t.Fatal(err)
	}
	if st != "error" || !strings.HasPrefix(errText, "waba_balance_empty") || kind != "wapi_template" {
		t.Fatalf("refused template: %s %q %s", st, errText, kind)
	}
	sent := len(w.Acc.Sent())
	var re apiError
	if s := w.api("POST", "/api/v1/messages/"+strconv.FormatInt(m.ID, 10)+"/retry", w.Sales, map[string]any{}, &re); s != http.StatusConflict || re.Error.Code != "template_not_retriable" {
		t.Fatalf("retry of a template: %d %+v", s, re)
	}
	w.settle()
	if len(w.Acc.Sent()) != sent {
		t.Fatal("the retry sent something")
	}
}

// The robot with a template_id on a WhatsApp Business channel whose client
// never wrote (a dialog opened from the CRM: its window is closed) sends the
// real template, once; a template with variables cannot be filled by the
// robot and is reported as template_values_count.
func TestRobotSendsWABATemplate(t *testing.T) {
	w := newWABAEnv(t)
	const phone = "79161230077"
	_, deal := w.dealOf("Роботова", phone)
	waba := strconv.FormatInt(w.chans[w.WABA.ChannelID], 10)
	call := w.runRobot(b24test.RobotCall{Document: dealDoc(deal.ID),
		Properties: map[string]string{"channel_id": waba, "text": "Не уйдёт: окно закрыто", "template_id": w.Greet.GUID}})
	w.untilReported(call.EventToken)
	if rep := reports(w.P, call.EventToken); len(rep) != 1 || rep[0].ReturnValues["status"] != "sent" {
		t.Fatalf("robot report: %+v", rep)
	}
	sent := sentTo(w.Acc, phone)
	if len(sent) != 1 || sent[0].Request.TemplateID != w.Greet.GUID || sent[0].Request.Text != "" {
		t.Fatalf("the emulator got %+v", sent)
	}
	// A template with variables: without values the workflow is told why;
	// with them (one a line of template_values, the portal's fields put in)
	// it goes with those values.
	call = w.runRobot(b24test.RobotCall{Document: dealDoc(deal.ID),
		Properties: map[string]string{"channel_id": waba, "template_id": w.Ready.GUID}})
	w.untilReported(call.EventToken)
	if rep := reports(w.P, call.EventToken); len(rep) != 1 || rep[0].ReturnValues["status"] != "template_values_count" {
		t.Fatalf("a template with variables from the robot: %+v", rep)
	}
	if n := len(sentTo(w.Acc, phone)); n != 1 {
		t.Fatalf("%d sends, want the one template", n)
	}
	call = w.runRobot(b24test.RobotCall{Document: dealDoc(deal.ID),
		Properties: map[string]string{"channel_id": waba, "template_id": w.Ready.GUID, "template_values": "Роберт\r\nA-17"}})
	w.untilReported(call.EventToken)
	if rep := reports(w.P, call.EventToken); len(rep) != 1 || rep[0].ReturnValues["status"] != "sent" {
		t.Fatalf("a template with its values from the robot: %+v", rep)
	}
	sent = sentTo(w.Acc, phone)
	if len(sent) != 2 || sent[1].Request.TemplateID != w.Ready.GUID || strings.Join(sent[1].Request.TemplateValues, "|") != "Роберт|A-17" {
		t.Fatalf("the emulator got %+v", sent)
	}
}

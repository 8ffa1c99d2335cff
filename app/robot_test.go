package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relay24/relay24/automation"
	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/portal"
	"github.com/relay24/relay24/relay"
	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/telegram/tgtest"
	"github.com/relay24/relay24/wazzup/wztest"
)

// dealOf adds a contact (with phone, or none) assigned to user 2 and his
// deal, and lets relay24's mirror learn both.
func (r *relayEnv) dealOf(name, phone string) (b24test.Contact, b24test.Deal) {
	r.t.Helper()
	c := b24test.Contact{Name: name, LastName: "Клиентова", AssignedByID: 2}
	if phone != "" {
		c.Phones = []b24test.Multi{{TypeID: "PHONE", ValueType: "MOBILE", Value: phone}}
	}
	c = r.P.AddContact(c)
	d := r.P.AddDeal(b24test.Deal{Title: "Заказ " + name, AssignedByID: 2, ContactIDs: []int{c.ID}})
	for ev, id := range map[string]int{"ONCRMCONTACTADD": c.ID, "ONCRMDEALADD": d.ID} {
		if _, err := r.P.FireEvent(r.ctx, ev, map[string]any{"FIELDS": map[string]any{"ID": strconv.Itoa(id)}}, 1); err != nil {
			r.t.Fatal(err)
		}
	}
	r.settle()
	return c, d
}

// runRobot has the portal run relay24's robot on a deal.
func (r *relayEnv) runRobot(call b24test.RobotCall) b24test.RobotCall {
	r.t.Helper()
	if call.Code == "" {
		call.Code = automation.RobotCode
	}
	out, err := r.P.RunRobot(r.ctx, call)
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

func dealDoc(id int) [3]string {
	return [3]string{"crm", "CCrmDocumentDeal", "DEAL_" + strconv.Itoa(id)}
}

// reports are the workflow's bizproc.event.send calls with a token.
func reports(p *b24test.Portal, token string) []b24test.EventSend {
	var out []b24test.EventSend
	for _, s := range p.EventSends() {
		if s.EventToken == token {
			out = append(out, s)
		}
	}
	return out
}

// untilReported runs the queue until the robot call reported (the robot
// waits for its message's send), for at most a generous bound.
func (r *relayEnv) untilReported(token string) {
	r.t.Helper()
	for i := 0; i < 300 && len(reports(r.P, token)) == 0; i++ {
		r.drain()
		r.WZ.Wait()
		time.Sleep(50 * time.Millisecond)
	}
	r.settle()
}

func sentTo(a *wztest.Account, chatID string) []wztest.SentMessage {
	var out []wztest.SentMessage
	for _, m := range a.Sent() {
		if m.ChatID == chatID {
			out = append(out, m)
		}
	}
	return out
}

// After install the robot is registered with its handler under PUBLIC_URL,
// waiting for bizproc.event.send, with the channel list kept current as
// channels are connected and disconnected; the triggers are registered; a
// reinstall and «Восстановить» add nothing twice and bring back what was
// removed.
func TestRobotRegisteredAtInstall(t *testing.T) {
	r := newRelayEnv(t)
	r.settle()
	robots := r.P.Robots()
	if len(robots) != 1 {
		t.Fatalf("robots after install: %+v", robots)
	}
	rb := robots[0]
	if rb.Code != "relay24_send" || rb.Handler != r.URL+"/b24/robot" || rb.UseSubscription != "Y" || rb.AuthUserID != 1 {
		t.Fatalf("robot registered as %+v", rb)
	}
	prop := func(key string) map[string]any {
		m, _ := rb.Properties[key].(map[string]any)
		if m == nil {
			t.Fatalf("robot has no property %s: %+v", key, rb.Properties)
		}
		return m
	}
	ch := prop("channel_id")
	opts, _ := ch["Options"].(map[string]any)
	wa, ig := strconv.FormatInt(r.chans[r.WA.ChannelID], 10), strconv.FormatInt(r.chans[r.IG.ChannelID], 10)
	if ch["Type"] != "select" || ch["Required"] != "Y" || opts[wa] == nil || opts[ig] == nil || len(opts) != 2 {
		t.Fatalf("channel_id property: %+v", ch)
	}
	if txt := prop("text"); txt["Type"] != "text" || txt["Required"] != "N" {
		t.Fatalf("text property: %+v", txt)
	}
	if tpl := prop("template_id"); tpl["Type"] != "string" || tpl["Required"] != "N" {
		t.Fatalf("template_id property: %+v", tpl)
	}
	for _, k := range []string{"message_id", "status", "error"} {
		if rb.ReturnProperties[k] == nil {
			t.Fatalf("return property %s missing: %+v", k, rb.ReturnProperties)
		}
	}
	triggers := map[string]bool{}
	for _, tr := range r.P.AppTriggers() {
		triggers[tr.Code] = tr.Name != ""
	}
	if !triggers[automation.TriggerClientWrote] || !triggers[automation.TriggerNoReply] || len(triggers) != 2 {
		t.Fatalf("triggers: %+v", r.P.AppTriggers())
	}

	// Disconnecting the account takes its channels out of the list.
	if s := r.api("DELETE", "/api/v1/channels/"+ig, r.Admin, nil, nil); s != http.StatusNoContent {
		t.Fatalf("disconnect: %d", s)
	}
	r.settle()
	if o := r.P.Robots()[0].Properties["channel_id"].(map[string]any)["Options"]; o != nil && len(o.(map[string]any)) != 0 {
		t.Fatalf("after disconnecting, the robot still offers %v", o)
	}

	// A reinstall adds nothing twice; the repair brings a removed robot back.
	adds := methodCalls(r.P, "bizproc.robot.add")
	if res, err := r.P.PostInstall(r.ctx, r.URL+"/b24/install", 1); err != nil || res.Status != http.StatusOK {
		t.Fatalf("reinstall: %v %d %s", err, res.Status, res.Body)
	}
	if n := methodCalls(r.P, "bizproc.robot.add"); n != adds || len(r.P.Robots()) != 1 || len(r.P.AppTriggers()) != 2 {
		t.Fatalf("reinstall added again: %d adds, %d robots", n-adds, len(r.P.Robots()))
	}
	r.P.RemoveRobot(automation.RobotCode)
	if s := r.api("POST", "/api/v1/settings/repair", r.Admin, nil, nil); s != http.StatusOK {
		t.Fatalf("repair: %d", s)
	}
	if got := r.P.Robots(); len(got) != 1 || got[0].Handler != r.URL+"/b24/robot" {
		t.Fatalf("after repair: %+v", got)
	}
}

// Running the robot on a deal whose client has no dialog yet opens one,
// sends exactly one message through the chosen channel, writes it to the
// deal's timeline once and reports message_id and status once; the same
// call again sends and reports nothing.
func TestRobotSendsOnceAndReports(t *testing.T) {
	r := newRelayEnv(t)
	r.settle()
	const phone = "79161230001"
	_, deal := r.dealOf("Ольга", phone)
	wa := strconv.FormatInt(r.chans[r.WA.ChannelID], 10)
	timelineBefore := len(r.P.Timeline())
	call := r.runRobot(b24test.RobotCall{Document: dealDoc(deal.ID),
		Properties: map[string]string{"channel_id": wa, "text": "Ваш заказ готов"}})
	if call.Reply.Status != http.StatusOK {
		t.Fatalf("robot call answered %d %s", call.Reply.Status, call.Reply.Body)
	}
	r.untilReported(call.EventToken)

	sent := sentTo(r.Acc, phone)
	if len(sent) != 1 || sent[0].Request.Text != "Ваш заказ готов" || sent[0].Request.ChannelID != r.WA.ChannelID {
		t.Fatalf("sent to the client: %+v", sent)
	}
	var entries []b24test.TimelineEntry
	for _, e := range r.P.Timeline()[timelineBefore:] {
		if strings.Contains(e.Text, "Ваш заказ готов") {
			entries = append(entries, e)
		}
	}
	if len(entries) != 1 || entries[0].EntityType != "deal" || entries[0].EntityID != deal.ID {
		t.Fatalf("timeline: %+v", entries)
	}
	if !strings.Contains(entries[0].Text, "Робот relay24") {
		t.Errorf("the timeline does not name the robot: %q", entries[0].Text)
	}
	rep := reports(r.P, call.EventToken)
	if len(rep) != 1 || rep[0].ReturnValues["status"] != "sent" || rep[0].ReturnValues["message_id"] == "" || rep[0].ReturnValues["error"] != "" {
		t.Fatalf("reports: %+v", rep)
	}
	var author int64
	if err := r.App.Store.DB().Get(&author, `SELECT author_id FROM messages WHERE id = $1`, rep[0].ReturnValues["message_id"]); err != nil || author != 2 {
		t.Fatalf("message author %d (%v), want the deal's responsible person 2", author, err)
	}

	// The queue server repeats the call: nothing is sent or reported again.
	again := r.runRobot(b24test.RobotCall{Document: dealDoc(deal.ID), EventToken: call.EventToken,
		Properties: map[string]string{"channel_id": wa, "text": "Ваш заказ готов"}})
	if again.Reply.Status != http.StatusOK {
		t.Fatalf("repeated call answered %d", again.Reply.Status)
	}
	time.Sleep(100 * time.Millisecond)
	r.settle()
	if n := len(sentTo(r.Acc, phone)); n != 1 {
		t.Fatalf("a repeated call sent again: %d sends", n)
	}
	if n := len(reports(r.P, call.EventToken)); n != 1 {
		t.Fatalf("%d reports", n)
	}
}

// A forged call (no, a wrong, or another portal's application token) is 401
// and sends nothing; a malformed one is 400.
func TestRobotForgedCallSendsNothing(t *testing.T) {
	r := newRelayEnv(t)
	r.settle()
	const phone = "79161230002"
	_, deal := r.dealOf("Пётр", phone)
	wa := strconv.FormatInt(r.chans[r.WA.ChannelID], 10)
	other := r.installedPortal()
	r.settle()
	for name, tok := range map[string]string{"wrong": "51856fefc120afa4b628cc82d3935cce", "another portal's": other.ApplicationToken()} {
		call := r.runRobot(b24test.RobotCall{Document: dealDoc(deal.ID), ApplicationToken: tok,
			Properties: map[string]string{"channel_id": wa, "text": "Подделка"}})
		if call.Reply.Status != http.StatusUnauthorized {
			t.Errorf("%s token: %d %s", name, call.Reply.Status, call.Reply.Body)
		}
	}
	form := url.Values{"auth[member_id]": {r.P.MemberID()}, "auth[application_token]": {r.P.ApplicationToken()},
		"document_id[0]": {"crm"}, "document_id[1]": {"CCrmDocumentDeal"}, "document_id[2]": {"DEAL_" + strconv.Itoa(deal.ID)},
		"properties[channel_id]": {wa}, "properties[text]": {"Без токена"}}
	if s, body := r.postForm("/b24/robot", nil, form); s != http.StatusBadRequest || !strings.Contains(body, "event_token") {
		t.Errorf("a call without event_token: %d %s", s, body)
	}
	form.Set("event_token", "x|A1_2_3_4|y")
	form.Set("document_id[1]", "CCrmDocumentCompany")
	form.Set("document_id[2]", "COMPANY_1")
	if s, body := r.postForm("/b24/robot", nil, form); s != http.StatusBadRequest {
		t.Errorf("a call on a company: %d %s", s, body)
	}
	form.Del("auth[application_token]")
	if s, _ := r.postForm("/b24/robot", nil, form); s != http.StatusUnauthorized {
		t.Errorf("a call without application token: %d", s)
	}
	time.Sleep(100 * time.Millisecond)
	r.settle()
	if n := len(sentTo(r.Acc, phone)); n != 0 {
		t.Fatalf("a forged call sent %d messages", n)
	}
	if n := r.count(`SELECT count(*) FROM robot_runs`); n != 0 {
		t.Fatalf("%d robot calls recorded", n)
	}
}

// A deal whose contact has no phone ends with a clear error handed back to
// the workflow, once; nothing is sent.
func TestRobotNoPhoneIsReported(t *testing.T) {
	r := newRelayEnv(t)
	r.settle()
	_, deal := r.dealOf("Безтелефонный", "")
	wa := strconv.FormatInt(r.chans[r.WA.ChannelID], 10)
	sends := len(r.Acc.Sent())
	call := r.runRobot(b24test.RobotCall{Document: dealDoc(deal.ID), Properties: map[string]string{"channel_id": wa, "text": "Здравствуйте"}})
	if call.Reply.Status != http.StatusOK {
		t.Fatalf("robot call answered %d", call.Reply.Status)
	}
	r.untilReported(call.EventToken)
	rep := reports(r.P, call.EventToken)
	if len(rep) != 1 || rep[0].ReturnValues["status"] != "robot_no_handle" || rep[0].ReturnValues["message_id"] != "" ||
		!strings.Contains(rep[0].ReturnValues["error"].(string), "нет телефона") || !strings.Contains(rep[0].LogMessage, "нет телефона") {
		t.Fatalf("reports: %+v", rep)
	}
	if n := len(r.Acc.Sent()); n != sends {
		t.Fatalf("sent %d messages", n-sends)
	}

	// A channel that is no longer connected: a clear error too.
	ig := strconv.FormatInt(r.chans[r.IG.ChannelID], 10)
	if s := r.api("DELETE", "/api/v1/channels/"+ig, r.Admin, nil, nil); s != http.StatusNoContent {
		t.Fatalf("disconnect: %d", s)
	}
	_, deal2 := r.dealOf("Вторая", "79161230003")
	call = r.runRobot(b24test.RobotCall{Document: dealDoc(deal2.ID), Properties: map[string]string{"channel_id": ig, "text": "Здравствуйте"}})
	r.untilReported(call.EventToken)
	if rep := reports(r.P, call.EventToken); len(rep) != 1 || rep[0].ReturnValues["status"] != "channel_unavailable" {
		t.Fatalf("disconnected channel: %+v", rep)
	}
}

// «Клиент написал» fires once per client message on the deal his dialog
// belongs to; «Нет ответа клиенту N минут» once per wait, when the
// escalation delay passed.
func TestTriggersFireOncePerOccurrence(t *testing.T) {
	r := newRelayEnv(t)
	r.settle()
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	r.App.Relay.SetClock(func() time.Time { return time.Unix(0, now.Load()) })
	if s := r.api("PUT", "/api/v1/settings", r.Admin, map[string]any{"escalate_after_minutes": 5}, nil); s != http.StatusOK {
		t.Fatalf("settings: %d", s)
	}
	const phone = "79161230004"
	_, deal := r.dealOf("Анна", phone)
	fired := func(code string) int {
		n := 0
		for _, e := range r.P.TriggerExecutions() {
			if e.Code == code {
				if e.OwnerTypeID != 2 || e.OwnerID != deal.ID {
					t.Fatalf("trigger fired on %d/%d, want the deal %d", e.OwnerTypeID, e.OwnerID, deal.ID)
				}
				n++
			}
		}
		return n
	}
	r.clientWrites(r.WA, "whatsapp", phone, "Здравствуйте, когда доставка?")
	r.settle()
	if n := fired(automation.TriggerClientWrote); n != 1 {
		t.Fatalf("«Клиент написал» fired %d times after one message", n)
	}
	r.clientWrites(r.WA, "whatsapp", phone, "Алло?")
	r.settle()
	if n := fired(automation.TriggerClientWrote); n != 2 {
		t.Fatalf("«Клиент написал» fired %d times after two messages", n)
	}
	if n := fired(automation.TriggerNoReply); n != 0 {
		t.Fatalf("«Нет ответа» fired before the delay")
	}
	due := func() {
		if _, err := r.App.Store.DB().Exec(`UPDATE jobs SET run_at = now() WHERE kind = 'escalate.dialog' AND state = 'ready'`); err != nil {
			t.Fatal(err)
		}
		r.settle()
	}
	now.Add(int64(6 * time.Minute))
	due()
	if n := fired(automation.TriggerNoReply); n != 1 {
		t.Fatalf("«Нет ответа» fired %d times after the delay", n)
	}
	now.Add(int64(10 * time.Minute))
	due()
	if n := fired(automation.TriggerNoReply); n != 1 {
		t.Fatalf("«Нет ответа» fired %d times in one wait", n)
	}
}

// Through a Telegram bot: the robot finds the chat the client wrote in (a
// bot writes only to a chat id) and sends there once; on a lead too.
func TestRobotSendsThroughTelegramOnALead(t *testing.T) {
	r := newRelayEnv(t)
	r.settle()
	bot := r.connectBot(r.Admin, "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw8", "relay24_shop_bot")
	r.settle()
	client := tgtest.User{ID: 555002, FirstName: "Олег", LastName: "Клиентов", Username: "oleg_robot"}
	if _, err := bot.UserWrites(r.ctx, client, "Здравствуйте"); err != nil {
		t.Fatal(err)
	}
	r.settle()
	var contactID int64
	if err := r.App.Store.DB().Get(&contactID, `SELECT contact_id FROM dialogs WHERE chat_id = '555002'`); err != nil {
		t.Fatal(err)
	}
	lead := r.P.AddLead(b24test.Lead{Title: "Заявка из Telegram", AssignedByID: 2, ContactID: int(contactID)})
	if _, err := r.P.FireEvent(r.ctx, "ONCRMLEADADD", map[string]any{"FIELDS": map[string]any{"ID": strconv.Itoa(lead.ID)}}, 1); err != nil {
		t.Fatal(err)
	}
	r.settle()
	var tg int64
	if err := r.App.Store.DB().Get(&tg, `SELECT id FROM channels WHERE provider = 'telegram'`); err != nil {
		t.Fatal(err)
	}
	call := r.runRobot(b24test.RobotCall{Document: [3]string{"crm", "CCrmDocumentLead", "LEAD_" + strconv.Itoa(lead.ID)},
		Properties: map[string]string{"channel_id": strconv.FormatInt(tg, 10), "text": "Ваша заявка принята"}})
	if call.Reply.Status != http.StatusOK {
		t.Fatalf("robot call answered %d %s", call.Reply.Status, call.Reply.Body)
	}
	r.untilReported(call.EventToken)
	sent := bot.Sent()
	if len(sent) != 1 || sent[0].ChatID != 555002 || sent[0].Text != "Ваша заявка принята" {
		t.Fatalf("bot sent %+v", sent)
	}
	if rep := reports(r.P, call.EventToken); len(rep) != 1 || rep[0].ReturnValues["status"] != "sent" {
		t.Fatalf("reports: %+v", rep)
	}
}

// fakeTemplates stands for the WABA templates work: the window is closed,
// and a template is "sent" as a reply naming it.
type fakeTemplates struct {
	relay *relay.Service
	calls atomic.Int32
}

func (f *fakeTemplates) WindowOpen(context.Context, int64, int64) (bool, error) { return false, nil }

func (f *fakeTemplates) SendTemplate(ctx context.Context, portalID int64, author relay.Author, dialogID int64, templateID string, values []string, clientID string) (*store.Message, error) {
	f.calls.Add(1)
	return f.relay.Send(ctx, portalID, author, dialogID, "template "+templateID, clientID)
}

// The template hook: with a template and the window closed the robot sends
// the template through TemplateSender; without a sender, a template alone is
// a clear error; a channel of no relay24 portal's is one too.
func TestRobotTemplateHook(t *testing.T) {
	r := newRelayEnv(t)
	r.settle()
	const phone = "79161230005"
	_, deal := r.dealOf("Шаблонова", phone)
	wa := strconv.FormatInt(r.chans[r.WA.ChannelID], 10)
	r.App.Automation.SetTemplates(nil) // the app's own sender is tested in templates_test.go

	call := r.runRobot(b24test.RobotCall{Document: dealDoc(deal.ID), Properties: map[string]string{"channel_id": wa, "template_id": "order_ready"}})
	r.untilReported(call.EventToken)
	if rep := reports(r.P, call.EventToken); len(rep) != 1 || rep[0].ReturnValues["status"] != "robot_empty_text" {
		t.Fatalf("a template without a sender: %+v", rep)
	}
	call = r.runRobot(b24test.RobotCall{Document: dealDoc(deal.ID), Properties: map[string]string{"channel_id": "999999", "text": "x"}})
	r.untilReported(call.EventToken)
	if rep := reports(r.P, call.EventToken); len(rep) != 1 || rep[0].ReturnValues["status"] != "robot_no_channel" {
		t.Fatalf("an unknown channel: %+v", rep)
	}

	fake := &fakeTemplates{relay: r.App.Relay}
	r.App.Automation.SetTemplates(fake)
	call = r.runRobot(b24test.RobotCall{Document: dealDoc(deal.ID),
		Properties: map[string]string{"channel_id": wa, "text": "Ваш заказ готов", "template_id": "order_ready"}})
	r.untilReported(call.EventToken)
	if rep := reports(r.P, call.EventToken); len(rep) != 1 || rep[0].ReturnValues["status"] != "sent" || fake.calls.Load() != 1 {
		t.Fatalf("with a template sender: %+v, %d template sends", rep, fake.calls.Load())
	}
	if sent := sentTo(r.Acc, phone); len(sent) != 1 || sent[0].Request.Text != "template order_ready" {
		t.Fatalf("sent %+v", sent)
	}
}

// repairAnswer is the settings page's «Восстановить» answer.
type repairAnswer struct {
	Missing    []string                 `json:"missing"`
	Automation []portal.AutomationState `json:"automation"`
}

func (a repairAnswer) state(code string) portal.AutomationState {
	for _, s := range a.Automation {
		if s.Code == code {
			return s
		}
	}
	return portal.AutomationState{}
}

// «Восстановить» tells the robot's and each trigger's state: in place,
// repaired (added again), or failed with the portal's reason, which does not
// undo the rest of the repair.
func TestRepairReportsAutomation(t *testing.T) {
	r := newRelayEnv(t)
	r.settle()
	var a repairAnswer
	if s := r.api("POST", "/api/v1/settings/repair", r.Admin, nil, &a); s != http.StatusOK || len(a.Automation) != 3 {
		t.Fatalf("repair: %d %+v", s, a)
	}
	for _, code := range []string{automation.RobotCode, automation.TriggerClientWrote, automation.TriggerNoReply} {
		if st := a.state(code); st.State != "registered" || st.Reason != "" {
			t.Errorf("%s: %+v", code, st)
		}
	}
	if a.state(automation.RobotCode).Kind != "robot" || a.state(automation.TriggerNoReply).Kind != "trigger" {
		t.Fatalf("kinds: %+v", a.Automation)
	}

	r.P.RemoveRobot(automation.RobotCode)
	a = repairAnswer{}
	if s := r.api("POST", "/api/v1/settings/repair", r.Admin, nil, &a); s != http.StatusOK {
		t.Fatalf("repair: %d", s)
	}
	if st := a.state(automation.RobotCode); st.State != "repaired" || len(r.P.Robots()) != 1 {
		t.Fatalf("robot after repair: %+v, %d robots", st, len(r.P.Robots()))
	}
	if st := a.state(automation.TriggerClientWrote); st.State != "registered" {
		t.Fatalf("trigger: %+v", st)
	}

	// The portal refuses the registering batch (the third batch of the
	// repair: bindings read, automation read, automation written).
	r.P.RemoveRobot(automation.RobotCode)
	r.P.SetFault(&b24test.Fault{Method: "batch", Skip: 2, Status: http.StatusForbidden})
	a = repairAnswer{}
	if s := r.api("POST", "/api/v1/settings/repair", r.Admin, nil, &a); s != http.StatusOK {
		t.Fatalf("repair with a refusal: %d", s)
	}
	if st := a.state(automation.RobotCode); st.State != "failed" || !strings.Contains(st.Reason, "ACCESS_DENIED") {
		t.Fatalf("refused robot: %+v", st)
	}
	if len(a.Missing) != 0 || a.state(automation.TriggerNoReply).State != "registered" {
		t.Fatalf("the rest of the repair: %+v", a)
	}
}

// «Нет ответа клиенту N минут» needs only the escalation delay: it fires
// with the portal's notifications off (nobody is notified), and not at all
// when the delay is 0 (escalation switched off).
func TestNoReplyTriggerWithoutNotifications(t *testing.T) {
	r := newRelayEnv(t)
	r.settle()
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	r.App.Relay.SetClock(func() time.Time { return time.Unix(0, now.Load()) })
	if s := r.api("PUT", "/api/v1/settings", r.Admin, map[string]any{"notify": false, "escalate_after_minutes": 5}, nil); s != http.StatusOK {
		t.Fatalf("settings: %d", s)
	}
	fired := func(dealID int) int {
		n := 0
		for _, e := range r.P.TriggerExecutions() {
			if e.Code == automation.TriggerNoReply && e.OwnerID == dealID {
				n++
			}
		}
		return n
	}
	due := func() {
		if _, err := r.App.Store.DB().Exec(`UPDATE jobs SET run_at = now() WHERE kind = 'escalate.dialog' AND state = 'ready'`); err != nil {
			t.Fatal(err)
		}
		r.settle()
	}
	notifications := methodCalls(r.P, "im.notify.system.add")
	const phone = "79161230011"
	_, deal := r.dealOf("Тихая", phone)
	r.clientWrites(r.WA, "whatsapp", phone, "Есть кто?")
	r.settle()
	now.Add(int64(6 * time.Minute))
	due()
	if n := fired(deal.ID); n != 1 {
		t.Fatalf("«Нет ответа» fired %d times with notifications off", n)
	}
	if n := methodCalls(r.P, "im.notify.system.add"); n != notifications {
		t.Fatalf("%d notifications sent with notifications off", n-notifications)
	}

	// A delay of 0: no escalation, no trigger.
	if s := r.api("PUT", "/api/v1/settings", r.Admin, map[string]any{"notify": false, "escalate_after_minutes": 0}, nil); s != http.StatusOK {
		t.Fatalf("settings: %d", s)
	}
	const phone2 = "79161230012"
	_, deal2 := r.dealOf("Вторая тихая", phone2)
	r.clientWrites(r.WA, "whatsapp", phone2, "Алло")
	r.settle()
	now.Add(int64(24 * time.Hour))
	due()
	if n := fired(deal2.ID); n != 0 {
		t.Fatalf("«Нет ответа» fired %d times with escalation off", n)
	}
}

// A lead with a phone on itself but no contact: relay24 writes only to
// contacts and known chats, so the workflow gets robot_no_contact with a
// Russian text that says what to do. A lead relay24 made from a chat (no
// contact either) is written to in that chat.
func TestRobotOnLeadWithoutContact(t *testing.T) {
	r := newRelayEnv(t)
	r.settle()
	wa := strconv.FormatInt(r.chans[r.WA.ChannelID], 10)
	lead := r.P.AddLead(b24test.Lead{Title: "Заявка с сайта", AssignedByID: 2,
		Phones: []b24test.Multi{{TypeID: "PHONE", ValueType: "MOBILE", Value: "79161230021"}}})
	if _, err := r.P.FireEvent(r.ctx, "ONCRMLEADADD", map[string]any{"FIELDS": map[string]any{"ID": strconv.Itoa(lead.ID)}}, 1); err != nil {
		t.Fatal(err)
	}
	r.settle()
	sends := len(r.Acc.Sent())
	call := r.runRobot(b24test.RobotCall{Document: [3]string{"crm", "CCrmDocumentLead", "LEAD_" + strconv.Itoa(lead.ID)},
		Properties: map[string]string{"channel_id": wa, "text": "Здравствуйте"}})
	r.untilReported(call.EventToken)
	rep := reports(r.P, call.EventToken)
	if len(rep) != 1 || rep[0].ReturnValues["status"] != "robot_no_contact" {
		t.Fatalf("reports: %+v", rep)
	}
	for _, want := range []string{"не отправлено", "нет контакта", "в самом лиде", "robot_no_contact"} {
		if !strings.Contains(rep[0].LogMessage, want) {
			t.Errorf("the workflow's log %q does not say %q", rep[0].LogMessage, want)
		}
	}
	if n := len(r.Acc.Sent()); n != sends {
		t.Fatalf("sent %d", n-sends)
	}

	// New clients become leads: the lead relay24 made has the chat.
	if s := r.api("PUT", "/api/v1/settings", r.Admin, map[string]any{"new_client": "lead"}, nil); s != http.StatusOK {
		t.Fatalf("settings: %d", s)
	}
	const phone = "79161230022"
	r.clientWrites(r.WA, "whatsapp", phone, "Хочу заказать")
	r.settle()
	var chatLead int64
	if err := r.App.Store.DB().Get(&chatLead, `SELECT lead_id FROM dialogs WHERE chat_id = $1 AND contact_id IS NULL`, phone); err != nil {
		t.Fatal(err)
	}
	call = r.runRobot(b24test.RobotCall{Document: [3]string{"crm", "CCrmDocumentLead", "LEAD_" + strconv.FormatInt(chatLead, 10)},
		Properties: map[string]string{"channel_id": wa, "text": "Заявка принята"}})
	r.untilReported(call.EventToken)
	if rep := reports(r.P, call.EventToken); len(rep) != 1 || rep[0].ReturnValues["status"] != "sent" || !strings.Contains(rep[0].LogMessage, "отправлено (№") {
		t.Fatalf("reports: %+v", rep)
	}
	if sent := sentTo(r.Acc, phone); len(sent) != 1 || sent[0].Request.Text != "Заявка принята" {
		t.Fatalf("sent %+v", sent)
	}
}

// The queue server delivering one call twice at once (two parallel POSTs
// with the same event_token): one message, one report.
func TestRobotConcurrentSameTokenSendsOnce(t *testing.T) {
	r := newRelayEnv(t)
	r.settle()
	const phone = "79161230031"
	_, deal := r.dealOf("Двойная", phone)
	wa := strconv.FormatInt(r.chans[r.WA.ChannelID], 10)
	token, err := r.P.NewRobotToken(automation.RobotCode)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	replies := make([]b24test.RobotCall, 2)
	for i := range replies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i], _ = r.P.RunRobot(r.ctx, b24test.RobotCall{Code: automation.RobotCode, Document: dealDoc(deal.ID), EventToken: token,
				Properties: map[string]string{"channel_id": wa, "text": "Одно сообщение"}})
		}()
	}
	wg.Wait()
	for i, c := range replies {
		if c.Reply.Status != http.StatusOK {
			t.Fatalf("call %d answered %d %s", i, c.Reply.Status, c.Reply.Body)
		}
	}
	r.untilReported(token)
	r.settle()
	if sent := sentTo(r.Acc, phone); len(sent) != 1 {
		t.Fatalf("%d messages sent for one event_token", len(sent))
	}
	if n := len(reports(r.P, token)); n != 1 {
		t.Fatalf("%d reports", n)
	}
	if n := r.count(`SELECT count(*) FROM robot_runs`); n != 1 {
		t.Fatalf("%d robot runs recorded", n)
	}
}

// A robot call for a portal relay24 was uninstalled from (kept or wiped)
// is 401 and queues nothing; a call accepted just before the uninstall
// sends nothing either (its job goes with the portal's; the robot job also
// checks the portal is still installed).
func TestRobotAfterUninstallSendsNothing(t *testing.T) {
	for _, clean := range []bool{false, true} {
		t.Run(map[bool]string{false: "kept", true: "clean"}[clean], func(t *testing.T) {
			r := newRelayEnv(t)
			r.settle()
			const phone = "79161230032"
			_, deal := r.dealOf("Удалённая", phone)
			wa := strconv.FormatInt(r.chans[r.WA.ChannelID], 10)
			// Accepted, then the app is removed before the job runs.
			early := r.runRobot(b24test.RobotCall{Document: dealDoc(deal.ID), Properties: map[string]string{"channel_id": wa, "text": "До удаления"}})
			if early.Reply.Status != http.StatusOK {
				t.Fatalf("call before uninstall: %d", early.Reply.Status)
			}
			memberID, appToken := r.P.MemberID(), r.P.ApplicationToken()
			if _, err := r.P.Uninstall(r.ctx, clean); err != nil {
				t.Fatal(err)
			}
			r.settle()
			jobsBefore := r.count(`SELECT count(*) FROM jobs WHERE kind = 'automation.robot'`)
			form := url.Values{"event_token": {"6650a1c2d3e4f5.12345678|A1_2_3_4|x.y"}, "code": {automation.RobotCode},
				"document_id[0]": {"crm"}, "document_id[1]": {"CCrmDocumentDeal"}, "document_id[2]": {"DEAL_" + strconv.Itoa(deal.ID)},
				"properties[channel_id]": {wa}, "properties[text]": {"После удаления"},
				"auth[member_id]": {memberID}, "auth[application_token]": {appToken}}
			if s, body := r.postForm("/b24/robot", nil, form); s != http.StatusUnauthorized {
				t.Fatalf("a call after uninstall: %d %s", s, body)
			}
			r.settle()
			if n := r.count(`SELECT count(*) FROM jobs WHERE kind = 'automation.robot'`); n != jobsBefore {
				t.Fatalf("a call after uninstall queued %d jobs", n-jobsBefore)
			}
			if sent := sentTo(r.Acc, phone); len(sent) != 0 {
				t.Fatalf("sent after uninstall: %+v", sent)
			}
		})
	}
}

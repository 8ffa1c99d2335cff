package b24test_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/relay24/relay24/bitrix/b24test"
)

// The robot methods as the docs describe them: relay24's registration (the
// SYNTH request) is accepted once, a second add of the CODE is
// ERROR_ACTIVITY_ALREADY_INSTALLED, missing fields are
// ERROR_ACTIVITY_VALIDATION_FAILURE with the docs' texts, only an
// administrator may register, list shows the codes, update and delete know
// only registered robots.
func TestRobotMethods(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	e.p.AddUser(b24test.User{ID: 2, Name: "Olga", Active: true})
	user := e.p.IssueTokens(2)
	add := fixtureJSON(t, "bizproc.robot.add.request.relay24_send.SYNTH.json")
	add["HANDLER"] = "https://relay24.example.com/b24/robot"

	assertError(t, e.callAs(user.Access, "bizproc.robot.add", add), 400, "ACCESS_DENIED")
	assertErrorFixture(t, e.call("bizproc.robot.add", map[string]any{"NAME": "x", "HANDLER": add["HANDLER"]}), 400, "bizproc.robot.add.error.json")
	bad := []struct {
		name   string
		change map[string]any
		desc   string
		code   string
	}{
		{"wrong code", map[string]any{"CODE": "relay 24"}, "Wrong activity code!", "ERROR_ACTIVITY_VALIDATION_FAILURE"},
		{"no name", map[string]any{"NAME": ""}, "Empty activity NAME!", "ERROR_ACTIVITY_VALIDATION_FAILURE"},
		{"property key", map[string]any{"PROPERTIES": map[string]any{"1x": map[string]any{"Name": "x"}}}, "Wrong property key 1x!", "ERROR_ACTIVITY_VALIDATION_FAILURE"},
		{"property name", map[string]any{"PROPERTIES": map[string]any{"text": map[string]any{"Type": "text"}}}, "Empty property NAME text!", "ERROR_ACTIVITY_VALIDATION_FAILURE"},
		{"document type", map[string]any{"DOCUMENT_TYPE": []any{"crm", "CCrmDocumentDeal", "LEAD"}}, "Wrong activity DOCUMENT_TYPE!", "ERROR_ACTIVITY_VALIDATION_FAILURE"},
		{"filter", map[string]any{"FILTER": "deals"}, "Wrong activity FILTER!", "ERROR_ACTIVITY_VALIDATION_FAILURE"},
		{"protocol", map[string]any{"HANDLER": "ftp://relay24.example.com/b24/robot"}, "Unsupported handler protocol", "ERROR_UNSUPPORTED_PROTOCOL"},
		{"no handler", map[string]any{"HANDLER": ""}, "Wrong handler URL", "ERROR_WRONG_HANDLER_URL"},
	}
	for _, c := range bad {
		params := map[string]any{}
		for k, v := range add {
			params[k] = v
		}
		for k, v := range c.change {
			params[k] = v
		}
		a := e.call("bizproc.robot.add", params)
		if a.Status != 400 || a.Body["error"] != c.code || a.Body["error_description"] != c.desc {
			t.Errorf("%s: %d %s, want 400 %s %q", c.name, a.Status, a.Raw, c.code, c.desc)
		}
	}
	if len(e.p.Robots()) != 0 {
		t.Fatalf("a refused add registered: %+v", e.p.Robots())
	}
	// The form encoding (the app's batches) is read the same way.
	if a := e.callForm("bizproc.robot.add", add); a.Status != 200 || a.Body["result"] != true {
		t.Fatalf("add: %d %s", a.Status, a.Raw)
	}
	assertErrorFixture(t, e.call("bizproc.robot.add", add), 400, "error.ERROR_ACTIVITY_ALREADY_INSTALLED.SYNTH.json")
	r := e.p.Robots()
	if len(r) != 1 || r[0].Code != "relay24_send" || r[0].UseSubscription != "Y" || r[0].AuthUserID != 1 || len(r[0].Properties) != 3 {
		t.Fatalf("registered: %+v", r)
	}
	if l := e.call("bizproc.robot.list", nil).mustOK(t); !jsonEqual(l.Body["result"], []any{"relay24_send"}) {
		t.Fatalf("list: %s", l.Raw)
	}
	assertError(t, e.callAs(user.Access, "bizproc.robot.list", nil), 400, "ACCESS_DENIED")

	upd := fixtureJSON(t, "bizproc.robot.update.request.json")
	delete(upd, "auth")
	assertError(t, e.call("bizproc.robot.update", upd), 400, "ERROR_ACTIVITY_NOT_FOUND")
	upd["CODE"] = "relay24_send"
	e.call("bizproc.robot.update", upd).mustOK(t)
	if r := e.p.Robots()[0]; r.UseSubscription != "N" || r.Name != "Send message to author" || len(r.Properties) != 3 {
		t.Fatalf("updated: %+v", r)
	}
	a := e.call("bizproc.robot.update", map[string]any{"CODE": "relay24_send", "FIELDS": map[string]any{"SORT": 1}})
	if a.Status != 400 || a.Body["error_description"] != "No fields to update" {
		t.Fatalf("empty update: %d %s", a.Status, a.Raw)
	}
	e.call("bizproc.robot.delete", map[string]any{"CODE": "relay24_send"}).mustOK(t)
	assertError(t, e.call("bizproc.robot.delete", map[string]any{"CODE": "relay24_send"}), 400, "ERROR_ACTIVITY_NOT_FOUND")
}

// Running a robot posts the documented form (robot.handler.POST.form's keys)
// to its handler with the application token; bizproc.event.send takes the
// call's token once and refuses an unknown or used one.
func TestRobotRunAndEventSend(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	rec := newRecorder(t)
	add := fixtureJSON(t, "bizproc.robot.add.request.relay24_send.SYNTH.json")
	add["HANDLER"] = rec.srv.URL + "/b24/robot"
	e.call("bizproc.robot.add", add).mustOK(t)
	if _, err := e.p.RunRobot(context.Background(), b24test.RobotCall{Code: "relay24_send"}); err == nil {
		t.Fatal("a robot ran on a portal where the app is not installed")
	}
	e.p.InstallFinish()
	if _, err := e.p.RunRobot(context.Background(), b24test.RobotCall{Code: "nope"}); err != b24test.ErrNoRobot {
		t.Fatalf("unknown robot: %v", err)
	}
	call, err := e.p.RunRobot(context.Background(), b24test.RobotCall{Code: "relay24_send",
		Document: [3]string{"crm", "CCrmDocumentDeal", "DEAL_123"}, Properties: map[string]string{"channel_id": "tg-1", "text": "Ваш заказ готов."}})
	if err != nil || call.Reply.Status != 200 {
		t.Fatalf("run: %v %+v", err, call.Reply)
	}
	reqs := rec.requests()
	if len(reqs) != 1 || reqs[0].Path != "/b24/robot" {
		t.Fatalf("handler got %+v", reqs)
	}
	want, err := url.ParseQuery(string(fixtureBytes(t, "robot.handler.POST.form.SYNTH.txt")))
	if err != nil {
		t.Fatal(err)
	}
	for k := range want {
		if _, ok := reqs[0].Form[k]; !ok {
			t.Errorf("the robot call lacks %s", k)
		}
	}
	for k := range reqs[0].Form {
		if _, ok := want[k]; !ok {
			t.Errorf("the robot call has %s, which the documented one has not", k)
		}
	}
	f := reqs[0].Form
	if f.Get("event_token") != call.EventToken || f.Get("auth[application_token]") != e.p.ApplicationToken() ||
		f.Get("document_type[2]") != "DEAL" || f.Get("properties[template_id]") != "" || f.Get("auth[member_id]") != e.p.MemberID() ||
		strings.Count(call.EventToken, "|") != 2 {
		t.Fatalf("robot call: %v", f)
	}

	send := fixtureJSON(t, "bizproc.event.send.request.relay24_send.SYNTH.json")
	assertErrorFixture(t, e.call("bizproc.event.send", send), 403, "bizproc.event.send.error.json")
	send["event_token"] = call.EventToken
	e.call("bizproc.event.send", send).mustOK(t)
	assertError(t, e.call("bizproc.event.send", send), 403, "ACCESS_DENIED")
	got := e.p.EventSends()
	if len(got) != 1 || got[0].ReturnValues["status"] != "sent" || got[0].LogMessage == "" {
		t.Fatalf("recorded: %+v", got)
	}
}

// App triggers: add/list/execute as documented, errors with an empty code.
func TestAppTriggers(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	e.p.AddUser(b24test.User{ID: 2, Name: "Olga", Active: true})
	user := e.p.IssueTokens(2)
	deal := e.p.AddDeal(b24test.Deal{Title: "x"})
	add := fixtureJSON(t, "crm.automation.trigger.add.request.json")
	delete(add, "auth")
	assertError(t, e.callAs(user.Access, "crm.automation.trigger.add", add), 403, "ACCESS_DENIED")
	for _, c := range []struct {
		params map[string]any
		desc   string
	}{
		{map[string]any{"NAME": "x"}, "Empty trigger code!"},
		{map[string]any{"CODE": "Bad Code", "NAME": "x"}, "Wrong trigger code!"},
		{map[string]any{"CODE": "c5u4m"}, "Empty trigger name!"},
	} {
		a := e.call("crm.automation.trigger.add", c.params)
		if a.Status != 400 || a.Body["error"] != "" || a.Body["error_description"] != c.desc {
			t.Errorf("%v: %d %s", c.params, a.Status, a.Raw)
		}
	}
	e.call("crm.automation.trigger.add", add).mustOK(t)
	list := e.call("crm.automation.trigger.list", nil).mustOK(t).list(t)
	if len(list) != 1 || list[0]["CODE"] != "c5u4m" || list[0]["NAME"] != "trigger name" {
		t.Fatalf("list: %v", list)
	}
	exec := fixtureJSON(t, "crm.automation.trigger.execute.request.json")
	delete(exec, "auth")
	exec["OWNER_TYPE_ID"] = 99
	assertErrorFixture(t, e.call("crm.automation.trigger.execute", exec), 400, "crm.automation.trigger.execute.error.json")
	exec["OWNER_TYPE_ID"] = 2
	if a := e.call("crm.automation.trigger.execute", exec); a.Body["error_description"] != "Incorrect parameter OWNER_ID." {
		t.Fatalf("unknown deal: %s", a.Raw)
	}
	exec["OWNER_ID"] = deal.ID
	e.call("crm.automation.trigger.execute", exec).mustOK(t)
	if a := e.call("crm.automation.trigger.execute", map[string]any{"CODE": "other", "OWNER_TYPE_ID": 2, "OWNER_ID": deal.ID}); a.Body["error_description"] != "Trigger with code other is not registered." {
		t.Fatalf("unregistered: %s", a.Raw)
	}
	if x := e.p.TriggerExecutions(); len(x) != 1 || x[0].Code != "c5u4m" || x[0].OwnerTypeID != 2 || x[0].OwnerID != deal.ID {
		t.Fatalf("executions: %+v", x)
	}
}

// callHook POSTs JSON params to an incoming webhook URL.
func (e *env) callHook(hook, method string, params map[string]any) answer {
	e.t.Helper()
	b, err := json.Marshal(params)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.Post(hook+method, "application/json", bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	return readAnswer(e.t, resp)
}

// The robot and app-trigger methods refuse a webhook (no application
// context) with the docs' texts, even an administrator's; the webhook
// itself works for other methods.
func TestAutomationNeedsApplicationContext(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	hook := e.p.AddWebhook(1)
	e.callHook(hook, "profile", nil).mustOK(t)
	if a := e.callHook(strings.Replace(hook, "/rest/1/", "/rest/2/", 1), "profile", nil); a.Status != http.StatusForbidden {
		t.Fatalf("a webhook under another user's id: %d %s", a.Status, a.Raw)
	}
	add := fixtureJSON(t, "bizproc.robot.add.request.relay24_send.SYNTH.json")
	for _, m := range []string{"bizproc.robot.add", "bizproc.robot.list", "bizproc.robot.update", "bizproc.robot.delete"} {
		assertErrorFixture(t, e.callHook(hook, m, add), 400, "error.ACCESS_DENIED.application_context.SYNTH.json")
	}
	trig := fixtureJSON(t, "crm.automation.trigger.add.request.json")
	delete(trig, "auth")
	for _, m := range []string{"crm.automation.trigger.add", "crm.automation.trigger.list", "crm.automation.trigger.execute", "crm.automation.trigger.delete"} {
		assertErrorFixture(t, e.callHook(hook, m, trig), 403, "crm.automation.trigger.add.error.json")
	}
	if len(e.p.Robots()) != 0 || len(e.p.AppTriggers()) != 0 {
		t.Fatal("a webhook registered something")
	}
	// The same calls with the app's token are accepted.
	e.call("bizproc.robot.add", add).mustOK(t)
	e.call("crm.automation.trigger.add", trig).mustOK(t)
}

// PROPERTIES as the docs define them: Required/Multiple are Y or N, a
// select's Options is {value: title} and its Default one of the values.
func TestRobotPropertiesStrict(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	base := fixtureJSON(t, "bizproc.robot.add.request.relay24_send.SYNTH.json")
	channel := func(change map[string]any) map[string]any {
		p := map[string]any{"Name": "Канал", "Type": "select", "Options": map[string]any{"1": "WhatsApp"}}
		for k, v := range change {
			p[k] = v
		}
		return p
	}
	for name, prop := range map[string]map[string]any{
		"required flag":  channel(map[string]any{"Required": "yes"}),
		"multiple flag":  channel(map[string]any{"Multiple": "1"}),
		"options list":   channel(map[string]any{"Options": "WhatsApp"}),
		"empty title":    channel(map[string]any{"Options": map[string]any{"1": ""}}),
		"default absent": channel(map[string]any{"Default": "2"}),
		"unknown type":   channel(map[string]any{"Type": "phone"}),
	} {
		params := map[string]any{}
		for k, v := range base {
			params[k] = v
		}
		params["PROPERTIES"] = map[string]any{"channel_id": prop}
		a := e.call("bizproc.robot.add", params)
		if a.Status != 400 || a.Body["error"] != "ERROR_ACTIVITY_VALIDATION_FAILURE" || a.Body["error_description"] != "Wrong properties array!" {
			t.Errorf("%s: %d %s", name, a.Status, a.Raw)
		}
	}
	if len(e.p.Robots()) != 0 {
		t.Fatalf("registered: %+v", e.p.Robots())
	}
	base["PROPERTIES"] = map[string]any{"channel_id": channel(map[string]any{"Default": "1", "Required": "Y"})}
	e.call("bizproc.robot.add", base).mustOK(t)
}

// bizproc.event.send takes only the robot's RETURN_PROPERTIES (any case): an
// unknown key is refused and the token stays usable.
func TestEventSendOnlyDeclaredReturnValues(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	rec := newRecorder(t)
	add := fixtureJSON(t, "bizproc.robot.add.request.relay24_send.SYNTH.json")
	add["HANDLER"] = rec.srv.URL + "/b24/robot"
	e.call("bizproc.robot.add", add).mustOK(t)
	e.p.InstallFinish()
	call, err := e.p.RunRobot(context.Background(), b24test.RobotCall{Code: "relay24_send",
		Document: [3]string{"crm", "CCrmDocumentDeal", "DEAL_1"}, Properties: map[string]string{"channel_id": "tg-1"}})
	if err != nil {
		t.Fatal(err)
	}
	send := map[string]any{"EVENT_TOKEN": call.EventToken, "RETURN_VALUES": map[string]any{"message_id": "1", "error": "x"}}
	a := e.call("bizproc.event.send", send)
	if a.Status != 400 || a.Body["error"] != "ERROR_ARGUMENT" || !strings.Contains(a.Body["error_description"].(string), "error") {
		t.Fatalf("an undeclared return value: %d %s", a.Status, a.Raw)
	}
	send["RETURN_VALUES"] = map[string]any{"MESSAGE_ID": "1", "status": "sent"}
	e.call("bizproc.event.send", send).mustOK(t)
	if s := e.p.EventSends(); len(s) != 1 || s[0].ReturnValues["status"] != "sent" {
		t.Fatalf("sends: %+v", s)
	}
}

// A rule is saved on a stage only as the robot's form allows: required
// properties filled, a select's value among its options, no unknown keys.
func TestStageRobotSettingsChecked(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	add := fixtureJSON(t, "bizproc.robot.add.request.relay24_send.SYNTH.json")
	if err := e.p.SetStageRobot(b24test.StageRobot{StageID: "WON", Code: "relay24_send"}); !errors.Is(err, b24test.ErrNoRobot) {
		t.Fatalf("an unregistered robot: %v", err)
	}
	e.call("bizproc.robot.add", add).mustOK(t)
	for name, props := range map[string]map[string]string{
		"no channel":      {"text": "x"},
		"unknown channel": {"channel_id": "tg-2", "text": "x"},
		"unknown key":     {"channel_id": "tg-1", "colour": "red"},
	} {
		if err := e.p.SetStageRobot(b24test.StageRobot{StageID: "WON", Code: "relay24_send", Properties: props}); !errors.Is(err, b24test.ErrRuleInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := e.p.SetStageRobot(b24test.StageRobot{StageID: "WON", Code: "relay24_send", Properties: map[string]string{"channel_id": "tg-1"}}); err != nil {
		t.Fatal(err)
	}
}

// App trigger codes: lower-case letters, digits, '.', '-', '_' only.
func TestTriggerCodeCharset(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	for _, code := range []string{"Relay24", "relay24/x", "relay 24", "клиент"} {
		a := e.call("crm.automation.trigger.add", map[string]any{"CODE": code, "NAME": "x"})
		if a.Status != 400 || a.Body["error"] != "" || a.Body["error_description"] != "Wrong trigger code!" {
			t.Errorf("%q: %d %s", code, a.Status, a.Raw)
		}
	}
	e.call("crm.automation.trigger.add", map[string]any{"CODE": "relay24_no-reply.v2", "NAME": "x"}).mustOK(t)
}

package b24test_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/relay24/relay24/bitrix/b24test"
)

// printRKeys extracts the [KEY] names of a PHP print_r dump.
func printRKeys(t *testing.T, name string) []string {
	t.Helper()
	var out []string
	for _, m := range regexp.MustCompile(`\[(\w+)\] =>`).FindAllStringSubmatch(string(fixtureBytes(t, name)), -1) {
		out = append(out, m[1])
	}
	return out
}

func TestPlacementBinding(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	e.p.AddUser(b24test.User{ID: 2, Name: "Olga", Active: true})
	user := e.p.IssueTokens(2)
	h := "http://127.0.0.1:8080/placement/deal-tab"

	tests := []struct {
		name   string
		token  string
		params map[string]any
		status int
		code   string
	}{
		{"not an admin", user.Access, map[string]any{"PLACEMENT": "CRM_DEAL_DETAIL_TAB", "HANDLER": h}, 403, "ACCESS_DENIED"},
		{"unknown placement", e.tok.Access, map[string]any{"PLACEMENT": "CRM_NOPE_TAB", "HANDLER": h}, 400, "ERROR_PLACEMENT_NOT_FOUND"},
		{"no handler", e.tok.Access, map[string]any{"PLACEMENT": "LEFT_MENU"}, 400, "ERROR_ARGUMENT"},
		{"localhost handler", e.tok.Access, map[string]any{"PLACEMENT": "LEFT_MENU", "HANDLER": "http://localhost/x"}, 400, "ERROR_WRONG_HANDLER_URL"},
		{"ftp handler", e.tok.Access, map[string]any{"PLACEMENT": "LEFT_MENU", "HANDLER": "ftp://app.example/x"}, 400, "ERROR_UNSUPPORTED_PROTOCOL"},
		{"background worker without error URL", e.tok.Access, map[string]any{"PLACEMENT": "PAGE_BACKGROUND_WORKER", "HANDLER": h}, 200, "EMPTY_ERROR_HANDLER_URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assertError(t, e.callAs(tc.token, "placement.bind", tc.params), tc.status, tc.code)
		})
	}
	assertErrorFixture(t, e.call("placement.bind", map[string]any{"HANDLER": h}), 400, "placement.bind.error.json")

	e.call("placement.bind", map[string]any{"PLACEMENT": "CRM_DEAL_DETAIL_TAB", "HANDLER": h, "TITLE": "Chat"}).mustOK(t)
	// Re-binding the same handler is refused (installers must tolerate it).
	a := e.call("placement.bind", map[string]any{"placement": "crm_deal_detail_tab", "handler": h, "title": "Chat"})
	assertError(t, a, 400, "ERROR_CORE")
	if !strings.Contains(a.Body["error_description"].(string), "Handler already binded") {
		t.Errorf("duplicate: %s", a.Raw)
	}
	e.call("placement.bind", map[string]any{"PLACEMENT": "REST_APP_URI", "HANDLER": h}).mustOK(t)
	assertError(t, e.call("placement.bind", map[string]any{"PLACEMENT": "REST_APP_URI", "HANDLER": h + "2"}), 400, "ERROR_PLACEMENT_MAX_COUNT")
	e.call("placement.bind", map[string]any{"PLACEMENT": "LEFT_MENU", "HANDLER": h, "LANG_ALL": map[string]any{"ru": map[string]any{"TITLE": "Чаты"}, "en": map[string]any{"TITLE": "Chats"}}}).mustOK(t)

	a = e.call("placement.get", nil).mustOK(t)
	items := a.list(t)
	if len(items) != 3 {
		t.Fatalf("placement.get: %s", a.Raw)
	}
	assertSameKeys(t, "placement.get item", fixtureJSON(t, "placement.get.response.json")["result"].([]any)[0].(map[string]any), items[0])
	if items[0]["placement"] != "CRM_DEAL_DETAIL_TAB" || items[0]["title"] != "Chat" || string(mustJSON(items[0]["options"])) != "[]" {
		t.Errorf("placement %v", items[0])
	}
	if items[2]["title"] != "Чаты" {
		t.Errorf("LANG_ALL title: %v", items[2])
	}
	assertError(t, e.callAs(user.Access, "placement.get", nil), 403, "ACCESS_DENIED")

	a = e.call("placement.unbind", map[string]any{"PLACEMENT": "CRM_DEAL_DETAIL_TAB", "HANDLER": h}).mustOK(t)
	assertSameKeys(t, "placement.unbind", fixtureJSON(t, "placement.unbind.response.json")["result"].(map[string]any), a.Body["result"].(map[string]any))
	if a.Body["result"].(map[string]any)["count"] != 2.0 {
		t.Errorf("unbind count (the portal counts each row twice): %s", a.Raw)
	}
	if n := len(e.p.Placements()); n != 2 {
		t.Errorf("%d placements left", n)
	}
}

func TestEventBinding(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	e.p.AddUser(b24test.User{ID: 2, Name: "Olga", Active: true})
	user := e.p.IssueTokens(2)
	h := "https://app.example/events"

	assertErrorFixture(t, e.call("event.bind", map[string]any{"event": "ONCRMNOTHING", "handler": h}), 400, "event.bind.error.json")
	assertError(t, e.call("event.bind", map[string]any{"event": "ONCRMDEALADD"}), 400, "ERROR_ARGUMENT")
	e.call("event.bind", map[string]any{"event": "OnCrmDealAdd", "handler": h}).mustOK(t)
	a := e.call("event.bind", map[string]any{"event": "ONCRMDEALADD", "handler": h})
	assertError(t, a, 400, "ERROR_CORE")
	if a.Body["error_description"] != "Unable to set event handler: Handler already binded" {
		t.Errorf("duplicate: %s", a.Raw)
	}
	// A different auth_type is a different binding.
	e.call("event.bind", map[string]any{"event": "ONCRMDEALADD", "handler": h, "auth_type": 2}).mustOK(t)

	// A non-admin binds for himself only.
	assertError(t, e.callAs(user.Access, "event.bind", map[string]any{"event": "ONCRMLEADADD", "handler": h, "auth_type": 1}), 403, "ACCESS_DENIED")
	assertError(t, e.callAs(user.Access, "event.bind", map[string]any{"event": "ONCRMLEADADD", "event_type": "offline"}), 403, "ACCESS_DENIED")
	e.callAs(user.Access, "event.bind", map[string]any{"event": "ONCRMLEADADD", "handler": h}).mustOK(t)

	a = e.call("event.get", nil).mustOK(t)
	items := a.list(t)
	if len(items) != 3 {
		t.Fatalf("event.get: %s", a.Raw)
	}
	assertSameKeys(t, "event.get item", fixtureJSON(t, "event.get.response.json")["result"].([]any)[0].(map[string]any), items[0])
	if items[0]["event"] != "ONCRMDEALADD" || items[0]["auth_type"] != "0" || items[1]["auth_type"] != "2" || items[2]["auth_type"] != "2" {
		t.Errorf("event.get %v", items)
	}
	if mine := e.callAs(user.Access, "event.get", nil).mustOK(t).list(t); len(mine) != 2 {
		t.Errorf("a non-admin sees his own bindings: %v", mine)
	}

	a = e.call("event.unbind", map[string]any{"event": "ONCRMDEALADD", "handler": h, "auth_type": 0}).mustOK(t)
	assertSameKeys(t, "event.unbind", fixtureJSON(t, "event.unbind.response.json")["result"].(map[string]any), a.Body["result"].(map[string]any))
	if a.Body["result"].(map[string]any)["count"] != 1.0 {
		t.Errorf("unbind: %s", a.Raw)
	}
	if n := len(e.p.EventBindings()); n != 2 {
		t.Errorf("%d bindings left", n)
	}
}

func TestInstallAndEvents(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	app := newRecorder(t)
	ctx := context.Background()

	// The installer page: query + form exactly as the portal sends them.
	if _, err := e.p.PostInstall(ctx, app.srv.URL+"/install?x=1", 2); !errors.Is(err, b24test.ErrNotAdmin) {
		t.Errorf("install by a non-user: %v", err)
	}
	reply, err := e.p.PostInstall(ctx, app.srv.URL+"/install?x=1", 1)
	if err != nil || reply.Status != 200 || string(reply.Body) != `{"status":"success"}` {
		t.Fatalf("PostInstall: %v %+v", err, reply)
	}
	req := app.requests()[0]
	for _, k := range []string{"DOMAIN", "PROTOCOL", "LANG", "APP_SID"} {
		if req.Query.Get(k) == "" {
			t.Errorf("query lacks %s: %v", k, req.Query)
		}
	}
	if req.Query.Get("x") != "1" || req.Query.Get("DOMAIN") != e.p.Domain() || req.Query.Get("PROTOCOL") != "0" {
		t.Errorf("query %v", req.Query)
	}
	for _, k := range printRKeys(t, "app-open.POST.DEFAULT.print_r.txt") {
		if slices.Contains([]string{"DOMAIN", "PROTOCOL", "LANG", "APP_SID"}, k) {
			continue
		}
		if req.Form.Get(k) == "" {
			t.Errorf("installer form lacks %s: %v", k, req.Form)
		}
	}
	if req.Form.Get("PLACEMENT") != "DEFAULT" || req.Form.Get("PLACEMENT_OPTIONS") != "{}" || req.Form.Get("status") != "L" ||
		req.Form.Get("APPLICATION_TOKEN") != e.p.ApplicationToken() || req.Form.Get("member_id") != e.p.MemberID() {
		t.Errorf("installer form %v", req.Form)
	}
	installer := &env{t: t, o: e.o, p: e.p, tok: b24test.Tokens{Access: req.Form.Get("AUTH_ID")}}
	installer.call("event.bind", map[string]any{"event": "ONCRMCONTACTADD", "handler": app.srv.URL + "/events"}).mustOK(t)
	installer.call("event.bind", map[string]any{"event": "ONAPPINSTALL", "handler": app.srv.URL + "/installed"}).mustOK(t)
	installer.call("event.bind", map[string]any{"event": "ONAPPUNINSTALL", "handler": app.srv.URL + "/uninstalled"}).mustOK(t)
	installer.call("placement.bind", map[string]any{"PLACEMENT": "CRM_DEAL_DETAIL_TAB", "HANDLER": app.srv.URL + "/tab"}).mustOK(t)

	// Until installFinish nothing flows.
	if e.p.Installed() {
		t.Fatal("installed before installFinish")
	}
	data := map[string]any{"FIELDS": map[string]any{"ID": 89}}
	if _, err := e.p.FireEvent(ctx, "ONCRMCONTACTADD", data, 1); !errors.Is(err, b24test.ErrNotInstalled) {
		t.Fatalf("FireEvent before installFinish: %v", err)
	}
	if _, err := e.p.OpenPlacement(ctx, "CRM_DEAL_DETAIL_TAB", map[string]string{"ID": "8061"}, 1); !errors.Is(err, b24test.ErrNotInstalled) {
		t.Fatalf("OpenPlacement before installFinish: %v", err)
	}
	if n := len(app.requests()); n != 1 {
		t.Fatalf("%d requests reached the app", n)
	}

	replies, err := e.p.InstallFinishContext(ctx)
	if err != nil || len(replies) != 1 || !e.p.Installed() {
		t.Fatalf("installFinish: %v %v", replies, err)
	}
	inst := decoded(t, app.requests()[1].Form)
	assertSameKeys(t, "ONAPPINSTALL auth", fixtureJSON(t, "event.ONAPPINSTALL.json")["auth"].(map[string]any), without(inst["auth"].(map[string]any), "expires", "user_id"))

	// An event from a user: the documented form keys, a working token, no refresh token.
	replies, err = e.p.FireEvent(ctx, "onCrmContactAdd", data, 1)
	if err != nil || len(replies) != 1 {
		t.Fatalf("FireEvent: %v %v", replies, err)
	}
	ev := app.requests()[2]
	if ev.Path != "/events" {
		t.Fatalf("event went to %s", ev.Path)
	}
	got := decoded(t, ev.Form)
	want := fixtureJSON(t, "event.ONCRMCONTACTADD.json")
	assertSameKeys(t, "event", want, got)
	wantAuth := without(want["auth"].(map[string]any), "refresh_token")
	gotAuth := got["auth"].(map[string]any)
	assertSameKeys(t, "event auth", wantAuth, without(gotAuth, "expires", "user_id"))
	if gotAuth["application_token"] != e.p.ApplicationToken() || gotAuth["member_id"] != e.p.MemberID() || gotAuth["domain"] != e.p.Domain() || gotAuth["user_id"] != "1" {
		t.Errorf("auth %v", gotAuth)
	}
	if got["event"] != "ONCRMCONTACTADD" || !jsonEqual(got["data"], map[string]any{"FIELDS": map[string]any{"ID": "89"}}) {
		t.Errorf("event %v", got)
	}
	evTok := &env{t: t, o: e.o, p: e.p, tok: b24test.Tokens{Access: gotAuth["access_token"].(string)}}
	evTok.call("user.current", nil).mustOK(t)

	// A robot's change carries no tokens (outgoing-webhook shape).
	if _, err := e.p.FireEvent(ctx, "ONCRMCONTACTADD", data, 0); err != nil {
		t.Fatal(err)
	}
	robot := decoded(t, app.requests()[3].Form)
	assertSameKeys(t, "robot auth", fixtureJSON(t, "event.ONCRMDEALADD.outgoing_webhook.json")["auth"].(map[string]any), robot["auth"].(map[string]any))

	// The widget opens with the documented fields.
	if _, err := e.p.OpenPlacement(ctx, "CRM_DEAL_DETAIL_TAB", map[string]string{"ID": "8061"}, 1); err != nil {
		t.Fatal(err)
	}
	tab := app.requests()[4]
	for _, k := range printRKeys(t, "placement.CRM_DEAL_DETAIL_TAB.POST.print_r.txt") {
		if tab.Query.Get(k) == "" && tab.Form.Get(k) == "" {
			t.Errorf("placement POST lacks %s", k)
		}
	}
	if tab.Form.Get("PLACEMENT") != "CRM_DEAL_DETAIL_TAB" || !strings.Contains(tab.Form.Get("PLACEMENT_OPTIONS"), `"URI":"\/crm\/deal\/details\/8061\/`) {
		t.Errorf("placement form %v", tab.Form)
	}
	var opts map[string]string
	if err := json.Unmarshal([]byte(tab.Form.Get("PLACEMENT_OPTIONS")), &opts); err != nil || opts["ID"] != "8061" {
		t.Errorf("PLACEMENT_OPTIONS %q: %v", tab.Form.Get("PLACEMENT_OPTIONS"), err)
	}
	if _, err := e.p.OpenPlacement(ctx, "LEFT_MENU", nil, 1); !errors.Is(err, b24test.ErrNoPlacementHandler) {
		t.Errorf("unbound placement: %v", err)
	}
	if _, err := e.p.OpenApp(ctx, app.srv.URL+"/app", 1); err != nil {
		t.Fatal(err)
	}

	// Uninstall: ONAPPUNINSTALL without tokens, then everything is gone.
	oldAppToken := e.p.ApplicationToken()
	replies, err = e.p.Uninstall(ctx, true)
	if err != nil || len(replies) != 1 {
		t.Fatalf("Uninstall: %v %v", replies, err)
	}
	reqs := app.requests()
	un := decoded(t, reqs[len(reqs)-1].Form)
	wantUn := fixtureJSON(t, "event.ONAPPUNINSTALL.json")
	assertSameKeys(t, "ONAPPUNINSTALL", without(wantUn, "event_handler_id"), without(un, "event_handler_id"))
	assertSameKeys(t, "ONAPPUNINSTALL auth", wantUn["auth"].(map[string]any), un["auth"].(map[string]any))
	if un["data"].(map[string]any)["CLEAN"] != "1" || un["auth"].(map[string]any)["application_token"] != oldAppToken {
		t.Errorf("uninstall event %v", un)
	}
	if e.p.Installed() || len(e.p.EventBindings()) != 0 || len(e.p.Placements()) != 0 || e.p.ApplicationToken() == oldAppToken {
		t.Error("uninstall left state behind")
	}
	assertError(t, e.call("user.current", nil), 401, "invalid_token")
	assertError(t, evTok.call("user.current", nil), 401, "invalid_token")
	a := tokenRequest(t, e.o, url.Values{"grant_type": {"refresh_token"}, "client_id": {testApp.ClientID}, "client_secret": {testApp.ClientSecret}, "refresh_token": {e.tok.Refresh}})
	assertError(t, a, 400, "invalid_grant")
	if _, err := e.p.FireEvent(ctx, "ONCRMCONTACTADD", data, 1); !errors.Is(err, b24test.ErrNotInstalled) {
		t.Errorf("FireEvent after uninstall: %v", err)
	}
}

func TestNoUIInstallAndAutoEvents(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	app := newRecorder(t)
	ctx := context.Background()

	app.status = 500
	if _, err := e.p.PostInstallEvent(ctx, app.srv.URL+"/install"); err != nil {
		t.Fatal(err)
	}
	if e.p.Installed() {
		t.Fatal("a failed install handler must not install the app")
	}
	app.status = 200
	if _, err := e.p.PostInstallEvent(ctx, app.srv.URL+"/install"); err != nil || !e.p.Installed() {
		t.Fatalf("no-UI install: %v", err)
	}
	inst := decoded(t, app.requests()[1].Form)
	want := fixtureJSON(t, "event.ONAPPINSTALL.json")
	assertSameKeys(t, "ONAPPINSTALL", without(want, "event_handler_id"), without(inst, "event_handler_id"))
	auth := inst["auth"].(map[string]any)
	assertSameKeys(t, "ONAPPINSTALL auth", want["auth"].(map[string]any), without(auth, "expires", "user_id"))
	tok := b24test.Tokens{Access: auth["access_token"].(string), Refresh: auth["refresh_token"].(string)}
	installer := &env{t: t, o: e.o, p: e.p, tok: tok}
	installer.call("event.bind", map[string]any{"event": "ONCRMDEALADD", "handler": app.srv.URL + "/deal"}).mustOK(t)

	// REST changes fire events only when asked to.
	installer.call("crm.deal.add", map[string]any{"fields": map[string]any{"TITLE": "quiet"}}).mustOK(t)
	e.p.WaitEvents()
	if n := len(app.requests()); n != 2 {
		t.Fatalf("event without AutoEvents: %d requests", n)
	}
	e.p.SetAutoEvents(true)
	a := installer.call("crm.deal.add", map[string]any{"fields": map[string]any{"TITLE": "loud"}}).mustOK(t)
	e.p.WaitEvents()
	reqs := app.requests()
	if len(reqs) != 3 || reqs[2].Path != "/deal" {
		t.Fatalf("auto event: %v", reqs)
	}
	ev := decoded(t, reqs[2].Form)
	if ev["event"] != "ONCRMDEALADD" || ev["data"].(map[string]any)["FIELDS"].(map[string]any)["ID"] != jsonNumberString(a.Body["result"]) {
		t.Errorf("auto event %v", ev)
	}
	if d := e.p.Deliveries(); len(d) != 3 || d[2].Status != 200 || d[2].Event != "ONCRMDEALADD" {
		t.Errorf("deliveries %+v", d)
	}
}

func without(m map[string]any, drop ...string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if !slices.Contains(drop, k) {
			out[k] = v
		}
	}
	return out
}

func jsonNumberString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

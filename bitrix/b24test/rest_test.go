package b24test_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/relay24/relay24/bitrix/b24test"
)

func TestRESTEnvelope(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	a := e.call("user.current", nil).mustOK(t)
	tm, ok := a.Body["time"].(map[string]any)
	if !ok {
		t.Fatalf("no time: %s", a.Raw)
	}
	assertSameKeys(t, "time", fixtureJSON(t, "time.object.full.json")["time"].(map[string]any), tm)
	if ds := tm["date_start"].(string); !strings.HasSuffix(ds, "+03:00") {
		t.Errorf("date_start %q has no offset", ds)
	}
	assertKeysCover(t, "user.current", fixtureJSON(t, "user.current.response.json")["result"].(map[string]any), a.Body["result"].(map[string]any))

	// Every way of passing parameters and naming the method works.
	paths := []struct{ name, method, url, body, ct string }{
		{"GET query", http.MethodGet, "/rest/user.current?auth=" + e.tok.Access, "", ""},
		{"GET .json", http.MethodGet, "/rest/user.current.json?auth=" + e.tok.Access, "", ""},
		{"upper case", http.MethodGet, "/rest/USER.Current?auth=" + e.tok.Access, "", ""},
		{"form body", http.MethodPost, "/rest/user.current", "auth=" + e.tok.Access, "application/x-www-form-urlencoded"},
		{"JSON body", http.MethodPost, "/rest/user.current", `{"auth":"` + e.tok.Access + `"}`, "application/json"},
		{"auth in query, POST", http.MethodPost, "/rest/user.current?auth=" + e.tok.Access, "", "application/x-www-form-urlencoded"},
	}
	for _, pt := range paths {
		t.Run(pt.name, func(t *testing.T) {
			req, _ := http.NewRequest(pt.method, e.p.URL()+pt.url, strings.NewReader(pt.body))
			if pt.ct != "" {
				req.Header.Set("Content-Type", pt.ct)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			readAnswer(t, resp).mustOK(t)
		})
	}
	if calls := e.p.Calls(); calls[len(calls)-1].Method != "user.current" || calls[len(calls)-1].UserID != 1 {
		t.Errorf("last call %+v", calls[len(calls)-1])
	}
}

func TestRESTStrictErrors(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	other := e.o.NewPortal(b24test.PortalOptions{})
	otherTok := other.IssueTokens(1)
	revokedPortal := e.o.NewPortal(b24test.PortalOptions{})
	revoked := revokedPortal.IssueTokens(1)
	revokedPortal.RevokeAll()

	tests := []struct {
		name    string
		token   string
		method  string
		status  int
		fixture string
		code    string
	}{
		{"no auth", "", "user.current", 401, "error.NO_AUTH_FOUND.SYNTH.json", ""},
		{"unknown token", "0123456789abcdef0123456789abcdef", "user.current", 401, "error.NO_AUTH_FOUND.SYNTH.json", ""},
		{"another portal's token", otherTok.Access, "user.current", 401, "error.NO_AUTH_FOUND.SYNTH.json", ""},
		{"unknown method", e.tok.Access, "crm.contact.frobnicate", 404, "error.ERROR_METHOD_NOT_FOUND.SYNTH.json", ""},
		{"get of a missing contact", e.tok.Access, "crm.contact.get", 400, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			params := map[string]any{}
			if tc.method == "crm.contact.get" {
				params["id"] = 999
			}
			a := e.callAs(tc.token, tc.method, params)
			if tc.fixture != "" {
				assertErrorFixture(t, a, tc.status, tc.fixture)
			} else {
				assertError(t, a, tc.status, tc.code)
			}
		})
	}
	a := revokedPortal.ClientEndpoint()
	resp, err := http.Get(a + "user.current?auth=" + revoked.Access)
	if err != nil {
		t.Fatal(err)
	}
	assertError(t, readAnswer(t, resp), 401, "invalid_token")

	if got := e.call("crm.contact.get", map[string]any{"id": 999}); got.Body["error_description"] != "Not found" {
		t.Errorf("missing contact: %s", got.Raw)
	}
	assertError(t, e.call("crm.contact.get", nil), 400, "")

	// A dismissed user's token is refused.
	e.p.AddUser(b24test.User{ID: 7, Name: "Fired", Active: false})
	assertError(t, e.callAs(e.p.IssueTokens(7).Access, "user.current", nil), 403, "user_access_error")

	// Webhook-style URLs are not registered.
	resp, err = http.Get(e.p.URL() + "/rest/1/secret/user.current")
	if err != nil {
		t.Fatal(err)
	}
	if a := readAnswer(t, resp); a.Status == 200 {
		t.Errorf("webhook path answered %s", a.Raw)
	}
	// Garbage JSON is a 400, not a silent empty request.
	resp, err = http.Post(e.p.ClientEndpoint()+"user.current", "application/json", strings.NewReader(`{"auth":`))
	if err != nil {
		t.Fatal(err)
	}
	assertError(t, readAnswer(t, resp), 400, "INVALID_REQUEST")
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{Burst: 3, PerSecond: 0.01})
	for i := 0; i < 3; i++ {
		e.call("user.current", nil).mustOK(t)
	}
	assertErrorFixture(t, e.call("user.current", nil), http.StatusServiceUnavailable, "error.QUERY_LIMIT_EXCEEDED.SYNTH.json")
	if n := e.p.HTTPRequests(); n != 4 {
		t.Errorf("HTTPRequests = %d, want 4", n)
	}
	// The bucket drains with (emulated) time: 0.01/s → 100 s per request.
	// The refused request counted too (limits.md: every incoming request
	// increases the counter), so draining one is not enough — and this
	// refusal counts as well.
	e.o.Advance(101 * time.Second)
	assertError(t, e.call("user.current", nil), http.StatusServiceUnavailable, "QUERY_LIMIT_EXCEEDED")
	// Draining three (the two refused and one) makes room for two.
	e.o.Advance(301 * time.Second)
	e.call("user.current", nil).mustOK(t)
	e.call("user.current", nil).mustOK(t)
	assertError(t, e.call("user.current", nil), http.StatusServiceUnavailable, "QUERY_LIMIT_EXCEEDED")
	// Knocking while refused keeps the bucket full: a hundred refusals take
	// a hundred drained requests before the next one gets in.
	e.p.SetLimit(3, 1)
	for i := 0; i < 3; i++ {
		e.call("user.current", nil).mustOK(t)
	}
	for i := 0; i < 100; i++ {
		assertError(t, e.call("user.current", nil), http.StatusServiceUnavailable, "QUERY_LIMIT_EXCEEDED")
	}
	e.o.Advance(99 * time.Second)
	assertError(t, e.call("user.current", nil), http.StatusServiceUnavailable, "QUERY_LIMIT_EXCEEDED")
	e.o.Advance(4 * time.Second)
	e.call("user.current", nil).mustOK(t)

	// A batch is one request however many commands it has.
	e.p.SetLimit(2, 0.001)
	e.p.ResetCalls()
	cmd := map[string]any{}
	for i := 0; i < 10; i++ {
		cmd["c"+string(rune('a'+i))] = "user.current"
	}
	e.call("batch", map[string]any{"cmd": cmd}).mustOK(t)
	e.call("user.current", nil).mustOK(t)
	assertError(t, e.call("batch", map[string]any{"cmd": cmd}), 503, "QUERY_LIMIT_EXCEEDED")
	if n := e.p.HTTPRequests(); n != 3 {
		t.Errorf("HTTPRequests = %d, want 3", n)
	}
	inBatch := 0
	for _, c := range e.p.Calls() {
		if c.InBatch {
			inBatch++
		}
	}
	if inBatch != 10 {
		t.Errorf("%d batch sub-calls recorded, want 10", inBatch)
	}

	// Disabled limit.
	e.p.SetLimit(-1, 0)
	for i := 0; i < 100; i++ {
		e.call("user.current", nil).mustOK(t)
	}
}

// limits.md, resource consumption: a method's execution time is summed over
// ten one-minute buckets; once the sum is over the limit, the next calls of
// that method (alone or in a batch) are refused with 429
// OPERATION_TIME_LIMIT until enough buckets dropped, while other methods
// work. The outer batch is not charged.
func TestOperatingTimeLimit(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{OperatingLimit: 350 * time.Second})
	e.p.SetOperatingCost("crm.contact.list", 100*time.Second)
	opened := e.o.Now()
	operating := func(a answer) (float64, float64) {
		tm, _ := a.Body["time"].(map[string]any)
		used, _ := tm["operating"].(float64)
		reset, _ := tm["operating_reset_at"].(float64)
		return used, reset
	}
	// Unix seconds; the calls come a little after opened.
	resetNear := func(reset float64, want time.Time) bool {
		return int64(reset) >= want.Unix() && int64(reset) <= want.Unix()+1
	}
	// One call in the first minute, two more two minutes later: 300 s, not
	// over the limit (350 s) yet.
	a := e.call("crm.contact.list", nil).mustOK(t)
	if used, reset := operating(a); used < 100 || used >= 101 || !resetNear(reset, opened.Add(10*time.Minute)) {
		t.Fatalf("first call: operating %v, reset at %v (opened %d)", used, reset, opened.Unix())
	}
	e.o.Advance(2 * time.Minute)
	e.call("crm.contact.list", nil).mustOK(t)
	a = e.call("crm.contact.list", nil).mustOK(t)
	// operating is the method's sum; the reset is when the oldest bucket drops.
	if used, reset := operating(a); used < 300 || used >= 301 || !resetNear(reset, opened.Add(10*time.Minute)) {
		t.Fatalf("third call: operating %v, reset at %v", used, reset)
	}
	// The call that crosses the limit still runs; the next one does not.
	e.call("crm.contact.list", nil).mustOK(t)
	a = e.call("crm.contact.list", nil)
	assertError(t, a, http.StatusTooManyRequests, "OPERATION_TIME_LIMIT")
	if a.Body["error_description"] != "Method is blocked due to operation time limit." {
		t.Errorf("description %s", a.Raw)
	}
	e.call("crm.deal.list", nil).mustOK(t)
	b := e.call("batch", map[string]any{"cmd": map[string]any{"c": "crm.contact.list", "d": "crm.deal.list"}}).mustOK(t)
	res := b.Body["result"].(map[string]any)
	errs, _ := res["result_error"].(map[string]any)
	if c, _ := errs["c"].(map[string]any); c["error"] != "OPERATION_TIME_LIMIT" || res["result"].(map[string]any)["d"] == nil {
		t.Fatalf("batch with the blocked method: %s", b.Raw)
	}
	if used, _ := operating(b); used != 0 {
		t.Errorf("the outer batch was charged %v s", used)
	}
	// Refused calls cost nothing: four ran.
	if got := e.p.OperatingTime("crm.contact.list"); got < 400*time.Second || got >= 401*time.Second {
		t.Errorf("OperatingTime = %v, want the four calls that ran", got)
	}
	// Ten minutes after the first bucket opened it drops (100 s): 300 s left,
	// not over the limit; this call makes it 400 s again.
	e.o.Advance(8 * time.Minute)
	a = e.call("crm.contact.list", nil).mustOK(t)
	if _, reset := operating(a); !resetNear(reset, opened.Add(12*time.Minute)) {
		t.Errorf("reset after the first bucket dropped: %v, want the second's end %d", reset, opened.Add(12*time.Minute).Unix())
	}
	assertError(t, e.call("crm.contact.list", nil), http.StatusTooManyRequests, "OPERATION_TIME_LIMIT")

	// No limit when disabled.
	off := newEnv(t, b24test.PortalOptions{OperatingLimit: -1})
	off.p.SetOperatingCost("crm.contact.list", time.Hour)
	for i := 0; i < 3; i++ {
		off.call("crm.contact.list", nil).mustOK(t)
	}
}

func TestFaultAndLatency(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	e.p.SetFault(&b24test.Fault{Status: http.StatusInternalServerError, Body: "<<garbage", Count: 2, Method: "crm.contact.list"})
	// Other methods are not affected.
	e.call("user.current", nil).mustOK(t)
	for i := 0; i < 2; i++ {
		resp, err := http.Get(e.p.ClientEndpoint() + "crm.contact.list?auth=" + url.QueryEscape(e.tok.Access))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 500 || string(body) != "<<garbage" {
			t.Fatalf("fault %d: %d %s", i, resp.StatusCode, body)
		}
	}
	e.call("crm.contact.list", nil).mustOK(t)

	// Without a body the fault answers with a Bitrix24 envelope.
	e.p.SetFault(&b24test.Fault{Status: http.StatusServiceUnavailable})
	assertErrorFixture(t, e.call("user.current", nil), 503, "error.QUERY_LIMIT_EXCEEDED.SYNTH.json")

	// Delay-only fault and latency delay but answer normally.
	e.p.SetFault(&b24test.Fault{Delay: 20 * time.Millisecond})
	e.call("user.current", nil).mustOK(t)
	e.p.SetLatency(10 * time.Millisecond)
	e.call("user.current", nil).mustOK(t)
	e.p.SetLatency(0)
	e.p.SetFault(&b24test.Fault{Status: 500})
	e.p.SetFault(nil)
	e.call("user.current", nil).mustOK(t)
}

func TestScopeIsEnforced(t *testing.T) {
	app := testApp
	app.Scope = "user"
	o := b24test.NewOAuth(app)
	t.Cleanup(o.Close)
	p := o.NewPortal(b24test.PortalOptions{})
	e := &env{t: t, o: o, p: p, tok: p.IssueTokens(1)}
	e.call("user.get", nil).mustOK(t)
	assertError(t, e.call("crm.contact.list", nil), 403, "insufficient_scope")
	assertError(t, e.call("event.bind", map[string]any{"event": "ONCRMCONTACTADD", "handler": "http://app.example/h"}), 400, "ERROR_EVENT_NOT_FOUND")
}

// A lost answer: the portal runs the request, the caller gets the fault.
func TestFaultLostAnswerRunsTheRequest(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	e.p.SetFault(&b24test.Fault{Status: http.StatusGatewayTimeout, Lost: true, Method: "crm.contact.add"})
	r := e.call("crm.contact.add", map[string]any{"fields": map[string]any{"NAME": "Written"}})
	if r.Status != http.StatusGatewayTimeout {
		t.Fatalf("answer %d %s", r.Status, r.Raw)
	}
	if n := e.p.Contacts(); n != 1 {
		t.Fatalf("%d contacts: the request did not run", n)
	}
	e.call("crm.contact.add", map[string]any{"fields": map[string]any{"NAME": "Next"}}).mustOK(t)
}

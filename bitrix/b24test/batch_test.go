package b24test_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/bitrix/b24test"
)

// batchParts returns result, result_error, result_total, result_next and
// result_time of a batch answer, as raw JSON.
func batchParts(t *testing.T, a answer) map[string]json.RawMessage {
	t.Helper()
	var env struct {
		Result map[string]json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(a.Raw, &env); err != nil {
		t.Fatalf("%v: %s", err, a.Raw)
	}
	return env.Result
}

func TestBatchWithReferences(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	// The documented request, verbatim apart from the token.
	body := bytes.Replace(fixtureBytes(t, "batch.request.json"), []byte("**put_access_token_here**"), []byte(e.tok.Access), 1)
	resp, err := http.Post(e.p.ClientEndpoint()+"batch", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	a := readAnswer(t, resp).mustOK(t)
	want := fixtureJSON(t, "batch.response.json")["result"].(map[string]any)
	got := a.Body["result"].(map[string]any)
	assertSameKeys(t, "batch result", want, got)
	parts := batchParts(t, a)
	for _, k := range []string{"result_error", "result_next"} {
		if string(parts[k]) != "[]" {
			t.Errorf("%s = %s, want [] (PHP empty array)", k, parts[k])
		}
	}
	res := got["result"].(map[string]any)
	assertKeysCover(t, "get_user", want["result"].(map[string]any)["get_user"].(map[string]any), res["get_user"].(map[string]any))
	dep := res["get_department"].([]any)
	if len(dep) != 1 || dep[0].(map[string]any)["ID"] != "1" {
		t.Errorf("department by reference: %v", res["get_department"])
	}
	if got["result_total"].(map[string]any)["get_department"] != 1.0 {
		t.Errorf("result_total %v", got["result_total"])
	}
	assertSameKeys(t, "result_time", want["result_time"].(map[string]any)["get_user"].(map[string]any), got["result_time"].(map[string]any)["get_user"].(map[string]any))

	// Calls: the batch, then its commands (referenced value substituted).
	calls := e.p.Calls()
	if len(calls) != 3 || calls[0].Method != "batch" || !calls[1].InBatch || calls[2].Method != "department.get" {
		t.Fatalf("calls %+v", calls)
	}
	if calls[2].Params["ID"] != "1" {
		t.Errorf("reference not substituted: %v", calls[2].Params)
	}
	if e.p.HTTPRequests() != 1 {
		t.Errorf("HTTPRequests %d", e.p.HTTPRequests())
	}
}

func TestBatchFormEncodedAndLists(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	for i := 0; i < 60; i++ {
		e.p.AddContact(b24test.Contact{Name: fmt.Sprintf("C%d", i)})
	}
	// Commands carry their own bracket-encoded query, encoded once more by
	// the outer form (batch.request.double-encoded-url.txt). EncodeQuery
	// sorts keys, so the wire order (= execution order) is alphabetical.
	cmd := map[string]any{
		"a_list":  "crm.contact.list?" + bitrix.EncodeQuery(map[string]any{"filter": map[string]any{">ID": 5}, "order": map[string]any{"ID": "ASC"}, "select": []string{"ID", "NAME"}}),
		"b_first": "crm.contact.get?id=$result[a_list][0][ID]",
		"c_add":   "crm.contact.add?" + bitrix.EncodeQuery(map[string]any{"fields": map[string]any{"NAME": "John&Martin", "LAST_NAME": "$result[b_first][NAME]"}}),
	}
	a := e.callForm("batch", map[string]any{"halt": 1, "cmd": cmd}).mustOK(t)
	got := a.Body["result"].(map[string]any)
	res := got["result"].(map[string]any)
	if len(res["a_list"].([]any)) != 50 || res["b_first"].(map[string]any)["ID"] != "6" {
		t.Fatalf("batch results: %s", a.Raw)
	}
	if got["result_next"].(map[string]any)["a_list"] != 50.0 || got["result_total"].(map[string]any)["a_list"] != 55.0 {
		t.Errorf("next/total: %v %v", got["result_next"], got["result_total"])
	}
	id := int(res["c_add"].(float64))
	c, _ := e.p.Contact(id)
	if c.Name != "John&Martin" || c.LastName != "C5" {
		t.Errorf("added %+v", c)
	}

	// cmd as a list: results come back as a list.
	a = e.call("batch", map[string]any{"cmd": []any{"user.current", "user.admin"}}).mustOK(t)
	if list, ok := a.Body["result"].(map[string]any)["result"].([]any); !ok || len(list) != 2 || list[1] != true {
		t.Errorf("list batch: %s", a.Raw)
	}
}

func TestBatchErrorsAndHalt(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	cmd := map[string]any{
		"a_ok":     "user.current",
		"b_bad":    "crm.contact.get?id=999",
		"c_nested": "batch?cmd[x]=user.current",
		"d_ref":    "crm.contact.get?id=$result[b_bad][ID]",
		"e_ok":     "user.admin",
	}
	a := e.call("batch", map[string]any{"halt": 0, "cmd": cmd}).mustOK(t)
	got := a.Body["result"].(map[string]any)
	errs := got["result_error"].(map[string]any)
	if len(errs) != 3 {
		t.Fatalf("errors %v", errs)
	}
	assertSameKeys(t, "result_error item", fixtureJSON(t, "batch.error_halt0.response.json")["result"].(map[string]any)["result_error"].(map[string]any)["get_user"].(map[string]any), errs["b_bad"].(map[string]any))
	if errs["c_nested"].(map[string]any)["error"] != "ERROR_BATCH_METHOD_NOT_ALLOWED" {
		t.Errorf("nested batch: %v", errs["c_nested"])
	}
	if errs["d_ref"].(map[string]any)["error"] != "ERROR_BATCH_REFERENCE" {
		t.Errorf("unresolvable reference: %v", errs["d_ref"])
	}
	if res := got["result"].(map[string]any); len(res) != 2 || res["e_ok"] != true {
		t.Errorf("results %v", res)
	}

	// halt=1 stops at the first error.
	a = e.call("batch", map[string]any{"halt": 1, "cmd": cmd}).mustOK(t)
	got = a.Body["result"].(map[string]any)
	if errs := got["result_error"].(map[string]any); len(errs) != 1 || errs["b_bad"] == nil {
		t.Errorf("halt errors %v", errs)
	}
	if res := got["result"].(map[string]any); len(res) != 1 {
		t.Errorf("halt results %v", res)
	}
	assertSameKeys(t, "halted batch", fixtureJSON(t, "batch.error_halt1.response.json")["result"].(map[string]any), got)

	// More than 50 commands: the whole batch is refused.
	big := map[string]any{}
	for i := 0; i < 51; i++ {
		big[fmt.Sprintf("c%02d", i)] = "user.current"
	}
	a = e.call("batch", map[string]any{"cmd": big})
	assertError(t, a, 400, "ERROR_BATCH_LENGTH_EXCEEDED")
	if a.Body["error_description"] != "Max batch length exceeded" {
		t.Errorf("description %s", a.Raw)
	}
	delete(big, "c50")
	e.call("batch", map[string]any{"cmd": big}).mustOK(t)

	// Order of execution is the order sent, not alphabetical.
	body := `{"auth":"` + e.tok.Access + `","cmd":{"z":"crm.contact.add?fields[NAME]=Z","a":"crm.contact.get?id=$result[z]"}}`
	resp, err := http.Post(e.p.ClientEndpoint()+"batch", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	a = readAnswer(t, resp).mustOK(t)
	if a.Body["result"].(map[string]any)["result"].(map[string]any)["a"].(map[string]any)["NAME"] != "Z" {
		t.Errorf("order: %s", a.Raw)
	}
}

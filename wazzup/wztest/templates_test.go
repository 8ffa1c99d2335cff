package wztest

import (
	"encoding/json"
	"strings"
	"testing"
)

// GET /v3/templates/whatsapp answers a bare array of the account's own
// templates, pages by limit/offset, refuses a bad query, and is open to a
// sidecar key; another account's key sees its own (none).
func TestTemplatesRoute(t *testing.T) {
	s, a, wa := setup(t)
	waba := a.AddChannel("wapi", "79000000000", "WABA")
	for _, title := range []string{"a", "b", "c"} {
		a.AddTemplate(Template{Title: title, Status: "approved", Channels: []string{waba.ChannelID},
			Components: []TemplateComponent{{Type: "HEADER", Format: "TEXT", Text: "{{1}}"}, {Type: "BODY", Text: "{{1}} {{2}} {{1}}"}}})
	}
	st, b := call(t, s, key, "GET", "/v3/templates/whatsapp?limit=2&offset=1", "")
	var page []map[string]any
	if st != 200 || json.Unmarshal(b, &page) != nil || len(page) != 2 || page[0]["title"] != "b" || page[1]["title"] != "c" {
		t.Fatalf("%d %s", st, b)
	}
	for _, k := range []string{"templateGuid", "accountId", "title", "name", "waba", "channels", "category", "language", "status", "rejected_reason", "namespace", "components", "templateCode"} {
		if _, ok := page[0][k]; !ok {
			t.Errorf("item lacks %s: %s", k, b)
		}
	}
	if code := page[0]["templateCode"].(string); !strings.HasSuffix(code, "{ [[headerVar1]]; [[bodyVar1]]; [[bodyVar2]] }") {
		t.Errorf("templateCode %q", code)
	}
	for _, q := range []string{"limit=x", "offset=-1", "limit=0"} {
		if st, b := call(t, s, key, "GET", "/v3/templates/whatsapp?"+q, ""); st != 400 || !strings.Contains(string(b), "VALIDATION_ERROR") {
			t.Errorf("%s: %d %s", q, st, b)
		}
	}
	a.AddKey("sidecar")
	s.SetRestricted("sidecar", true)
	if st, b := call(t, s, "sidecar", "GET", "/v3/templates/whatsapp", ""); st != 200 || strings.Count(string(b), "templateGuid") != 3 {
		t.Errorf("sidecar: %d %s", st, b)
	}
	s.AddAccount("other")
	if st, b := call(t, s, "other", "GET", "/v3/templates/whatsapp", ""); st != 200 || string(b) != "[]" {
		t.Errorf("other account: %d %s", st, b)
	}
	// A template send is checked against the template: the wrong value
	// count is refused, the right one accepted and echoed filled.
	guid := a.Templates()[0].GUID
	body := `{"channelId":"` + waba.ChannelID + `","chatType":"whatsapp","chatId":"79011112233","templateId":"` + guid + `","templateValues":%s}`
	if st, b := call(t, s, key, "POST", "/v3/message", strings.Replace(body, "%s", `["x"]`, 1)); st != 400 || !strings.Contains(string(b), `"VALIDATION_ERROR"`) || !strings.Contains(string(b), `"requestId"`) {
		t.Errorf("one value: %d %s", st, b)
	}
	if st, b := call(t, s, key, "POST", "/v3/message", strings.Replace(body, "%s", `["H","Ann","Bob"]`, 1)); st != 201 {
		t.Errorf("three values: %d %s", st, b)
	}
	if st, b := call(t, s, key, "POST", "/v3/message", `{"channelId":"`+wa.ChannelID+`","chatType":"whatsapp","chatId":"79011112233","text":"x","templateValues":["a"]}`); st != 400 || !strings.Contains(string(b), "templateValues") {
		t.Errorf("values without a template: %d %s", st, b)
	}
	s.Wait()
	sent := a.Sent()
	if len(sent) != 1 || a.messages[sent[0].MessageID].text != "Ann Bob Ann" || a.messages[sent[0].MessageID].typ != "wapi_template" {
		t.Errorf("sent %+v", sent)
	}
}

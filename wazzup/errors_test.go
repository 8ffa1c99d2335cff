package wazzup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestParseErrorFixtures(t *testing.T) {
	tests := []struct {
		file        string
		status      int
		code, desc  string
		requestID   string
		dataHas     string
		fields      []string
		temporary   bool
		isDuplicate bool
	}{
		{"error_400_repeated_crm_message_id.json", 400, "REPEATED_CRM_MESSAGE_ID",
			"You have already sent message with same crmMessageId", "c1005276e8a2b5aa23fcc94407d39f49", `"crmMessageId"`, nil, false, true},
		{"error_400_wrong_transport.json", 400, "WRONG_TRANSPORT",
			"You can't send message to vk chat from whatsapp transport", "21a9be7692d378b0270e7fc1d993381a", `"transport"`, nil, false, false},
		{"error_400_invalid_message_data.json", 400, "INVALID_MESSAGE_DATA", "Message data is invalid",
			"7ca68797d127735e72b066b0080e2cc0", `"fields"`, []string{"channelId"}, false, false},
		{"error_403_forbidden_live.json", 403, "FORBIDDEN", "", "", "", nil, false, false},
		{"error_generic_format.json", 400, "ERROR CODE", "CHANNEL_BLOCKED", "", "{}", nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			e := parseError("POST /v3/message", tt.status, readFixture(t, tt.file))
			if e.Status != tt.status || e.Code != tt.code || e.Description != tt.desc || e.RequestID != tt.requestID {
				t.Errorf("got %+v", e)
			}
			if !strings.Contains(string(e.Data), tt.dataHas) {
				t.Errorf("Data = %s, want %s in it", e.Data, tt.dataHas)
			}
			if fmt.Sprint(e.Fields()) != fmt.Sprint(tt.fields) {
				t.Errorf("Fields() = %v, want %v", e.Fields(), tt.fields)
			}
			if Temporary(e) != tt.temporary || IsDuplicate(e) != tt.isDuplicate {
				t.Errorf("Temporary %v IsDuplicate %v", Temporary(e), IsDuplicate(e))
			}
			if !strings.Contains(e.Error(), tt.code) {
				t.Errorf("Error() = %q", e.Error())
			}
		})
	}
}

func TestParseErrorForms(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		code   string
		desc   string
		fields []string
	}{
		{"empty 401", 401, "", "UNAUTHORIZED", "", nil},
		{"empty 429", 429, "", "TOO_MANY_REQUESTS", "", nil},
		{"empty 500", 500, "  ", "INTERNAL_SERVER_ERROR", "", nil},
		{"unknown status", 599, "", "HTTP_599", "", nil},
		{"html", 502, "<html>bad gateway</html>", "BAD_GATEWAY", "<html>bad gateway</html>", nil},
		{"camelCase", 400, `{"error":"repeatedCrmMessageId","description":"You have already sent message with same crmMessageId"}`,
			"repeatedCrmMessageId", "You have already sent message with same crmMessageId", nil},
		{"nested iframe", 400, `{"error":{"code":"VALIDATION_ERROR","description":"bad","data":{"fields":["scope"]}}}`,
			"VALIDATION_ERROR", "bad", []string{"scope"}},
		{"contacts list", 400, `{"error":"INVALID_CONTACTS_DATA","data":[{"index":0,"fields":["name"]},{"index":3,"fields":["contactData"]}]}`,
			"INVALID_CONTACTS_DATA", "", []string{"name", "contactData"}},
		{"testPostNotPassed", 400, `{"error":"testPostNotPassed","description":"URI does not return 200 OK on test request","data":{"status":500}}`,
			"testPostNotPassed", "URI does not return 200 OK on test request", nil},
		{"code null", 404, `{"error":null}`, "NOT_FOUND", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := parseError("", tt.status, []byte(tt.body))
			if e.Code != tt.code || e.Description != tt.desc || fmt.Sprint(e.Fields()) != fmt.Sprint(tt.fields) {
				t.Errorf("got code %q desc %q fields %v", e.Code, e.Description, e.Fields())
			}
		})
	}
}

func TestIsDuplicateNormalises(t *testing.T) {
	for _, code := range []string{"REPEATED_CRM_MESSAGE_ID", "repeatedCrmMessageId", "repeated_crm_message_id"} {
		err := fmt.Errorf("job: %w", &Error{Status: 400, Code: code})
		if !IsDuplicate(err) {
			t.Errorf("IsDuplicate(%s) = false", code)
		}
	}
	if IsDuplicate(&Error{Status: 400, Code: "WRONG_TRANSPORT"}) || IsDuplicate(errors.New("REPEATED_CRM_MESSAGE_ID")) {
		t.Error("IsDuplicate is true for other errors")
	}
}

func TestTemporary(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{&Error{Status: 429}, true},
		{&Error{Status: 500}, true},
		{&Error{Status: 503}, true},
		{&Error{Status: 400, Code: "CHANNEL_NOT_FOUND"}, false},
		{&Error{Status: 401}, false},
		{&Error{Status: 403}, false},
		{fmt.Errorf("wrapped: %w", &Error{Status: 502}), true},
		{&url.Error{Op: "Post", URL: "x", Err: errors.New("connection refused")}, true},
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, true},
		{fmt.Errorf("read answer: %w", io.ErrUnexpectedEOF), true},
		{context.DeadlineExceeded, true},
		{errors.New("decode answer: invalid character"), false},
	}
	for _, tt := range tests {
		if got := Temporary(tt.err); got != tt.want {
			t.Errorf("Temporary(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestTransportTables(t *testing.T) {
	chat := map[string]string{"whatsapp": "whatsapp", "wapi": "whatsapp", "instagram": "instagram", "telegram": "telegram",
		"tgapi": "telegram", "vk": "vk", "avito": "avito", "viber": "viber", "max": "max", "maxbot": "max", "WhatsApp": "whatsapp",
		"sms": ""}
	for tr, want := range chat {
		if got := ChatTypeFor(tr); got != want {
			t.Errorf("ChatTypeFor(%q) = %q, want %q", tr, got, want)
		}
	}
	limits := map[string]int{"whatsapp": 10000, "instagram": 1000, "telegram": 4096, "tgapi": 4096, "wapi": 4096,
		"vk": 1000, "avito": 1000, "viber": 6999, "max": 4096, "unknown": 4096}
	for tr, want := range limits {
		if got := TextLimit(tr); got != want {
			t.Errorf("TextLimit(%q) = %d, want %d", tr, got, want)
		}
	}
	if TextLen("abc") != 3 || TextLen("привет") != 6 || TextLen("a😀") != 3 {
		t.Errorf("TextLen: %d %d %d", TextLen("abc"), TextLen("привет"), TextLen("a😀"))
	}
	if !ActiveState("Active") || ActiveState("qridle") || ActiveState("") {
		t.Error("ActiveState")
	}
}

func TestUnreadableSuccessIsTemporary(t *testing.T) {
	for _, body := range []string{`{"chatId":"1"}`, `not json`, `[]`} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(body))
		}))
		_, err := NewClient(srv.URL, "k", nil).Send(context.Background(), SendRequest{ChannelID: "c", ChatType: "whatsapp", ChatID: "1", Text: "x"})
		srv.Close()
		if !errors.Is(err, ErrUnreadableAnswer) || !Temporary(err) {
			t.Errorf("%s: %v", body, err)
		}
	}
}

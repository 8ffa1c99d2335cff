package app_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/placement"
)

type quickReply struct {
	ID    int64  `json:"id"`
	Title string `json:"title"`
	Text  string `json:"text"`
	Scope string `json:"scope"`
}

type quickReplyAnswer struct {
	QuickReply   quickReply   `json:"quick_reply"`
	QuickReplies []quickReply `json:"quick_replies"`
	Error        struct {
		Code string `json:"code"`
	} `json:"error"`
}

func (e *env) quickReplies(token string) string {
	e.t.Helper()
	var out quickReplyAnswer
	if s := e.api("GET", "/api/v1/quick-replies", token, nil, &out); s != http.StatusOK {
		e.t.Fatalf("listing quick replies: %d %+v", s, out)
	}
	var l []string
	for _, q := range out.QuickReplies {
		l = append(l, q.Scope+":"+q.Title+"="+q.Text)
	}
	return strings.Join(l, ",")
}

func (e *env) createQuickReply(token, scope, title, text string) quickReply {
	e.t.Helper()
	var out quickReplyAnswer
	if s := e.api("POST", "/api/v1/quick-replies", token, map[string]string{"title": title, "text": text, "scope": scope}, &out); s != http.StatusCreated {
		e.t.Fatalf("creating %s quick reply %q: %d %+v", scope, title, s, out)
	}
	return out.QuickReply
}

// Quick replies per contract §5.1: a user lists the portal's and his own;
// the portal's are the admins' to manage (403 to others); a colleague's own
// and another portal's are 404 to him, as if they did not exist.
func TestQuickRepliesAPI(t *testing.T) {
	e := newEnv(t)
	p := e.installedPortal()
	p.AddUser(b24test.User{ID: 3, Name: "Other", LastName: "Rep", Active: true, Departments: []int{1}})
	admin := e.session(p, placement.LeftMenu, nil, 1)
	rep := e.session(p, placement.LeftMenu, nil, 2)
	colleague := e.session(p, placement.LeftMenu, nil, 3)
	other := e.installedPortal()
	foreignAdmin := e.session(other, placement.LeftMenu, nil, 1)

	shared := e.createQuickReply(admin, "portal", "Часы работы", "Мы работаем с 9 до 18")
	mine := e.createQuickReply(rep, "personal", "Прощание", "До свидания!")
	theirs := e.createQuickReply(colleague, "personal", "Colleague's", "mine only")
	if shared.Scope != "portal" || mine.Scope != "personal" || mine.Text != "До свидания!" || mine.ID == 0 {
		t.Fatalf("created %+v and %+v", shared, mine)
	}
	if got, want := e.quickReplies(rep), "portal:Часы работы=Мы работаем с 9 до 18,personal:Прощание=До свидания!"; got != want {
		t.Errorf("the rep lists %s, want %s", got, want)
	}
	if got, want := e.quickReplies(colleague), "portal:Часы работы=Мы работаем с 9 до 18,personal:Colleague's=mine only"; got != want {
		t.Errorf("the colleague lists %s, want %s", got, want)
	}
	if got := e.quickReplies(foreignAdmin); got != "" {
		t.Errorf("another portal lists %s", got)
	}

	path := func(q quickReply) string { return fmt.Sprintf("/api/v1/quick-replies/%d", q.ID) }
	for _, c := range []struct {
		name, method, path, token string
		body                      any
		status                    int
		code                      string
	}{
		{"a rep creates a portal reply", "POST", "/api/v1/quick-replies", rep, map[string]string{"title": "t", "text": "x", "scope": "portal"}, 403, "admin_only"},
		{"a rep edits a portal reply", "PUT", path(shared), rep, map[string]string{"text": "changed"}, 403, "admin_only"},
		{"a rep deletes a portal reply", "DELETE", path(shared), rep, nil, 403, "admin_only"},
		{"editing a colleague's own", "PUT", path(theirs), rep, map[string]string{"text": "changed"}, 404, "quick_reply_not_found"},
		{"deleting a colleague's own", "DELETE", path(theirs), rep, nil, 404, "quick_reply_not_found"},
		{"an admin edits a rep's own", "PUT", path(mine), admin, map[string]string{"text": "changed"}, 404, "quick_reply_not_found"},
		{"another portal edits the portal's", "PUT", path(shared), foreignAdmin, map[string]string{"text": "changed"}, 404, "quick_reply_not_found"},
		{"another portal deletes the portal's", "DELETE", path(shared), foreignAdmin, nil, 404, "quick_reply_not_found"},
		{"no such id", "PUT", "/api/v1/quick-replies/999999", admin, map[string]string{"text": "x"}, 404, "quick_reply_not_found"},
		{"a bad id", "DELETE", "/api/v1/quick-replies/abc", admin, nil, 404, "quick_reply_not_found"},
		{"no scope", "POST", "/api/v1/quick-replies", rep, map[string]string{"title": "t", "text": "x"}, 400, "bad_scope"},
		{"an unknown field", "POST", "/api/v1/quick-replies", rep, map[string]string{"title": "t", "text": "x", "scope": "personal", "owner": "1"}, 400, "malformed_json"},
		{"no title", "POST", "/api/v1/quick-replies", rep, map[string]string{"title": " ", "text": "x", "scope": "personal"}, 400, "title_required"},
		{"no text", "POST", "/api/v1/quick-replies", rep, map[string]string{"title": "t", "text": "", "scope": "personal"}, 400, "text_required"},
		{"a long title", "POST", "/api/v1/quick-replies", rep, map[string]string{"title": strings.Repeat("я", 101), "text": "x", "scope": "personal"}, 400, "title_too_long"},
		{"a long text", "POST", "/api/v1/quick-replies", rep, map[string]string{"title": "t", "text": strings.Repeat("я", 4097), "scope": "personal"}, 400, "text_too_long"},
		{"an escape in the text", "POST", "/api/v1/quick-replies", rep, map[string]string{"title": "t", "text": "ok\x1b[31m", "scope": "personal"}, 400, "invalid_text"},
		{"a NUL in the title", "PUT", path(mine), rep, map[string]string{"title": "a\x00b"}, 400, "invalid_text"},
		{"a scope change", "PUT", path(mine), rep, map[string]string{"scope": "portal"}, 400, "scope_unchangeable"},
		{"an emptied text", "PUT", path(mine), rep, map[string]string{"text": "  "}, 400, "text_required"},
	} {
		var out quickReplyAnswer
		if s := e.api(c.method, c.path, c.token, c.body, &out); s != c.status || out.Error.Code != c.code {
			t.Errorf("%s: %d %q, want %d %q", c.name, s, out.Error.Code, c.status, c.code)
		}
	}
	if got, want := e.quickReplies(colleague), "portal:Часы работы=Мы работаем с 9 до 18,personal:Colleague's=mine only"; got != want {
		t.Errorf("after the refused changes the colleague lists %s", got)
	}

	// The owner and the admins change what is theirs.
	var out quickReplyAnswer
	if s := e.api("PUT", path(mine), rep, map[string]string{"title": " Пока "}, &out); s != http.StatusOK ||
		out.QuickReply.Title != "Пока" || out.QuickReply.Text != "До свидания!" || out.QuickReply.Scope != "personal" {
		t.Errorf("the rep renames his own: %d %+v", s, out)
	}
	if s := e.api("PUT", path(shared), admin, map[string]string{"title": "Часы", "text": "9–18\nбез выходных"}, &out); s != http.StatusOK {
		t.Errorf("the admin edits the portal's: %d %+v", s, out)
	}
	if s := e.api("DELETE", path(theirs), colleague, nil, nil); s != http.StatusNoContent {
		t.Errorf("the colleague deletes his own: %d", s)
	}
	if got, want := e.quickReplies(rep), "portal:Часы=9–18\nбез выходных,personal:Пока=До свидания!"; got != want {
		t.Errorf("the rep lists %s, want %s", got, want)
	}
	if s := e.api("DELETE", path(shared), admin, nil, nil); s != http.StatusNoContent {
		t.Errorf("the admin deletes the portal's: %d", s)
	}
	if s := e.api("DELETE", path(shared), admin, nil, nil); s != http.StatusNotFound {
		t.Errorf("deleting it again: %d", s)
	}
	if got := e.quickReplies(colleague); got != "" {
		t.Errorf("at the end the colleague lists %s", got)
	}
}

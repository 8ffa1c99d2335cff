package store_test

import (
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
)

func personal(portalID, userID int64, title, text string) *store.QuickReply {
	return &store.QuickReply{PortalID: portalID, UserID: sql.NullInt64{Int64: userID, Valid: true}, Title: title, Text: text}
}

func titles(qs []store.QuickReply) string {
	var out []string
	for _, q := range qs {
		out = append(out, q.Scope()+":"+q.Title)
	}
	return strings.Join(out, ",")
}

// A user's list is the portal's quick replies, then his own, each by title;
// a colleague's own and another portal's are neither listed nor found, and
// cannot be changed or deleted through another portal or owner.
func TestQuickRepliesScopesAndIsolation(t *testing.T) {
	l := newLab(t)
	p, other := l.portal("qr-a"), l.portal("qr-b")
	for _, u := range []int64{1, 2} {
		l.user(p, u, u == 1, true)
		l.user(other, u, u == 1, true)
	}
	shared := &store.QuickReply{PortalID: p, Title: "Hours", Text: "We are open 9-18"}
	mine := personal(p, 2, "bye", "Bye!")
	colleague := personal(p, 1, "Admin's own", "secret")
	foreign := &store.QuickReply{PortalID: other, Title: "Other portal", Text: "x"}
	for _, q := range []*store.QuickReply{shared, mine, colleague, foreign,
		{PortalID: p, Title: "Address", Text: "Main st. 1"}} {
		if err := l.s.CreateQuickReply(l.ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	got, err := l.s.QuickReplies(l.ctx, p, 2)
	if err != nil {
		t.Fatal(err)
	}
	if s := titles(got); s != "portal:Address,portal:Hours,personal:bye" {
		t.Errorf("user 2 lists %s", s)
	}
	if q, err := l.s.QuickReply(l.ctx, p, 2, mine.ID); err != nil || q.Text != "Bye!" || q.Scope() != store.ScopePersonal {
		t.Errorf("own reply: %+v %v", q, err)
	}
	if q, err := l.s.QuickReply(l.ctx, p, 2, shared.ID); err != nil || q.Scope() != store.ScopePortal {
		t.Errorf("portal's reply: %+v %v", q, err)
	}
	for name, c := range map[string]struct{ portal, user, id int64 }{
		"a colleague's own":          {p, 2, colleague.ID},
		"another portal's":           {p, 2, foreign.ID},
		"own, asked on other portal": {other, 2, mine.ID},
	} {
		if _, err := l.s.QuickReply(l.ctx, c.portal, c.user, c.id); !isReason(err, problem.NotFound, "quick_reply_not_found") {
			t.Errorf("%s: %v, want quick_reply_not_found", name, err)
		}
	}
	// Update and delete look for the reply in its portal and owner only.
	wrong := []store.QuickReply{
		{ID: mine.ID, PortalID: other, UserID: mine.UserID, Title: "t", Text: "t"},
		{ID: mine.ID, PortalID: p, UserID: sql.NullInt64{Int64: 1, Valid: true}, Title: "t", Text: "t"},
		{ID: mine.ID, PortalID: p, Title: "t", Text: "t"},
	}
	for _, w := range wrong {
		if err := l.s.UpdateQuickReply(l.ctx, w); !problem.Is(err, problem.NotFound) {
			t.Errorf("update %+v: %v", w, err)
		}
		if err := l.s.DeleteQuickReply(l.ctx, w); !problem.Is(err, problem.NotFound) {
			t.Errorf("delete %+v: %v", w, err)
		}
	}
	mine.Title, mine.Text = "Bye", "Goodbye!"
	if err := l.s.UpdateQuickReply(l.ctx, *mine); err != nil {
		t.Fatal(err)
	}
	if q, err := l.s.QuickReply(l.ctx, p, 2, mine.ID); err != nil || q.Title != "Bye" || q.Text != "Goodbye!" {
		t.Errorf("after update: %+v %v", q, err)
	}
	if err := l.s.DeleteQuickReply(l.ctx, *shared); err != nil {
		t.Fatal(err)
	}
	if got, _ := l.s.QuickReplies(l.ctx, p, 2); titles(got) != "portal:Address,personal:Bye" {
		t.Errorf("after delete: %s", titles(got))
	}
	if got, _ := l.s.QuickReplies(l.ctx, other, 2); titles(got) != "portal:Other portal" {
		t.Errorf("other portal lists %s", titles(got))
	}
}

// Each scope holds at most QuickRepliesMax, also when many are created at
// once; a full scope does not stop another.
func TestQuickRepliesLimit(t *testing.T) {
	l := newLab(t)
	p := l.portal("qr-limit")
	l.user(p, 2, false, true)
	for i := 0; i < store.QuickRepliesMax-5; i++ {
		if err := l.s.CreateQuickReply(l.ctx, &store.QuickReply{PortalID: p, Title: fmt.Sprint(i), Text: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- l.s.CreateQuickReply(l.ctx, &store.QuickReply{PortalID: p, Title: "more", Text: "x"})
		}()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case !isReason(err, problem.Conflict, "too_many_quick_replies"):
			t.Errorf("creating past the limit: %v", err)
		}
	}
	if ok != 5 {
		t.Errorf("%d created at once, want 5", ok)
	}
	if err := l.s.CreateQuickReply(l.ctx, personal(p, 2, "own", "x")); err != nil {
		t.Errorf("a personal one with the portal's scope full: %v", err)
	}
}

func TestQuickReplyValidate(t *testing.T) {
	for _, c := range []struct {
		title, text, reason string
	}{
		{"Hi", "Hello", ""},
		{strings.Repeat("я", store.QuickReplyTitleMax), strings.Repeat("ж", store.QuickReplyTextMax), ""},
		{"  ", "x", "title_required"},
		{strings.Repeat("я", store.QuickReplyTitleMax+1), "x", "title_too_long"},
		{"two\nlines", "x", "invalid_text"},
		{"t", " \n ", "text_required"},
		{"t", strings.Repeat("ж", store.QuickReplyTextMax+1), "text_too_long"},
	} {
		q := store.QuickReply{Title: c.title, Text: c.text}
		q.Normalize()
		err := q.Validate()
		if (c.reason == "") != (err == nil) || (err != nil && !isReason(err, problem.Invalid, c.reason)) {
			t.Errorf("%q/%q: %v, want %q", c.title, c.text, err, c.reason)
		}
	}
}

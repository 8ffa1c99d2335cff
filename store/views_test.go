package store_test

import (
	"encoding/base64"
	"fmt"
	"slices"
	"testing"

	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
)

// The general chat lists unanswered dialogs first, each group by its last
// message newest first (dialogs without messages last), ties broken by id;
// the `after` cursor pages through that order with no duplicate and no gap
// whatever the page size, also across equal times, and the last page has no
// next cursor. Another portal's dialogs never appear.
func TestListDialogsOrderAndPaging(t *testing.T) {
	l := newLab(t)
	p := l.portal("list")
	other := l.portal("list-other")
	ch := l.channel(p, "whatsapp")
	named := map[string]int64{}
	open := func(name string) *store.Dialog {
		d := l.dialog(p, ch, 0, 0)
		named[name] = d.ID
		return d
	}
	// Created in this order, so a later name has a larger id.
	d := open("u1")
	l.msg(d, "in", "inbound", 10)
	d = open("u2") // ties with u1
	l.msg(d, "in", "inbound", 10)
	d = open("u3")
	l.msg(d, "in", "inbound", 5)
	d = open("u4") // answered once, then written again
	l.msg(d, "out", "sent", 1)
	l.msg(d, "in", "inbound", 8)
	d = open("a1")
	l.msg(d, "in", "inbound", 3)
	l.msg(d, "out", "sent", 12)
	d = open("a2") // ties with a1
	l.msg(d, "out", "sent", 12)
	d = open("a3")
	l.msg(d, "in", "inbound", 2)
	l.msg(d, "out", "sent", 4)
	d = open("a4") // the newest message, but no reply needed
	_, d = l.msg(d, "in", "inbound", 20)
	l.noReply(d, 21)
	open("e1") // no messages
	open("e2")
	// Another portal's waiting dialog, newer than all of them.
	od := l.dialog(other, l.channel(other, "whatsapp"), 0, 0)
	l.msg(od, "in", "inbound", 30)

	var want []int64
	for _, n := range []string{"u2", "u1", "u4", "u3", "a4", "a2", "a1", "a3", "e2", "e1"} {
		want = append(want, named[n])
	}
	name := func(ids []int64) []string {
		var out []string
		for _, id := range ids {
			n := fmt.Sprint(id)
			for k, v := range named {
				if v == id {
					n = k
				}
			}
			out = append(out, n)
		}
		return out
	}
	for _, limit := range []int{1, 2, 3, 4, 5, 9, 10, 11, 200} {
		var got []int64
		after, pages := "", 0
		for {
			page, next, err := l.s.ListDialogs(l.ctx, p, store.DialogFilter{Limit: limit, After: after})
			if err != nil {
				t.Fatalf("limit %d: %v", limit, err)
			}
			pages++
			if len(page) > limit {
				t.Fatalf("limit %d: a page of %d", limit, len(page))
			}
			got = append(got, viewIDs(page)...)
			if next == "" {
				break
			}
			if pages > len(want)+1 {
				t.Fatalf("limit %d: paging does not end", limit)
			}
			after = next
		}
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: order %v, want %v", limit, name(got), name(want))
		}
		if wantPages := (len(want) + limit - 1) / limit; pages != wantPages {
			t.Errorf("limit %d: %d pages, want %d (the last full page must not promise another)", limit, pages, wantPages)
		}
	}
}

// A dialog list's first page can carry the capped count of waiting dialogs
// the same filter shows; CountUnanswered counts them alone. Past MaxCounted
// the count stops at MaxCounted+1 (the page shows "99+").
func TestCountUnansweredCapped(t *testing.T) {
	l := newLab(t)
	p := l.portal("count")
	other := l.portal("count-other")
	chA, chB := l.channel(p, "whatsapp"), l.channel(p, "instagram")
	waitOn := func(portal, ch int64, n int) {
		for range n {
			d := l.dialog(portal, ch, 0, 0)
			l.msg(d, "in", "inbound", 1)
		}
	}
	waitOn(p, chB, 3)
	answered := l.dialog(p, chA, 0, 0)
	l.msg(answered, "in", "inbound", 1)
	l.msg(answered, "out", "sent", 2)
	waitOn(other, l.channel(other, "whatsapp"), 5)

	onA := store.DialogFilter{Visible: &store.Visibility{All: true, Channels: []int64{chA}}}
	onB := store.DialogFilter{Visible: &store.Visibility{All: true, Channels: []int64{chB}}}
	count := func(f store.DialogFilter) int {
		t.Helper()
		n, err := l.s.CountUnanswered(l.ctx, p, f)
		if err != nil {
			t.Fatal(err)
		}
		f.CountWaiting, f.Limit = true, 1
		page, _, err := l.s.ListDialogs(l.ctx, p, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 0 && (!page[0].Waiting.Valid || int(page[0].Waiting.Int64) != n) {
			t.Errorf("the first page's waiting count %v, CountUnanswered %d", page[0].Waiting, n)
		}
		return n
	}
	for _, c := range []struct {
		name string
		f    store.DialogFilter
		want int
	}{
		{"all", store.DialogFilter{}, 3},
		{"channel without waiting dialogs", onA, 0},
		{"channel with them", onB, 3},
		{"nothing visible", store.DialogFilter{Visible: &store.Visibility{}}, 0},
	} {
		if got := count(c.f); got != c.want {
			t.Errorf("%s: %d waiting, want %d", c.name, got, c.want)
		}
	}
	waitOn(p, chA, store.MaxCounted+4)
	if got := count(store.DialogFilter{}); got != store.MaxCounted+1 {
		t.Errorf("with %d waiting: count %d, want the cap %d", store.MaxCounted+7, got, store.MaxCounted+1)
	}
	if got := count(onB); got != 3 {
		t.Errorf("a filter under the cap: %d, want 3", got)
	}
}

// History pages back from the newest message: the first page is the newest,
// each page runs oldest to newest, the `before` cursor yields no duplicate
// and no gap (also across messages of the same instant), and the oldest page
// has no cursor. A contact's history spans all his dialogs, in time order.
func TestHistoryPaging(t *testing.T) {
	l := newLab(t)
	p := l.portal("history")
	ch := l.channel(p, "whatsapp")
	d1, d2 := l.dialog(p, ch, 0, 0), l.dialog(p, ch, 0, 0)
	other := l.dialog(p, ch, 0, 0)
	var all []int64 // d1 and d2 in time order
	var only1 []int64
	add := func(d *store.Dialog, dir, status string, minute int) {
		m, _ := l.msg(d, dir, status, minute)
		if d.ID != other.ID {
			all = append(all, m.ID)
		}
		if d.ID == d1.ID {
			only1 = append(only1, m.ID)
		}
	}
	// In provider-time order; several share an instant.
	add(d1, "in", "inbound", 1)
	add(d1, "out", "read", 2)
	add(d2, "in", "inbound", 3)
	add(d1, "in", "inbound", 3)
	add(d1, "in", "inbound", 3)
	add(d2, "out", "sent", 4)
	add(other, "in", "inbound", 4)
	add(d1, "in", "inbound", 5)
	add(d1, "out", "pending", 6)
	add(d2, "in", "inbound", 6)
	add(d1, "in", "inbound", 7)
	// Out of order: an earlier message filed last.
	add(d2, "in", "inbound", 0)
	all = append([]int64{all[len(all)-1]}, all[:len(all)-1]...)

	for _, c := range []struct {
		name    string
		dialogs []int64
		want    []int64
	}{
		{"one dialog", []int64{d1.ID}, only1},
		{"a contact's dialogs", []int64{d1.ID, d2.ID}, all},
	} {
		for _, limit := range []int{1, 2, 3, 7, 50} {
			var pages [][]int64
			before := ""
			for {
				page, next, err := l.s.History(l.ctx, p, c.dialogs, before, limit)
				if err != nil {
					t.Fatal(err)
				}
				var ids []int64
				for i, m := range page {
					ids = append(ids, m.ID)
					if i > 0 && m.SentAt.Before(page[i-1].SentAt) {
						t.Errorf("%s, limit %d: a page not oldest to newest", c.name, limit)
					}
				}
				pages = append(pages, ids)
				if next == "" {
					break
				}
				if len(pages) > len(c.want)+1 {
					t.Fatalf("%s, limit %d: paging does not end", c.name, limit)
				}
				before = next
			}
			var got []int64
			for i := len(pages) - 1; i >= 0; i-- {
				got = append(got, pages[i]...)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("%s, limit %d: pages %v, want (oldest first) %v", c.name, limit, pages, c.want)
			}
			if n := len(c.want) % limit; n != 0 && len(pages[len(pages)-1]) != n {
				t.Errorf("%s, limit %d: the oldest page holds %d, want the %d left over", c.name, limit, len(pages[len(pages)-1]), n)
			}
		}
	}
}

// Cursors are only the server's own: anything else is 400 bad_cursor, not a
// database error.
func TestCursorsRefused(t *testing.T) {
	l := newLab(t)
	p := l.portal("cursor")
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, c := range []string{"garbage!", enc("1:1"), enc("2:1:1"), enc("1:x:1"), enc("1:1:"), enc("1:1:1:1")} {
		if _, _, err := l.s.ListDialogs(l.ctx, p, store.DialogFilter{After: c}); !isReason(err, problem.Invalid, "bad_cursor") {
			t.Errorf("dialog cursor %q: %v, want bad_cursor", c, err)
		}
	}
	for _, c := range []string{"garbage!", enc("1"), enc("x:1"), enc("1:"), enc("1:1:1")} {
		if _, _, err := l.s.History(l.ctx, p, []int64{1}, c, 10); !isReason(err, problem.Invalid, "bad_cursor") {
			t.Errorf("message cursor %q: %v, want bad_cursor", c, err)
		}
	}
}

func isReason(err error, code problem.Code, reason string) bool {
	pe, ok := problem.As(err)
	return ok && pe.Code == code && pe.Reason == reason
}

// The individual chat's contacts: a contact card is its own contact; a
// deal's are its linked contacts, the primary first; a lead's is its
// contact. A card the portal has without contacts is an empty chat; a card
// it does not have (or another portal has) is 404 entity_not_found.
func TestEntityContacts(t *testing.T) {
	l := newLab(t)
	p := l.portal("cards")
	other := l.portal("cards-other")
	l.contacts(p, map[int64]int64{1: 0, 2: 0, 3: 0})
	l.contacts(other, map[int64]int64{50: 0})
	if err := l.s.UpsertDeals(l.ctx, p, []store.Deal{
		{ID: 10, Title: "two contacts", ContactID: 3, ContactIDs: []int64{3, 1}},
		{ID: 11, Title: "no contacts"},
	}, nil); err != nil {
		t.Fatal(err)
	}
	if err := l.s.UpsertDeals(l.ctx, other, []store.Deal{{ID: 60, ContactID: 50, ContactIDs: []int64{50}}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := l.s.UpsertLeads(l.ctx, p, []store.Lead{{ID: 20, Title: "with contact", ContactID: 2}, {ID: 21, Title: "bare"}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := l.s.UpsertLeads(l.ctx, other, []store.Lead{{ID: 70, ContactID: 50}}, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		entity string
		id     int64
		want   []int64 // nil: 404
	}{
		{"contact", 2, []int64{2}},
		{"contact", 99, nil},
		{"contact", 50, nil},
		{"deal", 10, []int64{3, 1}},
		{"deal", 11, []int64{}},
		{"deal", 99, nil},
		{"deal", 60, nil},
		{"lead", 20, []int64{2}},
		{"lead", 21, []int64{}},
		{"lead", 99, nil},
		{"lead", 70, nil},
	} {
		rows, err := l.s.EntityContacts(l.ctx, p, c.entity, c.id)
		if c.want == nil {
			if !isReason(err, problem.NotFound, "entity_not_found") {
				t.Errorf("%s %d: %v, %v; want entity_not_found", c.entity, c.id, rows, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %d: %v", c.entity, c.id, err)
			continue
		}
		got := []int64{}
		for _, r := range rows {
			got = append(got, r.ID)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s %d: contacts %v, want %v", c.entity, c.id, got, c.want)
		}
	}
	if _, err := l.s.EntityContacts(l.ctx, p, "company", 1); !isReason(err, problem.Invalid, "bad_entity_type") {
		t.Errorf("entity company: %v, want bad_entity_type", err)
	}
}

// Bitrix24 ids are per portal: two portals have a contact 7, a user 7 and
// so on. A query for portal A never returns or touches portal B's rows.
func TestPortalIsolation(t *testing.T) {
	l := newLab(t)
	a, b := l.portal("iso-a"), l.portal("iso-b")
	chA, chB := l.channel(a, "whatsapp"), l.channel(b, "whatsapp")
	for _, p := range []int64{a, b} {
		l.user(p, 7, false, true, 1)
		l.contacts(p, map[int64]int64{7: 7})
		if err := l.s.ReplaceDepartments(l.ctx, p, []store.Department{{ID: 1, Name: "dep", HeadID: nullInt(7)}}); err != nil {
			t.Fatal(err)
		}
	}
	dA := l.dialog(a, chA, 7, 7)
	mA, _ := l.msg(dA, "in", "inbound", 1)
	dB := l.dialog(b, chB, 7, 7)
	mB, _ := l.msg(dB, "in", "inbound", 2)

	list, _, err := l.s.ListDialogs(l.ctx, a, store.DialogFilter{ContactIDs: []int64{7}})
	if err != nil || !slices.Equal(viewIDs(list), []int64{dA.ID}) {
		t.Errorf("ListDialogs of A: %v, %v; want only %d", viewIDs(list), err, dA.ID)
	}
	if n, err := l.s.CountUnanswered(l.ctx, a, store.DialogFilter{}); err != nil || n != 1 {
		t.Errorf("CountUnanswered of A: %d, %v; want 1", n, err)
	}
	if _, err := l.s.DialogByID(l.ctx, a, dB.ID); !problem.Is(err, problem.NotFound) {
		t.Errorf("DialogByID(A, B's dialog): %v, want NotFound", err)
	}
	if _, err := l.s.DialogView(l.ctx, a, dB.ID); !problem.Is(err, problem.NotFound) {
		t.Errorf("DialogView(A, B's dialog): %v, want NotFound", err)
	}
	if _, err := l.s.MessageViewByID(l.ctx, a, mB.ID); !problem.Is(err, problem.NotFound) {
		t.Errorf("MessageViewByID(A, B's message): %v, want NotFound", err)
	}
	if _, err := l.s.ChannelByID(l.ctx, a, chB); !problem.Is(err, problem.NotFound) {
		t.Errorf("ChannelByID(A, B's channel): %v, want NotFound", err)
	}
	hist, _, err := l.s.History(l.ctx, a, []int64{dA.ID, dB.ID}, "", 50)
	if err != nil || len(hist) != 1 || hist[0].ID != mA.ID {
		t.Errorf("History of A over both dialogs: %d messages, %v; want only A's", len(hist), err)
	}
	for _, c := range []struct {
		name string
		got  func() ([]int64, error)
		want []int64
	}{
		{"DialogIDsOfContact", func() ([]int64, error) { return l.s.DialogIDsOfContact(l.ctx, a, 7) }, []int64{dA.ID}},
		{"FilterDialogsOfContact", func() ([]int64, error) {
			return l.s.FilterDialogsOfContact(l.ctx, a, 7, store.Visibility{All: true})
		}, []int64{dA.ID}},
		{"HeadedDepartments", func() ([]int64, error) { return l.s.HeadedDepartments(l.ctx, a, 7) }, []int64{1}},
		{"UsersInDepartments", func() ([]int64, error) { return l.s.UsersInDepartments(l.ctx, a, []int64{1}) }, []int64{7}},
		{"DepartmentSubtree", func() ([]int64, error) { return l.s.DepartmentSubtree(l.ctx, a, []int64{1}) }, []int64{1}},
		{"Receivers", func() ([]int64, error) { return l.s.Receivers(l.ctx, a) }, []int64{7}},
	} {
		got, err := c.got()
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s of A: %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	users, err := l.s.ActiveUsers(l.ctx, a)
	if err != nil || len(users) != 1 || users[0].PortalID != a {
		t.Errorf("ActiveUsers of A: %+v, %v", users, err)
	}
	// Writing to A's mirror leaves B's dialogs with their responsible.
	l.contacts(a, map[int64]int64{7: 8})
	if got, _ := l.s.DialogByID(l.ctx, b, dB.ID); got.ResponsibleID.Int64 != 7 {
		t.Errorf("B's dialog followed A's contact to user %d", got.ResponsibleID.Int64)
	}
	if got, _ := l.s.DialogByID(l.ctx, a, dA.ID); got.ResponsibleID.Int64 != 8 {
		t.Errorf("A's dialog did not follow its contact: responsible %d, want 8", got.ResponsibleID.Int64)
	}
}

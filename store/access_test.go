package store_test

import (
	"database/sql"
	"slices"
	"testing"
	"time"

	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
)

// Without a stored rule an administrator sees and writes everything and
// receives no new clients; anyone else sees his own clients and receives new
// ones. A stored rule is read back as saved, and its channel list keeps the
// difference between "all channels" (nil) and "no channel" (empty).
func TestAccessDefaultsAndRoundTrip(t *testing.T) {
	l := newLab(t)
	p := l.portal("access")
	admin := &store.User{PortalID: p, ID: 1, IsAdmin: true, Active: true}
	member := &store.User{PortalID: p, ID: 2, Active: true}
	for _, c := range []struct {
		u    *store.User
		want store.Access
	}{
		{admin, store.Access{Visibility: "all", CanWrite: true, ReceivesNewClients: false, Notify: true}},
		{member, store.Access{Visibility: "own", CanWrite: true, ReceivesNewClients: true, Notify: true}},
	} {
		got, err := l.s.AccessOf(l.ctx, p, c.u)
		if err != nil {
			t.Fatal(err)
		}
		if got.Visibility != c.want.Visibility || got.CanWrite != c.want.CanWrite || got.ReceivesNewClients != c.want.ReceivesNewClients ||
			got.ChannelIDs != nil || got.Explicit {
			t.Errorf("user %d (admin %v): default %+v, want %+v with all channels", c.u.ID, c.u.IsAdmin, got, c.want)
		}
	}
	for _, c := range []struct {
		name string
		a    store.Access
	}{
		{"quality controller", store.Access{Visibility: "all", CanWrite: false}},
		{"all channels", store.Access{Visibility: "department", CanWrite: true, ReceivesNewClients: true, ChannelIDs: nil, Notify: true}},
		{"no channel", store.Access{Visibility: "own", CanWrite: true, ChannelIDs: []int64{}}},
		{"some channels", store.Access{Visibility: "none", ChannelIDs: []int64{3, 5}}},
	} {
		if err := l.s.SaveAccess(l.ctx, p, admin.ID, c.a); err != nil {
			t.Fatal(err)
		}
		got, err := l.s.AccessOf(l.ctx, p, admin)
		if err != nil {
			t.Fatal(err)
		}
		if got.Visibility != c.a.Visibility || got.CanWrite != c.a.CanWrite || got.ReceivesNewClients != c.a.ReceivesNewClients ||
			got.Notify != c.a.Notify || !got.Explicit || (got.ChannelIDs == nil) != (c.a.ChannelIDs == nil) || !slices.Equal(got.ChannelIDs, c.a.ChannelIDs) {
			t.Errorf("%s: saved %+v, read %+v", c.name, c.a, got)
		}
	}
}

func TestAccessValidate(t *testing.T) {
	for v, ok := range map[string]bool{"all": true, "department": true, "own": true, "none": true, "": false, "ALL": false, "everyone": false} {
		err := store.Access{Visibility: v}.Validate()
		if ok != (err == nil) {
			t.Errorf("visibility %q: %v", v, err)
		}
		if !ok && !isReason(err, problem.Invalid, "bad_visibility") {
			t.Errorf("visibility %q: %v, want bad_visibility", v, err)
		}
	}
}

// Each department's path runs from the root to it; the portal's data is not
// trusted to be a tree (a missing parent starts a path, a cycle ends it), a
// department no longer listed goes, and a subtree is a department and all
// below it.
func TestDepartmentPathsAndSubtrees(t *testing.T) {
	l := newLab(t)
	p := l.portal("deps")
	deps := []store.Department{
		{ID: 1, Name: "Company"},
		{ID: 2, Name: "Sales", ParentID: nullInt(1)},
		{ID: 3, Name: "North", ParentID: nullInt(2)},
		{ID: 4, Name: "Support", ParentID: nullInt(1)},
		{ID: 5, Name: "Orphan", ParentID: nullInt(6)},
		{ID: 7, Name: "Loop A", ParentID: nullInt(8)},
		{ID: 8, Name: "Loop B", ParentID: nullInt(7)},
		{ID: 9, Name: "Under orphan", ParentID: nullInt(5)},
	}
	if err := l.s.ReplaceDepartments(l.ctx, p, deps); err != nil {
		t.Fatal(err)
	}
	paths := func() map[int64][]int64 {
		got, err := l.s.Departments(l.ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		out := map[int64][]int64{}
		for _, d := range got {
			out[d.ID] = []int64(d.Path)
		}
		return out
	}
	got := paths()
	for id, want := range map[int64][]int64{1: {1}, 2: {1, 2}, 3: {1, 2, 3}, 4: {1, 4}, 5: {5}, 9: {5, 9}, 7: {8, 7}, 8: {7, 8}} {
		if !slices.Equal(got[id], want) {
			t.Errorf("department %d: path %v, want %v", id, got[id], want)
		}
	}
	for _, c := range []struct {
		of, want []int64
	}{
		{[]int64{1}, []int64{1, 2, 3, 4}},
		{[]int64{2}, []int64{2, 3}},
		{[]int64{3}, []int64{3}},
		{[]int64{3, 4}, []int64{3, 4}},
		{[]int64{5}, []int64{5, 9}},
		{[]int64{42}, nil},
		{nil, nil},
	} {
		sub, err := l.s.DepartmentSubtree(l.ctx, p, c.of)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sub, c.want) {
			t.Errorf("subtree of %v: %v, want %v", c.of, sub, c.want)
		}
	}
	// Sales moves under Support; North follows; Orphan is no longer listed.
	deps = []store.Department{{ID: 1}, {ID: 4, ParentID: nullInt(1)}, {ID: 2, ParentID: nullInt(4)}, {ID: 3, ParentID: nullInt(2)}}
	if err := l.s.ReplaceDepartments(l.ctx, p, deps); err != nil {
		t.Fatal(err)
	}
	got = paths()
	if len(got) != 4 || !slices.Equal(got[3], []int64{1, 4, 2, 3}) {
		t.Errorf("after the move: %v", got)
	}
}

// The heads over a user are the heads of his departments or, where he heads
// one himself, the nearest head above it.
func TestUserHeads(t *testing.T) {
	l := newLab(t)
	p := l.portal("heads")
	if err := l.s.ReplaceDepartments(l.ctx, p, []store.Department{
		{ID: 1, HeadID: nullInt(10)},
		{ID: 2, ParentID: nullInt(1), HeadID: nullInt(20)},
		{ID: 3, ParentID: nullInt(2)}, // no head
		{ID: 4, ParentID: nullInt(2), HeadID: nullInt(40)},
	}); err != nil {
		t.Fatal(err)
	}
	users := map[int64][]int64{10: {1}, 20: {2}, 31: {3}, 40: {4}, 41: {4, 3}, 42: {4}, 99: nil}
	for id, deps := range users {
		l.user(p, id, false, true, deps...)
	}
	for id, want := range map[int64][]int64{10: nil, 20: {10}, 31: {20}, 40: {20}, 41: {20, 40}, 42: {40}, 99: nil} {
		got, err := l.s.UserHeads(l.ctx, p, id)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("heads over user %d (departments %v): %v, want %v", id, users[id], got, want)
		}
	}
}

// Receivers of new clients are the active employees whose rule says so
// (by default everyone but the administrators) and who see anything at all.
func TestReceivers(t *testing.T) {
	l := newLab(t)
	p := l.portal("receivers")
	l.user(p, 1, true, true)  // admin, default: no
	l.user(p, 2, false, true) // default: yes
	l.user(p, 3, false, true) // explicit no
	l.user(p, 4, false, true) // receives but sees nothing
	l.user(p, 5, false, false)
	l.user(p, 6, true, true) // admin who receives
	l.user(p, 8, false, true)
	if err := l.s.UpsertSyncedUsers(l.ctx, p, []store.SyncedUser{{ID: 7, Name: "extranet guest", Active: true, UserType: "extranet"}}); err != nil {
		t.Fatal(err)
	}
	for id, a := range map[int64]store.Access{
		3: {Visibility: "own", CanWrite: true, ReceivesNewClients: false},
		4: {Visibility: "none", ReceivesNewClients: true},
		5: {Visibility: "all", ReceivesNewClients: true},
		6: {Visibility: "all", CanWrite: true, ReceivesNewClients: true},
		8: {Visibility: "department", CanWrite: false, ReceivesNewClients: true},
	} {
		if err := l.s.SaveAccess(l.ctx, p, id, a); err != nil {
			t.Fatal(err)
		}
	}
	got, err := l.s.Receivers(l.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{2, 6, 8}; !slices.Equal(got, want) {
		t.Errorf("receivers %v, want %v", got, want)
	}
}

// A client's dialogs follow his responsible person in the CRM (so who sees
// them changes at once), except a dialog waiting for its first taker; a
// deactivated employee's dialogs are freed for those who receive new
// clients.
func TestResponsibleFollowsTheCRM(t *testing.T) {
	l := newLab(t)
	p := l.portal("follow")
	ch := l.channel(p, "whatsapp")
	l.user(p, 1, false, true)
	l.user(p, 2, false, true)
	l.user(p, 3, false, true)
	l.contacts(p, map[int64]int64{100: 1, 101: 1})
	follows := l.dialog(p, ch, 100, 1)
	waiting := l.dialog(p, ch, 0, 0)
	err := l.s.Tx(l.ctx, func(tx *store.Store) error {
		return tx.ResolveDialog(l.ctx, waiting.ID, 101, 0, 0, 1, true)
	})
	if err != nil {
		t.Fatal(err)
	}
	other := l.dialog(p, ch, 0, 3)
	responsible := func(d *store.Dialog) sql.NullInt64 {
		got, err := l.s.DialogByID(l.ctx, p, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.ResponsibleID
	}
	if r := responsible(waiting); r.Valid {
		t.Fatalf("a dialog awaiting its taker has responsible %d", r.Int64)
	}
	l.contacts(p, map[int64]int64{100: 2, 101: 2})
	if r := responsible(follows); r.Int64 != 2 {
		t.Errorf("the dialog did not follow its contact to user 2: %v", r)
	}
	if r := responsible(waiting); r.Valid {
		t.Errorf("a dialog awaiting its taker was given to %d", r.Int64)
	}
	// A contact left with nobody responsible keeps the dialog's.
	l.contacts(p, map[int64]int64{100: 0})
	if r := responsible(follows); r.Int64 != 2 {
		t.Errorf("a contact without responsible took the dialog from user 2: %v", r)
	}
	if err := l.s.DeactivateUsersNotIn(l.ctx, p, []int64{1, 3}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if r := responsible(follows); r.Valid {
		t.Errorf("the deactivated user 2 still holds the dialog")
	}
	if r := responsible(other); r.Int64 != 3 {
		t.Errorf("an active user's dialog was freed: %v", r)
	}
	u, err := l.s.UserByID(l.ctx, p, 2)
	if err != nil || u.Active {
		t.Errorf("user 2 after DeactivateUsersNotIn: %+v, %v", u, err)
	}
	// An employee written after the listing began (he joined and opened
	// relay24 meanwhile) is not taken for a former one.
	listed := time.Now().Add(-time.Minute)
	if err := l.s.UpsertUser(l.ctx, store.User{PortalID: p, ID: 7, Name: "Newcomer", Active: true}); err != nil {
		t.Fatal(err)
	}
	if err := l.s.DeactivateUsersNotIn(l.ctx, p, []int64{1, 3}, listed); err != nil {
		t.Fatal(err)
	}
	if u, err := l.s.UserByID(l.ctx, p, 7); err != nil || !u.Active {
		t.Errorf("a user written after the listing began was deactivated: %+v, %v", u, err)
	}
}

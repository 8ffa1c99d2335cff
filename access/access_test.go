package access_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/relay24/relay24/access"
	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/store/storetest"
)

// company is a portal seeded through the store as the sync and the relay
// write it:
//
//	1 Company (head 10)
//	├── 2 Sales (head 20)
//	│   └── 3 North (head 50, who is a member of Support, not of North)
//	└── 4 Support (head 40)
//
// and dialogs on two channels, each with its responsible employee.
type company struct {
	t        *testing.T
	ctx      context.Context
	s        *store.Store
	rules    *access.Rules
	portal   int64
	other    int64 // a second portal with the same employee ids
	chA, chB int64
	users    map[int64]*store.User
	dialogs  map[string]*store.Dialog
	seq      int
}

// The employees: departments, admin flag, active flag, and the stored rule
// (nil: none stored, the defaults apply).
var staff = []struct {
	id     int64
	deps   []int64
	admin  bool
	active bool
	rule   *store.Access
}{
	{10, []int64{1}, false, true, &store.Access{Visibility: "department", CanWrite: true}},
	{20, []int64{2}, false, true, &store.Access{Visibility: "department", CanWrite: true}},
	{21, []int64{2}, false, true, &store.Access{Visibility: "department", CanWrite: true}},
	{31, []int64{3}, false, true, &store.Access{Visibility: "department", CanWrite: true, ReceivesNewClients: true}},
	{32, []int64{3}, false, true, nil}, // defaults: own + receiving
	{33, []int64{3}, false, true, &store.Access{Visibility: "own", CanWrite: true, ReceivesNewClients: false}},
	{40, []int64{4}, false, true, &store.Access{Visibility: "none", CanWrite: true, ReceivesNewClients: true}},
	{41, []int64{4}, false, true, &store.Access{Visibility: "all", CanWrite: false}}, // quality controller
	{42, nil, false, true, &store.Access{Visibility: "all", CanWrite: true}},         // channel A only (set below)
	{43, nil, false, true, &store.Access{Visibility: "all", CanWrite: true}},         // no channel (set below)
	{44, []int64{2}, true, false, &store.Access{Visibility: "all", CanWrite: true, ReceivesNewClients: true}},
	{45, nil, true, true, nil}, // admin defaults: all
	{46, nil, false, true, nil},
	{50, []int64{4}, false, true, &store.Access{Visibility: "department", CanWrite: true}},
}

func newCompany(t *testing.T) *company {
	t.Helper()
	ctx := context.Background()
	s := store.New(storetest.DB(t))
	c := &company{t: t, ctx: ctx, s: s, rules: &access.Rules{Store: s}, users: map[int64]*store.User{}, dialogs: map[string]*store.Dialog{}}
	c.portal, c.other = c.install("acme"), c.install("rival")
	c.chA, c.chB = c.channel(c.portal), c.channel(c.portal)
	for _, p := range []int64{c.portal, c.other} {
		err := s.ReplaceDepartments(ctx, p, []store.Department{
			{ID: 1, Name: "Company", HeadID: id(10)},
			{ID: 2, Name: "Sales", ParentID: id(1), HeadID: id(20)},
			{ID: 3, Name: "North", ParentID: id(2), HeadID: id(50)},
			{ID: 4, Name: "Support", ParentID: id(1), HeadID: id(40)},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range staff {
		u := store.User{PortalID: c.portal, ID: e.id, Name: fmt.Sprintf("employee %d", e.id), IsAdmin: e.admin, Active: e.active, Departments: e.deps}
		if err := s.UpsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		// The rival portal has the same ids, everyone an administrator.
		if err := s.UpsertUser(ctx, store.User{PortalID: c.other, ID: e.id, IsAdmin: true, Active: true, Departments: e.deps}); err != nil {
			t.Fatal(err)
		}
		if e.rule != nil {
			r := *e.rule
			switch e.id {
			case 42:
				r.ChannelIDs = []int64{c.chA}
			case 43:
				r.ChannelIDs = []int64{}
			}
			if err := s.SaveAccess(ctx, c.portal, e.id, r); err != nil {
				t.Fatal(err)
			}
		}
		c.users[e.id] = c.user(c.portal, e.id)
	}
	// Contacts first: a dialog's responsible follows its contact's.
	if err := s.UpsertContacts(ctx, c.portal, []store.Contact{
		{ID: 100, Name: "Client of 31", AssignedByID: 31},
		{ID: 101, Name: "Nobody's client"},
		{ID: 102, Name: "Client of 33, no dialogs", AssignedByID: 33},
	}, nil); err != nil {
		t.Fatal(err)
	}
	c.dialog("A20", c.chA, 0, 20)
	c.dialog("A21", c.chA, 0, 21)
	c.dialog("A31", c.chA, 100, 31)
	c.dialog("B32", c.chB, 100, 32) // the same client, another channel, another responsible
	c.dialog("A33", c.chA, 0, 33)
	c.dialog("A40", c.chA, 0, 40)
	c.dialog("A46", c.chA, 0, 46)
	c.dialog("Bnew", c.chB, 0, 0) // nobody responsible yet
	// The rival portal's dialogs with the same responsible ids.
	rc := c.channel(c.other)
	for _, r := range []int64{20, 31, 45} {
		c.dialogOn(c.other, fmt.Sprintf("rival%d", r), rc, 0, r)
	}
	return c
}

func id(n int64) sql.NullInt64 { return sql.NullInt64{Int64: n, Valid: true} }

func (c *company) install(member string) int64 {
	p, err := c.s.UpsertInstall(c.ctx, store.Install{MemberID: member, Domain: member + ".bitrix24.example",
		ClientEndpoint: "https://" + member + ".bitrix24.example/rest/", TokenExpiresAt: time.Now().Add(time.Hour),
		AccessToken: func(int64) []byte { return []byte("a") }, RefreshToken: func(int64) []byte { return []byte("r") }})
	if err != nil {
		c.t.Fatal(err)
	}
	return p.ID
}

func (c *company) channel(portal int64) int64 {
	c.seq++
	g := &store.Gateway{PortalID: portal, Provider: "wazzup", Credentials: []byte("x"), WebhookKey: []byte(fmt.Sprint("k", c.seq)), State: "active"}
	if err := c.s.CreateGateway(c.ctx, g); err != nil {
		c.t.Fatal(err)
	}
	ch := &store.Channel{PortalID: portal, GatewayID: g.ID, ExternalID: fmt.Sprint("ch", c.seq), Provider: "wazzup", Transport: "whatsapp", State: "active"}
	if err := c.s.UpsertChannel(c.ctx, ch); err != nil {
		c.t.Fatal(err)
	}
	return ch.ID
}

func (c *company) dialog(name string, channel, contact, responsible int64) {
	c.dialogOn(c.portal, name, channel, contact, responsible)
}

func (c *company) dialogOn(portal int64, name string, channel, contact, responsible int64) {
	c.seq++
	err := c.s.Tx(c.ctx, func(tx *store.Store) error {
		d, _, err := tx.UpsertDialog(c.ctx, portal, store.DialogKey{ChannelID: channel, ChatType: "whatsapp", ChatID: fmt.Sprint(79000000000 + c.seq)}, store.ClientInfo{Name: name})
		if err != nil {
			return err
		}
		if contact > 0 || responsible > 0 {
			if err := tx.ResolveDialog(c.ctx, d.ID, contact, 0, 0, responsible); err != nil {
				return err
			}
		}
		c.dialogs[name] = d
		return nil
	})
	if err != nil {
		c.t.Fatal(err)
	}
	// Reread: the responsible person is set after the insert.
	d, err := c.s.DialogByID(c.ctx, portal, c.dialogs[name].ID)
	if err != nil {
		c.t.Fatal(err)
	}
	c.dialogs[name] = d
}

func (c *company) user(portal, id int64) *store.User {
	u, err := c.s.UserByID(c.ctx, portal, id)
	if err != nil {
		c.t.Fatal(err)
	}
	return u
}

func (c *company) names(ids []int64) []string {
	out := []string{}
	for _, id := range ids {
		for n, d := range c.dialogs {
			if d.ID == id {
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out
}

// sees is, per employee, the dialogs his rule shows (the portal's own).
var sees = map[int64][]string{
	// Head of the company, department visibility: everyone in a department.
	10: {"A20", "A21", "A31", "A33", "A40", "B32"},
	// Head of Sales and a Sales member: Sales and North below it.
	20: {"A20", "A21", "A31", "A33", "B32"},
	21: {"A20", "A21", "A31", "A33", "B32"},
	// North member, receiving: North (not Sales above it) and new clients.
	31: {"A31", "A33", "B32", "Bnew"},
	// Defaults of an employee: his own, and new clients.
	32: {"B32", "Bnew"},
	33: {"A33"},
	40: {},
	41: {"A20", "A21", "A31", "A33", "A40", "A46", "B32", "Bnew"},
	42: {"A20", "A21", "A31", "A33", "A40", "A46"},
	43: {},
	44: {}, // deactivated
	45: {"A20", "A21", "A31", "A33", "A40", "A46", "B32", "Bnew"},
	46: {"A46", "Bnew"},
	// Member of Support, head of North: both.
	50: {"A31", "A33", "A40", "B32"},
}

// The access matrix: CanSee, CanWrite and the general chat's list (the
// DialogFilter applied by store.ListDialogs, as the API lists) agree, per
// employee, with what his rule shows.
func TestVisibilityMatrix(t *testing.T) {
	c := newCompany(t)
	for uid, want := range sees {
		u := c.users[uid]
		f, err := c.rules.DialogFilter(c.ctx, c.portal, u)
		if err != nil {
			t.Fatal(err)
		}
		f.Limit = 200
		list, _, err := c.s.ListDialogs(c.ctx, c.portal, f)
		if err != nil {
			t.Fatalf("user %d: %v", uid, err)
		}
		var listed []int64
		for _, d := range list {
			listed = append(listed, d.ID)
		}
		if got := c.names(listed); !slices.Equal(got, want) {
			t.Errorf("user %d lists %v, want %v", uid, got, want)
		}
		if n := len(listed); n != len(c.names(listed)) {
			t.Errorf("user %d lists %d dialogs, some not of his portal", uid, n)
		}
		for name, d := range c.dialogs {
			if d.PortalID != c.portal {
				continue
			}
			shown := slices.Contains(want, name)
			see, err := c.rules.CanSee(c.ctx, c.portal, u, d)
			if err != nil {
				t.Fatal(err)
			}
			if see != shown {
				t.Errorf("user %d CanSee %s = %v, want %v", uid, name, see, shown)
			}
			write, err := c.rules.CanWrite(c.ctx, c.portal, u, d)
			if err != nil {
				t.Fatal(err)
			}
			if wantWrite := shown && uid != 41; write != wantWrite {
				t.Errorf("user %d CanWrite %s = %v, want %v", uid, name, write, wantWrite)
			}
		}
	}
}

// Who (the audience of a dialog's live events and escalations) is every
// active employee of the dialog's portal whose rule shows it: the matrix
// read by column.
func TestWhoSeesADialog(t *testing.T) {
	c := newCompany(t)
	for name, d := range c.dialogs {
		if d.PortalID != c.portal {
			continue
		}
		var want []int64
		for uid, names := range sees {
			if slices.Contains(names, name) {
				want = append(want, uid)
			}
		}
		slices.Sort(want)
		got, err := c.rules.Who(c.ctx, c.portal, d)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("Who(%s) = %v, want %v", name, got, want)
		}
	}
	// The rival portal's audience is its own people: all of them admins.
	got, err := c.rules.Who(c.ctx, c.other, c.dialogs["rival31"])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(staff) {
		t.Errorf("Who on the rival portal: %v, want its %d employees", got, len(staff))
	}
}

// Writing at all, and using a channel: none sees nothing, a quality
// controller reads only, a deactivated user does neither; a channel list
// (nil = every channel, empty = none) bounds the channels.
func TestWriteAndChannels(t *testing.T) {
	c := newCompany(t)
	yes, no := ptr(true), ptr(false)
	for _, x := range []struct {
		user       int64
		writeAny   *bool // nil: not pinned
		chA, chB   bool
		visibility string
		receives   *bool
	}{
		{45, yes, true, true, "all", no},    // admin defaults
		{46, yes, true, true, "own", yes},   // employee defaults
		{32, yes, true, true, "own", yes},   // employee defaults
		{41, no, true, true, "all", no},     // quality controller
		{40, no, false, false, "none", nil}, // sees nothing
		{42, yes, true, false, "all", no},   // channel A only
		{43, nil, false, false, "all", no},  // no channel
		{44, no, false, false, "none", no},  // deactivated, whatever his rule
	} {
		u := c.users[x.user]
		writes, err := c.rules.CanWriteAny(c.ctx, c.portal, u)
		if err != nil {
			t.Fatal(err)
		}
		if x.writeAny != nil && writes != *x.writeAny {
			t.Errorf("user %d CanWriteAny = %v, want %v", x.user, writes, *x.writeAny)
		}
		for ch, want := range map[int64]bool{c.chA: x.chA, c.chB: x.chB} {
			got, err := c.rules.CanUseChannel(c.ctx, c.portal, u, ch)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("user %d CanUseChannel(%d) = %v, want %v", x.user, ch, got, want)
			}
		}
		e, err := c.rules.For(c.ctx, c.portal, u)
		if err != nil {
			t.Fatal(err)
		}
		if e.Visibility != x.visibility || (x.receives != nil && e.ReceivesNewClients != *x.receives) {
			t.Errorf("user %d: effective %s receiving %v, want %s receiving %v", x.user, e.Visibility, e.ReceivesNewClients, x.visibility, x.receives)
		}
	}
}

func ptr(b bool) *bool { return &b }

// A contact is visible when its responsible person is one the user sees (or
// nobody, for those who receive new clients), or when one of its dialogs is;
// VisibleDialogsOfContact lists exactly the contact's dialogs he sees.
func TestContacts(t *testing.T) {
	c := newCompany(t)
	for _, x := range []struct {
		user    int64
		contact int64
		see     bool
		dialogs []string
	}{
		{31, 100, true, []string{"A31", "B32"}},
		{32, 100, true, []string{"B32"}}, // not his contact, but his dialog with it
		{33, 100, false, []string{}},
		{42, 100, true, []string{"A31"}}, // all, but channel A only
		{43, 100, true, []string{}},      // all, no channel: the contact, none of its dialogs
		{45, 100, true, []string{"A31", "B32"}},
		{44, 100, false, []string{}}, // deactivated
		{46, 101, true, []string{}},  // nobody's client, he receives new ones
		{33, 101, false, []string{}}, // he does not
		{33, 102, true, []string{}},  // his client without dialogs
		{21, 102, true, []string{}},  // his department's client
		{32, 102, false, []string{}},
		{45, 999, false, []string{}}, // unknown contact
	} {
		u := c.users[x.user]
		see, err := c.rules.CanSeeContact(c.ctx, c.portal, u, x.contact)
		if err != nil {
			t.Fatal(err)
		}
		if see != x.see {
			t.Errorf("user %d CanSeeContact(%d) = %v, want %v", x.user, x.contact, see, x.see)
		}
		ids, err := c.rules.VisibleDialogsOfContact(c.ctx, c.portal, u, x.contact)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.names(ids); !slices.Equal(got, x.dialogs) {
			t.Errorf("user %d VisibleDialogsOfContact(%d) = %v, want %v", x.user, x.contact, got, x.dialogs)
		}
	}
}

// A rule changed through this instance applies at once after Invalidate (no
// waiting out the cache), and a user deactivated meanwhile sees nothing at
// once, cache or not.
func TestChangesApplyAtOnce(t *testing.T) {
	c := newCompany(t)
	u := c.users[33]
	d := c.dialogs["A20"]
	see := func(u *store.User) bool {
		ok, err := c.rules.CanSee(c.ctx, c.portal, u, d)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if see(u) {
		t.Fatal("user 33 (own) sees user 20's dialog")
	}
	if err := c.s.SaveAccess(c.ctx, c.portal, 33, store.Access{Visibility: "all", CanWrite: true}); err != nil {
		t.Fatal(err)
	}
	c.rules.Invalidate(c.portal)
	if !see(u) {
		t.Fatal("after the admin gave user 33 visibility all and the rules were invalidated, he still does not see it")
	}
	if err := c.s.UpsertUser(c.ctx, store.User{PortalID: c.portal, ID: 33, Active: false, Departments: u.Departments}); err != nil {
		t.Fatal(err)
	}
	if see(c.user(c.portal, 33)) {
		t.Fatal("a deactivated user still sees the dialog from the cached rule")
	}
}

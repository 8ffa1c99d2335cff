package app_test

import (
	"database/sql"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/placement"
	"github.com/relay24/relay24/wazzup/wztest"
)

// company: root 1 (head: admin 1) → Sales 2 (head 3) → Sales East 4 (head 5,
// rep 7); Support 6 (8); a quality controller 9.
func (r *relayEnv) company() map[int]string {
	r.t.Helper()
	p := r.P
	p.AddDepartment(b24test.Department{ID: 2, Name: "Sales", Parent: 1, Head: 3})
	p.AddDepartment(b24test.Department{ID: 4, Name: "Sales East", Parent: 2, Head: 5})
	p.AddDepartment(b24test.Department{ID: 6, Name: "Support", Parent: 1})
	for _, u := range []b24test.User{
		{ID: 3, Name: "Head", LastName: "Sales", Departments: []int{2}},
		{ID: 5, Name: "Head", LastName: "East", Departments: []int{4}},
		{ID: 7, Name: "Rep", LastName: "East", Departments: []int{4}},
		{ID: 8, Name: "Support", LastName: "Agent", Departments: []int{6}},
		{ID: 9, Name: "Quality", LastName: "Control", Departments: []int{1}},
	} {
		u.Active = true
		p.AddUser(u)
	}
	if err := r.App.Sync.ScheduleReconcile(r.ctx); err != nil {
		r.t.Fatal(err)
	}
	r.settle()
	tokens := map[int]string{1: r.Admin}
	for _, id := range []int{3, 5, 7, 8, 9} {
		tokens[id] = r.session(p, placement.LeftMenu, nil, id)
	}
	for user, rule := range map[int]map[string]any{
		3: {"visibility": "department"},
		5: {"visibility": "department"},
		7: {"visibility": "own", "receives_new_clients": false},
		8: {"visibility": "none"},
		9: {"visibility": "all", "can_write": false},
	} {
		if s := r.api("PUT", "/api/v1/access/"+strconv.Itoa(user), r.Admin, rule, nil); s != http.StatusOK {
			r.t.Fatalf("setting access of %d: %d", user, s)
		}
	}
	return tokens
}

// clientOf adds a contact assigned to user and has him write; it returns
// the dialog id.
func (r *relayEnv) clientOf(user int, phone string) (int, int64) {
	r.t.Helper()
	c := r.P.AddContact(b24test.Contact{Name: "Client of " + strconv.Itoa(user), AssignedByID: user,
		Phones: []b24test.Multi{{TypeID: "PHONE", ValueType: "MOBILE", Value: phone}}})
	if _, err := r.P.FireEvent(r.ctx, "ONCRMCONTACTADD", map[string]any{"FIELDS": map[string]any{"ID": strconv.Itoa(c.ID)}}, 1); err != nil {
		r.t.Fatal(err)
	}
	r.settle()
	r.clientWrites(r.WA, "whatsapp", phone, "hello from "+phone)
	r.settle()
	var id int64
	if err := r.App.Store.DB().Get(&id, `SELECT id FROM dialogs WHERE chat_id = $1`, phone); err != nil {
		r.t.Fatal(err)
	}
	return c.ID, id
}

func TestAccessMatrix(t *testing.T) {
	r := newRelayEnv(t)
	tok := r.company()
	c7, d7 := r.clientOf(7, "79990000007")
	_, d3 := r.clientOf(3, "79990000003")
	_, d8 := r.clientOf(8, "79990000008")

	// Portal B on the same relay24, with its own Wazzup account, dialog and admin.
	pb := r.installedPortal()
	r.settle()
	adminB := r.session(pb, placement.LeftMenu, nil, 1)
	accB := r.WZ.AddAccount("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
	waB := accB.AddChannel("whatsapp", "79860000000", "B WhatsApp")
	if s := r.api("POST", "/api/v1/channels", adminB, map[string]string{"provider": "wazzup", "api_key": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}, nil); s != http.StatusCreated {
		t.Fatalf("portal B connects: %d", s)
	}
	if _, err := accB.ClientWrites(r.ctx, waB.ChannelID, "whatsapp", "79990000777", wztestIncoming("portal B")); err != nil {
		t.Fatal(err)
	}
	r.settle()
	dsB := r.dialogs(adminB)
	if len(dsB) != 1 {
		t.Fatalf("portal B lists %d dialogs", len(dsB))
	}
	dB := dsB[0].ID
	if n := len(r.dialogs(r.Admin)); n != 3 {
		t.Fatalf("portal A's admin lists %d dialogs (B's leaked?)", n)
	}

	sees := map[int][]int64{1: {d7, d3, d8}, 3: {d7, d3}, 5: {d7}, 7: {d7}, 8: {}, 9: {d7, d3, d8}}
	writes := map[int]bool{1: true, 3: true, 5: true, 7: true, 8: false, 9: false}
	path := func(d int64, suffix string) string { return "/api/v1/dialogs/" + strconv.FormatInt(d, 10) + suffix }
	n := 0
	for user, visible := range sees {
		token := tok[user]
		listed := map[int64]bool{}
		for _, d := range r.dialogs(token) {
			listed[d.ID] = true
		}
		if len(listed) != len(visible) {
			t.Errorf("user %d lists %v, want %v", user, listed, visible)
		}
		for _, d := range []int64{d7, d3, d8} {
			want := false
			for _, v := range visible {
				want = want || v == d
			}
			if listed[d] != want {
				t.Errorf("user %d: dialog %d listed=%v", user, d, listed[d])
			}
			read := http.StatusOK
			if !want {
				read = http.StatusNotFound
			}
			if s := r.api("GET", path(d, "/messages"), token, nil, nil); s != read {
				t.Errorf("user %d reads dialog %d: %d, want %d", user, d, s, read)
			}
			write := http.StatusAccepted
			switch {
			case !want:
				write = http.StatusNotFound
			case !writes[user]:
				write = http.StatusForbidden
			}
			n++
			if s, _ := r.reply(token, d, "answer", "u"+strconv.Itoa(user)+"-"+strconv.Itoa(n)); s != write {
				t.Errorf("user %d answers dialog %d: %d, want %d", user, d, s, write)
			}
			noReply := http.StatusOK
			if write != http.StatusAccepted {
				noReply = write
			}
			if s := r.api("POST", path(d, "/no-reply-needed"), token, nil, nil); s != noReply {
				t.Errorf("user %d no-reply-needed %d: %d, want %d", user, d, s, noReply)
			}
		}
		// Portal B's dialog does not exist for anyone of portal A.
		if s := r.api("GET", path(dB, "/messages"), token, nil, nil); s != http.StatusNotFound {
			t.Errorf("user %d of A reads B's dialog: %d", user, s)
		}
		if s, _ := r.reply(token, dB, "x", "xb-"+strconv.Itoa(user)); s != http.StatusNotFound {
			t.Errorf("user %d of A writes to B's dialog: %d", user, s)
		}
		// View all dialogs of client 7's contact.
		want := http.StatusOK
		if user == 8 {
			want = http.StatusNotFound
		}
		if s := r.api("GET", "/api/v1/contacts/"+strconv.Itoa(c7)+"/messages", token, nil, nil); s != want {
			t.Errorf("user %d views all of contact %d: %d, want %d", user, c7, s, want)
		}
	}
	// B's admin (who sees all of B) reads nothing of A.
	for _, d := range []int64{d7, d3, d8} {
		if s := r.api("GET", path(d, "/messages"), adminB, nil, nil); s != http.StatusNotFound {
			t.Errorf("portal B reads A's dialog %d: %d", d, s)
		}
		if s := r.api("POST", path(d, "/no-reply-needed"), adminB, nil, nil); s != http.StatusNotFound {
			t.Errorf("portal B acts on A's dialog %d: %d", d, s)
		}
	}
	// (Contact ids are the portal's own: B may have a contact with the same
	// number; what it must never get is A's messages.)
	var thread struct {
		Messages []messageJSON `json:"messages"`
	}
	r.api("GET", "/api/v1/contacts/"+strconv.Itoa(c7)+"/messages", adminB, nil, &thread)
	for _, m := range thread.Messages {
		if m.Text == "hello from 79990000007" {
			t.Errorf("portal B views A's contact's messages")
		}
	}
	// Only admins manage settings and access.
	for user, want := range map[int]int{1: 200, 3: 403, 7: 403, 9: 403} {
		if s := r.api("GET", "/api/v1/settings", tok[user], nil, nil); s != want {
			t.Errorf("user %d settings: %d, want %d", user, s, want)
		}
		if s := r.api("GET", "/api/v1/access/7", tok[user], nil, nil); s != want {
			t.Errorf("user %d access: %d, want %d", user, s, want)
		}
	}
	if s := r.api("GET", "/api/v1/access/7", adminB, nil, nil); s != http.StatusNotFound {
		t.Errorf("portal B's admin reads A's user: %d", s)
	}

	// A reassignment in the CRM moves the dialog at once: 7 loses it, 3 keeps it.
	c, _ := r.P.Contact(c7)
	c.AssignedByID = 3
	r.P.UpdateContact(c)
	if _, err := r.P.FireEvent(r.ctx, "ONCRMCONTACTUPDATE", map[string]any{"FIELDS": map[string]any{"ID": strconv.Itoa(c7)}}, 1); err != nil {
		t.Fatal(err)
	}
	r.settle()
	if s := r.api("GET", path(d7, "/messages"), tok[7], nil, nil); s != http.StatusNotFound {
		t.Fatalf("rep 7 still reads a dialog reassigned away: %d", s)
	}
	if s := r.api("GET", path(d7, "/messages"), tok[3], nil, nil); s != http.StatusOK {
		t.Fatalf("head 3 lost a dialog reassigned to him: %d", s)
	}
	// Changing a rule applies without a new session.
	if s := r.api("PUT", "/api/v1/access/8", r.Admin, map[string]any{"visibility": "all"}, nil); s != http.StatusOK {
		t.Fatal(s)
	}
	if n := len(r.dialogs(tok[8])); n != 3 {
		t.Fatalf("support sees %d dialogs after being given all", n)
	}
	if s := r.api("PUT", "/api/v1/access/8", r.Admin, map[string]any{"visibility": "everything"}, nil); s != http.StatusBadRequest {
		t.Fatalf("bad visibility: %d", s)
	}
}

// Escalation fires after the configured delay and not before.
func TestEscalationAfterTheDelay(t *testing.T) {
	r := newRelayEnv(t)
	r.company()
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	r.App.Relay.SetClock(func() time.Time { return time.Unix(0, now.Load()) })
	if s := r.api("PUT", "/api/v1/settings", r.Admin, map[string]any{"escalate_after_minutes": 5}, nil); s != http.StatusOK {
		t.Fatalf("settings: %d", s)
	}
	_, d := r.clientOf(7, "79990000017")
	notes := len(r.P.Notifications())
	if notes != 1 {
		t.Fatalf("%d first notifications", notes)
	}
	due := func() {
		if _, err := r.App.Store.DB().Exec(`UPDATE jobs SET run_at = now() WHERE kind = 'escalate.dialog' AND state = 'ready'`); err != nil {
			t.Fatal(err)
		}
		r.settle()
	}
	now.Add(int64(4 * time.Minute))
	due()
	if n := len(r.P.Notifications()); n != notes {
		t.Fatalf("escalated after 4 of 5 minutes (%d notifications)", n)
	}
	now.Add(int64(2 * time.Minute))
	due()
	escalated := r.P.Notifications()[notes:]
	got := map[int]bool{}
	for _, n := range escalated {
		got[n.ToUserID] = true
	}
	// Everyone whose rule shows the dialog: the admin, the department heads over 7, 7, and QC.
	for _, u := range []int{1, 3, 5, 7, 9} {
		if !got[u] {
			t.Errorf("user %d not told of the waiting client (got %v)", u, got)
		}
	}
	if got[8] {
		t.Error("support (visibility none) was told")
	}
	// Once per wait.
	now.Add(int64(10 * time.Minute))
	due()
	if n := len(r.P.Notifications()); n != notes+len(escalated) {
		t.Fatalf("escalated twice in one wait")
	}
	_ = d
}

// A waiting client always reaches someone: nobody receives new clients, so
// an unknown client's dialog goes to the admins.
func TestNobodyReceivingNewClientsFallsToAdmins(t *testing.T) {
	r := newRelayEnv(t)
	if s := r.api("PUT", "/api/v1/access/2", r.Admin, map[string]any{"receives_new_clients": false}, nil); s != http.StatusOK {
		t.Fatal(s)
	}
	r.clientWrites(r.WA, "whatsapp", "79990000099", "anyone?")
	r.settle()
	ds := r.dialogs(r.Admin)
	if len(ds) != 1 {
		t.Fatalf("admin lists %d", len(ds))
	}
	var resp int64
	if err := r.App.Store.DB().Get(&resp, `SELECT COALESCE(responsible_id, 0) FROM dialogs WHERE id = $1`, ds[0].ID); err != nil {
		t.Fatal(err)
	}
	if resp != 1 {
		t.Fatalf("responsible %d, want the admin", resp)
	}
	notes := r.P.Notifications()
	if len(notes) != 1 || notes[0].ToUserID != 1 {
		t.Fatalf("notifications %+v", notes)
	}
}

func wztestIncoming(text string) wztest.Incoming { return wztest.Incoming{Text: text} }

// "First to answer": nobody is responsible for a new client until someone
// answers; then the dialog and the CRM records are his.
func TestFirstToAnswerTakesTheClient(t *testing.T) {
	r := newRelayEnv(t)
	if s := r.api("PUT", "/api/v1/settings", r.Admin, map[string]any{"responsible_mode": "first_answer"}, nil); s != http.StatusOK {
		t.Fatalf("settings: %d", s)
	}
	r.clientWrites(r.WA, "whatsapp", "79990000055", "кто ответит?")
	r.settle()
	d := r.dialogs(r.Sales)
	if len(d) != 1 || d[0].Contact == nil {
		t.Fatalf("the receiving salesperson lists %+v", d)
	}
	// (The portal itself assigns a new record to its creator; the dialog
	// still waits for a taker.)
	var before sql.NullInt64
	_ = r.App.Store.DB().Get(&before, `SELECT responsible_id FROM dialogs WHERE id = $1`, d[0].ID)
	if before.Valid {
		t.Fatalf("dialog taken by %d before anyone answered", before.Int64)
	}
	if s, _ := r.reply(r.Sales, d[0].ID, "Я!", "first"); s != http.StatusAccepted {
		t.Fatal(s)
	}
	r.settle()
	c, _ := r.P.Contact(int(d[0].Contact.ID))
	if c.AssignedByID != 2 {
		t.Fatalf("contact assigned to %d after user 2 answered first", c.AssignedByID)
	}
	var resp int64
	_ = r.App.Store.DB().Get(&resp, `SELECT responsible_id FROM dialogs WHERE id = $1`, d[0].ID)
	if resp != 2 {
		t.Fatalf("dialog responsible %d", resp)
	}
}

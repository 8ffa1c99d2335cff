package app_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/identity"
	"github.com/relay24/relay24/placement"
)

// seedCompany gives the portal a small structure: root 1 → sales 2 (head 3)
// → sales-east 4 (head 5); support 6.
func seedCompany(p *b24test.Portal) {
	p.AddDepartment(b24test.Department{ID: 2, Name: "Sales", Parent: 1, Head: 3})
	p.AddDepartment(b24test.Department{ID: 4, Name: "Sales East", Parent: 2, Head: 5})
	p.AddDepartment(b24test.Department{ID: 6, Name: "Support", Parent: 1})
	p.AddUser(b24test.User{ID: 3, Name: "Head", LastName: "Sales", Active: true, Departments: []int{2}})
	p.AddUser(b24test.User{ID: 5, Name: "Head", LastName: "East", Active: true, Departments: []int{4}})
	p.AddUser(b24test.User{ID: 7, Name: "Rep", LastName: "East", Active: true, Departments: []int{4}})
	p.AddUser(b24test.User{ID: 8, Name: "Gone", LastName: "Away", Active: false, Departments: []int{6}})
}

func TestFirstSyncMirrorsThePortal(t *testing.T) {
	e := newEnv(t)
	p := e.OAuth.NewPortal(b24test.PortalOptions{})
	defer p.Close()
	seedCompany(p)
	p.AddUser(b24test.User{ID: 2, Name: "Sales", LastName: "Person", Active: true, Departments: []int{2}})
	p.SeedCRM(3000, 1200)
	known := p.AddContact(b24test.Contact{Name: "Anna", LastName: "Known", AssignedByID: 7,
		Phones: []b24test.Multi{{TypeID: "PHONE", ValueType: "MOBILE", Value: "8 (912) 345-67-89"}},
		IMs:    []b24test.Multi{{TypeID: "IM", ValueType: "TELEGRAM", Value: "@Anna_Known"}}})
	lead := p.AddLead(b24test.Lead{Title: "Inbound", Name: "Lev", AssignedByID: 7,
		Phones: []b24test.Multi{{TypeID: "PHONE", ValueType: "WORK", Value: "+7 495 765-43-21"}}})
	deal := p.AddDeal(b24test.Deal{Title: "Big one", StageID: "NEW", AssignedByID: 7, ContactIDs: []int{known.ID}})

	r, err := p.PostInstall(e.ctx, e.URL+"/b24/install", 1)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("install: %v %d", err, r.Status)
	}
	p.InstallFinish()
	p.ResetCalls()
	e.drain()

	pid := e.portalID(p)
	if n := e.count(`SELECT count(*) FROM contacts WHERE portal_id = $1`, pid); n != p.Contacts() {
		t.Fatalf("%d contacts mirrored, portal has %d", n, p.Contacts())
	}
	if n := e.count(`SELECT count(*) FROM deals WHERE portal_id = $1`, pid); n != p.Deals() {
		t.Fatalf("%d deals mirrored, portal has %d", n, p.Deals())
	}
	if n := e.count(`SELECT count(*) FROM leads WHERE portal_id = $1`, pid); n != p.Leads() {
		t.Fatalf("%d leads mirrored, portal has %d", n, p.Leads())
	}
	if n := e.count(`SELECT count(*) FROM users WHERE portal_id = $1 AND active`, pid); n != 5 {
		t.Fatalf("%d active users", n)
	}
	if n := e.count(`SELECT count(*) FROM users WHERE portal_id = $1 AND id = 8 AND NOT active`, pid); n != 1 {
		t.Fatal("the dismissed user is not flagged")
	}
	if n := e.count(`SELECT count(*) FROM deal_contacts WHERE portal_id = $1 AND deal_id = $2 AND contact_id = $3 AND is_primary`, pid, deal.ID, known.ID); n != 1 {
		t.Fatal("deal's contact not linked")
	}

	// Every spelling of a seeded number finds its contact, in the store alone.
	for _, spelling := range []string{"89123456789", "+7 (912) 345-67-89", "7 912 345 67 89", "+79123456789", "9123456789"} {
		owners, err := e.App.Store.OwnersOf(e.ctx, pid, identity.ID{Kind: identity.Phone, Value: identity.NormalizePhone(spelling)})
		if err != nil || len(owners) != 1 || owners[0].Type != "contact" || owners[0].ID != int64(known.ID) {
			t.Errorf("%q → %+v %v", spelling, owners, err)
		}
	}
	owners, _ := e.App.Store.OwnersOf(e.ctx, pid, identity.ForChat("telegram", "@anna_known"))
	if len(owners) != 1 || owners[0].ID != int64(known.ID) {
		t.Errorf("telegram handle → %+v", owners)
	}
	owners, _ = e.App.Store.OwnersOf(e.ctx, pid, identity.ID{Kind: identity.Phone, Value: "74957654321"})
	if len(owners) != 1 || owners[0].Type != "lead" || owners[0].ID != int64(lead.ID) {
		t.Errorf("lead phone → %+v", owners)
	}

	// REST requests: within 10% of the minimum for this data set.
	minimum := 0
	for _, n := range []int{p.Contacts(), p.Leads(), p.Deals()} {
		minimum += max(1, (n+2499)/2500)
	}
	minimum += 2 // department.get, user.get: one page each
	if got := p.HTTPRequests(); float64(got) > 1.10*float64(minimum) {
		t.Fatalf("first sync made %d requests, minimum %d", got, minimum)
	}

	// The admin sees the progress; a salesperson may not.
	admin := e.session(p, placement.LeftMenu, nil, 1)
	var prog struct {
		Complete bool `json:"complete"`
		Entities []struct {
			Entity string `json:"entity"`
			Phase  string `json:"phase"`
			Done   int    `json:"done"`
			Total  int    `json:"total"`
		} `json:"entities"`
	}
	if s := e.api("GET", "/api/v1/sync", admin, nil, &prog); s != http.StatusOK || !prog.Complete || len(prog.Entities) != 5 {
		t.Fatalf("progress: %d %+v", s, prog)
	}
	for _, en := range prog.Entities {
		if en.Phase != "done" || en.Done != en.Total || en.Total == 0 {
			t.Errorf("progress of %s: %+v", en.Entity, en)
		}
	}
	sales := e.session(p, placement.LeftMenu, nil, 7)
	if s := e.api("GET", "/api/v1/sync", sales, nil, nil); s != http.StatusForbidden {
		t.Fatalf("salesperson reading progress: %d", s)
	}
}

func TestCompanyTreeQueries(t *testing.T) {
	e := newEnv(t)
	p := e.OAuth.NewPortal(b24test.PortalOptions{})
	defer p.Close()
	seedCompany(p)
	if r, err := p.PostInstall(e.ctx, e.URL+"/b24/install", 1); err != nil || r.Status != 200 {
		t.Fatal(err)
	}
	e.drain()
	pid := e.portalID(p)
	sub, err := e.App.Store.DepartmentSubtree(e.ctx, pid, []int64{2})
	if err != nil || len(sub) != 2 || sub[0] != 2 || sub[1] != 4 {
		t.Fatalf("subtree of sales = %v %v", sub, err)
	}
	all, _ := e.App.Store.DepartmentSubtree(e.ctx, pid, []int64{1})
	if len(all) != 4 {
		t.Fatalf("subtree of the root = %v", all)
	}
	for user, want := range map[int64]int64{7: 5, 5: 3, 3: 1, 1: 0} {
		heads, err := e.App.Store.UserHeads(e.ctx, pid, user)
		if err != nil {
			t.Fatal(err)
		}
		if want == 0 && len(heads) != 0 || want != 0 && (len(heads) != 1 || heads[0] != want) {
			t.Errorf("heads of %d = %v, want %d", user, heads, want)
		}
	}
}

// A sync stopped half-way (the portal failing) resumes after the last stored
// record: nothing is listed twice and nothing is lost.
func TestFirstSyncResumesAfterAFailure(t *testing.T) {
	e := newEnv(t)
	p := e.OAuth.NewPortal(b24test.PortalOptions{})
	defer p.Close()
	p.SeedCRM(12000, 0)
	if r, err := p.PostInstall(e.ctx, e.URL+"/b24/install", 1); err != nil || r.Status != 200 {
		t.Fatal(err)
	}
	pid := e.portalID(p)
	// Let two batches through, then make the portal fail: the listing stops
	// half-way whatever the machine's speed.
	p.SetFault(&b24test.Fault{Status: 500, Count: 1000, Method: "batch", Skip: 2})
	if _, err := e.App.Jobs.RunOnce(e.ctx); err != nil {
		t.Fatal(err)
	}
	var cursor int64
	if err := e.App.Store.DB().Get(&cursor, `SELECT cursor_id FROM sync_state WHERE portal_id = $1 AND entity = 'contacts'`, pid); err != nil {
		t.Fatal(err)
	}
	if cursor == 0 || cursor >= 12000 {
		t.Fatalf("cursor %d: the failure did not stop the listing half-way", cursor)
	}
	var phase string
	_ = e.App.Store.DB().Get(&phase, `SELECT phase FROM sync_state WHERE portal_id = $1 AND entity = 'contacts'`, pid)
	if phase != "failed" {
		t.Fatalf("phase %q after the failure", phase)
	}
	p.ResetCalls()
	p.SetFault(nil)
	// The failed job is scheduled with a backoff: make it due now.
	if _, err := e.App.Store.DB().Exec(`UPDATE jobs SET run_at = now() WHERE state = 'ready'`); err != nil {
		t.Fatal(err)
	}
	e.drain()
	if n := e.count(`SELECT count(*) FROM contacts WHERE portal_id = $1`, pid); n != 12000 {
		t.Fatalf("%d contacts after resuming", n)
	}
	// The resumed listing started after the stored cursor.
	for _, call := range p.Calls() {
		if call.Method != "crm.contact.list" {
			continue
		}
		f, _ := call.Params["filter"].(map[string]any)
		if v, ok := f[">ID"]; ok && !isRef(v) {
			if id, _ := strconv.ParseInt(toString(v), 10, 64); id < cursor {
				t.Fatalf("resumed listing asked for IDs after %v, cursor was %d", v, cursor)
			}
		}
	}
	if n := e.count(`SELECT done FROM sync_state WHERE portal_id = $1 AND entity = 'contacts'`, pid); n != 12000 {
		t.Fatalf("progress says %d done", n)
	}
}

// The same resume, but the crash comes from inside: the listing is cut off
// after some batches were stored (a killed process).
func TestFirstSyncResumesFromItsCursor(t *testing.T) {
	e := newEnv(t)
	p := e.OAuth.NewPortal(b24test.PortalOptions{})
	defer p.Close()
	p.SeedCRM(8000, 0)
	if r, err := p.PostInstall(e.ctx, e.URL+"/b24/install", 1); err != nil || r.Status != 200 {
		t.Fatal(err)
	}
	pid := e.portalID(p)
	// A previous run stored contacts up to ID 5000 and died.
	for _, entity := range []string{"departments", "users"} {
		if _, err := e.App.Store.SyncStateOf(e.ctx, pid, entity); err != nil {
			t.Fatal(err)
		}
		if err := e.App.Store.FinishSync(e.ctx, pid, entity, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.App.Store.SyncStateOf(e.ctx, pid, "contacts"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Store.DB().Exec(`UPDATE sync_state SET phase = 'running', cursor_id = 5000, done = 5000 WHERE portal_id = $1 AND entity = 'contacts'`, pid); err != nil {
		t.Fatal(err)
	}
	p.ResetCalls()
	e.drain()
	for _, call := range p.Calls() {
		if call.Method != "crm.contact.list" {
			continue
		}
		f, _ := call.Params["filter"].(map[string]any)
		if v, ok := f[">ID"]; ok && !isRef(v) {
			if id, _ := strconv.Atoi(toString(v)); id < 5000 {
				t.Fatalf("resumed listing asked for IDs after %v", v)
			}
		}
	}
	if n := e.count(`SELECT count(*) FROM contacts WHERE portal_id = $1`, pid); n != 3000 {
		t.Fatalf("%d contacts listed after the cursor, want 3000", n)
	}
	if n := e.count(`SELECT done FROM sync_state WHERE portal_id = $1 AND entity = 'contacts'`, pid); n != 8000 {
		t.Fatalf("progress %d", n)
	}
}

func isRef(v any) bool { s, _ := v.(string); return len(s) > 0 && s[0] == '$' }

func toString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	}
	return ""
}

// A burst of events for one record is one fetch; a delete removes it.
func TestEventsCoalesceAndDelete(t *testing.T) {
	e := newEnv(t)
	p := e.OAuth.NewPortal(b24test.PortalOptions{})
	defer p.Close()
	p.SeedCRM(20, 0)
	if r, err := p.PostInstall(e.ctx, e.URL+"/b24/install", 1); err != nil || r.Status != 200 {
		t.Fatal(err)
	}
	p.InstallFinish()
	e.App.Sync.Coalesce = time.Millisecond
	e.drain()
	pid := e.portalID(p)

	c, _ := p.Contact(5)
	c.Phones = []b24test.Multi{{TypeID: "PHONE", ValueType: "MOBILE", Value: "+7 900 000-00-05"}}
	c.Name = "Renamed"
	p.UpdateContact(c)
	p.ResetCalls()
	for i := 0; i < 20; i++ {
		if _, err := p.FireEvent(e.ctx, "ONCRMCONTACTUPDATE", map[string]any{"FIELDS": map[string]any{"ID": "5"}}, 1); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.count(`SELECT count(*) FROM jobs WHERE kind = 'sync.record' AND state = 'ready'`); n != 1 {
		t.Fatalf("%d record jobs for one burst", n)
	}
	time.Sleep(5 * time.Millisecond)
	e.drain()
	if n := methodCalls(p, "crm.contact.get"); n != 1 {
		t.Fatalf("%d fetches for a burst of 20 events", n)
	}
	owners, _ := e.App.Store.OwnersOf(e.ctx, pid, identity.ID{Kind: identity.Phone, Value: "79000000005"})
	if len(owners) != 1 || owners[0].ID != 5 {
		t.Fatalf("updated phone → %+v", owners)
	}
	if n := e.count(`SELECT count(*) FROM contacts WHERE portal_id = $1 AND id = 5 AND name LIKE 'Renamed%'`, pid); n != 1 {
		t.Fatal("name not updated")
	}

	p.DeleteContact(5)
	if _, err := p.FireEvent(e.ctx, "ONCRMCONTACTDELETE", map[string]any{"FIELDS": map[string]any{"ID": "5"}}, 1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	e.drain()
	if n := e.count(`SELECT count(*) FROM contacts WHERE portal_id = $1 AND id = 5`, pid); n != 0 {
		t.Fatal("deleted contact still mirrored")
	}
	if n := e.count(`SELECT count(*) FROM client_identities WHERE portal_id = $1 AND owner_id = 5 AND owner_type = 'contact'`, pid); n != 0 {
		t.Fatal("deleted contact's identities still indexed")
	}
	// A deal event brings all of the deal's contacts.
	d := p.AddDeal(b24test.Deal{Title: "Two buyers", StageID: "NEW", AssignedByID: 1, ContactIDs: []int{6, 7}})
	if _, err := p.FireEvent(e.ctx, "ONCRMDEALADD", map[string]any{"FIELDS": map[string]any{"ID": strconv.Itoa(d.ID)}}, 1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	e.drain()
	if n := e.count(`SELECT count(*) FROM deal_contacts WHERE portal_id = $1 AND deal_id = $2`, pid, d.ID); n != 2 {
		t.Fatalf("deal has %d contacts mirrored, want 2", n)
	}
	// An event without an ID is refused.
	status, _ := e.postForm("/b24/events", nil, map[string][]string{"event": {"ONCRMCONTACTADD"},
		"auth[member_id]": {p.MemberID()}, "auth[application_token]": {p.ApplicationToken()}})
	if status != http.StatusBadRequest {
		t.Fatalf("event without ID: %d", status)
	}
}

// What changed while events were lost is repaired by the next pass.
func TestReconciliationRepairsLostEvents(t *testing.T) {
	e := newEnv(t)
	p := e.OAuth.NewPortal(b24test.PortalOptions{})
	defer p.Close()
	p.SeedCRM(300, 50)
	if r, err := p.PostInstall(e.ctx, e.URL+"/b24/install", 1); err != nil || r.Status != 200 {
		t.Fatal(err)
	}
	e.drain()
	pid := e.portalID(p)

	// Changes without events (the portal never retries a lost one).
	c, _ := p.Contact(10)
	c.Phones = []b24test.Multi{{TypeID: "PHONE", ValueType: "MOBILE", Value: "8 901 111 22 33"}}
	p.UpdateContact(c)
	p.DeleteContact(11)
	newC := p.AddContact(b24test.Contact{Name: "Late", LastName: "Arrival", AssignedByID: 1})
	d, _ := p.Deal(3)
	d.StageID = "WON"
	d.Closed = true
	d.StageSemantic = "S"
	p.UpdateDeal(d)

	e.App.Sync.SweepEvery = time.Nanosecond
	if err := e.App.Sync.ScheduleReconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A second instance's cron at the same moment schedules nothing more.
	if err := e.App.Sync.ScheduleReconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT count(*) FROM jobs WHERE kind = 'sync.reconcile' AND state = 'ready'`); n != 1 {
		t.Fatalf("%d reconcile jobs pending", n)
	}
	e.drain()
	owners, _ := e.App.Store.OwnersOf(e.ctx, pid, identity.ID{Kind: identity.Phone, Value: "79011112233"})
	if len(owners) != 1 || owners[0].ID != 10 {
		t.Fatalf("changed phone → %+v", owners)
	}
	if n := e.count(`SELECT count(*) FROM contacts WHERE portal_id = $1 AND id = 11`, pid); n != 0 {
		t.Fatal("contact deleted in the portal survived the sweep")
	}
	if n := e.count(`SELECT count(*) FROM contacts WHERE portal_id = $1 AND id = $2`, pid, newC.ID); n != 1 {
		t.Fatal("contact added without an event was not picked up")
	}
	if n := e.count(`SELECT count(*) FROM deals WHERE portal_id = $1 AND id = 3 AND closed AND stage_id = 'WON'`, pid); n != 1 {
		t.Fatal("deal change not reconciled")
	}
}

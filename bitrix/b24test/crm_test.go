package b24test_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"github.com/relay24/relay24/bitrix/b24test"
)

func TestListPaging(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	for i := 0; i < 120; i++ {
		e.p.AddContact(b24test.Contact{Name: fmt.Sprintf("N%d", i), AssignedByID: 1 + i%2})
	}
	tests := []struct {
		name     string
		params   map[string]any
		n        int
		total    float64
		next     any
		firstID  string
		hasTotal bool
	}{
		{"first page", map[string]any{}, 50, 120, 50.0, "1", true},
		{"second page", map[string]any{"start": 50}, 50, 120, 100.0, "51", true},
		{"last page", map[string]any{"start": 100}, 20, 120, nil, "101", true},
		{"desc", map[string]any{"order": map[string]any{"ID": "DESC"}}, 50, 120, 50.0, "120", true},
		{"filtered", map[string]any{"filter": map[string]any{"ASSIGNED_BY_ID": 2}}, 50, 60, 50.0, "2", true},
		{">ID", map[string]any{"filter": map[string]any{">ID": 100}, "order": map[string]any{"ID": "ASC"}}, 20, 20, nil, "101", true},
		{"@ID", map[string]any{"filter": map[string]any{"@ID": []any{3, 5, 7}}}, 3, 3, nil, "3", true},
		{"<=ID", map[string]any{"filter": map[string]any{"<=ID": 10, ">=ID": 5}}, 6, 6, nil, "5", true},
		{"no count", map[string]any{"start": -1, "filter": map[string]any{">ID": 0}, "order": map[string]any{"ID": "ASC"}}, 50, 0, nil, "1", true},
		{"order by name", map[string]any{"order": map[string]any{"NAME": "ASC"}}, 50, 120, 50.0, "1", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := e.call("crm.contact.list", tc.params).mustOK(t)
			items := a.list(t)
			if len(items) != tc.n {
				t.Fatalf("%d items, want %d", len(items), tc.n)
			}
			if items[0]["ID"] != tc.firstID {
				t.Errorf("first ID %v, want %s", items[0]["ID"], tc.firstID)
			}
			if a.Body["total"] != tc.total {
				t.Errorf("total %v, want %v", a.Body["total"], tc.total)
			}
			if a.Body["next"] != tc.next {
				t.Errorf("next %v, want %v", a.Body["next"], tc.next)
			}
		})
	}

	// The same through the form encoding (PHP bracket syntax).
	a := e.callForm("crm.contact.list", map[string]any{"filter": map[string]any{">ID": "110"}, "order": map[string]any{"ID": "ASC"}, "select": []string{"ID", "NAME"}}).mustOK(t)
	items := a.list(t)
	if len(items) != 10 || items[0]["ID"] != "111" {
		t.Fatalf("form list: %s", a.Raw)
	}
	if _, has := items[0]["LAST_NAME"]; has {
		t.Errorf("select ID,NAME returned LAST_NAME: %v", items[0])
	}
}

func TestFastListingOfLargePortal(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{Burst: -1})
	e.p.SeedCRM(100000, 100000)
	if e.p.Contacts() != 100000 || e.p.Deals() != 100000 {
		t.Fatalf("seeded %d contacts, %d deals", e.p.Contacts(), e.p.Deals())
	}
	// Walk every contact the way huge-data.md recommends: >ID, ID ASC,
	// start=-1, until a short page.
	last, seen := 0, 0
	for {
		a := e.call("crm.contact.list", map[string]any{
			"filter": map[string]any{">ID": last}, "order": map[string]any{"ID": "ASC"},
			"select": []string{"ID", "PHONE"}, "start": -1,
		}).mustOK(t)
		if _, has := a.Body["next"]; has {
			t.Fatalf("start=-1 answered next: %v", a.Body["next"])
		}
		items := a.list(t)
		for _, it := range items {
			id, _ := strconv.Atoi(it["ID"].(string))
			if id <= last {
				t.Fatalf("ids not increasing: %d after %d", id, last)
			}
			last = id
			if _, has := it["PHONE"]; !has {
				t.Fatalf("contact %d has no PHONE", id)
			}
		}
		seen += len(items)
		if len(items) < 50 {
			break
		}
	}
	if seen != 100000 {
		t.Fatalf("walked %d contacts, want 100000", seen)
	}
	// The total of a counted >ID list comes without scanning.
	a := e.call("crm.deal.list", map[string]any{"filter": map[string]any{">ID": 99990}}).mustOK(t)
	if a.Body["total"] != 10.0 {
		t.Errorf("deal total %v, want 10", a.Body["total"])
	}
	// Deals of a contact come from the index.
	d, _ := e.p.Deal(500)
	a = e.call("crm.deal.list", map[string]any{"filter": map[string]any{"CONTACT_ID": d.ContactIDs[0]}}).mustOK(t)
	found := false
	for _, it := range a.list(t) {
		if it["ID"] == "500" {
			found = true
		}
	}
	if !found {
		t.Errorf("deal 500 not listed for its contact %d: %s", d.ContactIDs[0], a.Raw)
	}
}

func TestCRMShapes(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	c := e.p.AddContact(b24test.Contact{Name: "John", SecondName: "Doe", LastName: "Smith", AssignedByID: 1,
		Phones: []b24test.Multi{{ValueType: "WORK", Value: "+13333333555"}},
		Emails: []b24test.Multi{{ValueType: "WORK", Value: "johnsmith@example.work"}}})
	a := e.call("crm.contact.get", map[string]any{"id": c.ID}).mustOK(t)
	got := a.Body["result"].(map[string]any)
	want := fixtureJSON(t, "crm.contact.get.response.json")["result"].(map[string]any)
	assertKeysCover(t, "crm.contact.get", want, got)
	phone := got["PHONE"].([]any)[0].(map[string]any)
	assertSameKeys(t, "multifield", want["PHONE"].([]any)[0].(map[string]any), phone)
	if phone["TYPE_ID"] != "PHONE" || phone["VALUE"] != "+13333333555" || phone["ID"] == "" {
		t.Errorf("phone %v", phone)
	}
	if got["HAS_PHONE"] != "Y" || got["ASSIGNED_BY_ID"] != "1" || got["ID"] != strconv.Itoa(c.ID) {
		t.Errorf("contact %v", got)
	}

	// List items: the documented sample's fields, multifields only on demand.
	a = e.call("crm.contact.list", map[string]any{"select": []string{"*", "EMAIL"}}).mustOK(t)
	assertKeysCover(t, "crm.contact.list item", fixtureJSON(t, "crm.contact.list.response.json")["result"].([]any)[0].(map[string]any), a.list(t)[0])
	a = e.call("crm.contact.list", nil).mustOK(t)
	if _, has := a.list(t)[0]["PHONE"]; has {
		t.Error("PHONE returned without being selected")
	}

	d := e.p.AddDeal(b24test.Deal{Title: "New Deal #1", StageID: "PREPARATION", AssignedByID: 1, ContactIDs: []int{c.ID}})
	a = e.call("crm.deal.get", map[string]any{"id": d.ID}).mustOK(t)
	dg := a.Body["result"].(map[string]any)
	assertKeysCover(t, "crm.deal.get", fixtureJSON(t, "crm.deal.get.response.json")["result"].(map[string]any), dg)
	if dg["CONTACT_ID"] != strconv.Itoa(c.ID) || dg["STAGE_SEMANTIC_ID"] != "P" || dg["CLOSED"] != "N" || dg["CATEGORY_ID"] != "0" {
		t.Errorf("deal %v", dg)
	}
	a = e.call("crm.deal.list", nil).mustOK(t)
	assertKeysCover(t, "crm.deal.list item", fixtureJSON(t, "crm.deal.list.response.json")["result"].([]any)[0].(map[string]any), a.list(t)[0])

	l := e.p.AddLead(b24test.Lead{Title: "Lead #1591", StatusID: "IN_PROCESS",
		Phones: []b24test.Multi{{ValueType: "OTHER", Value: "+15454777777"}},
		IMs:    []b24test.Multi{{ValueType: "OPENLINE", Value: "imol|livechat|1|67|21"}}})
	a = e.call("crm.lead.get", map[string]any{"id": l.ID}).mustOK(t)
	lg := a.Body["result"].(map[string]any)
	assertKeysCover(t, "crm.lead.get", fixtureJSON(t, "crm.lead.get.response.json")["result"].(map[string]any), lg)
	if lg["HAS_IMOL"] != "Y" || lg["STATUS_SEMANTIC_ID"] != "P" {
		t.Errorf("lead %v", lg)
	}

	a = e.call("crm.deal.contact.items.get", map[string]any{"id": d.ID}).mustOK(t)
	assertSameKeys(t, "deal contact item", fixtureJSON(t, "crm.deal.contact.items.get.response.json")["result"].([]any)[0].(map[string]any), a.list(t)[0])
}

func TestCRMWrites(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	a := e.call("crm.contact.add", map[string]any{"FIELDS": map[string]any{
		"NAME": "Ivan", "LAST_NAME": "Petrov", "COMMENTS": "vip",
		"PHONE": []any{map[string]any{"VALUE": "+7 916 123-45-67", "VALUE_TYPE": "MOBILE"}},
	}, "PARAMS": map[string]any{"REGISTER_SONET_EVENT": "N"}}).mustOK(t)
	assertSameKeys(t, "crm.contact.add", fixtureJSON(t, "crm.contact.add.response.json"), a.Body)
	id := int(a.Body["result"].(float64))
	c, ok := e.p.Contact(id)
	if !ok || c.Name != "Ivan" || len(c.Phones) != 1 || c.Phones[0].ValueType != "MOBILE" {
		t.Fatalf("stored %+v", c)
	}
	phoneID := c.Phones[0].ID

	// Update: change the phone by ID, add an e-mail, keep the rest.
	e.callForm("crm.contact.update", map[string]any{"id": id, "fields": map[string]any{
		"PHONE": []any{map[string]any{"ID": phoneID, "VALUE": "+79161234568"}},
		"EMAIL": []any{map[string]any{"VALUE": "ivan@example.ru"}},
	}}).mustOK(t)
	c, _ = e.p.Contact(id)
	if c.Name != "Ivan" || len(c.Phones) != 1 || c.Phones[0].Value != "+79161234568" || len(c.Emails) != 1 || !c.DateModify.After(c.DateCreate.Add(-1)) {
		t.Fatalf("after update %+v", c)
	}
	got := e.call("crm.contact.get", map[string]any{"id": id}).mustOK(t).Body["result"].(map[string]any)
	if got["COMMENTS"] != "vip" || got["MODIFY_BY_ID"] != "1" {
		t.Errorf("extra fields lost: %v", got)
	}
	// Delete by ID + DELETE=Y.
	e.call("crm.contact.update", map[string]any{"id": id, "fields": map[string]any{"PHONE": []any{map[string]any{"ID": phoneID, "DELETE": "Y"}}}}).mustOK(t)
	if c, _ = e.p.Contact(id); len(c.Phones) != 0 {
		t.Errorf("phone not deleted: %+v", c.Phones)
	}

	tests := []struct {
		name   string
		method string
		params map[string]any
		desc   string
	}{
		{"update without id", "crm.contact.update", map[string]any{"fields": map[string]any{"NAME": "x"}}, "ID is not defined or invalid."},
		{"update unknown", "crm.contact.update", map[string]any{"id": 9999, "fields": map[string]any{"NAME": "x"}}, "Not found"},
		{"add without fields", "crm.contact.add", map[string]any{}, "The parameter 'fields' must be array."},
		{"delete unknown", "crm.deal.delete", map[string]any{"id": 9999}, "Not found"},
		{"deal in a stage of another pipeline", "crm.deal.add", map[string]any{"fields": map[string]any{"STAGE_ID": "C7:NEW"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := e.call(tc.method, tc.params)
			assertError(t, a, 400, "")
			if tc.desc != "" && a.Body["error_description"] != tc.desc {
				t.Errorf("description %q, want %q", a.Body["error_description"], tc.desc)
			}
		})
	}

	// Deals: pipelines, stages, contacts.
	e.p.AddDealCategory(1, "Repeat sales")
	a = e.call("crm.deal.add", map[string]any{"fields": map[string]any{"TITLE": "T", "CATEGORY_ID": 1, "CONTACT_IDS": []any{id}}}).mustOK(t)
	did := int(a.Body["result"].(float64))
	d, _ := e.p.Deal(did)
	if d.StageID != "C1:NEW" || d.CategoryID != 1 || len(d.ContactIDs) != 1 || d.ContactIDs[0] != id {
		t.Fatalf("deal %+v", d)
	}
	e.call("crm.deal.update", map[string]any{"id": did, "fields": map[string]any{"STAGE_ID": "C1:WON"}}).mustOK(t)
	if d, _ = e.p.Deal(did); d.StageSemantic != "S" || !d.Closed {
		t.Errorf("won deal %+v", d)
	}
	cats := e.call("crm.category.list", map[string]any{"entityTypeId": 2}).mustOK(t).Body["result"].(map[string]any)["categories"].([]any)
	if len(cats) != 2 || cats[0].(map[string]any)["name"] != "General" {
		t.Errorf("categories %v", cats)
	}
	st := e.call("crm.status.list", map[string]any{"filter": map[string]any{"ENTITY_ID": "DEAL_STAGE_1"}}).mustOK(t).list(t)
	if len(st) == 0 || st[0]["STATUS_ID"] != "C1:NEW" {
		t.Errorf("stages of pipeline 1: %v", st)
	}
	// Deleting the contact unbinds it.
	e.call("crm.contact.delete", map[string]any{"id": id}).mustOK(t)
	if d, _ = e.p.Deal(did); len(d.ContactIDs) != 0 {
		t.Errorf("contact still bound: %+v", d)
	}
}

func TestDuplicateFindByComm(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	c1 := e.p.AddContact(b24test.Contact{Name: "A", Phones: []b24test.Multi{{Value: "+7 (916) 123-45-67"}}})
	c2 := e.p.AddContact(b24test.Contact{Name: "B", Phones: []b24test.Multi{{Value: "79161234567"}}, Emails: []b24test.Multi{{Value: "B@Example.ru"}}})
	e.p.AddContact(b24test.Contact{Name: "C", Phones: []b24test.Multi{{Value: "89161234567"}}})
	l := e.p.AddLead(b24test.Lead{Title: "L", Phones: []b24test.Multi{{Value: "7-916-123-45-67"}}})

	a := e.call("crm.duplicate.findbycomm", map[string]any{"type": "PHONE", "values": []any{"+79161234567"}}).mustOK(t)
	res := a.Body["result"].(map[string]any)
	if !jsonEqual(res["CONTACT"], []int{c1.ID, c2.ID}) || !jsonEqual(res["LEAD"], []int{l.ID}) {
		t.Errorf("phone duplicates %s", a.Raw)
	}
	fx := fixtureJSON(t, "crm.duplicate.findbycomm.response.json")["result"].(map[string]any)
	if _, isList := fx["CONTACT"].([]any); !isList {
		t.Fatal("fixture changed")
	}
	a = e.call("crm.duplicate.findbycomm", map[string]any{"type": "EMAIL", "values": []any{"b@example.ru"}, "entity_type": "CONTACT"}).mustOK(t)
	if !jsonEqual(a.Body["result"], map[string]any{"CONTACT": []int{c2.ID}}) {
		t.Errorf("email duplicates %s", a.Raw)
	}
	a = e.call("crm.duplicate.findbycomm", map[string]any{"type": "PHONE", "values": []any{"+70000000000"}}).mustOK(t)
	if string(mustJSON(a.Body["result"])) != "[]" {
		t.Errorf("no duplicates must be [], got %s", a.Raw)
	}
	many := make([]any, 21)
	for i := range many {
		many[i] = "+7916000000" + strconv.Itoa(i)
	}
	assertError(t, e.call("crm.duplicate.findbycomm", map[string]any{"type": "PHONE", "values": many}), 400, "")
	assertError(t, e.call("crm.duplicate.findbycomm", map[string]any{"type": "FAX", "values": []any{"1"}}), 400, "")
}

func TestTimelineAndNotifications(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	d := e.p.AddDeal(b24test.Deal{Title: "D"})

	// Upper-case FIELDS is refused since crm 23.100.0.
	assertError(t, e.call("crm.timeline.comment.add", map[string]any{"FIELDS": map[string]any{"ENTITY_ID": d.ID, "ENTITY_TYPE": "deal", "COMMENT": "hi"}}), 400, "ERROR_ARGUMENT")
	assertError(t, e.call("crm.timeline.comment.add", map[string]any{"fields": map[string]any{"ENTITY_ID": 999, "ENTITY_TYPE": "deal", "COMMENT": "hi"}}), 400, "")
	a := e.call("crm.timeline.comment.add", map[string]any{"fields": map[string]any{"ENTITY_ID": d.ID, "ENTITY_TYPE": "deal", "COMMENT": "Client wrote: hi"}}).mustOK(t)
	if _, isNum := a.Body["result"].(float64); !isNum {
		t.Errorf("comment id %s", a.Raw)
	}
	a = e.call("crm.timeline.logmessage.add", map[string]any{"fields": map[string]any{"entityTypeId": 2, "entityId": d.ID, "title": "Telegram", "text": "hello", "iconCode": "info"}}).mustOK(t)
	assertSameKeys(t, "logMessage", fixtureJSON(t, "crm.timeline.logmessage.add.response.json")["result"].(map[string]any)["logMessage"].(map[string]any),
		a.Body["result"].(map[string]any)["logMessage"].(map[string]any))
	a = e.call("crm.activity.todo.add", map[string]any{"ownerTypeId": 2, "ownerId": d.ID, "deadline": "2030-01-01T10:00:00+03:00", "title": "Call back"}).mustOK(t)
	assertSameKeys(t, "todo", fixtureJSON(t, "crm.activity.todo.add.response.json")["result"].(map[string]any), a.Body["result"].(map[string]any))
	tl := e.p.Timeline()
	if len(tl) != 3 || tl[0].Kind != "comment" || tl[0].Text != "Client wrote: hi" || tl[1].Title != "Telegram" || tl[2].Kind != "todo" || tl[2].ResponsibleID != 1 {
		t.Errorf("timeline %+v", tl)
	}

	assertError(t, e.call("im.notify.system.add", map[string]any{"MESSAGE": "x"}), 400, "USER_ID_EMPTY")
	assertError(t, e.call("im.notify.system.add", map[string]any{"USER_ID": 1}), 400, "MESSAGE_EMPTY")
	assertError(t, e.call("im.notify.personal.add", map[string]any{"USER_ID": 42, "MESSAGE": "x"}), 400, "USER_NOT_FOUND")
	a = e.call("im.notify.system.add", map[string]any{"USER_ID": 1, "MESSAGE": "New chat"}).mustOK(t)
	assertSameKeys(t, "notify", fixtureJSON(t, "im.notify.system.add.response.json"), a.Body)
	if n := e.p.Notifications(); len(n) != 1 || n[0].ToUserID != 1 || n[0].Type != "SYSTEM" || n[0].Message != "New chat" {
		t.Errorf("notifications %+v", n)
	}
}

func TestUsersAndDepartments(t *testing.T) {
	e := newEnv(t, b24test.PortalOptions{})
	e.p.AddDepartment(b24test.Department{ID: 2, Name: "Sales", Head: 2})
	e.p.AddUser(b24test.User{ID: 2, Name: "Olga", LastName: "Sales", Active: true, Departments: []int{2}})
	e.p.AddUser(b24test.User{ID: 3, Name: "Old", Active: false})
	e.p.AddUser(b24test.User{ID: 4, Name: "Bot", Active: true, UserType: "bot"})
	for i := 10; i < 70; i++ {
		e.p.AddUser(b24test.User{ID: i, Name: "U", Active: true})
	}

	a := e.call("user.get", nil).mustOK(t)
	items := a.list(t)
	assertKeysCover(t, "user.get item", fixtureJSON(t, "user.get.response.json")["result"].([]any)[0].(map[string]any), items[0])
	if a.Body["total"] != 63.0 || a.Body["next"] != 50.0 || items[0]["ACTIVE"] != true {
		t.Errorf("user.get: total %v next %v", a.Body["total"], a.Body["next"])
	}
	a = e.call("user.get", map[string]any{"FILTER": map[string]any{"ACTIVE": true, "UF_DEPARTMENT": 2}}).mustOK(t)
	if items = a.list(t); len(items) != 1 || items[0]["ID"] != "2" || !jsonEqual(items[0]["UF_DEPARTMENT"], []int{2}) {
		t.Errorf("sales users: %s", a.Raw)
	}
	a = e.call("user.get", map[string]any{"ID": 3}).mustOK(t)
	if items = a.list(t); len(items) != 1 || items[0]["ACTIVE"] != false {
		t.Errorf("top-level filter: %s", a.Raw)
	}
	a = e.call("user.get", map[string]any{"ADMIN_MODE": true, "FILTER": map[string]any{"ID": 4}}).mustOK(t)
	if len(a.list(t)) != 1 {
		t.Errorf("admin mode shows bots: %s", a.Raw)
	}
	if e.call("user.admin", nil).mustOK(t).Body["result"] != true {
		t.Error("user 1 is admin")
	}
	tok2 := e.p.IssueTokens(2)
	if e.callAs(tok2.Access, "user.admin", nil).mustOK(t).Body["result"] != false {
		t.Error("user 2 is not admin")
	}
	pr := e.callAs(tok2.Access, "profile", nil).mustOK(t)
	assertSameKeys(t, "profile", fixtureJSON(t, "profile.response.json")["result"].(map[string]any), pr.Body["result"].(map[string]any))

	a = e.call("department.get", nil).mustOK(t)
	deps := a.list(t)
	assertSameKeys(t, "department", fixtureJSON(t, "department.get.response.json")["result"].([]any)[0].(map[string]any), map[string]any{"ID": 1, "NAME": 1, "SORT": 1, "PARENT": 1})
	if len(deps) != 2 || deps[1]["PARENT"] != "1" || deps[1]["UF_HEAD"] != "2" || deps[1]["SORT"] != 500.0 {
		t.Errorf("departments %s", a.Raw)
	}
	if _, has := deps[0]["PARENT"]; has {
		t.Errorf("root department has a parent: %v", deps[0])
	}
	if items := e.call("department.get", map[string]any{"PARENT": 1}).mustOK(t).list(t); len(items) != 1 || items[0]["ID"] != "2" {
		t.Errorf("department.get?PARENT=1: %v", items)
	}

	info := e.call("app.info", nil).mustOK(t).Body["result"].(map[string]any)
	assertSameKeys(t, "app.info", fixtureJSON(t, "app.info.response.json")["result"].(map[string]any), info)
	if info["INSTALLED"] != false {
		t.Errorf("INSTALLED before install: %v", info)
	}
	e.p.InstallFinish()
	if e.call("app.info", nil).mustOK(t).Body["result"].(map[string]any)["INSTALLED"] != true {
		t.Error("INSTALLED after installFinish")
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

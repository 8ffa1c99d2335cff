package crmsync

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/relay24/relay24/identity"
	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/store/storetest"
)

func TestParseRecordsLeniently(t *testing.T) {
	c, err := parseContact(json.RawMessage(`{"ID":"75","NAME":"Anastasia","LAST_NAME":"Ilyina","ASSIGNED_BY_ID":"6",
		"DATE_MODIFY":"2024-02-26T00:00:00+02:00","PHONE":[{"ID":"156","VALUE_TYPE":"WORK","VALUE":"+7 999 111-22-33","TYPE_ID":"PHONE"}],
		"IM":[{"ID":"157","VALUE_TYPE":"TELEGRAM","VALUE":"@Ana","TYPE_ID":"IM"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != 75 || c.Name != "Anastasia Ilyina" || c.AssignedByID != 6 || c.DateModify.IsZero() || len(c.Identities) != 2 ||
		c.Identities[0] != (identity.ID{Kind: identity.Phone, Value: "79991112233"}) {
		t.Fatalf("contact %+v", c)
	}
	d, err := parseDeal(json.RawMessage(`{"ID":37,"TITLE":"[A] Deal","CATEGORY_ID":"1","STAGE_ID":"C1:NEW","CLOSED":"N","ASSIGNED_BY_ID":1,"CONTACT_ID":null}`))
	if err != nil || d.ID != 37 || d.CategoryID != 1 || d.Closed || d.ContactID != 0 {
		t.Fatalf("deal %+v %v", d, err)
	}
	for name, raw := range map[string]string{
		"no ID":             `{"NAME":"x"}`,
		"ID not a number":   `{"ID":"abc"}`,
		"phones not a list": `{"ID":"5","PHONE":"+7999"}`,
		"bad date":          `{"ID":"5","DATE_MODIFY":"yesterday"}`,
		"not an object":     `[1,2]`,
	} {
		if _, err := parseContact(json.RawMessage(raw)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// Malformed records in a batch are skipped and counted; the rest is stored.
func TestStoreBatchSkipsMalformedRecords(t *testing.T) {
	db := storetest.DB(t)
	st := store.New(db)
	ctx := context.Background()
	var portalID int64
	if err := db.Get(&portalID, `INSERT INTO portals (member_id, domain, client_endpoint) VALUES ('m', 'd', 'https://d/rest/') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SyncStateOf(ctx, portalID, "contacts"); err != nil {
		t.Fatal(err)
	}
	s := &Syncer{Store: st, Log: slog.New(slog.DiscardHandler)}
	items := []json.RawMessage{
		json.RawMessage(`{"ID":"1","NAME":"Good"}`),
		json.RawMessage(`{"ID":"2","PHONE":{"oops":true}}`),
		json.RawMessage(`{"ID":"3","NAME":"Also good","PHONE":[{"TYPE_ID":"PHONE","VALUE_TYPE":"WORK","VALUE":"89990000003"}]}`),
		json.RawMessage(`{"NAME":"no id"}`),
	}
	if err := s.storeBatch(ctx, portalID, "contacts", items, true, s.Log); err != nil {
		t.Fatal(err)
	}
	var n, done, skipped int
	var cursor int64
	_ = db.Get(&n, `SELECT count(*) FROM contacts`)
	_ = db.QueryRow(`SELECT done, skipped, cursor_id FROM sync_state WHERE entity = 'contacts'`).Scan(&done, &skipped, &cursor)
	if n != 2 || done != 2 || skipped != 2 || cursor != 3 {
		t.Fatalf("stored %d, done %d, skipped %d, cursor %d", n, done, skipped, cursor)
	}
}

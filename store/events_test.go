package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/store/storetest"
)

// A portal event whose fields hold a NUL or invalid UTF-8 (whatever let them
// through the form parser) is recorded repaired, not refused by jsonb.
func TestRecordEventWithUnstorableText(t *testing.T) {
	db := storetest.DB(t)
	s := store.New(db)
	ctx := context.Background()
	var portal int64
	if err := db.Get(&portal, `INSERT INTO portals (member_id, domain, client_endpoint) VALUES ('m', 'p.example', 'https://p.example/rest/') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	id, err := s.RecordEvent(ctx, portal, "ONCRMCONTACTUPDATE", map[string]any{
		"event": "ONCRMCONTACTUPDATE",
		"data":  map[string]any{"FIELDS": map[string]any{"ID": "4\x002", "NAME": "Ир\xffина"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var fieldID, name string
	if err := db.QueryRow(`SELECT payload->'data'->'FIELDS'->>'ID', payload->'data'->'FIELDS'->>'NAME' FROM portal_events WHERE id = $1`, id).
		Scan(&fieldID, &name); err != nil {
		t.Fatal(err)
	}
	if fieldID != "42" || name != "Ир\uFFFDина" || strings.ContainsRune(name, 0) {
		t.Fatalf("stored ID %q, NAME %q", fieldID, name)
	}
}

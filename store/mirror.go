package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Mirror is what relay24 remembers of a portal's CRM, in id order: its
// records, the deals' contacts and the clients' identities. The demo rebuilds
// its emulated portal from it.
type Mirror struct {
	Contacts []struct {
		ID       int           `db:"id"`
		Name     string        `db:"name"`
		Assigned sql.NullInt64 `db:"assigned_by_id"`
	}
	Leads []struct {
		ID       int           `db:"id"`
		Title    string        `db:"title"`
		Name     string        `db:"name"`
		Status   string        `db:"status_id"`
		Assigned sql.NullInt64 `db:"assigned_by_id"`
		Contact  sql.NullInt64 `db:"contact_id"`
	}
	Deals []struct {
		ID       int           `db:"id"`
		Title    string        `db:"title"`
		Stage    string        `db:"stage_id"`
		Category int           `db:"category_id"`
		Assigned sql.NullInt64 `db:"assigned_by_id"`
		Contact  sql.NullInt64 `db:"contact_id"`
	}
	// DealContacts are the deals' contacts, each deal's primary first.
	DealContacts []struct {
		Deal    int `db:"deal_id"`
		Contact int `db:"contact_id"`
	}
	Identities []struct {
		OwnerType string `db:"owner_type"`
		OwnerID   int    `db:"owner_id"`
		Kind      string `db:"kind"`
		Value     string `db:"value"`
	}
}

// MirrorOf reads a portal's whole mirror.
func (s *Store) MirrorOf(ctx context.Context, portalID int64) (*Mirror, error) {
	var m Mirror
	for _, q := range []struct {
		what string
		dest any
		sql  string
	}{
		{"contacts", &m.Contacts, `SELECT id, name, assigned_by_id FROM contacts WHERE portal_id = $1 ORDER BY id`},
		{"leads", &m.Leads, `SELECT id, title, name, status_id, assigned_by_id, contact_id FROM leads WHERE portal_id = $1 ORDER BY id`},
		{"deals", &m.Deals, `SELECT id, title, stage_id, category_id, assigned_by_id, contact_id FROM deals WHERE portal_id = $1 ORDER BY id`},
		{"deal contacts", &m.DealContacts, `SELECT deal_id, contact_id FROM deal_contacts WHERE portal_id = $1
			ORDER BY deal_id, is_primary DESC, sort, contact_id`},
		{"identities", &m.Identities, `SELECT owner_type, owner_id, kind, value FROM client_identities
			WHERE portal_id = $1 ORDER BY owner_type, owner_id, kind, value`},
	} {
		if err := s.db.SelectContext(ctx, q.dest, q.sql, portalID); err != nil {
			return nil, fmt.Errorf("store: reading the mirrored %s of portal %d: %w", q.what, portalID, err)
		}
	}
	return &m, nil
}

package demo

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/identity"
)

// Restore makes the emulated portal, rebuilt in memory at every start, agree
// with what relay24's database remembers of it. The seeded company comes
// back by itself (the seed is deterministic: the same ids every time), but
// the records relay24 created there — a new client's contact, deal or lead —
// and the assignees it changed (the first to answer takes the client) exist
// only in relay24's mirror. Without them a restarted demo's dialogs would
// point at records the portal no longer has, and its timeline writes would
// fail. It returns how many records it added or changed.
func Restore(ctx context.Context, db *sqlx.DB, portalID int64, p *b24test.Portal) (int, error) {
	comms, err := mirroredComms(ctx, db, portalID)
	if err != nil {
		return 0, err
	}
	n := 0

	var contacts []struct {
		ID       int           `db:"id"`
		Name     string        `db:"name"`
		Assigned sql.NullInt64 `db:"assigned_by_id"`
	}
	if err := db.SelectContext(ctx, &contacts, `SELECT id, name, assigned_by_id FROM contacts WHERE portal_id = $1 ORDER BY id`, portalID); err != nil {
		return n, fmt.Errorf("demo: reading the mirrored contacts: %w", err)
	}
	for _, m := range contacts {
		c, ok := p.Contact(m.ID)
		switch {
		case !ok:
			cm := comms[owner{"contact", m.ID}]
			p.AddContact(b24test.Contact{ID: m.ID, Name: m.Name, AssignedByID: int(m.Assigned.Int64),
				Phones: cm.phones, Emails: cm.emails, IMs: cm.ims})
			n++
		case m.Assigned.Valid && int(m.Assigned.Int64) != c.AssignedByID:
			c.AssignedByID = int(m.Assigned.Int64)
			p.UpdateContact(c)
			n++
		}
	}

	var leads []struct {
		ID       int           `db:"id"`
		Title    string        `db:"title"`
		Name     string        `db:"name"`
		Status   string        `db:"status_id"`
		Assigned sql.NullInt64 `db:"assigned_by_id"`
		Contact  sql.NullInt64 `db:"contact_id"`
	}
	if err := db.SelectContext(ctx, &leads, `SELECT id, title, name, status_id, assigned_by_id, contact_id FROM leads WHERE portal_id = $1 ORDER BY id`, portalID); err != nil {
		return n, fmt.Errorf("demo: reading the mirrored leads: %w", err)
	}
	for _, m := range leads {
		l, ok := p.Lead(m.ID)
		switch {
		case !ok:
			cm := comms[owner{"lead", m.ID}]
			p.AddLead(b24test.Lead{ID: m.ID, Title: m.Title, Name: m.Name, StatusID: m.Status, AssignedByID: int(m.Assigned.Int64),
				ContactID: int(m.Contact.Int64), Phones: cm.phones, Emails: cm.emails, IMs: cm.ims})
			n++
		case m.Assigned.Valid && int(m.Assigned.Int64) != l.AssignedByID:
			l.AssignedByID = int(m.Assigned.Int64)
			p.UpdateLead(l)
			n++
		}
	}

	var deals []struct {
		ID       int           `db:"id"`
		Title    string        `db:"title"`
		Stage    string        `db:"stage_id"`
		Category int           `db:"category_id"`
		Assigned sql.NullInt64 `db:"assigned_by_id"`
		Contact  sql.NullInt64 `db:"contact_id"`
	}
	if err := db.SelectContext(ctx, &deals, `SELECT id, title, stage_id, category_id, assigned_by_id, contact_id FROM deals WHERE portal_id = $1 ORDER BY id`, portalID); err != nil {
		return n, fmt.Errorf("demo: reading the mirrored deals: %w", err)
	}
	var links []struct {
		Deal    int `db:"deal_id"`
		Contact int `db:"contact_id"`
	}
	if err := db.SelectContext(ctx, &links, `SELECT deal_id, contact_id FROM deal_contacts WHERE portal_id = $1
		ORDER BY deal_id, is_primary DESC, sort, contact_id`, portalID); err != nil {
		return n, fmt.Errorf("demo: reading the mirrored deal contacts: %w", err)
	}
	dealContacts := map[int][]int{}
	for _, l := range links {
		dealContacts[l.Deal] = append(dealContacts[l.Deal], l.Contact)
	}
	for _, m := range deals {
		d, ok := p.Deal(m.ID)
		switch {
		case !ok:
			ids := dealContacts[m.ID]
			if len(ids) == 0 && m.Contact.Valid {
				ids = []int{int(m.Contact.Int64)}
			}
			p.AddDeal(b24test.Deal{ID: m.ID, Title: m.Title, StageID: m.Stage, CategoryID: m.Category,
				AssignedByID: int(m.Assigned.Int64), ContactIDs: ids})
			n++
		case m.Assigned.Valid && int(m.Assigned.Int64) != d.AssignedByID:
			d.AssignedByID = int(m.Assigned.Int64)
			p.UpdateDeal(d)
			n++
		}
	}
	return n, nil
}

type owner struct {
	kind string // contact or lead
	id   int
}

type multis struct{ phones, emails, ims []b24test.Multi }

// mirroredComms rebuilds the phones, e-mails and messenger accounts of
// mirrored records from relay24's identity index, in the spelling relay24
// itself writes them when it creates a client.
func mirroredComms(ctx context.Context, db *sqlx.DB, portalID int64) (map[owner]multis, error) {
	var rows []struct {
		OwnerType string `db:"owner_type"`
		OwnerID   int    `db:"owner_id"`
		Kind      string `db:"kind"`
		Value     string `db:"value"`
	}
	if err := db.SelectContext(ctx, &rows, `SELECT owner_type, owner_id, kind, value FROM client_identities
		WHERE portal_id = $1 ORDER BY owner_type, owner_id, kind, value`, portalID); err != nil {
		return nil, fmt.Errorf("demo: reading the mirrored identities: %w", err)
	}
	out := map[owner]multis{}
	for _, r := range rows {
		k := owner{r.OwnerType, r.OwnerID}
		m := out[k]
		switch r.Kind {
		case identity.Phone:
			m.phones = append(m.phones, b24test.Multi{ValueType: "MOBILE", Value: "+" + r.Value})
		case identity.Email:
			m.emails = append(m.emails, b24test.Multi{ValueType: "WORK", Value: r.Value})
		default:
			v := r.Value
			if r.Kind == identity.Telegram && strings.Trim(v, "0123456789") != "" {
				v = "@" + v // a username; numeric chat ids stay as they are
			}
			m.ims = append(m.ims, b24test.Multi{ValueType: strings.ToUpper(r.Kind), Value: v})
		}
		out[k] = m
	}
	return out, nil
}

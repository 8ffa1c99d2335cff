package demo

import (
	"context"
	"fmt"
	"strings"

	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/identity"
	"github.com/relay24/relay24/store"
)

// Restore makes the emulated portal, rebuilt in memory at every start, agree
// with what relay24's database remembers of it. The seeded company comes
// back by itself (the seed is deterministic: the same ids every time), but
// the records relay24 created there — a new client's contact, deal or lead —
// and the assignees it changed (the first to answer takes the client) exist
// only in relay24's mirror. Without them a restarted demo's dialogs would
// point at records the portal no longer has, and its timeline writes would
// fail. It returns how many records it added or changed.
func Restore(ctx context.Context, st *store.Store, portalID int64, p *b24test.Portal) (int, error) {
	mir, err := st.MirrorOf(ctx, portalID)
	if err != nil {
		return 0, fmt.Errorf("demo: %w", err)
	}
	comms := mirroredComms(mir)
	n := 0

	for _, m := range mir.Contacts {
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

	for _, m := range mir.Leads {
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

	dealContacts := map[int][]int{}
	for _, l := range mir.DealContacts {
		dealContacts[l.Deal] = append(dealContacts[l.Deal], l.Contact)
	}
	for _, m := range mir.Deals {
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
func mirroredComms(mir *store.Mirror) map[owner]multis {
	out := map[owner]multis{}
	for _, r := range mir.Identities {
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
	return out
}

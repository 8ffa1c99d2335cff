package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/relay24/relay24/identity"
	"github.com/relay24/relay24/store/pgsafe"
)

// Department is a unit of the company structure.
type Department struct {
	ID       int64         `db:"id"`
	Name     string        `db:"name"`
	ParentID sql.NullInt64 `db:"parent_id"`
	HeadID   sql.NullInt64 `db:"head_id"`
	Sort     int           `db:"sort"`
	Path     pq.Int64Array `db:"path"`
}

// ReplaceDepartments stores the whole company structure as listed, computing
// each department's path from the root; departments no longer listed go.
func (s *Store) ReplaceDepartments(ctx context.Context, portalID int64, deps []Department) error {
	byID := make(map[int64]*Department, len(deps))
	for i := range deps {
		byID[deps[i].ID] = &deps[i]
	}
	for i := range deps {
		deps[i].Path = departmentPath(byID, &deps[i])
	}
	return s.Tx(ctx, func(tx *Store) error {
		ids := make([]int64, len(deps))
		for i, d := range deps {
			ids[i] = d.ID
			_, err := tx.db.ExecContext(ctx, `
				INSERT INTO departments (portal_id, id, name, parent_id, head_id, sort, path) VALUES ($1, $2, $3, $4, $5, $6, $7)
				ON CONFLICT (portal_id, id) DO UPDATE SET name = EXCLUDED.name, parent_id = EXCLUDED.parent_id,
					head_id = EXCLUDED.head_id, sort = EXCLUDED.sort, path = EXCLUDED.path`,
				portalID, d.ID, pgsafe.Text(d.Name), d.ParentID, d.HeadID, d.Sort, d.Path)
			if err != nil {
				return fmt.Errorf("store: upsert department %d: %w", d.ID, err)
			}
		}
		if _, err := tx.db.ExecContext(ctx, `DELETE FROM departments WHERE portal_id = $1 AND NOT (id = ANY($2))`, portalID, pq.Int64Array(ids)); err != nil {
			return fmt.Errorf("store: drop departments: %w", err)
		}
		return nil
	})
}

// departmentPath walks up the parents; a cycle or a missing parent ends the
// walk there (the portal's data is not trusted to be a tree).
func departmentPath(byID map[int64]*Department, d *Department) pq.Int64Array {
	path := []int64{d.ID}
	seen := map[int64]bool{d.ID: true}
	for cur := d; cur.ParentID.Valid; {
		p, ok := byID[cur.ParentID.Int64]
		if !ok || seen[p.ID] {
			break
		}
		seen[p.ID] = true
		path = append(path, p.ID)
		cur = p
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return path
}

// DepartmentSubtree is the department and every department below it.
func (s *Store) DepartmentSubtree(ctx context.Context, portalID int64, depIDs []int64) ([]int64, error) {
	var ids []int64
	err := s.db.SelectContext(ctx, &ids, `SELECT id FROM departments WHERE portal_id = $1 AND path && $2 ORDER BY id`,
		portalID, pq.Int64Array(depIDs))
	if err != nil {
		return nil, fmt.Errorf("store: department subtree: %w", err)
	}
	return ids, nil
}

// UserHeads are the heads over a user: of each of his departments, or, where
// he heads it himself, the nearest head above it.
func (s *Store) UserHeads(ctx context.Context, portalID, userID int64) ([]int64, error) {
	var ids []int64
	err := s.db.SelectContext(ctx, &ids, `
		SELECT DISTINCT h.head FROM users u
		CROSS JOIN LATERAL unnest(u.departments) AS ud(dep)
		JOIN departments d ON d.portal_id = u.portal_id AND d.id = ud.dep
		CROSS JOIN LATERAL (
			SELECT a.head_id AS head FROM unnest(d.path) WITH ORDINALITY AS p(id, depth)
			JOIN departments a ON a.portal_id = u.portal_id AND a.id = p.id
			WHERE a.head_id IS NOT NULL AND a.head_id <> u.id
			ORDER BY p.depth DESC LIMIT 1
		) h
		WHERE u.portal_id = $1 AND u.id = $2
		ORDER BY 1`, portalID, userID)
	if err != nil {
		return nil, fmt.Errorf("store: user heads: %w", err)
	}
	return ids, nil
}

// SyncedUser is a user as the listing reports him.
type SyncedUser struct {
	ID          int64
	Name        string
	Email       string
	Active      bool
	UserType    string
	Departments []int64
}

// UpsertSyncedUsers stores listed users (is_admin stays as the user's own
// login established it) and frees the dialogs of those now deactivated.
func (s *Store) UpsertSyncedUsers(ctx context.Context, portalID int64, users []SyncedUser) error {
	if len(users) == 0 {
		return nil
	}
	ids, names, emails, types := make([]int64, len(users)), make([]string, len(users)), make([]string, len(users)), make([]string, len(users))
	actives := make([]bool, len(users))
	deps := make([]string, len(users))
	for i, u := range users {
		ids[i], names[i], emails[i], types[i], actives[i] = u.ID, pgsafe.Text(u.Name), pgsafe.Text(u.Email), pgsafe.Text(u.UserType), u.Active
		v, _ := pq.Int64Array(u.Departments).Value()
		if v == nil {
			v = "{}"
		}
		deps[i] = v.(string)
	}
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO users (portal_id, id, name, email, active, user_type, departments, synced_at)
		SELECT $1, id, name, email, active, utype, deps::bigint[], now()
		FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bool[], $6::text[], $7::text[]) AS t(id, name, email, active, utype, deps)
		ON CONFLICT (portal_id, id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, active = EXCLUDED.active,
			user_type = EXCLUDED.user_type, departments = EXCLUDED.departments, synced_at = now(), updated_at = now()`,
		portalID, pq.Array(ids), pq.Array(names), pq.Array(emails), pq.Array(actives), pq.Array(types), pq.Array(deps))
	if err != nil {
		return fmt.Errorf("store: upsert users: %w", err)
	}
	return nil
}

// DeactivateUsersNotIn marks users the portal no longer lists as inactive:
// those missing from a listing that began at listed, unless written since
// (an employee who joined and opened relay24 while the listing ran is no
// former one).
func (s *Store) DeactivateUsersNotIn(ctx context.Context, portalID int64, ids []int64, listed time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE users SET active = false, updated_at = now()
		WHERE portal_id = $1 AND active AND NOT (id = ANY($2)) AND updated_at < $3`, portalID, pq.Int64Array(ids), listed)
	if err != nil {
		return fmt.Errorf("store: deactivate users: %w", err)
	}
	return s.ReleaseInactiveDialogs(ctx, portalID)
}

// ReleaseInactiveDialogs frees the dialogs of deactivated employees: with no
// responsible person they are seen by those who receive new clients (and,
// failing them, the admins), so a waiting client always reaches someone.
func (s *Store) ReleaseInactiveDialogs(ctx context.Context, portalID int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE dialogs d SET responsible_id = NULL, updated_at = now()
		FROM users u WHERE d.portal_id = $1 AND u.portal_id = $1 AND u.id = d.responsible_id AND NOT u.active`, portalID)
	if err != nil {
		return fmt.Errorf("store: release dialogs: %w", err)
	}
	return nil
}

// Contact is a CRM contact with its identities.
type Contact struct {
	ID           int64
	Name         string
	AssignedByID int64
	DateModify   time.Time
	Identities   []identity.ID
}

// Lead is a CRM lead with its identities.
type Lead struct {
	ID           int64
	Title, Name  string
	StatusID     string
	Closed       bool
	AssignedByID int64
	ContactID    int64
	DateModify   time.Time
	Identities   []identity.ID
}

// Deal is a CRM deal. ContactIDs, when known, are all its contacts (the
// primary first); nil keeps the stored links but the primary.
type Deal struct {
	ID            int64
	Title         string
	StageID       string
	CategoryID    int64
	StageSemantic string
	Closed        bool
	AssignedByID  int64
	ContactID     int64
	ContactIDs    []int64
	DateModify    time.Time
}

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id > 0} }

func nullTime(t time.Time) sql.NullTime { return sql.NullTime{Time: t, Valid: !t.IsZero()} }

// UpsertContacts stores a page of contacts and replaces their identities, in
// one transaction with the caller's progress update (after). Names and
// titles here and in the other upserts of the mirror are the portal's
// words, made storable (pgsafe.Text): one contact named with a NUL must not
// fail its whole page, again on every retry.
func (s *Store) UpsertContacts(ctx context.Context, portalID int64, cs []Contact, after func(tx *Store) error) error {
	return s.Tx(ctx, func(tx *Store) error {
		if len(cs) > 0 {
			ids, names, assigned := make([]int64, len(cs)), make([]string, len(cs)), make([]sql.NullInt64, len(cs))
			mods := make([]sql.NullTime, len(cs))
			for i, c := range cs {
				ids[i], names[i], assigned[i], mods[i] = c.ID, pgsafe.Text(c.Name), nullID(c.AssignedByID), nullTime(c.DateModify)
			}
			_, err := tx.db.ExecContext(ctx, `
				INSERT INTO contacts (portal_id, id, name, assigned_by_id, date_modify, synced_at)
				SELECT $1, id, name, assigned, modified, now()
				FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::timestamptz[]) AS t(id, name, assigned, modified)
				ON CONFLICT (portal_id, id) DO UPDATE SET name = EXCLUDED.name, assigned_by_id = EXCLUDED.assigned_by_id,
					date_modify = EXCLUDED.date_modify, synced_at = now()`,
				portalID, pq.Array(ids), pq.Array(names), pq.Array(assigned), pq.Array(mods))
			if err != nil {
				return fmt.Errorf("store: upsert contacts: %w", err)
			}
			owners := make([]owned, len(cs))
			for i, c := range cs {
				owners[i] = owned{id: c.ID, ids: c.Identities}
			}
			if err := tx.replaceIdentities(ctx, portalID, "contact", owners); err != nil {
				return err
			}
			// A client's dialogs follow his responsible person in the CRM, so a
			// reassignment changes who sees them at once.
			if _, err := tx.db.ExecContext(ctx, `UPDATE dialogs d SET responsible_id = c.assigned_by_id, updated_at = now()
				FROM contacts c WHERE c.portal_id = $1 AND c.id = ANY($2) AND d.portal_id = $1 AND d.contact_id = c.id
				AND c.assigned_by_id IS NOT NULL AND d.responsible_id IS DISTINCT FROM c.assigned_by_id
				AND NOT d.awaiting_taker`, portalID, pq.Array(ids)); err != nil {
				return fmt.Errorf("store: dialogs follow contacts: %w", err)
			}
		}
		if after != nil {
			return after(tx)
		}
		return nil
	})
}

// UpsertLeads stores a page of leads and their identities.
func (s *Store) UpsertLeads(ctx context.Context, portalID int64, ls []Lead, after func(tx *Store) error) error {
	return s.Tx(ctx, func(tx *Store) error {
		if len(ls) > 0 {
			n := len(ls)
			ids, titles, names, statuses := make([]int64, n), make([]string, n), make([]string, n), make([]string, n)
			closed := make([]bool, n)
			assigned, contacts, mods := make([]sql.NullInt64, n), make([]sql.NullInt64, n), make([]sql.NullTime, n)
			owners := make([]owned, n)
			for i, l := range ls {
				ids[i], titles[i], names[i], statuses[i], closed[i] = l.ID, pgsafe.Text(l.Title), pgsafe.Text(l.Name), pgsafe.Text(l.StatusID), l.Closed
				assigned[i], contacts[i], mods[i] = nullID(l.AssignedByID), nullID(l.ContactID), nullTime(l.DateModify)
				owners[i] = owned{id: l.ID, ids: l.Identities}
			}
			_, err := tx.db.ExecContext(ctx, `
				INSERT INTO leads (portal_id, id, title, name, status_id, closed, assigned_by_id, contact_id, date_modify, synced_at)
				SELECT $1, id, title, name, status, closed, assigned, contact, modified, now()
				FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::bigint[], $8::bigint[], $9::timestamptz[])
					AS t(id, title, name, status, closed, assigned, contact, modified)
				ON CONFLICT (portal_id, id) DO UPDATE SET title = EXCLUDED.title, name = EXCLUDED.name,
					status_id = EXCLUDED.status_id, closed = EXCLUDED.closed, assigned_by_id = EXCLUDED.assigned_by_id,
					contact_id = EXCLUDED.contact_id, date_modify = EXCLUDED.date_modify, synced_at = now()`,
				portalID, pq.Array(ids), pq.Array(titles), pq.Array(names), pq.Array(statuses), pq.Array(closed),
				pq.Array(assigned), pq.Array(contacts), pq.Array(mods))
			if err != nil {
				return fmt.Errorf("store: upsert leads: %w", err)
			}
			if err := tx.replaceIdentities(ctx, portalID, "lead", owners); err != nil {
				return err
			}
			if _, err := tx.db.ExecContext(ctx, `UPDATE dialogs d SET responsible_id = l.assigned_by_id, updated_at = now()
				FROM leads l WHERE l.portal_id = $1 AND l.id = ANY($2) AND d.portal_id = $1 AND d.lead_id = l.id AND d.contact_id IS NULL
				AND l.assigned_by_id IS NOT NULL AND d.responsible_id IS DISTINCT FROM l.assigned_by_id
				AND NOT d.awaiting_taker`, portalID, pq.Array(ids)); err != nil {
				return fmt.Errorf("store: dialogs follow leads: %w", err)
			}
		}
		if after != nil {
			return after(tx)
		}
		return nil
	})
}

// UpsertDeals stores a page of deals and their contact links.
func (s *Store) UpsertDeals(ctx context.Context, portalID int64, ds []Deal, after func(tx *Store) error) error {
	return s.Tx(ctx, func(tx *Store) error {
		if len(ds) > 0 {
			n := len(ds)
			ids, titles, stages, sems := make([]int64, n), make([]string, n), make([]string, n), make([]string, n)
			cats, closed := make([]int64, n), make([]bool, n)
			assigned, contacts, mods := make([]sql.NullInt64, n), make([]sql.NullInt64, n), make([]sql.NullTime, n)
			for i, d := range ds {
				ids[i], titles[i], stages[i], sems[i], cats[i], closed[i] = d.ID, pgsafe.Text(d.Title), pgsafe.Text(d.StageID), pgsafe.Text(d.StageSemantic), d.CategoryID, d.Closed
				assigned[i], contacts[i], mods[i] = nullID(d.AssignedByID), nullID(d.ContactID), nullTime(d.DateModify)
			}
			_, err := tx.db.ExecContext(ctx, `
				INSERT INTO deals (portal_id, id, title, stage_id, stage_semantic, category_id, closed, assigned_by_id, contact_id, date_modify, synced_at)
				SELECT $1, id, title, stage, sem, cat, closed, assigned, contact, modified, now()
				FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bool[], $8::bigint[], $9::bigint[], $10::timestamptz[])
					AS t(id, title, stage, sem, cat, closed, assigned, contact, modified)
				ON CONFLICT (portal_id, id) DO UPDATE SET title = EXCLUDED.title, stage_id = EXCLUDED.stage_id,
					stage_semantic = EXCLUDED.stage_semantic, category_id = EXCLUDED.category_id, closed = EXCLUDED.closed,
					assigned_by_id = EXCLUDED.assigned_by_id, contact_id = EXCLUDED.contact_id,
					date_modify = EXCLUDED.date_modify, synced_at = now()`,
				portalID, pq.Array(ids), pq.Array(titles), pq.Array(stages), pq.Array(sems), pq.Array(cats), pq.Array(closed),
				pq.Array(assigned), pq.Array(contacts), pq.Array(mods))
			if err != nil {
				return fmt.Errorf("store: upsert deals: %w", err)
			}
			if err := tx.linkDealContacts(ctx, portalID, ds); err != nil {
				return err
			}
		}
		if after != nil {
			return after(tx)
		}
		return nil
	})
}

// linkDealContacts keeps deal_contacts true: a full contact list replaces the
// links; a listing (primary contact only) makes that one the primary and
// keeps the other links it cannot see.
func (s *Store) linkDealContacts(ctx context.Context, portalID int64, ds []Deal) error {
	var full, partial []int64
	var dealIDs, contactIDs []int64
	var primaries []bool
	var sorts []int32
	for _, d := range ds {
		if d.ContactIDs != nil {
			full = append(full, d.ID)
			for i, c := range d.ContactIDs {
				dealIDs, contactIDs, primaries, sorts = append(dealIDs, d.ID), append(contactIDs, c), append(primaries, i == 0), append(sorts, int32(i))
			}
			continue
		}
		partial = append(partial, d.ID)
		if d.ContactID > 0 {
			dealIDs, contactIDs, primaries, sorts = append(dealIDs, d.ID), append(contactIDs, d.ContactID), append(primaries, true), append(sorts, 0)
		}
	}
	if len(full) > 0 {
		if _, err := s.db.ExecContext(ctx, `DELETE FROM deal_contacts WHERE portal_id = $1 AND deal_id = ANY($2)`, portalID, pq.Int64Array(full)); err != nil {
			return fmt.Errorf("store: unlink deal contacts: %w", err)
		}
	}
	if len(partial) > 0 {
		if _, err := s.db.ExecContext(ctx, `UPDATE deal_contacts SET is_primary = false WHERE portal_id = $1 AND deal_id = ANY($2) AND is_primary`,
			portalID, pq.Int64Array(partial)); err != nil {
			return fmt.Errorf("store: reset primary contacts: %w", err)
		}
	}
	if len(dealIDs) == 0 {
		return nil
	}
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO deal_contacts (portal_id, deal_id, contact_id, is_primary, sort)
		SELECT $1, d, c, p, s FROM unnest($2::bigint[], $3::bigint[], $4::bool[], $5::int[]) AS t(d, c, p, s)
		ON CONFLICT (portal_id, deal_id, contact_id) DO UPDATE SET is_primary = EXCLUDED.is_primary, sort = EXCLUDED.sort`,
		portalID, pq.Array(dealIDs), pq.Array(contactIDs), pq.Array(primaries), pq.Array(sorts))
	if err != nil {
		return fmt.Errorf("store: link deal contacts: %w", err)
	}
	return nil
}

type owned struct {
	id  int64
	ids []identity.ID
}

func (s *Store) replaceIdentities(ctx context.Context, portalID int64, ownerType string, owners []owned) error {
	ownerIDs := make([]int64, len(owners))
	var kinds, values []string
	var ids []int64
	for i, o := range owners {
		ownerIDs[i] = o.id
		seen := map[identity.ID]bool{}
		for _, id := range o.ids {
			if id.Value == "" || seen[id] {
				continue
			}
			seen[id] = true
			kinds, values, ids = append(kinds, id.Kind), append(values, pgsafe.Text(id.Value)), append(ids, o.id)
		}
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM client_identities WHERE portal_id = $1 AND owner_type = $2 AND owner_id = ANY($3)`,
		portalID, ownerType, pq.Int64Array(ownerIDs)); err != nil {
		return fmt.Errorf("store: clear identities: %w", err)
	}
	if len(ids) == 0 {
		return nil
	}
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO client_identities (portal_id, kind, value, owner_type, owner_id)
		SELECT $1, k, v, $2, o FROM unnest($3::text[], $4::text[], $5::bigint[]) AS t(k, v, o)
		ON CONFLICT DO NOTHING`, portalID, ownerType, pq.Array(kinds), pq.Array(values), pq.Array(ids))
	if err != nil {
		return fmt.Errorf("store: insert identities: %w", err)
	}
	return nil
}

// DeleteCRM removes a contact, lead or deal and what hangs on it.
func (s *Store) DeleteCRM(ctx context.Context, portalID int64, entity string, id int64) error {
	return s.DeleteCRMMany(ctx, portalID, entity, []int64{id})
}

// DeleteCRMMany removes records of one entity.
func (s *Store) DeleteCRMMany(ctx context.Context, portalID int64, entity string, ids []int64) error {
	names, ok := map[string][2]string{"contact": {"contacts", "contact"}, "lead": {"leads", "lead"}, "deal": {"deals", ""}}[entity]
	table, owner := names[0], names[1]
	if !ok {
		return fmt.Errorf("store: delete: unknown entity %q", entity)
	}
	return s.Tx(ctx, func(tx *Store) error {
		arr := pq.Int64Array(ids)
		if _, err := tx.db.ExecContext(ctx, `DELETE FROM `+table+` WHERE portal_id = $1 AND id = ANY($2)`, portalID, arr); err != nil {
			return fmt.Errorf("store: delete %s: %w", entity, err)
		}
		if owner != "" {
			if _, err := tx.db.ExecContext(ctx, `DELETE FROM client_identities WHERE portal_id = $1 AND owner_type = $2 AND owner_id = ANY($3)`, portalID, owner, arr); err != nil {
				return fmt.Errorf("store: delete identities: %w", err)
			}
		}
		col := map[string]string{"contact": "contact_id", "deal": "deal_id"}[entity]
		if col != "" {
			if _, err := tx.db.ExecContext(ctx, `DELETE FROM deal_contacts WHERE portal_id = $1 AND `+col+` = ANY($2)`, portalID, arr); err != nil {
				return fmt.Errorf("store: delete deal links: %w", err)
			}
		}
		return nil
	})
}

// Owner is who an identity belongs to.
type Owner struct {
	Type string `db:"owner_type"`
	ID   int64  `db:"owner_id"`
}

// OwnersOf finds the contacts and leads with an identity, contacts first,
// oldest first (the original record of a client).
func (s *Store) OwnersOf(ctx context.Context, portalID int64, id identity.ID) ([]Owner, error) {
	var out []Owner
	err := s.db.SelectContext(ctx, &out, `SELECT owner_type, owner_id FROM client_identities
		WHERE portal_id = $1 AND kind = $2 AND value = $3 ORDER BY owner_type = 'lead', owner_id`, portalID, id.Kind, id.Value)
	if err != nil {
		return nil, fmt.Errorf("store: owners of identity: %w", err)
	}
	return out, nil
}

// LocalIDs lists the stored ids of an entity in order (the deletion sweep
// compares them with the portal's).
func (s *Store) LocalIDs(ctx context.Context, portalID int64, entity string) ([]int64, error) {
	table := map[string]string{"contact": "contacts", "lead": "leads", "deal": "deals"}[entity]
	if table == "" {
		return nil, fmt.Errorf("store: local ids: unknown entity %q", entity)
	}
	var ids []int64
	if err := s.db.SelectContext(ctx, &ids, `SELECT id FROM `+table+` WHERE portal_id = $1 ORDER BY id`, portalID); err != nil {
		return nil, fmt.Errorf("store: local ids: %w", err)
	}
	return ids, nil
}

// CRMRecordExists reports whether the mirror holds the record.
func (s *Store) CRMRecordExists(ctx context.Context, portalID int64, entity string, id int64) (bool, error) {
	table, ok := map[string]string{"contact": "contacts", "lead": "leads", "deal": "deals"}[entity]
	if !ok {
		return false, fmt.Errorf("store: unknown entity %q", entity)
	}
	var exists bool
	if err := s.db.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM `+table+` WHERE portal_id = $1 AND id = $2)`, portalID, id); err != nil {
		return false, fmt.Errorf("store: %s %d in the mirror: %w", entity, id, err)
	}
	return exists, nil
}

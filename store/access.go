package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"

	"github.com/lib/pq"

	"github.com/relay24/relay24/problem"
)

// Int64s is a bigint[] parameter.
type Int64s []int64

// Value renders the array for PostgreSQL.
func (a Int64s) Value() (driver.Value, error) { return pq.Int64Array(a).Value() }

// Access is an employee's access rule.
type Access struct {
	Visibility         string  `json:"visibility"`
	CanWrite           bool    `json:"can_write"`
	ReceivesNewClients bool    `json:"receives_new_clients"`
	ChannelIDs         []int64 `json:"channel_ids"`
	Notify             bool    `json:"notify"`
	Explicit           bool    `json:"explicit"`
}

// DefaultAccess: admins see and write everything; everyone else sees his own
// clients and receives new ones.
func DefaultAccess(isAdmin bool) Access {
	if isAdmin {
		return Access{Visibility: "all", CanWrite: true, ReceivesNewClients: false, Notify: true}
	}
	return Access{Visibility: "own", CanWrite: true, ReceivesNewClients: true, Notify: true}
}

// Validate checks an admin's rule.
func (a Access) Validate() error {
	switch a.Visibility {
	case "all", "department", "own", "none":
	default:
		return problem.New(problem.Invalid, "bad_visibility", "visibility must be all, department, own or none")
	}
	return nil
}

// AccessOf reads a user's rule, or the defaults.
func (s *Store) AccessOf(ctx context.Context, portalID int64, u *User) (Access, error) {
	var row struct {
		Visibility string        `db:"visibility"`
		CanWrite   bool          `db:"can_write"`
		Receives   bool          `db:"receives_new_clients"`
		Channels   pq.Int64Array `db:"channel_ids"`
		Notify     bool          `db:"notify"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT visibility, can_write, receives_new_clients, channel_ids, notify FROM user_access
		WHERE portal_id = $1 AND user_id = $2`, portalID, u.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultAccess(u.IsAdmin), nil
	}
	if err != nil {
		return Access{}, fmt.Errorf("store: access: %w", err)
	}
	a := Access{Visibility: row.Visibility, CanWrite: row.CanWrite, ReceivesNewClients: row.Receives, Notify: row.Notify, Explicit: true}
	if row.Channels != nil {
		a.ChannelIDs = []int64(row.Channels)
	}
	return a, nil
}

// SaveAccess stores a user's rule.
func (s *Store) SaveAccess(ctx context.Context, portalID, userID int64, a Access) error {
	var chans any
	if a.ChannelIDs != nil {
		chans = pq.Int64Array(a.ChannelIDs)
	}
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO user_access (portal_id, user_id, visibility, can_write, receives_new_clients, channel_ids, notify)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (portal_id, user_id) DO UPDATE SET visibility = EXCLUDED.visibility, can_write = EXCLUDED.can_write,
			receives_new_clients = EXCLUDED.receives_new_clients, channel_ids = EXCLUDED.channel_ids,
			notify = EXCLUDED.notify, updated_at = now()`,
		portalID, userID, a.Visibility, a.CanWrite, a.ReceivesNewClients, chans, a.Notify)
	if err != nil {
		return fmt.Errorf("store: save access: %w", err)
	}
	return nil
}

// HeadedDepartments lists the departments a user heads.
func (s *Store) HeadedDepartments(ctx context.Context, portalID, userID int64) ([]int64, error) {
	var ids []int64
	if err := s.db.SelectContext(ctx, &ids, `SELECT id FROM departments WHERE portal_id = $1 AND head_id = $2`, portalID, userID); err != nil {
		return nil, fmt.Errorf("store: headed departments: %w", err)
	}
	return ids, nil
}

// UsersInDepartments lists the users of any of the departments.
func (s *Store) UsersInDepartments(ctx context.Context, portalID int64, deps []int64) ([]int64, error) {
	var ids []int64
	if err := s.db.SelectContext(ctx, &ids, `SELECT id FROM users WHERE portal_id = $1 AND departments && $2 ORDER BY id`,
		portalID, pq.Int64Array(deps)); err != nil {
		return nil, fmt.Errorf("store: department users: %w", err)
	}
	return ids, nil
}

// ActiveUsers lists a portal's active employees.
func (s *Store) ActiveUsers(ctx context.Context, portalID int64) ([]User, error) {
	var us []User
	err := s.db.SelectContext(ctx, &us, `SELECT portal_id, id, name, is_admin, active, departments, lang, updated_at
		FROM users WHERE portal_id = $1 AND active ORDER BY id`, portalID)
	if err != nil {
		return nil, fmt.Errorf("store: active users: %w", err)
	}
	return us, nil
}

// Visibility is which dialogs an access rule shows, as data (package access
// computes it; the SQL condition is made here): every dialog (All), or those
// whose responsible person is one of People, and with Unassigned those
// nobody is responsible for; and, when Channels is not nil, only on those
// channels. The zero Visibility shows nothing.
type Visibility struct {
	All        bool
	People     []int64
	Unassigned bool
	Channels   []int64
}

// condition renders v as an SQL condition on dialogs d, appending its
// arguments to args (its placeholders number on from len(*args)).
func (v *Visibility) condition(args *[]any) string {
	arg := func(x any) string {
		*args = append(*args, x)
		return "$" + strconv.Itoa(len(*args))
	}
	var cond string
	switch {
	case v.All:
		cond = "TRUE"
	case len(v.People) > 0 || v.Unassigned:
		cond = "d.responsible_id = ANY(" + arg(Int64s(v.People)) + ")"
		if v.Unassigned {
			cond = "(" + cond + " OR d.responsible_id IS NULL)"
		}
	default:
		cond = "FALSE"
	}
	if v.Channels != nil {
		cond = "(" + cond + " AND d.channel_id = ANY(" + arg(Int64s(v.Channels)) + "))"
	}
	return cond
}

// FilterDialogsOfContact lists a contact's dialogs the visibility shows.
func (s *Store) FilterDialogsOfContact(ctx context.Context, portalID, contactID int64, v Visibility) ([]int64, error) {
	args := []any{portalID, contactID}
	q := `SELECT d.id FROM dialogs d WHERE d.portal_id = $1 AND d.contact_id = $2 AND ` + v.condition(&args)
	var ids []int64
	if err := s.db.SelectContext(ctx, &ids, q+" ORDER BY d.id", args...); err != nil {
		return nil, fmt.Errorf("store: contact dialogs: %w", err)
	}
	return ids, nil
}

// Departments lists a portal's departments.
func (s *Store) Departments(ctx context.Context, portalID int64) ([]Department, error) {
	var out []Department
	if err := s.db.SelectContext(ctx, &out, `SELECT id, name, parent_id, head_id, sort, path FROM departments WHERE portal_id = $1
		ORDER BY array_length(path, 1), sort, id`, portalID); err != nil {
		return nil, fmt.Errorf("store: departments: %w", err)
	}
	return out, nil
}

// AllUsers lists a portal's employees, active or not.
func (s *Store) AllUsers(ctx context.Context, portalID int64) ([]User, error) {
	var us []User
	err := s.db.SelectContext(ctx, &us, `SELECT portal_id, id, name, is_admin, active, departments, lang, updated_at
		FROM users WHERE portal_id = $1 AND user_type = 'employee' ORDER BY NOT active, name, id`, portalID)
	if err != nil {
		return nil, fmt.Errorf("store: users: %w", err)
	}
	return us, nil
}

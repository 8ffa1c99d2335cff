package store

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/relay24/relay24/store/pgsafe"
)

// User is an employee of a portal.
type User struct {
	PortalID    int64         `db:"portal_id"`
	ID          int64         `db:"id"`
	Name        string        `db:"name"`
	IsAdmin     bool          `db:"is_admin"`
	Active      bool          `db:"active"`
	Departments pq.Int64Array `db:"departments"`
	Lang        string        `db:"lang"`
	UpdatedAt   time.Time     `db:"updated_at"`
}

// UpsertUser stores what the portal said of a user (its text made storable,
// pgsafe.Text: a name with a NUL must not keep him out of the app).
func (s *Store) UpsertUser(ctx context.Context, u User) error {
	if u.Departments == nil {
		u.Departments = pq.Int64Array{}
	}
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO users (portal_id, id, name, is_admin, active, departments, lang)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (portal_id, id) DO UPDATE SET name = EXCLUDED.name, is_admin = EXCLUDED.is_admin,
			active = EXCLUDED.active, departments = EXCLUDED.departments,
			lang = CASE WHEN EXCLUDED.lang = '' THEN users.lang ELSE EXCLUDED.lang END, updated_at = now()`,
		u.PortalID, u.ID, pgsafe.Text(u.Name), u.IsAdmin, u.Active, u.Departments, pgsafe.Text(u.Lang))
	if err != nil {
		return fmt.Errorf("store: upsert user: %w", err)
	}
	return nil
}

// UserByID finds a portal's user.
func (s *Store) UserByID(ctx context.Context, portalID, id int64) (*User, error) {
	var u User
	err := s.db.GetContext(ctx, &u, `SELECT portal_id, id, name, is_admin, active, departments, lang, updated_at
		FROM users WHERE portal_id = $1 AND id = $2`, portalID, id)
	if err != nil {
		return nil, fmt.Errorf("store: user by id: %w", notFound(err, "user"))
	}
	return &u, nil
}

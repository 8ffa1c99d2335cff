package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/relay24/relay24/store/pgsafe"
)

// File is an uploaded file with its bytes (at most the upload cap).
type File struct {
	ID        int64         `db:"id"`
	PortalID  int64         `db:"portal_id"`
	Name      string        `db:"name"`
	Type      string        `db:"type"`
	Size      int64         `db:"size"`
	Bytes     []byte        `db:"bytes"`
	CreatedBy sql.NullInt64 `db:"created_by"`
	CreatedAt time.Time     `db:"created_at"`
}

// InsertFile stores a file; its ID and CreatedAt are set on f.
func (s *Store) InsertFile(ctx context.Context, f *File) error {
	f.Name, f.Type = pgsafe.Text(f.Name), pgsafe.Text(f.Type)
	f.Size = int64(len(f.Bytes))
	var row struct {
		ID        int64     `db:"id"`
		CreatedAt time.Time `db:"created_at"`
	}
	err := s.db.GetContext(ctx, &row, `INSERT INTO files (portal_id, name, type, size, bytes, created_by)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, created_at`,
		f.PortalID, f.Name, f.Type, f.Size, f.Bytes, f.CreatedBy)
	f.ID, f.CreatedAt = row.ID, row.CreatedAt
	if err != nil {
		return fmt.Errorf("store: storing a file: %w", err)
	}
	return nil
}

// FileByID reads a portal's file with its bytes; another portal's file is
// not found.
func (s *Store) FileByID(ctx context.Context, portalID, id int64) (*File, error) {
	var f File
	if err := s.db.GetContext(ctx, &f, `SELECT id, portal_id, name, type, size, bytes, created_by, created_at
		FROM files WHERE portal_id = $1 AND id = $2`, portalID, id); err != nil {
		return nil, fmt.Errorf("store: file: %w", notFound(err, "file"))
	}
	return &f, nil
}

// DeleteFile removes a portal's file; a missing one is not an error.
func (s *Store) DeleteFile(ctx context.Context, portalID, id int64) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM files WHERE portal_id = $1 AND id = $2`, portalID, id); err != nil {
		return fmt.Errorf("store: deleting file %d: %w", id, err)
	}
	return nil
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/relay24/relay24/problem"
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
	// Pending: an upload no reply has taken yet (DeletePendingFiles).
	Pending bool `db:"pending"`
}

// InsertFile stores a file; its ID and CreatedAt are set on f.
func (s *Store) InsertFile(ctx context.Context, f *File) error {
	f.Name, f.Type = pgsafe.Text(f.Name), pgsafe.Text(f.Type)
	f.Size = int64(len(f.Bytes))
	var row struct {
		ID        int64     `db:"id"`
		CreatedAt time.Time `db:"created_at"`
	}
	err := s.db.GetContext(ctx, &row, `INSERT INTO files (portal_id, name, type, size, bytes, created_by, pending)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, created_at`,
		f.PortalID, f.Name, f.Type, f.Size, f.Bytes, f.CreatedBy, f.Pending)
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
	if err := s.db.GetContext(ctx, &f, `SELECT id, portal_id, name, type, size, bytes, created_by, created_at, pending
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

// takeFiles clears the pending flag of the files an outgoing message refers
// to ("file:<id>" urls of its attachments), in the message's transaction.
// The row lock it takes orders it with DeletePendingFiles: a file deleted
// first is not found (the reply is refused, nothing is stored), a file taken
// first is no longer pending and stays.
func (s *Store) takeFiles(ctx context.Context, portalID int64, attachments []byte) error {
	var n struct {
		Want int `db:"want"`
		Got  int `db:"got"`
	}
	err := s.db.GetContext(ctx, &n, `WITH ids AS (
			SELECT DISTINCT `+fmt.Sprintf(fileRef, "a->>'url'")+` AS id FROM jsonb_array_elements($2::jsonb) a
			WHERE jsonb_typeof(a) = 'object' AND a->>'url' ~ '^file:[0-9]{1,18}$'),
		taken AS (UPDATE files f SET pending = false FROM ids WHERE f.portal_id = $1 AND f.id = ids.id RETURNING f.id)
		SELECT (SELECT count(*) FROM ids) AS want, (SELECT count(*) FROM taken) AS got`, portalID, attachments)
	if err != nil {
		return fmt.Errorf("store: taking a reply's files: %w", err)
	}
	if n.Got < n.Want {
		return problem.New(problem.NotFound, "file_not_found", "the file is no longer stored; upload it again")
	}
	return nil
}

// DeletePendingFiles deletes up to limit uploads that no reply took and that
// were stored before cutoff, oldest first; a file a reply is taking right
// now is skipped (its lock) and then no longer pending.
func (s *Store) DeletePendingFiles(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM files WHERE id IN (
			SELECT id FROM files WHERE pending AND created_at < $1 ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)
		AND pending`, cutoff, limit)
	if err != nil {
		return 0, fmt.Errorf("store: deleting unsent uploads: %w", err)
	}
	return res.RowsAffected()
}

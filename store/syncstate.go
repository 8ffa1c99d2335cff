package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/relay24/relay24/secret"
)

// SyncState is one entity's sync progress for a portal.
type SyncState struct {
	Entity       string         `db:"entity" json:"entity"`
	Phase        string         `db:"phase" json:"phase"`
	Done         int            `db:"done" json:"done"`
	Total        int            `db:"total" json:"total"`
	Skipped      int            `db:"skipped" json:"skipped"`
	CursorID     int64          `db:"cursor_id" json:"-"`
	Error        sql.NullString `db:"error" json:"-"`
	StartedAt    sql.NullTime   `db:"started_at" json:"-"`
	FinishedAt   sql.NullTime   `db:"finished_at" json:"-"`
	ReconciledAt sql.NullTime   `db:"reconciled_at" json:"-"`
	SweptAt      sql.NullTime   `db:"swept_at" json:"-"`
}

const syncColumns = `entity, phase, done, total, skipped, cursor_id, error, started_at, finished_at, reconciled_at, swept_at`

// SyncStates lists a portal's sync progress.
func (s *Store) SyncStates(ctx context.Context, portalID int64) ([]SyncState, error) {
	var out []SyncState
	err := s.db.SelectContext(ctx, &out, `SELECT `+syncColumns+` FROM sync_state WHERE portal_id = $1`, portalID)
	if err != nil {
		return nil, fmt.Errorf("store: sync states: %w", err)
	}
	return out, nil
}

// SyncStateOf reads one entity's progress, creating it pending.
func (s *Store) SyncStateOf(ctx context.Context, portalID int64, entity string) (*SyncState, error) {
	var st SyncState
	err := s.db.GetContext(ctx, &st, `
		INSERT INTO sync_state (portal_id, entity) VALUES ($1, $2)
		ON CONFLICT (portal_id, entity) DO UPDATE SET entity = EXCLUDED.entity
		RETURNING `+syncColumns, portalID, entity)
	if err != nil {
		return nil, fmt.Errorf("store: sync state: %w", err)
	}
	return &st, nil
}

// StartSync marks an entity running (keeping its cursor: a resumed sync goes on).
func (s *Store) StartSync(ctx context.Context, portalID int64, entity string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sync_state SET phase = 'running', error = NULL,
		started_at = COALESCE(started_at, now()) WHERE portal_id = $1 AND entity = $2`, portalID, entity)
	if err != nil {
		return fmt.Errorf("store: start sync: %w", err)
	}
	return nil
}

// SetSyncTotal records the portal's count for an entity.
func (s *Store) SetSyncTotal(ctx context.Context, portalID int64, entity string, total int) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sync_state SET total = $3 + done WHERE portal_id = $1 AND entity = $2`, portalID, entity, total)
	if err != nil {
		return fmt.Errorf("store: sync total: %w", err)
	}
	return nil
}

// AdvanceSync moves the cursor inside the transaction that stored the page,
// so a crash resumes exactly after the last stored record.
func (s *Store) AdvanceSync(ctx context.Context, portalID int64, entity string, cursor int64, done, skipped int) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sync_state SET cursor_id = GREATEST(cursor_id, $3), done = done + $4,
		skipped = skipped + $5 WHERE portal_id = $1 AND entity = $2`, portalID, entity, cursor, done, skipped)
	if err != nil {
		return fmt.Errorf("store: advance sync: %w", err)
	}
	return nil
}

// FinishSync marks an entity done; reconciledFrom is when the listing began
// (the next reconciliation lists what changed since then).
func (s *Store) FinishSync(ctx context.Context, portalID int64, entity string, reconciledFrom time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sync_state SET phase = 'done', finished_at = now(), total = GREATEST(total, done),
		reconciled_at = $3, swept_at = COALESCE(swept_at, $3) WHERE portal_id = $1 AND entity = $2`, portalID, entity, reconciledFrom)
	if err != nil {
		return fmt.Errorf("store: finish sync: %w", err)
	}
	return nil
}

// FailSync records why an entity's sync stopped (the text fit to store:
// the cause may quote what the portal sent).
func (s *Store) FailSync(ctx context.Context, portalID int64, entity string, cause error) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sync_state SET phase = 'failed', error = $3 WHERE portal_id = $1 AND entity = $2`,
		portalID, entity, secret.ErrorText(cause))
	if err != nil {
		return fmt.Errorf("store: fail sync: %w", err)
	}
	return nil
}

// MarkReconciled records a reconciliation pass (and a deletion sweep).
func (s *Store) MarkReconciled(ctx context.Context, portalID int64, entity string, from time.Time, swept bool) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sync_state SET reconciled_at = $3,
		swept_at = CASE WHEN $4 THEN $3 ELSE swept_at END WHERE portal_id = $1 AND entity = $2`, portalID, entity, from, swept)
	if err != nil {
		return fmt.Errorf("store: mark reconciled: %w", err)
	}
	return nil
}

// FirstSyncDone reports whether every entity of the first sync is done.
func (s *Store) FirstSyncDone(ctx context.Context, portalID int64, entities []string) (bool, error) {
	var n int
	err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM sync_state WHERE portal_id = $1 AND phase = 'done' AND entity = ANY($2)`,
		portalID, pqStrings(entities))
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: first sync done: %w", err)
	}
	return n == len(entities), nil
}

// SetSyncCount records a fully re-listed entity's size (users, departments).
func (s *Store) SetSyncCount(ctx context.Context, portalID int64, entity string, n int) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sync_state SET done = $3, total = $3 WHERE portal_id = $1 AND entity = $2`, portalID, entity, n)
	if err != nil {
		return fmt.Errorf("store: sync count: %w", err)
	}
	return nil
}

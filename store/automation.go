package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/relay24/relay24/store/pgsafe"
)

// RobotRun is one call of the relay24_send robot, known by its event token.
type RobotRun struct {
	PortalID   int64          `db:"portal_id"`
	EventToken string         `db:"event_token"`
	Document   string         `db:"document"`
	MessageID  sql.NullInt64  `db:"message_id"`
	Status     sql.NullString `db:"status"`
	Error      sql.NullString `db:"error"`
	ReportedAt sql.NullTime   `db:"reported_at"`
	CreatedAt  time.Time      `db:"created_at"`
}

// InsertRobotRun records a robot call; false when its event token was seen
// already (a repeated call: nothing more is done for it).
func (s *Store) InsertRobotRun(ctx context.Context, portalID int64, eventToken, document string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO robot_runs (portal_id, event_token, document) VALUES ($1, $2, $3)
		ON CONFLICT (portal_id, event_token) DO NOTHING`, portalID, pgsafe.Text(eventToken), pgsafe.Text(document))
	if err != nil {
		return false, fmt.Errorf("store: recording a robot call: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RobotRunByToken reads a robot call; nil when there is none (its portal
// was removed).
func (s *Store) RobotRunByToken(ctx context.Context, portalID int64, eventToken string) (*RobotRun, error) {
	var r RobotRun
	err := s.db.GetContext(ctx, &r, `SELECT portal_id, event_token, document, message_id, status, error, reported_at, created_at
		FROM robot_runs WHERE portal_id = $1 AND event_token = $2`, portalID, eventToken)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: robot call: %w", err)
	}
	return &r, nil
}

// SetRobotMessage remembers the message a robot call sent (before it is
// reported, so a retry reports the same one).
func (s *Store) SetRobotMessage(ctx context.Context, portalID int64, eventToken string, messageID int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE robot_runs SET message_id = $3 WHERE portal_id = $1 AND event_token = $2`,
		portalID, eventToken, messageID)
	if err != nil {
		return fmt.Errorf("store: robot call's message: %w", err)
	}
	return nil
}

// FinishRobotRun records what was reported to the workflow.
func (s *Store) FinishRobotRun(ctx context.Context, portalID int64, eventToken, status, errText string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE robot_runs SET status = $3, error = NULLIF($4, ''), reported_at = now()
		WHERE portal_id = $1 AND event_token = $2`, portalID, eventToken, pgsafe.Text(status), pgsafe.Text(errText))
	if err != nil {
		return fmt.Errorf("store: finishing a robot call: %w", err)
	}
	return nil
}

// TriggerFired reports whether a trigger occurrence was fired already.
func (s *Store) TriggerFired(ctx context.Context, portalID int64, key string) (bool, error) {
	var n int
	if err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM trigger_firings WHERE portal_id = $1 AND key = $2`, portalID, key); err != nil {
		return false, fmt.Errorf("store: trigger firing: %w", err)
	}
	return n > 0, nil
}

// MarkTriggerFired records a fired trigger occurrence.
func (s *Store) MarkTriggerFired(ctx context.Context, portalID int64, key string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO trigger_firings (portal_id, key) VALUES ($1, $2) ON CONFLICT DO NOTHING`, portalID, key)
	if err != nil {
		return fmt.Errorf("store: recording a trigger firing: %w", err)
	}
	return nil
}

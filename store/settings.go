package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/relay24/relay24/problem"
)

// Settings are a portal admin's rules for new clients and notifications.
type Settings struct {
	NewClient            string        `db:"new_client" json:"new_client"`
	DealCategoryID       int64         `db:"deal_category_id" json:"deal_category_id"`
	DealStageID          string        `db:"deal_stage_id" json:"deal_stage_id"`
	ResponsibleMode      string        `db:"responsible_mode" json:"responsible_mode"`
	ResponsibleUserID    sql.NullInt64 `db:"responsible_user_id" json:"-"`
	Notify               bool          `db:"notify" json:"notify"`
	EscalateAfterMinutes int           `db:"escalate_after_minutes" json:"escalate_after_minutes"`
}

// DefaultSettings: a contact and a deal in the first stage of the default
// pipeline, responsible in turn, notifications on, escalation after 5 minutes.
func DefaultSettings() Settings {
	return Settings{NewClient: "deal", ResponsibleMode: "round_robin", Notify: true, EscalateAfterMinutes: 5}
}

// Validate checks an admin's settings.
func (s Settings) Validate() error {
	switch s.NewClient {
	case "none", "contact", "lead", "deal":
	default:
		return problem.New(problem.Invalid, "bad_new_client", "new_client must be none, contact, lead or deal")
	}
	switch s.ResponsibleMode {
	case "fixed":
		if !s.ResponsibleUserID.Valid {
			return problem.New(problem.Invalid, "responsible_missing", "responsible_mode fixed needs responsible_user_id")
		}
	case "round_robin", "first_answer":
	default:
		return problem.New(problem.Invalid, "bad_responsible_mode", "responsible_mode must be fixed, round_robin or first_answer")
	}
	if s.EscalateAfterMinutes < 0 || s.EscalateAfterMinutes > 24*60 {
		return problem.New(problem.Invalid, "bad_escalation", "escalate_after_minutes must be between 0 and 1440")
	}
	if s.DealCategoryID < 0 {
		return problem.New(problem.Invalid, "bad_category", "deal_category_id must not be negative")
	}
	return nil
}

const settingsColumns = `new_client, deal_category_id, deal_stage_id, responsible_mode, responsible_user_id, notify, escalate_after_minutes`

// Settings reads a portal's settings, or the defaults.
func (s *Store) Settings(ctx context.Context, portalID int64) (Settings, error) {
	var st Settings
	err := s.db.GetContext(ctx, &st, `SELECT `+settingsColumns+` FROM portal_settings WHERE portal_id = $1`, portalID)
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultSettings(), nil
	}
	if err != nil {
		return st, fmt.Errorf("store: settings: %w", err)
	}
	return st, nil
}

// SaveSettings stores a portal's settings.
func (s *Store) SaveSettings(ctx context.Context, portalID int64, st Settings) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO portal_settings (portal_id, `+settingsColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (portal_id) DO UPDATE SET new_client = EXCLUDED.new_client, deal_category_id = EXCLUDED.deal_category_id,
			deal_stage_id = EXCLUDED.deal_stage_id, responsible_mode = EXCLUDED.responsible_mode,
			responsible_user_id = EXCLUDED.responsible_user_id, notify = EXCLUDED.notify,
			escalate_after_minutes = EXCLUDED.escalate_after_minutes, updated_at = now()`,
		portalID, st.NewClient, st.DealCategoryID, st.DealStageID, st.ResponsibleMode, st.ResponsibleUserID, st.Notify, st.EscalateAfterMinutes)
	if err != nil {
		return fmt.Errorf("store: save settings: %w", err)
	}
	return nil
}

// NextInTurn picks the next active employee who receives new clients (by id,
// after the last one picked) and records the pick. Without an access row an
// employee receives new clients unless he is an admin (the defaults).
func (s *Store) NextInTurn(ctx context.Context, portalID int64) (int64, error) {
	var next int64
	err := s.Tx(ctx, func(tx *Store) error {
		var last sql.NullInt64
		if _, err := tx.db.ExecContext(ctx, `INSERT INTO portal_settings (portal_id) VALUES ($1) ON CONFLICT DO NOTHING`, portalID); err != nil {
			return err
		}
		if err := tx.db.GetContext(ctx, &last, `SELECT round_robin_last FROM portal_settings WHERE portal_id = $1 FOR UPDATE`, portalID); err != nil {
			return err
		}
		err := tx.db.GetContext(ctx, &next, `
			WITH receivers AS (
				SELECT u.id FROM users u LEFT JOIN user_access a ON a.portal_id = u.portal_id AND a.user_id = u.id
				WHERE u.portal_id = $1 AND u.active AND u.user_type = 'employee'
				  AND COALESCE(a.receives_new_clients, NOT u.is_admin) AND COALESCE(a.visibility, 'own') <> 'none'
			)
			SELECT COALESCE((SELECT min(id) FROM receivers WHERE id > $2), (SELECT min(id) FROM receivers), 0)`,
			portalID, last.Int64)
		if err != nil {
			return err
		}
		if next == 0 {
			return nil
		}
		_, err = tx.db.ExecContext(ctx, `UPDATE portal_settings SET round_robin_last = $2 WHERE portal_id = $1`, portalID, next)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: next in turn: %w", err)
	}
	return next, nil
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/relay24/relay24/problem"
)

// Preferences are an employee's chat settings.
type Preferences struct {
	SendKey     string `db:"send_key" json:"send_key"`
	Sound       bool   `db:"sound" json:"sound"`
	ShowPreview bool   `db:"show_preview" json:"show_preview"`
	RichLinks   bool   `db:"rich_links" json:"rich_links"`
}

// DefaultPreferences are what an employee has until he changes them.
func DefaultPreferences() Preferences {
	return Preferences{SendKey: "enter", Sound: true, ShowPreview: true, RichLinks: true}
}

// Validate checks values a client sent.
func (p Preferences) Validate() error {
	if p.SendKey != "enter" && p.SendKey != "ctrl_enter" {
		return problem.New(problem.Invalid, "bad_send_key", "send_key must be enter or ctrl_enter")
	}
	return nil
}

// Preferences reads a user's preferences, or the defaults.
func (s *Store) Preferences(ctx context.Context, portalID, userID int64) (Preferences, error) {
	var p Preferences
	err := s.db.GetContext(ctx, &p, `SELECT send_key, sound, show_preview, rich_links FROM user_preferences
		WHERE portal_id = $1 AND user_id = $2`, portalID, userID)
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultPreferences(), nil
	}
	if err != nil {
		return p, fmt.Errorf("store: preferences: %w", err)
	}
	return p, nil
}

// SavePreferences stores a user's preferences.
func (s *Store) SavePreferences(ctx context.Context, portalID, userID int64, p Preferences) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO user_preferences (portal_id, user_id, send_key, sound, show_preview, rich_links)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (portal_id, user_id) DO UPDATE SET send_key = EXCLUDED.send_key, sound = EXCLUDED.sound,
			show_preview = EXCLUDED.show_preview, rich_links = EXCLUDED.rich_links, updated_at = now()`,
		portalID, userID, p.SendKey, p.Sound, p.ShowPreview, p.RichLinks)
	if err != nil {
		return fmt.Errorf("store: save preferences: %w", err)
	}
	return nil
}

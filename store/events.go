package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/relay24/relay24/store/pgsafe"
)

// RecordEvent keeps a portal event as received (after authentication), for
// the sync and for support. A field holding what jsonb refuses (a NUL; invalid
// UTF-8 is already U+FFFD after encoding) is stored repaired (pgsafe): an
// event the portal never sends again must not be lost to a 500.
func (s *Store) RecordEvent(ctx context.Context, portalID int64, event string, payload map[string]any) (int64, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return 0, fmt.Errorf("store: encode event: %w", err)
	}
	if b, _, err = pgsafe.JSON(b); err != nil {
		return 0, fmt.Errorf("store: encode event: %w", err)
	}
	var id int64
	err = s.db.GetContext(ctx, &id, `INSERT INTO portal_events (portal_id, event, payload) VALUES ($1, $2, $3) RETURNING id`,
		portalID, pgsafe.Text(event), b)
	if err != nil {
		return 0, fmt.Errorf("store: record event: %w", err)
	}
	return id, nil
}

// EventCount counts a portal's recorded events of one kind ("" = all).
func (s *Store) EventCount(ctx context.Context, portalID int64, event string) (int, error) {
	var n int
	err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM portal_events WHERE portal_id = $1 AND ($2 = '' OR event = $2)`,
		portalID, event)
	if err != nil {
		return 0, fmt.Errorf("store: count events: %w", err)
	}
	return n, nil
}

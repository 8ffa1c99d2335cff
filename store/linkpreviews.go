package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// LinkPreview is a cached preview of a URL: Preview (JSON) or Failure (the
// kind), never both.
type LinkPreview struct {
	URL       string         `db:"url"`
	Preview   []byte         `db:"preview"`
	Failure   sql.NullString `db:"failure"`
	FetchedAt time.Time      `db:"fetched_at"`
	ExpiresAt time.Time      `db:"expires_at"`
}

func urlHash(url string) []byte {
	h := sha256.Sum256([]byte(url))
	return h[:]
}

// LinkPreview is the unexpired cached preview of url, or nil.
func (s *Store) LinkPreview(ctx context.Context, url string) (*LinkPreview, error) {
	var p LinkPreview
	err := s.db.GetContext(ctx, &p, `SELECT url, coalesce(preview::text, '') AS preview, failure, fetched_at, expires_at FROM link_previews
		WHERE url_hash = $1 AND expires_at > now()`, urlHash(url))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: link preview: %w", err)
	}
	if len(p.Preview) == 0 {
		p.Preview = nil
	}
	if p.URL != url { // a SHA-256 collision would be news; never show another URL's card
		return nil, nil
	}
	return &p, nil
}

// SaveLinkPreview caches url's preview (JSON) or failure for ttl.
func (s *Store) SaveLinkPreview(ctx context.Context, url string, preview json.RawMessage, failure string, ttl time.Duration) error {
	var pv, fl any
	if preview != nil {
		pv = string(preview)
	} else {
		fl = failure
	}
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO link_previews (url_hash, url, preview, failure, fetched_at, expires_at)
		VALUES ($1, $2, $3::jsonb, $4, now(), now() + $5 * interval '1 millisecond')
		ON CONFLICT (url_hash) DO UPDATE SET url = EXCLUDED.url, preview = EXCLUDED.preview, failure = EXCLUDED.failure,
			fetched_at = EXCLUDED.fetched_at, expires_at = EXCLUDED.expires_at`,
		urlHash(url), url, pv, fl, ttl.Milliseconds())
	if err != nil {
		return fmt.Errorf("store: save link preview: %w", err)
	}
	return nil
}

// PruneLinkPreviews deletes previews expired for longer than grace.
func (s *Store) PruneLinkPreviews(ctx context.Context, grace time.Duration) (int64, error) {
	r, err := s.db.ExecContext(ctx, `DELETE FROM link_previews WHERE expires_at < now() - $1 * interval '1 millisecond'`, grace.Milliseconds())
	if err != nil {
		return 0, fmt.Errorf("store: prune link previews: %w", err)
	}
	return r.RowsAffected()
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Portal is an installed (or once installed) Bitrix24 portal.
type Portal struct {
	ID                   int64           `db:"id"`
	MemberID             string          `db:"member_id"`
	Domain               string          `db:"domain"`
	ClientEndpoint       string          `db:"client_endpoint"`
	ServerEndpoint       string          `db:"server_endpoint"`
	Lang                 string          `db:"lang"`
	Scope                string          `db:"scope"`
	LicenseStatus        string          `db:"license_status"`
	ApplicationTokenHash []byte          `db:"application_token_hash"`
	AccessToken          []byte          `db:"access_token"`
	RefreshToken         []byte          `db:"refresh_token"`
	TokenExpiresAt       sql.NullTime    `db:"token_expires_at"`
	TokenVersion         int64           `db:"token_version"`
	TokenUserID          sql.NullInt64   `db:"token_user_id"`
	InstalledAt          sql.NullTime    `db:"installed_at"`
	UninstalledAt        sql.NullTime    `db:"uninstalled_at"`
	RateBurst            sql.NullInt32   `db:"rate_burst"`
	RatePerSecond        sql.NullFloat64 `db:"rate_per_second"`
	CreatedAt            time.Time       `db:"created_at"`
	UpdatedAt            time.Time       `db:"updated_at"`
}

// Active reports whether the app is installed on the portal now.
func (p *Portal) Active() bool { return p.InstalledAt.Valid && !p.UninstalledAt.Valid }

const portalColumns = `id, member_id, domain, client_endpoint, server_endpoint, lang, scope, license_status,
	application_token_hash, access_token, refresh_token, token_expires_at, token_version, token_user_id,
	installed_at, uninstalled_at, rate_burst, rate_per_second, created_at, updated_at`

// PortalByMemberID finds a portal by its Bitrix24 member_id.
func (s *Store) PortalByMemberID(ctx context.Context, memberID string) (*Portal, error) {
	var p Portal
	err := s.db.GetContext(ctx, &p, `SELECT `+portalColumns+` FROM portals WHERE member_id = $1`, memberID)
	if err != nil {
		return nil, fmt.Errorf("store: portal by member_id: %w", notFound(err, "portal"))
	}
	return &p, nil
}

// PortalByID finds a portal by id.
func (s *Store) PortalByID(ctx context.Context, id int64) (*Portal, error) {
	var p Portal
	err := s.db.GetContext(ctx, &p, `SELECT `+portalColumns+` FROM portals WHERE id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("store: portal by id: %w", notFound(err, "portal"))
	}
	return &p, nil
}

// PortalByDomain finds an installed portal by its current domain.
func (s *Store) PortalByDomain(ctx context.Context, domain string) (*Portal, error) {
	var p Portal
	err := s.db.GetContext(ctx, &p, `SELECT `+portalColumns+` FROM portals
		WHERE lower(domain) = lower($1) ORDER BY uninstalled_at IS NULL DESC, id DESC LIMIT 1`, domain)
	if err != nil {
		return nil, fmt.Errorf("store: portal by domain: %w", notFound(err, "portal"))
	}
	return &p, nil
}

// ActivePortals lists the portals the app is installed on.
func (s *Store) ActivePortals(ctx context.Context) ([]Portal, error) {
	var ps []Portal
	err := s.db.SelectContext(ctx, &ps, `SELECT `+portalColumns+` FROM portals
		WHERE installed_at IS NOT NULL AND uninstalled_at IS NULL ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: active portals: %w", err)
	}
	return ps, nil
}

// Install is what an install confirmed by the OAuth server stores.
type Install struct {
	MemberID             string
	Domain               string
	ClientEndpoint       string
	ServerEndpoint       string
	Lang                 string
	Scope                string
	LicenseStatus        string
	ApplicationTokenHash []byte // nil: keep what is stored
	AccessToken          func(portalID int64) []byte
	RefreshToken         func(portalID int64) []byte
	TokenExpiresAt       time.Time
	TokenUserID          int64
	// After runs inside the same transaction once the row is stored (the
	// install's first-sync job): the install commits whole or not at all.
	After func(tx *Store, p *Portal) error
}

// UpsertInstall stores a confirmed install: a new portal, or a re-install of
// a known one (its data stays; tokens and endpoints are replaced). Tokens are
// sealed by callbacks because the seal is bound to the portal's id, which a new
// row only gets inside the transaction.
func (s *Store) UpsertInstall(ctx context.Context, in Install) (*Portal, error) {
	var out *Portal
	err := s.Tx(ctx, func(tx *Store) error {
		var id int64
		err := tx.db.GetContext(ctx, &id, `
			INSERT INTO portals (member_id, domain, client_endpoint, server_endpoint, lang, scope, license_status)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (member_id) DO UPDATE SET
				domain = EXCLUDED.domain, client_endpoint = EXCLUDED.client_endpoint,
				server_endpoint = EXCLUDED.server_endpoint,
				lang = CASE WHEN EXCLUDED.lang = '' THEN portals.lang ELSE EXCLUDED.lang END,
				scope = EXCLUDED.scope, license_status = EXCLUDED.license_status, updated_at = now()
			RETURNING id`,
			in.MemberID, in.Domain, in.ClientEndpoint, in.ServerEndpoint, in.Lang, in.Scope, in.LicenseStatus)
		if err != nil {
			return fmt.Errorf("store: upsert portal: %w", err)
		}
		_, err = tx.db.ExecContext(ctx, `
			UPDATE portals SET access_token = $2, refresh_token = $3, token_expires_at = $4,
				token_user_id = $5, token_version = token_version + 1,
				application_token_hash = COALESCE($6, application_token_hash),
				installed_at = COALESCE(CASE WHEN uninstalled_at IS NULL THEN installed_at END, now()),
				uninstalled_at = NULL, updated_at = now()
			WHERE id = $1`,
			id, in.AccessToken(id), in.RefreshToken(id), in.TokenExpiresAt, in.TokenUserID, in.ApplicationTokenHash)
		if err != nil {
			return fmt.Errorf("store: store portal tokens: %w", err)
		}
		var p Portal
		if err := tx.db.GetContext(ctx, &p, `SELECT `+portalColumns+` FROM portals WHERE id = $1`, id); err != nil {
			return fmt.Errorf("store: reread portal: %w", err)
		}
		if in.After != nil {
			if err := in.After(tx, &p); err != nil {
				return err
			}
		}
		out = &p
		return nil
	})
	return out, err
}

// TokenRefresh is a refreshed token pair, sealed by the caller.
type TokenRefresh struct {
	AccessToken  []byte
	RefreshToken []byte
	ExpiresAt    time.Time
}

// RefreshTokens serialises token refreshes of one portal across goroutines and
// instances: fn runs while the portal's row is locked and sees the stored
// version; if the stored version is newer than seenVersion someone already
// refreshed, so fn gets that portal and may return nil to keep it. The new pair
// is committed before anyone can use it, so the newer refresh token is never lost.
func (s *Store) RefreshTokens(ctx context.Context, portalID int64, fn func(p *Portal) (*TokenRefresh, error)) (*Portal, error) {
	var out *Portal
	err := s.Tx(ctx, func(tx *Store) error {
		var p Portal
		if err := tx.db.GetContext(ctx, &p, `SELECT `+portalColumns+` FROM portals WHERE id = $1 FOR UPDATE`, portalID); err != nil {
			return fmt.Errorf("store: lock portal tokens: %w", notFound(err, "portal"))
		}
		r, err := fn(&p)
		if err != nil {
			return err
		}
		if r != nil {
			err = tx.db.GetContext(ctx, &p.TokenVersion, `UPDATE portals SET access_token = $2, refresh_token = $3,
				token_expires_at = $4, token_version = token_version + 1, updated_at = now()
				WHERE id = $1 RETURNING token_version`, portalID, r.AccessToken, r.RefreshToken, r.ExpiresAt)
			if err != nil {
				return fmt.Errorf("store: save refreshed tokens: %w", err)
			}
			p.AccessToken, p.RefreshToken = r.AccessToken, r.RefreshToken
			p.TokenExpiresAt = sql.NullTime{Time: r.ExpiresAt, Valid: true}
		}
		out = &p
		return nil
	})
	return out, err
}

// Uninstall forgets the portal's tokens and application token; with clean it
// deletes the portal and everything of it (foreign keys cascade).
func (s *Store) Uninstall(ctx context.Context, portalID int64, clean bool) error {
	var err error
	if clean {
		_, err = s.db.ExecContext(ctx, `DELETE FROM portals WHERE id = $1`, portalID)
	} else {
		_, err = s.db.ExecContext(ctx, `UPDATE portals SET access_token = NULL, refresh_token = NULL,
			token_expires_at = NULL, application_token_hash = NULL, uninstalled_at = now(),
			token_version = token_version + 1, updated_at = now() WHERE id = $1`, portalID)
		if err == nil {
			_, err = s.db.ExecContext(ctx, `UPDATE jobs SET state = 'failed', last_error = 'portal uninstalled', updated_at = now()
				WHERE portal_id = $1 AND state IN ('ready', 'running')`, portalID)
		}
	}
	if err != nil {
		return fmt.Errorf("store: uninstall portal: %w", err)
	}
	return nil
}

// SetPortalRateLimit overrides the REST rate limit for one portal (nil: default).
func (s *Store) SetPortalRateLimit(ctx context.Context, portalID int64, burst *int, perSecond *float64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE portals SET rate_burst = $2, rate_per_second = $3, updated_at = now() WHERE id = $1`,
		portalID, burst, perSecond)
	if err != nil {
		return fmt.Errorf("store: set rate limit: %w", err)
	}
	return nil
}

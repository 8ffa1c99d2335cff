package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/relay24/relay24/problem"
)

// Quick reply scopes: the portal's (shared, managed by its admins) and an
// employee's own.
const (
	ScopePortal   = "portal"
	ScopePersonal = "personal"
)

// Limits of quick replies: what a composer's list can show and a person
// would still read.
const (
	QuickReplyTitleMax = 100
	QuickReplyTextMax  = 4096
	QuickRepliesMax    = 200 // per scope: per portal, per employee
)

// QuickReply is a saved answer. UserID is the owner of a personal one and
// not valid for the portal's.
type QuickReply struct {
	ID       int64         `db:"id"`
	PortalID int64         `db:"portal_id"`
	UserID   sql.NullInt64 `db:"user_id"`
	Title    string        `db:"title"`
	Text     string        `db:"text"`
}

// Scope is portal or personal.
func (q QuickReply) Scope() string {
	if q.UserID.Valid {
		return ScopePersonal
	}
	return ScopePortal
}

// Normalize trims the title's surrounding spaces (a title is one line of a
// list; the text is kept as written).
func (q *QuickReply) Normalize() { q.Title = strings.TrimSpace(q.Title) }

// Validate checks the sizes a client sent (control characters are the
// sender's rule, relay.CheckText).
func (q QuickReply) Validate() error {
	switch {
	case q.Title == "":
		return problem.New(problem.Invalid, "title_required", "a quick reply needs a title")
	case utf8.RuneCountInString(q.Title) > QuickReplyTitleMax:
		return problem.New(problem.Invalid, "title_too_long", "the title is over %d characters", QuickReplyTitleMax)
	case strings.ContainsAny(q.Title, "\r\n"):
		return problem.New(problem.Invalid, "invalid_text", "the title is one line: remove the line break")
	case strings.TrimSpace(q.Text) == "":
		return problem.New(problem.Invalid, "text_required", "a quick reply needs a text")
	case utf8.RuneCountInString(q.Text) > QuickReplyTextMax:
		return problem.New(problem.Invalid, "text_too_long", "the text is over %d characters", QuickReplyTextMax)
	}
	return nil
}

const quickReplyColumns = `id, portal_id, user_id, title, text`

// QuickReplies lists what userID may use: the portal's, then his own, each
// by title.
func (s *Store) QuickReplies(ctx context.Context, portalID, userID int64) ([]QuickReply, error) {
	out := []QuickReply{}
	err := s.db.SelectContext(ctx, &out, `SELECT `+quickReplyColumns+` FROM quick_replies
		WHERE portal_id = $1 AND (user_id IS NULL OR user_id = $2)
		ORDER BY user_id IS NOT NULL, lower(title), id`, portalID, userID)
	if err != nil {
		return nil, fmt.Errorf("store: quick replies: %w", err)
	}
	return out, nil
}

// QuickReply finds a quick reply as userID may see it: the portal's, or his
// own. Another portal's and a colleague's own are not found (their
// existence is not revealed); whether he may change a portal's one is the
// caller's rule (admins only).
func (s *Store) QuickReply(ctx context.Context, portalID, userID, id int64) (*QuickReply, error) {
	var q QuickReply
	err := s.db.GetContext(ctx, &q, `SELECT `+quickReplyColumns+` FROM quick_replies
		WHERE portal_id = $1 AND id = $2 AND (user_id IS NULL OR user_id = $3)`, portalID, id, userID)
	if err != nil {
		return nil, fmt.Errorf("store: quick reply: %w", notFound(err, "quick_reply"))
	}
	return &q, nil
}

// CreateQuickReply stores a new quick reply in its scope (q.UserID set for a
// personal one) and sets its ID; a scope that holds QuickRepliesMax already
// is a conflict. The count and the insert run under a lock of the scope, so
// two creations at once cannot pass the limit together.
func (s *Store) CreateQuickReply(ctx context.Context, q *QuickReply) error {
	return s.Tx(ctx, func(tx *Store) error {
		var owner int64 = -1 // the portal's scope
		if q.UserID.Valid {
			owner = q.UserID.Int64
		}
		if _, err := tx.db.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('quick_replies:' || $1::text || ':' || $2::text, 0))`,
			q.PortalID, owner); err != nil {
			return fmt.Errorf("store: lock quick replies: %w", err)
		}
		var n int
		if err := tx.db.GetContext(ctx, &n, `SELECT count(*) FROM quick_replies
			WHERE portal_id = $1 AND user_id IS NOT DISTINCT FROM $2`, q.PortalID, q.UserID); err != nil {
			return fmt.Errorf("store: count quick replies: %w", err)
		}
		if n >= QuickRepliesMax {
			return problem.New(problem.Conflict, "too_many_quick_replies",
				"there are %d %s quick replies already, the most there may be; delete one first", n, q.Scope())
		}
		if err := tx.db.GetContext(ctx, &q.ID, `INSERT INTO quick_replies (portal_id, user_id, title, text)
			VALUES ($1, $2, $3, $4) RETURNING id`, q.PortalID, q.UserID, q.Title, q.Text); err != nil {
			return fmt.Errorf("store: create quick reply: %w", err)
		}
		return nil
	})
}

// UpdateQuickReply changes a quick reply's title and text; its portal and
// owner are where it is looked for, so nothing of another scope changes.
func (s *Store) UpdateQuickReply(ctx context.Context, q QuickReply) error {
	res, err := s.db.ExecContext(ctx, `UPDATE quick_replies SET title = $4, text = $5, updated_at = now()
		WHERE portal_id = $1 AND id = $2 AND user_id IS NOT DISTINCT FROM $3`,
		q.PortalID, q.ID, q.UserID, q.Title, q.Text)
	if err != nil {
		return fmt.Errorf("store: update quick reply: %w", err)
	}
	return quickReplyFound(res, "update quick reply")
}

// DeleteQuickReply removes a quick reply of that portal and owner.
func (s *Store) DeleteQuickReply(ctx context.Context, q QuickReply) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM quick_replies
		WHERE portal_id = $1 AND id = $2 AND user_id IS NOT DISTINCT FROM $3`, q.PortalID, q.ID, q.UserID)
	if err != nil {
		return fmt.Errorf("store: delete quick reply: %w", err)
	}
	return quickReplyFound(res, "delete quick reply")
}

func quickReplyFound(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("store: %s: %w", what, notFound(sql.ErrNoRows, "quick_reply"))
	}
	return nil
}

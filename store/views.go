package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/relay24/relay24/problem"
)

// DialogView is a dialog as the chat lists it.
type DialogView struct {
	Dialog
	Provider      string         `db:"provider"`
	Transport     string         `db:"transport"`
	ChannelName   string         `db:"channel_name"`
	ChannelState  string         `db:"channel_state"`
	ContactName   sql.NullString `db:"contact_name"`
	LastText      sql.NullString `db:"last_text"`
	LastKind      sql.NullString `db:"last_kind"`
	LastDirection sql.NullString `db:"last_direction"`
	// Waiting is the capped count of waiting dialogs the filter shows, when
	// asked for (DialogFilter.CountWaiting).
	Waiting sql.NullInt64 `db:"waiting"`
}

const dialogViewSelect = `SELECT ` + `d.id, d.portal_id, d.channel_id, d.chat_type, d.chat_id, d.client_name, d.client_username, d.client_phone,
	d.contact_id, d.lead_id, d.deal_id, d.responsible_id, d.last_in_at, d.last_out_at, d.no_reply_at, d.unanswered_since, d.unanswered,
	d.last_message_id, d.last_message_at, d.notified_at, d.client_resolved, d.created_at, d.updated_at, d.escalated_at,
	c.provider, c.transport, c.name AS channel_name, c.state AS channel_state, ct.name AS contact_name,
	m.text AS last_text, m.kind AS last_kind, m.direction AS last_direction
	FROM dialogs d
	JOIN channels c ON c.id = d.channel_id
	LEFT JOIN contacts ct ON ct.portal_id = d.portal_id AND ct.id = d.contact_id
	LEFT JOIN messages m ON m.id = d.last_message_id`

// DialogFilter narrows a dialog list. Visible, when set, is what the access
// rules show (nil: every dialog).
type DialogFilter struct {
	ContactIDs []int64
	LeadID     int64
	Visible    *Visibility
	Limit      int
	After      string // cursor of the last dialog of the previous page
	// CountWaiting adds the capped count of waiting dialogs to the same
	// query (one round trip for the first page of the general chat).
	CountWaiting bool
}

// ListDialogs lists dialogs unanswered first, each group newest first, by
// keyset pages on the index that keeps that order.
func (s *Store) ListDialogs(ctx context.Context, portalID int64, f DialogFilter) ([]DialogView, string, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	where := []string{"d.portal_id = $1"}
	args := []any{portalID, f.Limit + 1}
	visible := ""
	if f.Visible != nil {
		visible = f.Visible.condition(&args) // from $3
		where = append(where, "("+visible+")")
	}
	if f.ContactIDs != nil || f.LeadID > 0 {
		var or []string
		if f.ContactIDs != nil {
			args = append(args, pq.Int64Array(f.ContactIDs))
			or = append(or, "d.contact_id = ANY($"+strconv.Itoa(len(args))+")")
		}
		if f.LeadID > 0 {
			args = append(args, f.LeadID)
			or = append(or, "d.lead_id = $"+strconv.Itoa(len(args)))
		}
		where = append(where, "("+strings.Join(or, " OR ")+")")
	}
	if f.After != "" {
		un, at, id, err := parseDialogCursor(f.After)
		if err != nil {
			return nil, "", err
		}
		// Rows after the cursor in (unanswered DESC, last_message_at DESC NULLS LAST, id DESC).
		args = append(args, un, at, id)
		n := len(args)
		u, a, i := "$"+strconv.Itoa(n-2), "$"+strconv.Itoa(n-1), "$"+strconv.Itoa(n)
		where = append(where, fmt.Sprintf(`(d.unanswered < %[1]s OR (d.unanswered = %[1]s AND (
			(%[2]s::timestamptz IS NULL AND d.last_message_at IS NULL AND d.id < %[3]s)
			OR (%[2]s::timestamptz IS NOT NULL AND (d.last_message_at IS NULL OR d.last_message_at < %[2]s OR (d.last_message_at = %[2]s AND d.id < %[3]s))))))`, u, a, i))
	}
	sel := dialogViewSelect
	if f.CountWaiting {
		// Evaluated once (an InitPlan); the inner d shadows the outer one.
		sel = strings.Replace(sel, "\n\tFROM dialogs d", ", ("+waitingCount(visible, strconv.Itoa(MaxCounted+1))+") AS waiting\n\tFROM dialogs d", 1)
	}
	q := sel + ` WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY d.unanswered DESC, d.last_message_at DESC NULLS LAST, d.id DESC LIMIT $2`
	var out []DialogView
	if err := s.db.SelectContext(ctx, &out, q, args...); err != nil {
		return nil, "", fmt.Errorf("store: list dialogs: %w", err)
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		last := out[len(out)-1]
		next = dialogCursor(last.Unanswered, last.LastMessageAt, last.ID)
	}
	return out, next, nil
}

// DialogView reads one dialog as the chat shows it.
func (s *Store) DialogView(ctx context.Context, portalID, id int64) (*DialogView, error) {
	var v DialogView
	err := s.db.GetContext(ctx, &v, dialogViewSelect+` WHERE d.portal_id = $1 AND d.id = $2`, portalID, id)
	if err != nil {
		return nil, fmt.Errorf("store: dialog view: %w", notFound(err, "dialog"))
	}
	return &v, nil
}

func dialogCursor(unanswered bool, at sql.NullTime, id int64) string {
	u := "0"
	if unanswered {
		u = "1"
	}
	t := ""
	if at.Valid {
		t = strconv.FormatInt(at.Time.UnixMicro(), 10)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(u + ":" + t + ":" + strconv.FormatInt(id, 10)))
}

func parseDialogCursor(c string) (bool, sql.NullTime, int64, error) {
	bad := problem.New(problem.Invalid, "bad_cursor", "the cursor is not one this server gave")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return false, sql.NullTime{}, 0, bad
	}
	parts := strings.Split(string(b), ":")
	if len(parts) != 3 || (parts[0] != "0" && parts[0] != "1") {
		return false, sql.NullTime{}, 0, bad
	}
	var at sql.NullTime
	if parts[1] != "" {
		us, err := strconv.ParseInt(parts[1], 10, 64)
		if err != nil {
			return false, at, 0, bad
		}
		at = sql.NullTime{Time: time.UnixMicro(us), Valid: true}
	}
	id, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return false, at, 0, bad
	}
	return parts[0] == "1", at, id, nil
}

// MessageView is a message with its channel (for the all-channels thread).
type MessageView struct {
	Message
	ChatType    string `db:"chat_type"`
	ChannelName string `db:"channel_name"`
	Transport   string `db:"transport"`
	// FileSizes are the sizes of the attachments, in their order, of those
	// kept in relay24's own storage (0 for the others); nil without any.
	FileSizes pq.Int64Array `db:"file_sizes"`
	// Retried: a failed reply that was sent again (RetryClientID); the
	// retry is a message of its own.
	Retried bool `db:"retried"`
}

// RetryClientID is the client id of the retry of a failed reply: one per
// failed message, so a retry asked twice sends once.
func RetryClientID(messageID int64) string { return "retry:" + strconv.FormatInt(messageID, 10) }

// fileRef finds the id of a file of relay24's own storage in an attachment's
// url ("file:<id>", as package relay writes it).
const fileRef = `substring(%s from '^file:([0-9]{1,18})$')::bigint`

// messageViewSelect reads messages as the chat shows them. Its subqueries
// name messages "r", never "m": search replaces the main FROM.
var messageViewSelect = `SELECT m.id, m.portal_id, m.dialog_id, m.channel_id, m.direction, m.provider_message_id, m.client_id, m.kind, m.text,
	m.attachments, m.author_id, m.author_name, m.status, m.error, m.sent_at, m.send_started_at, m.timeline_id, m.created_at, m.updated_at,
	d.chat_type, c.name AS channel_name, c.transport,
	CASE WHEN jsonb_typeof(m.attachments) = 'array' AND jsonb_array_length(m.attachments) > 0 THEN
		(SELECT array_agg(coalesce(f.size, 0) ORDER BY a.n) FROM jsonb_array_elements(m.attachments) WITH ORDINALITY AS a(v, n)
		LEFT JOIN files f ON f.portal_id = m.portal_id AND f.id = ` + fmt.Sprintf(fileRef, "a.v->>'url'") + `) END AS file_sizes,
	m.status = 'error' AND EXISTS (SELECT 1 FROM messages r WHERE r.dialog_id = m.dialog_id AND r.client_id = 'retry:' || m.id) AS retried
	FROM messages m JOIN dialogs d ON d.id = m.dialog_id JOIN channels c ON c.id = m.channel_id`

// History pages back through a dialog (or, with contactID, every dialog of a
// contact): the newest page first, each page oldest to newest; next is the
// cursor of the page before, "" at the beginning.
func (s *Store) History(ctx context.Context, portalID int64, dialogIDs []int64, before string, limit int) ([]MessageView, string, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	args := []any{portalID, pq.Int64Array(dialogIDs), limit + 1}
	where := "m.portal_id = $1 AND m.dialog_id = ANY($2)"
	if before != "" {
		at, id, err := parseMessageCursor(before)
		if err != nil {
			return nil, "", err
		}
		args = append(args, at, id)
		where += " AND (m.sent_at, m.id) < ($4, $5)"
	}
	var out []MessageView
	err := s.db.SelectContext(ctx, &out, messageViewSelect+` WHERE `+where+` ORDER BY m.sent_at DESC, m.id DESC LIMIT $3`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: history: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[len(out)-1]
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(last.SentAt.UnixMicro(), 10) + ":" + strconv.FormatInt(last.ID, 10)))
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, next, nil
}

func parseMessageCursor(c string) (time.Time, int64, error) {
	bad := problem.New(problem.Invalid, "bad_cursor", "the cursor is not one this server gave")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, 0, bad
	}
	at, id, ok := strings.Cut(string(b), ":")
	us, err1 := strconv.ParseInt(at, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return time.Time{}, 0, bad
	}
	return time.UnixMicro(us), n, nil
}

// MessageViewByID reads one message as the chat shows it.
func (s *Store) MessageViewByID(ctx context.Context, portalID, id int64) (*MessageView, error) {
	var m MessageView
	err := s.db.GetContext(ctx, &m, messageViewSelect+` WHERE m.portal_id = $1 AND m.id = $2`, portalID, id)
	if err != nil {
		return nil, fmt.Errorf("store: message view: %w", notFound(err, "message"))
	}
	return &m, nil
}

// DialogIDsOfContact lists a contact's dialogs.
func (s *Store) DialogIDsOfContact(ctx context.Context, portalID, contactID int64) ([]int64, error) {
	var ids []int64
	if err := s.db.SelectContext(ctx, &ids, `SELECT id FROM dialogs WHERE portal_id = $1 AND contact_id = $2`, portalID, contactID); err != nil {
		return nil, fmt.Errorf("store: contact dialogs: %w", err)
	}
	return ids, nil
}

// DialogIDsOfRecord lists the dialogs a deal or lead belongs to (a lead
// relay24 created for a client known only by his chat has no contact).
func (s *Store) DialogIDsOfRecord(ctx context.Context, portalID int64, entity string, id int64) ([]int64, error) {
	col := map[string]string{"deal": "deal_id", "lead": "lead_id"}[entity]
	if col == "" {
		return nil, nil
	}
	var ids []int64
	if err := s.db.SelectContext(ctx, &ids, `SELECT id FROM dialogs WHERE portal_id = $1 AND `+col+` = $2`, portalID, id); err != nil {
		return nil, fmt.Errorf("store: %s dialogs: %w", entity, err)
	}
	return ids, nil
}

// EntityContacts are the contacts of a deal, lead or contact card, as the
// mirror knows them.
func (s *Store) EntityContacts(ctx context.Context, portalID int64, entity string, id int64) ([]ContactRow, error) {
	var q string
	switch entity {
	case "contact":
		q = `SELECT id, name, assigned_by_id FROM contacts WHERE portal_id = $1 AND id = $2`
	case "deal":
		q = `SELECT c.id, c.name, c.assigned_by_id FROM deal_contacts dc JOIN contacts c ON c.portal_id = dc.portal_id AND c.id = dc.contact_id
			WHERE dc.portal_id = $1 AND dc.deal_id = $2 ORDER BY dc.is_primary DESC, dc.sort, c.id`
	case "lead":
		q = `SELECT c.id, c.name, c.assigned_by_id FROM leads l JOIN contacts c ON c.portal_id = l.portal_id AND c.id = l.contact_id
			WHERE l.portal_id = $1 AND l.id = $2`
	default:
		return nil, problem.New(problem.Invalid, "bad_entity_type", "entity_type must be deal, lead or contact")
	}
	var out []ContactRow
	if err := s.db.SelectContext(ctx, &out, q, portalID, id); err != nil {
		return nil, fmt.Errorf("store: entity contacts: %w", err)
	}
	if len(out) == 0 {
		// A card with no contacts yet is an empty chat; a card this portal
		// does not have is no chat at all.
		var exists bool
		if err := s.db.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM `+entity+`s WHERE portal_id = $1 AND id = $2)`, portalID, id); err != nil {
			return nil, fmt.Errorf("store: entity %s %d: %w", entity, id, err)
		}
		if !exists {
			return nil, problem.New(problem.NotFound, "entity_not_found", "this portal has no %s %d", entity, id)
		}
	}
	return out, nil
}

// AttachmentList decodes a message's attachments.
func (m *Message) AttachmentList() []map[string]string {
	var a []map[string]string
	_ = json.Unmarshal(m.Attachments, &a)
	if a == nil {
		a = []map[string]string{}
	}
	return a
}

// MaxCounted caps the waiting count: past it the page shows "99+", and
// counting stays an index walk of at most this many entries.
const MaxCounted = 99

// waitingCount is the capped count of waiting dialogs a visibility
// condition shows ($1 is the portal, the condition's placeholders start at
// $3 as in ListDialogs; limit is the cap plus one).
func waitingCount(visible, limit string) string {
	if visible == "" {
		visible = "TRUE"
	}
	return `SELECT count(*) FROM (SELECT 1 FROM dialogs d WHERE d.portal_id = $1 AND d.unanswered AND (` + visible +
		`) LIMIT ` + limit + `) w`
}

// CountUnanswered counts the waiting dialogs a filter shows (the page
// title), up to MaxCounted+1.
func (s *Store) CountUnanswered(ctx context.Context, portalID int64, f DialogFilter) (int, error) {
	args := []any{portalID, MaxCounted}
	visible := ""
	if f.Visible != nil {
		visible = f.Visible.condition(&args) // from $3
	}
	q := waitingCount(visible, "$2::int + 1")
	var n int
	if err := s.db.GetContext(ctx, &n, q, args...); err != nil {
		return 0, fmt.Errorf("store: count unanswered: %w", err)
	}
	return n, nil
}

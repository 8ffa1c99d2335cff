package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/relay24/relay24/identity"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store/pgsafe"
)

// Gateway is a connected messaging account: a Wazzup API key or a Telegram bot.
type Gateway struct {
	ID             int64        `db:"id"`
	PortalID       int64        `db:"portal_id"`
	Provider       string       `db:"provider"`
	Credentials    []byte       `db:"credentials"`
	WebhookKey     []byte       `db:"webhook_key"`
	WebhookSecret  []byte       `db:"webhook_secret"`
	AccountID      string       `db:"account_id"`
	State          string       `db:"state"`
	ConnectedAt    time.Time    `db:"connected_at"`
	DisconnectedAt sql.NullTime `db:"disconnected_at"`
}

const gatewayColumns = `id, portal_id, provider, credentials, webhook_key, webhook_secret, account_id, state, connected_at, disconnected_at`

// CreateGateway stores a new gateway.
func (s *Store) CreateGateway(ctx context.Context, g *Gateway) error {
	err := s.db.GetContext(ctx, &g.ID, `INSERT INTO gateways (portal_id, provider, credentials, webhook_key, webhook_secret, account_id, state)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		g.PortalID, g.Provider, g.Credentials, g.WebhookKey, g.WebhookSecret, g.AccountID, g.State)
	if err != nil {
		return fmt.Errorf("store: create gateway: %w", err)
	}
	return nil
}

// SetGatewayState records a gateway's state (active, connecting, failed, disconnected).
func (s *Store) SetGatewayState(ctx context.Context, id int64, state string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE gateways SET state = $2,
		disconnected_at = CASE WHEN $2 = 'disconnected' THEN now() ELSE NULL END WHERE id = $1`, id, state)
	if err != nil {
		return fmt.Errorf("store: gateway state: %w", err)
	}
	return nil
}

// GatewayByKey finds a gateway by its webhook key's digest. A gateway of a
// portal that uninstalled relay24 (its data kept) is not found: its webhooks
// have nowhere to go.
func (s *Store) GatewayByKey(ctx context.Context, provider string, key []byte) (*Gateway, error) {
	var g Gateway
	err := s.db.GetContext(ctx, &g, `SELECT `+prefixed("g.", gatewayColumns)+` FROM gateways g
		JOIN portals p ON p.id = g.portal_id AND p.uninstalled_at IS NULL
		WHERE g.webhook_key = $1 AND g.provider = $2`, key, provider)
	if err != nil {
		return nil, fmt.Errorf("store: gateway by key: %w", notFound(err, "gateway"))
	}
	return &g, nil
}

// GatewayByID finds a gateway.
func (s *Store) GatewayByID(ctx context.Context, id int64) (*Gateway, error) {
	var g Gateway
	err := s.db.GetContext(ctx, &g, `SELECT `+gatewayColumns+` FROM gateways WHERE id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("store: gateway: %w", notFound(err, "gateway"))
	}
	return &g, nil
}

// Channel is one messenger account of a gateway (a WhatsApp number, an
// Instagram account, a Telegram bot).
type Channel struct {
	ID          int64     `db:"id" json:"id"`
	PortalID    int64     `db:"portal_id" json:"-"`
	GatewayID   int64     `db:"gateway_id" json:"-"`
	ExternalID  string    `db:"external_id" json:"external_id"`
	Provider    string    `db:"provider" json:"provider"`
	Transport   string    `db:"transport" json:"transport"`
	Name        string    `db:"name" json:"name"`
	PlainID     string    `db:"plain_id" json:"plain_id"`
	State       string    `db:"state" json:"state"`
	StateDetail string    `db:"state_detail" json:"state_detail,omitempty"`
	StateAt     time.Time `db:"state_at" json:"state_at"`
}

const channelColumns = `id, portal_id, gateway_id, external_id, provider, transport, name, plain_id, state, state_detail, state_at`

// UpsertChannel stores a channel as the gateway lists it.
func (s *Store) UpsertChannel(ctx context.Context, c *Channel) error {
	// The gateway's words, made storable (pgsafe.Text).
	c.ExternalID, c.Transport, c.Name, c.PlainID, c.State = pgsafe.Text(c.ExternalID), pgsafe.Text(c.Transport),
		pgsafe.Text(c.Name), pgsafe.Text(c.PlainID), pgsafe.Text(c.State)
	err := s.db.GetContext(ctx, &c.ID, `
		INSERT INTO channels (portal_id, gateway_id, external_id, provider, transport, name, plain_id, state)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (gateway_id, external_id) DO UPDATE SET transport = EXCLUDED.transport,
			name = CASE WHEN EXCLUDED.name = '' THEN channels.name ELSE EXCLUDED.name END,
			plain_id = CASE WHEN EXCLUDED.plain_id = '' THEN channels.plain_id ELSE EXCLUDED.plain_id END,
			state = EXCLUDED.state,
			state_at = CASE WHEN channels.state = EXCLUDED.state THEN channels.state_at ELSE now() END
		RETURNING id`, c.PortalID, c.GatewayID, c.ExternalID, c.Provider, c.Transport, c.Name, c.PlainID, c.State)
	if err != nil {
		return fmt.Errorf("store: upsert channel: %w", err)
	}
	return nil
}

// SetChannelState records a state change the gateway reported.
func (s *Store) SetChannelState(ctx context.Context, gatewayID int64, externalID, state, detail string, at time.Time) (*Channel, error) {
	externalID, state, detail = pgsafe.Text(externalID), pgsafe.Text(state), pgsafe.Text(detail)
	var c Channel
	err := s.db.GetContext(ctx, &c, `UPDATE channels SET state = $3, state_detail = $4, state_at = $5
		WHERE gateway_id = $1 AND external_id = $2 AND state_at <= $5 RETURNING `+channelColumns, gatewayID, externalID, state, detail, at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: channel state: %w", err)
	}
	return &c, nil
}

// ChannelByExternal finds a gateway's channel by the provider's id.
func (s *Store) ChannelByExternal(ctx context.Context, gatewayID int64, externalID string) (*Channel, error) {
	var c Channel
	err := s.db.GetContext(ctx, &c, `SELECT `+channelColumns+` FROM channels WHERE gateway_id = $1 AND external_id = $2`, gatewayID, externalID)
	if err != nil {
		return nil, fmt.Errorf("store: channel: %w", notFound(err, "channel"))
	}
	return &c, nil
}

// ChannelByID finds a portal's channel.
func (s *Store) ChannelByID(ctx context.Context, portalID, id int64) (*Channel, error) {
	var c Channel
	err := s.db.GetContext(ctx, &c, `SELECT `+channelColumns+` FROM channels WHERE portal_id = $1 AND id = $2`, portalID, id)
	if err != nil {
		return nil, fmt.Errorf("store: channel: %w", notFound(err, "channel"))
	}
	return &c, nil
}

// Channels lists a portal's channels of connected gateways.
func (s *Store) Channels(ctx context.Context, portalID int64) ([]Channel, error) {
	var cs []Channel
	err := s.db.SelectContext(ctx, &cs, `SELECT `+prefixed("c.", channelColumns)+` FROM channels c
		JOIN gateways g ON g.id = c.gateway_id AND g.state <> 'disconnected'
		WHERE c.portal_id = $1 ORDER BY c.id`, portalID)
	if err != nil {
		return nil, fmt.Errorf("store: channels: %w", err)
	}
	return cs, nil
}

// Dialog is one conversation of one client identity on one channel.
type Dialog struct {
	ID              int64         `db:"id"`
	PortalID        int64         `db:"portal_id"`
	ChannelID       int64         `db:"channel_id"`
	ChatType        string        `db:"chat_type"`
	ChatID          string        `db:"chat_id"`
	ClientName      string        `db:"client_name"`
	ClientUsername  string        `db:"client_username"`
	ClientPhone     string        `db:"client_phone"`
	ContactID       sql.NullInt64 `db:"contact_id"`
	LeadID          sql.NullInt64 `db:"lead_id"`
	DealID          sql.NullInt64 `db:"deal_id"`
	ResponsibleID   sql.NullInt64 `db:"responsible_id"`
	LastInAt        sql.NullTime  `db:"last_in_at"`
	LastOutAt       sql.NullTime  `db:"last_out_at"`
	NoReplyAt       sql.NullTime  `db:"no_reply_at"`
	UnansweredSince sql.NullTime  `db:"unanswered_since"`
	Unanswered      bool          `db:"unanswered"`
	LastMessageID   sql.NullInt64 `db:"last_message_id"`
	LastMessageAt   sql.NullTime  `db:"last_message_at"`
	NotifiedAt      sql.NullTime  `db:"notified_at"`
	ClientResolved  bool          `db:"client_resolved"`
	CreatedAt       time.Time     `db:"created_at"`
	UpdatedAt       time.Time     `db:"updated_at"`
	EscalatedAt     sql.NullTime  `db:"escalated_at"`
}

const dialogColumns = `id, portal_id, channel_id, chat_type, chat_id, client_name, client_username, client_phone,
	contact_id, lead_id, deal_id, responsible_id, last_in_at, last_out_at, no_reply_at, unanswered_since, unanswered,
	last_message_id, last_message_at, notified_at, client_resolved, created_at, updated_at, escalated_at`

// DialogKey identifies a dialog on a channel.
type DialogKey struct {
	ChannelID int64
	ChatType  string
	ChatID    string
}

// ClientInfo is what the gateway says about the client.
type ClientInfo struct {
	Name, Username, Phone string
}

// UpsertDialog finds or creates the dialog of a chat, refreshing what the
// gateway tells of the client.
func (s *Store) UpsertDialog(ctx context.Context, portalID int64, k DialogKey, info ClientInfo) (*Dialog, bool, error) {
	k.ChatType, k.ChatID = pgsafe.Text(k.ChatType), pgsafe.Text(k.ChatID)
	info = ClientInfo{Name: pgsafe.Text(info.Name), Username: pgsafe.Text(info.Username), Phone: pgsafe.Text(info.Phone)}
	var d struct {
		Dialog
		Created bool `db:"created"`
	}
	err := s.db.GetContext(ctx, &d, `
		INSERT INTO dialogs (portal_id, channel_id, chat_type, chat_id, client_name, client_username, client_phone)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (channel_id, chat_type, chat_id) DO UPDATE SET
			client_name = CASE WHEN EXCLUDED.client_name = '' THEN dialogs.client_name ELSE EXCLUDED.client_name END,
			client_username = CASE WHEN EXCLUDED.client_username = '' THEN dialogs.client_username ELSE EXCLUDED.client_username END,
			client_phone = CASE WHEN EXCLUDED.client_phone = '' THEN dialogs.client_phone ELSE EXCLUDED.client_phone END
		RETURNING `+dialogColumns+`, (xmax = 0) AS created`, portalID, k.ChannelID, k.ChatType, k.ChatID, info.Name, info.Username, info.Phone)
	if err != nil {
		return nil, false, fmt.Errorf("store: upsert dialog: %w", err)
	}
	return &d.Dialog, d.Created, nil
}

// DialogByID finds a portal's dialog.
func (s *Store) DialogByID(ctx context.Context, portalID, id int64) (*Dialog, error) {
	var d Dialog
	err := s.db.GetContext(ctx, &d, `SELECT `+dialogColumns+` FROM dialogs WHERE portal_id = $1 AND id = $2`, portalID, id)
	if err != nil {
		return nil, fmt.Errorf("store: dialog: %w", notFound(err, "dialog"))
	}
	return &d, nil
}

// LockDialog reads a dialog for update inside tx.
func (s *Store) LockDialog(ctx context.Context, id int64) (*Dialog, error) {
	var d Dialog
	err := s.db.GetContext(ctx, &d, `SELECT `+dialogColumns+` FROM dialogs WHERE id = $1 FOR UPDATE`, id)
	if err != nil {
		return nil, fmt.Errorf("store: lock dialog: %w", notFound(err, "dialog"))
	}
	return &d, nil
}

// Message is one message of a dialog.
type Message struct {
	ID                int64           `db:"id"`
	PortalID          int64           `db:"portal_id"`
	DialogID          int64           `db:"dialog_id"`
	ChannelID         int64           `db:"channel_id"`
	Direction         string          `db:"direction"`
	ProviderMessageID sql.NullString  `db:"provider_message_id"`
	ClientID          sql.NullString  `db:"client_id"`
	Kind              string          `db:"kind"`
	Text              string          `db:"text"`
	Attachments       json.RawMessage `db:"attachments"`
	AuthorID          sql.NullInt64   `db:"author_id"`
	AuthorName        string          `db:"author_name"`
	Status            string          `db:"status"`
	Error             sql.NullString  `db:"error"`
	SentAt            time.Time       `db:"sent_at"`
	SendStartedAt     sql.NullTime    `db:"send_started_at"`
	TimelineID        sql.NullInt64   `db:"timeline_id"`
	CreatedAt         time.Time       `db:"created_at"`
	UpdatedAt         time.Time       `db:"updated_at"`
}

const messageColumns = `id, portal_id, dialog_id, channel_id, direction, provider_message_id, client_id, kind, text, attachments,
	author_id, author_name, status, error, sent_at, send_started_at, timeline_id, created_at, updated_at`

// InsertMessage stores a message once: a provider id or client id seen
// before returns the stored message and false.
func (s *Store) InsertMessage(ctx context.Context, m *Message) (*Message, bool, error) {
	if len(m.Attachments) == 0 {
		m.Attachments = json.RawMessage("[]")
	}
	// A gateway's text is stored as shown: without NUL, invalid bytes as
	// U+FFFD (pgsafe); the column would refuse them, and the message with them.
	if a, _, err := pgsafe.JSON(m.Attachments); err == nil {
		m.Attachments = a
	}
	m.Kind, m.Text, m.AuthorName = pgsafe.Text(m.Kind), pgsafe.Text(m.Text), pgsafe.Text(m.AuthorName)
	m.ProviderMessageID.String, m.ClientID.String = pgsafe.Text(m.ProviderMessageID.String), pgsafe.Text(m.ClientID.String)
	m.Error.String = pgsafe.Text(m.Error.String)
	var out Message
	err := s.db.GetContext(ctx, &out, `
		INSERT INTO messages (portal_id, dialog_id, channel_id, direction, provider_message_id, client_id, kind, text,
			attachments, author_id, author_name, status, error, sent_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT DO NOTHING
		RETURNING `+messageColumns,
		m.PortalID, m.DialogID, m.ChannelID, m.Direction, m.ProviderMessageID, m.ClientID, m.Kind, m.Text,
		[]byte(m.Attachments), m.AuthorID, m.AuthorName, m.Status, m.Error, m.SentAt)
	if err == nil {
		// A reply of relay24's own (it has a client id) takes the uploads it
		// sends: they are no longer deleted as unsent.
		if out.Direction == "out" && out.ClientID.Valid && bytes.Contains(out.Attachments, []byte(`"file:`)) {
			if err := s.takeFiles(ctx, out.PortalID, out.Attachments); err != nil {
				return nil, false, err
			}
		}
		return &out, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, false, fmt.Errorf("store: insert message: %w", err)
	}
	// A duplicate: return what is stored.
	if m.ProviderMessageID.Valid {
		err = s.db.GetContext(ctx, &out, `SELECT `+messageColumns+` FROM messages WHERE channel_id = $1 AND provider_message_id = $2`,
			m.ChannelID, m.ProviderMessageID)
	} else {
		err = s.db.GetContext(ctx, &out, `SELECT `+messageColumns+` FROM messages WHERE dialog_id = $1 AND client_id = $2`,
			m.DialogID, m.ClientID)
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: read duplicate message: %w", err)
	}
	return &out, false, nil
}

// MessageByID reads a message.
func (s *Store) MessageByID(ctx context.Context, id int64) (*Message, error) {
	var m Message
	if err := s.db.GetContext(ctx, &m, `SELECT `+messageColumns+` FROM messages WHERE id = $1`, id); err != nil {
		return nil, fmt.Errorf("store: message: %w", notFound(err, "message"))
	}
	return &m, nil
}

// AdoptEcho links the echo of a message we sent to it when the send's
// answer could not tell its provider id (an earlier attempt had got
// through). Only a reply whose send began can be behind an echo; the caller
// first lets every reply on its way get its answer (ReplyOnItsWay), since
// only that answer tells a reply's echo from another message of the same
// text (written on the phone, say).
func (s *Store) AdoptEcho(ctx context.Context, dialogID int64, providerID, text string) (*Message, error) {
	providerID, text = pgsafe.Text(providerID), pgsafe.Text(text)
	var m Message
	err := s.db.GetContext(ctx, &m, `
		UPDATE messages SET provider_message_id = $2, updated_at = now()
		WHERE id = (SELECT id FROM messages WHERE dialog_id = $1 AND direction = 'out' AND provider_message_id IS NULL
			AND client_id IS NOT NULL AND send_started_at IS NOT NULL AND text = $3 AND status IN ('pending', 'sent')
			ORDER BY id LIMIT 1 FOR UPDATE)
		RETURNING `+messageColumns, dialogID, providerID, text)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: adopt echo: %w", err)
	}
	return &m, nil
}

// ReplyOnItsWay reports whether a reply of the dialog is on its way: its
// send began after since and has not been answered yet. Until the answer
// records its provider id, an echo of an unknown id in the dialog may be
// that reply's or another message's.
func (s *Store) ReplyOnItsWay(ctx context.Context, dialogID int64, since time.Time) (bool, error) {
	var on bool
	err := s.db.GetContext(ctx, &on, `SELECT EXISTS (SELECT 1 FROM messages WHERE dialog_id = $1 AND direction = 'out'
		AND client_id IS NOT NULL AND provider_message_id IS NULL AND status = 'pending' AND send_started_at > $2)`, dialogID, since)
	if err != nil {
		return false, fmt.Errorf("store: reply on its way: %w", err)
	}
	return on, nil
}

// GatewayAwaitsIDs reports whether a reply sent through the gateway since
// since still lacks its provider id: its send's answer or its echo is yet
// to tell it, so a status of an unknown id may be that reply's.
func (s *Store) GatewayAwaitsIDs(ctx context.Context, gatewayID int64, since time.Time) (bool, error) {
	var on bool
	err := s.db.GetContext(ctx, &on, `SELECT EXISTS (SELECT 1 FROM messages WHERE channel_id IN (SELECT id FROM channels WHERE gateway_id = $1)
		AND direction = 'out' AND client_id IS NOT NULL AND provider_message_id IS NULL AND status IN ('pending', 'sent')
		AND send_started_at > $2)`, gatewayID, since)
	if err != nil {
		return false, fmt.Errorf("store: replies awaiting ids: %w", err)
	}
	return on, nil
}

// statusRank orders delivery statuses: a late "sent" never overwrites "read".
var statusRank = map[string]int{"pending": 0, "sent": 1, "delivered": 2, "read": 3, "error": 1}

// UpdateMessageStatus moves a message's status forward (an error may follow
// sent, not read). It returns the message when it changed, nil when it was
// already there or further, and NotFound when no such message is stored.
func (s *Store) UpdateMessageStatus(ctx context.Context, messageID int64, status, errText string) (*Message, error) {
	return s.moveMessageStatus(ctx, `id = $1`, []any{messageID}, status, errText)
}

// StatusByGateway moves the status of a gateway's message known by its
// gateway id (on any channel of the gateway), as UpdateMessageStatus does.
func (s *Store) StatusByGateway(ctx context.Context, gatewayID int64, providerID, status, errText string) (*Message, error) {
	return s.moveMessageStatus(ctx, `provider_message_id = $1 AND channel_id IN (SELECT id FROM channels WHERE gateway_id = $2)`,
		[]any{providerID, gatewayID}, status, errText)
}

// moveMessageStatus is UpdateMessageStatus of the message the condition
// (this file's own) finds.
func (s *Store) moveMessageStatus(ctx context.Context, where string, args []any, status, errText string) (*Message, error) {
	var m Message
	err := s.db.GetContext(ctx, &m, `SELECT `+messageColumns+` FROM messages WHERE `+where+` FOR UPDATE`, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, problem.New(problem.NotFound, "message_not_found", "no such message")
	}
	if err != nil {
		return nil, fmt.Errorf("store: message for status: %w", err)
	}
	cur, next := statusRank[m.Status], statusRank[status]
	if m.Status == status || (status != "error" && next <= cur) || (status == "error" && cur >= statusRank["delivered"]) || m.Direction != "out" {
		return nil, nil
	}
	var e sql.NullString
	if status == "error" {
		e = sql.NullString{String: pgsafe.Text(errText), Valid: true}
	}
	err = s.db.GetContext(ctx, &m, `UPDATE messages SET status = $2, error = $3, updated_at = now() WHERE id = $1 RETURNING `+messageColumns,
		m.ID, status, e)
	if err != nil {
		return nil, fmt.Errorf("store: update status: %w", err)
	}
	return &m, nil
}

// StatusMoved tells the pages that a message's status moved and, when the
// move changes whether the message answers its dialog (a reply the gateway
// reports failed is no answer; one reported delivered after an error is one
// again), re-derives the dialog's wait.
func (s *Store) StatusMoved(ctx context.Context, m *Message) error {
	events := []Event{{PortalID: m.PortalID, Type: "message.updated", DialogID: m.DialogID, MessageID: m.ID}}
	if m.Direction == "out" {
		var counted bool
		if err := s.db.GetContext(ctx, &counted, `SELECT COALESCE(last_out_at >= $2, false) FROM dialogs WHERE id = $1`, m.DialogID, m.SentAt); err != nil {
			return fmt.Errorf("store: does message %d answer its dialog: %w", m.ID, err)
		}
		if counted != (m.Status != "error") {
			if _, err := s.RecomputeDialog(ctx, m.DialogID); err != nil {
				return err
			}
			events = append(events, Event{PortalID: m.PortalID, Type: "dialog.updated", DialogID: m.DialogID})
		}
	}
	return s.Notify(ctx, events...)
}

// RecomputeDialog derives a dialog's unanswered state and last message from
// its messages (by provider time, so late or reordered deliveries land where
// they belong) and returns it.
func (s *Store) RecomputeDialog(ctx context.Context, dialogID int64) (*Dialog, error) {
	var d Dialog
	err := s.db.GetContext(ctx, &d, `
		WITH last AS (
			SELECT id, sent_at FROM messages WHERE dialog_id = $1 ORDER BY sent_at DESC, id DESC LIMIT 1
		), io AS (
			SELECT max(sent_at) FILTER (WHERE direction = 'in') AS last_in,
			       max(sent_at) FILTER (WHERE direction = 'out' AND status <> 'error') AS last_out
			FROM messages WHERE dialog_id = $1
		)
		UPDATE dialogs d SET
			last_in_at = io.last_in, last_out_at = io.last_out,
			last_message_id = (SELECT id FROM last), last_message_at = (SELECT sent_at FROM last),
			unanswered_since = (SELECT min(m.sent_at) FROM messages m WHERE m.dialog_id = $1 AND m.direction = 'in'
				AND m.sent_at > GREATEST(COALESCE(io.last_out, '-infinity'), COALESCE(d.no_reply_at, '-infinity'))),
			updated_at = now()
		FROM io WHERE d.id = $1
		RETURNING `+prefixed("d.", dialogColumns), dialogID)
	if err != nil {
		return nil, fmt.Errorf("store: recompute dialog: %w", err)
	}
	return &d, nil
}

// MarkNoReplyNeeded ends the dialog's wait as of now.
func (s *Store) MarkNoReplyNeeded(ctx context.Context, dialogID int64, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE dialogs SET no_reply_at = GREATEST(COALESCE(no_reply_at, '-infinity'), $2, COALESCE(last_in_at, $2)) WHERE id = $1`, dialogID, at)
	if err != nil {
		return fmt.Errorf("store: no reply needed: %w", err)
	}
	return nil
}

// Event is what the live stream tells browsers (through LISTEN/NOTIFY, so
// every instance behind a load balancer hears it).
type Event struct {
	PortalID  int64  `json:"portal_id"`
	Type      string `json:"type"`
	DialogID  int64  `json:"dialog_id"`
	MessageID int64  `json:"message_id,omitempty"`
}

// EventChannel is the NOTIFY channel.
const EventChannel = "relay24_events"

// Notify queues events to be delivered when tx commits, in one statement.
func (s *Store) Notify(ctx context.Context, events ...Event) error {
	payloads := make([]string, len(events))
	for i, e := range events {
		b, _ := json.Marshal(e)
		payloads[i] = string(b)
	}
	if _, err := s.db.ExecContext(ctx, `SELECT pg_notify($1, p) FROM unnest($2::text[]) AS t(p)`, EventChannel, pq.Array(payloads)); err != nil {
		return fmt.Errorf("store: notify: %w", err)
	}
	return nil
}

func prefixed(prefix, cols string) string {
	out := []byte{}
	start := true
	for i := 0; i < len(cols); i++ {
		c := cols[i]
		if start && c != ' ' && c != '\n' && c != '\t' {
			out = append(out, prefix...)
			start = false
		}
		out = append(out, c)
		if c == ',' {
			start = true
		}
	}
	return string(out)
}

// GatewayByAccount finds a portal's gateway of one account (API key or bot).
func (s *Store) GatewayByAccount(ctx context.Context, portalID int64, provider, accountID string) (*Gateway, error) {
	var g Gateway
	err := s.db.GetContext(ctx, &g, `SELECT `+gatewayColumns+` FROM gateways WHERE portal_id = $1 AND provider = $2 AND account_id = $3
		ORDER BY id LIMIT 1`, portalID, provider, accountID)
	if err != nil {
		return nil, fmt.Errorf("store: gateway by account: %w", notFound(err, "gateway"))
	}
	return &g, nil
}

// UpdateGatewaySecrets stores new credentials and webhook secrets.
func (s *Store) UpdateGatewaySecrets(ctx context.Context, g *Gateway) error {
	_, err := s.db.ExecContext(ctx, `UPDATE gateways SET credentials = $2, webhook_key = $3, webhook_secret = $4,
		state = 'connecting', connected_at = now(), disconnected_at = NULL WHERE id = $1`,
		g.ID, g.Credentials, g.WebhookKey, g.WebhookSecret)
	if err != nil {
		return fmt.Errorf("store: gateway secrets: %w", err)
	}
	return nil
}

// SetDialogClient records CRM records created for a dialog's client as soon
// as they exist (0 keeps what is stored).
func (s *Store) SetDialogClient(ctx context.Context, dialogID, contactID, leadID, dealID int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE dialogs SET
		contact_id = COALESCE(NULLIF($2, 0), contact_id), lead_id = COALESCE(NULLIF($3, 0), lead_id),
		deal_id = COALESCE(NULLIF($4, 0), deal_id), updated_at = now() WHERE id = $1`, dialogID, contactID, leadID, dealID)
	if err != nil {
		return fmt.Errorf("store: dialog client: %w", err)
	}
	return nil
}

// ResolveDialog records the dialog's client and responsible person; with
// awaitingTaker the dialog stays with nobody until someone answers.
func (s *Store) ResolveDialog(ctx context.Context, dialogID, contactID, leadID, dealID, responsible int64, awaitingTaker ...bool) error {
	awaiting := len(awaitingTaker) > 0 && awaitingTaker[0]
	_, err := s.db.ExecContext(ctx, `UPDATE dialogs SET contact_id = NULLIF($2, 0), lead_id = NULLIF($3, 0),
		deal_id = NULLIF($4, 0), responsible_id = CASE WHEN $6 THEN NULL ELSE COALESCE(NULLIF($5, 0), responsible_id) END,
		awaiting_taker = $6, client_resolved = true, updated_at = now()
		WHERE id = $1`, dialogID, contactID, leadID, dealID, responsible, awaiting)
	if err != nil {
		return fmt.Errorf("store: resolve dialog: %w", err)
	}
	return nil
}

// OpenDealOf is the newest open deal of a contact (0 when none).
func (s *Store) OpenDealOf(ctx context.Context, portalID, contactID int64) (int64, error) {
	var id int64
	err := s.db.GetContext(ctx, &id, `SELECT COALESCE(max(d.id), 0) FROM deal_contacts dc
		JOIN deals d ON d.portal_id = dc.portal_id AND d.id = dc.deal_id
		WHERE dc.portal_id = $1 AND dc.contact_id = $2 AND NOT d.closed`, portalID, contactID)
	if err != nil {
		return 0, fmt.Errorf("store: open deal: %w", err)
	}
	return id, nil
}

// AssigneeOf is a CRM record's responsible user, if active.
func (s *Store) AssigneeOf(ctx context.Context, portalID int64, entity string, id int64) (int64, error) {
	table := map[string]string{"contact": "contacts", "lead": "leads", "deal": "deals"}[entity]
	if table == "" {
		return 0, fmt.Errorf("store: assignee: unknown entity %q", entity)
	}
	var uid int64
	err := s.db.GetContext(ctx, &uid, `SELECT COALESCE((SELECT r.assigned_by_id FROM `+table+` r
		JOIN users u ON u.portal_id = r.portal_id AND u.id = r.assigned_by_id AND u.active
		WHERE r.portal_id = $1 AND r.id = $2), 0)`, portalID, id)
	if err != nil {
		return 0, fmt.Errorf("store: assignee: %w", err)
	}
	return uid, nil
}

// SetTimelineID records the timeline comment written for a message.
func (s *Store) SetTimelineID(ctx context.Context, messageID, timelineID int64) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE messages SET timeline_id = $2 WHERE id = $1`, messageID, timelineID); err != nil {
		return fmt.Errorf("store: timeline id: %w", err)
	}
	return nil
}

// MarkNotified records that the dialog's wait was notified.
func (s *Store) MarkNotified(ctx context.Context, dialogID int64) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE dialogs SET notified_at = now() WHERE id = $1`, dialogID); err != nil {
		return fmt.Errorf("store: mark notified: %w", err)
	}
	return nil
}

// Receivers are the active employees who receive new clients.
func (s *Store) Receivers(ctx context.Context, portalID int64) ([]int64, error) {
	var ids []int64
	err := s.db.SelectContext(ctx, &ids, `
		SELECT u.id FROM users u LEFT JOIN user_access a ON a.portal_id = u.portal_id AND a.user_id = u.id
		WHERE u.portal_id = $1 AND u.active AND u.user_type = 'employee'
		  AND COALESCE(a.receives_new_clients, NOT u.is_admin) AND COALESCE(a.visibility, 'own') <> 'none'
		ORDER BY u.id`, portalID)
	if err != nil {
		return nil, fmt.Errorf("store: receivers: %w", err)
	}
	return ids, nil
}

// WhoGetNotifications keeps the users (active, notifications on) of ids.
func (s *Store) WhoGetNotifications(ctx context.Context, portalID int64, ids []int64) ([]int64, error) {
	var out []int64
	err := s.db.SelectContext(ctx, &out, `
		SELECT u.id FROM users u LEFT JOIN user_access a ON a.portal_id = u.portal_id AND a.user_id = u.id
		WHERE u.portal_id = $1 AND u.id = ANY($2) AND u.active AND COALESCE(a.notify, true) ORDER BY u.id`,
		portalID, pq.Int64Array(ids))
	if err != nil {
		return nil, fmt.Errorf("store: notified users: %w", err)
	}
	return out, nil
}

// StartSend records a send attempt (clearing the last one's outcome) and
// returns the time of the first.
func (s *Store) StartSend(ctx context.Context, messageID int64, now time.Time) (time.Time, error) {
	var t time.Time
	err := s.db.GetContext(ctx, &t, `UPDATE messages SET send_started_at = COALESCE(send_started_at, $2), error = NULL
		WHERE id = $1 RETURNING send_started_at`,
		messageID, now)
	if err != nil {
		return t, fmt.Errorf("store: start send: %w", err)
	}
	return t, nil
}

// MarkSendOutcome notes, on a pending message, how its last attempt ended.
func (s *Store) MarkSendOutcome(ctx context.Context, messageID int64, outcome string) error {
	outcome = pgsafe.Text(outcome)
	if _, err := s.db.ExecContext(ctx, `UPDATE messages SET error = $2 WHERE id = $1 AND status = 'pending'`, messageID, outcome); err != nil {
		return fmt.Errorf("store: send outcome: %w", err)
	}
	return nil
}

// ContactByID reads a mirrored contact.
func (s *Store) ContactByID(ctx context.Context, portalID, id int64) (*ContactRow, error) {
	var c ContactRow
	err := s.db.GetContext(ctx, &c, `SELECT id, name, assigned_by_id FROM contacts WHERE portal_id = $1 AND id = $2`, portalID, id)
	if err != nil {
		return nil, fmt.Errorf("store: contact: %w", notFound(err, "contact"))
	}
	return &c, nil
}

// ContactRow is a mirrored contact as the chat shows it.
type ContactRow struct {
	ID           int64         `db:"id" json:"id"`
	Name         string        `db:"name" json:"name"`
	AssignedByID sql.NullInt64 `db:"assigned_by_id" json:"-"`
}

// IdentitiesOf lists a record's identities.
func (s *Store) IdentitiesOf(ctx context.Context, portalID int64, ownerType string, id int64) ([]identity.ID, error) {
	var rows []struct {
		Kind  string `db:"kind"`
		Value string `db:"value"`
	}
	err := s.db.SelectContext(ctx, &rows, `SELECT kind, value FROM client_identities WHERE portal_id = $1 AND owner_type = $2 AND owner_id = $3
		ORDER BY kind, value`, portalID, ownerType, id)
	if err != nil {
		return nil, fmt.Errorf("store: identities: %w", err)
	}
	out := make([]identity.ID, len(rows))
	for i, r := range rows {
		out[i] = identity.ID{Kind: r.Kind, Value: r.Value}
	}
	return out, nil
}

// GatewayContact is a contact with its chats on one gateway.
type GatewayContact struct {
	ID            int64
	Name          string
	ResponsibleID int64
	Chats         [][2]string // chat type, chat id
}

// GatewayContacts lists the contacts that have dialogs on a gateway's channels.
func (s *Store) GatewayContacts(ctx context.Context, gatewayID int64) ([]GatewayContact, error) {
	var rows []struct {
		ID       int64  `db:"id"`
		Name     string `db:"name"`
		Assigned int64  `db:"assigned"`
		ChatType string `db:"chat_type"`
		ChatID   string `db:"chat_id"`
	}
	err := s.db.SelectContext(ctx, &rows, `
		SELECT c.id, c.name, COALESCE(c.assigned_by_id, d.responsible_id, 0) AS assigned, d.chat_type, d.chat_id
		FROM dialogs d JOIN channels ch ON ch.id = d.channel_id
		JOIN contacts c ON c.portal_id = d.portal_id AND c.id = d.contact_id
		WHERE ch.gateway_id = $1 ORDER BY c.id, d.id`, gatewayID)
	if err != nil {
		return nil, fmt.Errorf("store: gateway contacts: %w", err)
	}
	var out []GatewayContact
	for _, r := range rows {
		if len(out) == 0 || out[len(out)-1].ID != r.ID {
			out = append(out, GatewayContact{ID: r.ID, Name: r.Name, ResponsibleID: r.Assigned})
		}
		last := &out[len(out)-1]
		last.Chats = append(last.Chats, [2]string{r.ChatType, r.ChatID})
	}
	return out, nil
}

// GatewayDeal is an open deal of a contact with dialogs on a gateway.
type GatewayDeal struct {
	ID            int64         `db:"id"`
	Title         string        `db:"title"`
	ResponsibleID int64         `db:"responsible"`
	Closed        bool          `db:"closed"`
	ContactIDs    pq.Int64Array `db:"contact_ids"`
}

// GatewayDeals lists the open deals of the contacts a gateway talks to.
func (s *Store) GatewayDeals(ctx context.Context, gatewayID int64) ([]GatewayDeal, error) {
	var out []GatewayDeal
	err := s.db.SelectContext(ctx, &out, `
		SELECT dl.id, dl.title, COALESCE(dl.assigned_by_id, 0) AS responsible, dl.closed,
			array_agg(DISTINCT dc.contact_id ORDER BY dc.contact_id) AS contact_ids
		FROM dialogs d JOIN channels ch ON ch.id = d.channel_id
		JOIN deal_contacts dc ON dc.portal_id = d.portal_id AND dc.contact_id = d.contact_id
		JOIN deals dl ON dl.portal_id = dc.portal_id AND dl.id = dc.deal_id
		WHERE ch.gateway_id = $1 AND NOT dl.closed
		GROUP BY dl.id, dl.title, dl.assigned_by_id, dl.closed ORDER BY dl.id`, gatewayID)
	if err != nil {
		return nil, fmt.Errorf("store: gateway deals: %w", err)
	}
	return out, nil
}

// Admins lists a portal's active administrators (the last resort of a
// waiting client).
func (s *Store) Admins(ctx context.Context, portalID int64) ([]int64, error) {
	var ids []int64
	if err := s.db.SelectContext(ctx, &ids, `SELECT id FROM users WHERE portal_id = $1 AND active AND is_admin ORDER BY id`, portalID); err != nil {
		return nil, fmt.Errorf("store: admins: %w", err)
	}
	return ids, nil
}

// MarkEscalated records that a dialog's wait was escalated.
func (s *Store) MarkEscalated(ctx context.Context, dialogID int64, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE dialogs SET escalated_at = $2 WHERE id = $1`, dialogID, at); err != nil {
		return fmt.Errorf("store: mark escalated: %w", err)
	}
	return nil
}

// StatusByProvider moves the status of a channel's message known by its
// gateway id, as UpdateMessageStatus does (NotFound when no such message).
func (s *Store) StatusByProvider(ctx context.Context, channelID int64, providerID, status, errText string) (*Message, error) {
	return s.moveMessageStatus(ctx, `channel_id = $1 AND provider_message_id = $2`, []any{channelID, providerID}, status, errText)
}

// EditMessage rewrites a channel's message known by its gateway id: its
// text, its kind unless kind is empty, and its files unless files is nil (a
// JSON array), each made storable as InsertMessage does. It returns nil when
// no such message is stored.
func (s *Store) EditMessage(ctx context.Context, channelID int64, providerID, text, kind string, files json.RawMessage) (*Message, error) {
	var attachments any // NULL: the message keeps its files
	if files != nil {
		if a, _, err := pgsafe.JSON(files); err == nil {
			files = a
		}
		attachments = string(files)
	}
	text, kind = pgsafe.Text(text), pgsafe.Text(kind)
	var m Message
	err := s.db.GetContext(ctx, &m, `UPDATE messages SET text = $3, kind = COALESCE(NULLIF($4, ''), kind),
		attachments = COALESCE($5::jsonb, attachments), updated_at = now()
		WHERE channel_id = $1 AND provider_message_id = $2 RETURNING id, portal_id, dialog_id`, channelID, providerID, text, kind, attachments)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: edit of message %s: %w", providerID, err)
	}
	return &m, nil
}

// TakeDialog makes userID the dialog's responsible person when nobody is, or
// while the dialog waits for its first taker; it reports whether it did.
func (s *Store) TakeDialog(ctx context.Context, dialogID, userID int64) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE dialogs SET responsible_id = $2, awaiting_taker = false
		WHERE id = $1 AND (responsible_id IS NULL OR awaiting_taker)`, dialogID, userID)
	if err != nil {
		return false, fmt.Errorf("store: taking dialog %d: %w", dialogID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RecordProviderID gives a sent message its gateway id, unless it has one
// or another message of its channel holds that id, and returns the id the
// message holds afterwards ("" for none).
func (s *Store) RecordProviderID(ctx context.Context, m *Message, providerID string) (string, error) {
	var held string
	err := s.db.GetContext(ctx, &held, `
		WITH mine AS (
			UPDATE messages SET provider_message_id = $2 WHERE id = $1 AND provider_message_id IS NULL
				AND NOT EXISTS (SELECT 1 FROM messages WHERE channel_id = $3 AND provider_message_id = $2)
			RETURNING provider_message_id)
		SELECT COALESCE((SELECT provider_message_id FROM mine), (SELECT provider_message_id FROM messages WHERE id = $1), '')`,
		m.ID, providerID, m.ChannelID)
	if err != nil {
		return "", fmt.Errorf("store: recording the gateway id of message %d: %w", m.ID, err)
	}
	return held, nil
}

// DialogIDByChat finds a portal's dialog with a chat (on any channel);
// NotFound when there is none yet.
func (s *Store) DialogIDByChat(ctx context.Context, portalID int64, chatID string) (int64, error) {
	var id int64
	err := s.db.GetContext(ctx, &id, `SELECT id FROM dialogs WHERE portal_id = $1 AND chat_id = $2 ORDER BY id LIMIT 1`, portalID, chatID)
	if err != nil {
		return 0, fmt.Errorf("store: dialog of chat %s: %w", chatID, notFound(err, "dialog"))
	}
	return id, nil
}

// Unwritten is a message not on the CRM timeline yet.
type Unwritten struct {
	ID     int64     `db:"id"`
	SentAt time.Time `db:"sent_at"`
}

// UnwrittenMessages lists the dialog's messages not on the CRM timeline
// yet, oldest first (their timeline jobs wait for the dialog's client).
func (s *Store) UnwrittenMessages(ctx context.Context, dialogID int64) ([]Unwritten, error) {
	var out []Unwritten
	if err := s.db.SelectContext(ctx, &out, `SELECT id, sent_at FROM messages WHERE dialog_id = $1 AND timeline_id IS NULL ORDER BY sent_at, id`, dialogID); err != nil {
		return nil, fmt.Errorf("store: messages not on the timeline: %w", err)
	}
	return out, nil
}

// EarlierUnwritten lists the ids of the dialog's messages before the one at
// (sentAt, id) that are not on the CRM timeline yet, the latest first, at
// most limit.
func (s *Store) EarlierUnwritten(ctx context.Context, dialogID int64, sentAt time.Time, id int64, limit int) ([]int64, error) {
	var out []int64
	if err := s.db.SelectContext(ctx, &out, `SELECT id FROM messages WHERE dialog_id = $1 AND timeline_id IS NULL
		AND (sent_at, id) < ($2, $3) ORDER BY sent_at DESC, id DESC LIMIT $4`, dialogID, sentAt, id, limit); err != nil {
		return nil, fmt.Errorf("store: earlier messages not on the timeline: %w", err)
	}
	return out, nil
}

// DetachDialogEntity drops a CRM record the portal no longer has from the
// dialog (only if it still points at it): a deal, and the dialog's entries
// go to the contact; its contact or lead, and the client must be found
// again (reported as unresolved).
func (s *Store) DetachDialogEntity(ctx context.Context, dialogID int64, entity string, id int64) (unresolved bool, err error) {
	var q string
	switch entity {
	case "deal":
		q = `UPDATE dialogs SET deal_id = NULL, updated_at = now() WHERE id = $1 AND deal_id = $2`
	case "contact":
		q = `UPDATE dialogs SET contact_id = NULL, deal_id = NULL, client_resolved = false, updated_at = now()
			WHERE id = $1 AND contact_id = $2`
		unresolved = true
	case "lead":
		q = `UPDATE dialogs SET lead_id = NULL, client_resolved = false, updated_at = now() WHERE id = $1 AND lead_id = $2`
		unresolved = true
	default:
		return false, fmt.Errorf("store: detach: unknown entity %q", entity)
	}
	if _, err := s.db.ExecContext(ctx, q, dialogID, id); err != nil {
		return false, fmt.Errorf("store: detaching the dialog's %s: %w", entity, err)
	}
	return unresolved, nil
}

// LockMessage reads a message under its row lock (in a transaction: until
// it ends), for changes that must not cross an edit or a status.
func (s *Store) LockMessage(ctx context.Context, id int64) (*Message, error) {
	var m Message
	if err := s.db.GetContext(ctx, &m, `SELECT `+messageColumns+` FROM messages WHERE id = $1 FOR UPDATE`, id); err != nil {
		return nil, fmt.Errorf("store: lock message: %w", notFound(err, "message"))
	}
	return &m, nil
}

// LockMessageByProvider reads a channel's message known by its gateway id
// under its row lock; nil when no such message is stored.
func (s *Store) LockMessageByProvider(ctx context.Context, channelID int64, providerID string) (*Message, error) {
	var m Message
	err := s.db.GetContext(ctx, &m, `SELECT `+messageColumns+` FROM messages WHERE channel_id = $1 AND provider_message_id = $2 FOR UPDATE`,
		channelID, pgsafe.Text(providerID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: lock message %s: %w", providerID, err)
	}
	return &m, nil
}

// SetAttachments replaces a message's files (a JSON array), made storable
// as InsertMessage does.
func (s *Store) SetAttachments(ctx context.Context, id int64, files json.RawMessage) error {
	if a, _, err := pgsafe.JSON(files); err == nil {
		files = a
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE messages SET attachments = $2::jsonb, updated_at = now() WHERE id = $1`, id, string(files)); err != nil {
		return fmt.Errorf("store: attachments of message %d: %w", id, err)
	}
	return nil
}

package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store/pgsafe"
)

// TemplateApproved is the one status whose templates may be sent (statuses
// are stored lower case).
const TemplateApproved = "approved"

// Template is a cached WABA template of a Wazzup gateway (waba_templates).
// Channels are Wazzup channel ids (channels.external_id of the gateway).
type Template struct {
	ID        int64           `db:"id"`
	PortalID  int64           `db:"portal_id"`
	GatewayID int64           `db:"gateway_id"`
	GUID      string          `db:"guid"`
	Title     string          `db:"title"`
	Name      string          `db:"name"`
	Text      string          `db:"text"` // the body with {{n}} placeholders
	Variables int             `db:"variables"`
	Status    string          `db:"status"` // lower case
	Channels  pq.StringArray  `db:"channels"`
	Language  string          `db:"language"`
	Category  string          `db:"category"`
	FetchedAt time.Time       `db:"fetched_at"`
	StatusAt  sql.NullTime    `db:"status_at"`
	Raw       json.RawMessage `db:"raw"`
}

const templateColumns = `id, portal_id, gateway_id, guid, title, name, text, variables, status, channels,
	language, category, fetched_at, status_at, raw`

// normStatus is how statuses are kept: Wazzup answers them in either case.
func normStatus(s string) string { return strings.ToLower(strings.TrimSpace(pgsafe.Text(s))) }

// ReplaceTemplates makes ts the gateway's whole list, as fetched at
// fetchedAt, in one transaction: templates no longer listed go, the others
// are inserted or updated in place (ids stay). A gateway of another portal
// is not found. A template without GUID is refused; of two with one GUID
// the last counts.
func (s *Store) ReplaceTemplates(ctx context.Context, portalID, gatewayID int64, ts []Template, fetchedAt time.Time) error {
	byGUID := map[string]int{}
	var list []Template
	for _, t := range ts {
		t.GUID = pgsafe.Text(strings.TrimSpace(t.GUID))
		if t.GUID == "" {
			return fmt.Errorf("store: replace templates: a template without guid")
		}
		if i, ok := byGUID[t.GUID]; ok {
			list[i] = t
			continue
		}
		byGUID[t.GUID] = len(list)
		list = append(list, t)
	}
	return s.Tx(ctx, func(tx *Store) error {
		// The gateway's row serialises two refreshes of one gateway.
		var id int64
		err := tx.db.GetContext(ctx, &id, `SELECT id FROM gateways WHERE id = $1 AND portal_id = $2 FOR UPDATE`, gatewayID, portalID)
		if err != nil {
			return fmt.Errorf("store: replace templates: %w", notFound(err, "gateway"))
		}
		guids := make([]string, 0, len(list))
		for _, t := range list {
			guids = append(guids, t.GUID)
			raw := []byte(t.Raw)
			if r, _, err := pgsafe.JSON(raw); err == nil && len(r) > 0 {
				raw = r
			} else {
				raw = []byte("{}")
			}
			channels := make([]string, 0, len(t.Channels))
			for _, c := range t.Channels {
				channels = append(channels, pgsafe.Text(c))
			}
			_, err := tx.db.ExecContext(ctx, `
				INSERT INTO waba_templates (portal_id, gateway_id, guid, title, name, text, variables, status, channels,
					language, category, fetched_at, raw)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
				ON CONFLICT (gateway_id, guid) DO UPDATE SET title = EXCLUDED.title, name = EXCLUDED.name,
					text = EXCLUDED.text, variables = EXCLUDED.variables, status = EXCLUDED.status,
					channels = EXCLUDED.channels, language = EXCLUDED.language, category = EXCLUDED.category,
					fetched_at = EXCLUDED.fetched_at, raw = EXCLUDED.raw`,
				portalID, gatewayID, t.GUID, pgsafe.Text(t.Title), pgsafe.Text(t.Name), pgsafe.Text(t.Text),
				max(t.Variables, 0), normStatus(t.Status), pq.StringArray(channels), pgsafe.Text(t.Language),
				pgsafe.Text(t.Category), fetchedAt, raw)
			if err != nil {
				return fmt.Errorf("store: replace templates: template %s: %w", t.GUID, err)
			}
		}
		if _, err := tx.db.ExecContext(ctx, `DELETE FROM waba_templates WHERE gateway_id = $1 AND NOT (guid = ANY($2))`,
			gatewayID, pq.StringArray(guids)); err != nil {
			return fmt.Errorf("store: replace templates: drop the unlisted: %w", err)
		}
		return nil
	})
}

// Templates lists every cached template of a gateway, any status, by title.
func (s *Store) Templates(ctx context.Context, portalID, gatewayID int64) ([]Template, error) {
	out := []Template{}
	err := s.db.SelectContext(ctx, &out, `SELECT `+templateColumns+` FROM waba_templates
		WHERE portal_id = $1 AND gateway_id = $2 ORDER BY lower(title), guid`, portalID, gatewayID)
	if err != nil {
		return nil, fmt.Errorf("store: templates: %w", err)
	}
	return out, nil
}

// usableOn is the condition of a template usable on channel c: of its
// gateway, bound to it, approved.
const usableOn = `t.gateway_id = c.gateway_id AND t.portal_id = c.portal_id AND c.external_id = ANY(t.channels) AND t.status = 'approved'`

// UsableTemplates lists the approved templates bound to a channel of the
// portal, by title. Another portal's channel lists nothing.
func (s *Store) UsableTemplates(ctx context.Context, portalID, channelID int64) ([]Template, error) {
	out := []Template{}
	err := s.db.SelectContext(ctx, &out, `SELECT `+prefixed("t.", templateColumns)+`
		FROM channels c JOIN waba_templates t ON `+usableOn+`
		WHERE c.portal_id = $1 AND c.id = $2 ORDER BY lower(t.title), t.guid`, portalID, channelID)
	if err != nil {
		return nil, fmt.Errorf("store: usable templates: %w", err)
	}
	return out, nil
}

// UsableTemplate reads one template by guid if it may be sent on the
// channel now; NotFound otherwise (unknown, another channel's or portal's,
// or not approved).
func (s *Store) UsableTemplate(ctx context.Context, portalID, channelID int64, guid string) (*Template, error) {
	var t Template
	err := s.db.GetContext(ctx, &t, `SELECT `+prefixed("t.", templateColumns)+`
		FROM channels c JOIN waba_templates t ON `+usableOn+`
		WHERE c.portal_id = $1 AND c.id = $2 AND t.guid = $3`, portalID, channelID, pgsafe.Text(guid))
	if err == sql.ErrNoRows {
		return nil, problem.New(problem.NotFound, "template_not_found", "no approved template %q on this channel", guid)
	}
	if err != nil {
		return nil, fmt.Errorf("store: template: %w", err)
	}
	return &t, nil
}

// SetTemplateStatus records a template's new status from the templateStatus
// webhook of its gateway. It reports whether the template is cached (an
// unknown one waits for the next fetch).
func (s *Store) SetTemplateStatus(ctx context.Context, gatewayID int64, guid, status string, at time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE waba_templates SET status = $3, status_at = $4
		WHERE gateway_id = $1 AND guid = $2`, gatewayID, pgsafe.Text(guid), normStatus(status), at)
	if err != nil {
		return false, fmt.Errorf("store: template status: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: template status: %w", err)
	}
	return n > 0, nil
}

// DialogWindow is what the customer-service window of a dialog depends on:
// its channel's transport and the provider time of the client's newest
// message (dialogs.last_in_at; invalid when the client never wrote).
type DialogWindow struct {
	DialogID          int64        `db:"dialog_id"`
	ChannelID         int64        `db:"channel_id"`
	GatewayID         int64        `db:"gateway_id"`
	ExternalChannelID string       `db:"external_id"`
	Provider          string       `db:"provider"`
	Transport         string       `db:"transport"`
	LastInAt          sql.NullTime `db:"last_in_at"`
}

// DialogWindowOf reads a dialog's window facts; another portal's dialog is
// not found. With the gateway adapter's ReplyWindow(w.Transport) it answers
// window_open and window_closes_at (relay.Service.Window).
func (s *Store) DialogWindowOf(ctx context.Context, portalID, dialogID int64) (*DialogWindow, error) {
	var w DialogWindow
	err := s.db.GetContext(ctx, &w, `SELECT d.id AS dialog_id, c.id AS channel_id, c.gateway_id, c.external_id,
			c.provider, c.transport, d.last_in_at
		FROM dialogs d JOIN channels c ON c.id = d.channel_id
		WHERE d.portal_id = $1 AND d.id = $2`, portalID, dialogID)
	if err != nil {
		return nil, fmt.Errorf("store: dialog window: %w", notFound(err, "dialog"))
	}
	return &w, nil
}

// ConnectedGateways lists the gateways of installed portals that are not
// disconnected (the periodic template refresh walks them).
func (s *Store) ConnectedGateways(ctx context.Context) ([]Gateway, error) {
	out := []Gateway{}
	err := s.db.SelectContext(ctx, &out, `SELECT `+prefixed("g.", gatewayColumns)+` FROM gateways g
		JOIN portals p ON p.id = g.portal_id AND p.uninstalled_at IS NULL
		WHERE g.state <> 'disconnected' ORDER BY g.id`)
	if err != nil {
		return nil, fmt.Errorf("store: connected gateways: %w", err)
	}
	return out, nil
}

// GatewayChannels lists a gateway's channels.
func (s *Store) GatewayChannels(ctx context.Context, gatewayID int64) ([]Channel, error) {
	out := []Channel{}
	err := s.db.SelectContext(ctx, &out, `SELECT `+channelColumns+` FROM channels WHERE gateway_id = $1 ORDER BY id`, gatewayID)
	if err != nil {
		return nil, fmt.Errorf("store: gateway channels: %w", err)
	}
	return out, nil
}

// MessageByClientID reads a dialog's message by the client id its request
// carried; nil when there is none.
func (s *Store) MessageByClientID(ctx context.Context, dialogID int64, clientID string) (*Message, error) {
	var m Message
	err := s.db.GetContext(ctx, &m, `SELECT `+messageColumns+` FROM messages WHERE dialog_id = $1 AND client_id = $2`,
		dialogID, pgsafe.Text(clientID))
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: message by client id: %w", err)
	}
	return &m, nil
}

package relay

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/relay24/relay24/gateway"
	"github.com/relay24/relay24/jobs"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
)

// JobTemplates fetches a gateway's templates into the cache (one pending
// per gateway).
const JobTemplates = "templates.refresh"

// TemplatesEvery is how often every gateway with template channels has its
// templates fetched again (the templateStatus webhook keeps them current in
// between; this catches a lost webhook or a template added at the gateway).
const TemplatesEvery = 6 * time.Hour

// templatesLock makes one instance of many schedule the periodic refresh.
const templatesLock = 0x72323474

// Window is a dialog's customer-service window as the chat shows it.
type Window struct {
	// Open: a plain reply or a file may go out now. A channel without a
	// window is always open.
	Open bool
	// ClosesAt is when it closes (or closed); nil for a channel without a
	// window or a client who never wrote.
	ClosesAt *time.Time
	// Templates: the channel sends templates (WhatsApp Business).
	Templates bool
}

// windowOf is the window of a dialog at now: the gateway adapter's
// ReplyWindow after the client's last message is the one source of it.
func (s *Service) windowOf(provider, transport string, lastIn sql.NullTime, now time.Time) Window {
	gw, ok := s.adapter(provider)
	if !ok {
		return Window{Open: true}
	}
	w := Window{Open: true, Templates: gw.TemplatesOn(transport)}
	d := gw.ReplyWindow(transport)
	if d == 0 {
		return w
	}
	if !lastIn.Valid {
		// The client never wrote (a dialog opened from the CRM): no window
		// was ever open.
		w.Open = false
		return w
	}
	at := lastIn.Time.Add(d)
	w.ClosesAt, w.Open = &at, now.Before(at)
	return w
}

// DialogWindow reads a dialog's window now; another portal's dialog is not
// found.
func (s *Service) DialogWindow(ctx context.Context, portalID, dialogID int64) (Window, *store.DialogWindow, error) {
	dw, err := s.o.Store.DialogWindowOf(ctx, portalID, dialogID)
	if err != nil {
		return Window{}, nil, err
	}
	return s.windowOf(dw.Provider, dw.Transport, dw.LastInAt, s.o.Now()), dw, nil
}

// DialogTemplates is a dialog's window and the approved templates of its
// channel (none for a channel without templates).
func (s *Service) DialogTemplates(ctx context.Context, portalID, dialogID int64) (Window, []store.Template, error) {
	w, dw, err := s.DialogWindow(ctx, portalID, dialogID)
	if err != nil {
		return Window{}, nil, err
	}
	if !w.Templates {
		return w, []store.Template{}, nil
	}
	ts, err := s.o.Store.UsableTemplates(ctx, portalID, dw.ChannelID)
	return w, ts, err
}

// checkWindow refuses a plain reply or a file to a dialog whose window is
// closed: the gateway would accept it and fail it later (WhatsApp Business
// after 24 hours, Instagram after 7 days), so it is refused before anything
// is stored or sent.
func (s *Service) checkWindow(t *replyTarget) error {
	w := s.windowOf(t.ch.Provider, t.ch.Transport, t.d.LastInAt, s.o.Now())
	if w.Open {
		return nil
	}
	p := problem.New(problem.Conflict, "window_closed",
		"the client last wrote too long ago: %s lets only a template out now", channelTitle(w, t.d.ChatType)).
		With("templates", w.Templates)
	if w.ClosesAt != nil {
		p = p.With("closed_at", w.ClosesAt.UTC().Format(time.RFC3339))
	}
	return p
}

// repeatOr answers a repeated request (its client id already stored, before
// the window closed) with its message, as acceptReply would; otherwise err.
func (s *Service) repeatOr(ctx context.Context, t *replyTarget, err error) (*store.Message, error) {
	m, rerr := s.o.Store.MessageByClientID(ctx, t.d.ID, t.clientID)
	if rerr != nil {
		return nil, rerr
	}
	if m != nil {
		return m, nil
	}
	return nil, err
}

// channelTitle names a channel's messenger to a person; a WhatsApp channel
// with templates is WhatsApp Business.
func channelTitle(w Window, chatType string) string {
	if w.Templates {
		return "WhatsApp Business"
	}
	return transportTitle(chatType)
}

// TemplateKind is the kind of a template message (Wazzup's own name for it).
const TemplateKind = "wapi_template"

// maxTemplateValue is the longest value of a template variable (the whole
// filled template is limited by the gateway too).
const maxTemplateValue = 1024

// SendTemplate accepts a template reply as Send accepts a text: the message
// (its text is the template filled with the values) and its send job in one
// transaction, exactly once per client id. A template goes out whether the
// window is open or closed. A channel without templates is 409
// templates_not_supported; a template not approved for the dialog's channel
// 404 template_not_found; values not matching its variables 400.
func (s *Service) SendTemplate(ctx context.Context, portalID int64, author Author, dialogID int64, templateGUID string,
	values []string, clientID string) (*store.Message, error) {
	t, err := s.replyTarget(ctx, portalID, dialogID, clientID, "")
	if err != nil {
		return nil, err
	}
	// A repeated request is its first answer, whatever changed since (the
	// template rejected meanwhile, say).
	if m, err := s.o.Store.MessageByClientID(ctx, t.d.ID, t.clientID); err != nil || m != nil {
		return m, err
	}
	gw, ok := s.adapter(t.ch.Provider)
	if !ok || !gw.TemplatesOn(t.ch.Transport) {
		return nil, problem.New(problem.Conflict, "templates_not_supported",
			"%s sends no templates; write a message", transportTitle(t.d.ChatType))
	}
	templateGUID = strings.TrimSpace(templateGUID)
	if templateGUID == "" {
		return nil, problem.New(problem.Invalid, "template_required", "template_id is required")
	}
	tpl, err := s.o.Store.UsableTemplate(ctx, portalID, t.ch.ID, templateGUID)
	if err != nil {
		return nil, err
	}
	if len(values) != tpl.Variables {
		return nil, problem.New(problem.Invalid, "template_values_count",
			"the template takes %d values; %d were given", tpl.Variables, len(values)).With("expected", tpl.Variables)
	}
	clean := make([]string, len(values))
	for i, v := range values {
		v = strings.TrimSpace(v)
		if v == "" {
			return nil, problem.New(problem.Invalid, "template_value_empty", "value %d of the template is empty", i+1).With("index", i+1)
		}
		if err := checkSendable(v); err != nil {
			return nil, err
		}
		if len([]rune(v)) > maxTemplateValue {
			return nil, problem.New(problem.Invalid, "text_too_long", "a template value takes at most %d characters", maxTemplateValue)
		}
		clean[i] = v
	}
	if err := t.writable(); err != nil {
		return nil, err
	}
	text := previewTemplate(tpl.Text, clean)
	var out *store.Message
	err = s.o.Store.Tx(ctx, func(tx *store.Store) error {
		m := &store.Message{PortalID: portalID, DialogID: t.d.ID, ChannelID: t.ch.ID, Direction: "out", ClientID: nullString(t.clientID),
			Kind: TemplateKind, Text: text, AuthorID: nullInt(author.ID), AuthorName: author.Name, Status: "pending", SentAt: s.o.Now()}
		var err error
		out, err = s.acceptReply(ctx, tx, t.d, author, m, func(_ *store.Message, payload map[string]any) error {
			payload["template"] = tpl.GUID
			payload["values"] = clean
			return nil
		})
		return err
	})
	return out, err
}

var templateVar = regexp.MustCompile(`\{\{\s*(\d+)\s*\}\}`)

// previewTemplate fills a template's body: {{n}} takes values[n-1]. The
// cached text is the body only; when the template takes more values than
// the body's highest {{n}}, the first ones are a text header's (they are
// sent first), and the body's are the ones after them.
func previewTemplate(body string, values []string) string {
	highest := 0
	for _, m := range templateVar.FindAllStringSubmatch(body, -1) {
		if n, _ := strconv.Atoi(m[1]); n > highest {
			highest = n
		}
	}
	off := max(len(values)-highest, 0)
	return templateVar.ReplaceAllStringFunc(body, func(m string) string {
		n, _ := strconv.Atoi(templateVar.FindStringSubmatch(m)[1])
		if i := off + n - 1; n >= 1 && i < len(values) {
			return values[i]
		}
		return m
	})
}

// scheduleTemplates enqueues a fetch of a gateway's templates, coalesced
// per gateway.
func (s *Service) scheduleTemplates(ctx context.Context, db sqlx.ExtContext, portalID, gatewayID int64, at time.Time) error {
	_, err := s.o.Jobs.Enqueue(ctx, db, JobTemplates, map[string]int64{"gateway_id": gatewayID}, jobs.Options{
		PortalID: portalID, UniqueKey: JobTemplates + ":" + itoa(gatewayID), RunAt: at})
	return err
}

// hasTemplateChannels reports whether any of the channels sends templates.
func hasTemplateChannels(gw gateway.Gateway, chans []store.Channel) bool {
	for _, c := range chans {
		if gw.TemplatesOn(c.Transport) {
			return true
		}
	}
	return false
}

// ScheduleTemplateRefresh enqueues a fetch for every connected gateway with
// a channel that sends templates (the periodic refresh; one instance of
// many schedules it).
func (s *Service) ScheduleTemplateRefresh(ctx context.Context) error {
	return s.o.Store.Tx(ctx, func(tx *store.Store) error {
		got, err := tx.TryXactLock(ctx, templatesLock)
		if err != nil || !got {
			return err
		}
		gws, err := tx.ConnectedGateways(ctx)
		if err != nil {
			return err
		}
		for _, g := range gws {
			gw, ok := s.adapter(g.Provider)
			if !ok {
				continue
			}
			chans, err := tx.GatewayChannels(ctx, g.ID)
			if err != nil {
				return err
			}
			if !hasTemplateChannels(gw, chans) {
				continue
			}
			if err := s.scheduleTemplates(ctx, tx.Ext(), g.PortalID, g.ID, s.o.Now()); err != nil {
				return err
			}
		}
		return nil
	})
}

// templatesJob fetches a gateway's templates and replaces its cache; a
// gateway that has no channel with templates (any more) keeps none.
func (s *Service) templatesJob(ctx context.Context, j *jobs.Job) error {
	g, err := s.jobGateway(ctx, j)
	if g == nil {
		return err
	}
	gw, ok := s.adapter(g.Provider)
	if !ok {
		return nil
	}
	chans, err := s.o.Store.GatewayChannels(ctx, g.ID)
	if err != nil {
		return err
	}
	if !hasTemplateChannels(gw, chans) {
		return s.o.Store.ReplaceTemplates(ctx, g.PortalID, g.ID, nil, s.o.Now())
	}
	cred, err := s.credential(g)
	if err != nil {
		return jobs.Permanent(err)
	}
	list, err := gw.Templates(ctx, cred)
	if errors.Is(err, gateway.ErrNotSupported) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fetching the templates of gateway %d: %w", g.ID, err)
	}
	ts := make([]store.Template, 0, len(list))
	for _, t := range list {
		ts = append(ts, store.Template{GUID: t.ID, Title: t.Title, Name: t.Name, Text: t.Text, Variables: t.Variables,
			Status: t.Status, Channels: t.Channels, Language: t.Language, Category: t.Category, Raw: t.Raw})
	}
	if err := s.o.Store.ReplaceTemplates(ctx, g.PortalID, g.ID, ts, s.o.Now()); err != nil {
		return err
	}
	s.o.Log.InfoContext(ctx, "templates fetched", slog.Int64("portal_id", g.PortalID), slog.Int64("gateway_id", g.ID), slog.Int("templates", len(ts)))
	// The chats showing a template list read it again.
	return s.o.Store.Notify(ctx, store.Event{PortalID: g.PortalID, Type: "channel.updated"})
}

// applyTemplateStatus records a template's moderation status from the
// gateway's webhook; a template not cached yet (made after the last fetch)
// has the list fetched again.
func (s *Service) applyTemplateStatus(ctx context.Context, g *store.Gateway, ts gateway.TemplateStatus, log *slog.Logger) error {
	known, err := s.o.Store.SetTemplateStatus(ctx, g.ID, ts.ID, ts.Status, s.o.Now())
	if err != nil {
		return err
	}
	log.InfoContext(ctx, "template status", slog.String("template", ts.ID), slog.String("status", ts.Status), slog.Bool("known", known))
	if !known {
		return s.scheduleTemplates(ctx, s.o.Store.DB(), g.PortalID, g.ID, s.o.Now())
	}
	return s.o.Store.Notify(ctx, store.Event{PortalID: g.PortalID, Type: "channel.updated"})
}

// RobotTemplates is the template sender of the automation's robot
// (automation.TemplateSender): its window by ReplyWindow, the template with
// the values of the robot's template_values property.
type RobotTemplates struct{ S *Service }

// WindowOpen reports whether a plain reply may go to the dialog now.
func (t RobotTemplates) WindowOpen(ctx context.Context, portalID, dialogID int64) (bool, error) {
	w, _, err := t.S.DialogWindow(ctx, portalID, dialogID)
	return w.Open, err
}

// SendTemplate sends the template as the chat does, exactly once per
// clientID.
func (t RobotTemplates) SendTemplate(ctx context.Context, portalID int64, author Author, dialogID int64, templateID string, values []string, clientID string) (*store.Message, error) {
	return t.S.SendTemplate(ctx, portalID, author, dialogID, templateID, values, clientID)
}

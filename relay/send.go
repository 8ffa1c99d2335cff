package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/filestore"
	"github.com/relay24/relay24/gateway"
	"github.com/relay24/relay24/identity"
	"github.com/relay24/relay24/jobs"
	"github.com/relay24/relay24/portal"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/store/pgsafe"
)

// sendLease is how soon a send whose worker died is taken up again: well
// inside the 60 s in which Wazzup still recognises a repeated crmMessageId.
const sendLease = 20 * time.Second

// sendRetry marks a pending message whose last attempt surely did not leave.
const sendRetry = "retry"

// Author is who sends a reply.
type Author struct {
	ID   int64
	Name string
}

// Send accepts a reply: the message and its send job are stored in one
// transaction, so an accepted reply is never lost; the same client id twice
// is one message.
func (s *Service) Send(ctx context.Context, portalID int64, author Author, dialogID int64, text, clientID string) (*store.Message, error) {
	text = strings.TrimRight(text, " \t\r\n")
	if strings.TrimSpace(text) == "" {
		return nil, problem.New(problem.Invalid, "empty_text", "the message is empty")
	}
	if err := checkSendable(text); err != nil {
		return nil, err
	}
	t, err := s.replyTarget(ctx, portalID, dialogID, clientID, text)
	if err != nil {
		return nil, err
	}
	if err := t.writable(); err != nil {
		return nil, err
	}
	if err := s.checkWindow(t); err != nil {
		return s.repeatOr(ctx, t, err)
	}
	var out *store.Message
	err = s.o.Store.Tx(ctx, func(tx *store.Store) error {
		m := &store.Message{PortalID: portalID, DialogID: t.d.ID, ChannelID: t.ch.ID, Direction: "out", ClientID: nullString(t.clientID),
			Kind: "text", Text: text, AuthorID: nullInt(author.ID), AuthorName: author.Name, Status: "pending", SentAt: s.o.Now()}
		var err error
		out, err = s.acceptReply(ctx, tx, t.d, author, m, nil)
		return err
	})
	return out, err
}

// replyTarget is the dialog and channel a reply goes to, with its checked
// client id.
type replyTarget struct {
	d        *store.Dialog
	ch       *store.Channel
	clientID string
}

// replyTarget reads the dialog and its channel and checks the client id and
// the text's length for the channel (text may be empty).
func (s *Service) replyTarget(ctx context.Context, portalID, dialogID int64, clientID, text string) (*replyTarget, error) {
	clientID = strings.TrimSpace(clientID)
	if clientID == "" || len(clientID) > 64 {
		return nil, problem.New(problem.Invalid, "bad_client_id", "client_id is required (1 to 64 characters) so that a repeated request sends once")
	}
	d, err := s.o.Store.DialogByID(ctx, portalID, dialogID)
	if err != nil {
		return nil, err
	}
	ch, err := s.o.Store.ChannelByID(ctx, portalID, d.ChannelID)
	if err != nil {
		return nil, err
	}
	if gw, ok := s.adapter(ch.Provider); ok && text != "" {
		if limit, n := gw.TextLimit(ch.Transport), gw.TextLen(text); n > limit {
			return nil, problem.New(problem.Invalid, "text_too_long", "%s accepts at most %d characters; this message has %d",
				transportTitle(d.ChatType), limit, n)
		}
	}
	return &replyTarget{d: d, ch: ch, clientID: clientID}, nil
}

// writable refuses a reply through a channel that cannot send now.
func (t *replyTarget) writable() error {
	if t.ch.State != "active" {
		return problem.New(problem.Conflict, "channel_unavailable", "the channel %s cannot send now (state: %s)", t.ch.Name, t.ch.State)
	}
	return nil
}

// acceptReply stores a reply (in tx) with its send job (payload's message
// id set here; more, when given, adds to it): the first to answer takes the
// client, and the dialog is updated. A repeated client id returns the first
// request's message and changes nothing; before reports whether m was new,
// so the caller can add what goes with it in the same transaction.
func (s *Service) acceptReply(ctx context.Context, tx *store.Store, d *store.Dialog, author Author, m *store.Message,
	before func(stored *store.Message, payload map[string]any) error) (*store.Message, error) {
	stored, inserted, err := tx.InsertMessage(ctx, m)
	if err != nil || !inserted {
		return stored, err // a repeated request: the first one's message
	}
	payload := map[string]any{"message_id": stored.ID}
	if before != nil {
		if err := before(stored, payload); err != nil {
			return nil, err
		}
	}
	took, err := tx.TakeDialog(ctx, d.ID, author.ID)
	if err != nil {
		return nil, err
	}
	if took {
		// The first to answer takes the client: the CRM records follow.
		if _, err := s.o.Jobs.Enqueue(ctx, tx.Ext(), JobAssign, map[string]int64{"dialog_id": d.ID, "user_id": author.ID}, jobs.Options{
			PortalID: m.PortalID, UniqueKey: "assign:" + itoa(d.ID)}); err != nil {
			return nil, err
		}
	}
	if _, err := s.o.Jobs.Enqueue(ctx, tx.Ext(), JobSend, payload, jobs.Options{
		PortalID: m.PortalID, UniqueKey: "send:" + itoa(stored.ID), MaxAttempts: 12}); err != nil {
		return nil, err
	}
	return stored, s.afterMessage(ctx, tx, d, stored)
}

// CheckText applies the rule of replies to a text that will be sent later
// (a quick reply's title and text): control characters other than tab and
// line breaks are 400 invalid_text.
func CheckText(text string) error { return checkSendable(text) }

// checkSendable refuses a reply holding a control character other than tab
// and line breaks (a NUL or an ESC pasted from somewhere): no messenger shows
// it, the database refuses a NUL, and silently changing what the salesperson
// wrote would send something else than he read. He is told where it is.
func checkSendable(text string) error {
	pos := 0
	for _, r := range text {
		pos++
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return problem.New(problem.Invalid, "invalid_text",
				"the text holds an invisible control character (U+%04X) at character %d; remove it and send again", r, pos)
		}
	}
	return nil
}

// sendJob sends one accepted reply through its channel: exactly once, or it
// ends in status error with the reason.
func (s *Service) sendJob(ctx context.Context, j *jobs.Job) error {
	var p struct {
		MessageID int64 `json:"message_id"`
		// Then is the text that follows a file on a channel with no
		// captions: its send job is enqueued with the file's outcome.
		Then int64 `json:"then"`
		// Template is the gateway's id of a template to send, with its
		// values (the message's text is its preview).
		Template string   `json:"template"`
		Values   []string `json:"values"`
	}
	if err := j.Decode(&p); err != nil {
		return jobs.Permanent(err)
	}
	m, err := s.o.Store.MessageByID(ctx, p.MessageID)
	if problem.Is(err, problem.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if m.Status != "pending" {
		if p.Then != 0 {
			// The file's outcome was recorded (its echo may have told us
			// first): make sure the text after it follows it.
			return s.o.Store.Tx(ctx, func(tx *store.Store) error { return s.follow(ctx, tx, m, m.Status != "error", p.Then) })
		}
		return nil // sent (its echo may have told us first) or failed
	}
	d, err := s.o.Store.DialogByID(ctx, m.PortalID, m.DialogID)
	if err != nil {
		return err
	}
	ch, err := s.o.Store.ChannelByID(ctx, m.PortalID, m.ChannelID)
	if err != nil {
		return err
	}
	g, err := s.o.Store.GatewayByID(ctx, ch.GatewayID)
	if err != nil {
		return err
	}
	log := s.o.Log.With(slog.Int64("portal_id", m.PortalID), slog.Int64("message_id", m.ID))
	if g.State == "disconnected" {
		return s.failSendThen(ctx, m, failure("send_channel_disconnected", ""), p.Then, log)
	}
	cred, err := s.credential(g)
	if err != nil {
		return s.failSendThen(ctx, m, failure("send_credentials_unreadable", ""), p.Then, log)
	}
	// What the previous attempt left: nothing (it never started), "retry"
	// (the gateway said it did not take the message), or an attempt with no
	// recorded outcome — a crash, or a timeout — after which the message may
	// have left.
	prevStarted, prevOutcome := m.SendStartedAt.Valid, m.Error.String
	// Record the attempt before anything leaves.
	first, err := s.o.Store.StartSend(ctx, m.ID, s.o.Now())
	if err != nil {
		return err
	}
	gw, ok := s.adapter(g.Provider)
	if !ok {
		return s.failSendThen(ctx, m, failure("send_unknown_provider", g.Provider), p.Then, log)
	}
	traits := gw.Traits()
	if traits.DedupeWindow == 0 && prevStarted && prevOutcome != sendRetry {
		// The gateway has no idempotency key (Telegram): a send that may
		// have left is not repeated; the salesperson sees why and may resend.
		return s.failSendThen(ctx, m, failure("send_uncertain", ""), p.Then, log)
	}
	out := gateway.Outgoing{Target: target(d, ch), Ref: "relay24-" + itoa(m.ID), Text: m.Text}
	if m.AuthorID.Valid {
		out.AuthorID = itoa(m.AuthorID.Int64)
	}
	var sent gateway.Sent
	doing := "sending through " + traits.Title
	if p.Template != "" {
		doing = "sending a template through " + traits.Title
		sent, err = gw.SendTemplate(ctx, cred, out, gateway.Template{ID: p.Template, Params: p.Values})
	} else if fileID, name := fileOf(m); fileID != 0 {
		doing = "sending a file through " + traits.Title
		f := gateway.OutFile{Name: name,
			Open: func(ctx context.Context) (*filestore.File, error) { return s.o.Files.Get(ctx, m.PortalID, fileID) }}
		if s.o.Links != nil {
			f.URL = s.FileURL(m.PortalID, fileID, name)
		}
		sent, err = gw.SendFile(ctx, cred, out, f)
	} else {
		sent, err = gw.SendText(ctx, cred, out)
	}
	if err == nil {
		return s.markSentThen(ctx, m, sent.MessageID, p.Then)
	}
	var se *gateway.SendError
	if !errors.As(err, &se) {
		return err // not the gateway's answer (the file's storage): tried again
	}
	switch se.Outcome {
	case gateway.AlreadySent:
		// An earlier attempt got through; its echo will bring the id.
		log.InfoContext(ctx, "send was already accepted by "+traits.Title)
		return s.markSentThen(ctx, m, "", p.Then)
	case gateway.NotSent:
		// It did not leave: the attempt is recorded for a retry (after the
		// gateway's wait when it gave one).
		if err := s.o.Store.MarkSendOutcome(ctx, m.ID, sendRetry); err != nil {
			return err
		}
		if se.RetryAfter > 0 {
			return jobs.RetryAfter(se.RetryAfter, se.Err)
		}
		return fmt.Errorf("%s: %w", doing, se.Err)
	case gateway.Uncertain:
		// It may have left: only a gateway that refuses a repeat inside its
		// dedupe window (Wazzup's crmMessageId, 60 s) is asked again.
		if traits.DedupeWindow == 0 {
			return s.failSendThen(ctx, m, failure("send_no_answer", traits.Title), p.Then, log)
		}
		if s.o.Now().Sub(first) > traits.DedupeWindow {
			return s.failSendThen(ctx, m, failure("send_not_confirmed", traits.Title), p.Then, log)
		}
		return fmt.Errorf("%s: %w", doing, se.Err)
	}
	return s.failSendThen(ctx, m, se.Reason(), p.Then, log)
}

// target is where a dialog's replies go.
func target(d *store.Dialog, ch *store.Channel) gateway.Target {
	return gateway.Target{ChannelExt: ch.ExternalID, Transport: ch.Transport, ChatType: d.ChatType, ChatID: d.ChatID}
}

// markSent records the send's answer: the reply's provider id (which its
// echo and statuses, held back until now, then find) and status sent.
func (s *Service) markSent(ctx context.Context, m *store.Message, providerID string) error {
	return s.markSentThen(ctx, m, providerID, 0)
}

// markSentThen is markSent, and in the same transaction enqueues the send
// of the message then (the text after a file), if any.
func (s *Service) markSentThen(ctx context.Context, m *store.Message, providerID string, then int64) error {
	providerID = pgsafe.Text(providerID) // the gateway's answer, stored as the webhooks' ids are
	return s.o.Store.Tx(ctx, func(tx *store.Store) error {
		if err := s.follow(ctx, tx, m, true, then); err != nil {
			return err
		}
		if providerID != "" {
			held, err := tx.RecordProviderID(ctx, m, providerID)
			if err != nil {
				return err
			}
			if held != providerID {
				// Echoes wait for this answer, so this should not happen; if
				// it does, it is said, not passed over.
				s.o.Log.WarnContext(ctx, "the gateway's id of a sent reply is another message's", slog.Int64("portal_id", m.PortalID),
					slog.Int64("message_id", m.ID), slog.String("provider_message_id", providerID), slog.String("reply_has", held))
			}
		}
		upd, err := tx.UpdateMessageStatus(ctx, m.ID, "sent", "")
		if err != nil || upd == nil {
			return err
		}
		return tx.Notify(ctx, store.Event{PortalID: m.PortalID, Type: "message.updated", DialogID: m.DialogID, MessageID: m.ID})
	})
}

// failSend ends a reply in status error (visible in the chat); the dialog
// waits for an answer again.
func (s *Service) failSend(ctx context.Context, m *store.Message, reason string, log *slog.Logger) error {
	return s.failSendThen(ctx, m, reason, 0, log)
}

// failSendThen is failSend, and in the same transaction ends the message
// then (the text after a file), if any, in an error too.
func (s *Service) failSendThen(ctx context.Context, m *store.Message, reason string, then int64, log *slog.Logger) error {
	log.WarnContext(ctx, "reply not sent", slog.String("reason", reason))
	return s.o.Store.Tx(ctx, func(tx *store.Store) error {
		if err := s.follow(ctx, tx, m, false, then); err != nil {
			return err
		}
		upd, err := tx.UpdateMessageStatus(ctx, m.ID, "error", reason)
		if err != nil || upd == nil {
			return err
		}
		if _, err := tx.RecomputeDialog(ctx, m.DialogID); err != nil {
			return err
		}
		if err := tx.Notify(ctx, store.Event{PortalID: m.PortalID, Type: "message.updated", DialogID: m.DialogID, MessageID: m.ID}); err != nil {
			return err
		}
		return tx.Notify(ctx, store.Event{PortalID: m.PortalID, Type: "dialog.updated", DialogID: m.DialogID})
	})
}

// NoReplyNeeded ends a dialog's wait without an answer.
func (s *Service) NoReplyNeeded(ctx context.Context, portalID, dialogID int64) (*store.Dialog, error) {
	if _, err := s.o.Store.DialogByID(ctx, portalID, dialogID); err != nil {
		return nil, err
	}
	var out *store.Dialog
	err := s.o.Store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.MarkNoReplyNeeded(ctx, dialogID, s.o.Now()); err != nil {
			return err
		}
		d, err := tx.RecomputeDialog(ctx, dialogID)
		if err != nil {
			return err
		}
		out = d
		return tx.Notify(ctx, store.Event{PortalID: portalID, Type: "dialog.updated", DialogID: dialogID})
	})
	return out, err
}

// CreateDialog opens (or finds) the dialog of a CRM contact on a channel:
// "Create dialog". Without chat_id the contact's phone or account for that
// messenger is used.
func (s *Service) CreateDialog(ctx context.Context, portalID, contactID, channelID int64, chatID string) (*store.Dialog, error) {
	ch, err := s.o.Store.ChannelByID(ctx, portalID, channelID)
	if err != nil {
		return nil, err
	}
	contact, err := s.o.Store.ContactByID(ctx, portalID, contactID)
	if err != nil {
		return nil, err
	}
	gw, ok := s.adapter(ch.Provider)
	if !ok {
		return nil, problem.New(problem.Conflict, "channel_unavailable", "the channel %s cannot send now (state: %s)", ch.Name, ch.State)
	}
	chatType := gw.ChatType(ch.Transport)
	chatID = strings.TrimSpace(chatID)
	if chatID == "" {
		chatID, err = s.chatIDFor(ctx, portalID, contactID, chatType)
		if err != nil {
			return nil, err
		}
	}
	if chatType == "whatsapp" || chatType == "viber" {
		if p := identity.NormalizePhone(chatID); p != "" {
			chatID = p
		} else {
			return nil, problem.New(problem.Invalid, "bad_chat_id", "%q is not a phone number", chatID)
		}
	}
	var out *store.Dialog
	err = s.o.Store.Tx(ctx, func(tx *store.Store) error {
		d, _, err := tx.UpsertDialog(ctx, portalID, store.DialogKey{ChannelID: ch.ID, ChatType: chatType, ChatID: chatID},
			store.ClientInfo{Name: contact.Name})
		if err != nil {
			return err
		}
		if d.ContactID.Valid && d.ContactID.Int64 != contactID {
			// The handle is another client's: say so rather than open that
			// client's dialog under this one's name.
			return handleTaken(ctx, tx, portalID, chatID, d)
		}
		if !d.ClientResolved {
			deal, _ := tx.OpenDealOf(ctx, portalID, contactID)
			resp, _ := tx.AssigneeOf(ctx, portalID, "contact", contactID)
			if err := tx.ResolveDialog(ctx, d.ID, contactID, 0, deal, resp); err != nil {
				return err
			}
		}
		out, err = tx.LockDialog(ctx, d.ID)
		if err != nil {
			return err
		}
		return tx.Notify(ctx, store.Event{PortalID: portalID, Type: "dialog.updated", DialogID: d.ID})
	})
	return out, err
}

// HandleTaken is the code of "Create dialog" with a phone or account that
// already is another client's dialog on the channel.
const HandleTaken = "handle_belongs_to_other_client"

// handleTaken is the 409 naming the client the handle belongs to
// (client_id, client; dialog_id): the handler drops them for a caller who
// may not see that client.
func handleTaken(ctx context.Context, tx *store.Store, portalID int64, chatID string, d *store.Dialog) error {
	other := d.ContactID.Int64
	name := d.ClientName
	if c, err := tx.ContactByID(ctx, portalID, other); err == nil && c.Name != "" {
		name = c.Name
	}
	return problem.New(problem.Conflict, "handle_belongs_to_other_client",
		"%s already belongs to another client (contact %d)", chatID, other).
		With("client_id", other).With("client", name).With("dialog_id", d.ID)
}

// chatIDFor picks the contact's identity for a messenger.
func (s *Service) chatIDFor(ctx context.Context, portalID, contactID int64, chatType string) (string, error) {
	ids, err := s.o.Store.IdentitiesOf(ctx, portalID, "contact", contactID)
	if err != nil {
		return "", err
	}
	want := map[string]string{"whatsapp": identity.Phone, "viber": identity.Phone, "telegram": identity.Telegram,
		"instagram": identity.Instagram, "vk": identity.VK}[chatType]
	for _, id := range ids {
		if id.Kind == want {
			return id.Value, nil
		}
	}
	if chatType == "telegram" {
		// Wazzup's Telegram can start a chat by phone; a bot cannot.
		for _, id := range ids {
			if id.Kind == identity.Phone {
				return id.Value, nil
			}
		}
	}
	return "", problem.New(problem.Invalid, "no_chat_id", "the contact has no %s identity; give chat_id", chatType)
}

// EntityContacts are the contacts of a CRM card for its individual chat. A
// deal's contacts are read from the portal first (the mirror only learns the
// secondary ones from deal events); if the portal does not answer, the mirror
// serves.
func (s *Service) EntityContacts(ctx context.Context, portalID int64, entity string, id int64) ([]store.ContactRow, error) {
	key := fmt.Sprintf("%d:%s:%d", portalID, entity, id)
	fresh := false
	if v, ok := s.cards.Load(key); ok && s.o.Now().Sub(v.(time.Time)) < cardTTL {
		fresh = true // the page re-reads the list on every live event
	}
	if (entity == "deal" || entity == "lead") && !fresh {
		s.cards.Store(key, s.o.Now())
		if c, err := s.o.Portals.Client(ctx, portalID); err == nil {
			fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if err := s.o.Sync.FetchRecord(fctx, c, portalID, entity, id); err != nil {
				s.o.Log.WarnContext(ctx, "card not refreshed from the portal", slog.String("entity", entity), slog.Int64("id", id), slog.String("error", err.Error()))
			}
			cancel()
		}
	}
	out, err := s.o.Store.EntityContacts(ctx, portalID, entity, id)
	if entity == "contact" && !fresh && problem.Is(err, problem.NotFound) {
		// A contact created a moment ago may not have reached the mirror yet.
		s.cards.Store(key, s.o.Now())
		if c, cerr := s.o.Portals.Client(ctx, portalID); cerr == nil {
			fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			ferr := s.o.Sync.FetchRecord(fctx, c, portalID, entity, id)
			cancel()
			if ferr == nil {
				return s.o.Store.EntityContacts(ctx, portalID, entity, id)
			}
			s.o.Log.WarnContext(ctx, "card not refreshed from the portal", slog.String("entity", entity), slog.Int64("id", id), slog.String("error", ferr.Error()))
		}
	}
	return out, err
}

// JobAssign makes the CRM records of a dialog's client follow the person who
// took the dialog by answering first.
const JobAssign = "crm.assign"

// assignJob sets ASSIGNED_BY_ID on the dialog's contact, deal and lead to the
// person who took the dialog.
func (s *Service) assignJob(ctx context.Context, j *jobs.Job) error {
	var p struct {
		UserID int64 `json:"user_id"`
	}
	if err := j.Decode(&p); err != nil {
		return jobs.Permanent(err)
	}
	d, err := s.jobDialog(ctx, j)
	if err != nil || d == nil {
		return err
	}
	portalID := d.PortalID
	if !d.ClientResolved {
		return jobs.RetryAfter(s.o.NotifyDelay, errors.New("waiting for the client to be resolved"))
	}
	c, err := s.o.Portals.Client(ctx, portalID)
	if err != nil {
		return portal.JobError(err)
	}
	type rec struct {
		entity string
		id     int64
	}
	var recs []rec
	for _, r := range []rec{{"contact", d.ContactID.Int64}, {"deal", d.DealID.Int64}, {"lead", d.LeadID.Int64}} {
		if r.id == 0 {
			continue
		}
		cur, err := s.o.Store.AssigneeOf(ctx, portalID, r.entity, r.id)
		if err != nil {
			return err
		}
		if cur != p.UserID {
			recs = append(recs, r)
		}
	}
	for _, r := range recs {
		if err := c.Call(ctx, "crm."+r.entity+".update", bitrix.Params{"id": r.id, "fields": map[string]any{"ASSIGNED_BY_ID": p.UserID}}, nil); err != nil {
			return portal.JobError(fmt.Errorf("assigning %s %d: %w", r.entity, r.id, err))
		}
		if err := s.o.Sync.FetchRecord(ctx, c, portalID, r.entity, r.id); err != nil {
			return portal.JobError(err)
		}
	}
	return nil
}

// follow settles the text that goes after a file (then; 0 for none): its
// send job once the file has left, or an error when the file did not.
func (s *Service) follow(ctx context.Context, tx *store.Store, m *store.Message, sent bool, then int64) error {
	if then == 0 {
		return nil
	}
	if sent {
		_, err := s.o.Jobs.Enqueue(ctx, tx.Ext(), JobSend, map[string]int64{"message_id": then}, jobs.Options{
			PortalID: m.PortalID, UniqueKey: "send:" + itoa(then), MaxAttempts: 12})
		return err
	}
	upd, err := tx.UpdateMessageStatus(ctx, then, "error", failure("send_failed_after_file", ""))
	if err != nil || upd == nil {
		return err
	}
	return tx.Notify(ctx, store.Event{PortalID: m.PortalID, Type: "message.updated", DialogID: m.DialogID, MessageID: then})
}

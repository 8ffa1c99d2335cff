package relay

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/lib/pq"

	"github.com/relay24/relay24/gateway"
	"github.com/relay24/relay24/jobs"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/store/pgsafe"
)

// webhookPayload is the stored job of a webhook: the gateway and the body
// as received or, when the database could not hold it as received, repaired
// (see pgsafe.JSON). A repaired body has beside it, for support and never
// read by the filing, "raw": the bytes as received in base64, and
// "repaired": what was repaired ("nul,surrogate", ...).
type webhookPayload struct {
	GatewayID int64           `json:"g"`
	Body      json.RawMessage `json:"b"`
}

// unknownWebhook answers a webhook whose gateway or portal is not (or no
// longer) served: 404 at once, so the gateway stops retrying it.
func unknownWebhook() error {
	return problem.New(problem.NotFound, "unknown_webhook", "unknown webhook")
}

// gatewayFor authenticates a webhook by the secret in its URL.
func (s *Service) gatewayFor(ctx context.Context, provider, key string) (*store.Gateway, error) {
	if key == "" || len(key) > 128 {
		return nil, unknownWebhook()
	}
	hash := s.webhookKeyHash(key)
	cacheKey := provider + ":" + string(hash)
	if g, ok := s.gateways.get(cacheKey, s.o.Now()); ok {
		return g, nil
	}
	mark := s.gateways.mark()
	g, err := s.o.Store.GatewayByKey(ctx, provider, hash)
	if err == nil && g.State != "disconnected" {
		s.gateways.put(cacheKey, g, s.o.Now(), mark)
	}
	if problem.Is(err, problem.NotFound) || (err == nil && g.State == "disconnected") {
		return nil, unknownWebhook()
	}
	return g, err
}

// cleanBody makes a webhook body storable as jsonb (pgsafe.JSON): a text
// with a NUL, half an emoji or a number beyond range is stored repaired,
// never refused with a 5xx that every redelivery would meet again.
func cleanBody(body []byte) ([]byte, pgsafe.Repairs, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, 0, problem.New(problem.Invalid, "malformed_webhook", "the body is not a JSON object")
	}
	clean, fixed, err := pgsafe.JSON(body)
	if err != nil {
		return nil, 0, problem.Wrap(err, problem.Invalid, "malformed_webhook", "the body is not a JSON object")
	}
	return clean, fixed, nil
}

// storeWebhook makes the body durable as a job in one insert: once this
// returns, the webhook may be acknowledged. raw is the body as received when
// clean is its repair (fixed != 0), kept beside it.
func (s *Service) storeWebhook(ctx context.Context, kind string, g *store.Gateway, clean, raw []byte, fixed pgsafe.Repairs) error {
	var buf bytes.Buffer
	buf.Grow(len(clean) + 32)
	buf.WriteString(`{"g":`)
	buf.WriteString(strconv.FormatInt(g.ID, 10))
	buf.WriteString(`,"b":`)
	buf.Write(clean)
	if fixed != 0 {
		buf.WriteString(`,"raw":"`)
		buf.WriteString(base64.StdEncoding.EncodeToString(raw))
		buf.WriteString(`","repaired":"`)
		buf.WriteString(fixed.String())
		buf.WriteString(`"`)
		s.o.Log.WarnContext(ctx, "webhook repaired to be storable", slog.Int64("portal_id", g.PortalID),
			slog.Int64("gateway_id", g.ID), slog.String("repaired", fixed.String()))
	}
	buf.WriteByte('}')
	var err error
	if s.intake != nil {
		err = s.intake.Add(ctx, kind, g.PortalID, buf.Bytes())
	} else {
		_, err = s.o.Jobs.Enqueue(ctx, s.o.Store.DB(), kind, json.RawMessage(buf.Bytes()), jobs.Options{PortalID: g.PortalID})
	}
	switch {
	case errors.Is(err, jobs.ErrNoPortal) || isForeignKey(err):
		// The portal was deleted (uninstalled with its data) while its
		// gateway was still cached: nothing will ever file this webhook.
		s.gateways.forget(g.ID)
		s.gatewaysByID.forget(g.ID)
		return problem.Wrap(err, problem.NotFound, "unknown_webhook", "unknown webhook")
	case errors.Is(err, jobs.ErrUnstorable) || isDataException(err):
		// Not expected after the repair; were it to happen, a redelivery
		// would meet the same refusal, so it is refused, not a 5xx.
		return problem.Wrap(err, problem.Invalid, "unstorable_webhook", "the body holds data relay24 cannot store")
	}
	return err
}

// isForeignKey and isDataException classify an error of Enqueue (the path
// without the intake) as the intake does.
func isForeignKey(err error) bool {
	var pqe *pq.Error
	return errors.As(err, &pqe) && pqe.Code == "23503"
}

func isDataException(err error) bool {
	var pqe *pq.Error
	return errors.As(err, &pqe) && pqe.Code.Class() == "22"
}

// HandleWazzupWebhook authenticates and stores a Wazzup webhook. The probe
// {"test":true} is answered without storing anything.
func (s *Service) HandleWazzupWebhook(ctx context.Context, key string, body []byte) error {
	g, err := s.gatewayFor(ctx, gateway.ProviderWazzup, key)
	if err != nil {
		return err
	}
	// Only well-formed JSON objects are stored; their content is read by
	// the worker (a part it cannot use is logged there, and its filing
	// ends).
	clean, fixed, err := cleanBody(body)
	if err != nil {
		return err
	}
	return s.acceptWebhook(ctx, JobWazzupWebhook, g, clean, body, fixed)
}

// HandleTelegramWebhook authenticates (URL secret and the secret-token
// header, compared in constant time) and stores a Telegram update, once the
// adapter read it (gateway.Telegram.CheckWebhook): an unusable date is not
// worth a message, the time of receipt stands in (see telegram.Message).
func (s *Service) HandleTelegramWebhook(ctx context.Context, key, secretHeader string, body []byte) error {
	g, err := s.gatewayFor(ctx, gateway.ProviderTelegram, key)
	if err != nil {
		return err
	}
	want, err := s.o.Keys.Open(g.WebhookSecret, secretContext(g.ID))
	if err != nil || subtle.ConstantTimeCompare([]byte(want), []byte(secretHeader)) != 1 {
		return problem.New(problem.Unauthorized, "bad_secret_token", "wrong X-Telegram-Bot-Api-Secret-Token")
	}
	clean, fixed, err := cleanBody(body)
	if err != nil {
		return problem.Wrap(err, problem.Invalid, "malformed_update", "malformed update: the body is not a JSON object")
	}
	return s.acceptWebhook(ctx, JobTelegramWebhook, g, clean, body, fixed)
}

// acceptWebhook lets the gateway's adapter look at a clean body (the
// repaired body is what the worker will read, so it is what it checks) and
// stores it unless it is the gateway's probe.
func (s *Service) acceptWebhook(ctx context.Context, kind string, g *store.Gateway, clean, raw []byte, fixed pgsafe.Repairs) error {
	gw, ok := s.adapter(g.Provider)
	if !ok {
		return unknownWebhook()
	}
	probe, err := gw.CheckWebhook(clean)
	if err != nil || probe {
		return err
	}
	return s.storeWebhook(ctx, kind, g, clean, raw, fixed)
}

// storedWebhook reads a webhook job: its gateway and the body as received.
func (s *Service) storedWebhook(ctx context.Context, j *jobs.Job) (*store.Gateway, []byte, error) {
	var p webhookPayload
	if err := j.Decode(&p); err != nil {
		return nil, nil, jobs.Permanent(err)
	}
	if g, ok := s.gatewaysByID.get(p.GatewayID, s.o.Now()); ok {
		return g, p.Body, nil
	}
	mark := s.gatewaysByID.mark()
	g, err := s.o.Store.GatewayByID(ctx, p.GatewayID)
	if problem.Is(err, problem.NotFound) {
		return nil, nil, jobs.Permanent(err)
	}
	if err != nil {
		return nil, nil, err
	}
	s.gatewaysByID.put(p.GatewayID, g, s.o.Now(), mark)
	return g, p.Body, nil
}

// webhookJob files a stored webhook: its adapter reads it into channel
// updates, messages and statuses, filed in that order.
func (s *Service) webhookJob(ctx context.Context, j *jobs.Job) error {
	g, body, err := s.storedWebhook(ctx, j)
	if err != nil {
		return err
	}
	gw, ok := s.adapter(g.Provider)
	if !ok {
		return jobs.Permanent(fmt.Errorf("no adapter for gateway provider %q", g.Provider))
	}
	w, err := gw.ParseWebhook(body, g.AccountID)
	if err != nil {
		// Stored, acknowledged, and not ours to understand (a message
		// without a usable messageId, ...): no retry can change that. The
		// job ends failed with the reason, kept for support.
		return jobs.Permanent(err)
	}
	log := s.o.Log.With(slog.Int64("portal_id", g.PortalID), slog.Int64("gateway_id", g.ID))
	if len(w.UnknownKeys) > 0 {
		log.InfoContext(ctx, "webhook keys ignored", slog.Any("keys", w.UnknownKeys))
	}
	if w.Ignored != "" {
		log.InfoContext(ctx, "webhook ignored", slog.String("why", w.Ignored))
	}
	for _, cu := range w.ChannelUpdates {
		at := s.providerTime(cu.At)
		ch, err := s.o.Store.SetChannelState(ctx, g.ID, cu.ChannelExt, cu.State, cu.QR, at)
		if err != nil {
			return err
		}
		if ch == nil {
			// Not stored, or this update is older than the stored state. A
			// channel added to the account after it was connected is
			// announced so: it is learnt from the account's listing now,
			// not when its first message comes.
			if ch, err = s.learnChannel(ctx, g, cu.ChannelExt, log); err != nil {
				return err
			}
		}
		if ch != nil {
			log.InfoContext(ctx, "channel state", slog.Int64("channel_id", ch.ID), slog.String("state", ch.State))
			_ = s.o.Store.Notify(ctx, store.Event{PortalID: g.PortalID, Type: "channel.updated"})
		}
	}
	// An echo or a status that overtook the answer of a send waits for it;
	// the rest of the webhook is filed meanwhile.
	var early error
	for _, in := range w.Messages {
		err := s.fileMessage(ctx, g, in, log)
		if errors.Is(err, errEchoEarly) {
			early = err // the rest is filed; this one waits
			continue
		}
		if err != nil {
			return err
		}
	}
	for _, st := range w.Statuses {
		err := s.applyStatus(ctx, g, st.ProviderID, st.Status, st.Error, st.At, log)
		if errors.Is(err, errStatusEarly) {
			early = err
			continue
		}
		if err != nil {
			return err
		}
	}
	for _, ts := range w.TemplateStatuses {
		if err := s.applyTemplateStatus(ctx, g, ts, log); err != nil {
			return err
		}
	}
	if early != nil {
		// What is done stays done: filing again is a redelivery, and a
		// status applied twice changes nothing.
		return jobs.RetryAfter(earlyRetry, early)
	}
	return nil
}

// maxClockSkew is how far ahead of ours a gateway's clock may be believed.
const maxClockSkew = 5 * time.Minute

// providerTime is a gateway's time of an event, or the time of receipt when
// it has none or an impossible one: a time in the future would keep a
// dialog waiting past every answer, and one beyond the year 294276 (a
// dateTime of 9999999999999999 ms) is refused by timestamptz, failing the
// filing on every retry.
func (s *Service) providerTime(at time.Time) time.Time {
	now := s.o.Now()
	if at.IsZero() || at.After(now.Add(maxClockSkew)) {
		return now
	}
	return at
}

// Wazzup's webhooks can overtake the answer to a send (its echo is even
// sent before that answer): only the answer tells which message of ours an
// id is. An echo or a status of an id relay24 does not know yet waits for
// it, tried again every earlyRetry, for at most echoWait: well past the
// send's request timeout and the retries inside Wazzup's crmMessageId window.
const (
	echoWait   = 2 * time.Minute
	earlyRetry = time.Second
)

// errStatusEarly marks a status that arrived before its message is known.
var errStatusEarly = errors.New("status for a message not stored yet")

// errEchoEarly marks an echo that arrived while a reply of its dialog is on
// its way: until the send's answer records the reply's id, the echo may be
// the reply's or another message's with the same text.
var errEchoEarly = errors.New("echo while a reply of the dialog awaits its send's answer")

// applyStatus moves an outgoing message's status. A status of an id not
// stored yet waits (errStatusEarly) while its message may still come: for
// echoWait after the status happened, or, when Wazzup gave no time, while a
// reply of the gateway still lacks its id. Then it is dropped with a log line.
func (s *Service) applyStatus(ctx context.Context, g *store.Gateway, providerID, status, errText string, at time.Time, log *slog.Logger) error {
	switch status {
	case "sent", "delivered", "read", "error":
	default:
		return nil // "edited" and unknown statuses change nothing we show
	}
	// In a transaction: the row lock orders concurrent statuses of one
	// message (delivered and read arriving together must end at read).
	var m *store.Message
	err := s.o.Store.Tx(ctx, func(tx *store.Store) error {
		var err error
		m, err = tx.StatusByGateway(ctx, g.ID, providerID, status, errText)
		if err != nil || m == nil {
			return err
		}
		return tx.StatusMoved(ctx, m)
	})
	if problem.Is(err, problem.NotFound) {
		since := s.o.Now().Add(-echoWait)
		wait := !at.IsZero() && s.providerTime(at).After(since)
		if at.IsZero() {
			if wait, err = s.o.Store.GatewayAwaitsIDs(ctx, g.ID, since); err != nil {
				return err
			}
		}
		if wait {
			return fmt.Errorf("%w: %s", errStatusEarly, providerID)
		}
		log.WarnContext(ctx, "status for an unknown message dropped", slog.String("message", providerID), slog.String("status", status))
		return nil
	}
	return err
}

// fileMessage stores one message into its dialog exactly once and schedules
// what follows from it, all in one transaction.
func (s *Service) fileMessage(ctx context.Context, g *store.Gateway, in inbound, log *slog.Logger) error {
	if in.ProviderID == "" || in.ChatID == "" {
		log.WarnContext(ctx, "message without id or chat ignored")
		return nil
	}
	in.At = s.providerTime(in.At)
	ch, err := s.channelFor(ctx, g, in)
	if err != nil {
		return err
	}
	var dropped []int64 // copied files an edit or deletion replaced
	err = s.o.Store.Tx(ctx, func(tx *store.Store) error {
		dropped = nil
		if in.Edited || in.Deleted {
			// An edit changes a stored message; it opens no dialog.
			var e error
			dropped, e = s.applyEdit(ctx, tx, ch, in)
			return e
		}
		d, _, err := tx.UpsertDialog(ctx, g.PortalID, store.DialogKey{ChannelID: ch.ID, ChatType: in.ChatType, ChatID: in.ChatID}, in.Client)
		if err != nil {
			return err
		}
		if !d.ClientResolved {
			// A client the mirror knows is attached now, in this transaction:
			// the very first event already reaches only those who may see him.
			if d, err = s.resolveLocally(ctx, tx, d); err != nil {
				return err
			}
		}
		if in.Echo {
			done, err := s.matchEcho(ctx, tx, ch, d, in)
			if err != nil || done {
				return err
			}
		}
		m := &store.Message{PortalID: g.PortalID, DialogID: d.ID, ChannelID: ch.ID, Direction: "in",
			ProviderMessageID: nullString(in.ProviderID), Kind: kindOf(in.Kind), Text: in.Text, Status: "inbound", SentAt: in.At}
		if in.Echo {
			m.Direction, m.Status, m.AuthorName = "out", echoStatus(in.Status), in.AuthorName
			m.AuthorID = nullInt(in.AuthorID)
			if in.Error != "" {
				m.Error = nullString(in.Error)
			}
		}
		if len(in.Attachments) > 0 {
			m.Attachments, _ = json.Marshal(in.Attachments)
		}
		stored, inserted, err := tx.InsertMessage(ctx, m)
		if err != nil || !inserted {
			return err // a redelivery: nothing changes
		}
		if hasGatewayFiles(in.Attachments) {
			// The gateway's files are copied into relay24's storage.
			if err := s.o.Jobs.EnqueueMany(ctx, tx.Ext(), []jobs.Spec{mediaCopySpec(stored)}); err != nil {
				return err
			}
		}
		return s.afterMessage(ctx, tx, d, stored)
	})
	if err == nil {
		s.dropFiles(ctx, g.PortalID, dropped)
	}
	return err
}

// unresolvedTimelineWait puts off a message's timeline job while its
// dialog's client is being found or created: the worker that resolves him
// hurries the job (hurryTimeline), so none is claimed only to wait again.
const unresolvedTimelineWait = 30 * time.Second

func timelineKey(messageID int64) string { return "timeline:" + itoa(messageID) }

// hurryTimeline makes the timeline jobs of the dialog's messages due now,
// once its client is resolved (in tx, the transaction that resolved it).
func (s *Service) hurryTimeline(ctx context.Context, tx *store.Store, dialogID int64) error {
	ms, err := tx.UnwrittenMessages(ctx, dialogID)
	if err != nil || len(ms) == 0 {
		return err
	}
	keys, at := make([]string, len(ms)), make([]time.Time, len(ms))
	for i, m := range ms {
		keys[i], at[i] = timelineKey(m.ID), m.SentAt
	}
	return s.o.Jobs.Hurry(ctx, tx.Ext(), keys, at)
}

// afterMessage updates the dialog and schedules the CRM work of a new message.
func (s *Service) afterMessage(ctx context.Context, tx *store.Store, d *store.Dialog, m *store.Message) error {
	nd, err := tx.RecomputeDialog(ctx, d.ID)
	if err != nil {
		return err
	}
	if err := tx.Notify(ctx,
		store.Event{PortalID: m.PortalID, Type: "message.created", DialogID: d.ID, MessageID: m.ID},
		store.Event{PortalID: m.PortalID, Type: "dialog.updated", DialogID: d.ID}); err != nil {
		return err
	}
	// Due when the message was sent (now at the latest): a portal's
	// timeline jobs run in that order, so a dialog's entries keep its
	// messages' order even when two of them were filed the other way round.
	due := s.o.Now()
	if !m.SentAt.IsZero() && m.SentAt.Before(due) {
		due = m.SentAt
	}
	specs := []jobs.Spec{{Kind: JobTimeline, Payload: map[string]int64{"message_id": m.ID},
		Options: jobs.Options{PortalID: m.PortalID, UniqueKey: timelineKey(m.ID), RunAt: due}}}
	if !nd.ClientResolved {
		// The timeline entry needs the client's record: it is hurried when
		// the client is resolved (hurryTimeline), and comes back by itself
		// later should that never happen.
		specs[0].RunAt = s.o.Now().Add(unresolvedTimelineWait)
		specs = append(specs, jobs.Spec{Kind: JobResolveClient, Payload: map[string]int64{"dialog_id": d.ID},
			Options: jobs.Options{PortalID: m.PortalID, UniqueKey: "client:" + itoa(d.ID)}})
	}
	if m.Direction == "in" && s.hooks.Inbound != nil {
		if err := s.hooks.Inbound(ctx, tx, nd, m); err != nil {
			return err
		}
	}
	if m.Direction == "in" && nd.Unanswered {
		specs = append(specs, jobs.Spec{Kind: JobNotify, Payload: map[string]int64{"dialog_id": d.ID},
			Options: jobs.Options{PortalID: m.PortalID, UniqueKey: "notify:" + itoa(d.ID), RunAt: s.o.Now().Add(s.o.NotifyDelay)}})
	}
	return s.o.Jobs.EnqueueMany(ctx, tx.Ext(), specs)
}

// matchEcho recognises the echo of a message relay24 sent: by its provider
// id, or, when the send's answer could not tell it, by dialog and text. An
// echo of an unknown id waits (errEchoEarly) while a reply of its dialog is
// on its way. It reports whether the echo was ours (and is now handled).
func (s *Service) matchEcho(ctx context.Context, tx *store.Store, ch *store.Channel, d *store.Dialog, in inbound) (bool, error) {
	m, err := tx.StatusByProvider(ctx, ch.ID, in.ProviderID, echoStatus(in.Status), in.Error)
	if err == nil {
		if m == nil {
			return true, nil
		}
		return true, tx.StatusMoved(ctx, m)
	}
	if !problem.Is(err, problem.NotFound) {
		return false, fmt.Errorf("echo by id: %w", err)
	}
	// An unknown id while a reply of the dialog is on its way: taking the
	// echo for the reply by its text, or filing it as a message of its own,
	// would be a guess that the send's answer settles in a moment. A wrong
	// guess showed the reply twice, or gave it another message's id and so
	// that message's statuses (and the reply's own answer could not record
	// its id); a reply still queued was even taken as sent and never left.
	if waiting, err := tx.ReplyOnItsWay(ctx, d.ID, s.o.Now().Add(-echoWait)); err != nil || waiting {
		if err == nil {
			err = fmt.Errorf("%w: %s", errEchoEarly, in.ProviderID)
		}
		return false, err
	}
	m, err = tx.AdoptEcho(ctx, d.ID, in.ProviderID, in.Text)
	if err != nil || m == nil {
		return false, err
	}
	if st := echoStatus(in.Status); st != "pending" {
		upd, err := tx.UpdateMessageStatus(ctx, m.ID, st, in.Error)
		if err != nil {
			return true, err
		}
		if upd != nil {
			m = upd
		}
	}
	return true, tx.StatusMoved(ctx, m)
}

// applyEdit records an edit or deletion of a stored message. An edit
// replaces the text, and the file when it carries one (an edit describes
// the message as it now is); a deletion keeps the message in its place as
// kind "deleted", with nothing of what it said or sent. An edit of a
// message relay24 never stored (sent before the account was connected)
// changes nothing; any other failure is returned, so the webhook is filed
// again.
func (s *Service) applyEdit(ctx context.Context, tx *store.Store, ch *store.Channel, in inbound) ([]int64, error) {
	text, kind := in.Text, ""
	var files json.RawMessage // nil: the message keeps its files
	switch {
	case in.Deleted:
		text, kind, files = "", "deleted", json.RawMessage("[]")
	case len(in.Attachments) > 0:
		kind = kindOf(in.Kind)
		b, err := json.Marshal(in.Attachments)
		if err != nil {
			return nil, fmt.Errorf("encoding the edit's files: %w", err)
		}
		files = b
	}
	// The files copied from the gateway for what the message carried go
	// with it when its files are replaced (read under the row lock, so a
	// copy being recorded waits, and then finds its attachment changed).
	var dropped []int64
	if files != nil {
		old, err := tx.LockMessageByProvider(ctx, ch.ID, in.ProviderID)
		if err != nil {
			return nil, err
		}
		if old == nil {
			return nil, nil // an edit of a message we never saw changes nothing
		}
		dropped = copiedFiles(old.Attachments)
	}
	m, err := tx.EditMessage(ctx, ch.ID, in.ProviderID, text, kind, files)
	if err != nil {
		return nil, fmt.Errorf("recording the edit of message %s: %w", in.ProviderID, err)
	}
	if m == nil {
		return nil, nil // an edit of a message we never saw changes nothing
	}
	if !in.Deleted && hasGatewayFiles(in.Attachments) {
		if err := s.o.Jobs.EnqueueMany(ctx, tx.Ext(), []jobs.Spec{mediaCopySpec(m)}); err != nil {
			return nil, err
		}
	}
	return dropped, tx.Notify(ctx, store.Event{PortalID: m.PortalID, Type: "message.updated", DialogID: m.DialogID, MessageID: m.ID})
}

func echoStatus(s string) string {
	switch s {
	case "sent", "delivered", "read", "error":
		return s
	}
	return "sent"
}

// kindOf keeps the gateway's message type, so that media and types relay24
// does not understand are stored and shown with a placeholder.
func kindOf(t string) string {
	if t == "" {
		return "text"
	}
	return t
}

// channelFor finds the channel of a message; a channel added to the account
// after connecting is learnt from the gateway (or, failing that, recorded from
// what the message says) rather than dropping the message.
func (s *Service) channelFor(ctx context.Context, g *store.Gateway, in inbound) (*store.Channel, error) {
	cacheKey := itoa(g.ID) + ":" + in.ChannelExt
	if v, ok := s.channels.Load(cacheKey); ok {
		return v.(*store.Channel), nil
	}
	ch, err := s.o.Store.ChannelByExternal(ctx, g.ID, in.ChannelExt)
	if err == nil {
		// Filing needs only the channel's id, which never changes.
		s.channels.Store(cacheKey, ch)
		return ch, nil
	}
	if !problem.Is(err, problem.NotFound) {
		return nil, err
	}
	var c *store.Channel
	if s.traits(g.Provider).LearnsChannels {
		// Failing the listing, what the message says will do.
		c, _ = s.listedChannel(ctx, g, in.ChannelExt)
	}
	if c == nil {
		c = &store.Channel{PortalID: g.PortalID, GatewayID: g.ID, ExternalID: in.ChannelExt, Provider: g.Provider,
			Transport: in.ChatType, State: "active"}
	}
	if err := s.o.Store.UpsertChannel(ctx, c); err != nil {
		return nil, err
	}
	return s.o.Store.ChannelByExternal(ctx, g.ID, in.ChannelExt)
}

// learnChannel stores a channel relay24 does not have yet as the account
// lists it (a gateway whose channels come and go: Traits.LearnsChannels),
// and returns it; nil when it is stored already or the account does not
// list it. A failed listing is returned (the webhook is filed again).
func (s *Service) learnChannel(ctx context.Context, g *store.Gateway, externalID string, log *slog.Logger) (*store.Channel, error) {
	if !s.traits(g.Provider).LearnsChannels || externalID == "" {
		return nil, nil
	}
	if _, err := s.o.Store.ChannelByExternal(ctx, g.ID, externalID); err == nil || !problem.Is(err, problem.NotFound) {
		return nil, err
	}
	c, err := s.listedChannel(ctx, g, externalID)
	if err != nil || c == nil {
		if c == nil && err == nil {
			log.InfoContext(ctx, "update of a channel the account does not list ignored", slog.String("channel", externalID))
		}
		return nil, err
	}
	if err := s.o.Store.UpsertChannel(ctx, c); err != nil {
		return nil, err
	}
	log.InfoContext(ctx, "channel added after connecting learnt", slog.String("channel", externalID), slog.String("transport", c.Transport))
	return s.o.Store.ChannelByExternal(ctx, g.ID, externalID)
}

// listedChannel is one channel as the account lists it now (nil when it
// does not).
func (s *Service) listedChannel(ctx context.Context, g *store.Gateway, externalID string) (*store.Channel, error) {
	gw, ok := s.adapter(g.Provider)
	if !ok {
		return nil, nil
	}
	cred, err := s.credential(g)
	if err != nil {
		return nil, err
	}
	list, err := gw.Channels(ctx, cred)
	if err != nil {
		return nil, err
	}
	for _, lc := range list {
		if lc.ExternalID == externalID {
			c := storeChannel(g.PortalID, g, lc)
			return &c, nil
		}
	}
	return nil, nil
}

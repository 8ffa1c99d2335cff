package automation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/jobs"
	"github.com/relay24/relay24/portal"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/relay"
	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/web"
)

// Call is a robot call as the portal posts it (bitrix24.md §m.4).
type Call struct {
	EventToken string
	Entity     string // deal, lead, contact
	EntityID   int64
	Document   string // document_id[2] as posted, e.g. DEAL_123
	ChannelID  string // properties[channel_id]: the chosen Options key
	Text       string
	TemplateID string
	// TemplateValues fill the template's variables in order: one a line of
	// properties[template_values] (the portal has put its fields in).
	TemplateValues []string `json:",omitempty"`
	UserID         int64    // auth[user_id]: the robot's AUTH_USER_ID
}

// documentClasses are the document classes the robot is offered on, with
// the CRM entity of each (document_id[1]).
var documentClasses = map[string]string{
	"CCrmDocumentDeal": "deal", "CCrmDocumentLead": "lead", "CCrmDocumentContact": "contact",
}

func str(v any) string { s, _ := v.(string); return s }

// ParseCall reads the robot's form; a form that is not a robot call of
// relay24's is Invalid (400 bad_robot_call).
func ParseCall(form map[string]any) (Call, error) {
	bad := func(format string, args ...any) (Call, error) {
		return Call{}, problem.New(problem.Invalid, "bad_robot_call", "not a call of relay24's robot: "+format, args...)
	}
	var c Call
	c.EventToken = strings.TrimSpace(str(form["event_token"]))
	if c.EventToken == "" || len(c.EventToken) > 512 {
		return bad("event_token is missing or too long")
	}
	if code := str(form["code"]); code != "" && code != RobotCode {
		return bad("robot %q is not %s", code, RobotCode)
	}
	doc, _ := form["document_id"].([]any)
	if len(doc) != 3 {
		return bad("document_id must have 3 parts")
	}
	entity, ok := documentClasses[str(doc[1])]
	if !ok || str(doc[0]) != "crm" {
		return bad("document %v is not a deal, lead or contact", doc)
	}
	c.Document = str(doc[2])
	prefix := map[string]string{"deal": "DEAL_", "lead": "LEAD_", "contact": "CONTACT_"}[entity]
	id, err := strconv.ParseInt(strings.TrimPrefix(c.Document, prefix), 10, 64)
	if !strings.HasPrefix(c.Document, prefix) || err != nil || id <= 0 {
		return bad("document id %q is not %s<id>", c.Document, prefix)
	}
	c.Entity, c.EntityID = entity, id
	props, _ := form["properties"].(map[string]any)
	c.ChannelID = strings.TrimSpace(str(props["channel_id"]))
	c.Text = str(props["text"])
	c.TemplateID = strings.TrimSpace(str(props["template_id"]))
	if len(c.TemplateID) > 200 {
		return bad("template_id is too long")
	}
	if v := str(props["template_values"]); strings.TrimSpace(v) != "" {
		for _, line := range strings.Split(strings.ReplaceAll(v, "\r\n", "\n"), "\n") {
			c.TemplateValues = append(c.TemplateValues, strings.TrimSpace(line))
		}
		if len(c.TemplateValues) > 20 {
			return bad("template_values has more than 20 lines")
		}
	}
	if auth, ok := form["auth"].(map[string]any); ok {
		c.UserID, _ = strconv.ParseInt(str(auth["user_id"]), 10, 64)
	}
	return c, nil
}

// Accept authenticates a robot call by the portal's application token and
// queues it durably, once per event token; only then may the handler answer.
// A forged or malformed call changes nothing.
func (s *Service) Accept(ctx context.Context, form map[string]any) error {
	auth, _ := form["auth"].(map[string]any)
	p, err := s.o.Portals.AuthenticateApp(ctx, str(auth["member_id"]), str(auth["application_token"]))
	if err != nil {
		return err
	}
	c, err := ParseCall(form)
	if err != nil {
		return err
	}
	return s.o.Store.Tx(ctx, func(tx *store.Store) error {
		fresh, err := tx.InsertRobotRun(ctx, p.ID, c.EventToken, c.Document)
		if err != nil || !fresh {
			return err // a repeated call: it was queued the first time
		}
		_, err = s.o.Jobs.Enqueue(ctx, tx.Ext(), JobRobot, c, jobs.Options{PortalID: p.ID,
			UniqueKey: "robot:" + strconv.FormatInt(p.ID, 10) + ":" + tokenDigest(c.EventToken), MaxAttempts: 12})
		return err
	})
}

// tokenDigest is a short stable name of an event token (unique keys, client
// ids): the token itself is a credential for bizproc.event.send.
func tokenDigest(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:12])
}

// outcome is what a robot call reports to its workflow.
type outcome struct {
	messageID int64
	status    string // sent, delivered, read, pending; or the error's code
	err       string // readable, in the portal's language; "" on success
}

// robotJob sends what the robot was called with and reports the outcome
// with bizproc.event.send, exactly once per call.
func (s *Service) robotJob(ctx context.Context, j *jobs.Job) error {
	var c Call
	if err := j.Decode(&c); err != nil {
		return jobs.Permanent(err)
	}
	if !j.PortalID.Valid {
		return jobs.Permanent(errors.New("job has no portal"))
	}
	portalID := j.PortalID.Int64
	run, err := s.o.Store.RobotRunByToken(ctx, portalID, c.EventToken)
	if err != nil || run == nil {
		return err // none: the portal was removed meanwhile
	}
	if run.ReportedAt.Valid {
		return nil
	}
	p, err := s.o.Store.PortalByID(ctx, portalID)
	if err != nil {
		return err
	}
	if !p.Active() {
		// Uninstalled since the call was accepted: nothing is sent, and the
		// portal takes no report without a token.
		return nil
	}
	lang := crmLang(p.Lang)
	log := s.o.Log.With(slog.Int64("portal_id", portalID), slog.String("document", c.Document))
	var out outcome
	if run.MessageID.Valid {
		out.messageID = run.MessageID.Int64
	} else {
		m, err := s.send(ctx, portalID, c)
		pe, refused := problem.As(err)
		switch {
		case refused && pe.Code != problem.Unavailable && pe.Code != problem.Internal:
			out = failed(lang, pe)
		case err != nil:
			return portal.JobError(err)
		default:
			out.messageID = m.ID
			if err := s.o.Store.SetRobotMessage(ctx, portalID, c.EventToken, m.ID); err != nil {
				return err
			}
		}
	}
	if out.messageID != 0 {
		m, err := s.o.Store.MessageByID(ctx, out.messageID)
		if err != nil {
			return err
		}
		out.status = m.Status
		if m.Status == "pending" && s.o.Now().Sub(run.CreatedAt) < s.o.SendWait {
			// The workflow branches on whether it left: wait for its send.
			return jobs.RetryAfter(time.Second, errors.New("waiting for the message to be sent"))
		}
		switch m.Status {
		case "sent", "delivered", "read":
			// It left: the workflow branches on "sent", however far the
			// gateway got by now.
			out.status = "sent"
		case "error":
			out.status = "send_failed"
			out.err = web.FailureText(lang, m.Error.String)
		}
	}
	if err := s.report(ctx, portalID, c.EventToken, out, log); err != nil {
		return err
	}
	return s.o.Store.FinishRobotRun(ctx, portalID, c.EventToken, out.status, out.err)
}

// failed is the outcome of a refusal, its text in the portal's language.
func failed(lang string, pe *problem.Error) outcome {
	text, ok := web.ErrorText(lang, pe.ReasonOrCode())
	if !ok {
		text = pe.Message
	}
	return outcome{status: pe.ReasonOrCode(), err: text}
}

// portalLang is the language relay24 writes into a portal in.
func (s *Service) portalLang(ctx context.Context, portalID int64) (string, error) {
	p, err := s.o.Store.PortalByID(ctx, portalID)
	if err != nil {
		return "", err
	}
	return crmLang(p.Lang), nil
}

func crmLang(lang string) string {
	if lang == "en" {
		return "en"
	}
	return "ru"
}

// report hands the outcome to the workflow. A token the portal no longer
// accepts (the workflow stopped waiting, or a report that got through before
// a crash) ends the call: there is nobody left to tell.
func (s *Service) report(ctx context.Context, portalID int64, eventToken string, out outcome, log *slog.Logger) error {
	c, err := s.o.Portals.Client(ctx, portalID)
	if err != nil {
		return portal.JobError(err)
	}
	id := ""
	if out.messageID != 0 {
		id = strconv.FormatInt(out.messageID, 10)
	}
	// The workflow's log is what the portal's admin reads: in his language,
	// the code kept for a search.
	lang, err := s.portalLang(ctx, portalID)
	if err != nil {
		return err
	}
	var logMsg string
	switch {
	case out.err != "" || id == "":
		why := out.err
		if why == "" {
			why = out.status
		}
		logMsg = fmt.Sprintf(web.Word(lang, "crm_robot_failed"), why, out.status)
	case out.status == "pending":
		logMsg = fmt.Sprintf(web.Word(lang, "crm_robot_pending"), id)
	default:
		logMsg = fmt.Sprintf(web.Word(lang, "crm_robot_sent"), id)
	}
	err = c.Call(ctx, "bizproc.event.send", bitrix.Params{
		"EVENT_TOKEN":   eventToken,
		"RETURN_VALUES": map[string]any{"message_id": id, "status": out.status, "error": out.err},
		"LOG_MESSAGE":   logMsg,
	}, nil)
	if bitrix.HasCode(err, bitrix.CodeAccessDenied) {
		log.WarnContext(ctx, "robot's result not accepted by the portal", slog.String("error", err.Error()))
		return nil
	}
	if err != nil {
		return portal.JobError(fmt.Errorf("reporting the robot's result: %w", err))
	}
	log.InfoContext(ctx, "robot ran", slog.String("status", out.status), slog.String("message_id", id))
	return nil
}

// send finds the document's client, his dialog on the chosen channel
// (created when needed) and sends. A refusal is a *problem.Error whose code
// the workflow receives.
func (s *Service) send(ctx context.Context, portalID int64, c Call) (*store.Message, error) {
	chID, err := strconv.ParseInt(c.ChannelID, 10, 64)
	if err != nil || chID <= 0 {
		return nil, problem.New(problem.Invalid, "robot_no_channel", "the robot's channel %q is not a relay24 channel", c.ChannelID)
	}
	ch, err := s.o.Store.ChannelByID(ctx, portalID, chID)
	if problem.Is(err, problem.NotFound) {
		return nil, problem.New(problem.Invalid, "robot_no_channel", "channel %d is not this portal's", chID)
	}
	if err != nil {
		return nil, err
	}
	if !s.connected(ctx, portalID, ch.ID) || ch.State != "active" {
		return nil, problem.New(problem.Conflict, "channel_unavailable", "the channel %s cannot send now (state: %s)", ch.Name, ch.State)
	}
	text := strings.TrimSpace(c.Text)
	if text == "" && (c.TemplateID == "" || s.o.Templates == nil) {
		return nil, problem.New(problem.Invalid, "robot_empty_text", "the robot has no text to send")
	}
	d, err := s.documentDialog(ctx, portalID, c, ch)
	if err != nil {
		return nil, err
	}
	author, err := s.author(ctx, portalID, c)
	if err != nil {
		return nil, err
	}
	// The same call twice is one message (relay's client id), even if the
	// run's row lost which one.
	clientID := "robot-" + tokenDigest(c.EventToken)
	if c.TemplateID != "" && s.o.Templates != nil {
		open, err := s.o.Templates.WindowOpen(ctx, portalID, d.ID)
		if err != nil {
			return nil, err
		}
		if !open || text == "" {
			return s.o.Templates.SendTemplate(ctx, portalID, author, d.ID, c.TemplateID, c.TemplateValues, clientID)
		}
	}
	return s.o.Relay.Send(ctx, portalID, author, d.ID, text, clientID)
}

// documentDialog is the dialog on the channel with the document's client:
// one the deal or lead itself belongs to (a lead relay24 made from a chat
// may have no contact), else the primary contact's (opened when needed).
// Bitrix24 leads may carry a PHONE without any contact; relay24 writes
// only to contacts and to the chats it knows, so such a lead is
// robot_no_contact, said so in the workflow's log.
func (s *Service) documentDialog(ctx context.Context, portalID int64, c Call, ch *store.Channel) (*store.Dialog, error) {
	ids, err := s.o.Store.DialogIDsOfRecord(ctx, portalID, c.Entity, c.EntityID)
	if err != nil {
		return nil, err
	}
	if d, err := s.latestOn(ctx, portalID, ids, ch.ID, 0); d != nil || err != nil {
		return d, err
	}
	contacts, err := s.o.Relay.EntityContacts(ctx, portalID, c.Entity, c.EntityID)
	if problem.Is(err, problem.NotFound) || (err == nil && len(contacts) == 0) {
		return nil, problem.New(problem.Invalid, "robot_no_contact", "%s has no client contact", c.Document)
	}
	if err != nil {
		return nil, err
	}
	contact := contacts[0] // the primary contact comes first
	d, err := s.dialogOf(ctx, portalID, contact.ID, ch.ID)
	if pe, ok := problem.As(err); ok && (pe.Reason == "no_chat_id" || pe.Reason == "bad_chat_id") {
		return nil, problem.New(problem.Invalid, "robot_no_handle", "contact %d has no phone or account for %s", contact.ID, ch.Name)
	}
	return d, err
}

// latestOn is the dialog among ids on the channel (and of the contact, when
// one is given) with the latest message; nil when there is none.
func (s *Service) latestOn(ctx context.Context, portalID int64, ids []int64, channelID, contactID int64) (*store.Dialog, error) {
	var best *store.Dialog
	for _, id := range ids {
		d, err := s.o.Store.DialogByID(ctx, portalID, id)
		if problem.Is(err, problem.NotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if d.ChannelID == channelID && (contactID == 0 || d.ContactID.Int64 == contactID) &&
			(best == nil || d.LastMessageAt.Time.After(best.LastMessageAt.Time)) {
			best = d
		}
	}
	return best, nil
}

// dialogOf is the contact's dialog on the channel: the one he wrote in
// last (a Telegram bot can only write to a chat it knows by id), else one
// opened from his phone or account for the channel.
func (s *Service) dialogOf(ctx context.Context, portalID, contactID, channelID int64) (*store.Dialog, error) {
	ids, err := s.o.Store.DialogIDsOfContact(ctx, portalID, contactID)
	if err != nil {
		return nil, err
	}
	if best, err := s.latestOn(ctx, portalID, ids, channelID, contactID); best != nil || err != nil {
		return best, err
	}
	return s.o.Relay.CreateDialog(ctx, portalID, contactID, channelID, "")
}

// connected reports whether the channel's gateway is still connected.
func (s *Service) connected(ctx context.Context, portalID, channelID int64) bool {
	chans, err := s.o.Store.Channels(ctx, portalID)
	if err != nil {
		return false
	}
	for _, ch := range chans {
		if ch.ID == channelID {
			return true
		}
	}
	return false
}

// author is the robot acting for the document's responsible person (else
// the user the portal ran it as): the dialog is his, and the timeline names
// the robot.
func (s *Service) author(ctx context.Context, portalID int64, c Call) (relay.Author, error) {
	uid, err := s.o.Store.AssigneeOf(ctx, portalID, c.Entity, c.EntityID)
	if err != nil {
		return relay.Author{}, err
	}
	p, err := s.o.Store.PortalByID(ctx, portalID)
	if err != nil {
		return relay.Author{}, err
	}
	if uid == 0 {
		uid = c.UserID
	}
	if uid == 0 {
		uid = p.TokenUserID.Int64
	}
	lang := crmLang(p.Lang)
	name := web.Word(lang, "crm_robot")
	if uid > 0 {
		if u, err := s.o.Store.UserByID(ctx, portalID, uid); err == nil && u.Name != "" {
			name = fmt.Sprintf(web.Word(lang, "crm_robot_for"), u.Name)
		}
	}
	return relay.Author{ID: uid, Name: name}, nil
}

package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/jobs"
	"github.com/relay24/relay24/portal"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
)

// timelineJob writes one message into the timeline of the dialog's CRM
// record (the open deal, else the contact, else the lead). The comment's id
// is recorded, so a retried job writes nothing twice; the portal's rate limit
// is waited out by the client.
// earlierTimelineWaits tells how long m's timeline entry should wait for an
// earlier message's of its dialog whose job waits to run (put back for a
// retry, or not claimed yet): the timeline reads in the messages' order.
// (The jobs of one group are sent in order by the coalescer; a job claimed
// with this one is running, not waiting.) 0: none waits.
func (s *Service) earlierTimelineWaits(ctx context.Context, m *store.Message) (time.Duration, error) {
	ids, err := s.o.Store.EarlierUnwritten(ctx, m.DialogID, m.SentAt, m.ID, 20)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = timelineKey(id)
	}
	at, waiting, err := s.o.Jobs.ReadyUntil(ctx, keys)
	if err != nil || !waiting {
		return 0, err
	}
	return max(time.Until(at), 0) + 100*time.Millisecond, nil
}

func (s *Service) timelineJob(ctx context.Context, j *jobs.Job) error {
	var p struct {
		MessageID int64 `json:"message_id"`
	}
	if err := j.Decode(&p); err != nil {
		return jobs.Permanent(err)
	}
	m, err := s.o.Store.MessageByID(ctx, p.MessageID)
	if problem.Is(err, problem.NotFound) {
		return nil
	}
	if err != nil || m.TimelineID.Valid {
		return err
	}
	d, err := s.o.Store.DialogByID(ctx, m.PortalID, m.DialogID)
	if err != nil {
		return err
	}
	if !d.ClientResolved {
		return jobs.RetryAfter(s.o.NotifyDelay, errors.New("the dialog's client is not resolved yet"))
	}
	entityType, entityID := "", int64(0)
	switch {
	case d.DealID.Valid:
		entityType, entityID = "deal", d.DealID.Int64
	case d.ContactID.Valid:
		entityType, entityID = "contact", d.ContactID.Int64
	case d.LeadID.Valid:
		entityType, entityID = "lead", d.LeadID.Int64
	default:
		return nil // the admin chose to create nothing for unknown clients
	}
	ch, err := s.o.Store.ChannelByID(ctx, m.PortalID, m.ChannelID)
	if err != nil {
		return err
	}
	p2, err := s.o.Store.PortalByID(ctx, m.PortalID)
	if err != nil {
		return err
	}
	c, err := s.o.Portals.Client(ctx, m.PortalID)
	if err != nil {
		return portal.JobError(err)
	}
	if wait, err := s.earlierTimelineWaits(ctx, m); err != nil || wait > 0 {
		if err != nil {
			return err
		}
		return jobs.RetryAfter(wait, errors.New("an earlier message of the dialog waits for its timeline entry"))
	}
	text := s.timelineText(m, d, ch, p2.Lang)
	if j.Attempts > 1 {
		// An earlier attempt may have reached the portal before it failed
		// (a timeout, a 5xx): look before writing again.
		if id, found, err := s.findTimelineComment(ctx, c, entityType, entityID, text); err != nil {
			return portal.JobError(err)
		} else if found {
			return s.o.Store.SetTimelineID(ctx, m.ID, id)
		}
	}
	var id int64
	err = c.Call(ctx, "crm.timeline.comment.add", bitrix.Params{"fields": map[string]any{
		"ENTITY_ID": entityID, "ENTITY_TYPE": entityType, "COMMENT": text,
	}}, &id)
	if err != nil {
		if gone, ferr := s.entityGone(ctx, c, d, entityType, entityID, err); ferr != nil || gone {
			return ferr
		}
		return portal.JobError(fmt.Errorf("writing the timeline: %w", err))
	}
	return s.o.Store.SetTimelineID(ctx, m.ID, id)
}

// entityGone handles a refused timeline write whose record the portal says
// it does not have: read it again (a deletion reaches the mirror), and if it
// is gone, take it off the dialog so the entry goes where it now belongs —
// the contact once the deal is gone, a client found or created again once
// the contact or lead is — and ask for the job again (RetryAfter). It reports
// false when the refusal was something else.
func (s *Service) entityGone(ctx context.Context, c *bitrix.Client, d *store.Dialog, entityType string, entityID int64, refusal error) (bool, error) {
	var be *bitrix.Error
	if !errors.As(refusal, &be) || !strings.Contains(strings.ToLower(be.Description), "not found") {
		return false, nil
	}
	if err := s.o.Sync.FetchRecord(ctx, c, d.PortalID, entityType, entityID); err != nil {
		return false, portal.JobError(err)
	}
	exists, err := s.o.Store.CRMRecordExists(ctx, d.PortalID, entityType, entityID)
	if err != nil || exists {
		return false, err
	}
	err = s.o.Store.Tx(ctx, func(tx *store.Store) error {
		unresolved, err := tx.DetachDialogEntity(ctx, d.ID, entityType, entityID)
		if err != nil || !unresolved {
			return err
		}
		_, err = s.o.Jobs.Enqueue(ctx, tx.Ext(), JobResolveClient, map[string]int64{"dialog_id": d.ID},
			jobs.Options{PortalID: d.PortalID, UniqueKey: "client:" + itoa(d.ID)})
		return err
	})
	if err != nil {
		return true, err
	}
	s.o.Log.InfoContext(ctx, "the dialog's CRM record is gone from the portal; its entries go elsewhere",
		slog.Int64("dialog_id", d.ID), slog.String("entity", entityType), slog.Int64("id", entityID))
	// Again at once: to the contact, or, once the client is found again,
	// when the resolution hurries it.
	return true, jobs.RetryAfter(0, fmt.Errorf("the %s %d is gone from the portal", entityType, entityID))
}

// findTimelineComment looks among the entity's newest comments for one with
// exactly this text (each carries the dialog link and the message, so a
// match is ours).
func (s *Service) findTimelineComment(ctx context.Context, c *bitrix.Client, entityType string, entityID int64, text string) (int64, bool, error) {
	var list []struct {
		ID      json.Number `json:"ID"`
		Comment string      `json:"COMMENT"`
	}
	err := c.Call(ctx, "crm.timeline.comment.list", bitrix.Params{
		"filter": map[string]any{"ENTITY_ID": entityID, "ENTITY_TYPE": entityType},
		"order":  map[string]any{"ID": "DESC"},
		"select": []string{"ID", "COMMENT"},
	}, &list)
	if err != nil {
		return 0, false, fmt.Errorf("reading the timeline: %w", err)
	}
	for _, e := range list {
		if e.Comment == text {
			id, _ := e.ID.Int64()
			return id, true, nil
		}
	}
	return 0, false, nil
}

// timelineText is the comment: who wrote, through which channel, the text,
// and a link back to the dialog.
func (s *Service) timelineText(m *store.Message, d *store.Dialog, ch *store.Channel, lang string) string {
	t := texts(lang)
	who := d.ClientName
	if who == "" {
		who = d.ChatID
	}
	arrow := t.fromClient
	if m.Direction == "out" {
		who = m.AuthorName
		if who == "" {
			who = t.manager
		}
		arrow = t.toClient
	}
	body := m.Text
	if body == "" {
		body = placeholder(m.Kind, lang)
	}
	return fmt.Sprintf("%s %s · %s\n%s\n[url=%s]%s[/url]", arrow, transportTitle(d.ChatType), who, body,
		s.dialogURL(d), t.openDialog)
}

func (s *Service) dialogURL(d *store.Dialog) string {
	return fmt.Sprintf("%s/app?dialog=%d", s.o.PublicURL, d.ID)
}

// notifyJob tells the responsible person (or, with nobody responsible, every
// employee who receives new clients) that a client waits: once per wait, so
// a burst of messages is one notification.
func (s *Service) notifyJob(ctx context.Context, j *jobs.Job) error {
	d, err := s.jobDialog(ctx, j)
	if err != nil || d == nil {
		return err
	}
	portalID := d.PortalID
	if !d.Unanswered || (d.NotifiedAt.Valid && d.UnansweredSince.Valid && !d.NotifiedAt.Time.Before(d.UnansweredSince.Time)) {
		return nil
	}
	if !d.ClientResolved {
		return jobs.RetryAfter(s.o.NotifyDelay, errors.New("waiting for the client to be resolved"))
	}
	settings, err := s.o.Store.Settings(ctx, portalID)
	if err != nil {
		return err
	}
	// The wait is escalated (and the automation's «Нет ответа клиенту»
	// fired) whether or not anybody is notified of it.
	if err := s.scheduleEscalation(ctx, d, settings); err != nil {
		return err
	}
	if !settings.Notify {
		return nil
	}
	var to []int64
	if d.ResponsibleID.Valid {
		to = []int64{d.ResponsibleID.Int64}
	} else {
		to, err = s.o.Store.Receivers(ctx, portalID)
		if err != nil {
			return err
		}
	}
	to, err = s.o.Store.WhoGetNotifications(ctx, portalID, to)
	if err != nil {
		return err
	}
	if len(to) == 0 {
		// Nobody responsible and nobody receiving new clients: the admins.
		if to, err = s.o.Store.Admins(ctx, portalID); err != nil {
			return err
		}
	}
	if len(to) == 0 {
		return s.o.Store.MarkNotified(ctx, d.ID)
	}
	c, err := s.o.Portals.Client(ctx, portalID)
	if err != nil {
		return portal.JobError(err)
	}
	p2, err := s.o.Store.PortalByID(ctx, portalID)
	if err != nil {
		return err
	}
	ch, err := s.o.Store.ChannelByID(ctx, portalID, d.ChannelID)
	if err != nil {
		return err
	}
	msg := s.notificationText(d, ch, p2.Lang)
	if err := s.sendNotifications(ctx, c, d, to, msg); err != nil {
		return err
	}
	return s.o.Store.MarkNotified(ctx, d.ID)
}

// scheduleEscalation queues the check that the client still waits once the
// admin's delay has passed; a delay of 0 switches escalation off.
func (s *Service) scheduleEscalation(ctx context.Context, d *store.Dialog, settings store.Settings) error {
	if settings.EscalateAfterMinutes <= 0 || !d.UnansweredSince.Valid {
		return nil
	}
	_, err := s.o.Jobs.Enqueue(ctx, s.o.Store.DB(), JobEscalate, map[string]int64{"dialog_id": d.ID}, jobs.Options{
		PortalID: d.PortalID, UniqueKey: "escalate:" + itoa(d.ID),
		RunAt: d.UnansweredSince.Time.Add(time.Duration(settings.EscalateAfterMinutes) * time.Minute)})
	if err != nil {
		return fmt.Errorf("scheduling the escalation: %w", err)
	}
	return nil
}

// sendNotifications sends one system notification to each user in one batch.
// They are written before the dialog is marked: a crash in between repeats a
// notification (replaced in place thanks to its TAG) rather than lose it.
func (s *Service) sendNotifications(ctx context.Context, c *bitrix.Client, d *store.Dialog, to []int64, msg string) error {
	cmds := make([]bitrix.Command, 0, len(to))
	for _, uid := range to {
		cmds = append(cmds, bitrix.Command{Key: "u" + itoa(uid), Method: "im.notify.system.add", Params: bitrix.Params{
			"USER_ID": uid, "MESSAGE": msg, "TAG": "relay24|dialog|" + itoa(d.ID),
		}})
	}
	for len(cmds) > 0 {
		n := min(len(cmds), bitrix.MaxBatch)
		res, err := c.Batch(ctx, cmds[:n], false)
		if err != nil {
			return portal.JobError(fmt.Errorf("notifying: %w", err))
		}
		for k, e := range res.Errors {
			s.o.Log.WarnContext(ctx, "notification refused", slog.String("to", strings.TrimPrefix(k, "u")), slog.String("error", e.Error()))
		}
		cmds = cmds[n:]
	}
	return nil
}

// JobEscalate tells everyone who may see a dialog that its client still waits.
const JobEscalate = "escalate.dialog"

// escalateJob runs when the admin's delay after the start of a wait has
// passed (by the service's clock, so tests drive it): if the client still
// waits, everyone whose access shows the dialog is notified, once per wait.
func (s *Service) escalateJob(ctx context.Context, j *jobs.Job) error {
	d, err := s.jobDialog(ctx, j)
	if err != nil || d == nil {
		return err
	}
	portalID := d.PortalID
	if !d.Unanswered || !d.UnansweredSince.Valid || (d.EscalatedAt.Valid && !d.EscalatedAt.Time.Before(d.UnansweredSince.Time)) {
		return nil
	}
	settings, err := s.o.Store.Settings(ctx, portalID)
	if err != nil || settings.EscalateAfterMinutes <= 0 {
		return err
	}
	due := d.UnansweredSince.Time.Add(time.Duration(settings.EscalateAfterMinutes) * time.Minute)
	if wait := due.Sub(s.o.Now()); wait > 0 {
		return jobs.RetryAfter(wait, errors.New("not due yet"))
	}
	var to []int64
	if settings.Notify {
		// With notifications off only the automation hears of it.
		if to, err = s.o.Access.Who(ctx, portalID, d); err != nil {
			return err
		}
		if to, err = s.o.Store.WhoGetNotifications(ctx, portalID, to); err != nil {
			return err
		}
	}
	if len(to) > 0 {
		c, err := s.o.Portals.Client(ctx, portalID)
		if err != nil {
			return portal.JobError(err)
		}
		p2, err := s.o.Store.PortalByID(ctx, portalID)
		if err != nil {
			return err
		}
		ch, err := s.o.Store.ChannelByID(ctx, portalID, d.ChannelID)
		if err != nil {
			return err
		}
		minutes := int(s.o.Now().Sub(d.UnansweredSince.Time).Minutes())
		msg := fmt.Sprintf(texts(p2.Lang).escalation, minutes) + " " + s.notificationText(d, ch, p2.Lang)
		if err := s.sendNotifications(ctx, c, d, to, msg); err != nil {
			return err
		}
	}
	if s.hooks.Escalated != nil {
		if err := s.hooks.Escalated(ctx, d); err != nil {
			return err
		}
	}
	return s.o.Store.MarkEscalated(ctx, d.ID, s.o.Now())
}

func (s *Service) notificationText(d *store.Dialog, ch *store.Channel, lang string) string {
	t := texts(lang)
	who := d.ClientName
	if who == "" {
		who = d.ChatID
	}
	return fmt.Sprintf(t.notification, who, transportTitle(d.ChatType), ch.Name, s.dialogURL(d), t.openDialog)
}

// jobDialog reads the dialog a job is about ({"dialog_id": …}); nil when it
// is gone (deleted with its portal), which ends the job.
func (s *Service) jobDialog(ctx context.Context, j *jobs.Job) (*store.Dialog, error) {
	var p struct {
		DialogID int64 `json:"dialog_id"`
	}
	if err := j.Decode(&p); err != nil {
		return nil, jobs.Permanent(err)
	}
	if !j.PortalID.Valid {
		return nil, jobs.Permanent(errors.New("job has no portal"))
	}
	d, err := s.o.Store.DialogByID(ctx, j.PortalID.Int64, p.DialogID)
	if problem.Is(err, problem.NotFound) {
		return nil, nil
	}
	return d, err
}

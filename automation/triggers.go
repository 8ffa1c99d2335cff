package automation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/jobs"
	"github.com/relay24/relay24/portal"
	"github.com/relay24/relay24/relay"
	"github.com/relay24/relay24/store"
)

// Owner types of crm.enum.ownertype that have automation triggers.
const (
	ownerLead = 1
	ownerDeal = 2
)

// triggerPayload is one occurrence: the trigger, the dialog it happened in,
// and the occurrence's key (fired once).
type triggerPayload struct {
	Code     string    `json:"code"`
	DialogID int64     `json:"dialog_id"`
	Key      string    `json:"key"`
	At       time.Time `json:"at"` // when it happened
}

// triggerWait bounds how long an occurrence waits for its dialog's client
// to be found (the deal or lead it fires on): past it, nothing is fired.
const triggerWait = 10 * time.Minute

// staleMessage is how old a newly filed client message may be and still
// be news to the automation.
const staleMessage = time.Hour

// Hooks are relay's hooks that fire the triggers.
func (s *Service) Hooks() relay.Hooks {
	return relay.Hooks{Inbound: s.onInbound, Escalated: s.onEscalated}
}

// onInbound queues «Клиент написал» for a new client message, in the
// transaction that filed it: once per message.
func (s *Service) onInbound(ctx context.Context, tx *store.Store, d *store.Dialog, m *store.Message) error {
	if !m.SentAt.IsZero() && s.o.Now().Sub(m.SentAt) > staleMessage {
		return nil // history filed late (a gateway's backlog): nothing happened now
	}
	return s.enqueueTrigger(ctx, tx.Ext(), d.PortalID, triggerPayload{Code: TriggerClientWrote, DialogID: d.ID,
		Key: "in:" + strconv.FormatInt(m.ID, 10)})
}

// onEscalated queues «Нет ответа клиенту N минут»: once per wait.
func (s *Service) onEscalated(ctx context.Context, d *store.Dialog) error {
	if !d.UnansweredSince.Valid {
		return nil
	}
	return s.enqueueTrigger(ctx, s.o.Store.DB(), d.PortalID, triggerPayload{Code: TriggerNoReply, DialogID: d.ID,
		Key: "noreply:" + strconv.FormatInt(d.ID, 10) + ":" + strconv.FormatInt(d.UnansweredSince.Time.UnixMicro(), 10)})
}

func (s *Service) enqueueTrigger(ctx context.Context, ext sqlx.ExtContext, portalID int64, p triggerPayload) error {
	p.At = s.o.Now()
	_, err := s.o.Jobs.Enqueue(ctx, ext, JobTrigger, p, jobs.Options{PortalID: portalID, UniqueKey: "trigger:" + p.Key})
	if err != nil {
		return fmt.Errorf("queueing trigger %s: %w", p.Code, err)
	}
	return nil
}

// triggerJob fires one occurrence on the deal (else the lead) of the
// dialog's client; contacts have no automation triggers.
func (s *Service) triggerJob(ctx context.Context, j *jobs.Job) error {
	var p triggerPayload
	if err := j.Decode(&p); err != nil {
		return jobs.Permanent(err)
	}
	if !j.PortalID.Valid {
		return jobs.Permanent(errors.New("job has no portal"))
	}
	portalID := j.PortalID.Int64
	fired, err := s.o.Store.TriggerFired(ctx, portalID, p.Key)
	if err != nil || fired {
		return err
	}
	d, err := s.o.Store.DialogByID(ctx, portalID, p.DialogID)
	if err != nil {
		return jobs.Permanent(err)
	}
	if !d.ClientResolved {
		if s.o.Now().Sub(p.At) < triggerWait {
			return jobs.RetryAfter(3*time.Second, errors.New("waiting for the client to be resolved"))
		}
		return nil
	}
	ownerType, ownerID := 0, int64(0)
	switch {
	case d.DealID.Valid:
		ownerType, ownerID = ownerDeal, d.DealID.Int64
	case d.LeadID.Valid:
		ownerType, ownerID = ownerLead, d.LeadID.Int64
	default:
		return nil
	}
	c, err := s.o.Portals.Client(ctx, portalID)
	if err != nil {
		return portal.JobError(err)
	}
	err = c.Call(ctx, "crm.automation.trigger.execute", bitrix.Params{"CODE": p.Code, "OWNER_TYPE_ID": ownerType, "OWNER_ID": ownerID}, nil)
	if err != nil {
		return portal.JobError(fmt.Errorf("firing trigger %s: %w", p.Code, err))
	}
	s.o.Log.InfoContext(ctx, "trigger fired", slog.Int64("portal_id", portalID), slog.String("code", p.Code),
		slog.Int("owner_type", ownerType), slog.Int64("owner_id", ownerID))
	return s.o.Store.MarkTriggerFired(ctx, portalID, p.Key)
}

package relay

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/relay24/relay24/gateway"
	"github.com/relay24/relay24/jobs"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
)

// JobWazzupCRM tells a gateway who is who on the CRM side (its name is
// the stored job kind's: only Wazzup has such a push).
const JobWazzupCRM = "wazzup.crm"

// crmPusher is the CRM push of a provider's gateway, if it has one.
func (s *Service) crmPusher(provider string) (gateway.CRMPusher, bool) {
	gw, ok := s.adapter(provider)
	if !ok {
		return nil, false
	}
	p, ok := gw.(gateway.CRMPusher)
	return p, ok
}

// scheduleCRMPush coalesces pushes of a gateway's CRM side (nothing for a
// gateway without one).
func (s *Service) scheduleCRMPush(ctx context.Context, portalID int64, provider string, gatewayID int64) error {
	if _, ok := s.crmPusher(provider); !ok {
		return nil
	}
	_, err := s.o.Jobs.Enqueue(ctx, s.o.Store.DB(), JobWazzupCRM, map[string]int64{"gateway_id": gatewayID}, jobs.Options{
		PortalID: portalID, UniqueKey: JobWazzupCRM + ":" + itoa(gatewayID), RunAt: s.o.Now().Add(5 * time.Second)})
	return err
}

// jobGateway is the gateway a job of a gateway is about ({"gateway_id"}):
// nil, with no error, when it is gone or disconnected (the job has nothing
// left to do).
func (s *Service) jobGateway(ctx context.Context, j *jobs.Job) (*store.Gateway, error) {
	var p struct {
		GatewayID int64 `json:"gateway_id"`
	}
	if err := j.Decode(&p); err != nil {
		return nil, jobs.Permanent(err)
	}
	g, err := s.o.Store.GatewayByID(ctx, p.GatewayID)
	if problem.Is(err, problem.NotFound) || (err == nil && g.State == "disconnected") {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return g, nil
}

// crmPushJob hands the gateway the portal's employees, the contacts that
// have dialogs on its channels and their open deals (gateway.CRMPusher), so
// it shows the right author of a reply (crmUserId) and the right
// responsible person. A credential limited to messaging (a Wazzup
// "sidecar" key answers 403) is noted and left alone.
func (s *Service) crmPushJob(ctx context.Context, j *jobs.Job) error {
	g, err := s.jobGateway(ctx, j)
	if g == nil {
		return err
	}
	pusher, ok := s.crmPusher(g.Provider)
	if !ok {
		return nil
	}
	cred, err := s.credential(g)
	if err != nil {
		return jobs.Permanent(err)
	}
	var crm gateway.CRM
	if crm.Users, err = s.o.Store.ActiveUsers(ctx, g.PortalID); err != nil {
		return err
	}
	pt, err := s.o.Store.PortalByID(ctx, g.PortalID)
	if err != nil {
		return err
	}
	crm.PortalURL = "https://" + pt.Domain
	if crm.Contacts, err = s.o.Store.GatewayContacts(ctx, g.ID); err != nil {
		return err
	}
	if crm.Deals, err = s.o.Store.GatewayDeals(ctx, g.ID); err != nil {
		return err
	}
	err = pusher.PushCRM(ctx, cred, crm)
	var pe *gateway.PermanentError
	switch {
	case errors.Is(err, gateway.ErrCRMNotAllowed):
		s.o.Log.InfoContext(ctx, "the gateway's key may only send messages; CRM data is not pushed",
			slog.String("provider", g.Provider), slog.Int64("gateway_id", g.ID))
		return nil
	case errors.As(err, &pe):
		return jobs.Permanent(err)
	}
	return err
}

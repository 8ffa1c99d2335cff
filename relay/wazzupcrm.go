package relay

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/relay24/relay24/jobs"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/wazzup"
)

// JobWazzupCRM tells a Wazzup account who is who on the CRM side.
const JobWazzupCRM = "wazzup.crm"

// scheduleWazzupCRM coalesces pushes of a gateway's CRM side.
func (s *Service) scheduleWazzupCRM(ctx context.Context, portalID, gatewayID int64) error {
	_, err := s.o.Jobs.Enqueue(ctx, s.o.Store.DB(), JobWazzupCRM, map[string]int64{"gateway_id": gatewayID}, jobs.Options{
		PortalID: portalID, UniqueKey: JobWazzupCRM + ":" + itoa(gatewayID), RunAt: s.o.Now().Add(5 * time.Second)})
	return err
}

// wazzupCRMJob pushes the portal's employees, the contacts that have dialogs
// on the account and their open deals to Wazzup (POST /v3/users, /contacts,
// /deals: upserts), so Wazzup shows the right author of a reply (crmUserId)
// and the right responsible person. A key limited to messaging (a "sidecar"
// key answers 403) is noted and left alone.
func (s *Service) wazzupCRMJob(ctx context.Context, j *jobs.Job) error {
	var p struct {
		GatewayID int64 `json:"gateway_id"`
	}
	if err := j.Decode(&p); err != nil {
		return jobs.Permanent(err)
	}
	g, err := s.o.Store.GatewayByID(ctx, p.GatewayID)
	if problem.Is(err, problem.NotFound) {
		return nil
	}
	if err != nil || !s.traits(g.Provider).PushesCRM || g.State == "disconnected" {
		return err
	}
	key, err := s.o.Keys.Open(g.Credentials, credentialsContext(g.ID))
	if err != nil {
		return jobs.Permanent(err)
	}
	c := s.wazzup(key)
	users, err := s.o.Store.ActiveUsers(ctx, g.PortalID)
	if err != nil {
		return err
	}
	wu := make([]wazzup.User, 0, len(users))
	known := map[int64]bool{}
	for _, u := range users {
		wu = append(wu, wazzup.User{ID: itoa(u.ID), Name: u.Name})
		known[u.ID] = true
	}
	if err := c.UpsertUsers(ctx, wu); err != nil {
		return s.wazzupCRMError(ctx, g.ID, err)
	}
	p2, err := s.o.Store.PortalByID(ctx, g.PortalID)
	if err != nil {
		return err
	}
	base := "https://" + p2.Domain
	contacts, err := s.o.Store.GatewayContacts(ctx, g.ID)
	if err != nil {
		return err
	}
	var wc []wazzup.Contact
	for _, ct := range contacts {
		if !known[ct.ResponsibleID] {
			continue // Wazzup requires a responsible user it knows
		}
		data := make([]wazzup.ContactData, 0, len(ct.Chats))
		for _, ch := range ct.Chats {
			data = append(data, wazzup.ContactData{ChatType: ch[0], ChatID: ch[1]})
		}
		wc = append(wc, wazzup.Contact{ID: itoa(ct.ID), ResponsibleUserID: itoa(ct.ResponsibleID), Name: ct.Name,
			ContactData: data, URI: fmt.Sprintf("%s/crm/contact/details/%d/", base, ct.ID)})
	}
	if err := c.UpsertContacts(ctx, wc); err != nil {
		return s.wazzupCRMError(ctx, g.ID, err)
	}
	deals, err := s.o.Store.GatewayDeals(ctx, g.ID)
	if err != nil {
		return err
	}
	var wd []wazzup.Deal
	for _, d := range deals {
		if !known[d.ResponsibleID] {
			continue
		}
		ids := make([]string, len(d.ContactIDs))
		for i, id := range d.ContactIDs {
			ids[i] = strconv.FormatInt(id, 10)
		}
		name := d.Title
		if name == "" {
			name = "#" + itoa(d.ID)
		}
		wd = append(wd, wazzup.Deal{ID: itoa(d.ID), ResponsibleUserID: itoa(d.ResponsibleID), Name: name,
			URI: fmt.Sprintf("%s/crm/deal/details/%d/", base, d.ID), Contacts: ids, Closed: d.Closed})
	}
	if err := c.UpsertDeals(ctx, wd); err != nil {
		return s.wazzupCRMError(ctx, g.ID, err)
	}
	return nil
}

func (s *Service) wazzupCRMError(ctx context.Context, gatewayID int64, err error) error {
	if wazzup.HasCode(err, "FORBIDDEN") {
		s.o.Log.InfoContext(ctx, "the Wazzup key may only send messages; CRM data is not pushed", slog.Int64("gateway_id", gatewayID))
		return nil
	}
	if wazzup.Temporary(err) {
		return err
	}
	return jobs.Permanent(err)
}

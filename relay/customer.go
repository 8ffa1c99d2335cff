package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/crmsync"
	"github.com/relay24/relay24/identity"
	"github.com/relay24/relay24/jobs"
	"github.com/relay24/relay24/portal"
	"github.com/relay24/relay24/store"
)

// candidates are the identities a dialog's client may be known by in the CRM.
func candidates(d *store.Dialog) []identity.ID {
	ids := []identity.ID{identity.ForChat(d.ChatType, d.ChatID)}
	if d.ClientUsername != "" {
		switch d.ChatType {
		case "telegram":
			ids = append(ids, identity.ID{Kind: identity.Telegram, Value: identity.Handle(d.ClientUsername)})
		case "instagram":
			ids = append(ids, identity.ID{Kind: identity.Instagram, Value: identity.Handle(d.ClientUsername)})
		}
	}
	if p := identity.NormalizePhone(d.ClientPhone); p != "" {
		ids = append(ids, identity.ID{Kind: identity.Phone, Value: p})
	}
	return ids
}

// resolveClientJob finds the dialog's client in the CRM — the local identity
// index first, then the portal's duplicate search — or creates one as the
// admin set (a contact and a deal by default), and picks the responsible
// person. Each created record is written down at once, so a retry after a
// crash finds it instead of creating it twice.
func (s *Service) resolveClientJob(ctx context.Context, j *jobs.Job) error {
	d, err := s.jobDialog(ctx, j)
	if err != nil || d == nil || d.ClientResolved {
		return err
	}
	portalID := d.PortalID
	c, err := s.o.Portals.Client(ctx, portalID)
	if err != nil {
		return portal.JobError(err)
	}
	log := s.o.Log.With(slog.Int64("portal_id", portalID), slog.Int64("dialog_id", d.ID))
	settings, err := s.o.Store.Settings(ctx, portalID)
	if err != nil {
		return err
	}
	var res resolution
	if begun := d.ContactID.Valid || d.LeadID.Valid; begun && settings.NewClient != "none" {
		// An earlier attempt created the client and was cut short (the
		// portal busy, a crash): finish what it began — a lookup would find
		// the new contact and leave him without his deal.
		res, err = s.createClient(ctx, c, portalID, d, settings, j.Attempts > 1, log)
	} else {
		res, err = s.findClient(ctx, c, portalID, d)
		if err == nil && res.contactID == 0 && res.leadID == 0 && settings.NewClient != "none" {
			res, err = s.createClient(ctx, c, portalID, d, settings, j.Attempts > 1, log)
		}
	}
	if err != nil {
		return portal.JobError(err)
	}
	if res.contactID > 0 && res.dealID == 0 {
		res.dealID, _ = s.o.Store.OpenDealOf(ctx, portalID, res.contactID)
	}
	if res.responsible == 0 {
		res.responsible, err = s.responsibleFor(ctx, portalID, res)
		if err != nil {
			return err
		}
	}
	// A new client under "first to answer" waits for a taker, whoever the
	// portal assigned the new records to.
	awaiting := res.created && settings.ResponsibleMode == "first_answer"
	err = s.o.Store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.ResolveDialog(ctx, d.ID, res.contactID, res.leadID, res.dealID, res.responsible, awaiting); err != nil {
			return err
		}
		if err := s.hurryTimeline(ctx, tx, d.ID); err != nil {
			return err
		}
		return tx.Notify(ctx, store.Event{PortalID: portalID, Type: "dialog.updated", DialogID: d.ID})
	})
	if err != nil {
		return err
	}
	if ch, err := s.o.Store.ChannelByID(ctx, portalID, d.ChannelID); err == nil {
		if err := s.scheduleCRMPush(ctx, portalID, ch.Provider, ch.GatewayID); err != nil {
			return err
		}
	}
	log.InfoContext(ctx, "dialog client resolved", slog.Int64("contact_id", res.contactID), slog.Int64("lead_id", res.leadID),
		slog.Int64("deal_id", res.dealID), slog.Bool("created", res.created))
	return nil
}

// resolveLocally attaches a dialog to the contact (or lead) the identity
// index knows, with its open deal and responsible person, without asking the
// portal; an unknown client is left to resolveClientJob.
func (s *Service) resolveLocally(ctx context.Context, tx *store.Store, d *store.Dialog) (*store.Dialog, error) {
	var res resolution
	for _, id := range candidates(d) {
		owners, err := tx.OwnersOf(ctx, d.PortalID, id)
		if err != nil {
			return nil, err
		}
		for _, o := range owners {
			if o.Type == "contact" && res.contactID == 0 {
				res.contactID = o.ID
			}
			if o.Type == "lead" && res.leadID == 0 {
				res.leadID = o.ID
			}
		}
		if res.contactID > 0 {
			res.leadID = 0
			break
		}
	}
	if res.contactID == 0 && res.leadID == 0 {
		return d, nil
	}
	res, err := s.withAssignee(ctx, tx, d.PortalID, res)
	if err != nil {
		return nil, err
	}
	if res.contactID > 0 {
		if res.dealID, err = tx.OpenDealOf(ctx, d.PortalID, res.contactID); err != nil {
			return nil, err
		}
	}
	if err := tx.ResolveDialog(ctx, d.ID, res.contactID, res.leadID, res.dealID, res.responsible); err != nil {
		return nil, err
	}
	if err := s.hurryTimeline(ctx, tx, d.ID); err != nil {
		return nil, err
	}
	return tx.LockDialog(ctx, d.ID)
}

type resolution struct {
	contactID, leadID, dealID, responsible int64
	created                                bool
}

// findClient looks the client up locally, then asks the portal by phone.
func (s *Service) findClient(ctx context.Context, c *bitrix.Client, portalID int64, d *store.Dialog) (resolution, error) {
	var res resolution
	ids := candidates(d)
	for _, id := range ids {
		owners, err := s.o.Store.OwnersOf(ctx, portalID, id)
		if err != nil {
			return res, err
		}
		for _, o := range owners {
			if o.Type == "contact" {
				res.contactID = o.ID
				return s.withAssignee(ctx, s.o.Store, portalID, res)
			}
			if res.leadID == 0 {
				res.leadID = o.ID
			}
		}
	}
	if res.leadID > 0 {
		return s.withAssignee(ctx, s.o.Store, portalID, res)
	}
	var phones []string
	for _, id := range ids {
		if id.Kind == identity.Phone {
			phones = append(phones, "+"+id.Value)
		}
	}
	if len(phones) == 0 {
		return res, nil
	}
	var found struct {
		Contact []int64 `json:"CONTACT"`
		Lead    []int64 `json:"LEAD"`
	}
	resp, err := c.Do(ctx, "crm.duplicate.findbycomm", bitrix.Params{"type": "PHONE", "values": phones})
	if err != nil {
		return res, fmt.Errorf("looking the client up in the CRM: %w", err)
	}
	if len(resp.Result) > 0 && resp.Result[0] == '{' {
		if err := json.Unmarshal(resp.Result, &found); err != nil {
			return res, fmt.Errorf("decoding crm.duplicate.findbycomm: %w", err)
		}
	}
	switch {
	case len(found.Contact) > 0:
		res.contactID = minID(found.Contact)
		if err := s.o.Sync.FetchRecord(ctx, c, portalID, "contact", res.contactID); err != nil {
			return res, err
		}
	case len(found.Lead) > 0:
		res.leadID = minID(found.Lead)
		if err := s.o.Sync.FetchRecord(ctx, c, portalID, "lead", res.leadID); err != nil {
			return res, err
		}
	}
	return s.withAssignee(ctx, s.o.Store, portalID, res)
}

func minID(ids []int64) int64 {
	m := ids[0]
	for _, id := range ids {
		m = min(m, id)
	}
	return m
}

// withAssignee takes the client's responsible person from the CRM record
// (read through st: the pool, or the transaction it is called in).
func (s *Service) withAssignee(ctx context.Context, st *store.Store, portalID int64, res resolution) (resolution, error) {
	var err error
	switch {
	case res.contactID > 0:
		res.responsible, err = st.AssigneeOf(ctx, portalID, "contact", res.contactID)
	case res.leadID > 0:
		res.responsible, err = st.AssigneeOf(ctx, portalID, "lead", res.leadID)
	}
	return res, err
}

// responsibleFor picks who answers a client: the record's assignee if active,
// else as the admin set (a fixed person, the next one in turn among those who
// receive new clients, or nobody until someone answers).
func (s *Service) responsibleFor(ctx context.Context, portalID int64, res resolution) (int64, error) {
	settings, err := s.o.Store.Settings(ctx, portalID)
	if err != nil {
		return 0, err
	}
	switch settings.ResponsibleMode {
	case "fixed":
		if settings.ResponsibleUserID.Valid {
			return settings.ResponsibleUserID.Int64, nil
		}
	case "first_answer":
		return 0, nil
	}
	next, err := s.o.Store.NextInTurn(ctx, portalID)
	if err != nil || next > 0 {
		return next, err
	}
	// Nobody receives new clients: the first admin, so the client is seen.
	admins, err := s.o.Store.Admins(ctx, portalID)
	if err != nil || len(admins) == 0 {
		return 0, err
	}
	return admins[0], nil
}

// createClient creates the contact and the lead or deal of an unknown client,
// or what an earlier attempt left uncreated: each record with its read-back
// (for the mirror) in one batch, a $result reference apart. The deal is
// added only once its contact's id is known — the portal would leave an
// unresolved reference in place and add a deal without contact. Each id is
// written down as soon as it is known; retry says an earlier attempt may
// have added the deal without learning its id, so it is looked for first.
func (s *Service) createClient(ctx context.Context, c *bitrix.Client, portalID int64, d *store.Dialog, st store.Settings, retry bool, log *slog.Logger) (resolution, error) {
	res := resolution{created: true}
	var err error
	if st.ResponsibleMode != "first_answer" {
		res.responsible, err = s.responsibleFor(ctx, portalID, res)
		if err != nil {
			return res, err
		}
	}
	name := d.ClientName
	if name == "" {
		name = d.ChatID
	}
	fields := bitrix.Params{"NAME": name, "SOURCE_ID": "relay24", "OPENED": "Y"}
	if res.responsible > 0 {
		fields["ASSIGNED_BY_ID"] = res.responsible
	}
	comms(fields, d)
	if st.NewClient == "lead" {
		if d.LeadID.Valid {
			res.leadID = d.LeadID.Int64
			return res, nil
		}
		fields["TITLE"] = leadTitle(d, name)
		id, err := s.addRecord(ctx, c, portalID, d, "lead", bitrix.Params{"fields": fields, "params": map[string]any{"REGISTER_SONET_EVENT": "Y"}})
		res.leadID = id
		return res, err
	}
	if d.ContactID.Valid {
		res.contactID = d.ContactID.Int64 // created by an attempt that was cut short
	} else if res.contactID, err = s.addRecord(ctx, c, portalID, d, "contact", bitrix.Params{"fields": fields}); err != nil {
		return res, err
	}
	if st.NewClient != "deal" {
		return res, nil
	}
	if d.DealID.Valid {
		res.dealID = d.DealID.Int64
		return res, nil
	}
	if retry {
		if id, err := s.ownDealOf(ctx, c, portalID, d, res.contactID); err != nil || id > 0 {
			res.dealID = id
			return res, err
		}
	}
	deal := bitrix.Params{"TITLE": leadTitle(d, name), "CATEGORY_ID": st.DealCategoryID, "CONTACT_ID": res.contactID,
		"SOURCE_ID": "relay24", "OPENED": "Y"}
	if st.DealStageID != "" {
		deal["STAGE_ID"] = st.DealStageID
	}
	if res.responsible > 0 {
		deal["ASSIGNED_BY_ID"] = res.responsible
	}
	if res.dealID, err = s.addRecord(ctx, c, portalID, d, "deal", bitrix.Params{"fields": deal}); err != nil {
		return res, err
	}
	log.InfoContext(ctx, "new client created", slog.Int64("contact_id", res.contactID), slog.Int64("deal_id", res.dealID))
	return res, nil
}

// addRecord adds a contact, lead or deal of the dialog's client and reads it
// back in the same batch; its id is written on the dialog before the
// read-back is stored in the mirror.
func (s *Service) addRecord(ctx context.Context, c *bitrix.Client, portalID int64, d *store.Dialog, entity string, params bitrix.Params) (int64, error) {
	cmds := append([]bitrix.Command{{Key: "add", Method: "crm." + entity + ".add", Params: params}},
		crmsync.FetchCommands("read_", entity, 0, "$result[add]")...)
	out, err := c.Batch(ctx, cmds, false)
	if err != nil {
		return 0, fmt.Errorf("creating the %s: %w", entity, err)
	}
	if e := out.Errors["add"]; e != nil {
		return 0, fmt.Errorf("creating the %s: %w", entity, e)
	}
	var id int64
	if err := json.Unmarshal(out.Result["add"], &id); err != nil || id <= 0 {
		return 0, fmt.Errorf("creating the %s: the portal answered %s", entity, out.Result["add"])
	}
	var contactID, leadID, dealID int64
	switch entity {
	case "contact":
		contactID = id
	case "lead":
		leadID = id
	case "deal":
		dealID = id
	}
	if err := s.o.Store.SetDialogClient(ctx, d.ID, contactID, leadID, dealID); err != nil {
		return id, err
	}
	if out.Errors["read_get"] != nil {
		// Added but not read back: the mirror learns it by a fetch.
		return id, s.o.Sync.FetchRecord(ctx, c, portalID, entity, id)
	}
	return id, s.o.Sync.StoreFetched(ctx, portalID, entity, id, out, "read_")
}

// ownDealOf finds the deal relay24 added for the contact by an attempt
// whose answer was lost (0 when there is none), and writes it down.
func (s *Service) ownDealOf(ctx context.Context, c *bitrix.Client, portalID int64, d *store.Dialog, contactID int64) (int64, error) {
	var list []struct {
		ID json.Number `json:"ID"`
	}
	if err := c.Call(ctx, "crm.deal.list", bitrix.Params{
		"filter": map[string]any{"CONTACT_ID": contactID, "SOURCE_ID": "relay24"},
		"order":  map[string]any{"ID": "DESC"},
		"select": []string{"ID"},
	}, &list); err != nil {
		return 0, fmt.Errorf("looking for the client's deal: %w", err)
	}
	if len(list) == 0 {
		return 0, nil
	}
	id, err := list[0].ID.Int64()
	if err != nil {
		return 0, fmt.Errorf("looking for the client's deal: id %q", list[0].ID)
	}
	if err := s.o.Store.SetDialogClient(ctx, d.ID, 0, 0, id); err != nil {
		return id, err
	}
	return id, s.o.Sync.FetchRecord(ctx, c, portalID, "deal", id)
}

// comms puts the client's phone or messenger account on the new record, so
// the next message finds it.
func comms(fields bitrix.Params, d *store.Dialog) {
	phone := ""
	if d.ChatType == "whatsapp" || d.ChatType == "viber" {
		phone = identity.NormalizePhone(d.ChatID)
	}
	if phone == "" {
		phone = identity.NormalizePhone(d.ClientPhone)
	}
	if phone != "" {
		fields["PHONE"] = []map[string]any{{"VALUE": "+" + phone, "VALUE_TYPE": "MOBILE"}}
	}
	switch d.ChatType {
	case "telegram":
		v := d.ChatID
		if d.ClientUsername != "" {
			v = "@" + strings.TrimPrefix(d.ClientUsername, "@")
		}
		fields["IM"] = []map[string]any{{"VALUE": v, "VALUE_TYPE": "TELEGRAM"}}
	case "instagram":
		fields["IM"] = []map[string]any{{"VALUE": d.ChatID, "VALUE_TYPE": "INSTAGRAM"}}
	}
}

func leadTitle(d *store.Dialog, name string) string {
	return fmt.Sprintf("%s: %s", transportTitle(d.ChatType), name)
}

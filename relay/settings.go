package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
)

// Pipeline is a deal pipeline (category) with its stages, as the portal lists it.
type Pipeline struct {
	ID     int64   `json:"id"`
	Name   string  `json:"name"`
	Stages []Stage `json:"stages"`
}

// Stage is a deal stage.
type Stage struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Pipelines reads the portal's deal pipelines and their stages in one request.
func (s *Service) Pipelines(ctx context.Context, portalID int64) ([]Pipeline, error) {
	c, err := s.o.Portals.Client(ctx, portalID)
	if err != nil {
		return nil, err
	}
	var cats struct {
		Categories []struct {
			ID   json.Number `json:"id"`
			Name string      `json:"name"`
		} `json:"categories"`
	}
	res, err := c.Batch(ctx, []bitrix.Command{
		{Key: "cats", Method: "crm.category.list", Params: bitrix.Params{"entityTypeId": 2}},
		{Key: "stages", Method: "crm.status.list", Params: bitrix.Params{"order": map[string]any{"SORT": "ASC"}}},
	}, false)
	if err != nil {
		return nil, problem.Wrap(err, problem.Unavailable, "portal_unavailable", "the portal did not list its pipelines")
	}
	if e := res.Errors["cats"]; e != nil {
		return nil, problem.Wrap(e, problem.Unavailable, "portal_unavailable", "the portal did not list its pipelines")
	}
	if err := json.Unmarshal(res.Result["cats"], &cats); err != nil {
		return nil, fmt.Errorf("decoding pipelines: %w", err)
	}
	var stages []struct {
		EntityID string `json:"ENTITY_ID"`
		StatusID string `json:"STATUS_ID"`
		Name     string `json:"NAME"`
	}
	if e := res.Errors["stages"]; e == nil {
		_ = json.Unmarshal(res.Result["stages"], &stages)
	}
	out := make([]Pipeline, 0, len(cats.Categories))
	for _, ct := range cats.Categories {
		id, _ := ct.ID.Int64()
		p := Pipeline{ID: id, Name: ct.Name, Stages: []Stage{}}
		entity := "DEAL_STAGE"
		if id > 0 {
			entity += "_" + strconv.FormatInt(id, 10)
		}
		for _, st := range stages {
			if st.EntityID == entity {
				p.Stages = append(p.Stages, Stage{ID: st.StatusID, Name: st.Name})
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// ValidateSettings checks an admin's settings against the portal: the
// pipeline and stage must be the portal's own, the fixed responsible person
// an active employee.
func (s *Service) ValidateSettings(ctx context.Context, portalID int64, st store.Settings) error {
	if err := st.Validate(); err != nil {
		return err
	}
	if st.ResponsibleMode == "fixed" {
		u, err := s.o.Store.UserByID(ctx, portalID, st.ResponsibleUserID.Int64)
		if err != nil || !u.Active {
			return problem.New(problem.Invalid, "bad_responsible", "responsible_user_id must be an active employee")
		}
	}
	if st.NewClient != "deal" {
		return nil
	}
	pipes, err := s.Pipelines(ctx, portalID)
	if err != nil {
		return err
	}
	for _, p := range pipes {
		if p.ID != st.DealCategoryID {
			continue
		}
		if st.DealStageID == "" {
			return nil
		}
		for _, stg := range p.Stages {
			if stg.ID == st.DealStageID {
				return nil
			}
		}
		return problem.New(problem.Invalid, "bad_stage", "stage %s is not in pipeline %s", st.DealStageID, p.Name)
	}
	return problem.New(problem.Invalid, "bad_category", "the portal has no pipeline %d", st.DealCategoryID)
}

// Disconnect stops relaying a channel's gateway (all channels of that
// Wazzup account or that bot); its dialogs and history stay.
func (s *Service) Disconnect(ctx context.Context, portalID, channelID int64) error {
	ch, err := s.o.Store.ChannelByID(ctx, portalID, channelID)
	if err != nil {
		return err
	}
	g, err := s.o.Store.GatewayByID(ctx, ch.GatewayID)
	if err != nil {
		return err
	}
	if gw, ok := s.adapter(g.Provider); ok {
		if cred, err := s.credential(g); err == nil {
			if err := gw.UnregisterWebhook(ctx, cred); err != nil {
				s.o.Log.WarnContext(ctx, "gateway webhook not removed", "provider", g.Provider, "error", err.Error())
			}
		}
	}
	if err := s.o.Store.SetGatewayState(ctx, g.ID, "disconnected"); err != nil {
		return err
	}
	// Forgotten after the change: a webhook reading the row meanwhile
	// cannot put the connected gateway back (see gatewayCache.mark).
	s.gateways.forget(g.ID)
	s.gatewaysByID.forget(g.ID)
	return nil
}

package handlers

import (
	"database/sql"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/relay24/relay24/portal"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
)

// settingsJSON is the admin's settings as the API shows and takes them.
type settingsJSON struct {
	NewClient            string `json:"new_client"`
	DealCategoryID       int64  `json:"deal_category_id"`
	DealStageID          string `json:"deal_stage_id"`
	ResponsibleMode      string `json:"responsible_mode"`
	ResponsibleUserID    *int64 `json:"responsible_user_id"`
	Notify               bool   `json:"notify"`
	EscalateAfterMinutes int    `json:"escalate_after_minutes"`
}

func toSettingsJSON(s store.Settings) settingsJSON {
	out := settingsJSON{NewClient: s.NewClient, DealCategoryID: s.DealCategoryID, DealStageID: s.DealStageID,
		ResponsibleMode: s.ResponsibleMode, Notify: s.Notify, EscalateAfterMinutes: s.EscalateAfterMinutes}
	if s.ResponsibleUserID.Valid {
		out.ResponsibleUserID = &s.ResponsibleUserID.Int64
	}
	return out
}

func (j settingsJSON) settings() store.Settings {
	s := store.Settings{NewClient: j.NewClient, DealCategoryID: j.DealCategoryID, DealStageID: j.DealStageID,
		ResponsibleMode: j.ResponsibleMode, Notify: j.Notify, EscalateAfterMinutes: j.EscalateAfterMinutes}
	if j.ResponsibleUserID != nil {
		s.ResponsibleUserID = sql.NullInt64{Int64: *j.ResponsibleUserID, Valid: true}
	}
	return s
}

// getSettings answers everything the settings page shows.
func (h *Handlers) getSettings(c echo.Context) error {
	cl := caller(c)
	ctx := c.Request().Context()
	st, err := h.Store.Settings(ctx, cl.Portal.ID)
	if err != nil {
		return err
	}
	chans, err := h.Store.Channels(ctx, cl.Portal.ID)
	if err != nil {
		return err
	}
	out := map[string]any{"settings": toSettingsJSON(st), "channels": chans}
	// What the portal itself says is best effort: the page works without it.
	if pipes, err := h.Relay.Pipelines(ctx, cl.Portal.ID); err == nil {
		out["pipelines"] = pipes
	} else {
		out["pipelines_error"] = err.Error()
	}
	if b, err := h.Portals.BindingsOf(ctx, cl.Portal.ID); err == nil {
		out["placements"] = map[string]any{"bound": b.Placements, "events": b.Events, "missing": nonNil(b.Missing())}
	} else {
		out["placements_error"] = err.Error()
	}
	return c.JSON(http.StatusOK, out)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// putSettings replaces the settings (omitted fields keep their value).
func (h *Handlers) putSettings(c echo.Context) error {
	cl := caller(c)
	ctx := c.Request().Context()
	cur, err := h.Store.Settings(ctx, cl.Portal.ID)
	if err != nil {
		return err
	}
	j := toSettingsJSON(cur)
	if err := bindJSON(c, &j); err != nil {
		return err
	}
	st := j.settings()
	if err := h.Relay.ValidateSettings(ctx, cl.Portal.ID, st); err != nil {
		return err
	}
	if err := h.Store.SaveSettings(ctx, cl.Portal.ID, st); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"settings": toSettingsJSON(st)})
}

// repairPlacements re-binds whatever placement or event is missing.
func (h *Handlers) repairPlacements(c echo.Context) error {
	b, err := h.Portals.Repair(c.Request().Context(), caller(c).Portal.ID)
	if err != nil {
		return err
	}
	auto := b.Automation
	if auto == nil {
		auto = []portal.AutomationState{}
	}
	return c.JSON(http.StatusOK, map[string]any{"bound": b.Placements, "events": b.Events, "missing": nonNil(b.Missing()),
		"automation": auto})
}

// userAccessJSON is one employee with his rule.
type userAccessJSON struct {
	ID      int64        `json:"id"`
	Name    string       `json:"name"`
	Active  bool         `json:"active"`
	IsAdmin bool         `json:"is_admin"`
	Access  store.Access `json:"access"`
}

// users lists the synced employees by department, each with his access.
func (h *Handlers) users(c echo.Context) error {
	cl := caller(c)
	ctx := c.Request().Context()
	deps, err := h.Store.Departments(ctx, cl.Portal.ID)
	if err != nil {
		return err
	}
	users, err := h.Store.AllUsers(ctx, cl.Portal.ID)
	if err != nil {
		return err
	}
	type depJSON struct {
		ID       int64            `json:"id"`
		Name     string           `json:"name"`
		ParentID *int64           `json:"parent_id"`
		HeadID   *int64           `json:"head_id"`
		Users    []userAccessJSON `json:"users"`
	}
	byDep := map[int64]*depJSON{}
	out := make([]*depJSON, 0, len(deps)+1)
	for _, d := range deps {
		dj := &depJSON{ID: d.ID, Name: d.Name, Users: []userAccessJSON{}}
		if d.ParentID.Valid {
			dj.ParentID = &d.ParentID.Int64
		}
		if d.HeadID.Valid {
			dj.HeadID = &d.HeadID.Int64
		}
		byDep[d.ID] = dj
		out = append(out, dj)
	}
	none := &depJSON{ID: 0, Name: "", Users: []userAccessJSON{}}
	for i := range users {
		u := &users[i]
		a, err := h.Store.AccessOf(ctx, cl.Portal.ID, u)
		if err != nil {
			return err
		}
		uj := userAccessJSON{ID: u.ID, Name: u.Name, Active: u.Active, IsAdmin: u.IsAdmin, Access: a}
		placed := false
		for _, d := range u.Departments {
			if dj := byDep[d]; dj != nil {
				dj.Users = append(dj.Users, uj)
				placed = true
				break // listed once, under the first department
			}
		}
		if !placed {
			none.Users = append(none.Users, uj)
		}
	}
	if len(none.Users) > 0 {
		out = append(out, none)
	}
	return c.JSON(http.StatusOK, map[string]any{"departments": out})
}

// getAccess answers one employee's rule.
func (h *Handlers) getAccess(c echo.Context) error {
	u, err := h.portalUser(c)
	if err != nil {
		return err
	}
	a, err := h.Store.AccessOf(c.Request().Context(), caller(c).Portal.ID, u)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}

// putAccess sets one employee's rule; it applies at once, to open event
// streams too.
func (h *Handlers) putAccess(c echo.Context) error {
	cl := caller(c)
	ctx := c.Request().Context()
	u, err := h.portalUser(c)
	if err != nil {
		return err
	}
	a, err := h.Store.AccessOf(ctx, cl.Portal.ID, u)
	if err != nil {
		return err
	}
	var body struct {
		Visibility         *string  `json:"visibility"`
		CanWrite           *bool    `json:"can_write"`
		ReceivesNewClients *bool    `json:"receives_new_clients"`
		ChannelIDs         *[]int64 `json:"channel_ids"`
		Notify             *bool    `json:"notify"`
	}
	raw := map[string]any{}
	if err := bindJSONTwice(c, &body, &raw); err != nil {
		return err
	}
	if body.Visibility != nil {
		a.Visibility = *body.Visibility
	}
	if body.CanWrite != nil {
		a.CanWrite = *body.CanWrite
	}
	if body.ReceivesNewClients != nil {
		a.ReceivesNewClients = *body.ReceivesNewClients
	}
	if _, ok := raw["channel_ids"]; ok {
		a.ChannelIDs = nil
		if body.ChannelIDs != nil {
			a.ChannelIDs = *body.ChannelIDs
			if a.ChannelIDs == nil {
				a.ChannelIDs = []int64{}
			}
		}
	}
	if body.Notify != nil {
		a.Notify = *body.Notify
	}
	if err := a.Validate(); err != nil {
		return err
	}
	for _, id := range a.ChannelIDs {
		if _, err := h.Store.ChannelByID(ctx, cl.Portal.ID, id); err != nil {
			return problem.New(problem.Invalid, "bad_channel", "channel %d is not one of this portal's", id)
		}
	}
	if err := h.Store.SaveAccess(ctx, cl.Portal.ID, u.ID, a); err != nil {
		return err
	}
	h.Access.Invalidate(cl.Portal.ID)
	if err := h.Store.Notify(ctx, store.Event{PortalID: cl.Portal.ID, Type: "access.changed"}); err != nil {
		return err
	}
	a.Explicit = true
	return c.JSON(http.StatusOK, a)
}

// portalUser reads the :user_id of the caller's portal (404 otherwise).
func (h *Handlers) portalUser(c echo.Context) (*store.User, error) {
	id, err := pathID(c, "user_id")
	if err != nil {
		return nil, err
	}
	return h.Store.UserByID(c.Request().Context(), caller(c).Portal.ID, id)
}

// disconnectChannel stops relaying a channel's account.
func (h *Handlers) disconnectChannel(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := h.Relay.Disconnect(c.Request().Context(), caller(c).Portal.ID, id); err != nil {
		return err
	}
	h.channelsChanged(c.Request().Context(), caller(c).Portal.ID)
	return c.NoContent(http.StatusNoContent)
}

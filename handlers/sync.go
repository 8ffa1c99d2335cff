package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/relay24/relay24/crmsync"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
)

// adminOnly lets through the portal's administrators (as the portal itself
// said when the user opened relay24: user.admin with his own token).
func (h *Handlers) adminOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !caller(c).User.IsAdmin {
			return problem.New(problem.Forbidden, "admin_only", "only the portal's administrators may do this")
		}
		return next(c)
	}
}

// syncProgress shows the first sync's progress per entity.
func (h *Handlers) syncProgress(c echo.Context) error {
	states, err := h.Store.SyncStates(c.Request().Context(), caller(c).Portal.ID)
	if err != nil {
		return err
	}
	by := map[string]store.SyncState{}
	for _, s := range states {
		by[s.Entity] = s
	}
	out := make([]store.SyncState, 0, len(crmsync.Entities))
	complete := true
	for _, e := range crmsync.Entities {
		s, ok := by[e]
		if !ok {
			s = store.SyncState{Entity: e, Phase: "pending"}
		}
		complete = complete && s.Phase == "done"
		out = append(out, s)
	}
	return c.JSON(http.StatusOK, map[string]any{"entities": out, "complete": complete})
}

package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/relay24/relay24/relay"
)

// connectChannel connects a gateway (admin only) and answers its channels.
func (h *Handlers) connectChannel(c echo.Context) error {
	var r relay.ConnectRequest
	if err := bindJSON(c, &r); err != nil {
		return err
	}
	chans, err := h.Relay.Connect(c.Request().Context(), caller(c).Portal.ID, r)
	if err != nil {
		return err
	}
	h.channelsChanged(c.Request().Context(), caller(c).Portal.ID)
	return c.JSON(http.StatusCreated, map[string]any{"channels": chans})
}

// channels lists the portal's channels the caller may use, with their state.
func (h *Handlers) channels(c echo.Context) error {
	cl := caller(c)
	chans, err := h.Store.Channels(c.Request().Context(), cl.Portal.ID)
	if err != nil {
		return err
	}
	out := chans[:0]
	for _, ch := range chans {
		if ok, err := h.Access.CanUseChannel(c.Request().Context(), cl.Portal.ID, cl.User, ch.ID); err != nil {
			return err
		} else if ok || cl.User.IsAdmin {
			out = append(out, ch)
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"channels": out})
}

package handlers

import (
	"github.com/labstack/echo/v4"

	"github.com/relay24/relay24/relay"
	"github.com/relay24/relay24/store"
)

// retryMessage sends a failed reply again (relay.Service.Retry); another
// portal's message, or one in a dialog the caller does not see, is 404.
func (h *Handlers) retryMessage(c echo.Context) error {
	cl := caller(c)
	ctx := c.Request().Context()
	old, v, err := h.visibleMessage(c)
	if err != nil {
		return err
	}
	if _, err := h.writable(c, v); err != nil {
		return err
	}
	author := relay.Author{ID: cl.User.ID, Name: cl.User.Name}
	m, err := h.Relay.Retry(ctx, cl.Portal.ID, author, &old.Message)
	if err != nil {
		return err
	}
	// Other pages showing the failed message hide its «Повторить».
	_ = h.Store.Notify(ctx, store.Event{PortalID: cl.Portal.ID, Type: "message.updated", DialogID: v.ID, MessageID: old.ID})
	return h.accepted(c, m)
}

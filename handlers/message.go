package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/relay24/relay24/problem"
)

// message answers one message as the history shows it, with fresh signed
// links: a page open for hours renews a message's links (whose exp passed)
// before it shows or downloads its file. The same rule as the history's
// applies: another portal's message, or one of a dialog the caller does not
// see, is 404.
func (h *Handlers) message(c echo.Context) error {
	cl := caller(c)
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	notFound := problem.New(problem.NotFound, "message_not_found", "message not found")
	m, err := h.Store.MessageViewByID(c.Request().Context(), cl.Portal.ID, id)
	if problem.Is(err, problem.NotFound) {
		return notFound
	} else if err != nil {
		return err
	}
	if _, err := h.visibleDialogByID(c, m.DialogID); problem.Is(err, problem.NotFound) {
		return notFound
	} else if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"message": h.messageJSON(m, cl.lang(), false)})
}

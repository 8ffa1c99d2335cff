package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
)

// message answers one message as the history shows it, with fresh signed
// links: a page open for hours renews a message's links (whose exp passed)
// before it shows or downloads its file. The same rule as the history's
// applies: another portal's message, or one of a dialog the caller does not
// see, is 404.
func (h *Handlers) message(c echo.Context) error {
	m, _, err := h.visibleMessage(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"message": h.messageJSON(m, caller(c).lang(), false)})
}

// visibleMessage is the message of the path's id with its dialog, as the
// caller may see them: another portal's message, or one of a dialog the
// caller does not see, is 404 message_not_found.
func (h *Handlers) visibleMessage(c echo.Context) (*store.MessageView, *store.DialogView, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return nil, nil, err
	}
	notFound := problem.New(problem.NotFound, "message_not_found", "message not found")
	m, err := h.Store.MessageViewByID(c.Request().Context(), caller(c).Portal.ID, id)
	if problem.Is(err, problem.NotFound) {
		return nil, nil, notFound
	} else if err != nil {
		return nil, nil, err
	}
	v, err := h.visibleDialogByID(c, m.DialogID)
	if problem.Is(err, problem.NotFound) {
		return nil, nil, notFound
	} else if err != nil {
		return nil, nil, err
	}
	return m, v, nil
}

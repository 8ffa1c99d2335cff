package handlers

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/relay"
	"github.com/relay24/relay24/store"
)

// retryMessage sends a failed reply again («Повторить»), text or file alike:
// as a new message whose client id is derived from the failed one
// (store.RetryClientID), so asking twice (two clicks, two tabs, a reload)
// sends once. The failed message stays as it was, marked retried; another
// portal's message, or one in a dialog the caller does not see, is 404.
func (h *Handlers) retryMessage(c echo.Context) error {
	cl := caller(c)
	ctx := c.Request().Context()
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	notFound := problem.New(problem.NotFound, "message_not_found", "message not found")
	old, err := h.Store.MessageViewByID(ctx, cl.Portal.ID, id)
	if problem.Is(err, problem.NotFound) {
		return notFound
	} else if err != nil {
		return err
	}
	v, err := h.visibleDialogByID(c, old.DialogID)
	if problem.Is(err, problem.NotFound) {
		return notFound
	} else if err != nil {
		return err
	}
	if _, err := h.writable(c, v); err != nil {
		return err
	}
	if old.Direction != "out" || old.Status != "error" {
		return problem.New(problem.Conflict, "not_retriable", "only a reply that failed can be sent again")
	}
	var atts []relay.Attachment
	_ = json.Unmarshal(old.Attachments, &atts)
	author := relay.Author{ID: cl.User.ID, Name: cl.User.Name}
	clientID := store.RetryClientID(old.ID)
	var m *store.Message
	switch {
	case len(atts) == 0:
		m, err = h.Relay.Send(ctx, cl.Portal.ID, author, v.ID, old.Text, clientID)
	case len(atts) == 1 && strings.HasPrefix(atts[0].URL, "file:"):
		fileID, perr := strconv.ParseInt(strings.TrimPrefix(atts[0].URL, "file:"), 10, 64)
		if perr != nil {
			return problem.New(problem.Conflict, "not_retriable", "this message's file cannot be sent again")
		}
		// The caption goes again with the file (where the channel takes
		// none, the text was a message of its own, retried on its own).
		m, err = h.Relay.SendFile(ctx, cl.Portal.ID, author, v.ID, fileID, old.Text, clientID)
	default:
		return problem.New(problem.Conflict, "not_retriable", "this message's file cannot be sent again")
	}
	if err != nil {
		return err
	}
	// Other pages showing the failed message hide its «Повторить».
	_ = h.Store.Notify(ctx, store.Event{PortalID: cl.Portal.ID, Type: "message.updated", DialogID: v.ID, MessageID: old.ID})
	mv, err := h.Store.MessageViewByID(ctx, cl.Portal.ID, m.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"message": h.messageJSON(mv, cl.lang(), false)})
}

package handlers

import (
	"database/sql"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/relay"
	"github.com/relay24/relay24/store"
)

// quickReplyJSON is a quick reply as the API shows it (contract §5.1).
type quickReplyJSON struct {
	ID    int64  `json:"id"`
	Title string `json:"title"`
	Text  string `json:"text"`
	Scope string `json:"scope"`
}

func toQuickReplyJSON(q store.QuickReply) quickReplyJSON {
	return quickReplyJSON{ID: q.ID, Title: q.Title, Text: q.Text, Scope: q.Scope()}
}

// quickReplies lists the portal's quick replies and the caller's own.
func (h *Handlers) quickReplies(c echo.Context) error {
	cl := caller(c)
	qs, err := h.Store.QuickReplies(c.Request().Context(), cl.Portal.ID, cl.User.ID)
	if err != nil {
		return err
	}
	out := make([]quickReplyJSON, 0, len(qs))
	for _, q := range qs {
		out = append(out, toQuickReplyJSON(q))
	}
	return c.JSON(http.StatusOK, map[string]any{"quick_replies": out})
}

// createQuickReply adds one to the caller's own, or, for an admin, to the
// portal's.
func (h *Handlers) createQuickReply(c echo.Context) error {
	cl := caller(c)
	var in struct {
		Title string `json:"title"`
		Text  string `json:"text"`
		Scope string `json:"scope"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	q := store.QuickReply{PortalID: cl.Portal.ID, Title: in.Title, Text: in.Text}
	switch in.Scope {
	case store.ScopePersonal:
		q.UserID = sql.NullInt64{Int64: cl.User.ID, Valid: true}
	case store.ScopePortal:
	default:
		return problem.New(problem.Invalid, "bad_scope", "scope must be portal or personal")
	}
	if err := mayChange(cl, q); err != nil {
		return err
	}
	if err := checkQuickReply(&q); err != nil {
		return err
	}
	if err := h.Store.CreateQuickReply(c.Request().Context(), &q); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"quick_reply": toQuickReplyJSON(q)})
}

// updateQuickReply changes a quick reply's title and text (omitted fields
// keep their value; the scope stays).
func (h *Handlers) updateQuickReply(c echo.Context) error {
	cl := caller(c)
	ctx := c.Request().Context()
	q, err := h.changeableQuickReply(c, cl)
	if err != nil {
		return err
	}
	in := struct {
		Title string  `json:"title"`
		Text  string  `json:"text"`
		Scope *string `json:"scope"`
	}{Title: q.Title, Text: q.Text}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if in.Scope != nil && *in.Scope != q.Scope() {
		return problem.New(problem.Invalid, "scope_unchangeable", "a quick reply keeps its scope; create a new one in the other scope")
	}
	q.Title, q.Text = in.Title, in.Text
	if err := checkQuickReply(q); err != nil {
		return err
	}
	if err := h.Store.UpdateQuickReply(ctx, *q); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"quick_reply": toQuickReplyJSON(*q)})
}

// deleteQuickReply removes a quick reply.
func (h *Handlers) deleteQuickReply(c echo.Context) error {
	cl := caller(c)
	q, err := h.changeableQuickReply(c, cl)
	if err != nil {
		return err
	}
	if err := h.Store.DeleteQuickReply(c.Request().Context(), *q); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// changeableQuickReply finds the quick reply of the path that the caller may
// change: a colleague's own or another portal's is 404 (not revealed), the
// portal's is 403 to anyone but an admin.
func (h *Handlers) changeableQuickReply(c echo.Context, cl *Caller) (*store.QuickReply, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return nil, problem.New(problem.NotFound, "quick_reply_not_found", "quick reply not found")
	}
	q, err := h.Store.QuickReply(c.Request().Context(), cl.Portal.ID, cl.User.ID, id)
	if err != nil {
		return nil, err
	}
	if err := mayChange(cl, *q); err != nil {
		return nil, err
	}
	return q, nil
}

// mayChange: the portal's quick replies are its admins' to manage; one's own
// are one's own (the store finds no one else's).
func mayChange(cl *Caller, q store.QuickReply) error {
	if q.Scope() == store.ScopePortal && !cl.User.IsAdmin {
		return problem.New(problem.Forbidden, "admin_only", "only the portal's administrators manage its quick replies")
	}
	return nil
}

// checkQuickReply normalizes and validates a quick reply a client sent: the
// sizes, and the rule of replies for control characters in title and text.
func checkQuickReply(q *store.QuickReply) error {
	q.Normalize()
	if err := q.Validate(); err != nil {
		return err
	}
	for _, f := range [...]struct{ field, s string }{{"title", q.Title}, {"text", q.Text}} {
		if err := relay.CheckText(f.s); err != nil {
			if pe, ok := problem.As(err); ok {
				return problem.New(pe.Code, pe.Reason, "%s: %s", f.field, pe.Message)
			}
			return err
		}
	}
	return nil
}

package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// dialogTemplates is GET /api/v1/dialogs/{id}/templates: the dialog's
// customer-service window and its channel's approved templates (CONTRACT
// §5.1), for whoever may see the dialog (another portal's, or one hidden
// from the caller, is 404).
func (h *Handlers) dialogTemplates(c echo.Context) error {
	v, err := h.visibleDialog(c)
	if err != nil {
		return err
	}
	cl := caller(c)
	w, ts, err := h.Relay.DialogTemplates(c.Request().Context(), cl.Portal.ID, v.ID)
	if err != nil {
		return err
	}
	type templateJSON struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		Text      string `json:"text"`
		Variables int    `json:"variables"`
		Language  string `json:"language,omitempty"`
	}
	list := make([]templateJSON, 0, len(ts))
	for _, t := range ts {
		name := t.Title
		if name == "" {
			name = t.Name
		}
		list = append(list, templateJSON{ID: t.GUID, Name: name, Text: t.Text, Variables: t.Variables, Language: t.Language})
	}
	var closes any
	if w.ClosesAt != nil {
		closes = w.ClosesAt.UTC().Format(time.RFC3339)
	}
	return c.JSON(http.StatusOK, map[string]any{"window_open": w.Open, "window_closes_at": closes,
		"templates_supported": w.Templates, "templates": list})
}

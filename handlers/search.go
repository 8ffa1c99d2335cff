package handlers

import (
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
)

// maxSearchRunes bounds a search query.
const maxSearchRunes = 200

// MessageHit is a found message with its dialog (CONTRACT §5.1).
type MessageHit struct {
	Message Message `json:"message"`
	Dialog  Dialog  `json:"dialog"`
}

// search is the search box: dialogs by their client, messages by word,
// only what the caller's access rules show in the general chat.
func (h *Handlers) search(c echo.Context) error {
	cl := caller(c)
	ctx := c.Request().Context()
	q := strings.TrimSpace(c.QueryParam("q"))
	if q == "" {
		return problem.New(problem.Invalid, "search_empty", "q is required: what to search for")
	}
	if utf8.RuneCountInString(q) > maxSearchRunes {
		return problem.New(problem.Invalid, "search_too_long", "q must be at most %d characters", maxSearchRunes)
	}
	limit := 20
	if s := c.QueryParam("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 50 {
			return problem.New(problem.Invalid, "bad_limit", "limit must be 1 to 50")
		}
		limit = n
	}
	// Exactly the general chat's filter.
	rule, err := h.rule(c)
	if err != nil {
		return err
	}
	vis := rule.Visible()
	res, err := h.Store.Search(ctx, cl.Portal.ID, store.SearchFilter{Text: q, Visible: &vis, Limit: limit})
	if err != nil {
		return err
	}
	lang := cl.lang()
	dialogs := make([]Dialog, len(res.Dialogs))
	for i := range res.Dialogs {
		dialogs[i] = dialogJSON(&res.Dialogs[i], lang, rule)
	}
	messages := make([]MessageHit, 0, len(res.Messages))
	for i := range res.Messages {
		m := &res.Messages[i]
		d := res.DialogOf[m.DialogID]
		if d == nil {
			continue // gone between the two reads
		}
		messages = append(messages, MessageHit{Message: h.messageJSON(m, lang, false), Dialog: dialogJSON(d, lang, rule)})
	}
	return c.JSON(http.StatusOK, map[string]any{"dialogs": dialogs, "messages": messages})
}

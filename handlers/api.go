package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store/pgsafe"

	"github.com/labstack/echo/v4"
)

type meUser struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	IsAdmin bool   `json:"is_admin"`
}

// me answers who the session belongs to.
func (h *Handlers) me(c echo.Context) error {
	cl := caller(c)
	prefs, err := h.Store.Preferences(c.Request().Context(), cl.Portal.ID, cl.User.ID)
	if err != nil {
		return err
	}
	rule, err := h.Access.For(c.Request().Context(), cl.Portal.ID, cl.User)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{
		"user":        meUser{ID: cl.User.ID, Name: cl.User.Name, IsAdmin: cl.User.IsAdmin},
		"portal":      map[string]any{"domain": cl.Portal.Domain, "lang": cl.Portal.Lang},
		"preferences": prefs,
		"access":      map[string]any{"visibility": rule.Visibility, "can_write": rule.CanWrite},
	})
}

// preferences answers the caller's chat preferences.
func (h *Handlers) preferences(c echo.Context) error {
	cl := caller(c)
	p, err := h.Store.Preferences(c.Request().Context(), cl.Portal.ID, cl.User.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

// savePreferences replaces the caller's preferences; omitted fields keep
// their current value.
func (h *Handlers) savePreferences(c echo.Context) error {
	cl := caller(c)
	ctx := c.Request().Context()
	p, err := h.Store.Preferences(ctx, cl.Portal.ID, cl.User.ID)
	if err != nil {
		return err
	}
	if err := bindJSON(c, &p); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if err := h.Store.SavePreferences(ctx, cl.Portal.ID, cl.User.ID, p); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

// bindJSON decodes a JSON body strictly: unknown fields and trailing data are
// a 400, so a client's typo is not silently ignored.
func bindJSON(c echo.Context, v any) error {
	return decodeStrict(c.Request().Body, v)
}

func decodeStrict(r io.Reader, v any) error {
	b, err := io.ReadAll(r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return problem.Wrap(err, problem.Invalid, "unreadable_body", "the body could not be read")
	}
	if err := checkJSONText(b); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return problem.Wrap(err, problem.Invalid, "malformed_json", "the body is not the expected JSON: "+err.Error())
	}
	if dec.More() {
		return problem.New(problem.Invalid, "malformed_json", "the body has data after the JSON object")
	}
	return nil
}

// checkJSONText refuses what the decoder would silently change or the
// database refuse: invalid UTF-8 (Go reads it as U+FFFD, so the stored text
// would differ from the one sent) and the escape \u0000 in any string (no
// text column holds a NUL). A lone surrogate escape reads as U+FFFD, as a
// browser shows it; it passes.
func checkJSONText(b []byte) error {
	_, fixed, err := pgsafe.JSON(b)
	switch {
	case err != nil:
		return nil // the decoder says what is wrong
	case fixed&pgsafe.ReplacedUTF8 != 0:
		return problem.New(problem.Invalid, "malformed_json", "the body is not valid UTF-8")
	case fixed&pgsafe.RemovedNUL != 0:
		return problem.New(problem.Invalid, "invalid_text", "a text holds the NUL character (\\u0000), which cannot be stored or sent; remove it")
	}
	return nil
}

// bindJSONTwice decodes the body strictly into v and also into a map, so a
// handler can tell an absent field from an explicit null.
func bindJSONTwice(c echo.Context, v any, raw *map[string]any) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	if err := decodeStrict(bytes.NewReader(b), v); err != nil {
		return err
	}
	if err := json.Unmarshal(b, raw); err != nil {
		return problem.Wrap(err, problem.Invalid, "malformed_json", "the body is not a JSON object")
	}
	return nil
}

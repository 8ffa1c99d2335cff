package handlers

import (
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/relay24/relay24/problem"
)

// readBody reads the whole (size-limited) body once.
func readBody(c echo.Context) ([]byte, error) {
	b, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, problem.Wrap(err, problem.Invalid, "unreadable_body", "the body could not be read")
	}
	return b, nil
}

// wazzupWebhook stores a Wazzup webhook and answers at once; workers do the rest.
func (h *Handlers) wazzupWebhook(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return err
	}
	if err := h.Relay.HandleWazzupWebhook(c.Request().Context(), c.Param("key"), body); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]bool{"ok": true})
}

// telegramWebhook stores a Telegram update and answers at once.
func (h *Handlers) telegramWebhook(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return err
	}
	secret := c.Request().Header.Get("X-Telegram-Bot-Api-Secret-Token")
	if err := h.Relay.HandleTelegramWebhook(c.Request().Context(), c.Param("key"), secret, body); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]bool{"ok": true})
}

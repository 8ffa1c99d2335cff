package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/relay24/relay24/identity"
	"github.com/relay24/relay24/relay"
	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/wazzup"
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

// ChannelJSON is a channel as the chat lists it: with what this user may
// do on it, and which of a CRM contact's identities start a dialog there.
type ChannelJSON struct {
	store.Channel
	// CanWrite: the user may start a dialog and write on it now (his rule
	// lets him write, the channel is his, and it is active).
	CanWrite bool `json:"can_write"`
	// HandleKinds are the identity kinds (phone, telegram, instagram, vk)
	// a dialog on this channel can be started with, in order of preference;
	// empty: the channel cannot write first from the CRM.
	HandleKinds []string `json:"handle_kinds"`
}

// handleKinds are the identities a dialog on a channel starts with (as
// relay's "Create dialog" picks them).
func handleKinds(provider, transport string) []string {
	if provider == "telegram" {
		return []string{identity.Telegram} // a bot cannot find anyone by phone
	}
	switch wazzup.ChatTypeFor(transport) {
	case "whatsapp", "viber":
		return []string{identity.Phone}
	case "telegram":
		return []string{identity.Telegram, identity.Phone}
	case "instagram":
		return []string{identity.Instagram}
	case "vk":
		return []string{identity.VK}
	}
	return []string{}
}

// channels lists the portal's channels the caller may use, with their state.
func (h *Handlers) channels(c echo.Context) error {
	cl := caller(c)
	chans, err := h.Store.Channels(c.Request().Context(), cl.Portal.ID)
	if err != nil {
		return err
	}
	rule, err := h.rule(c)
	if err != nil {
		return err
	}
	out := make([]ChannelJSON, 0, len(chans))
	for _, ch := range chans {
		usable := rule.UsesChannel(ch.ID)
		if !usable && !cl.User.IsAdmin {
			continue
		}
		out = append(out, ChannelJSON{Channel: ch, CanWrite: usable && rule.CanWrite && ch.State == "active",
			HandleKinds: handleKinds(ch.Provider, ch.Transport)})
	}
	return c.JSON(http.StatusOK, map[string]any{"channels": out})
}

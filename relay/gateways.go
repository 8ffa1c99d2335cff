package relay

import (
	"fmt"

	"github.com/relay24/relay24/gateway"
	"github.com/relay24/relay24/store"
)

// Attachment is a file of a message (see gateway.Attachment).
type Attachment = gateway.Attachment

// ConnectRequest is what an admin posts to connect a gateway.
type ConnectRequest = gateway.ConnectRequest

// inbound is a message from a gateway, in relay24's terms.
type inbound = gateway.Message

// adapter is the gateway adapter of a provider.
func (s *Service) adapter(provider string) (gateway.Gateway, bool) {
	return s.adapters.Lookup(provider)
}

// Gateway is the adapter of a provider (nil for one relay24 does not
// serve): what other packages ask of a gateway, such as its reply window.
func (s *Service) Gateway(provider string) gateway.Gateway {
	g, _ := s.adapters.Lookup(provider)
	return g
}

// traits are a provider's gateway traits (none for an unknown provider).
func (s *Service) traits(provider string) gateway.Traits {
	if g, ok := s.adapters.Lookup(provider); ok {
		return g.Traits()
	}
	return gateway.Traits{}
}

// credential opens a gateway's stored credential (API key, bot token).
func (s *Service) credential(g *store.Gateway) (string, error) {
	c, err := s.o.Keys.Open(g.Credentials, credentialsContext(g.ID))
	if err != nil {
		return "", fmt.Errorf("opening the %s credentials: %w", g.Provider, err)
	}
	return c, nil
}

// failure is why a reply was not sent, as messages.error keeps it (see
// gateway.Failure).
func failure(code, detail string) string { return gateway.Failure(code, detail) }

func transportTitle(chatType string) string { return gateway.TransportTitle(chatType) }

// storeChannel is a gateway's channel as relay stores it.
func storeChannel(portalID int64, g *store.Gateway, ch gateway.Channel) store.Channel {
	return store.Channel{PortalID: portalID, GatewayID: g.ID, ExternalID: ch.ExternalID, Provider: g.Provider,
		Transport: ch.Transport, Name: ch.Name, PlainID: ch.PlainID, State: ch.State}
}

package relay

import (
	"context"
	"log/slog"

	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
)

// Connect checks the credentials with the gateway, registers relay24's
// webhook there (with a fresh per-gateway secret in the URL) and stores the
// gateway and its channels, credentials sealed. Connecting the same account
// again replaces its credentials and webhook; its channels and dialogs stay.
func (s *Service) Connect(ctx context.Context, portalID int64, r ConnectRequest) ([]store.Channel, error) {
	gw, ok := s.adapter(r.Provider)
	if !ok {
		return nil, problem.New(problem.Invalid, "bad_provider", "provider must be wazzup or telegram")
	}
	cred, err := gw.Credential(r)
	if err != nil {
		return nil, err
	}
	acct, err := gw.Connect(ctx, cred)
	if err != nil {
		return nil, err
	}
	g, key, secretToken, err := s.prepareGateway(ctx, portalID, gw.Provider(), acct.ID, cred, gw.Traits().WebhookSecret)
	if err != nil {
		return nil, err
	}
	uri := s.o.PublicURL + "/webhooks/" + gw.Provider() + "/" + key
	if err := gw.RegisterWebhook(ctx, cred, uri, secretToken); err != nil {
		_ = s.o.Store.SetGatewayState(context.WithoutCancel(ctx), g.ID, "failed")
		return nil, err
	}
	out := make([]store.Channel, 0, len(acct.Channels))
	for _, ch := range acct.Channels {
		sc := storeChannel(portalID, g, ch)
		if err := s.o.Store.UpsertChannel(ctx, &sc); err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	if err := s.o.Store.SetGatewayState(ctx, g.ID, "active"); err != nil {
		return nil, err
	}
	if err := s.scheduleCRMPush(ctx, portalID, gw.Provider(), g.ID); err != nil {
		return nil, err
	}
	if hasTemplateChannels(gw, out) {
		// WhatsApp Business channels: their templates are fetched now.
		if err := s.scheduleTemplates(ctx, s.o.Store.DB(), portalID, g.ID, s.o.Now()); err != nil {
			return nil, err
		}
	}
	s.o.Log.InfoContext(ctx, "gateway connected", slog.String("provider", gw.Provider()), slog.Int64("portal_id", portalID),
		slog.Int64("gateway_id", g.ID), slog.Int("channels", len(out)))
	return out, nil
}

// prepareGateway finds the portal's gateway of that account or makes one, in
// state "connecting" with a new webhook key; the key is returned in clear
// once, to be registered with the gateway.
func (s *Service) prepareGateway(ctx context.Context, portalID int64, provider, accountID, credential string, withSecret bool) (*store.Gateway, string, string, error) {
	key := randomKey(24)
	secretToken := ""
	if withSecret {
		secretToken = randomKey(24)
	}
	g, err := s.o.Store.GatewayByAccount(ctx, portalID, provider, accountID)
	if err != nil && !problem.Is(err, problem.NotFound) {
		return nil, "", "", err
	}
	if g == nil {
		g = &store.Gateway{PortalID: portalID, Provider: provider, AccountID: accountID, State: "connecting",
			Credentials: []byte{0}, WebhookKey: s.webhookKeyHash(key)}
		if err := s.o.Store.CreateGateway(ctx, g); err != nil {
			return nil, "", "", err
		}
	}
	g.Credentials = s.o.Keys.Seal(credential, credentialsContext(g.ID))
	g.WebhookKey = s.webhookKeyHash(key)
	if withSecret {
		g.WebhookSecret = s.o.Keys.Seal(secretToken, secretContext(g.ID))
	}
	if err := s.o.Store.UpdateGatewaySecrets(ctx, g); err != nil {
		return nil, "", "", err
	}
	return g, key, secretToken, nil
}

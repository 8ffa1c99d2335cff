package relay

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"

	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/telegram"
	"github.com/relay24/relay24/wazzup"
)

// ConnectRequest is what an admin posts to connect a gateway.
type ConnectRequest struct {
	Provider string `json:"provider"`
	APIKey   string `json:"api_key"`
	BotToken string `json:"bot_token"`
}

var botToken = regexp.MustCompile(`^[0-9]{3,20}:[A-Za-z0-9_-]{20,100}$`)

// Connect checks the credentials with the gateway, registers relay24's
// webhook there (with a fresh per-gateway secret in the URL) and stores the
// gateway and its channels, credentials sealed. Connecting the same account
// again replaces its credentials and webhook; its channels and dialogs stay.
func (s *Service) Connect(ctx context.Context, portalID int64, r ConnectRequest) ([]store.Channel, error) {
	switch r.Provider {
	case "wazzup":
		key := strings.TrimSpace(r.APIKey)
		if key == "" || len(key) > 200 || strings.ContainsAny(key, " \t\r\n") {
			return nil, problem.New(problem.Invalid, "bad_api_key", "api_key must be the Wazzup API key")
		}
		return s.connectWazzup(ctx, portalID, key)
	case "telegram":
		tok := strings.TrimSpace(r.BotToken)
		if !botToken.MatchString(tok) {
			return nil, problem.New(problem.Invalid, "bad_bot_token", "bot_token must be a token from @BotFather (digits:letters)")
		}
		return s.connectTelegram(ctx, portalID, tok)
	default:
		return nil, problem.New(problem.Invalid, "bad_provider", "provider must be wazzup or telegram")
	}
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

func (s *Service) connectWazzup(ctx context.Context, portalID int64, apiKey string) ([]store.Channel, error) {
	c := s.wazzup(apiKey)
	chans, err := c.Channels(ctx)
	if err != nil {
		return nil, gatewayProblem(err, "reading the Wazzup channels")
	}
	account := hex.EncodeToString(s.o.Keys.Hash("wazzup_account", apiKey)[:8])
	g, key, _, err := s.prepareGateway(ctx, portalID, "wazzup", account, apiKey, false)
	if err != nil {
		return nil, err
	}
	uri := s.o.PublicURL + "/webhooks/wazzup/" + key
	if err := c.SetWebhooks(ctx, uri, wazzup.Subscriptions{MessagesAndStatuses: true, ChannelsUpdates: true}); err != nil {
		_ = s.o.Store.SetGatewayState(context.WithoutCancel(ctx), g.ID, "failed")
		return nil, gatewayProblem(err, "registering relay24's webhook with Wazzup")
	}
	out := make([]store.Channel, 0, len(chans))
	for _, ch := range chans {
		sc := wazzupChannel(portalID, g.ID, ch)
		if err := s.o.Store.UpsertChannel(ctx, &sc); err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	if err := s.o.Store.SetGatewayState(ctx, g.ID, "active"); err != nil {
		return nil, err
	}
	if err := s.scheduleWazzupCRM(ctx, portalID, g.ID); err != nil {
		return nil, err
	}
	s.o.Log.InfoContext(ctx, "wazzup connected", slog.Int64("portal_id", portalID), slog.Int64("gateway_id", g.ID), slog.Int("channels", len(out)))
	return out, nil
}

func (s *Service) connectTelegram(ctx context.Context, portalID int64, token string) ([]store.Channel, error) {
	c := s.telegram(token)
	me, err := c.GetMe(ctx)
	if err != nil {
		return nil, gatewayProblem(err, "checking the bot token with Telegram")
	}
	g, key, secretToken, err := s.prepareGateway(ctx, portalID, "telegram", strconv.FormatInt(me.ID, 10), token, true)
	if err != nil {
		return nil, err
	}
	uri := s.o.PublicURL + "/webhooks/telegram/" + key
	if err := c.SetWebhook(ctx, uri, secretToken, []string{"message", "edited_message"}); err != nil {
		_ = s.o.Store.SetGatewayState(context.WithoutCancel(ctx), g.ID, "failed")
		return nil, gatewayProblem(err, "registering relay24's webhook with Telegram")
	}
	name := "@" + me.Username
	sc := store.Channel{PortalID: portalID, GatewayID: g.ID, ExternalID: strconv.FormatInt(me.ID, 10), Provider: "telegram",
		Transport: "telegram", Name: name, PlainID: me.Username, State: "active"}
	if err := s.o.Store.UpsertChannel(ctx, &sc); err != nil {
		return nil, err
	}
	if err := s.o.Store.SetGatewayState(ctx, g.ID, "active"); err != nil {
		return nil, err
	}
	s.o.Log.InfoContext(ctx, "telegram bot connected", slog.Int64("portal_id", portalID), slog.String("bot", name))
	return []store.Channel{sc}, nil
}

// wazzupChannel is a channel as the Wazzup account lists it.
func wazzupChannel(portalID, gatewayID int64, ch wazzup.Channel) store.Channel {
	sc := store.Channel{PortalID: portalID, GatewayID: gatewayID, ExternalID: ch.ChannelID, Provider: "wazzup",
		Transport: strings.ToLower(ch.Transport), Name: ch.Name, PlainID: ch.PlainID, State: channelState(ch.State)}
	if sc.Name == "" {
		sc.Name = ch.PlainID
	}
	return sc
}

// channelState keeps Wazzup's word, lower-cased (its docs disagree on case).
func channelState(s string) string {
	if s == "" {
		return "unknown"
	}
	if wazzup.ActiveState(s) {
		return "active"
	}
	return strings.ToLower(s)
}

// gatewayProblem turns a gateway's refusal into what the admin is told.
func gatewayProblem(err error, doing string) error {
	var we *wazzup.Error
	if errors.As(err, &we) {
		if we.Status == 401 || we.Status == 403 {
			return problem.Wrap(err, problem.Invalid, "gateway_rejected_credentials", fmt.Sprintf("%s: Wazzup refused the key (%s)", doing, we.Code))
		}
		if we.Status >= 400 && we.Status < 500 && we.Status != 429 {
			return problem.Wrap(err, problem.Invalid, "gateway_refused", fmt.Sprintf("%s: Wazzup answered %s %s", doing, we.Code, we.Description))
		}
	}
	var te *telegram.Error
	if errors.As(err, &te) {
		if te.Code == 401 || te.Code == 404 {
			return problem.Wrap(err, problem.Invalid, "gateway_rejected_credentials", doing+": Telegram refused the bot token")
		}
		if te.Code >= 400 && te.Code < 500 && te.Code != 429 {
			return problem.Wrap(err, problem.Invalid, "gateway_refused", doing+": Telegram answered "+te.Description)
		}
	}
	return problem.Wrap(err, problem.Unavailable, "gateway_unavailable", doing+": the gateway did not answer properly; try again")
}

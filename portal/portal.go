// Package portal manages the Bitrix24 portals relay24 is installed on: the
// install and uninstall flows, the portal's OAuth tokens (sealed at rest,
// refreshed once under a row lock), its REST clients with their rate limiter,
// and the authentication of portal events and of users opening pages.
package portal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/jobs"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/secret"
	"github.com/relay24/relay24/store"
)

// JobFirstSync is the kind of the job an install enqueues.
const JobFirstSync = "sync.first"

// Options configure the Service.
type Options struct {
	Store     *store.Store
	Keys      *secret.Keys
	OAuth     *bitrix.OAuth
	Jobs      *jobs.Queue
	PublicURL string
	AllowHTTP bool
	// HTTP is the client for portal REST calls (its own timeouts).
	HTTP *http.Client
	// DefaultBurst and DefaultRate are the per-portal REST limit (2/s, burst 50).
	DefaultBurst int
	DefaultRate  float64
	Log          *slog.Logger
	// Observe is passed to every REST client (metrics).
	Observe func(method, outcome string, took time.Duration)
	// ObservePortal, when set, is told of every request too, with the
	// portal it went to (per-portal pacing in the metrics).
	ObservePortal func(portalID int64, method, outcome string, took time.Duration)
	// CommandsPortal, when set, is told how many REST commands each
	// answered request to a portal carried.
	CommandsPortal func(portalID int64, n int)
	// RetryBase shortens REST backoff in tests.
	RetryBase time.Duration
}

// Service is the portal registry.
type Service struct {
	o         Options
	mu        sync.Mutex
	pacers    map[int64]*bitrix.Pacer
	onEvent   EventSink
	registrar Registrar
}

// EventSink is told of every authenticated CRM event after it is recorded
// (the sync fetches the record).
type EventSink func(ctx context.Context, portalID int64, event string, data map[string]any) error

// SetEventSink installs the sink; the sync is built after the portals it uses.
func (s *Service) SetEventSink(f EventSink) { s.onEvent = f }

// New makes the service.
func New(o Options) *Service {
	if o.DefaultBurst == 0 {
		o.DefaultBurst = 50
	}
	if o.DefaultRate == 0 {
		o.DefaultRate = 2
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: 60 * time.Second}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{o: o, pacers: map[int64]*bitrix.Pacer{}}
}

// limiter is the portal's shared REST pacer. The portal's leaky bucket (X
// requests, draining Y per second) admits what a token bucket of burst X
// refilled at Y per second admits; two tokens less absorb the jitter between
// our clock and the portal's, so a paced client never meets the limit. When
// the portal refuses anyway, the pacer pauses and slows every client of the
// portal, not just the one that was refused.
func (s *Service) limiter(p *store.Portal) *bitrix.Pacer {
	s.mu.Lock()
	defer s.mu.Unlock()
	burst, perSec := s.o.DefaultBurst, s.o.DefaultRate
	if p.RateBurst.Valid {
		burst = int(p.RateBurst.Int32)
	}
	if p.RatePerSecond.Valid {
		perSec = p.RatePerSecond.Float64
	}
	burst = max(1, burst-2)
	l, ok := s.pacers[p.ID]
	if !ok {
		l = bitrix.NewPacer(burst, perSec)
		s.pacers[p.ID] = l
	} else {
		l.SetLimits(burst, perSec) // keeps a slow-down unless the stored limits changed
	}
	return l
}

// adoptPacer makes pacer the portal's, unless it has one already.
func (s *Service) adoptPacer(portalID int64, pacer *bitrix.Pacer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.pacers[portalID]; !ok {
		s.pacers[portalID] = pacer
	}
}

// Client is the app's REST client for a portal, with the stored tokens.
func (s *Service) Client(ctx context.Context, portalID int64) (*bitrix.Client, error) {
	p, err := s.o.Store.PortalByID(ctx, portalID)
	if err != nil {
		return nil, err
	}
	if !p.Active() {
		return nil, problem.New(problem.Conflict, "portal_uninstalled", "relay24 is not installed on portal %s", p.Domain)
	}
	return s.clientFor(p, &storedTokens{s: s, portalID: p.ID}), nil
}

func (s *Service) clientFor(p *store.Portal, t bitrix.Tokens) *bitrix.Client {
	observe := s.o.Observe
	if op := s.o.ObservePortal; op != nil {
		id := p.ID
		observe = func(method, outcome string, took time.Duration) {
			if s.o.Observe != nil {
				s.o.Observe(method, outcome, took)
			}
			op(id, method, outcome, took)
		}
	}
	var commands func(int)
	if cp := s.o.CommandsPortal; cp != nil {
		id := p.ID
		commands = func(n int) { cp(id, n) }
	}
	return bitrix.NewClient(bitrix.Options{
		Endpoint:  p.ClientEndpoint,
		Tokens:    t,
		HTTP:      s.o.HTTP,
		Pacer:     s.limiter(p),
		Log:       s.o.Log.With(slog.Int64("portal_id", p.ID)),
		Observe:   observe,
		Commands:  commands,
		BaseDelay: s.o.RetryBase,
	})
}

func accessContext(id int64) string  { return "portal:" + strconv.FormatInt(id, 10) + ":access" }
func refreshContext(id int64) string { return "portal:" + strconv.FormatInt(id, 10) + ":refresh" }

// storedTokens reads and refreshes a portal's tokens in the database.
type storedTokens struct {
	s        *Service
	portalID int64
}

func (t *storedTokens) AccessToken(ctx context.Context) (string, error) {
	p, err := t.s.o.Store.PortalByID(ctx, t.portalID)
	if err != nil {
		return "", err
	}
	if !p.Active() || p.AccessToken == nil {
		return "", problem.New(problem.Conflict, "portal_uninstalled", "relay24 is not installed on portal %s", p.Domain)
	}
	return t.s.o.Keys.Open(p.AccessToken, accessContext(p.ID))
}

// Refresh redeems the refresh token unless another caller already replaced
// the expired access token, all under the portal row's lock: the OAuth server
// rotates refresh tokens, so two refreshes racing with the same refresh token
// would leave one of them holding a dead token.
func (t *storedTokens) Refresh(ctx context.Context, expired string) (string, error) {
	var fresh string
	_, err := t.s.o.Store.RefreshTokens(ctx, t.portalID, func(p *store.Portal) (*store.TokenRefresh, error) {
		if !p.Active() || p.RefreshToken == nil {
			return nil, problem.New(problem.Conflict, "portal_uninstalled", "relay24 is not installed on portal %s", p.Domain)
		}
		current, err := t.s.o.Keys.Open(p.AccessToken, accessContext(p.ID))
		if err != nil {
			return nil, fmt.Errorf("opening access token: %w", err)
		}
		if current != expired {
			fresh = current
			return nil, nil
		}
		rt, err := t.s.o.Keys.Open(p.RefreshToken, refreshContext(p.ID))
		if err != nil {
			return nil, fmt.Errorf("opening refresh token: %w", err)
		}
		g, err := t.s.o.OAuth.Refresh(ctx, rt)
		if err != nil {
			return nil, fmt.Errorf("refreshing tokens of portal %s: %w", p.Domain, err)
		}
		if g.MemberID != p.MemberID {
			return nil, fmt.Errorf("refreshing tokens of portal %s: OAuth server answered for member %s", p.Domain, g.MemberID)
		}
		fresh = g.AccessToken
		t.s.o.Log.InfoContext(ctx, "portal tokens refreshed", slog.Int64("portal_id", p.ID))
		return &store.TokenRefresh{
			AccessToken:  t.s.o.Keys.Seal(g.AccessToken, accessContext(p.ID)),
			RefreshToken: t.s.o.Keys.Seal(g.RefreshToken, refreshContext(p.ID)),
			ExpiresAt:    g.Expiry,
		}, nil
	})
	if err != nil {
		return "", err
	}
	return fresh, nil
}

// staticToken is a user's own token from a page open: it is never refreshed
// (the page gets a new one on every open).
type staticToken string

func (t staticToken) AccessToken(context.Context) (string, error) { return string(t), nil }
func (t staticToken) Refresh(context.Context, string) (string, error) {
	return "", &bitrix.Error{Code: bitrix.CodeExpiredToken, Description: "a page token cannot be refreshed", Status: 401, Method: "refresh"}
}

// checkEndpoint refuses REST endpoints relay24 must not talk to.
func (s *Service) checkEndpoint(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("client_endpoint %q is not an absolute URL", endpoint)
	}
	if u.Scheme == "http" && !s.o.AllowHTTP {
		// An on-premise portal may serve plain http; relay24's tokens and
		// its clients' messages never travel so (B24_ALLOW_HTTP is for tests).
		return "", fmt.Errorf("the portal's REST endpoint %s is plain http: relay24 works only with portals served over https", endpoint)
	}
	return u.Host, nil
}

func (s *Service) placementHandler() string { return s.o.PublicURL + "/b24/placement" }
func (s *Service) eventHandler() string     { return s.o.PublicURL + "/b24/events" }

// classifyRemote turns a failure talking to the portal or the OAuth server
// into the error the caller answers with.
func classifyRemote(err error, doing string) error {
	var pe *problem.Error
	if errors.As(err, &pe) {
		return err
	}
	if bitrix.Revoked(err) || bitrix.HasCode(err, bitrix.CodeExpiredToken, bitrix.CodeInvalidClient, "invalid_request") {
		return problem.Wrap(err, problem.Unauthorized, "portal_auth_rejected", doing+": the portal did not confirm the credentials")
	}
	return problem.Wrap(err, problem.Unavailable, "portal_unavailable", doing+": the portal or its OAuth server did not answer properly; try again")
}

func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// JobError marks, for the job queue, failures that retrying cannot mend: the
// portal revoked the app or refuses the method, or relay24 is no longer
// installed there. The portal's limits (rate, a method's time budget) put
// the job off for as long as the portal will refuse, without spending an
// attempt. Anything else is returned as it is, to be retried.
func JobError(err error) error {
	if bitrix.Revoked(err) || bitrix.HasCode(err, bitrix.CodeAccessDenied, bitrix.CodeInsufficientScope) || problem.Is(err, problem.Conflict) {
		return jobs.Permanent(err)
	}
	if bitrix.HasCode(err, bitrix.CodePacerBusy) {
		d, _ := bitrix.RetryAfter(err)
		return jobs.PortalBusy(d, err)
	}
	if d, limited := bitrix.RetryAfter(err); limited {
		return jobs.RetryAfter(d, err)
	}
	return err
}

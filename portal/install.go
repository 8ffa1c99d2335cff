package portal

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/jobs"
	"github.com/relay24/relay24/placement"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
)

// InstallRequest is what an install POST or ONAPPINSTALL event carried. Only
// RefreshToken is used to learn anything: the rest is checked against what the
// OAuth server answers for it.
type InstallRequest struct {
	Domain           string // DOMAIN / auth[domain], as posted
	MemberID         string // member_id / auth[member_id], as posted
	RefreshToken     string // REFRESH_ID / auth[refresh_token]
	ApplicationToken string // APPLICATION_TOKEN / auth[application_token]; may be empty on older portals
	Lang             string
}

// Install stores a portal confirmed by the OAuth server, binds its placements
// and events (what is missing only) and enqueues the first sync.
//
// Every employee's browser receives his own refresh token from the portal, so
// a token the OAuth server confirms for this member_id proves only "some user
// of this portal". Bitrix24 lets only administrators install applications,
// and an install rewrites what authenticates the portal (its REST user, its
// application token), so the token's owner must be an administrator, asked of
// the portal with that very token before anything is written. The order is:
// redeem the token, check the identity the OAuth server answered, check the
// owner is an administrator, bind with the new token, and only then store the
// portal and its first-sync job in one transaction. A failure anywhere leaves
// the stored portal exactly as it was (the redeemed refresh token belonged to
// the installer; the portal's stored tokens are another user's, or another
// pair, and stay valid), and a repeated install completes.
func (s *Service) Install(ctx context.Context, req InstallRequest) (*store.Portal, error) {
	if strings.TrimSpace(req.MemberID) == "" {
		return nil, problem.New(problem.Invalid, "member_id_missing", "the install request has no member_id")
	}
	if strings.TrimSpace(req.RefreshToken) == "" {
		return nil, problem.New(problem.Invalid, "refresh_token_missing", "the install request has no refresh token")
	}
	g, err := s.o.OAuth.Refresh(ctx, req.RefreshToken)
	if err != nil {
		return nil, classifyRemote(err, "confirming the install")
	}
	host, err := s.checkEndpoint(g.ClientEndpoint)
	if err != nil {
		return nil, problem.Wrap(err, problem.Invalid, "client_endpoint_refused", err.Error())
	}
	if g.MemberID != req.MemberID {
		return nil, problem.New(problem.Unauthorized, "member_id_mismatch",
			"the install names portal %s but its token belongs to another portal", req.MemberID)
	}
	if req.Domain != "" && lower(req.Domain) != lower(host) {
		return nil, problem.New(problem.Unauthorized, "domain_mismatch",
			"the install names domain %s but the portal's token belongs to %s", req.Domain, host)
	}
	existing, err := s.o.Store.PortalByMemberID(ctx, g.MemberID)
	if problem.Is(err, problem.NotFound) {
		existing = nil
	} else if err != nil {
		return nil, fmt.Errorf("reading portal %s before its install: %w", host, err)
	}
	log := s.o.Log.With(slog.String("domain", host))
	if existing != nil {
		log = log.With(slog.Int64("portal_id", existing.ID))
	}
	// Everything up to the commit talks with the installer's new token at the
	// endpoint the OAuth server named; nothing stored is used or changed.
	c := s.installClient(existing, g.ClientEndpoint, g.AccessToken)
	installer, err := fetchUser(ctx, c)
	if err != nil {
		return nil, classifyRemote(err, "checking the installer's rights")
	}
	if g.UserID != 0 && g.UserID != installer.ID {
		return nil, problem.New(problem.Unauthorized, "token_user_mismatch",
			"the portal and its OAuth server disagree about whose token this is")
	}
	if !installer.IsAdmin {
		log.InfoContext(ctx, "install by a non-administrator refused", slog.Int64("user_id", installer.ID))
		return nil, problem.New(problem.Forbidden, "not_portal_admin",
			"only an administrator of the Bitrix24 portal can install or reinstall relay24")
	}
	if err := s.ensureBindings(ctx, c, log); err != nil {
		return nil, classifyRemote(err, "binding placements and events")
	}
	if s.registrar != nil {
		// The robot and triggers, with the same token. The install stands
		// without them (an app registered before it had the bizproc scope
		// is refused them): «Восстановить» registers them and says why not.
		var id int64
		if existing != nil {
			id = existing.ID
		}
		if _, err := s.registrar(ctx, c, Registration{PortalID: id, UserID: installer.ID, Lang: langCode(req.Lang)}); err != nil {
			log.WarnContext(ctx, "automation robot not registered at install", slog.String("error", err.Error()))
		}
	}
	var appHash []byte
	if req.ApplicationToken != "" {
		// Posted with an administrator's confirmed token, so it replaces what
		// was stored (a re-install issues a new one).
		appHash = s.o.Keys.Hash("application_token", req.ApplicationToken)
	}
	p, err := s.o.Store.UpsertInstall(ctx, store.Install{
		MemberID: g.MemberID, Domain: host, ClientEndpoint: g.ClientEndpoint, ServerEndpoint: g.ServerEndpoint,
		Lang: langCode(req.Lang), Scope: g.Scope, LicenseStatus: g.Status, ApplicationTokenHash: appHash,
		AccessToken:    func(id int64) []byte { return s.o.Keys.Seal(g.AccessToken, accessContext(id)) },
		RefreshToken:   func(id int64) []byte { return s.o.Keys.Seal(g.RefreshToken, refreshContext(id)) },
		TokenExpiresAt: g.Expiry, TokenUserID: installer.ID,
		After: func(tx *store.Store, p *store.Portal) error {
			_, err := s.o.Jobs.Enqueue(ctx, tx.Ext(), JobFirstSync, map[string]any{"portal_id": p.ID},
				jobs.Options{PortalID: p.ID, UniqueKey: fmt.Sprintf("%s:%d", JobFirstSync, p.ID)})
			if err != nil {
				return fmt.Errorf("starting the first sync: %w", err)
			}
			return nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("storing the install of %s: %w", host, err)
	}
	// A new portal keeps the pacer the install's requests went through:
	// the portal's bucket counts them, so its first jobs must too.
	s.adoptPacer(p.ID, c.Pacer())
	// The installer's profile, so the settings page knows him before the user
	// sync runs; the install stands without it.
	installer.PortalID = p.ID
	if err := s.o.Store.UpsertUser(ctx, *installer); err != nil {
		log.WarnContext(ctx, "installer's profile not stored", slog.String("error", err.Error()))
	}
	log.InfoContext(ctx, "portal installed", slog.Int64("portal_id", p.ID), slog.String("member_id", p.MemberID),
		slog.Int64("installer", installer.ID))
	return p, nil
}

// installClient is a REST client for a portal being installed: the
// installer's own token at the endpoint the OAuth server answered. A known
// portal shares its limiter (one leaky bucket on the portal's side); a new
// one gets its own until it has an id, and keeps it (adoptPacer).
func (s *Service) installClient(existing *store.Portal, endpoint, accessToken string) *bitrix.Client {
	lim := bitrix.NewPacer(max(1, s.o.DefaultBurst-2), s.o.DefaultRate)
	log := s.o.Log
	if existing != nil {
		lim = s.limiter(existing)
		log = log.With(slog.Int64("portal_id", existing.ID))
	}
	return bitrix.NewClient(bitrix.Options{
		Endpoint:  endpoint,
		Tokens:    staticToken(accessToken),
		HTTP:      s.o.HTTP,
		Pacer:     lim,
		Log:       log,
		Observe:   s.o.Observe,
		BaseDelay: s.o.RetryBase,
	})
}

// Bindings reports which of relay24's placements and events are bound now.
type Bindings struct {
	Placements map[string]bool
	Events     map[string]bool
	Automation []AutomationState // after a repair: the robot and triggers
}

// Missing lists what is not bound.
func (b Bindings) Missing() []string {
	var out []string
	for _, pb := range placement.Bindings {
		if !b.Placements[pb.Placement] {
			out = append(out, pb.Placement)
		}
	}
	for _, e := range placement.Events {
		if !b.Events[e] {
			out = append(out, e)
		}
	}
	return out
}

// readBindings asks the portal what this app has bound, with our handlers,
// in one request.
func (s *Service) readBindings(ctx context.Context, c *bitrix.Client) (Bindings, error) {
	res, err := c.Batch(ctx, []bitrix.Command{
		{Key: "placements", Method: "placement.get"},
		{Key: "events", Method: "event.get"},
	}, true)
	if err != nil {
		return Bindings{}, err
	}
	for _, k := range []string{"placements", "events"} {
		if e := res.Errors[k]; e != nil {
			return Bindings{}, e
		}
	}
	var pls []struct {
		Placement string `json:"placement"`
		Handler   string `json:"handler"`
	}
	var evs []struct {
		Event   string `json:"event"`
		Handler string `json:"handler"`
	}
	if err := json.Unmarshal(res.Result["placements"], &pls); err != nil {
		return Bindings{}, fmt.Errorf("decoding placement.get: %w", err)
	}
	if err := json.Unmarshal(res.Result["events"], &evs); err != nil {
		return Bindings{}, fmt.Errorf("decoding event.get: %w", err)
	}
	b := Bindings{Placements: map[string]bool{}, Events: map[string]bool{}}
	for _, p := range pls {
		if p.Handler == s.placementHandler() {
			b.Placements[strings.ToUpper(p.Placement)] = true
		}
	}
	for _, e := range evs {
		if e.Handler == s.eventHandler() {
			b.Events[strings.ToUpper(e.Event)] = true
		}
	}
	return b, nil
}

// ensureBindings looks before binding, so a re-install or a repair binds only
// what is missing: one request to look, one batch to bind.
func (s *Service) ensureBindings(ctx context.Context, c *bitrix.Client, log *slog.Logger) error {
	have, err := s.readBindings(ctx, c)
	if err != nil {
		return err
	}
	var cmds []bitrix.Command
	for _, pb := range placement.Bindings {
		if !have.Placements[pb.Placement] {
			cmds = append(cmds, bitrix.Command{Key: "p_" + pb.Placement, Method: "placement.bind", Params: pb.Params(s.placementHandler())})
		}
	}
	for _, e := range placement.Events {
		if !have.Events[e] {
			cmds = append(cmds, bitrix.Command{Key: "e_" + e, Method: "event.bind", Params: bitrix.Params{"event": e, "handler": s.eventHandler()}})
		}
	}
	if len(cmds) == 0 {
		return nil
	}
	res, err := c.Batch(ctx, cmds, false)
	if err != nil {
		return err
	}
	for _, cmd := range cmds {
		if e := res.Errors[cmd.Key]; e != nil {
			// Bound meanwhile by a concurrent install ("ERROR_CORE: Unable to set
			// event handler: Handler already binded"): the state we want.
			if strings.Contains(strings.ToLower(e.Code+" "+e.Description), "already") {
				continue
			}
			return fmt.Errorf("%s %s: %w", cmd.Method, cmd.Key, e)
		}
	}
	log.InfoContext(ctx, "bound placements and events", slog.Int("count", len(cmds)))
	return nil
}

// Repair re-binds whatever of relay24's placements and events is missing.
func (s *Service) Repair(ctx context.Context, portalID int64) (Bindings, error) {
	c, err := s.Client(ctx, portalID)
	if err != nil {
		return Bindings{}, err
	}
	if err := s.ensureBindings(ctx, c, s.o.Log.With(slog.Int64("portal_id", portalID))); err != nil {
		return Bindings{}, classifyRemote(err, "repairing bindings")
	}
	var auto []AutomationState
	if s.registrar != nil {
		p, err := s.o.Store.PortalByID(ctx, portalID)
		if err != nil {
			return Bindings{}, err
		}
		// Each item's state is the answer; one that failed (the app lacks
		// the bizproc scope, the portal refused) does not undo the rest.
		if auto, err = s.registrar(ctx, c, Registration{PortalID: portalID, UserID: p.TokenUserID.Int64, Lang: p.Lang}); err != nil {
			s.o.Log.WarnContext(ctx, "automation not fully repaired", slog.Int64("portal_id", portalID), slog.String("error", err.Error()))
			if len(auto) == 0 {
				return Bindings{}, err
			}
		}
	}
	b, err := s.readBindings(ctx, c)
	if err != nil {
		return Bindings{}, classifyRemote(err, "reading bindings")
	}
	b.Automation = auto
	return b, nil
}

// BindingsOf reads the current bindings of a portal.
func (s *Service) BindingsOf(ctx context.Context, portalID int64) (Bindings, error) {
	c, err := s.Client(ctx, portalID)
	if err != nil {
		return Bindings{}, err
	}
	b, err := s.readBindings(ctx, c)
	if err != nil {
		return Bindings{}, classifyRemote(err, "reading bindings")
	}
	return b, nil
}

// Registration is what a Registrar is told of the portal it registers on.
type Registration struct {
	PortalID int64 // 0: a portal being installed for the first time
	UserID   int64 // the administrator whose token registers
	Lang     string
}

// Registrar registers what relay24 adds to a portal beyond placements and
// events (the automation robot and triggers) with c, at install and on
// repair; it must look before it adds, like the bindings.
type Registrar func(ctx context.Context, c *bitrix.Client, r Registration) ([]AutomationState, error)

// AutomationState is one robot or trigger after a registration.
type AutomationState struct {
	Kind   string `json:"kind"`  // robot, trigger
	Code   string `json:"code"`  // its CODE on the portal
	State  string `json:"state"` // registered (was there), repaired (added now), failed
	Reason string `json:"reason,omitempty"`
}

// SetRegistrar installs the registrar; automation is built after the portals.
func (s *Service) SetRegistrar(f Registrar) { s.registrar = f }

// AuthenticateApp finds the installed portal of memberID whose stored
// application token is appToken (a call the portal makes on its own, like
// an event or a robot's). Anything else is Unauthorized.
func (s *Service) AuthenticateApp(ctx context.Context, memberID, appToken string) (*store.Portal, error) {
	if memberID == "" || appToken == "" {
		return nil, problem.New(problem.Unauthorized, "wrong_application_token", "the call names no portal or carries no application token")
	}
	p, err := s.o.Store.PortalByMemberID(ctx, memberID)
	if problem.Is(err, problem.NotFound) {
		return nil, problem.New(problem.Unauthorized, "unknown_portal", "the call comes from a portal relay24 does not know")
	}
	if err != nil {
		return nil, err
	}
	if !secretEqual(s.o.Keys.Hash("application_token", appToken), p.ApplicationTokenHash) {
		return nil, problem.New(problem.Unauthorized, "wrong_application_token", "the call's application token does not match the portal's")
	}
	if !p.Active() {
		return nil, problem.New(problem.Unauthorized, "portal_uninstalled", "relay24 is not installed on this portal")
	}
	return p, nil
}

// Event is an authenticated portal event.
type Event struct {
	Name   string
	Portal *store.Portal
	Data   map[string]any
	Form   map[string]any
}

// HandleEvent authenticates a form-encoded portal event and acts on it:
// ONAPPINSTALL installs, ONAPPUNINSTALL uninstalls, others are recorded for
// the sync. An unknown portal or a wrong application token is Unauthorized and
// changes nothing.
func (s *Service) HandleEvent(ctx context.Context, form map[string]any) (*Event, error) {
	name := strings.ToUpper(str(form["event"]))
	auth, _ := form["auth"].(map[string]any)
	if name == "" || auth == nil {
		return nil, problem.New(problem.Invalid, "malformed_event", "the event has no event name or auth")
	}
	memberID := str(auth["member_id"])
	appToken := str(auth["application_token"])
	data, _ := form["data"].(map[string]any)
	if memberID == "" {
		return nil, problem.New(problem.Unauthorized, "unknown_portal", "the event names no portal")
	}
	if name == "ONAPPINSTALL" {
		return s.installEvent(ctx, form, auth, data)
	}
	p, err := s.o.Store.PortalByMemberID(ctx, memberID)
	if problem.Is(err, problem.NotFound) {
		return nil, problem.New(problem.Unauthorized, "unknown_portal", "the event comes from a portal relay24 does not know")
	}
	if err != nil {
		return nil, err
	}
	if appToken == "" || !secretEqual(s.o.Keys.Hash("application_token", appToken), p.ApplicationTokenHash) {
		return nil, problem.New(problem.Unauthorized, "wrong_application_token", "the event's application token does not match the portal's")
	}
	ev := &Event{Name: name, Portal: p, Data: data, Form: form}
	if name == "ONAPPUNINSTALL" {
		clean := str(data["CLEAN"]) == "1" || strings.EqualFold(str(data["CLEAN"]), "Y")
		if err := s.o.Store.Uninstall(ctx, p.ID, clean); err != nil {
			return nil, err
		}
		s.o.Log.InfoContext(ctx, "portal uninstalled", slog.Int64("portal_id", p.ID), slog.Bool("clean", clean))
		return ev, nil
	}
	if !p.Active() {
		return nil, problem.New(problem.Unauthorized, "portal_uninstalled", "relay24 is not installed on this portal")
	}
	if _, err := s.o.Store.RecordEvent(ctx, p.ID, name, form); err != nil {
		return nil, err
	}
	if s.onEvent != nil {
		if err := s.onEvent(ctx, p.ID, name, data); err != nil {
			return nil, err
		}
	}
	return ev, nil
}

// installEvent handles ONAPPINSTALL. The documented event carries the
// installing administrator's refresh token (bitrix24.md §a.3), and with it
// the event is a full install under Install's rules. Without one nothing in it
// can be proved: its application token is whatever the sender chose, and
// storing it even "only when none is stored yet" would hand the events of a
// portal installed by an older portal's installer (which posts no
// APPLICATION_TOKEN) to anyone who knows its member_id. So it is refused and
// changes nothing; an administrator's install completes such a portal.
func (s *Service) installEvent(ctx context.Context, form, auth, data map[string]any) (*Event, error) {
	req := InstallRequest{
		Domain: str(auth["domain"]), MemberID: str(auth["member_id"]), RefreshToken: str(auth["refresh_token"]),
		ApplicationToken: str(auth["application_token"]), Lang: str(data["LANGUAGE_ID"]),
	}
	if req.RefreshToken == "" {
		return nil, problem.New(problem.Unauthorized, "install_unproven",
			"ONAPPINSTALL without a refresh token proves nothing; install relay24 from the portal")
	}
	p, err := s.Install(ctx, req)
	if err != nil {
		return nil, err
	}
	return &Event{Name: "ONAPPINSTALL", Portal: p, Data: data, Form: form}, nil
}

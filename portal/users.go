package portal

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/lib/pq"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/secret"
	"github.com/relay24/relay24/store"
)

// portalUser is user.current's answer (IDs as strings, departments as ints).
type portalUser struct {
	ID          flexInt   `json:"ID"`
	Name        string    `json:"NAME"`
	LastName    string    `json:"LAST_NAME"`
	Email       string    `json:"EMAIL"`
	Active      flexBool  `json:"ACTIVE"`
	Departments []flexInt `json:"UF_DEPARTMENT"`
}

// fetchUser asks who owns the client's token and whether he is an admin, in
// one request.
func fetchUser(ctx context.Context, c *bitrix.Client) (*store.User, error) {
	res, err := c.Batch(ctx, []bitrix.Command{
		{Key: "me", Method: "user.current"},
		{Key: "admin", Method: "user.admin"},
	}, true)
	if err != nil {
		return nil, err
	}
	for _, k := range []string{"me", "admin"} {
		if e := res.Errors[k]; e != nil {
			return nil, e
		}
	}
	var u portalUser
	if err := json.Unmarshal(res.Result["me"], &u); err != nil {
		return nil, fmt.Errorf("decoding user.current: %w", err)
	}
	if u.ID <= 0 {
		return nil, fmt.Errorf("user.current answered no user ID")
	}
	var admin flexBool
	if err := json.Unmarshal(res.Result["admin"], &admin); err != nil {
		return nil, fmt.Errorf("decoding user.admin: %w", err)
	}
	deps := make(pq.Int64Array, 0, len(u.Departments))
	for _, d := range u.Departments {
		deps = append(deps, int64(d))
	}
	name := strings.TrimSpace(u.Name + " " + u.LastName)
	if name == "" {
		name = u.Email
	}
	return &store.User{ID: int64(u.ID), Name: name, IsAdmin: bool(admin), Active: true, Departments: deps}, nil
}

// PageAuth is what a page open from the portal carried.
type PageAuth struct {
	MemberID string // member_id as posted
	AuthID   string // AUTH_ID: the user's access token
	Lang     string
}

// AuthenticatePage proves who opened a page: the posted AUTH_ID is checked
// against the portal's own REST endpoint as stored at install (never the
// posted DOMAIN), so only a token that portal issued passes.
func (s *Service) AuthenticatePage(ctx context.Context, a PageAuth) (*store.Portal, *store.User, error) {
	if a.MemberID == "" || a.AuthID == "" {
		return nil, nil, problem.New(problem.Invalid, "auth_missing", "the page request has no member_id or AUTH_ID")
	}
	p, err := s.o.Store.PortalByMemberID(ctx, a.MemberID)
	if problem.Is(err, problem.NotFound) {
		return nil, nil, problem.New(problem.Unauthorized, "unknown_portal", "relay24 is not installed on this portal")
	}
	if err != nil {
		return nil, nil, err
	}
	if !p.Active() {
		return nil, nil, problem.New(problem.Unauthorized, "portal_uninstalled", "relay24 is not installed on this portal")
	}
	u, err := fetchUser(ctx, s.clientFor(p, staticToken(a.AuthID)))
	if err != nil {
		return nil, nil, classifyRemote(err, "checking the user's authorization")
	}
	u.PortalID = p.ID
	u.Lang = langCode(a.Lang)
	if err := s.o.Store.UpsertUser(ctx, *u); err != nil {
		return nil, nil, err
	}
	return p, u, nil
}

// AuthorizeURL starts the standalone login on the portal at domain.
func (s *Service) AuthorizeURL(ctx context.Context, domain, state string) (string, error) {
	p, err := s.o.Store.PortalByDomain(ctx, domain)
	if problem.Is(err, problem.NotFound) || (err == nil && !p.Active()) {
		return "", problem.New(problem.NotFound, "unknown_portal", "relay24 is not installed on %s", domain)
	}
	if err != nil {
		return "", err
	}
	base := strings.TrimSuffix(strings.TrimSuffix(p.ClientEndpoint, "/"), "/rest")
	return s.o.OAuth.AuthorizeURL(base, state), nil
}

// FinishLogin redeems an authorization code and returns the user it belongs
// to; memberID is what the state said the login was started for.
func (s *Service) FinishLogin(ctx context.Context, code, memberID string) (*store.Portal, *store.User, error) {
	g, err := s.o.OAuth.Exchange(ctx, code)
	if err != nil {
		return nil, nil, classifyRemote(err, "finishing the login")
	}
	if g.MemberID != memberID {
		return nil, nil, problem.New(problem.Unauthorized, "member_id_mismatch", "the login was answered for another portal")
	}
	p, err := s.o.Store.PortalByMemberID(ctx, g.MemberID)
	if err != nil {
		return nil, nil, err
	}
	if !p.Active() {
		return nil, nil, problem.New(problem.Unauthorized, "portal_uninstalled", "relay24 is not installed on this portal")
	}
	u, err := fetchUser(ctx, s.clientFor(p, staticToken(g.AccessToken)))
	if err != nil {
		return nil, nil, classifyRemote(err, "reading the user")
	}
	u.PortalID = p.ID
	if err := s.o.Store.UpsertUser(ctx, *u); err != nil {
		return nil, nil, err
	}
	return p, u, nil
}

// langCode is a posted language id (LANG, data[LANGUAGE_ID]) as stored:
// Bitrix24's ids are a few Latin letters ("ru", "en", "tc"); anything else
// is dropped rather than stored (an empty one keeps what is stored).
func langCode(s string) string {
	s = lower(s)
	if len(s) < 2 || len(s) > 8 {
		return ""
	}
	for _, r := range s {
		if r < 'a' || r > 'z' {
			return ""
		}
	}
	return s
}

func secretEqual(a, b []byte) bool { return secret.Equal(a, b) }

func str(v any) string {
	switch t := v.(type) {
	case string:
		return strings.TrimSpace(t)
	case nil:
		return ""
	default:
		return strings.TrimSpace(fmt.Sprint(t))
	}
}

// flexInt accepts 5 and "5": the portal sends IDs either way.
type flexInt = bitrix.Int

// flexBool accepts true, "Y", "1".
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	switch strings.ToUpper(strings.Trim(string(b), `"`)) {
	case "TRUE", "Y", "1":
		*f = true
	default:
		*f = false
	}
	return nil
}

package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/relay24/relay24/placement"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/session"
	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/web"
)

// cookieName is the standalone session cookie (first-party, outside Bitrix24).
const cookieName = "relay24_session"

// Caller is the authenticated user of an API request.
type Caller struct {
	Session session.Session
	Portal  *store.Portal
	User    *store.User
}

const callerKey = "relay24.caller"

func caller(c echo.Context) *Caller { return c.Get(callerKey).(*Caller) }

// authenticate accepts the session as a Bearer token, as ?session= (only on
// the event stream, which cannot set headers) or as the standalone cookie, and
// checks on every request that the portal is still installed and the user
// known. A browser attaches the cookie to any site's request, so a write that
// rests on the cookie must come from relay24's own pages (sameOrigin).
func (h *Handlers) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		token := ""
		if a := r.Header.Get("Authorization"); a != "" {
			scheme, rest, ok := strings.Cut(a, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") {
				return problem.New(problem.Unauthorized, "bad_authorization", "use Authorization: Bearer <session>")
			}
			token = strings.TrimSpace(rest)
		} else if s := c.QueryParam("session"); s != "" {
			// A token in a URL ends up in logs and histories: only the event
			// stream, which has no other way, may carry it so.
			if r.Method != http.MethodGet || c.Path() != eventStreamPath {
				return problem.New(problem.Unauthorized, "session_in_url", "?session= is accepted only by the event stream; use Authorization: Bearer <session>")
			}
			token = s
		} else if ck, err := c.Cookie(cookieName); err == nil {
			if !safeMethod(r.Method) && !h.sameOrigin(r) {
				return problem.New(problem.Forbidden, "cross_origin", "a cookie session writes only from relay24's own pages")
			}
			token = ck.Value
		}
		if token == "" {
			return problem.New(problem.Unauthorized, "no_session", "no session: open relay24 from Bitrix24 or log in")
		}
		ss, err := h.Sessions.Parse(token)
		if err != nil {
			return problem.Wrap(err, problem.Unauthorized, "bad_session", "the session is invalid or expired; reopen relay24")
		}
		p, u, err := h.sessionSubjects(c.Request().Context(), ss)
		if err != nil {
			return err
		}
		if !u.Active {
			return problem.New(problem.Unauthorized, "user_deactivated", "the user is deactivated in Bitrix24")
		}
		c.Set(callerKey, &Caller{Session: ss, Portal: p, User: u})
		return next(c)
	}
}

// eventStreamPath is the one route that takes the session from the URL.
const eventStreamPath = "/api/v1/events"

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sameOrigin tells whether a browser sent r from relay24's own origin: by
// Sec-Fetch-Site where the browser sends it, else by Origin (every browser
// sends one on a cross-origin write). A request with neither is refused: it
// is no page of ours.
func (h *Handlers) sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" {
		return s == "same-origin"
	}
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return false
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	if pu, err := url.Parse(h.PublicURL); err == nil && u.Scheme == pu.Scheme && strings.EqualFold(u.Host, pu.Host) {
		return true
	}
	// Behind a proxy the public URL may differ from the host the browser used.
	return strings.EqualFold(u.Host, r.Host)
}

// login starts the standalone authorization-code flow on a portal.
func (h *Handlers) login(c echo.Context) error {
	domain := strings.TrimSpace(c.QueryParam("portal"))
	lang := web.Lang(c.QueryParam("lang"))
	if domain == "" {
		return h.page(c, http.StatusOK, "login.html", map[string]any{"Lang": lang, "T": web.T(lang)})
	}
	domain = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(domain, "https://"), "http://"), "/")
	p, err := h.Store.PortalByDomain(c.Request().Context(), domain)
	if err != nil || !p.Active() {
		return problem.New(problem.NotFound, "unknown_portal", "relay24 is not installed on %s", domain)
	}
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	n := hex.EncodeToString(nonce)
	// The nonce also goes into a short-lived cookie: a state replayed into
	// another browser does not log that browser in.
	c.SetCookie(&http.Cookie{Name: "relay24_login", Value: n, Path: "/oauth/callback", HttpOnly: true,
		Secure: strings.HasPrefix(h.PublicURL, "https://"), SameSite: http.SameSiteLaxMode, MaxAge: 600})
	target, err := h.Portals.AuthorizeURL(c.Request().Context(), domain, h.Sessions.IssueState(p.MemberID, n))
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusFound, target)
}

// oauthCallback ends the standalone login with a first-party session cookie.
func (h *Handlers) oauthCallback(c echo.Context) error {
	st, err := h.Sessions.ParseState(c.QueryParam("state"))
	if err != nil {
		return problem.Wrap(err, problem.Unauthorized, "bad_state", "the login link is invalid or expired; start again")
	}
	ck, err := c.Cookie("relay24_login")
	if err != nil || ck.Value != st.Nonce {
		return problem.New(problem.Unauthorized, "bad_state", "the login was started in another browser; start again")
	}
	code := c.QueryParam("code")
	if code == "" {
		return problem.New(problem.Invalid, "code_missing", "the portal sent no authorization code")
	}
	p, u, err := h.Portals.FinishLogin(c.Request().Context(), code, st.MemberID)
	if err != nil {
		return err
	}
	token, ss := h.Sessions.Issue(p.ID, u.ID)
	secure := strings.HasPrefix(h.PublicURL, "https://")
	c.SetCookie(&http.Cookie{Name: "relay24_login", Path: "/oauth/callback", MaxAge: -1})
	c.SetCookie(&http.Cookie{Name: cookieName, Value: token, Path: "/", HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteLaxMode, Expires: ss.Expires})
	return c.Redirect(http.StatusFound, "/app")
}

// standaloneApp is the general chat outside Bitrix24 (the "personal cabinet").
func (h *Handlers) standaloneApp(c echo.Context) error {
	lang := web.Lang(c.QueryParam("lang"))
	ck, err := c.Cookie(cookieName)
	if err != nil {
		return c.Redirect(http.StatusFound, "/login")
	}
	ss, err := h.Sessions.Parse(ck.Value)
	if err != nil {
		return c.Redirect(http.StatusFound, "/login")
	}
	ctx := c.Request().Context()
	p, err := h.Store.PortalByID(ctx, ss.PortalID)
	if err != nil || !p.Active() {
		return c.Redirect(http.StatusFound, "/login")
	}
	u, err := h.Store.UserByID(ctx, p.ID, ss.UserID)
	if err != nil {
		return c.Redirect(http.StatusFound, "/login")
	}
	if c.QueryParam("lang") == "" {
		lang = web.Lang(u.Lang)
	}
	// Re-issue so the page's token lives as long as a fresh session.
	return h.chatPage(c, p, u, placement.Target{Placement: placement.Default}, lang)
}

// subjects caches a session's portal and user for a moment: a chat page
// makes several API calls a second. An uninstall through this instance
// clears it at once; elsewhere it applies within subjectsTTL.
type subjects struct {
	p  *store.Portal
	u  *store.User
	at time.Time
}

const subjectsTTL = 2 * time.Second

func (h *Handlers) sessionSubjects(ctx context.Context, ss session.Session) (*store.Portal, *store.User, error) {
	key := [2]int64{ss.PortalID, ss.UserID}
	if v, ok := h.subjects.Load(key); ok {
		if s := v.(subjects); time.Since(s.at) < subjectsTTL {
			return s.p, s.u, nil
		}
	}
	p, err := h.Store.PortalByID(ctx, ss.PortalID)
	if err != nil || !p.Active() {
		return nil, nil, problem.New(problem.Unauthorized, "portal_uninstalled", "relay24 is no longer installed on this portal")
	}
	u, err := h.Store.UserByID(ctx, p.ID, ss.UserID)
	if err != nil {
		return nil, nil, problem.New(problem.Unauthorized, "unknown_user", "the session's user is unknown")
	}
	h.subjects.Store(key, subjects{p: p, u: u, at: time.Now()})
	return p, u, nil
}

// forgetPortal drops cached sessions of a portal (uninstall, rule changes).
func (h *Handlers) forgetPortal(portalID int64) {
	h.subjects.Range(func(k, _ any) bool {
		if k.([2]int64)[0] == portalID {
			h.subjects.Delete(k)
		}
		return true
	})
}

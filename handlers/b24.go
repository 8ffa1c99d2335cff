package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/placement"
	"github.com/relay24/relay24/portal"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/web"
)

// parseForm reads the portal's form body (the query string carries DOMAIN,
// PROTOCOL, LANG, APP_SID) and decodes bracketed keys. Text that is not valid
// UTF-8 or holds NUL, in the body or the query, is refused here, before any
// of it reaches the OAuth server, the portal or the database.
func parseForm(c echo.Context) (map[string]any, error) {
	r := c.Request()
	if err := r.ParseForm(); err != nil {
		if _, ok := err.(*http.MaxBytesError); ok {
			return nil, err
		}
		return nil, problem.Wrap(err, problem.Invalid, "malformed_form", "the request body is not a valid form")
	}
	// r.Form is the query and the body together.
	if err := bitrix.CheckFormText(r.Form); err != nil {
		return nil, problem.Wrap(err, problem.Invalid, "malformed_form", err.Error())
	}
	form, err := bitrix.DecodeForm(r.PostForm)
	if err != nil {
		return nil, problem.Wrap(err, problem.Invalid, "malformed_form", err.Error())
	}
	return form, nil
}

func formString(form map[string]any, key string) string {
	s, _ := form[key].(string)
	return s
}

// install is the app's install handler: the installer POST (a page the admin
// sees, which must call BX24.installFinish) or the ONAPPINSTALL event.
func (h *Handlers) install(c echo.Context) error {
	form, err := parseForm(c)
	if err != nil {
		return err
	}
	if formString(form, "event") != "" {
		return h.handleEvent(c, form)
	}
	lang := web.Lang(c.QueryParam("LANG"))
	if pl := formString(form, "PLACEMENT"); pl != "" && pl != placement.Default {
		return problem.New(problem.Invalid, "wrong_placement", "the install handler expects PLACEMENT=DEFAULT, got %s", pl)
	}
	_, err = h.Portals.Install(c.Request().Context(), portal.InstallRequest{
		Domain:           c.QueryParam("DOMAIN"),
		MemberID:         formString(form, "member_id"),
		RefreshToken:     formString(form, "REFRESH_ID"),
		ApplicationToken: formString(form, "APPLICATION_TOKEN"),
		Lang:             c.QueryParam("LANG"),
	})
	if err != nil {
		// The admin sees why, and that opening the app again retries.
		status, _, message := h.classify(err)
		if status >= 500 {
			h.Log.ErrorContext(c.Request().Context(), "install failed", "error", err.Error())
		} else {
			h.Log.InfoContext(c.Request().Context(), "install refused", "error", err.Error())
		}
		return h.page(c, status, "install.html", map[string]any{"Lang": lang, "T": web.T(lang), "Error": message})
	}
	return h.page(c, http.StatusOK, "install.html", map[string]any{"Lang": lang, "T": web.T(lang)})
}

// events receives every bound portal event (the portal never retries).
func (h *Handlers) events(c echo.Context) error {
	form, err := parseForm(c)
	if err != nil {
		return err
	}
	return h.handleEvent(c, form)
}

func (h *Handlers) handleEvent(c echo.Context, form map[string]any) error {
	ev, err := h.Portals.HandleEvent(c.Request().Context(), form)
	if err != nil {
		return err
	}
	if ev.Name == "ONAPPUNINSTALL" {
		h.forgetPortal(ev.Portal.ID)
		h.Relay.ForgetPortal(ev.Portal.ID) // its webhooks are refused from now on
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "success"})
}

// appPage is the app opened from the portal's Applications menu.
func (h *Handlers) appPage(c echo.Context) error {
	return h.portalPage(c, true)
}

// placementPage is every placement relay24 binds.
func (h *Handlers) placementPage(c echo.Context) error {
	return h.portalPage(c, false)
}

func (h *Handlers) portalPage(c echo.Context, app bool) error {
	form, err := parseForm(c)
	if err != nil {
		return err
	}
	code := formString(form, "PLACEMENT")
	if app && code == "" {
		code = placement.Default
	}
	// Validate what is posted before asking the portal anything.
	target, err := placement.Parse(code, formString(form, "PLACEMENT_OPTIONS"))
	if err != nil {
		return problem.Wrap(err, problem.Invalid, "bad_placement", err.Error())
	}
	if app && target.Placement != placement.Default {
		return problem.New(problem.Invalid, "bad_placement", "the app page expects PLACEMENT=DEFAULT")
	}
	p, u, err := h.Portals.AuthenticatePage(c.Request().Context(), portal.PageAuth{
		MemberID: formString(form, "member_id"), AuthID: formString(form, "AUTH_ID"), Lang: c.QueryParam("LANG"),
	})
	if err != nil {
		return err
	}
	return h.chatPage(c, p, u, target, web.Lang(c.QueryParam("LANG")))
}

func (h *Handlers) chatPage(c echo.Context, p *store.Portal, u *store.User, target placement.Target, lang string) error {
	token, _ := h.Sessions.Issue(p.ID, u.ID)
	return h.page(c, http.StatusOK, "chat.html", map[string]any{
		"Lang": lang, "T": web.T(lang), "Session": token, "Target": target,
		"UserName": u.Name, "Domain": p.Domain,
	}, portalOrigin(p))
}

// Package handlers holds relay24's thin Echo handlers: bind, validate, call
// the domain, answer. Errors travel as problem.Error and are turned into
// statuses in one place (ErrorHandler).
package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/relay24/relay24/access"
	"github.com/relay24/relay24/automation"
	"github.com/relay24/relay24/crmsync"
	"github.com/relay24/relay24/filestore"
	"github.com/relay24/relay24/linkpreview"
	"github.com/relay24/relay24/portal"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/relay"
	"github.com/relay24/relay24/session"
	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/stream"
	"github.com/relay24/relay24/web"
)

// Handlers are relay24's HTTP endpoints with their dependencies.
type Handlers struct {
	Store   *store.Store
	Portals *portal.Service
	Sync    *crmsync.Syncer
	Relay   *relay.Service
	// Automation is the robot and the triggers (nil: /b24/robot is 404).
	Automation *automation.Service
	Files      filestore.Storage
	Access     *access.Rules
	Stream     *stream.Hub
	Links      *linkpreview.Service
	Sessions   *session.Signer
	Web        *web.Assets
	Log        *slog.Logger
	PublicURL  string
	Metrics    http.Handler
	// Ready checks what /readyz reports on (the database).
	Ready func(ctx context.Context) error

	subjects sync.Map // [portal, user] → subjects (see sessionSubjects)
}

// MaxBody is the largest request body accepted anywhere (the portal's forms
// and the gateways' JSON are a few kilobytes).
const MaxBody = 1 << 20

// Register mounts every route on e.
func (h *Handlers) Register(e *echo.Echo) {
	e.HTTPErrorHandler = h.ErrorHandler
	e.Use(limitBody(MaxBody))

	e.GET("/healthz", h.healthz)
	e.GET("/readyz", h.readyz)
	if h.Metrics != nil {
		e.GET("/metrics", echo.WrapHandler(h.Metrics))
	}
	e.GET("/static/*", echo.WrapHandler(h.Web.Static()))

	e.POST("/b24/install", h.install)
	e.POST("/b24/events", h.events)
	e.POST("/b24/app", h.appPage)
	e.POST("/b24/placement", h.placementPage)
	e.POST("/b24/robot", h.robot)

	e.POST("/webhooks/wazzup/:key", h.wazzupWebhook)
	e.POST("/webhooks/telegram/:key", h.telegramWebhook)

	e.GET("/login", h.login)
	e.GET("/oauth/callback", h.oauthCallback)
	e.GET("/app", h.standaloneApp)
	e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusFound, "/app") })

	// Files are fetched with a signed link instead of a session (an <img> in
	// the portal's iframe has neither cookie nor header): outside the group.
	e.GET("/api/v1/messages/:id/attachments/:n", h.attachment)
	// Uploaded files for a gateway that fetches them (Wazzup's contentUri):
	// signed, short-lived, no session.
	e.GET("/files/:id/:name", h.publicFile)
	e.GET("/files/:id", h.publicFile)
	// A link preview's picture, proxied: signed, no session (an <img>).
	e.GET(linkPreviewImagePath, h.linkPreviewImage)

	api := e.Group("/api/v1", h.authenticate)
	api.GET("/me", h.me)
	api.GET("/me/preferences", h.preferences)
	api.PUT("/me/preferences", h.savePreferences)
	api.GET("/sync", h.syncProgress, h.adminOnly)
	api.GET("/dialogs", h.dialogs)
	api.GET("/search", h.search)
	api.GET("/link-preview", h.linkPreview)
	api.POST("/dialogs", h.createDialog)
	api.GET("/dialogs/:id", h.dialog)
	api.GET("/dialogs/:id/messages", h.history)
	api.POST("/dialogs/:id/messages", h.send)
	api.GET("/dialogs/:id/templates", h.dialogTemplates)
	api.GET("/messages/:id", h.message)
	api.POST("/messages/:id/retry", h.retryMessage)
	api.POST("/files", h.uploadFile)
	api.POST("/dialogs/:id/no-reply-needed", h.noReplyNeeded)
	api.GET("/contacts/:id/messages", h.contactMessages)
	api.GET("/channels", h.channels)
	api.GET("/quick-replies", h.quickReplies)
	api.POST("/quick-replies", h.createQuickReply)
	api.PUT("/quick-replies/:id", h.updateQuickReply)
	api.DELETE("/quick-replies/:id", h.deleteQuickReply)
	api.GET("/events", h.eventStream)
	api.POST("/channels", h.connectChannel, h.adminOnly)
	api.DELETE("/channels/:id", h.disconnectChannel, h.adminOnly)
	api.GET("/settings", h.getSettings, h.adminOnly)
	api.PUT("/settings", h.putSettings, h.adminOnly)
	api.POST("/settings/repair", h.repairPlacements, h.adminOnly)
	api.GET("/users", h.users, h.adminOnly)
	api.GET("/access/:user_id", h.getAccess, h.adminOnly)
	api.PUT("/access/:user_id", h.putAccess, h.adminOnly)
}

// limitBody refuses bodies over n bytes with 413, before anything parses them.
func limitBody(n int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if c.Path() == uploadPath && r.Method == http.MethodPost {
				return next(c) // the upload sets its own, larger cap
			}
			if r.ContentLength > n {
				return problem.New(problem.TooLarge, "body_too_large", "the request body is over %d bytes", n)
			}
			r.Body = http.MaxBytesReader(c.Response(), r.Body, n)
			return next(c)
		}
	}
}

// ErrorHandler maps errors to statuses: JSON for the API and the callers that
// are programs, an HTML page for pages a person sees. Only internal errors are
// logged as errors; the rest are the caller's mistakes.
func (h *Handlers) ErrorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, reason, message := h.classify(err)
	log := h.Log.With(slog.String("path", c.Path()), slog.Int("status", status), slog.String("code", reason))
	if status >= 500 {
		log.ErrorContext(c.Request().Context(), "request failed", slog.String("error", err.Error()))
	} else {
		log.InfoContext(c.Request().Context(), "request refused", slog.String("error", err.Error()))
	}
	if wantsHTML(c) {
		lang := h.pageLang(c)
		t := web.T(lang)
		title, generic := t.BadRequest, "invalid"
		switch {
		case status == http.StatusUnauthorized:
			title, generic = t.AccessDenied, "unauthorized"
		case status == http.StatusForbidden:
			title, generic = t.AccessDenied, "forbidden"
		case status == http.StatusNotFound:
			title, generic = t.NotFound, "not_found"
		case status >= 500:
			title, generic = t.Unavailable, "internal"
		}
		// A person reads the page: the code's text from the catalogue, in
		// his language, saying what he can do; never the English detail.
		text, ok := web.ErrorText(lang, reason)
		if !ok {
			text, _ = web.ErrorText(lang, generic)
		}
		_ = h.page(c, status, "error.html", map[string]any{"Lang": lang, "Title": title, "Message": text,
			"Hint": web.Word(lang, "page_error_hint"), "CodeLabel": web.Word(lang, "page_error_code"), "Code": reason})
		return
	}
	body := map[string]any{"code": reason, "message": message}
	if pe, ok := problem.As(err); ok && status < 500 {
		for k, v := range pe.Data {
			if k != "code" && k != "message" {
				body[k] = v
			}
		}
	}
	_ = c.JSON(status, map[string]any{"error": body})
}

func (h *Handlers) classify(err error) (int, string, string) {
	if pe, ok := problem.As(err); ok {
		status := map[problem.Code]int{
			problem.Invalid: http.StatusBadRequest, problem.Unauthorized: http.StatusUnauthorized,
			problem.Forbidden: http.StatusForbidden, problem.NotFound: http.StatusNotFound,
			problem.Conflict: http.StatusConflict, problem.TooLarge: http.StatusRequestEntityTooLarge,
			problem.Unavailable: http.StatusBadGateway, problem.Internal: http.StatusInternalServerError,
		}[pe.Code]
		if status == 0 {
			status = http.StatusInternalServerError
		}
		if status >= 500 && pe.Code == problem.Internal {
			return status, "internal", "internal error"
		}
		return status, pe.ReasonOrCode(), pe.Message
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		msg := http.StatusText(he.Code)
		if s, ok := he.Message.(string); ok && he.Code < 500 {
			msg = s
		}
		return he.Code, strings.ReplaceAll(strings.ToLower(http.StatusText(he.Code)), " ", "_"), msg
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, "body_too_large", "the request body is too large"
	}
	return http.StatusInternalServerError, "internal", "internal error"
}

// pageLang is the language of an error page: the LANG the portal put in the
// URL, else the portal's own (named by the posted member_id or the DOMAIN
// or portal parameter), else the browser's Accept-Language, else Russian.
func (h *Handlers) pageLang(c echo.Context) string {
	r := c.Request()
	if l := r.URL.Query().Get("LANG"); l != "" {
		return web.Lang(strings.ToLower(l))
	}
	ctx := r.Context()
	var p *store.Portal
	if h.Store == nil {
		return acceptLang(r.Header.Get("Accept-Language"))
	}
	if r.PostForm != nil && r.PostForm.Get("member_id") != "" {
		p, _ = h.Store.PortalByMemberID(ctx, r.PostForm.Get("member_id"))
	}
	for _, k := range []string{"DOMAIN", "portal"} {
		if d := r.URL.Query().Get(k); p == nil && d != "" && len(d) < 256 {
			p, _ = h.Store.PortalByDomain(ctx, strings.ToLower(d))
		}
	}
	if p != nil && p.Lang != "" {
		return web.Lang(p.Lang)
	}
	return acceptLang(r.Header.Get("Accept-Language"))
}

// acceptLang is the first language of an Accept-Language header relay24
// speaks (by its primary tag), Russian when none.
func acceptLang(h string) string {
	best, bestQ := "", -1.0
	for _, part := range strings.Split(h, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		primary, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if (primary == "ru" || primary == "en") && q > bestQ {
			best, bestQ = primary, q
		}
	}
	if best == "" {
		return "ru"
	}
	return best
}

func wantsHTML(c echo.Context) bool {
	p := c.Request().URL.Path
	switch {
	case strings.HasPrefix(p, "/api/"), strings.HasPrefix(p, "/webhooks/"), strings.HasPrefix(p, "/files/"), p == linkPreviewImagePath, p == "/b24/events", p == "/healthz", p == "/readyz", p == "/metrics":
		return false
	case p == "/b24/install" && c.Request().PostFormValue("event") != "":
		return false
	}
	return true
}

// page renders a template with the headers every page needs.
func (h *Handlers) page(c echo.Context, status int, name string, data any, frameAncestors ...string) error {
	hd := c.Response().Header()
	// Pages live in the portal's iframe: allow that origin (not X-Frame-Options: DENY).
	ancestors := "'self'"
	for _, a := range frameAncestors {
		ancestors += " " + a
	}
	hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline' https://api.bitrix24.com; "+
		"style-src 'self' 'unsafe-inline'; img-src 'self' data: https: http:; connect-src 'self'; frame-ancestors "+ancestors)
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	hd.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(status)
	return h.Web.Render(c.Response(), name, data)
}

// portalOrigin is the portal's web origin for frame-ancestors.
func portalOrigin(p *store.Portal) string {
	u, err := url.Parse(p.ClientEndpoint)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func (h *Handlers) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (h *Handlers) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2e9)
	defer cancel()
	if err := h.Ready(ctx); err != nil {
		h.Log.WarnContext(ctx, "not ready", slog.String("error", err.Error()))
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": "unreachable"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok", "database": "ok"})
}

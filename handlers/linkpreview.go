package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/relay24/relay24/linkpreview"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/session"
)

// linkPreviewImagePath is the proxy of a preview's picture (no session: an
// <img> in the portal's iframe has none; the link is signed).
const linkPreviewImagePath = "/link-preview/image"

// LinkPreview is a card as the API shows it. Image, when there is one, is
// relay24's signed proxy link, never the third party's URL.
type LinkPreview struct {
	URL         string `json:"url"`
	Domain      string `json:"domain"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	SiteName    string `json:"site_name,omitempty"`
	Image       string `json:"image,omitempty"`
}

// linkPreview answers the card of ?url=: {preview} or, when the page gives
// none (not HTML, down, slow, empty), {preview: null, reason}. A URL that
// is not a public http(s) one is 400; a caller over his share of fetches
// is 429 (cached cards are never limited).
func (h *Handlers) linkPreview(c echo.Context) error {
	cl := caller(c)
	raw := c.QueryParam("url")
	if raw == "" {
		return problem.New(problem.Invalid, "invalid_url", "url is required: an http or https link")
	}
	p, err := h.Links.Get(c.Request().Context(), cl.Portal.ID, cl.User.ID, raw)
	if errors.Is(err, linkpreview.ErrRateLimited) {
		return echo.NewHTTPError(http.StatusTooManyRequests, "too many link previews fetched; wait a minute")
	}
	switch k := linkpreview.KindOf(err); {
	case err == nil:
	case k == linkpreview.KindInvalidURL:
		return problem.Wrap(err, problem.Invalid, "invalid_url", "only http and https links on their standard ports, without a user name, are previewed")
	case k == linkpreview.KindPrivate:
		return problem.Wrap(err, problem.Invalid, "private_url", "the link points to a private address; it is not previewed")
	default:
		var pe *linkpreview.Error
		if !errors.As(err, &pe) {
			return err // the cache (the database) failed
		}
		c.Response().Header().Set("Cache-Control", "private, max-age=600")
		return c.JSON(http.StatusOK, map[string]any{"preview": nil, "reason": string(k)})
	}
	out := LinkPreview{URL: p.URL, Title: p.Title, Description: p.Description, SiteName: p.SiteName}
	if u, err := url.Parse(p.URL); err == nil {
		out.Domain = strings.TrimPrefix(u.Hostname(), "www.")
	}
	if p.Image != "" {
		exp, sig := h.Sessions.PreviewImageLink(cl.Portal.ID, p.Image)
		out.Image = linkPreviewImagePath + "?" + url.Values{"p": {strconv.FormatInt(cl.Portal.ID, 10)},
			"u": {p.Image}, "exp": {exp}, "sig": {sig}}.Encode()
	}
	c.Response().Header().Set("Cache-Control", "private, max-age=600")
	return c.JSON(http.StatusOK, map[string]any{"preview": out})
}

// linkPreviewImage proxies a preview's picture for whoever holds its signed
// link: the browser never asks the third party (which would learn the
// user's address and what he reads), and what comes back is a PNG, JPEG,
// GIF or WebP by its bytes, at most 1 MB, served so that nothing in it can
// run (nosniff, a sandbox CSP). A link that does not match is 404; a
// genuine one past its expiry 403; a picture that cannot be had 404 too.
func (h *Handlers) linkPreviewImage(c echo.Context) error {
	fileHeaders(c.Response().Header())
	notFound := problem.New(problem.NotFound, "preview_image_not_found", "the picture is not available")
	portalID, err := strconv.ParseInt(c.QueryParam("p"), 10, 64)
	if err != nil || portalID <= 0 {
		return notFound
	}
	raw := c.QueryParam("u")
	if err := h.Sessions.CheckPreviewImageLink(portalID, raw, c.QueryParam("exp"), c.QueryParam("sig")); errors.Is(err, session.ErrExpired) {
		return problem.Wrap(err, problem.Forbidden, "link_expired", "the link has expired; reopen the dialog")
	} else if err != nil {
		return notFound
	}
	ctx := c.Request().Context()
	if p, err := h.Store.PortalByID(ctx, portalID); problem.Is(err, problem.NotFound) || (err == nil && !p.Active()) {
		return notFound
	} else if err != nil {
		return err
	}
	b, typ, err := h.Links.Image(ctx, portalID, raw)
	if errors.Is(err, linkpreview.ErrRateLimited) {
		return echo.NewHTTPError(http.StatusTooManyRequests, "too many pictures fetched; wait a minute")
	}
	if err != nil {
		h.Log.DebugContext(ctx, "no preview picture", "error", err.Error())
		return notFound
	}
	c.Response().Header().Set("Cache-Control", "private, max-age="+strconv.Itoa(int(session.LinkTTL.Seconds())))
	return c.Blob(http.StatusOK, typ, b)
}

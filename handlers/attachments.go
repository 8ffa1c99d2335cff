package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/relay"
	"github.com/relay24/relay24/session"
)

// fileCSP is the policy of every file answer: nothing loads, nothing runs,
// and the document is an opaque origin even if a browser renders it.
const fileCSP = "default-src 'none'; sandbox"

// attachment serves attachment n of a message to whoever holds its signed
// link (attachmentURL). It takes no session: inside the portal's iframe
// there is no cookie, and <img src> sends no header. Links are issued only
// to a caller who may see the message, so holding one is permission to
// fetch that one file until it expires. Anything that does not match the
// message's own portal, id and index is 404, as a missing file is; a
// genuine link past its expiry is 403.
func (h *Handlers) attachment(c echo.Context) error {
	// Set first, so that error answers carry them too.
	fileHeaders(c.Response().Header())
	notFound := problem.New(problem.NotFound, "attachment_not_found", "attachment not found")
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return notFound
	}
	n, err := strconv.Atoi(c.Param("n"))
	if err != nil || n < 0 {
		return notFound
	}
	exp, sig := c.QueryParam("exp"), c.QueryParam("sig")
	if exp == "" || sig == "" {
		return notFound
	}
	ctx := c.Request().Context()
	m, err := h.Store.MessageByID(ctx, id)
	if problem.Is(err, problem.NotFound) {
		return notFound
	} else if err != nil {
		return err
	}
	if err := h.Sessions.CheckAttachmentLink(m.PortalID, m.ID, n, exp, sig); errors.Is(err, session.ErrExpired) {
		return problem.Wrap(err, problem.Forbidden, "link_expired", "the link has expired; reopen the dialog")
	} else if err != nil {
		return notFound
	}
	p, err := h.Store.PortalByID(ctx, m.PortalID)
	if err != nil {
		return err
	}
	if !p.Active() {
		return notFound
	}
	media, err := h.Relay.OpenAttachment(ctx, m, n)
	if err != nil {
		return err
	}
	return serveMedia(c, media)
}

// fileHeaders are the headers of every answer of the file route: whatever a
// client's file holds, no browser sniffs it into a page, runs its script or
// lets it load anything, and the link does not leak as a referrer.
func fileHeaders(hd http.Header) {
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", fileCSP)
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
}

// serveMedia answers a client's file: a redirect to a gateway's public link
// (another origin), or the bytes, shown inline only for the types
// relay.ServeAs allows (raster images, audio, video) and otherwise
// downloaded as application/octet-stream, whatever the source claimed.
func serveMedia(c echo.Context, media *relay.Media) error {
	hd := c.Response().Header()
	fileHeaders(hd)
	if media.Redirect != "" {
		return c.Redirect(http.StatusFound, media.Redirect)
	}
	defer media.Body.Close()
	ct, inline := relay.ServeAs(media.ContentType)
	disposition := "attachment"
	if inline {
		disposition = "inline"
	}
	hd.Set("Content-Disposition", contentDisposition(disposition, media.Name))
	// The browser may keep the file as long as the link lives.
	hd.Set("Cache-Control", "private, max-age="+strconv.Itoa(int(session.LinkTTL.Seconds())))
	return c.Stream(http.StatusOK, ct, media.Body)
}

// maxFileName bounds a file name in a header (bytes of UTF-8).
const maxFileName = 180

// contentDisposition is RFC 6266's header for a name that comes from a
// client: a plain-ASCII quoted fallback and the exact name RFC 5987-encoded.
// Directories, control characters and invalid UTF-8 never get through.
func contentDisposition(kind, name string) string {
	name = strings.ToValidUTF8(name, "_")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return -1
		}
		return r
	}, name)
	name = strings.Trim(name, " .")
	for len(name) > maxFileName {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" {
		return kind
	}
	var fallback, encoded strings.Builder
	for _, r := range name {
		if r < 0x7f && r != '"' && r != '\\' && r != '%' {
			fallback.WriteRune(r)
		} else {
			fallback.WriteByte('_')
		}
	}
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(name); i++ {
		b := name[i]
		if isAttrChar(b) {
			encoded.WriteByte(b)
		} else {
			encoded.WriteByte('%')
			encoded.WriteByte(hex[b>>4])
			encoded.WriteByte(hex[b&15])
		}
	}
	return kind + `; filename="` + fallback.String() + `"; filename*=UTF-8''` + encoded.String()
}

// isAttrChar is RFC 5987's attr-char: what a filename* value carries unescaped.
func isAttrChar(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", b) >= 0
}

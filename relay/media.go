package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/relay24/relay24/gateway"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
)

// Media is an attachment ready to serve: a stream, or a URL to send the
// browser to.
type Media struct {
	Body io.ReadCloser
	// ContentType is what the file is served as (see ServeAs).
	ContentType string
	// Name is the file's name for a download; it may be empty.
	Name     string
	Redirect string
}

// Download is the type of every client file that is not shown inline.
const Download = "application/octet-stream"

// inlineTypes are the only types a client's file is shown as: images the
// browser decodes to pixels, audio and video it plays. None of them can
// carry script; SVG, HTML and XML can, and PDF brings a viewer of its own
// that browsers do not show under the sandbox every file answer carries, so
// all else is a download.
var inlineTypes = map[string]bool{
	"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true,
	"audio/mpeg": true, "audio/ogg": true, "audio/mp4": true, "audio/aac": true, "audio/wav": true, "audio/webm": true,
	"video/mp4": true, "video/webm": true, "video/ogg": true,
}

// extTypes names the inline types by extension. It is not
// mime.TypeByExtension, which also reads the host's mime.types: what a file
// is served as must not depend on the machine.
var extTypes = map[string]string{
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
	".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".oga": "audio/ogg", ".opus": "audio/ogg", ".m4a": "audio/mp4",
	".aac": "audio/aac", ".wav": "audio/wav", ".mp4": "video/mp4", ".webm": "video/webm",
}

// ServeAs is the type a client's file is served with, whatever its source
// claims: an allow-listed type, shown inline, or application/octet-stream,
// downloaded.
func ServeAs(claimed string) (contentType string, inline bool) {
	mt, _, err := mime.ParseMediaType(claimed)
	if err == nil && inlineTypes[mt] {
		return mt, true
	}
	return Download, false
}

// TypeOfPath is the served type of a file by its name's extension.
func TypeOfPath(name string) string {
	if t, ok := extTypes[strings.ToLower(path.Ext(name))]; ok {
		return t
	}
	return Download
}

// redirectTarget is a gateway's public link when it is one the browser may
// be sent to: an absolute http(s) URL (never javascript:, data: or the like).
func redirectTarget(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return "", false
	}
	return u.String(), true
}

// maxMedia bounds a proxied file (the Bot API serves bots files up to 20 MB).
const maxMedia = 20 << 20

// OpenAttachment resolves attachment i of a message. A file in relay24's
// storage (an upload, or a client's file once copied: mediacopy.go) is
// read from there; until a client's file is copied, a Telegram file is
// fetched with the bot's token (which must never reach the browser) and
// streamed, and a gateway's public link is a redirect. An attachment whose
// copy failed is not found.
func (s *Service) OpenAttachment(ctx context.Context, m *store.Message, i int) (*Media, error) {
	var atts []Attachment
	if err := json.Unmarshal(m.Attachments, &atts); err != nil || i < 0 || i >= len(atts) {
		return nil, problem.New(problem.NotFound, "attachment_not_found", "attachment not found")
	}
	a := atts[i]
	if a.Unavailable {
		// Its copy failed: the gateway's link is not handed out instead.
		return nil, problem.New(problem.NotFound, "attachment_unavailable", "the file is not available")
	}
	if id, ok := strings.CutPrefix(a.URL, fileURLPrefix); ok {
		// A file a user uploaded and sent, or a client's file copied from
		// its gateway: from relay24's own storage.
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || s.o.Files == nil {
			return nil, problem.New(problem.NotFound, "attachment_not_found", "attachment not found")
		}
		f, err := s.o.Files.Get(ctx, m.PortalID, n)
		if problem.Is(err, problem.NotFound) {
			return nil, problem.New(problem.NotFound, "attachment_not_found", "attachment not found")
		} else if err != nil {
			return nil, err
		}
		return &Media{Body: io.NopCloser(bytes.NewReader(f.Bytes)), ContentType: f.Type, Name: f.Name}, nil
	}
	gw, private := s.adapters.ForFileRef(a.URL)
	if !private {
		target, ok := redirectTarget(a.URL)
		if !ok {
			return nil, problem.New(problem.NotFound, "attachment_not_found", "attachment not found")
		}
		return &Media{Redirect: target}, nil
	}
	d, err := s.openGatewayFile(ctx, m, gw, a.URL)
	if err != nil {
		var ae *gateway.AttachmentError
		if errors.As(err, &ae) {
			return nil, ae.Problem
		}
		return nil, err
	}
	// The type comes from the name alone; what the file server claims is
	// ignored (it is the client's file either way).
	name := path.Base(d.Path)
	if name == "." || name == "/" {
		name = ""
	}
	if a.Name != "" && a.Name != a.Type {
		// The name the client's app gave the document (the download is
		// still typed by the server's path, never by this name).
		name = a.Name
	}
	return &Media{Body: limitedBody{io.LimitReader(d.Body, maxMedia), d.Body}, ContentType: TypeOfPath(d.Path), Name: name}, nil
}

type limitedBody struct {
	io.Reader
	io.Closer
}

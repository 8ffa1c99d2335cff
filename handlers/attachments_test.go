package handlers

import (
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/relay24/relay24/relay"
)

// serve answers media as the attachment route does and returns the answer.
func serve(t *testing.T, media *relay.Media) *httptest.ResponseRecorder {
	t.Helper()
	e := echo.New()
	rec := httptest.NewRecorder()
	c := e.NewContext(httptest.NewRequest(http.MethodGet, "/api/v1/messages/1/attachments/0", nil), rec)
	if err := serveMedia(c, media); err != nil {
		t.Fatal(err)
	}
	return rec
}

func wantFileHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	if h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q", what, h.Get("X-Content-Type-Options"))
	}
	csp := h.Get("Content-Security-Policy")
	if !strings.Contains(csp, "sandbox") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("%s: Content-Security-Policy %q", what, csp)
	}
}

// A client's file never runs as a page of relay24: whatever type its source
// claims, only raster images, audio and video are shown inline, all else is
// an application/octet-stream download, and every answer is nosniff with a
// sandboxing CSP.
func TestAttachmentServingHeaders(t *testing.T) {
	const page = `<html><script>document.title="pwned"</script></html>`
	for _, c := range []struct {
		class, claimed, name string
		wantType             string
		inline               bool
	}{
		{"html", "text/html; charset=utf-8", "evil.html", relay.Download, false},
		{"svg", "image/svg+xml", "evil.svg", relay.Download, false},
		{"xml", "application/xml", "evil.xml", relay.Download, false},
		{"xhtml", "application/xhtml+xml", "evil.xhtml", relay.Download, false},
		{"js", "text/javascript", "evil.js", relay.Download, false},
		{"pdf", "application/pdf", "report.pdf", relay.Download, false},
		{"unknown", "application/x-whatever", "data.bin", relay.Download, false},
		{"no type", "", "file", relay.Download, false},
		{"png", "image/png", "photo.png", "image/png", true},
		{"jpeg", "image/jpeg", "file_3.jpg", "image/jpeg", true},
		{"audio", "audio/ogg", "voice.oga", "audio/ogg", true},
		{"video", "video/mp4", "clip.mp4", "video/mp4", true},
	} {
		rec := serve(t, &relay.Media{Body: io.NopCloser(strings.NewReader(page)), ContentType: c.claimed, Name: c.name})
		h := rec.Header()
		if rec.Code != http.StatusOK || h.Get("Content-Type") != c.wantType {
			t.Errorf("%s: %d %q, want %q", c.class, rec.Code, h.Get("Content-Type"), c.wantType)
		}
		wantFileHeaders(t, c.class, h)
		disp, params, err := mime.ParseMediaType(h.Get("Content-Disposition"))
		wantDisp := "attachment"
		if c.inline {
			wantDisp = "inline"
		}
		if err != nil || disp != wantDisp || params["filename"] != c.name {
			t.Errorf("%s: Content-Disposition %q (%v), want %s with filename %s", c.class, h.Get("Content-Disposition"), err, wantDisp, c.name)
		}
		if rec.Body.String() != page {
			t.Errorf("%s: body %q", c.class, rec.Body)
		}
	}
}

// A gateway's public link is a redirect, with the same headers.
func TestAttachmentRedirectHeaders(t *testing.T) {
	rec := serve(t, &relay.Media{Redirect: "https://store.wazzup24.com/a.jpg"})
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != "https://store.wazzup24.com/a.jpg" {
		t.Fatalf("redirect: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	wantFileHeaders(t, "redirect", rec.Header())
	if rec.Header().Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("the signed link leaks as a referrer: %q", rec.Header().Get("Referrer-Policy"))
	}
}

// A client's file name reaches the header only as a safe, RFC 6266/5987
// encoded name: no quotes, separators, directories or control characters
// break out of it.
func TestAttachmentContentDisposition(t *testing.T) {
	for _, c := range []struct{ name, header, parsed string }{
		{"file_1.jpg", `attachment; filename="file_1.jpg"; filename*=UTF-8''file_1.jpg`, "file_1.jpg"},
		{"Счёт №5.pdf", `attachment; filename="____ _5.pdf"; filename*=UTF-8''%D0%A1%D1%87%D1%91%D1%82%20%E2%84%965.pdf`, "Счёт №5.pdf"},
		{`a"; filename="evil.html`, `attachment; filename="a_; filename=_evil.html"; filename*=UTF-8''a%22%3B%20filename%3D%22evil.html`, `a"; filename="evil.html`},
		{"../../etc/passwd", `attachment; filename="passwd"; filename*=UTF-8''passwd`, "passwd"},
		{`..\..\boot.ini`, `attachment; filename="boot.ini"; filename*=UTF-8''boot.ini`, "boot.ini"},
		{"a\r\nSet-Cookie: x=1.txt", `attachment; filename="aSet-Cookie: x=1.txt"; filename*=UTF-8''aSet-Cookie%3A%20x%3D1.txt`, "aSet-Cookie: x=1.txt"},
		{"100%.png", `attachment; filename="100_.png"; filename*=UTF-8''100%25.png`, "100%.png"},
		{"bad\xffutf8", `attachment; filename="bad_utf8"; filename*=UTF-8''bad_utf8`, "bad_utf8"},
		{"", "attachment", ""},
		{"...", "attachment", ""},
	} {
		got := contentDisposition("attachment", c.name)
		if got != c.header {
			t.Errorf("%q:\n got %s\nwant %s", c.name, got, c.header)
		}
		_, params, err := mime.ParseMediaType(got)
		if err != nil || params["filename"] != c.parsed {
			t.Errorf("%q: parsed back as %q (%v)", c.name, params["filename"], err)
		}
	}
	if got := contentDisposition("attachment", strings.Repeat("я", 200)+".html"); len(got) > 1200 {
		t.Errorf("a long name is not bounded: %d bytes", len(got))
	}
}

// The route's own refusals are JSON with the same headers: no error page
// renders anything of a client's, and a link without its signature is 404
// before anything is read (no session is looked at either).
func TestAttachmentErrorAnswers(t *testing.T) {
	h := &Handlers{Log: slog.New(slog.DiscardHandler)}
	e := echo.New()
	e.HTTPErrorHandler = h.ErrorHandler
	e.GET("/api/v1/messages/:id/attachments/:n", h.attachment)
	for _, target := range []string{
		"/api/v1/messages/1/attachments/0",
		"/api/v1/messages/1/attachments/0?exp=99999999999",
		"/api/v1/messages/1/attachments/0?sig=abc",
		"/api/v1/messages/1/attachments/0?session=whatever",
		"/api/v1/messages/x/attachments/0?exp=1&sig=a",
		"/api/v1/messages/1/attachments/-1?exp=1&sig=a",
		"/api/v1/messages/1/attachments/%3Cscript%3E?exp=1&sig=a",
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Accept", "text/html")
		req.Header.Set("Authorization", "Bearer whatever")
		e.ServeHTTP(rec, req)
		u, _ := url.Parse(target)
		if rec.Code != http.StatusNotFound || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Errorf("%s: %d %q %s", u, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
		wantFileHeaders(t, target, rec.Header())
		if strings.Contains(rec.Body.String(), "<script") {
			t.Errorf("%s: the answer echoes markup: %s", target, rec.Body)
		}
	}
}

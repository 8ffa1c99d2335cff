package app_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/relay24/relay24/apptest"
	"github.com/relay24/relay24/linkpreview"
	"github.com/relay24/relay24/netguard"
	"github.com/relay24/relay24/placement"
)

type linkPreviewJSON struct {
	Preview *struct {
		URL, Domain, Title, Description, Image string
		SiteName                               string `json:"site_name"`
	} `json:"preview"`
	Reason string `json:"reason"`
	Error  *struct {
		Code string `json:"code"`
	} `json:"error"`
}

// GET /api/v1/link-preview: a session is required; a URL that is not
// http(s) is 400 invalid_url, a private one 400 private_url, and neither
// is fetched; a public page (here: the test's own server, which the test
// trusts) answers its card, whose picture is relay24's signed proxy link,
// served as a sniffed image with nosniff and a sandbox; a tampered proxy
// link is 404 and fetches nothing.
func TestLinkPreviewAPI(t *testing.T) {
	var pageHits, imageHits, internalHits atomic.Int32
	var pngBytes bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 2, 2))
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	_ = png.Encode(&pngBytes, img)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cover":
			imageHits.Add(1)
			w.Header().Set("Content-Type", "text/html") // the bytes decide, not the header
			w.Write(pngBytes.Bytes())
		case "/script":
			imageHits.Add(1)
			w.Header().Set("Content-Type", "image/png")
			fmt.Fprint(w, "<script>alert(1)</script>")
		default:
			pageHits.Add(1)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			img := "/cover"
			if r.URL.Path == "/bad-image" {
				img = "/script"
			}
			fmt.Fprintf(w, `<html><head><meta property="og:title" content="Доставка и оплата">
				<meta property="og:description" content="Как мы возим"><meta property="og:image" content="%s"></head></html>`, img)
		}
	}))
	defer site.Close()
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { internalHits.Add(1) }))
	defer internal.Close()
	siteURL, _ := url.Parse(site.URL)

	e := newEnvOptions(t, apptest.Options{Workers: -1, BeforeStart: func(s *apptest.Server) {
		s.App.Links.Fetcher.SetTrusted(netguard.TrustOnly(siteURL.Host))
	}})
	p := e.installedPortal()
	tok := e.session(p, placement.LeftMenu, nil, 2)
	get := func(token, raw string) (int, linkPreviewJSON) {
		var out linkPreviewJSON
		s := e.api("GET", "/api/v1/link-preview?url="+url.QueryEscape(raw), token, nil, &out)
		return s, out
	}

	if s, _ := get("", site.URL+"/page"); s != http.StatusUnauthorized {
		t.Fatalf("without a session: %d", s)
	}
	for raw, code := range map[string]string{
		"":                            "invalid_url",
		"javascript:alert(1)":         "invalid_url",
		"ftp://example.com/":          "invalid_url",
		"https://u:p@example.com/":    "invalid_url",
		"https://example.com:8443/":   "invalid_url",
		"http://169.254.169.254/meta": "private_url",
		"http://10.0.0.5/":            "private_url",
		"http://[::1]/":               "private_url",
		internal.URL + "/admin":       "invalid_url", // loopback on another port: the port rule
		strings.Replace(site.URL, "127.0.0.1", "127.0.0.2", 1): "invalid_url",
	} {
		s, out := get(tok, raw)
		if s != http.StatusBadRequest || out.Error == nil || out.Error.Code != code {
			t.Errorf("%q: %d %+v, want 400 %s", raw, s, out.Error, code)
		}
	}
	if n := internalHits.Load(); n != 0 {
		t.Fatalf("the internal server was asked %d times", n)
	}

	s, out := get(tok, site.URL+"/page#x")
	if s != http.StatusOK || out.Preview == nil {
		t.Fatalf("card: %d %+v", s, out)
	}
	if pv := out.Preview; pv.Title != "Доставка и оплата" || pv.Description != "Как мы возим" || pv.URL != site.URL+"/page" ||
		pv.Domain != "127.0.0.1" || !strings.HasPrefix(pv.Image, "/link-preview/image?") || strings.Contains(pv.Image, "exp=&") {
		t.Fatalf("card: %+v", pv)
	}
	// Asked again (another user), it comes from the cache.
	if s, again := get(e.session(p, placement.LeftMenu, nil, 1), site.URL+"/page"); s != http.StatusOK || again.Preview == nil || pageHits.Load() != 1 {
		t.Fatalf("cached card: %d %+v, page fetched %d times", s, again, pageHits.Load())
	}

	fetch := func(path string) (*http.Response, []byte) {
		res, err := http.Get(e.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	res, body := fetch(out.Preview.Image)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/png" || !bytes.Equal(body, pngBytes.Bytes()) ||
		res.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(res.Header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("picture: %d %v", res.StatusCode, res.Header)
	}
	// The signature covers the picture's URL: another URL is 404, unfetched.
	before := imageHits.Load()
	forged := strings.Replace(out.Preview.Image, url.QueryEscape(site.URL+"/cover"), url.QueryEscape(site.URL+"/script"), 1)
	if forged == out.Preview.Image {
		t.Fatalf("could not forge %s", out.Preview.Image)
	}
	if res, _ := fetch(forged); res.StatusCode != http.StatusNotFound {
		t.Fatalf("forged picture link: %d", res.StatusCode)
	}
	if imageHits.Load() != before {
		t.Fatal("a forged link fetched the picture")
	}
	// A "picture" that is not one by its bytes is not served.
	_, bad := get(tok, site.URL+"/bad-image")
	if bad.Preview == nil || bad.Preview.Image == "" {
		t.Fatalf("bad-image card: %+v", bad)
	}
	if res, body := fetch(bad.Preview.Image); res.StatusCode != http.StatusNotFound || bytes.Contains(body, []byte("<script")) {
		t.Fatalf("script as a picture: %d %s", res.StatusCode, body)
	}
}

// A page that gives nothing to show is a card-less answer, not an error.
func TestLinkPreviewNoCard(t *testing.T) {
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		fmt.Fprint(w, "%PDF-1.4")
	}))
	defer site.Close()
	siteURL, _ := url.Parse(site.URL)
	e := newEnvOptions(t, apptest.Options{Workers: -1, BeforeStart: func(s *apptest.Server) {
		s.App.Links.Fetcher.SetTrusted(netguard.TrustOnly(siteURL.Host))
	}})
	p := e.installedPortal()
	var out linkPreviewJSON
	if s := e.api("GET", "/api/v1/link-preview?url="+url.QueryEscape(site.URL+"/doc.pdf"), e.session(p, placement.LeftMenu, nil, 2), nil, &out); s != http.StatusOK ||
		out.Preview != nil || out.Reason != "not_html" {
		t.Fatalf("%d %+v", s, out)
	}
}

// A user past his share of fetches is 429 too_many_requests (the endpoint
// is no open proxy); another user of the portal, and what is cached, still
// get their cards.
func TestLinkPreviewRateLimited(t *testing.T) {
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, "<title>Page %s</title>", r.URL.Path)
	}))
	defer site.Close()
	siteURL, _ := url.Parse(site.URL)
	e := newEnvOptions(t, apptest.Options{Workers: -1, BeforeStart: func(s *apptest.Server) {
		s.App.Links.Fetcher.SetTrusted(netguard.TrustOnly(siteURL.Host))
	}})
	p := e.installedPortal()
	tok := e.session(p, placement.LeftMenu, nil, 2)
	get := func(token, path string) (int, linkPreviewJSON) {
		var out linkPreviewJSON
		s := e.api("GET", "/api/v1/link-preview?url="+url.QueryEscape(site.URL+path), token, nil, &out)
		return s, out
	}
	for i := range linkpreview.UserBurst {
		if s, out := get(tok, fmt.Sprintf("/p%d", i)); s != http.StatusOK || out.Preview == nil {
			t.Fatalf("fetch %d: %d %+v", i, s, out)
		}
	}
	if s, out := get(tok, "/one-more"); s != http.StatusTooManyRequests || out.Error == nil || out.Error.Code != "too_many_requests" {
		t.Fatalf("past the share: %d %+v", s, out.Error)
	}
	if s, out := get(tok, "/p0"); s != http.StatusOK || out.Preview == nil {
		t.Fatalf("cached past the share: %d %+v", s, out)
	}
	if s, out := get(e.session(p, placement.LeftMenu, nil, 1), "/one-more"); s != http.StatusOK || out.Preview == nil {
		t.Fatalf("another user: %d %+v", s, out)
	}
}

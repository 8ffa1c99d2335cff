// Package linkpreview makes the card a plain link in a message is shown
// with: the page's title, description and site name, read server-side from
// its Open Graph, twitter: and plain head tags.
//
// The link comes from a client's message, so the fetch treats it as
// hostile: http and https only, no credentials in it, default ports only,
// never to a loopback, private, link-local or otherwise non-public address
// (netguard, checked on the address dialled, so on every redirect too), at
// most three redirects, three seconds in all, text/html only and at most
// 512 KB of it, no cookies, nothing of the page but cleaned, capped text.
// Results are cached in PostgreSQL (a URL seen by many users and portals
// is fetched once) and concurrent requests for one URL share one fetch.
package linkpreview

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/html/charset"
	"golang.org/x/net/idna"

	"github.com/relay24/relay24/netguard"
)

// Preview is what a card shows. Image is the page's picture, resolved
// against the page; it is kept for a proxy to come and never sent to a
// browser as it is (hot-linking would tell a third party the user's
// address and which page he is reading).
type Preview struct {
	URL         string `json:"url"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	SiteName    string `json:"site_name,omitempty"`
	Image       string `json:"image,omitempty"`
}

// Empty reports whether a page gave nothing to show (a picture's link has
// no text but is not empty).
func (p Preview) Empty() bool { return p.Title == "" && p.Description == "" && p.Image == "" }

// Kind is why a URL has no preview.
type Kind string

// The kinds of failure. Only invalid and private are the caller's mistake;
// the rest are the page's, and are cached as its answer.
const (
	KindInvalidURL  Kind = "invalid_url" // not an http(s) URL relay24 fetches
	KindPrivate     Kind = "private_url" // resolves to a non-public address
	KindTimeout     Kind = "timeout"     // no answer within the time limit
	KindStatus      Kind = "http_status" // the page answered other than 200
	KindNotHTML     Kind = "not_html"    // not text/html
	KindRedirects   Kind = "too_many_redirects"
	KindUnreachable Kind = "unreachable" // DNS, connection, TLS, a cut-off body
	KindEmpty       Kind = "empty"       // an HTML page without a title or description
)

// Error is a URL without a preview.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return "link preview: " + string(e.Kind) + ": " + e.Err.Error()
	}
	return "link preview: " + string(e.Kind)
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf is err's Kind, KindUnreachable for an error that is not an *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindUnreachable
}

// Limits of one fetch.
const (
	Timeout      = 3 * time.Second
	MaxHTML      = 512 << 10
	MaxRedirects = 3
	maxInputURL  = 2048
)

// Fetcher fetches pages for previews.
type Fetcher struct {
	// Timeout bounds a whole fetch, redirects included; 0: Timeout.
	Timeout time.Duration
	// AnyPort lets URLs name any port (tests that prove the dialer's
	// refusal on their own loopback ports; a deployment that wants it).
	AnyPort bool
	// UserAgent is sent with each request.
	UserAgent string

	client  *http.Client
	trusted atomic.Pointer[func(hostport string) bool]
}

// SetTrusted lets the host:port pairs fn accepts through netguard and the
// port rule (a test's page server on loopback); nil: none. Safe while the
// fetcher is in use.
func (f *Fetcher) SetTrusted(fn func(hostport string) bool) {
	if fn == nil {
		f.trusted.Store(nil)
		return
	}
	f.trusted.Store(&fn)
}

func (f *Fetcher) isTrusted(hostport string) bool {
	fn := f.trusted.Load()
	return fn != nil && (*fn)(hostport)
}

// NewFetcher is a Fetcher; trusted may be nil.
func NewFetcher(trusted func(hostport string) bool) *Fetcher {
	f := &Fetcher{UserAgent: "relay24-linkpreview/1 (+https://github.com/relay24/relay24)"}
	d := &netguard.Dialer{Dialer: &net.Dialer{Timeout: Timeout, KeepAlive: 30 * time.Second},
		Trusted: f.isTrusted}
	f.SetTrusted(trusted)
	f.client = &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            d.DialContext,
			TLSHandshakeTimeout:    Timeout,
			ResponseHeaderTimeout:  Timeout,
			MaxResponseHeaderBytes: 64 << 10,
			MaxIdleConnsPerHost:    2,
			IdleConnTimeout:        30 * time.Second,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > MaxRedirects {
				return &Error{Kind: KindRedirects}
			}
			// The address is checked when it is dialled; the rest here. A
			// redirect to a URL relay24 would not fetch is the page's doing.
			if _, err := f.Check(req.URL.String()); KindOf(err) == KindInvalidURL {
				return &Error{Kind: KindRedirects, Err: err}
			} else if err != nil {
				return err
			}
			return nil
		},
	}
	return f
}

// Check parses and checks a URL before anything is fetched: http(s), a
// host, no user info, the scheme's default port (a link to another port
// is rare in a chat and a port is what a scanner wants to vary; a trusted
// host:port is the exception), an address literal that is public. The
// URL's fragment is dropped (the page is the same).
func (f *Fetcher) Check(raw string) (*url.URL, error) {
	if len(raw) > maxInputURL {
		return nil, &Error{Kind: KindInvalidURL, Err: errors.New("the URL is too long")}
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, &Error{Kind: KindInvalidURL, Err: err}
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil || u.Opaque != "" {
		return nil, &Error{Kind: KindInvalidURL, Err: fmt.Errorf("%q is not an http(s) URL without credentials", raw)}
	}
	u.Fragment, u.RawFragment = "", ""
	// An internationalised name (пример.рф) is looked up, and cached, as
	// its ASCII form, the one a browser sends.
	if _, err := netip.ParseAddr(u.Hostname()); err != nil {
		host, err := idna.Lookup.ToASCII(u.Hostname())
		if err != nil {
			return nil, &Error{Kind: KindInvalidURL, Err: err}
		}
		if p := u.Port(); p != "" {
			host = net.JoinHostPort(host, p)
		}
		u.Host = host
	}
	u.Host = strings.ToLower(u.Host)
	hostport := netguard.HostPort(u)
	if f.isTrusted(hostport) {
		return u, nil
	}
	if p := u.Port(); !f.AnyPort && p != "" && !(u.Scheme == "http" && p == "80") && !(u.Scheme == "https" && p == "443") {
		return nil, &Error{Kind: KindInvalidURL, Err: fmt.Errorf("port %s is not the scheme's", p)}
	}
	if ip, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil && !netguard.Public(ip) {
		return nil, &Error{Kind: KindPrivate, Err: netguard.ErrRefused}
	}
	return u, nil
}

// limit bounds a fetch by the fetcher's time limit.
func (f *Fetcher) limit(ctx context.Context) (context.Context, context.CancelFunc) {
	limit := f.Timeout
	if limit <= 0 {
		limit = Timeout
	}
	return context.WithTimeout(ctx, limit)
}

// get checks raw and GETs it under the fetcher's rules (netguard, the
// redirects, no cookies); only a 200 is answered. what names the thing in
// the error ("page", "picture").
func (f *Fetcher) get(ctx context.Context, raw, accept, what string) (*url.URL, *http.Response, error) {
	u, err := f.Check(raw)
	if err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, nil, &Error{Kind: KindInvalidURL, Err: err}
	}
	req.Header.Set("User-Agent", f.UserAgent)
	req.Header.Set("Accept", accept)
	req.Header.Set("Accept-Language", "ru, en;q=0.8")
	res, err := f.client.Do(req)
	if err != nil {
		return nil, nil, classify(ctx, err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		return nil, nil, &Error{Kind: KindStatus, Err: fmt.Errorf("the %s answered %d", what, res.StatusCode)}
	}
	return u, res, nil
}

// Fetch reads a page's preview. Its Preview.URL is the URL asked for
// (checked, without its fragment); the image is resolved against the page
// the redirects ended on.
func (f *Fetcher) Fetch(ctx context.Context, raw string) (*Preview, error) {
	ctx, cancel := f.limit(ctx)
	defer cancel()
	u, res, err := f.get(ctx, raw, "text/html, image/*;q=0.8", "page")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	ct := res.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && imageTypes[mt] {
		// A link to a picture shows the picture, through the proxy like a
		// page's (which reads it again, checking its bytes and size).
		return &Preview{URL: u.String(), Image: res.Request.URL.String()}, nil
	}
	if err != nil || mt != "text/html" {
		return nil, &Error{Kind: KindNotHTML, Err: fmt.Errorf("the page is %q", ct)}
	}
	// At most MaxHTML bytes are read, whatever the page declares; the head,
	// where the tags are, comes first.
	body, err := io.ReadAll(io.LimitReader(res.Body, MaxHTML))
	if err != nil && len(body) == 0 {
		return nil, classify(ctx, err)
	}
	// Russian sites still serve windows-1251: decode by the header, a
	// <meta charset> or the bytes.
	r, err := charset.NewReader(bytes.NewReader(body), ct)
	if err != nil {
		return nil, &Error{Kind: KindNotHTML, Err: err}
	}
	p := parse(r, res.Request.URL)
	if p.Empty() {
		return nil, &Error{Kind: KindEmpty}
	}
	p.URL = u.String()
	return &p, nil
}

// classify names why a request failed.
func classify(ctx context.Context, err error) error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, netguard.ErrRefused):
		return &Error{Kind: KindPrivate, Err: netguard.ErrRefused}
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		return &Error{Kind: KindTimeout, Err: err}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &Error{Kind: KindTimeout, Err: err}
	}
	return &Error{Kind: KindUnreachable, Err: err}
}

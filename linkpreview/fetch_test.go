package linkpreview

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"

	"github.com/relay24/relay24/netguard"
)

// page serves html as text/html at every path.
func page(t *testing.T, html string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, html)
	}))
	t.Cleanup(s.Close)
	return s
}

// trusting is a fetcher that may reach these test servers (on loopback)
// and nothing else that is not public.
func trusting(servers ...*httptest.Server) *Fetcher {
	var hosts []string
	for _, s := range servers {
		u, _ := url.Parse(s.URL)
		hosts = append(hosts, u.Host)
	}
	return NewFetcher(netguard.TrustOnly(hosts...))
}

func wantKind(t *testing.T, err error, k Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", k)
	}
	if got := KindOf(err); got != k {
		t.Fatalf("error %v is %s, want %s", err, got, k)
	}
}

func TestOpenGraphParsed(t *testing.T) {
	s := page(t, `<!doctype html><html><head>
		<title>Plain title</title>
		<meta name="description" content="plain description">
		<meta property="og:title" content="  The &amp; OG
		   title ">
		<meta property="og:description" content="OG description&#x202e;reversed&#0;">
		<meta property="og:site_name" content="Example Site">
		<meta property="og:image" content="/img/cover.png">
		<meta name="twitter:title" content="Twitter title">
		</head><body><meta property="og:title" content="in the body"></body></html>`)
	p, err := trusting(s).Fetch(context.Background(), s.URL+"/articles/1?x=1#top")
	if err != nil {
		t.Fatal(err)
	}
	want := Preview{URL: s.URL + "/articles/1?x=1", Title: "The & OG title", Description: "OG descriptionreversed",
		SiteName: "Example Site", Image: s.URL + "/img/cover.png"}
	if *p != want {
		t.Fatalf("preview\n got %+v\nwant %+v", *p, want)
	}
}

func TestFallbacksAndCaps(t *testing.T) {
	long := strings.Repeat("слово ", 200)
	s := page(t, `<html><head><base href="https://cdn.example.com/a/"><title>Заголовок
		страницы</title><meta name="twitter:description" content="`+long+`">
		<meta name="twitter:image" content="pic.jpg"></head></html>`)
	p, err := trusting(s).Fetch(context.Background(), s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if p.Title != "Заголовок страницы" {
		t.Errorf("title %q", p.Title)
	}
	if n := len([]rune(p.Description)); n != MaxText || !strings.HasSuffix(p.Description, "…") {
		t.Errorf("description of %d characters: %q", n, p.Description)
	}
	if p.Image != "https://cdn.example.com/a/pic.jpg" {
		t.Errorf("image %q", p.Image)
	}
}

func TestWindows1251(t *testing.T) {
	body, _ := charmap.Windows1251.NewEncoder().String(`<html><head><title>Привет, мир</title></head></html>`)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=windows-1251")
		fmt.Fprint(w, body)
	}))
	defer s.Close()
	p, err := trusting(s).Fetch(context.Background(), s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if p.Title != "Привет, мир" {
		t.Fatalf("title %q", p.Title)
	}
}

// Only the first MaxHTML bytes are read: a title behind more padding than
// that is never seen (and one behind less is, so the cap is what hides it).
func TestSizeCap(t *testing.T) {
	for _, tc := range []struct {
		pad  int
		seen bool
	}{{MaxHTML / 2, true}, {MaxHTML + 1024, false}} {
		var sent atomic.Int64
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			n, _ := fmt.Fprint(w, "<html><head><!--"+strings.Repeat("x", tc.pad)+"--><title>Late</title></head>")
			sent.Add(int64(n))
			// More than anyone should read: the fetch must stop early.
			for i := 0; i < 64; i++ {
				n, err := w.Write([]byte(strings.Repeat("y", 64<<10)))
				sent.Add(int64(n))
				if err != nil {
					return
				}
			}
		}))
		p, err := trusting(s).Fetch(context.Background(), s.URL)
		s.Close()
		if tc.seen {
			if err != nil || p.Title != "Late" {
				t.Fatalf("pad %d: %+v %v", tc.pad, p, err)
			}
			continue
		}
		wantKind(t, err, KindEmpty)
	}
}

func TestSlowPageTimesOut(t *testing.T) {
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		select { // never answers in time; ends with the test
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer s.Close()
	defer close(release)
	f := trusting(s)
	f.Timeout = 50 * time.Millisecond
	_, err := f.Fetch(context.Background(), s.URL)
	wantKind(t, err, KindTimeout)
}

func TestNotHTMLRefused(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		fmt.Fprint(w, "<html><head><title>a pdf that looks like html</title></head></html>")
	}))
	defer s.Close()
	_, err := trusting(s).Fetch(context.Background(), s.URL)
	wantKind(t, err, KindNotHTML)
}

// A link to a picture is a preview of the picture alone (the proxy reads
// it again, by its bytes): its body is never read as a page.
func TestPictureLinkIsItsImage(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/photo" {
			http.Redirect(w, r, "/img/photo.png", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		fmt.Fprint(w, "<html><head><title>a png that looks like html</title></head></html>")
	}))
	defer s.Close()
	p, err := trusting(s).Fetch(context.Background(), s.URL+"/photo")
	if err != nil {
		t.Fatal(err)
	}
	if p.Title != "" || p.Image != s.URL+"/img/photo.png" || p.URL != s.URL+"/photo" || p.Empty() {
		t.Fatalf("preview of a picture's link: %+v", p)
	}
}

func TestStatusRefused(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, "<title>Not found</title>")
	}))
	defer s.Close()
	_, err := trusting(s).Fetch(context.Background(), s.URL)
	wantKind(t, err, KindStatus)
}

// A trusted page that redirects to loopback (another port: an internal
// service) is refused on the redirect, and the internal service never
// sees a request.
func TestRedirectToLoopbackRefused(t *testing.T) {
	var hit atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit.Add(1)
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<title>internal admin</title>")
	}))
	defer internal.Close()
	for _, target := range []string{internal.URL, strings.Replace(internal.URL, "127.0.0.1", "localhost", 1)} {
		s := httptest.NewServer(http.RedirectHandler(target+"/admin", http.StatusFound))
		f := trusting(s)
		// Any port: the refusal must be the dialer's, not the port rule's.
		f.AnyPort = true
		_, err := f.Fetch(context.Background(), s.URL)
		s.Close()
		wantKind(t, err, KindPrivate)
	}
	// Asked directly, without trust, too.
	f := NewFetcher(nil)
	f.AnyPort = true
	_, err := f.Fetch(context.Background(), strings.Replace(internal.URL, "127.0.0.1", "localhost", 1))
	wantKind(t, err, KindPrivate)
	// A redirect to another port is refused by the port rule.
	s := httptest.NewServer(http.RedirectHandler(internal.URL+"/admin", http.StatusFound))
	defer s.Close()
	_, err = trusting(s).Fetch(context.Background(), s.URL)
	wantKind(t, err, KindRedirects)
	if n := hit.Load(); n != 0 {
		t.Fatalf("the internal server was asked %d times", n)
	}
	// Trusting it (as the test server) is what lets it through: the
	// refusal above is the guard's, not the test's setup.
	if p, err := trusting(internal).Fetch(context.Background(), internal.URL); err != nil || p.Title != "internal admin" {
		t.Fatalf("trusted: %+v %v", p, err)
	}
}

func TestRedirectLimit(t *testing.T) {
	var s *httptest.Server
	s = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscanf(r.URL.Path, "/r/%d", &n)
		if n > 0 {
			http.Redirect(w, r, fmt.Sprintf("%s/r/%d", s.URL, n-1), http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<title>Arrived</title>")
	}))
	defer s.Close()
	f := trusting(s)
	if p, err := f.Fetch(context.Background(), s.URL+"/r/3"); err != nil || p.Title != "Arrived" {
		t.Fatalf("three redirects: %+v %v", p, err)
	}
	_, err := f.Fetch(context.Background(), s.URL+"/r/4")
	wantKind(t, err, KindRedirects)
}

func TestCheck(t *testing.T) {
	f := NewFetcher(nil)
	for raw, want := range map[string]Kind{
		"https://example.com/a?b#c":            "",
		"http://example.com:80/":               "",
		"https://EXAMPLE.com:443/":             "",
		"ftp://example.com/":                   KindInvalidURL,
		"javascript:alert(1)":                  KindInvalidURL,
		"//example.com/":                       KindInvalidURL,
		"https://user:pw@example.com/":         KindInvalidURL,
		"https://example.com:8443/":            KindInvalidURL,
		"http://example.com:22/":               KindInvalidURL,
		"https:///path":                        KindInvalidURL,
		"http://127.0.0.1/":                    KindPrivate,
		"http://10.0.0.1/":                     KindPrivate,
		"http://169.254.169.254/latest/":       KindPrivate,
		"http://[::1]/":                        KindPrivate,
		"http://[::ffff:192.168.0.1]/":         KindPrivate,
		"http://0.0.0.0/":                      KindPrivate,
		"https://" + strings.Repeat("a", 3000): KindInvalidURL,
	} {
		u, err := f.Check(raw)
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", raw, err)
			} else if u.Fragment != "" {
				t.Errorf("%s: fragment kept", raw)
			} else if strings.Contains(raw, "рф") && u.Host != "xn--e1afmkfd.xn--p1ai" {
				t.Errorf("%s: host %q", raw, u.Host)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Kind != want {
			t.Errorf("%s: %v, want %s", raw, err, want)
		}
	}
}

// A picture is typed by its bytes, and one over MaxImage is refused
// whatever its header declares.
func TestImage(t *testing.T) {
	gif := []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/gif":
			w.Header().Set("Content-Type", "text/html")
			w.Write(gif)
		case "/svg":
			w.Header().Set("Content-Type", "image/png")
			fmt.Fprint(w, `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)
		case "/huge":
			w.Header().Set("Content-Type", "image/png")
			w.Write([]byte("\x89PNG\r\n\x1a\n"))
			w.(http.Flusher).Flush() // no length declared: the cap must cut the body
			for range MaxImage/(64<<10) + 2 {
				if _, err := w.Write(make([]byte, 64<<10)); err != nil {
					return
				}
			}
		}
	}))
	defer s.Close()
	f := trusting(s)
	b, typ, err := f.Image(context.Background(), s.URL+"/gif")
	if err != nil || typ != "image/gif" || len(b) != len(gif) {
		t.Fatalf("gif: %s %d %v", typ, len(b), err)
	}
	_, _, err = f.Image(context.Background(), s.URL+"/svg")
	wantKind(t, err, KindNotImage)
	_, _, err = f.Image(context.Background(), s.URL+"/huge")
	wantKind(t, err, KindTooLarge)
}

package relay

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

func TestPublicAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "2a00:1450:4010::8a": true, "185.12.3.4": true,
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false, "169.254.169.254": false,
		"100.64.0.1": false, "0.0.0.0": false, "0.1.2.3": false, "::1": false, "fe80::1": false, "fc00::1": false,
		"::ffff:127.0.0.1": false, "::ffff:8.8.8.8": true, "224.0.0.1": false, "255.255.255.255": false, "::": false,
	} {
		if got := publicAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("publicAddr(%s) = %v", addr, got)
		}
	}
	for raw, want := range map[string]string{
		"https://api.wazzup24.com/v3": "api.wazzup24.com:443", "http://127.0.0.1:8080": "127.0.0.1:8080",
		"http://example.com": "example.com:80", "": "",
	} {
		if got := hostPort(raw); got != want {
			t.Errorf("hostPort(%q) = %q", raw, got)
		}
	}
}

// The trusted host (the Wazzup API's) is reached, a redirect within it is
// followed, one to another host is not, and another loopback port is never
// dialled.
func TestMediaGetGuards(t *testing.T) {
	var otherHits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		_, _ = io.WriteString(w, "secret")
	}))
	defer other.Close()
	trusted := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/file":
			_, _ = io.WriteString(w, "bytes")
		case "/here":
			http.Redirect(w, r, "/file", http.StatusFound)
		case "/away":
			http.Redirect(w, r, other.URL+"/file", http.StatusFound)
		}
	}))
	defer trusted.Close()
	s := &Service{mediaHTTP: newMediaClient(hostPort(trusted.URL))}
	ctx := context.Background()
	if b, fail := s.mediaGet(ctx, trusted.URL+"/file"); fail != nil || string(b) != "bytes" {
		t.Fatalf("trusted: %q %v", b, fail)
	}
	if b, fail := s.mediaGet(ctx, trusted.URL+"/here"); fail != nil || string(b) != "bytes" {
		t.Fatalf("redirect within the host: %q %v", b, fail)
	}
	if _, fail := s.mediaGet(ctx, trusted.URL+"/away"); fail == nil || !fail.permanent || !strings.Contains(fail.reason, "another host") {
		t.Fatalf("redirect away: %v", fail)
	}
	if _, fail := s.mediaGet(ctx, other.URL+"/file"); fail == nil || !fail.permanent || !strings.Contains(fail.reason, "private") {
		t.Fatalf("another loopback port: %v", fail)
	}
	for _, raw := range []string{"file:///etc/passwd", "http://user:pw@example.com/a", "javascript:alert(1)", "//example.com/a"} {
		if _, fail := s.mediaGet(ctx, raw); fail == nil || !fail.permanent {
			t.Errorf("%s: %v", raw, fail)
		}
	}
	if n := otherHits.Load(); n != 0 {
		t.Fatalf("the other server was asked %d times", n)
	}
}

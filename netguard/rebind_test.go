package netguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// fakeDNS answers A queries for one name from a list, one answer per query
// (the last one repeats): the rebinding attacker's name server.
func fakeDNS(t *testing.T, answers ...[4]byte) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	var mu sync.Mutex
	n := 0
	go func() {
		buf := make([]byte, 512)
		for {
			l, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:l])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
			b.EnableCompression()
			_ = b.StartQuestions()
			_ = b.Question(q)
			_ = b.StartAnswers()
			if q.Type == dnsmessage.TypeA {
				mu.Lock()
				a := answers[min(n, len(answers)-1)]
				n++
				mu.Unlock()
				_ = b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 0}, dnsmessage.AResource{A: a})
			}
			msg, _ := b.Finish()
			_, _ = pc.WriteTo(msg, addr)
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

// DNS rebinding: a name that resolves to a public address and then to a
// private one is checked at every dial, and the address dialled is the one
// checked (never the name, which a second look-up could re-point).
func TestRebindingCheckedAtDial(t *testing.T) {
	var dialled atomic.Value
	errStop := errors.New("stopped before connecting")
	d := &Dialer{
		Resolver: fakeDNS(t, [4]byte{93, 184, 216, 34}, [4]byte{127, 0, 0, 1}),
		Dialer: &net.Dialer{Control: func(_, address string, _ syscall.RawConn) error {
			dialled.Store(address)
			return errStop // a test never connects out
		}},
	}
	ctx := context.Background()
	if _, err := d.DialContext(ctx, "tcp4", "rebind.example:80"); !errors.Is(err, errStop) {
		t.Fatalf("first dial: %v", err)
	}
	if got, _ := dialled.Load().(string); got != "93.184.216.34:80" {
		t.Fatalf("dialled %q, want the checked address", got)
	}
	dialled.Store("")
	if _, err := d.DialContext(ctx, "tcp4", "rebind.example:80"); !errors.Is(err, ErrRefused) {
		t.Fatalf("after rebinding to loopback: %v, want ErrRefused", err)
	}
	if got, _ := dialled.Load().(string); got != "" {
		t.Fatalf("the rebound name was dialled: %q", got)
	}
}

// Loopback written the ways URL parsers and inet_aton read it (short,
// decimal, hex, octal, IPv4-mapped IPv6) never reaches a loopback server.
func TestLoopbackSpellingsRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var hits atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			hits.Add(1)
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	d := &Dialer{}
	for _, host := range []string{"127.1", "2130706433", "0x7f.1", "0x7f000001", "0177.0.0.1", "::ffff:127.0.0.1", "::1", "0.0.0.0", "localhost"} {
		c, err := d.DialContext(context.Background(), "tcp", net.JoinHostPort(host, port))
		if err == nil {
			c.Close()
			t.Errorf("%s: dialled", host)
		}
		if ip, perr := netip.ParseAddr(host); perr == nil && !errors.Is(err, ErrRefused) {
			t.Errorf("%s (%v): %v, want ErrRefused", host, ip, err)
		}
		if strings.Contains(host, ":") && Public(netip.MustParseAddr(host)) {
			t.Errorf("%s is public", host)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the loopback server was reached %d times", n)
	}
}

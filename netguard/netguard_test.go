package netguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
)

func TestPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"93.184.216.34": true, "2606:2800:220:1:248:1893:25c8:1946": true,
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "100.64.0.1": false, "0.0.0.0": false, "0.1.2.3": false,
		"224.0.0.1": false, "255.255.255.255": false, "::1": false, "fe80::1": false,
		"fc00::1": false, "ff02::1": false, "::": false, "::ffff:127.0.0.1": false, "::ffff:8.8.8.8": true,
	} {
		if got := Public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Public(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestDialRefusesLoopbackUnlessTrusted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	ctx := context.Background()
	d := &Dialer{}
	if _, err := d.DialContext(ctx, "tcp", ln.Addr().String()); !errors.Is(err, ErrRefused) {
		t.Fatalf("loopback dial: %v, want ErrRefused", err)
	}
	// A name that resolves to loopback is refused after resolution.
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if _, err := d.DialContext(ctx, "tcp", net.JoinHostPort("localhost", port)); !errors.Is(err, ErrRefused) {
		t.Fatalf("localhost dial: %v, want ErrRefused", err)
	}
	d.Trusted = TrustOnly(ln.Addr().String())
	c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("trusted dial: %v", err)
	}
	c.Close()
	// Trusting one port trusts nothing else on the host.
	if _, err := d.DialContext(ctx, "tcp", "127.0.0.1:1"); !errors.Is(err, ErrRefused) {
		t.Fatalf("other loopback port: %v, want ErrRefused", err)
	}
}

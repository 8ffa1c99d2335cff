// Package netguard dials only public addresses. A URL that comes from
// outside (a client's message, a gateway's link) may name a host that
// resolves to the server's own network; the check is made on the address
// actually dialled, after DNS resolution, so a name that resolves to a
// private address (or is re-pointed there between two look-ups) is refused
// too. Every connection an http.Client makes goes through DialContext, so
// a redirect's target is checked as well.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// ErrRefused is a dial to an address that is not a public one.
var ErrRefused = errors.New("the link points to a private address")

// sharedAddressSpace is 100.64.0.0/10 (carrier-grade NAT), which
// netip.Addr.IsPrivate does not count.
var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")

// Public reports whether an address is one on the public internet: not
// loopback, private, link-local, multicast, unspecified, carrier-grade NAT
// or 0.0.0.0/8.
func Public(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsValid() && ip.IsGlobalUnicast() && !ip.IsPrivate() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() &&
		!sharedAddressSpace.Contains(ip) && !(ip.Is4() && ip.As4()[0] == 0)
}

// Dialer dials public addresses only.
type Dialer struct {
	// Dialer makes the connection; nil: a plain net.Dialer.
	Dialer *net.Dialer
	// Resolver resolves names; nil: net.DefaultResolver.
	Resolver *net.Resolver
	// Trusted, when set, lets a host:port through unchecked: the one
	// non-public service a caller is configured to reach (a gateway
	// emulator in demos, a test server). The policy is injectable so a test
	// on loopback can reach its own server while proving that any other
	// loopback address is refused.
	Trusted func(hostport string) bool
}

// TrustOnly is a Trusted policy for the given host:port pairs (compared
// without case); empty entries are ignored.
func TrustOnly(hostports ...string) func(string) bool {
	return func(addr string) bool {
		for _, h := range hostports {
			if h != "" && strings.EqualFold(addr, h) {
				return true
			}
		}
		return false
	}
}

// DialContext resolves addr's host, refuses it (ErrRefused) when any of its
// addresses is not public, and dials the address it checked.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	nd := d.Dialer
	if nd == nil {
		nd = &net.Dialer{}
	}
	if d.Trusted != nil && d.Trusted(addr) {
		return nd.DialContext(ctx, network, addr)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	r := d.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ips, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("%s has no address", host)
	}
	for _, ip := range ips {
		if !Public(ip) {
			return nil, ErrRefused
		}
	}
	// The address checked is the address dialled.
	return nd.DialContext(ctx, network, net.JoinHostPort(ips[0].Unmap().String(), port))
}

// HostPort is a URL's host:port, its scheme's port when it names none.
func HostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

package apptest

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// FreeAddr returns a 127.0.0.1 address free now, for a process started
// later to listen on. Its port lies below the kernel's ephemeral range: a
// port taken from ":0" and closed again may be handed to any other socket
// (a listener of a parallel test, an outgoing connection's local end) before
// that process binds it, and a restarted process must find its port free
// again. Ports below the range are given to nobody but who asks by number.
func FreeAddr(t testing.TB) string {
	t.Helper()
	low := ephemeralLow()
	for range 200 {
		port := low - 1 - rand.IntN(low-10000)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		ln.Close()
		return addr
	}
	t.Fatal("no free port below the ephemeral range")
	return ""
}

// ephemeralLow is the first port the kernel hands out for ":0".
func ephemeralLow() int {
	const fallback = 32768
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return fallback
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return fallback
	}
	low, err := strconv.Atoi(f[0])
	if err != nil || low < 12000 {
		return fallback
	}
	return low
}

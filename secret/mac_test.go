package secret

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestMAC(t *testing.T) {
	k := mustKeys(t, 1)
	mac := k.MAC("link", []byte("1.2.3"))
	if !k.CheckMAC("link", []byte("1.2.3"), mac) {
		t.Fatal("a genuine MAC refused")
	}
	for name, c := range map[string]struct {
		keys             *Keys
		purpose, payload string
		mac              string
	}{
		"other payload": {k, "link", "1.2.4", mac},
		"other purpose": {k, "session", "1.2.3", mac},
		"other key":     {mustKeys(t, 2), "link", "1.2.3", mac},
		"tampered":      {k, "link", "1.2.3", mac[:len(mac)-2] + "AA"},
		"truncated":     {k, "link", "1.2.3", mac[:10]},
		"not base64":    {k, "link", "1.2.3", "!!!"},
		"empty":         {k, "link", "1.2.3", ""},
	} {
		if c.keys.CheckMAC(c.purpose, []byte(c.payload), c.mac) {
			t.Errorf("%s: accepted", name)
		}
	}
	// A detached MAC is neither a Hash nor the signature part of a Sign of
	// the same bytes and purpose (their purposes are kept apart).
	raw, _ := base64.RawURLEncoding.DecodeString(mac)
	_, signed, _ := strings.Cut(k.Sign("link", []byte("1.2.3")), ".")
	if Equal(k.Hash("link", "1.2.3"), raw) || signed == mac || k.CheckMAC("link", []byte("1.2.3"), signed) {
		t.Error("a MAC collides with another kind of signature")
	}
}

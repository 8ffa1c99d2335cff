package secret

import (
	"bytes"
	"testing"
)

func mustKeys(t *testing.T, b byte) *Keys {
	t.Helper()
	k, err := New(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k := mustKeys(t, 1)
	sealed := k.Seal("refresh-token", "portal:1:refresh")
	if bytes.Contains(sealed, []byte("refresh-token")) {
		t.Fatal("plaintext visible in sealed value")
	}
	got, err := k.Open(sealed, "portal:1:refresh")
	if err != nil || got != "refresh-token" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := k.Open(sealed, "portal:2:refresh"); err == nil {
		t.Fatal("opened with another context")
	}
	if _, err := mustKeys(t, 2).Open(sealed, "portal:1:refresh"); err == nil {
		t.Fatal("opened with another key")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := k.Open(sealed, "portal:1:refresh"); err == nil {
		t.Fatal("opened a tampered value")
	}
}

func TestSignVerify(t *testing.T) {
	k := mustKeys(t, 1)
	tok := k.Sign("session", []byte(`{"p":1}`))
	if p, err := k.Verify("session", tok); err != nil || string(p) != `{"p":1}` {
		t.Fatalf("Verify = %q, %v", p, err)
	}
	for name, bad := range map[string]string{
		"other purpose": "", "tampered": tok[:len(tok)-2] + "AA", "no dot": "abc", "empty": "",
	} {
		purpose := "session"
		if name == "other purpose" {
			purpose, bad = "state", tok
		}
		if _, err := k.Verify(purpose, bad); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
	if _, err := mustKeys(t, 2).Verify("session", tok); err == nil {
		t.Error("verified with another key")
	}
}

func TestShortKeyRefused(t *testing.T) {
	if _, err := New(make([]byte, 31)); err == nil {
		t.Fatal("31-byte key accepted")
	}
}

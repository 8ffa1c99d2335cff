// Package secret seals values at rest (OAuth tokens, channel credentials) and
// signs short opaque tokens (sessions, OAuth state) and links (attachment
// URLs), all keyed from SECRET_KEY.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is returned for a sealed value or signed token that fails its check.
var ErrInvalid = errors.New("secret: invalid or tampered value")

// Keys holds the subkeys derived from SECRET_KEY. Separate subkeys keep a
// signature from ever being usable as a ciphertext key and vice versa.
type Keys struct {
	aead    cipher.AEAD
	signKey []byte
}

// New derives the keys from the master secret (32 bytes or more).
func New(master []byte) (*Keys, error) {
	if len(master) < 32 {
		return nil, fmt.Errorf("secret: key has %d bytes, need 32 or more", len(master))
	}
	encKey, err := hkdf.Key(sha256.New, master, nil, "relay24 encryption v1", 32)
	if err != nil {
		return nil, fmt.Errorf("secret: deriving encryption key: %w", err)
	}
	signKey, err := hkdf.Key(sha256.New, master, nil, "relay24 signing v1", 32)
	if err != nil {
		return nil, fmt.Errorf("secret: deriving signing key: %w", err)
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, fmt.Errorf("secret: cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret: gcm: %w", err)
	}
	return &Keys{aead: aead, signKey: signKey}, nil
}

// Seal encrypts plaintext; context binds the ciphertext to its place (e.g.
// "portal:17:refresh") so a value copied to another row will not open.
func (k *Keys) Seal(plaintext, context string) []byte {
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		// crypto/rand does not fail on supported platforms (Go 1.24+ panics itself).
		panic(err)
	}
	return k.aead.Seal(nonce, nonce, []byte(plaintext), []byte(context))
}

// Open decrypts a value sealed with the same context.
func (k *Keys) Open(sealed []byte, context string) (string, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n {
		return "", ErrInvalid
	}
	pt, err := k.aead.Open(nil, sealed[:n], sealed[n:], []byte(context))
	if err != nil {
		return "", ErrInvalid
	}
	return string(pt), nil
}

// Sign returns payload (any bytes) as "base64url(payload).base64url(mac)";
// purpose separates token kinds (a session can never pass as OAuth state).
func (k *Keys) Sign(purpose string, payload []byte) string {
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(k.mac(purpose, p))
}

// Verify checks a token made by Sign with the same purpose and returns its payload.
func (k *Keys) Verify(purpose, token string) ([]byte, error) {
	p, m, ok := strings.Cut(token, ".")
	if !ok {
		return nil, ErrInvalid
	}
	got, err := base64.RawURLEncoding.DecodeString(m)
	if err != nil || !hmac.Equal(got, k.mac(purpose, p)) {
		return nil, ErrInvalid
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return nil, ErrInvalid
	}
	return payload, nil
}

// MAC is a detached signature (base64url) of payload for purpose, for a
// payload that travels in the clear beside it (a signed link's parameters).
// Its purposes are kept apart from Sign's and Hash's.
func (k *Keys) MAC(purpose string, payload []byte) string {
	return base64.RawURLEncoding.EncodeToString(k.mac("mac:"+purpose, string(payload)))
}

// CheckMAC reports, in constant time, whether mac is MAC(purpose, payload).
func (k *Keys) CheckMAC(purpose string, payload []byte, mac string) bool {
	got, err := base64.RawURLEncoding.DecodeString(mac)
	return err == nil && hmac.Equal(got, k.mac("mac:"+purpose, string(payload)))
}

func (k *Keys) mac(purpose, payload string) []byte {
	h := hmac.New(sha256.New, k.signKey)
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write([]byte(payload))
	return h.Sum(nil)
}

// Hash is a keyed digest for values that are only ever compared (the portal's
// application token, webhook keys): a database leak does not reveal them.
func (k *Keys) Hash(purpose, value string) []byte {
	return k.mac("hash:"+purpose, value)
}

// Equal compares two digests in constant time.
func Equal(a, b []byte) bool { return len(a) > 0 && hmac.Equal(a, b) }

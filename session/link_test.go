package session

import (
	"bytes"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/relay24/relay24/secret"
)

func TestAttachmentLink(t *testing.T) {
	keys, err := secret.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 9, 3, 0, 0, time.UTC)
	s := NewSigner(keys, func() time.Time { return now })
	exp, sig := s.AttachmentLink(3, 42, 1)
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if life := time.Unix(e, 0).Sub(now); life < LinkTTL || life > LinkTTL+linkStep {
		t.Fatalf("a link lives %s", life)
	}
	if err := s.CheckAttachmentLink(3, 42, 1, exp, sig); err != nil {
		t.Fatalf("a genuine link refused: %v", err)
	}
	// Issued again a moment later: the same URL, so the browser's cache serves it.
	now = now.Add(time.Minute)
	if exp2, sig2 := s.AttachmentLink(3, 42, 1); exp2 != exp || sig2 != sig {
		t.Error("a refetch a minute later got another URL")
	}

	other, err := secret.New(bytes.Repeat([]byte{8}, 32))
	if err != nil {
		t.Fatal(err)
	}
	_, otherSig := NewSigner(other, func() time.Time { return now }).AttachmentLink(3, 42, 1)
	_, portalBSig := s.AttachmentLink(4, 42, 1) // what portal B's caller would be issued
	later := strconv.FormatInt(e+3600, 10)
	for name, c := range map[string]struct {
		portal, message int64
		n               int
		exp, sig        string
	}{
		"another portal's message":   {4, 42, 1, exp, sig},
		"portal B's signature":       {3, 42, 1, exp, portalBSig},
		"another message":            {3, 43, 1, exp, sig},
		"another attachment":         {3, 42, 0, exp, sig},
		"a later expiry":             {3, 42, 1, later, sig},
		"no signature":               {3, 42, 1, exp, ""},
		"no expiry":                  {3, 42, 1, "", sig},
		"tampered signature":         {3, 42, 1, exp, sig[:len(sig)-2] + "AA"},
		"another SECRET_KEY":         {3, 42, 1, exp, otherSig},
		"a session as the signature": {3, 42, 1, exp, func() string { tok, _ := s.Issue(3, 42); return tok }()},
	} {
		err := s.CheckAttachmentLink(c.portal, c.message, c.n, c.exp, c.sig)
		if !errors.Is(err, secret.ErrInvalid) {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}

	now = time.Unix(e, 0)
	if err := s.CheckAttachmentLink(3, 42, 1, exp, sig); !errors.Is(err, ErrExpired) {
		t.Fatalf("an expired link: %v", err)
	}
	// Expiry is told apart only for a genuine link.
	if err := s.CheckAttachmentLink(3, 42, 0, exp, sig); !errors.Is(err, secret.ErrInvalid) {
		t.Fatalf("an expired forged link: %v", err)
	}
}

func TestFileLink(t *testing.T) {
	keys, err := secret.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 9, 3, 0, 0, time.UTC)
	s := NewSigner(keys, func() time.Time { return now })
	exp, sig := s.FileLink(3, 42)
	if e, _ := strconv.ParseInt(exp, 10, 64); time.Unix(e, 0).Sub(now) != FileLinkTTL {
		t.Fatalf("life of a file link: %s", time.Unix(e, 0).Sub(now))
	}
	if err := s.CheckFileLink(3, 42, exp, sig); err != nil {
		t.Fatal(err)
	}
	// An attachment link's signature of the same numbers is not a file link's.
	aExp, aSig := s.AttachmentLink(3, 42, 0)
	for name, c := range map[string][4]any{
		"other portal":    {int64(4), int64(42), exp, sig},
		"other file":      {int64(3), int64(43), exp, sig},
		"other expiry":    {int64(3), int64(42), exp + "0", sig},
		"no signature":    {int64(3), int64(42), exp, ""},
		"attachment link": {int64(3), int64(42), aExp, aSig},
	} {
		if err := s.CheckFileLink(c[0].(int64), c[1].(int64), c[2].(string), c[3].(string)); !errors.Is(err, secret.ErrInvalid) {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	now = now.Add(FileLinkTTL)
	if err := s.CheckFileLink(3, 42, exp, sig); !errors.Is(err, ErrExpired) {
		t.Fatalf("an expired link: %v", err)
	}
}

// A link clock of its own moves links (attachments, preview pictures) and
// nothing else: a session issued by the same signer still holds.
func TestLinkClock(t *testing.T) {
	keys, err := secret.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 9, 3, 0, 0, time.UTC)
	linkNow := now
	s := NewSigner(keys, func() time.Time { return now })
	s.SetLinkClock(func() time.Time { return linkNow })
	exp, sig := s.AttachmentLink(3, 42, 1)
	pExp, pSig := s.PreviewImageLink(3, "https://example.com/a.png")
	tok, _ := s.Issue(3, 5)
	linkNow = linkNow.Add(2 * LinkTTL)
	if err := s.CheckAttachmentLink(3, 42, 1, exp, sig); !errors.Is(err, ErrExpired) {
		t.Errorf("attachment link two hours later: %v; want expired", err)
	}
	if err := s.CheckPreviewImageLink(3, "https://example.com/a.png", pExp, pSig); !errors.Is(err, ErrExpired) {
		t.Errorf("preview link two hours later: %v; want expired", err)
	}
	if _, err := s.Parse(tok); err != nil {
		t.Errorf("the session went with the links' clock: %v", err)
	}
	if fExp, fSig := s.AttachmentLink(3, 42, 1); s.CheckAttachmentLink(3, 42, 1, fExp, fSig) != nil {
		t.Error("a link issued by the moved clock is refused")
	}
}

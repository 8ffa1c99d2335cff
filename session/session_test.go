package session

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/relay24/relay24/secret"
)

func TestIssueParse(t *testing.T) {
	keys, err := secret.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	s := NewSigner(keys, func() time.Time { return now })
	tok, ss := s.Issue(3, 42)
	if ss.Expires.Sub(now) < 8*time.Hour {
		t.Fatalf("session lives %s, want at least 8h", ss.Expires.Sub(now))
	}
	got, err := s.Parse(tok)
	if err != nil || got.PortalID != 3 || got.UserID != 42 {
		t.Fatalf("Parse = %+v, %v", got, err)
	}
	now = now.Add(TTL)
	if _, err := s.Parse(tok); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired session: %v", err)
	}
	if _, err := s.ParseState(tok); err == nil {
		t.Fatal("a session passed as OAuth state")
	}
	st := s.IssueState("abc", "n1")
	if got, err := s.ParseState(st); err != nil || got.MemberID != "abc" {
		t.Fatalf("ParseState = %+v, %v", got, err)
	}
	if _, err := s.Parse(st); err == nil {
		t.Fatal("a state passed as session")
	}
}

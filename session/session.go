// Package session issues and checks relay24's signed sessions (CONTRACT §4):
// opaque tokens naming a portal, a Bitrix24 user and an expiry, obtained only
// by proving a valid portal authorization.
package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/relay24/relay24/secret"
)

// TTL is a session's lifetime: a working day inside the portal.
const TTL = 12 * time.Hour

// Session is who is calling.
type Session struct {
	PortalID int64     `json:"p"`
	UserID   int64     `json:"u"`
	Expires  time.Time `json:"-"`
	Exp      int64     `json:"e"`
}

// ErrExpired is returned for a well-signed but expired session.
var ErrExpired = errors.New("session expired")

// Signer issues and parses sessions.
type Signer struct {
	keys *secret.Keys
	now  func() time.Time
	// linkNow is the clock of signed links (attachments, preview
	// pictures); nil: now.
	linkNow func() time.Time
}

// SetLinkClock gives signed links a clock of their own (a test lets an
// hour pass for links while sessions and jobs keep real time). Call it
// before the signer is used.
func (s *Signer) SetLinkClock(now func() time.Time) { s.linkNow = now }

func (s *Signer) linkTime() time.Time {
	if s.linkNow != nil {
		return s.linkNow()
	}
	return s.now()
}

// NewSigner makes a signer; now may be nil (time.Now).
func NewSigner(keys *secret.Keys, now func() time.Time) *Signer {
	if now == nil {
		now = time.Now
	}
	return &Signer{keys: keys, now: now}
}

const purpose = "session v1"

// Issue signs a session for the user.
func (s *Signer) Issue(portalID, userID int64) (string, Session) {
	exp := s.now().Add(TTL).Truncate(time.Second)
	ss := Session{PortalID: portalID, UserID: userID, Exp: exp.Unix(), Expires: exp}
	b, _ := json.Marshal(ss)
	return s.keys.Sign(purpose, b), ss
}

// Parse checks a token's signature and expiry.
func (s *Signer) Parse(token string) (Session, error) {
	b, err := s.keys.Verify(purpose, token)
	if err != nil {
		return Session{}, err
	}
	var ss Session
	if err := json.Unmarshal(b, &ss); err != nil || ss.PortalID <= 0 || ss.UserID <= 0 {
		return Session{}, fmt.Errorf("session payload: %w", secret.ErrInvalid)
	}
	ss.Expires = time.Unix(ss.Exp, 0)
	if !s.now().Before(ss.Expires) {
		return Session{}, ErrExpired
	}
	return ss, nil
}

// State is the signed OAuth state of a standalone login: which portal it was
// started for, and until when it may finish.
type State struct {
	MemberID string `json:"m"`
	Exp      int64  `json:"e"`
	Nonce    string `json:"n"`
}

const statePurpose = "oauth state v1"

// IssueState signs a login state valid for ten minutes.
func (s *Signer) IssueState(memberID, nonce string) string {
	b, _ := json.Marshal(State{MemberID: memberID, Exp: s.now().Add(10 * time.Minute).Unix(), Nonce: nonce})
	return s.keys.Sign(statePurpose, b)
}

// ParseState checks a login state.
func (s *Signer) ParseState(token string) (State, error) {
	b, err := s.keys.Verify(statePurpose, token)
	if err != nil {
		return State{}, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil || st.MemberID == "" {
		return State{}, fmt.Errorf("state payload: %w", secret.ErrInvalid)
	}
	if s.now().Unix() >= st.Exp {
		return State{}, ErrExpired
	}
	return st, nil
}

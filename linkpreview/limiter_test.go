package linkpreview

import (
	"testing"
	"time"
)

// The shares of fetches, on a fixed clock: a user's is his own in his
// portal (the same user id in another portal is someone else), a portal's
// is shared by all its users, and both refill at their rate.
func TestShares(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	s := NewService(nil, nil, nil)
	fetches := func(portal, user string, n int) (allowed int) {
		for range n {
			if s.users.allow(portal+"/"+user, now) && s.portal.allow(portal, now) {
				allowed++
			}
		}
		return allowed
	}
	if got := fetches("1", "5", UserBurst+5); got != UserBurst {
		t.Fatalf("a user's burst: %d, want %d", got, UserBurst)
	}
	if got := fetches("2", "5", 1); got != 1 {
		t.Fatal("user 5 of portal 2 was limited by user 5 of portal 1")
	}
	// Portal 1's other users share what is left of its burst.
	left := PortalBurst - UserBurst
	got := 0
	for u := 6; u < 6+PortalBurst/UserBurst+1; u++ {
		got += fetches("1", string(rune('a'+u)), UserBurst)
	}
	if got != left {
		t.Fatalf("portal 1's other users got %d fetches, want %d", got, left)
	}
	now = now.Add(UserEvery)
	if got := fetches("1", "5", 2); got != 1 {
		t.Fatalf("after %v, user 5 got %d fetches (the portal's share refilled %d)", UserEvery, got, int(UserEvery/PortalEvery))
	}
	if s.images.allow("1", now) != true {
		t.Fatal("pictures have their own share")
	}
}

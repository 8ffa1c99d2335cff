package bitrix

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Budget reports what the pacer lets go now without reserving it, and a
// caller under WithMaxWait gives up instead of waiting longer.
func TestPacerBudgetAndMaxWait(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := NewPacer(3, 2)
	p.SetClock(func() time.Time { return now })
	if b := p.Budget(); b.Now != 3 || b.Wait != 0 || b.Interval != 500*time.Millisecond {
		t.Fatalf("fresh pacer: %+v, want 3 now", b)
	}
	if b := p.Budget(); b.Now != 3 {
		t.Fatalf("Budget reserved something: %+v", b)
	}
	ctx := WithMaxWait(context.Background(), 0)
	for i := range 3 {
		if _, err := p.wait(ctx, time.Second); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if b := p.Budget(); b.Now != 2-i {
			t.Fatalf("after %d requests: %+v, want %d now", i+1, b, 2-i)
		}
	}
	b := p.Budget()
	if b.Now != 0 || b.Wait != 500*time.Millisecond {
		t.Fatalf("spent pacer: %+v, want none now, one in 500ms", b)
	}
	_, err := p.wait(ctx, time.Second)
	var busy *busyError
	if !errors.As(err, &busy) || busy.left != 500*time.Millisecond {
		t.Fatalf("wait beyond the max wait = %v, want busy for 500ms", err)
	}
	if d, ok := RetryAfter(busy.asError("crm.timeline.comment.add")); !ok || d != 500*time.Millisecond {
		t.Fatalf("RetryAfter(busy) = %v, %v", d, ok)
	}
	if b := p.Budget(); b.Wait != 500*time.Millisecond {
		t.Fatalf("a busy answer reserved a slot: %+v", b)
	}
	now = now.Add(time.Second)
	if b := p.Budget(); b.Now != 2 {
		t.Fatalf("a second later: %+v, want 2 now", b)
	}
}

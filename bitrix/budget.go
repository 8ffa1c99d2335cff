package bitrix

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// CodePacerBusy is the code of a call the pacer did not let go because it
// would have had to wait longer than the caller's WithMaxWait: nothing was
// sent, and the portal's budget frees up after Error.RetryAfter.
const CodePacerBusy = "RELAY24_PACER_BUSY"

// Budget is what a portal's pacer allows at this moment.
type Budget struct {
	// Now is how many requests may go at once without waiting.
	Now int
	// Wait is how long until the next request may go (0 when Now > 0).
	Wait time.Duration
	// Interval is one request's share of the pace now.
	Interval time.Duration
	// Burst is how many requests the pacer lets go at once when full.
	Burst int
}

// Budget reports, without reserving anything, how many requests the pacer
// lets go now and, when none, how long until one: the job queue claims a
// portal's work only when the portal can take it.
func (p *Pacer) Budget() Budget {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.speedUpLocked(now)
	b := Budget{Interval: p.interval(), Burst: p.burst}
	if d := p.nextSlotLocked(now).Sub(now); d > 0 {
		b.Wait = d
		return b
	}
	t := p.tat
	if t.Before(now) {
		t = now
	}
	// Request k (from 0) goes at t + k·interval − tau.
	b.Now = int((now.Sub(t)+p.tau())/b.Interval) + 1
	b.Now = min(max(b.Now, 1), p.burst)
	return b
}

// nextSlotLocked is when the next request could go, without reserving it.
func (p *Pacer) nextSlotLocked(now time.Time) time.Time {
	t := p.tat
	if t.Before(now) {
		t = now
	}
	slot := t.Add(-p.tau())
	if slot.Before(now) {
		slot = now
	}
	if slot.Before(p.pausedUntil) {
		slot = p.pausedUntil
	}
	return slot
}

type maxWaitKey struct{}

// WithMaxWait makes the calls under ctx give up at once, with a
// CodePacerBusy error, rather than wait longer than d for the portal's pacer:
// a job worker goes on to another portal's work instead of sitting on this
// one's limiter.
func WithMaxWait(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, maxWaitKey{}, d)
}

func maxWaitFrom(ctx context.Context) (time.Duration, bool) {
	d, ok := ctx.Value(maxWaitKey{}).(time.Duration)
	return d, ok
}

// busyError is wait's answer when the next slot is further off than the
// caller's WithMaxWait.
type busyError struct{ left time.Duration }

func (e *busyError) Error() string {
	return fmt.Sprintf("the portal's request budget is spent; the next request may go in %s", e.left.Round(time.Millisecond))
}

func (e *busyError) asError(method string) *Error {
	return &Error{Code: CodePacerBusy, Status: http.StatusServiceUnavailable, Method: method,
		Description: "not sent: " + e.Error(), RetryAfter: e.left}
}

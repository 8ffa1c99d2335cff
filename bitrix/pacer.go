package bitrix

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// Documented limits of a portal that is not on Enterprise (limits.md): the
// leaky bucket holds 50 requests and drains 2 a second.
const (
	DefaultBurst     = 50
	DefaultPerSecond = 2.0
)

const (
	// quietPeriod without a refusal lets a slowed pacer speed up one step.
	quietPeriod = 30 * time.Second
	// unknownTimeBudgetReset is how long a method refused with
	// OPERATION_TIME_LIMIT is left alone when the portal never told when its
	// budget is released (a bucket of the budget is one minute).
	unknownTimeBudgetReset = time.Minute
)

// Pacer paces the REST requests to one portal; every Client of the portal
// shares it, as they share the portal's bucket.
//
// The portal's leaky bucket (limits.md) adds one to a counter for every
// incoming request — a refused one too — drains Y a second, and refuses
// requests while the counter is above X. The pacer mirrors it with a token
// bucket of the same rate and burst (GCRA: a request may go at tat-tau, and
// each pushes tat one interval on). The mirror can be wrong — the stored
// limits are wrong, clocks drift, other apps on our IP share the bucket — so
// when the portal refuses anyway the pacer
//
//   - halves its rate and burst, once for all requests sent at the old pace
//     (a refusal of a request sent after the slow-down halves again), and
//     gives them back step by step after quiet periods;
//   - pauses every caller until the counter has drained what was refused, at
//     the lowered rate: one interval per request refused since the last
//     accepted one, plus the one needed to get in, stretched by up to half
//     again at random so that callers (and instances) do not come back
//     together;
//   - drops its burst, so the callers let go after the pause go one per
//     interval and not all at once.
//
// A pause grows with a streak of refusals; a caller that would have to wait
// longer than it is willing to gets the refusal back with the pause as
// Error.RetryAfter (a job is put off, a page says "try again").
//
// It also remembers which methods the portal blocked for their time budget
// (429 OPERATION_TIME_LIMIT) and until when, so that nobody spends a request
// of the bucket on them meanwhile.
type Pacer struct {
	mu  sync.Mutex
	now func() time.Time

	nominalRate  float64 // the portal's drain rate as we were told
	nominalBurst int
	rate         float64 // the pace now (lower after refusals)
	burst        int

	tat         time.Time // GCRA theoretical arrival time
	pausedUntil time.Time // no request goes before this
	refused     int       // refusals since the last accepted request
	gen         uint64    // incremented by every slow-down
	lastSlow    time.Time // the last slow-down or speed-up step

	resetIn map[string]time.Duration // method → time until its budget frees, as last reported
	seenAt  map[string]time.Time     // method → when resetIn was reported
	blocked map[string]time.Time     // method → refused for its time budget until
}

// NewPacer paces requests to a portal whose bucket holds burst requests and
// drains perSecond; zero or negative values take the documented defaults.
func NewPacer(burst int, perSecond float64) *Pacer {
	p := &Pacer{now: time.Now, resetIn: map[string]time.Duration{}, seenAt: map[string]time.Time{}, blocked: map[string]time.Time{}}
	p.setLimitsLocked(burst, perSecond)
	return p
}

// SetLimits changes the portal's limits (the stored ones were edited). A
// pacer already at those limits keeps its state, slowed or not.
func (p *Pacer) SetLimits(burst int, perSecond float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setLimitsLocked(burst, perSecond)
}

func (p *Pacer) setLimitsLocked(burst int, perSecond float64) {
	if burst <= 0 {
		burst = DefaultBurst
	}
	if perSecond <= 0 {
		perSecond = DefaultPerSecond
	}
	if burst == p.nominalBurst && perSecond == p.nominalRate {
		return
	}
	p.nominalBurst, p.nominalRate = burst, perSecond
	p.burst, p.rate = burst, perSecond
}

// SetClock makes the pacer read the time from now (tests share the emulated
// portal's clock, which the time budget's reset times come from).
func (p *Pacer) SetClock(now func() time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.now = now
}

// Limits reports the pace now: the burst and rate in use, lower than the
// configured ones after refusals.
func (p *Pacer) Limits() (burst int, perSecond float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.burst, p.rate
}

// ticket is what Wait hands the request it lets go: the generation of the
// pace it was sent at.
type ticket struct{ gen uint64 }

func (p *Pacer) interval() time.Duration {
	return time.Duration(float64(time.Second) / p.rate)
}

// tau is how far ahead of tat a request may go: the burst.
func (p *Pacer) tau() time.Duration {
	return time.Duration(p.burst-1) * p.interval()
}

// pausedError is wait's answer when the pacer holds everyone back longer
// than the caller waits.
type pausedError struct{ left time.Duration }

func (e *pausedError) Error() string {
	return fmt.Sprintf("the portal refused requests a moment ago; requests are held back for %s", e.left.Round(time.Millisecond))
}

// wait blocks until a request may go, or ctx ends (or would end first). A
// pause after a refusal longer than maxPause is not waited out: wait returns
// a *pausedError at once.
func (p *Pacer) wait(ctx context.Context, maxPause time.Duration) (ticket, error) {
	for {
		p.mu.Lock()
		now := p.now()
		if left := p.pausedUntil.Sub(now); left > maxPause {
			p.mu.Unlock()
			return ticket{}, &pausedError{left: left}
		}
		p.speedUpLocked(now)
		if mw, ok := maxWaitFrom(ctx); ok {
			if left := p.nextSlotLocked(now).Sub(now); left > mw {
				p.mu.Unlock()
				return ticket{}, &busyError{left: left}
			}
		}
		slot, step := p.reserveLocked(now)
		mine := p.tat
		p.mu.Unlock()

		if d := slot.Sub(now); d > 0 {
			if err := sleep(ctx, d); err != nil {
				p.mu.Lock()
				if p.tat.Equal(mine) { // nobody queued behind: give the slot back
					p.tat = p.tat.Add(-step)
				}
				p.mu.Unlock()
				return ticket{}, fmt.Errorf("waiting for the portal's rate limit: %w", err)
			}
		}
		p.mu.Lock()
		// A refusal while we slept paused everyone: queue again behind it.
		if p.now().Before(p.pausedUntil) {
			p.mu.Unlock()
			continue
		}
		tk := ticket{gen: p.gen}
		p.mu.Unlock()
		return tk, nil
	}
}

// reserveLocked takes the next slot: a request may go at tat-tau (at once
// while the burst lasts), never before a pause ends, and pushes tat one
// interval on. It returns the slot and that interval.
func (p *Pacer) reserveLocked(now time.Time) (time.Time, time.Duration) {
	slot := p.nextSlotLocked(now)
	step := p.interval()
	if p.tat.Before(now) {
		p.tat = now
	}
	p.tat = p.tat.Add(step)
	return slot, step
}

// sleep waits d, giving up at once when ctx would end before.
func sleep(ctx context.Context, d time.Duration) error {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		if err := ctx.Err(); err != nil {
			return err
		}
		return context.DeadlineExceeded
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// speedUpLocked gives back one step of a slow-down per quiet period.
func (p *Pacer) speedUpLocked(now time.Time) {
	if p.rate >= p.nominalRate && p.burst >= p.nominalBurst {
		return
	}
	if now.Sub(p.lastSlow) < quietPeriod {
		return
	}
	p.lastSlow = now
	p.rate = min(p.nominalRate, p.rate+p.nominalRate/8)
	p.burst = min(p.nominalBurst, p.burst+max(1, p.nominalBurst/8))
}

// accepted notes that the portal let a request in (whatever it answered).
func (p *Pacer) accepted() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refused = 0
}

// refusedLimit notes a QUERY_LIMIT_EXCEEDED for a request sent with tk and
// returns how long the pacer now holds everyone back.
func (p *Pacer) refusedLimit(tk ticket) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.refused++
	if tk.gen == p.gen {
		// The first refusal of requests sent at this pace: slow down once.
		p.gen++
		p.lastSlow = now
		p.rate = max(p.nominalRate/16, p.rate/2)
		p.burst = max(1, p.burst/2)
	}
	// Each refused request stayed in the portal's counter: wait until the
	// drain took them out and made room for one. The rate we were told was
	// too high, or we would not have been refused: reckon with the lowered one.
	drain := time.Duration(float64(p.refused+1) / p.rate * float64(time.Second))
	drain += rand.N(drain/2 + 1)
	if until := now.Add(drain); until.After(p.pausedUntil) {
		p.pausedUntil = until
	}
	// No burst right after the pause: the next request goes at its end, the
	// ones after it an interval apart.
	if t := p.pausedUntil.Add(p.tau()); t.After(p.tat) {
		p.tat = t
	}
	return p.pausedUntil.Sub(now)
}

// noteOperating records when method's time budget frees up, as a
// successful answer's time.operating_reset_at told (relative to its
// time.finish, so that the portal's clock need not agree with ours).
func (p *Pacer) noteOperating(method string, resetIn time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := strings.ToLower(method)
	p.resetIn[m] = resetIn
	p.seenAt[m] = p.now()
}

// timeLimited notes a 429 OPERATION_TIME_LIMIT for method: it is left alone
// until its budget frees up — when the portal's answer said, else when the
// last successful answer said, else after a minute — and returns how long.
func (p *Pacer) timeLimited(method string, hint time.Duration) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := strings.ToLower(method)
	now := p.now()
	until := now.Add(unknownTimeBudgetReset)
	switch {
	case hint > 0:
		until = now.Add(hint)
	case p.resetIn[m] > 0 && p.seenAt[m].Add(p.resetIn[m]).After(now):
		until = p.seenAt[m].Add(p.resetIn[m])
	}
	p.blocked[m] = until
	return until.Sub(now)
}

// blockedFor reports how long method is still refused for its time budget.
func (p *Pacer) blockedFor(method string) (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := strings.ToLower(method)
	until, ok := p.blocked[m]
	if !ok {
		return 0, false
	}
	d := until.Sub(p.now())
	if d <= 0 {
		delete(p.blocked, m)
		return 0, false
	}
	return d, true
}

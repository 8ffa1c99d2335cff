package b24test

import (
	"net/http"
	"strings"
	"time"
)

// The per-method time budget of limits.md ("Resource consumption limits"):
// the execution time of a method's calls is summed over ten one-minute
// buckets, each dropped ten minutes after it opened; while the sum is above
// the limit every call of that method is refused with 429
// OPERATION_TIME_LIMIT, other methods keep working.
const (
	// DefaultOperatingLimit is the documented example limit: 480 s in 10 minutes.
	DefaultOperatingLimit = 480 * time.Second
	operatingBucket       = time.Minute
	operatingWindow       = 10 * time.Minute
)

// opBudget is one method's buckets, oldest first.
type opBudget struct {
	buckets []opBucket
}

type opBucket struct {
	start time.Time
	used  time.Duration
}

// expire drops the buckets older than the window.
func (b *opBudget) expire(now time.Time) {
	n := 0
	for n < len(b.buckets) && !b.buckets[n].start.Add(operatingWindow).After(now) {
		n++
	}
	b.buckets = b.buckets[n:]
}

func (b *opBudget) used() time.Duration {
	var sum time.Duration
	for _, k := range b.buckets {
		sum += k.used
	}
	return sum
}

// add charges d to the bucket of the current minute, opening one if needed.
func (b *opBudget) add(now time.Time, d time.Duration) {
	if n := len(b.buckets); n > 0 && now.Sub(b.buckets[n-1].start) < operatingBucket {
		b.buckets[n-1].used += d
		return
	}
	b.buckets = append(b.buckets, opBucket{start: now, used: d})
}

// resetAt is when the oldest bucket drops (operating_reset_at); now when
// nothing is charged.
func (b *opBudget) resetAt(now time.Time) time.Time {
	if len(b.buckets) == 0 {
		return now
	}
	return b.buckets[0].start.Add(operatingWindow)
}

func errOperationTimeLimit() *apiError {
	return errCode(http.StatusTooManyRequests, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit.")
}

// SetOperatingCost makes every call of method cost d of execution time on
// top of what it really takes, as a heavy method on a big portal would; 0
// removes the surcharge.
func (p *Portal) SetOperatingCost(method string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := strings.ToLower(method)
	if d <= 0 {
		delete(p.opCost, m)
		return
	}
	p.opCost[m] = d
}

// OperatingTime is method's execution time summed over the last ten minutes
// (emulated clock): what its time budget holds now.
func (p *Portal) OperatingTime(method string) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.budgetLocked(strings.ToLower(method), p.o.Now()).used()
}

// budgetLocked returns method's budget with expired buckets dropped; p.mu held.
func (p *Portal) budgetLocked(method string, now time.Time) *opBudget {
	b := p.budgets[method]
	if b == nil {
		b = &opBudget{}
		p.budgets[method] = b
	}
	b.expire(now)
	return b
}

// operatingLocked is what a top-level answer of method reports; p.mu held.
func (p *Portal) operatingLocked(method string, now time.Time) *operatingInfo {
	b := p.budgetLocked(method, now)
	return &operatingInfo{resetAt: b.resetAt(now), operating: b.used()}
}

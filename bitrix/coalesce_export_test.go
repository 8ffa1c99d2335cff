package bitrix

import "time"

// SetWindow replaces the coalescer's window (tests: a window of an hour
// proves a flush came from every job waiting, not from the timer).
func (co *Coalescer) SetWindow(d time.Duration) { co.window = d }

// Waiting is how many calls wait to be sent.
func (co *Coalescer) Waiting() int {
	co.mu.Lock()
	defer co.mu.Unlock()
	return len(co.queue)
}

// SetStall replaces how long a busy job may hold back those after it.
func (co *Coalescer) SetStall(d time.Duration) { co.stall = d }

package bitrix

import (
	"context"
	"errors"
	"testing"
	"time"
)

// fakeClock is a pacer clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestPacer(burst int, perSecond float64) (*Pacer, *fakeClock) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := NewPacer(burst, perSecond)
	p.SetClock(clk.now)
	return p, clk
}

// slot is what wait does before it sleeps: the time the next request may go.
func (p *Pacer) slot() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.speedUpLocked(p.now())
	s, _ := p.reserveLocked(p.now())
	return s
}

func (p *Pacer) ticketNow() ticket {
	p.mu.Lock()
	defer p.mu.Unlock()
	return ticket{gen: p.gen}
}

// The pacer lets the portal's burst go at once, then one request per 1/rate.
func TestPacerBurstThenRate(t *testing.T) {
	p, clk := newTestPacer(3, 10)
	start := clk.now()
	for i, want := range []time.Duration{0, 0, 0, 100 * time.Millisecond, 200 * time.Millisecond} {
		if got := p.slot().Sub(start); got != want {
			t.Fatalf("request %d at +%v, want +%v", i+1, got, want)
		}
	}
	// Idle time refills the burst, never beyond it.
	clk.advance(time.Hour)
	start = clk.now()
	for i, want := range []time.Duration{0, 0, 0, 100 * time.Millisecond} {
		if got := p.slot().Sub(start); got != want {
			t.Fatalf("after a pause: request %d at +%v, want +%v", i+1, got, want)
		}
	}
}

// After a refusal nobody goes until the portal's counter drained the refused
// requests and one more (1/rate each, the rate halved: it was too high), and
// then one at a time, without a burst.
func TestPacerPauseDrainsTheRefused(t *testing.T) {
	p, clk := newTestPacer(50, 2)
	tk := p.ticketNow()
	start := clk.now()
	pause := p.refusedLimit(tk)
	if burst, rate := p.Limits(); burst != 25 || rate != 1 {
		t.Fatalf("after a refusal: burst %d, %v/s; want 25, 1/s", burst, rate)
	}
	// One refused + one to get in, at 1/s: 2 s, plus up to half again.
	if pause < 2*time.Second || pause > 3*time.Second {
		t.Fatalf("pause %v, want 2-3 s", pause)
	}
	if s := p.slot(); !s.Equal(start.Add(pause)) {
		t.Fatalf("first slot at +%v, want the end of the pause +%v", s.Sub(start), pause)
	}
	if s := p.slot(); !s.Equal(start.Add(pause + time.Second)) {
		t.Fatalf("second slot at +%v, want one interval after the pause", s.Sub(start))
	}

	// A caller that will not wait that long is told at once, with what is left.
	_, err := p.wait(context.Background(), time.Second)
	var pe *pausedError
	if !errors.As(err, &pe) || pe.left != pause {
		t.Fatalf("wait during the pause: %v", err)
	}

	// Refusals in a row stay in the counter: each adds to the next pause.
	clk.advance(pause)
	pause = p.refusedLimit(p.ticketNow()) // sent after the slow-down: slows again
	if _, rate := p.Limits(); rate != 0.5 {
		t.Fatalf("rate after a second refusal: %v/s", rate)
	}
	if pause < 6*time.Second || pause > 9*time.Second { // 2 refused + 1, at 0.5/s
		t.Fatalf("second pause %v, want 6-9 s", pause)
	}
	// An accepted request ends the streak.
	p.accepted()
	clk.advance(pause)
	if pause = p.refusedLimit(ticket{gen: 0}); pause < 4*time.Second || pause > 6*time.Second { // stale pace: no slow-down; 1 + 1 at 0.5/s
		t.Fatalf("pause after an accepted request %v, want 4-6 s", pause)
	}
}

// Requests sent at the old pace are refused together: that is one piece of
// news, and it halves the pace once. The pace never drops below a sixteenth,
// and comes back step by step after quiet periods.
func TestPacerSlowsOncePerPaceAndRecovers(t *testing.T) {
	p, clk := newTestPacer(48, 100)
	old := p.ticketNow()
	for range 5 {
		p.refusedLimit(old)
	}
	if burst, rate := p.Limits(); burst != 24 || rate != 50 {
		t.Fatalf("five refusals at one pace: burst %d, %v/s; want 24, 50/s", burst, rate)
	}
	for range 10 {
		p.refusedLimit(p.ticketNow())
	}
	if burst, rate := p.Limits(); burst != 1 || rate != 100.0/16 {
		t.Fatalf("floor: burst %d, %v/s", burst, rate)
	}
	p.accepted()
	clk.advance(time.Hour) // the pause is long over
	p.slot()
	if _, rate := p.Limits(); rate != 100.0/16+100.0/8 {
		t.Fatalf("after a quiet period: %v/s", rate)
	}
	p.slot()
	if _, rate := p.Limits(); rate != 100.0/16+100.0/8 {
		t.Fatalf("a second step without another quiet period: %v/s", rate)
	}
	for range 8 {
		clk.advance(quietPeriod)
		p.slot()
	}
	if burst, rate := p.Limits(); burst != 48 || rate != 100 {
		t.Fatalf("fully recovered: burst %d, %v/s", burst, rate)
	}
	// Limits the store already had keep a slow-down; new ones replace it.
	p.refusedLimit(p.ticketNow())
	p.SetLimits(48, 100)
	if _, rate := p.Limits(); rate != 50 {
		t.Fatalf("unchanged limits reset the slow-down: %v/s", rate)
	}
	p.SetLimits(248, 5)
	if burst, rate := p.Limits(); burst != 248 || rate != 5 {
		t.Fatalf("new limits: burst %d, %v/s", burst, rate)
	}
}

// A method refused for its time budget is left alone until the budget
// frees up: when the refusal said, else when the last answer of the method
// said (operating_reset_at), else for a minute.
func TestPacerTimeBudget(t *testing.T) {
	p, clk := newTestPacer(50, 2)
	if _, blocked := p.blockedFor("crm.deal.list"); blocked {
		t.Fatal("blocked before any refusal")
	}
	if d := p.timeLimited("crm.deal.list", 0); d != time.Minute {
		t.Fatalf("unknown reset: blocked for %v", d)
	}
	p.noteOperating("CRM.Contact.List", 7*time.Minute)
	clk.advance(2 * time.Minute)
	if d := p.timeLimited("crm.contact.list", 0); d != 5*time.Minute {
		t.Fatalf("reset from the last answer: blocked for %v", d)
	}
	if d := p.timeLimited("crm.lead.list", 90*time.Second); d != 90*time.Second {
		t.Fatalf("reset from the refusal: blocked for %v", d)
	}
	if d, blocked := p.blockedFor("crm.contact.list"); !blocked || d != 5*time.Minute {
		t.Fatalf("blockedFor = %v, %v", d, blocked)
	}
	if _, blocked := p.blockedFor("user.current"); blocked {
		t.Fatal("another method is blocked")
	}
	clk.advance(5 * time.Minute)
	if _, blocked := p.blockedFor("crm.contact.list"); blocked {
		t.Fatal("still blocked after the reset")
	}
	// A reset time that has passed is no guide: a minute.
	if d := p.timeLimited("crm.contact.list", 0); d != time.Minute {
		t.Fatalf("stale reset: blocked for %v", d)
	}
}

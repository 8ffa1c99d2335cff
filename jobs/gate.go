package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Gate tells the queue when a portal can take work: every portal has its
// own request budget (Bitrix24: 2 a second, burst 50), and a worker must not
// sit on one portal's limiter while another portal has work it could do now.
// portal.Service is the gate of the app.
type Gate interface {
	// Budget reports how many requests the portal may make at once now (0:
	// none) — without reserving them.
	Budget(portalID int64) int
	// Bind prepares the context a portal-bound job runs under: a remote
	// call that would wait on the portal's limiter longer than a moment
	// gives up with an error that the handler turns into PortalBusy.
	Bind(ctx context.Context, portalID int64) context.Context
	// Share prepares n jobs of the portal, claimed together (ClaimTogether),
	// that run at once under ctx: their remote calls go out together.
	Share(ctx context.Context, portalID int64, n int) Sharing
	// Spacing is how long after a group of the portal's jobs that was not
	// full the next may start while the portal takes in a burst of webhooks
	// (about one request's share of its pace), so that the work the burst
	// makes is gathered into fuller requests instead of spending the budget
	// a few commands at a time.
	Spacing(portalID int64) time.Duration
}

// Sharing is what a group of jobs claimed together share: Join gives job i
// (in the group's order) the context it runs under, and Leave tells that job
// i ended, so the others wait for it no more.
type Sharing interface {
	Join(ctx context.Context, i int) context.Context
	Leave(i int)
}

type portalBusyError struct {
	after time.Duration
	err   error
}

func (e *portalBusyError) Error() string { return e.err.Error() }
func (e *portalBusyError) Unwrap() error { return e.err }

// PortalBusy gives the job back because its portal has no request budget
// for after: it keeps its place in the portal's queue (run_at is unchanged)
// without spending an attempt, and the gated workers take other portals'
// work until the portal's budget frees up.
func PortalBusy(after time.Duration, err error) error {
	return &portalBusyError{after: after, err: err}
}

// IsPortalBusy reports whether err is a PortalBusy and for how long.
func IsPortalBusy(err error) (time.Duration, bool) {
	var pb *portalBusyError
	if errors.As(err, &pb) {
		return pb.after, true
	}
	return 0, false
}

// lanes is the per-portal state of a gated queue: which portals this process
// has seen work of, and how many of their jobs run now.
type lanes struct {
	claimMu  sync.Mutex // one gated claim at a time (runOnce)
	mu       sync.Mutex
	gate     Gate
	unpaced  map[string]bool
	inflight map[int64]int
	seen     map[int64]time.Time
	groups   map[int64]int             // groups of jobs claimed together running now
	last     map[int64]groupStarted    // the portal's last group
	claims   map[int64][]time.Time     // the portal's last unpaced claims (bursting)
	wakeAt   time.Time                 // when a wake is set for (the end of a portal's spacing)
	rounds   map[string]map[int64]bool // kind → portals served this round
}

// forgetAfter drops a portal from the lanes when no job of it was claimed for
// so long: its budget has refilled long since.
const forgetAfter = 10 * time.Minute

// SetGate makes the queue schedule portal-bound jobs per portal: a job is
// claimed only when its portal has budget for one more running job, and it
// runs under the gate's Bind. Jobs of unpaced kinds (local work: filing
// webhooks; gateway work) and jobs without a portal are claimed as before.
// Call it before the workers run.
func (q *Queue) SetGate(g Gate, unpaced ...string) {
	l := &lanes{gate: g, unpaced: map[string]bool{}, inflight: map[int64]int{}, seen: map[int64]time.Time{},
		rounds: map[string]map[int64]bool{}, groups: map[int64]int{}, last: map[int64]groupStarted{},
		claims: map[int64][]time.Time{}}
	for _, k := range unpaced {
		l.unpaced[k] = true
	}
	q.lanes = l
}

// paced reports whether jobs of kind wait for their portal's budget.
func (l *lanes) paced(kind string) bool { return l != nil && !l.unpaced[kind] }

// closed lists the portals whose budget is taken: none left now, or no more
// than their jobs running now will use. The claim skips their jobs, so a
// worker takes another portal's instead of waiting.
func (l *lanes) closed() []int64 {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	var out []int64
	for p, at := range l.seen {
		n := l.inflight[p]
		if n == 0 && now.Sub(at) > forgetAfter {
			delete(l.seen, p)
			continue
		}
		if l.gate.Budget(p) <= n {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// begin notes a claimed job of portal p running; end undoes it.
func (l *lanes) begin(p int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight[p]++
	l.seen[p] = time.Now()
}

func (l *lanes) end(p int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inflight[p]--; l.inflight[p] <= 0 {
		delete(l.inflight, p)
	}
}

type groupStarted struct {
	at   time.Time
	full bool // it took all it could (GroupSize): more work waits than one group holds
}

// A portal whose unpaced jobs (webhooks being filed) were claimed at least
// burstClaims times within burstWindow is taking in a burst: the CRM work
// it makes is still coming, and its small groups are spaced (Gate.Spacing)
// so that it goes in fuller requests. A quiet portal's few messages never
// are a burst.
const (
	burstClaims = 40
	burstWindow = 250 * time.Millisecond
)

// grouped notes a group of portal p's jobs running, and whether it was full.
func (l *lanes) grouped(p int64, full bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.groups[p]++
	l.last[p] = groupStarted{at: time.Now(), full: full}
}

func (l *lanes) ungrouped(p int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.groups[p]--; l.groups[p] <= 0 {
		delete(l.groups, p)
	}
}

// gathering lists the portals whose jobs claimed together wait: while a
// group of the portal runs (one group of a portal at a time: its jobs go in
// the order they were enqueued, a dialog's messages oldest first, and what
// becomes due meanwhile is gathered into the next group instead of each
// worker starting a small group of its own), and, while the portal takes in
// a burst of webhooks (burstClaims), for the gate's Spacing after its last
// group that was not full started. A quiet portal's job waits for nothing.
func (l *lanes) gathering(wake func()) []int64 {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	var out []int64
	var next time.Time
	for p, st := range l.last {
		switch {
		case l.groups[p] > 0:
			out = append(out, p)
		case st.full:
		case now.Sub(st.at) > forgetAfter:
			delete(l.last, p)
		case !l.bursting(p, now):
		default:
			if end := st.at.Add(l.gate.Spacing(p)); end.After(now) {
				out = append(out, p)
				if next.IsZero() || end.Before(next) {
					next = end
				}
			}
		}
	}
	if !next.IsZero() && (l.wakeAt.Before(now) || next.Before(l.wakeAt)) {
		l.wakeAt = next
		time.AfterFunc(next.Sub(now), wake)
	}
	return out
}

// round lists the portals that had a job of kind in this round.
func (l *lanes) round(kind string) []int64 {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int64
	for p := range l.rounds[kind] {
		out = append(out, p)
	}
	return out
}

// newRound begins a round of kind: every portal may have a turn again.
func (l *lanes) newRound(kind string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.rounds, kind)
}

// bursting reports whether portal p is taking in a burst (l.mu held).
func (l *lanes) bursting(p int64, now time.Time) bool {
	c := l.claims[p]
	return len(c) >= burstClaims && now.Sub(c[len(c)-burstClaims]) <= burstWindow
}

// claimed notes a claim of one of portal p's unpaced jobs.
func (l *lanes) claimed(p int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	c := l.claims[p]
	if len(c) >= burstClaims {
		c = c[len(c)-burstClaims+1:]
	}
	l.claims[p] = append(c, now)
}

// served notes that portal p had its turn at kind in this round.
func (l *lanes) served(kind string, p int64) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rounds[kind] == nil {
		l.rounds[kind] = map[int64]bool{}
	}
	l.rounds[kind][p] = true
}

// Backlog is one portal's due work in the queue.
type Backlog struct {
	PortalID int64   `db:"portal_id"`
	Waiting  int64   `db:"n"`   // ready jobs whose run_at has passed
	OldestS  float64 `db:"age"` // seconds the oldest of them has waited
}

// Backlogs lists every portal's due work (one grouped query over the ready
// jobs), for the per-portal metrics.
func (q *Queue) Backlogs(ctx context.Context) ([]Backlog, error) {
	var out []Backlog
	if err := q.db.SelectContext(ctx, &out, `SELECT portal_id, count(*) AS n,
			extract(epoch FROM now() - min(run_at))::float8 AS age
		FROM jobs WHERE state = 'ready' AND run_at <= now() AND portal_id IS NOT NULL
		GROUP BY portal_id`); err != nil {
		return nil, fmt.Errorf("jobs: portals' backlogs: %w", err)
	}
	return out, nil
}

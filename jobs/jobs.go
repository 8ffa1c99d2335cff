// Package jobs is relay24's durable work queue in PostgreSQL: work that must
// survive a crash (the first sync, sending a reply, writing a timeline entry)
// is a row, claimed with FOR UPDATE SKIP LOCKED so several instances share it,
// taken up again as soon as the process holding it is seen dead (owner.go),
// leased as a backstop, and retried with backoff.
package jobs

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/relay24/relay24/secret"
	"github.com/relay24/relay24/store/pgsafe"
)

// Job is one claimed unit of work.
type Job struct {
	ID          int64           `db:"id"`
	Kind        string          `db:"kind"`
	PortalID    sql.NullInt64   `db:"portal_id"`
	Payload     json.RawMessage `db:"payload"`
	Attempts    int             `db:"attempts"`
	MaxAttempts int             `db:"max_attempts"`
	RunAt       time.Time       `db:"run_at"` // when it was due: a group runs in this order

	owner *owner // the session it was claimed under
	token int64  // its claim: outcomes are written only under it
}

// Decode unmarshals the payload.
func (j *Job) Decode(v any) error {
	if err := json.Unmarshal(j.Payload, v); err != nil {
		return fmt.Errorf("job %d (%s): decoding payload: %w", j.ID, j.Kind, err)
	}
	return nil
}

// Handler does a job. Returning nil completes it; Permanent fails it for good;
// RetryAfter reschedules it without counting a failure; any other error
// retries with backoff until max attempts.
type Handler func(ctx context.Context, job *Job) error

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks an error that retrying cannot mend.
func Permanent(err error) error { return &permanentError{err: err} }

type retryAfterError struct {
	after time.Duration
	err   error
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// RetryAfter reschedules the job after d without spending an attempt (the
// remote asked us to wait, or the job is waiting for another to finish).
func RetryAfter(d time.Duration, err error) error { return &retryAfterError{after: d, err: err} }

// Queue enqueues and runs jobs.
type Queue struct {
	db       *sqlx.DB
	log      *slog.Logger
	mu       sync.RWMutex
	handlers map[string]Handler
	leases   map[string]time.Duration
	turn     atomic.Int64
	pools    []*pool         // the RunKinds pools of this process, each with its own wake
	lanes    *lanes          // per-portal scheduling (gate.go); nil: none
	together map[string]bool // kinds claimed together per portal (ClaimTogether)

	omu    sync.Mutex
	own    *owner        // the owner session; nil before the first claim
	closed bool          // after Close
	stop   chan struct{} // ends keep
	kept   sync.WaitGroup

	// recordFailures counts failed writes of outcomes (tests wait on it).
	recordFailures atomic.Int64
	// pollSet is Poll changed while the workers run (SetPoll).
	pollSet atomic.Int64

	// Lease is how long a claimed job stays ours without a heartbeat before
	// another worker may take it: the backstop for a worker whose death its
	// owner lock does not show.
	Lease time.Duration
	// Poll is how often idle workers look for due jobs.
	Poll time.Duration
	// Check is how often the owner session is checked and the jobs of dead
	// workers swept.
	Check time.Duration
	// RestartGrace is how long sweeping waits after this queue lost its
	// owner session, or the server started: live processes come back and
	// release their jobs meanwhile (see owner.go).
	RestartGrace time.Duration
	// GroupSize is the most jobs claimed together (ClaimTogether).
	GroupSize int
}

// New makes a queue over db.
func New(db *sqlx.DB, log *slog.Logger) *Queue {
	return &Queue{db: db, log: log, handlers: map[string]Handler{}, leases: map[string]time.Duration{},
		Lease: 30 * time.Second, Poll: 500 * time.Millisecond, Check: time.Second, RestartGrace: 5 * time.Second,
		GroupSize: 50, together: map[string]bool{}}
}

// Handle registers the handler of a kind. Jobs of kinds without a handler
// wait in the table until a binary that knows them runs.
func (q *Queue) Handle(kind string, h Handler) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.handlers[kind] = h
}

// HandleWithLease registers a handler whose jobs are taken up again by
// another worker after lease (instead of Lease) when their worker dies.
func (q *Queue) HandleWithLease(kind string, h Handler, lease time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.handlers[kind] = h
	q.leases[kind] = lease
}

// ClaimTogether makes a gated worker that claims a job of one of these kinds
// claim with it the portal's other due jobs of these kinds, up to
// GroupSize, oldest first, and run them at once under the gate's Share: the
// group makes one request where its jobs would make one each (Bitrix24
// counts requests, not the commands a batch carries). Each job keeps its
// own outcome. Call it before the workers run.
func (q *Queue) ClaimTogether(kinds ...string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, k := range kinds {
		q.together[k] = true
	}
}

// Options for Enqueue.
type Options struct {
	PortalID    int64
	UniqueKey   string    // at most one unfinished job per key; a finished one is restarted
	RunAt       time.Time // zero: now
	MaxAttempts int
}

// Enqueue adds a job inside ext (a transaction, so the job exists exactly when
// the change that needs it does). With a UniqueKey an unfinished job of that
// key absorbs the new one (a burst of events becomes one run), and one that is
// running now runs once more when it finishes, so no change is missed.
func (q *Queue) Enqueue(ctx context.Context, ext sqlx.ExtContext, kind string, payload any, o Options) (int64, error) {
	ids, err := q.insert(ctx, ext, []Spec{{Kind: kind, Payload: payload, Options: o}})
	if err != nil {
		return 0, err
	}
	return ids[0], nil
}

// pool is the workers of one RunKinds call.
type pool struct {
	kinds []string // nil: all
	wake  chan struct{}
}

// Wake tells idle workers in this process to look now: a worker of every
// pool, or, given kinds, of each pool that runs one of them (a webhook
// stored wakes a filing worker, not one that would only look for CRM
// work and leave the webhook to the next poll).
func (q *Queue) Wake(kinds ...string) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	for _, p := range q.pools {
		if len(kinds) > 0 && p.kinds != nil && !slices.ContainsFunc(kinds, func(k string) bool { return slices.Contains(p.kinds, k) }) {
			continue
		}
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// kinds lists the handled kinds (of only, when given) and each one's lease
// in milliseconds.
func (q *Queue) kinds(only []string) ([]string, []int64) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	ks := make([]string, 0, len(q.handlers))
	ls := make([]int64, 0, len(q.handlers))
	for k := range q.handlers {
		if only != nil && !slices.Contains(only, k) {
			continue
		}
		ks = append(ks, k)
		l, ok := q.leases[k]
		if !ok {
			l = q.Lease
		}
		ls = append(ls, l.Milliseconds())
	}
	return ks, ls
}

// claim takes one due job of the given kinds (nil: all handled kinds):
// ready and due, or running with an expired lease (its worker died unseen),
// under this queue's owner session and a fresh claim token. Kinds are tried
// in turn, each with one indexed look-up, starting after the kind claimed
// last, so no kind starves another. With a gate (gate.go), a paced kind's
// jobs of portals without budget now are skipped: of the portals that can
// take work, the one with the oldest due job goes first.
func (q *Queue) claim(ctx context.Context, only []string, gated bool) (*Job, error) {
	kinds, leases := q.kinds(only)
	if len(kinds) == 0 {
		return nil, nil
	}
	o, err := q.session(ctx)
	if err != nil {
		return nil, err
	}
	var closed, gathering []int64
	if gated && slices.ContainsFunc(kinds, q.lanes.paced) {
		closed, gathering = q.lanes.closed(), q.lanes.gathering(func() { q.Wake() })
	}
	start := int(q.turn.Add(1)) % len(kinds)
	for i := range kinds {
		k := (start + i) % len(kinds)
		skip := []int64{}
		if q.lanes.paced(kinds[k]) && closed != nil {
			skip = closed
		}
		if q.claimsTogether(kinds[k]) {
			skip = append(slices.Clip(skip), gathering...)
		}
		// Portals take turns: a round gives each portal with due work one
		// job, the portal with the oldest first; when no portal outside the
		// round has any, a new round begins.
		served := q.lanes.round(kinds[k])
		j, err := q.claimOne(ctx, o, kinds[k], leases[k], append(slices.Clip(skip), served...))
		if j == nil && err == nil && len(served) > 0 {
			q.lanes.newRound(kinds[k])
			j, err = q.claimOne(ctx, o, kinds[k], leases[k], skip)
		}
		if err != nil {
			return nil, err
		}
		if j != nil {
			if j.PortalID.Valid {
				q.lanes.served(kinds[k], j.PortalID.Int64)
				if !q.lanes.paced(kinds[k]) {
					q.lanes.claimed(j.PortalID.Int64)
				}
			}
			return j, nil
		}
	}
	return nil, nil
}

// claimOne claims the oldest due job of kind whose portal is not in skip.
func (q *Queue) claimOne(ctx context.Context, o *owner, kind string, lease int64, skip []int64) (*Job, error) {
	j := Job{owner: o, token: rand.Int64()}
	err := q.db.GetContext(ctx, &j, `
		UPDATE jobs SET state = 'running', attempts = attempts + 1,
			locked_until = now() + $2 * interval '1 millisecond', locked_by = $3, claim_token = $4,
			updated_at = now()
		WHERE id = (
			SELECT id FROM jobs
			WHERE kind = $1 AND state IN ('ready', 'running') AND run_at <= now()
				AND (state = 'ready' OR locked_until < now())
				AND (portal_id IS NULL OR portal_id <> ALL($5::bigint[]))
			ORDER BY run_at, id
			LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING id, kind, portal_id, payload, attempts, max_attempts, run_at`, kind, lease, o.id, j.token, pq.Array(skip))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("jobs: claim: %w", err)
	}
	return &j, nil
}

// RunOnce claims and runs one due job; it reports whether there was one.
// It does not consult the gate: a job of a portal without budget is claimed
// and waits on the portal's limiter as it always did (tests and tools drive
// the queue with it and expect every due job to run).
func (q *Queue) RunOnce(ctx context.Context) (bool, error) {
	return q.runOnce(ctx, nil, false)
}

// RunOnceGated claims and runs one due job of kinds (nil: all) as a worker
// of RunKinds does: per portal lanes under the gate, a portal's jobs of the
// kinds claimed together as one group. It reports whether there was one.
func (q *Queue) RunOnceGated(ctx context.Context, kinds []string) (bool, error) {
	return q.runOnce(ctx, kinds, true)
}

// runOnce claims and runs one job; gated, per portal lanes (gate.go).
func (q *Queue) runOnce(ctx context.Context, only []string, gated bool) (bool, error) {
	gated = gated && q.lanes != nil
	// Reading the portals' budgets, claiming and counting the claimed job as
	// running are one step, so that two workers do not both take a portal's
	// last request (the other would sit on its limiter). Workers of unpaced
	// kinds only (filing webhooks, sending) need no budget and do not wait
	// for that step.
	locked := gated && q.claimsPaced(only)
	if locked {
		q.lanes.claimMu.Lock()
	}
	j, err := q.claim(ctx, only, gated)
	group := []*Job{j}
	if locked {
		if j != nil && q.lanes.paced(j.Kind) && j.PortalID.Valid {
			p := j.PortalID.Int64
			q.lanes.begin(p)
			defer q.lanes.end(p)
			if q.claimsTogether(j.Kind) {
				more, err := q.claimMore(ctx, j, only)
				if err != nil {
					q.log.Error("job queue: claiming a portal's jobs together; running one", slog.String("error", err.Error()))
				}
				group = append(group, more...)
				q.lanes.grouped(p, len(group) >= q.GroupSize)
				defer func() {
					q.lanes.ungrouped(p)
					q.Wake() // what was gathered meanwhile may go now
				}()
			}
		}
		q.lanes.claimMu.Unlock()
	}
	if err != nil || j == nil {
		return false, err
	}
	if len(group) == 1 {
		return true, q.run(ctx, j, func(ctx context.Context) context.Context {
			if gated && q.lanes.paced(j.Kind) && j.PortalID.Valid {
				return q.lanes.gate.Bind(ctx, j.PortalID.Int64)
			}
			return ctx
		})
	}
	// In the order they were due, then enqueued: a dialog's messages reach
	// its timeline in order (their jobs are due when the message was sent).
	slices.SortFunc(group, func(a, b *Job) int { return cmp.Or(a.RunAt.Compare(b.RunAt), cmp.Compare(a.ID, b.ID)) })
	portalID := j.PortalID.Int64
	sh := q.lanes.gate.Share(q.lanes.gate.Bind(ctx, portalID), portalID, len(group))
	errs := make([]error, len(group))
	var wg sync.WaitGroup
	for i, gj := range group {
		wg.Go(func() {
			defer sh.Leave(i)
			errs[i] = q.run(ctx, gj, func(ctx context.Context) context.Context {
				return sh.Join(q.lanes.gate.Bind(ctx, portalID), i)
			})
		})
	}
	wg.Wait()
	return true, errors.Join(errs...)
}

// run runs a claimed job under bind's context and records its outcome.
func (q *Queue) run(ctx context.Context, j *Job, bind func(context.Context) context.Context) error {
	q.mu.RLock()
	h := q.handlers[j.Kind]
	lease, ok := q.leases[j.Kind]
	q.mu.RUnlock()
	if !ok {
		lease = q.Lease
	}
	// The run ends early when its owner session is lost or another worker
	// took the job (see owner.go).
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	unhook := context.AfterFunc(j.owner.ctx, func() { cancel(context.Cause(j.owner.ctx)) })
	defer unhook()
	stop := q.heartbeat(runCtx, j, lease, cancel)
	herr := q.safeRun(bind(runCtx), h, j)
	stop()
	return q.finish(ctx, j, herr, context.Cause(runCtx))
}

// claimsPaced reports whether a worker of only (nil: all) may claim a job
// of a paced kind.
func (q *Queue) claimsPaced(only []string) bool {
	kinds, _ := q.kinds(only)
	return slices.ContainsFunc(kinds, q.lanes.paced)
}

func (q *Queue) claimsTogether(kind string) bool {
	q.mu.RLock()
	defer q.mu.RUnlock()
	return q.together[kind]
}

// claimMore claims, with j, its portal's other due jobs of the kinds claimed
// together (of only, when given), oldest first, up to GroupSize in all.
func (q *Queue) claimMore(ctx context.Context, j *Job, only []string) ([]*Job, error) {
	kinds, leases := q.kinds(only)
	q.mu.RLock()
	var ks []string
	var ls []int64
	for i, k := range kinds {
		if q.together[k] {
			ks, ls = append(ks, k), append(ls, leases[i])
		}
	}
	q.mu.RUnlock()
	if q.GroupSize <= 1 || len(ks) == 0 {
		return nil, nil
	}
	var rows []struct {
		Job
		Token int64 `db:"claim_token"`
	}
	err := q.db.SelectContext(ctx, &rows, `
		WITH picked AS (
			SELECT id FROM jobs
			WHERE portal_id = $1 AND kind = ANY($2::text[]) AND state IN ('ready', 'running') AND run_at <= now()
				AND (state = 'ready' OR locked_until < now()) AND id <> $4
			ORDER BY run_at, id
			LIMIT $5 FOR UPDATE SKIP LOCKED)
		UPDATE jobs SET state = 'running', attempts = jobs.attempts + 1,
			locked_until = now() + (SELECT l FROM unnest($2::text[], $3::bigint[]) AS kl(k, l) WHERE kl.k = jobs.kind)
				* interval '1 millisecond',
			locked_by = $6, claim_token = (random() * 4e18)::bigint, updated_at = now()
		FROM picked WHERE jobs.id = picked.id
		RETURNING jobs.id, jobs.kind, jobs.portal_id, jobs.payload, jobs.attempts, jobs.max_attempts, jobs.run_at, jobs.claim_token`,
		j.PortalID.Int64, pq.Array(ks), pq.Array(ls), j.ID, q.GroupSize-1, j.owner.id)
	if err != nil {
		return nil, fmt.Errorf("jobs: claiming a portal's jobs together: %w", err)
	}
	more := make([]*Job, len(rows))
	for i, r := range rows {
		more[i] = &r.Job
		more[i].owner, more[i].token = j.owner, r.Token
	}
	return more, nil
}

// heartbeat extends a running job's lease while its worker lives, so a long
// job (a first sync of a big portal) keeps it and a worker that died unseen
// loses it within one lease. A job no longer under its claim (swept, or its
// lease taken) is another worker's now: its run is cancelled.
func (q *Queue) heartbeat(ctx context.Context, j *Job, lease time.Duration, cancel context.CancelCauseFunc) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				res, err := q.db.ExecContext(ctx, `UPDATE jobs SET locked_until = now() + $3 * interval '1 millisecond'
					WHERE id = $1 AND claim_token = $2`, j.ID, j.token, lease.Milliseconds())
				if err != nil {
					continue // the database is away: the owner lock speaks for us
				}
				if n, _ := res.RowsAffected(); n == 0 {
					cancel(errTakenOver)
					return
				}
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func (q *Queue) safeRun(ctx context.Context, h Handler, j *Job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("job %s panicked: %v", j.Kind, r)
		}
	}()
	return h(ctx, j)
}

// finish records a run's outcome under its claim (fenced by the token: see
// owner.go). cause is why the run's context ended, if it did.
func (q *Queue) finish(ctx context.Context, j *Job, herr, cause error) error {
	// The error is stored scrubbed and as valid text: an error quoting a
	// client's bytes or a request URL must neither fail the update nor keep a
	// credential.
	var ra *retryAfterError
	var pb *portalBusyError
	var perm *permanentError
	switch {
	case herr != nil && errors.Is(cause, errOwnerLost):
		// Cut short because this process lost its owner session: back to
		// ready at once, the attempt counted once (when it was claimed).
		return q.record(ctx, j, `UPDATE jobs SET state = 'ready', locked_by = NULL, claim_token = NULL, locked_until = NULL,
			run_at = now(), last_error = $3, updated_at = now() WHERE id = $1 AND claim_token = $2`,
			j.ID, j.token, secret.ErrorText(herr))
	case herr == nil:
		return q.record(ctx, j, `UPDATE jobs SET state = CASE WHEN rerun THEN 'ready' ELSE 'done' END,
			attempts = CASE WHEN rerun THEN 0 ELSE attempts END, rerun = false, run_at = now(),
			locked_by = NULL, claim_token = NULL, locked_until = NULL, last_error = NULL, updated_at = now()
			WHERE id = $1 AND claim_token = $2`, j.ID, j.token)
	case errors.As(herr, &pb):
		// The portal has no budget: the job keeps its place in the
		// portal's queue, the attempt is not counted.
		return q.record(ctx, j, `UPDATE jobs SET state = 'ready', attempts = attempts - 1,
			locked_by = NULL, claim_token = NULL, locked_until = NULL,
			last_error = $3, updated_at = now()
			WHERE id = $1 AND claim_token = $2`, j.ID, j.token, secret.ErrorText(herr))
	case errors.As(herr, &ra):
		return q.record(ctx, j, `UPDATE jobs SET state = 'ready', attempts = attempts - 1,
			locked_by = NULL, claim_token = NULL, locked_until = NULL,
			run_at = now() + $3 * interval '1 millisecond', last_error = $4, updated_at = now()
			WHERE id = $1 AND claim_token = $2`, j.ID, j.token, ra.after.Milliseconds(), secret.ErrorText(herr))
	case errors.As(herr, &perm) || j.Attempts >= j.MaxAttempts:
		q.log.Error("job failed", slog.Int64("job_id", j.ID), slog.String("kind", j.Kind), slog.Int("attempts", j.Attempts), slog.String("error", herr.Error()))
		return q.record(ctx, j, `UPDATE jobs SET state = 'failed', locked_by = NULL, claim_token = NULL, locked_until = NULL,
			last_error = $3, updated_at = now() WHERE id = $1 AND claim_token = $2`, j.ID, j.token, secret.ErrorText(herr))
	default:
		delay := Backoff(j.Attempts)
		q.log.Warn("job will be retried", slog.Int64("job_id", j.ID), slog.String("kind", j.Kind),
			slog.Int("attempts", j.Attempts), slog.Duration("delay", delay), slog.String("error", herr.Error()))
		return q.record(ctx, j, `UPDATE jobs SET state = 'ready', locked_by = NULL, claim_token = NULL, locked_until = NULL,
			run_at = now() + $3 * interval '1 millisecond', last_error = $4, updated_at = now()
			WHERE id = $1 AND claim_token = $2`, j.ID, j.token, delay.Milliseconds(), secret.ErrorText(herr))
	}
}

// record writes an outcome (query, fenced by the claim's token). While the
// database refuses, it tries again with backoff rather than leave the job
// locked for a lease; once the worker is stopping (ctx ended) it gives up
// after one more try: its owner session ends with the process, and any
// other queue sweeps the job up at once. An outcome whose claim is gone
// (the job was taken over) is dropped: the job is its new worker's.
func (q *Queue) record(ctx context.Context, j *Job, query string, args ...any) error {
	wait := 100 * time.Millisecond
	for {
		// Recorded even when the worker is shutting down.
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		res, err := q.db.ExecContext(tctx, query, args...)
		cancel()
		if err == nil {
			if n, _ := res.RowsAffected(); n == 0 {
				q.log.Warn("job taken over by another worker; this run's outcome is dropped",
					slog.Int64("job_id", j.ID), slog.String("kind", j.Kind))
			}
			return nil
		}
		q.recordFailures.Add(1)
		if ctx.Err() != nil {
			return fmt.Errorf("jobs: recording outcome of job %d: %w", j.ID, err)
		}
		q.log.Warn("recording a job's outcome failed; trying again", slog.Int64("job_id", j.ID),
			slog.String("kind", j.Kind), slog.Duration("delay", wait), slog.String("error", err.Error()))
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}

// Backoff is the delay before attempt n+1: exponential from 1s, capped at 10
// minutes, with jitter.
func Backoff(attempt int) time.Duration {
	d := time.Second << min(attempt, 10)
	d = min(d, 10*time.Minute)
	return d/2 + rand.N(d/2+1)
}

// Run runs workers until ctx ends.
func (q *Queue) Run(ctx context.Context, workers int) { q.RunKinds(ctx, workers, nil) }

// SetPoll changes how often idle workers look, while they run.
func (q *Queue) SetPoll(d time.Duration) { q.pollSet.Store(int64(d)) }

func (q *Queue) pollEvery() time.Duration {
	if d := q.pollSet.Load(); d > 0 {
		return time.Duration(d)
	}
	return q.Poll
}

// RunExcept runs workers for every handled kind but those (which have
// workers of their own): a worker of the paced kinds claims under the
// lanes' lock, and must not spend it filing webhooks.
func (q *Queue) RunExcept(ctx context.Context, workers int, except []string) {
	kinds, _ := q.kinds(nil)
	kinds = slices.DeleteFunc(kinds, func(k string) bool { return slices.Contains(except, k) })
	q.RunKinds(ctx, workers, kinds)
}

// RunKinds runs workers for some kinds only (nil: all), so that work waiting
// on a slow remote cannot hold up work that is local and quick.
func (q *Queue) RunKinds(ctx context.Context, workers int, kinds []string) {
	p := &pool{kinds: kinds, wake: make(chan struct{}, 1)}
	q.mu.Lock()
	q.pools = append(q.pools, p)
	q.mu.Unlock()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				ran, err := q.runOnce(ctx, kinds, true)
				if err != nil && ctx.Err() == nil {
					q.log.Error("job queue", slog.String("error", err.Error()))
				}
				if ran {
					continue
				}
				select {
				case <-ctx.Done():
				case <-p.wake:
				case <-time.After(q.pollEvery()):
				}
			}
		})
	}
	wg.Wait()
}

// State is a job's state as stored (tests and the admin's progress view).
type State struct {
	ID        int64          `db:"id"`
	Kind      string         `db:"kind"`
	State     string         `db:"state"`
	Attempts  int            `db:"attempts"`
	LastError sql.NullString `db:"last_error"`
}

// ByKey finds a job by its unique key.
func (q *Queue) ByKey(ctx context.Context, key string) (*State, error) {
	var s State
	err := q.db.GetContext(ctx, &s, `SELECT id, kind, state, attempts, last_error FROM jobs WHERE unique_key = $1`, key)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("jobs: by key: %w", err)
	}
	return &s, nil
}

// Spec is one job for EnqueueMany.
type Spec struct {
	Kind    string
	Payload any
	Options
}

// EnqueueMany adds several jobs in one statement (same rules as Enqueue);
// unique keys must differ from each other.
func (q *Queue) EnqueueMany(ctx context.Context, ext sqlx.ExtContext, specs []Spec) error {
	if len(specs) == 0 {
		return nil
	}
	_, err := q.insert(ctx, ext, specs)
	return err
}

// insert stores jobs in one statement and returns their ids (of the rows
// inserted or, for a unique key already there, absorbed into).
func (q *Queue) insert(ctx context.Context, ext sqlx.ExtContext, specs []Spec) ([]int64, error) {
	n := len(specs)
	kinds, payloads, keys := make([]string, n), make([]string, n), make([]sql.NullString, n)
	portals, maxes := make([]int64, n), make([]int64, n)
	runAts := make([]time.Time, n)
	now := time.Now()
	for i, sp := range specs {
		b, err := json.Marshal(sp.Payload)
		if err != nil {
			return nil, fmt.Errorf("jobs: encoding %s payload: %w", sp.Kind, err)
		}
		// A string from outside (an event's field) may hold a NUL, which
		// jsonb refuses: the job, and the change needing it, would fail.
		if b, _, err = pgsafe.JSON(b); err != nil {
			return nil, fmt.Errorf("jobs: encoding %s payload: %w", sp.Kind, err)
		}
		kinds[i], payloads[i], portals[i] = sp.Kind, string(b), sp.PortalID
		if sp.UniqueKey != "" {
			keys[i] = sql.NullString{String: sp.UniqueKey, Valid: true}
		}
		runAts[i] = sp.RunAt
		if runAts[i].IsZero() {
			runAts[i] = now
		}
		maxes[i] = int64(sp.MaxAttempts)
		if maxes[i] == 0 {
			maxes[i] = 25
		}
	}
	var ids []int64
	err := sqlx.SelectContext(ctx, ext, &ids, `
		INSERT INTO jobs (kind, portal_id, payload, unique_key, run_at, max_attempts)
		SELECT k, NULLIF(p, 0), b::jsonb, u, r, m
		FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::int[]) AS t(k, p, b, u, r, m)
		ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL DO UPDATE SET
			state = CASE WHEN jobs.state IN ('done', 'failed') THEN 'ready' ELSE jobs.state END,
			-- running now: it may have read the old state, so it runs once more after
			rerun = jobs.state = 'running',
			attempts = CASE WHEN jobs.state IN ('done', 'failed') THEN 0 ELSE jobs.attempts END,
			payload = CASE WHEN jobs.state IN ('done', 'failed') THEN EXCLUDED.payload ELSE jobs.payload END,
			run_at = CASE WHEN jobs.state IN ('done', 'failed') THEN EXCLUDED.run_at ELSE jobs.run_at END,
			updated_at = now()
		RETURNING id`,
		pq.Array(kinds), pq.Array(portals), pq.Array(payloads), pq.Array(keys), pq.Array(runAts), pq.Array(maxes))
	if err != nil {
		return nil, fmt.Errorf("jobs: enqueue %d jobs (%s…): %w", n, specs[0].Kind, err)
	}
	q.Wake(kinds...)
	return ids, nil
}

// Hurry makes the ready jobs of these unique keys due now, or at their own
// time in at when that is earlier (it keeps their order), within ext (a
// transaction): work that was put off until another job's result is there
// goes as soon as it is.
func (q *Queue) Hurry(ctx context.Context, ext sqlx.ExtContext, keys []string, at []time.Time) error {
	if len(keys) == 0 {
		return nil
	}
	if len(at) != len(keys) {
		return fmt.Errorf("jobs: hurrying %d jobs with %d times", len(keys), len(at))
	}
	if _, err := ext.ExecContext(ctx, `UPDATE jobs SET run_at = LEAST(t.at, now()), updated_at = now()
		FROM unnest($1::text[], $2::timestamptz[]) AS t(k, at)
		WHERE unique_key = t.k AND state = 'ready' AND run_at > now()`, pq.Array(keys), pq.Array(at)); err != nil {
		return fmt.Errorf("jobs: hurrying %d jobs: %w", len(keys), err)
	}
	q.Wake()
	return nil
}

// ReadyUntil reports whether a job of one of these unique keys waits to run
// (ready, not claimed), and the latest time one of them is due.
func (q *Queue) ReadyUntil(ctx context.Context, keys []string) (time.Time, bool, error) {
	if len(keys) == 0 {
		return time.Time{}, false, nil
	}
	var at sql.NullTime
	if err := q.db.GetContext(ctx, &at, `SELECT max(run_at) FROM jobs WHERE unique_key = ANY($1) AND state = 'ready'`, pq.Array(keys)); err != nil {
		return time.Time{}, false, fmt.Errorf("jobs: jobs waiting: %w", err)
	}
	return at.Time, at.Valid, nil
}

// Prune deletes jobs finished more than age ago: every stored webhook is a
// job, and the table must not grow without end. Failed jobs stay longer
// (for support) than done ones.
func (q *Queue) Prune(ctx context.Context, age time.Duration) (int64, error) {
	res, err := q.db.ExecContext(ctx, `DELETE FROM jobs WHERE
		(state = 'done' AND updated_at < now() - $1 * interval '1 millisecond') OR
		(state = 'failed' AND updated_at < now() - 30 * $1 * interval '1 millisecond')`, age.Milliseconds())
	if err != nil {
		return 0, fmt.Errorf("jobs: prune: %w", err)
	}
	return res.RowsAffected()
}

package jobs

// Who holds a running job, and whether he still lives.
//
// Each Queue (one per process) holds a session-level advisory lock on an
// owner id of its own, on one dedicated connection, for as long as that
// connection lives, and every job it claims records the id (locked_by). A
// process that dies (kill -9, a crash, a lost machine) loses its session and
// with it the lock, and the next sweep of any live queue (every Check) puts
// its running jobs back to 'ready' at once. The lease stays as a backstop: a
// session the server still believes alive behind a network partition keeps
// its lock until TCP gives up, and binaries older than owners set none.
//
// The rule when a process loses its own owner session (its connection broke,
// or PostgreSQL restarted and took every session with it): from that moment
// the others may judge it dead, so it acts as a dead process would.
//   - It claims nothing until it holds a new session, under a new owner id
//     (ids come from a sequence and are never reused, so a session the server
//     still keeps for us cannot make the new one wait).
//   - It cancels the jobs it claimed under the lost session, so that what
//     another process takes up is not still being worked on here.
//   - It writes their outcomes only where the job still carries the claim's
//     token (a fenced update): a job taken over meanwhile belongs to its new
//     worker; one cut short by the cancellation goes back to 'ready'.
//
// After a PostgreSQL restart every running job looks orphaned at once. A
// queue does not sweep for RestartGrace after it took a new session in place
// of a lost one, nor while the server started less than RestartGrace ago: the
// live processes get that long to come back and release the jobs they
// cancelled, so a job whose process survived is not run by another while its
// own handler may still be returning.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// ownerClass is the first key of the owners' advisory locks (the second is
// the owner id): the two-key form lives apart from the one-key locks that
// migrations and the reconciliation scheduler take.
const ownerClass = 0x7232346a // "r24j"

// checkTimeout bounds one check of the owner session: a connection that
// stopped answering is as good as lost.
const checkTimeout = 5 * time.Second

// ErrClosed is returned by a queue after Close.
var ErrClosed = errors.New("jobs: the queue is closed")

// errOwnerLost is the cause of the runs cut short because their owner
// session ended (it broke, or the queue closed).
var errOwnerLost = errors.New("jobs: this worker lost its database session; its jobs may be taken up by others")

// errTakenOver is the cause of a run whose job another worker took.
var errTakenOver = errors.New("jobs: the job was taken over by another worker")

// owner is one owner session: the advisory lock on id, held by conn.
type owner struct {
	id   int32
	conn *sql.Conn
	// settle is when this session may start sweeping (it replaced a lost one).
	settle time.Time
	// ctx ends when the session is lost or the queue closes.
	ctx  context.Context
	end  context.CancelCauseFunc
	once sync.Once
}

// session returns the live owner session, taking a new one when there is
// none (the first claim, or the last one was lost).
func (q *Queue) session(ctx context.Context) (*owner, error) {
	q.omu.Lock()
	defer q.omu.Unlock()
	if q.closed {
		return nil, ErrClosed
	}
	if o := q.own; o != nil && o.ctx.Err() == nil {
		return o, nil
	}
	o, err := q.acquire(ctx)
	if err != nil {
		return nil, err
	}
	if q.own != nil {
		// It replaces a lost session: PostgreSQL may have restarted, and the
		// other live processes need a moment to come back.
		o.settle = time.Now().Add(q.RestartGrace)
		q.log.Info("job queue owner session taken again", slog.Int("owner", int(o.id)), slog.Int("lost_owner", int(q.own.id)))
	}
	q.own = o
	if q.stop == nil {
		q.stop = make(chan struct{})
		stop := q.stop
		q.kept.Go(func() { q.keep(stop) })
	}
	return o, nil
}

// acquire takes a new owner id and its lock on a connection of its own.
func (q *Queue) acquire(ctx context.Context) (*owner, error) {
	conn, err := q.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("jobs: connecting for the owner session: %w", err)
	}
	o := &owner{conn: conn}
	var locked bool
	err = conn.QueryRowContext(ctx, `SELECT nextval('jobs_owner_seq')::int`).Scan(&o.id)
	if err == nil {
		err = conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1, $2)`, ownerClass, o.id).Scan(&locked)
	}
	if err == nil && !locked {
		err = fmt.Errorf("owner id %d is locked already", o.id)
	}
	if err != nil {
		o.discard()
		return nil, fmt.Errorf("jobs: taking the owner lock: %w", err)
	}
	o.ctx, o.end = context.WithCancelCause(context.Background())
	return o, nil
}

// discard closes the owner's connection for good. It must never go back to
// the pool: it holds the lock, and a pooled connection would keep a dead
// owner alive.
func (o *owner) discard() {
	o.once.Do(func() {
		_ = o.conn.Raw(func(any) error { return driver.ErrBadConn })
	})
}

// lose ends an owner session that broke: its runs are cancelled (see the
// rule above) and its connection dropped.
func (q *Queue) lose(o *owner, cause error) {
	if o.ctx.Err() == nil {
		q.log.Warn("job queue lost its owner session; its running jobs are cancelled",
			slog.Int("owner", int(o.id)), slog.String("error", cause.Error()))
	}
	o.end(fmt.Errorf("%w: %w", errOwnerLost, cause))
	// A query stuck on the connection holds it until it returns.
	go o.discard()
}

// keep checks the owner session and sweeps every Check until stop.
func (q *Queue) keep(stop <-chan struct{}) {
	t := time.NewTicker(q.Check)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		q.tick(stop)
	}
}

// tick sweeps once, which also proves the owner session alive. A connection
// cut by a network partition may hang a query until TCP gives up, whatever
// its context says; the watchdog judges it lost meanwhile, as the other
// processes soon will by its lease.
func (q *Queue) tick(stop <-chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	o, err := q.session(ctx)
	if err != nil {
		if !errors.Is(err, ErrClosed) {
			q.log.Error("job queue owner session", slog.String("error", err.Error()))
		}
		return
	}
	done := make(chan error, 1)
	go func() {
		_, err := q.sweepOn(ctx, o)
		done <- err
	}()
	watchdog := time.NewTimer(2 * checkTimeout)
	defer watchdog.Stop()
	select {
	case err := <-done:
		if err != nil {
			q.log.Error("job queue sweep", slog.String("error", err.Error()))
		}
	case <-watchdog.C:
		q.lose(o, errors.New("the owner session does not answer"))
	case <-stop:
	}
}

// Sweep puts back to 'ready' the running jobs whose owner session has ended
// (their process died) and reports how many. It runs every Check by itself;
// tests call it to drive it. The attempt of a job so cut short was counted
// when it was claimed, and is not counted again: a job that kills its
// process still reaches its attempts' end.
func (q *Queue) Sweep(ctx context.Context) (int64, error) {
	o, err := q.session(ctx)
	if err != nil {
		return 0, err
	}
	return q.sweepOn(ctx, o)
}

// sweepOn sweeps on the owner's own connection, so that a sweep happens
// only while this queue holds its lock, and a broken connection shows.
func (q *Queue) sweepOn(ctx context.Context, o *owner) (int64, error) {
	if time.Now().Before(o.settle) {
		return 0, nil
	}
	// pg_locks is read once per sweep (materialized), and only when some job
	// runs under an owner.
	rows, err := o.conn.QueryContext(ctx, `
		WITH held AS MATERIALIZED (
			SELECT objid FROM pg_locks
			WHERE locktype = 'advisory' AND granted AND classid = $1::oid AND objsubid = 2
				AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		), orphans AS (
			SELECT id FROM jobs
			WHERE state = 'running' AND locked_by IS NOT NULL
				AND locked_by::oid NOT IN (SELECT objid FROM held)
				AND pg_postmaster_start_time() < now() - $2 * interval '1 millisecond'
			FOR UPDATE SKIP LOCKED)
		UPDATE jobs j SET state = 'ready', locked_by = NULL, claim_token = NULL, locked_until = NULL,
			run_at = now(), last_error = 'its worker died (its database session ended) while running it', updated_at = now()
		FROM orphans WHERE j.id = orphans.id
		RETURNING j.id`, ownerClass, q.RestartGrace.Milliseconds())
	if err != nil {
		if ctx.Err() == nil {
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkTimeout)
			if perr := o.conn.PingContext(pctx); perr != nil {
				q.lose(o, err)
			}
			cancel()
		}
		return 0, fmt.Errorf("jobs: sweeping the jobs of dead workers: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return 0, fmt.Errorf("jobs: sweeping the jobs of dead workers: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("jobs: sweeping the jobs of dead workers: %w", err)
	}
	if len(ids) > 0 {
		q.log.Warn("jobs of dead workers taken up", slog.Int("count", len(ids)), slog.Any("job_ids", ids))
		q.Wake()
	}
	return int64(len(ids)), nil
}

// Close ends the queue's owner session (its lock goes with it) and its
// sweeping; call it once the workers have returned. A job still held is
// taken up by the other processes at once.
func (q *Queue) Close() {
	q.omu.Lock()
	q.closed = true
	stop, o := q.stop, q.own
	q.stop = nil
	q.omu.Unlock()
	if stop != nil {
		close(stop)
	}
	q.kept.Wait()
	if o != nil {
		o.end(fmt.Errorf("%w: %w", errOwnerLost, ErrClosed))
		o.discard()
	}
}

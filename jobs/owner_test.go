package jobs_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/relay24/relay24/jobs"
	"github.com/relay24/relay24/store/storetest"
)

// Every test here uses a ten-minute lease: a job taken up again within the
// test was taken up by its owner's death, never by its lease. Sweeps are
// driven by hand (Check is an hour).

func ownerQueue(t *testing.T, db *sqlx.DB) *jobs.Queue {
	t.Helper()
	q := jobs.New(db, slog.New(slog.DiscardHandler))
	q.Lease = 10 * time.Minute
	q.Check = time.Hour
	q.RestartGrace = 0 // the shared test cluster may have started a moment ago
	t.Cleanup(q.Close)
	return q
}

// waitFor polls cond until it holds, with a deadline only a broken build
// reaches.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

const ownerLock = `FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::oid AND objid = $2::oid AND objsubid = 2
	AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`

// killOwner ends a queue's owner session from outside, as the death of its
// process would, and waits until its lock is gone (a terminated backend
// exits a moment after it is told).
func killOwner(t *testing.T, db *sqlx.DB, id int32) {
	t.Helper()
	var n int
	if err := db.Get(&n, `SELECT count(pg_terminate_backend(pid)) `+ownerLock, jobs.OwnerClass, id); err != nil || n != 1 {
		t.Fatalf("terminating owner %d's session: %d sessions, %v", id, n, err)
	}
	waitFor(t, "the dead owner's lock to go", func() bool {
		var held int
		err := db.Get(&held, `SELECT count(*) `+ownerLock, jobs.OwnerClass, id)
		return err == nil && held == 0
	})
}

// startLong enqueues a "long" job and runs it on q in the background under
// ctx, returning once its handler closed started; done gives RunOnce's end.
func startLong(ctx context.Context, t *testing.T, q *jobs.Queue, db *sqlx.DB, started <-chan struct{}) (int64, <-chan error) {
	t.Helper()
	id, err := q.Enqueue(context.Background(), db, "long", nil, jobs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := q.RunOnce(ctx); done <- err }()
	<-started
	return id, done
}

type jobRow struct {
	State    string        `db:"state"`
	Attempts int           `db:"attempts"`
	LockedBy sql.NullInt32 `db:"locked_by"`
}

func readJob(db *sqlx.DB, id int64) (jobRow, error) {
	var r jobRow
	err := db.Get(&r, `SELECT state, attempts, locked_by FROM jobs WHERE id = $1`, id)
	return r, err
}

func mustReadJob(t *testing.T, db *sqlx.DB, id int64) jobRow {
	t.Helper()
	r, err := readJob(db, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A live queue's job is never taken, however often another sweeps and
// claims: its owner's lock is held, and its lease is far away.
func TestLiveWorkersJobIsNeverTaken(t *testing.T) {
	db := storetest.DB(t)
	ctx := context.Background()
	q1, q2 := ownerQueue(t, db), ownerQueue(t, db)
	var runs atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	for _, q := range []*jobs.Queue{q1, q2} {
		q.Handle("long", func(ctx context.Context, j *jobs.Job) error {
			if runs.Add(1) == 1 {
				close(started)
			}
			<-release
			return nil
		})
	}
	id, done := startLong(ctx, t, q1, db, started)
	for range 20 {
		if n, err := q2.Sweep(ctx); n != 0 || err != nil {
			t.Fatalf("a sweep took %d jobs of a live worker (%v)", n, err)
		}
		if ran, err := q2.RunOnce(ctx); ran || err != nil {
			t.Fatalf("a live worker's job was claimed: %v %v", ran, err)
		}
	}
	if r := mustReadJob(t, db, id); r.State != "running" || !r.LockedBy.Valid || r.LockedBy.Int32 != q1.OwnerID() {
		t.Fatalf("job %+v, want running under owner %d", r, q1.OwnerID())
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r := mustReadJob(t, db, id); r.State != "done" || r.Attempts != 1 || r.LockedBy.Valid || runs.Load() != 1 {
		t.Fatalf("job %+v after %d runs, want done once", r, runs.Load())
	}
}

// The job of a queue whose process died is taken up by another at once,
// not a lease later; the dead worker's late outcome, should it come, is
// dropped.
func TestDeadWorkersJobIsTakenUpAtOnce(t *testing.T) {
	db := storetest.DB(t)
	ctx := context.Background()
	q1, q2 := ownerQueue(t, db), ownerQueue(t, db)
	started, release := make(chan struct{}), make(chan struct{})
	q1.Handle("long", func(ctx context.Context, j *jobs.Job) error {
		close(started)
		<-release // frozen, as a killed process is
		return errors.New("a late outcome of a dead worker")
	})
	var runs2 atomic.Int32
	q2.Handle("long", func(ctx context.Context, j *jobs.Job) error { runs2.Add(1); return nil })
	id, done := startLong(ctx, t, q1, db, started)
	if n, err := q2.Sweep(ctx); n != 0 || err != nil {
		t.Fatalf("a sweep took %d jobs of a live worker (%v)", n, err)
	}

	killOwner(t, db, q1.OwnerID())
	if n, err := q2.Sweep(ctx); n != 1 || err != nil {
		t.Fatalf("the sweep took %d jobs (%v), want the dead worker's one", n, err)
	}
	if r := mustReadJob(t, db, id); r.State != "ready" || r.Attempts != 1 || r.LockedBy.Valid {
		t.Fatalf("swept job %+v, want ready with its one attempt", r)
	}
	if ran, err := q2.RunOnce(ctx); !ran || err != nil {
		t.Fatalf("RunOnce = %v, %v; want the orphan run", ran, err)
	}
	if r := mustReadJob(t, db, id); r.State != "done" || r.Attempts != 2 || runs2.Load() != 1 {
		t.Fatalf("job %+v after %d runs on the live queue, want done", r, runs2.Load())
	}

	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r := mustReadJob(t, db, id); r.State != "done" || r.Attempts != 2 {
		t.Fatalf("the dead worker's outcome overwrote the job: %+v", r)
	}
}

// refuse makes the database refuse every connection and ends those it has
// (PostgreSQL away for a moment); the returned func lets them in again.
func refuse(t *testing.T, db *sqlx.DB) (allow func()) {
	t.Helper()
	var name string
	if err := db.Get(&name, `SELECT current_database()`); err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("postgres", storetest.ClusterURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	allow = func() {
		if _, err := admin.Exec(`ALTER DATABASE ` + name + ` WITH ALLOW_CONNECTIONS true`); err != nil {
			t.Error(err)
		}
	}
	if _, err := admin.Exec(`ALTER DATABASE ` + name + ` WITH ALLOW_CONNECTIONS false`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(allow)
	if _, err := admin.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the database's sessions to end", func() bool {
		var n int
		return admin.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE datname = $1`, name).Scan(&n) == nil && n == 0
	})
	return allow
}

// An outcome the database refused to record is recorded as soon as it is
// back: the job is not left locked for a lease.
func TestOutcomeIsRecordedWhenTheDatabaseIsBack(t *testing.T) {
	db := storetest.DB(t)
	ctx := context.Background()
	q := ownerQueue(t, db)
	started, release := make(chan struct{}), make(chan struct{})
	q.Handle("long", func(ctx context.Context, j *jobs.Job) error {
		close(started)
		<-release
		return nil
	})
	id, done := startLong(ctx, t, q, db, started)

	allow := refuse(t, db)
	close(release)
	waitFor(t, "a refused write of the outcome", func() bool { return q.RecordFailures() > 0 })
	allow()
	if err := <-done; err != nil {
		t.Fatalf("the outcome was not recorded: %v", err)
	}
	var r jobRow
	waitFor(t, "the job to be readable", func() bool { var err error; r, err = readJob(db, id); return err == nil })
	if r.State != "done" || r.Attempts != 1 || r.LockedBy.Valid {
		t.Fatalf("job %+v, want done", r)
	}
}

// A worker that stops while its outcome cannot be recorded gives up; its
// owner session is gone with it, so another queue takes the job up at once.
func TestUnrecordedJobOfAStoppedWorkerIsTakenUpAtOnce(t *testing.T) {
	db := storetest.DB(t)
	q1, q2 := ownerQueue(t, db), ownerQueue(t, db)
	started, release := make(chan struct{}), make(chan struct{})
	q1.Handle("long", func(ctx context.Context, j *jobs.Job) error {
		close(started)
		<-release
		return nil
	})
	var runs2 atomic.Int32
	q2.Handle("long", func(ctx context.Context, j *jobs.Job) error { runs2.Add(1); return nil })
	ctx1, stop1 := context.WithCancel(context.Background())
	defer stop1()
	id, done := startLong(ctx1, t, q1, db, started)

	allow := refuse(t, db)
	close(release)
	waitFor(t, "a refused write of the outcome", func() bool { return q1.RecordFailures() > 0 })
	stop1() // the process stops while the database is away
	if err := <-done; err == nil {
		t.Fatal("the outcome was recorded while the database refused")
	}
	q1.Close()
	allow()

	ctx := context.Background()
	var n int64
	waitFor(t, "a sweep", func() bool { var err error; n, err = q2.Sweep(ctx); return err == nil })
	if n != 1 {
		t.Fatalf("the sweep took %d jobs, want the stopped worker's one", n)
	}
	if ran, err := q2.RunOnce(ctx); !ran || err != nil {
		t.Fatalf("RunOnce = %v, %v", ran, err)
	}
	if r := mustReadJob(t, db, id); r.State != "done" || runs2.Load() != 1 {
		t.Fatalf("job %+v after %d runs, want done", r, runs2.Load())
	}
}

// When every owner session dies at once (PostgreSQL restarted), a queue
// that comes back does not sweep before the others had their grace: a
// surviving process cancels its jobs and releases them itself, and no job
// runs twice at the same time.
func TestAfterAllSessionsDiedNoJobRunsTwiceAtOnce(t *testing.T) {
	db := storetest.DB(t)
	ctx := context.Background()
	q1, q2 := ownerQueue(t, db), ownerQueue(t, db)
	for _, q := range []*jobs.Queue{q1, q2} {
		q.RestartGrace = 10 * time.Minute
	}
	var runs, active, maxActive atomic.Int32
	started := make(chan struct{})
	var firstCause error
	handler := func(ctx context.Context, j *jobs.Job) error {
		n := active.Add(1)
		defer active.Add(-1)
		if n > maxActive.Load() {
			maxActive.Store(n)
		}
		if runs.Add(1) > 1 {
			return nil
		}
		close(started)
		<-ctx.Done() // a job that stops when told
		firstCause = context.Cause(ctx)
		return ctx.Err()
	}
	q1.Handle("long", handler)
	q2.Handle("long", handler)
	id, done := startLong(ctx, t, q1, db, started)
	if _, err := q2.Sweep(ctx); err != nil {
		t.Fatal(err)
	}

	// Both owner sessions die, as in a restart of the server.
	lost1, lost2 := q1.OwnerID(), q2.OwnerID()
	killOwner(t, db, lost1)
	killOwner(t, db, lost2)
	// q2 finds its session gone, takes a new one, and sweeps nothing
	// though q1's job looks orphaned now.
	for i := 0; ; i++ {
		n, err := q2.Sweep(ctx)
		if n != 0 {
			t.Fatalf("a sweep right after the restart took %d jobs", n)
		}
		if err == nil {
			break
		}
		if i > 3 {
			t.Fatalf("q2 did not come back: %v", err)
		}
	}
	if q2.OwnerID() == lost2 || q2.OwnerID() == 0 {
		t.Fatalf("q2 owner %d after losing %d", q2.OwnerID(), lost2)
	}
	if ran, err := q2.RunOnce(ctx); ran || err != nil {
		t.Fatalf("RunOnce = %v, %v: q1's job was taken while q1 still ran it", ran, err)
	}

	// q1 finds its own session gone: it cancels its job and releases it.
	if _, err := q1.Sweep(ctx); err == nil {
		t.Fatal("q1 did not notice the loss of its owner session")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !errors.Is(firstCause, jobs.ErrOwnerLost) {
		t.Fatalf("the first run ended by %v, want the owner's loss", firstCause)
	}
	if r := mustReadJob(t, db, id); r.State != "ready" || r.Attempts != 1 || r.LockedBy.Valid {
		t.Fatalf("released job %+v, want ready with its one attempt", r)
	}
	if ran, err := q2.RunOnce(ctx); !ran || err != nil {
		t.Fatalf("RunOnce = %v, %v", ran, err)
	}
	if r := mustReadJob(t, db, id); r.State != "done" || runs.Load() != 2 || maxActive.Load() != 1 {
		t.Fatalf("job %+v after %d runs, %d at once at most; want done, never two at once", r, runs.Load(), maxActive.Load())
	}
}

package jobs_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relay24/relay24/jobs"
	"github.com/relay24/relay24/store/storetest"
)

func TestEnqueueUniqueAndRun(t *testing.T) {
	db := storetest.DB(t)
	ctx := context.Background()
	q := jobs.New(db, slog.New(slog.DiscardHandler))
	t.Cleanup(q.Close)
	var got []string
	q.Handle("echo", func(ctx context.Context, j *jobs.Job) error {
		var p struct{ Say string }
		if err := j.Decode(&p); err != nil {
			return err
		}
		got = append(got, p.Say)
		return nil
	})
	id1, err := q.Enqueue(ctx, db, "echo", map[string]string{"Say": "one"}, jobs.Options{UniqueKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	id2, err := q.Enqueue(ctx, db, "echo", map[string]string{"Say": "two"}, jobs.Options{UniqueKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if id1 != id2 {
		t.Fatalf("unique key made two jobs: %d, %d", id1, id2)
	}
	for {
		ran, err := q.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !ran {
			break
		}
	}
	if len(got) != 1 || got[0] != "one" {
		t.Fatalf("ran %v, want [one]", got)
	}
	// A finished job's key restarts it with the new payload.
	if _, err := q.Enqueue(ctx, db, "echo", map[string]string{"Say": "three"}, jobs.Options{UniqueKey: "k"}); err != nil {
		t.Fatal(err)
	}
	if ran, err := q.RunOnce(ctx); !ran || err != nil {
		t.Fatalf("RunOnce = %v, %v", ran, err)
	}
	if len(got) != 2 || got[1] != "three" {
		t.Fatalf("ran %v", got)
	}
}

func TestRetryPermanentAndUnknownKinds(t *testing.T) {
	db := storetest.DB(t)
	ctx := context.Background()
	q := jobs.New(db, slog.New(slog.DiscardHandler))
	t.Cleanup(q.Close)
	calls := 0
	q.Handle("flaky", func(ctx context.Context, j *jobs.Job) error {
		calls++
		return errors.New("remote down")
	})
	q.Handle("doomed", func(ctx context.Context, j *jobs.Job) error { return jobs.Permanent(errors.New("bad payload")) })
	if _, err := q.Enqueue(ctx, db, "flaky", nil, jobs.Options{UniqueKey: "f"}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Enqueue(ctx, db, "doomed", nil, jobs.Options{UniqueKey: "d"}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Enqueue(ctx, db, "nobody-handles-this", nil, jobs.Options{UniqueKey: "n"}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := q.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	f, _ := q.ByKey(ctx, "f")
	if f.State != "ready" || f.Attempts != 1 || !f.LastError.Valid {
		t.Fatalf("flaky job %+v: want ready for a retry after 1 attempt", f)
	}
	d, _ := q.ByKey(ctx, "d")
	if d.State != "failed" {
		t.Fatalf("doomed job %+v: want failed", d)
	}
	n, _ := q.ByKey(ctx, "n")
	if n.State != "ready" || n.Attempts != 0 {
		t.Fatalf("unhandled job %+v: want untouched", n)
	}
	if calls != 1 {
		t.Fatalf("flaky ran %d times before its backoff passed", calls)
	}
}

// Several workers on one table take each job exactly once (SKIP LOCKED).
func TestConcurrentWorkersRunEachJobOnce(t *testing.T) {
	db := storetest.DB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	queues := []*jobs.Queue{jobs.New(db, slog.New(slog.DiscardHandler)), jobs.New(db, slog.New(slog.DiscardHandler))}
	for _, q := range queues {
		t.Cleanup(q.Close)
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	var total atomic.Int64
	const n = 200
	for _, q := range queues {
		q.Poll = 10 * time.Millisecond
		q.Handle("count", func(ctx context.Context, j *jobs.Job) error {
			mu.Lock()
			seen[j.ID]++
			mu.Unlock()
			if total.Add(1) == n {
				cancel()
			}
			return nil
		})
	}
	for i := 0; i < n; i++ {
		if _, err := queues[0].Enqueue(ctx, db, "count", i, jobs.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for _, q := range queues {
		wg.Go(func() { q.Run(ctx, 4) })
	}
	select {
	case <-ctx.Done():
	case <-time.After(60 * time.Second):
		t.Fatal("workers did not finish")
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("ran %d distinct jobs, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("job %d ran %d times", id, c)
		}
	}
}

// A job whose worker died (lease expired while running) is taken up again.
func TestExpiredLeaseIsReclaimed(t *testing.T) {
	db := storetest.DB(t)
	ctx := context.Background()
	q := jobs.New(db, slog.New(slog.DiscardHandler))
	t.Cleanup(q.Close)
	q.Lease = time.Millisecond
	runs := 0
	q.Handle("crashy", func(ctx context.Context, j *jobs.Job) error { runs++; return nil })
	id, err := q.Enqueue(ctx, db, "crashy", nil, jobs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Simulate a worker that claimed the job and died.
	if _, err := db.Exec(`UPDATE jobs SET state = 'running', attempts = 1, locked_until = now() - interval '1 second' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if ran, err := q.RunOnce(ctx); !ran || err != nil {
		t.Fatalf("RunOnce = %v, %v", ran, err)
	}
	if runs != 1 {
		t.Fatalf("runs = %d", runs)
	}
}

func TestPruneKeepsRecentAndPending(t *testing.T) {
	db := storetest.DB(t)
	ctx := context.Background()
	q := jobs.New(db, slog.New(slog.DiscardHandler))
	t.Cleanup(q.Close)
	for i, state := range []string{"done", "done", "failed", "ready"} {
		if _, err := db.Exec(`INSERT INTO jobs (kind, state, updated_at) VALUES ('k', $1, now() - $2 * interval '1 hour')`, state, []int{48, 1, 48, 48}[i]); err != nil {
			t.Fatal(err)
		}
	}
	n, err := q.Prune(ctx, 24*time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("pruned %d, %v; want the one old done job", n, err)
	}
	var left int
	_ = db.Get(&left, `SELECT count(*) FROM jobs`)
	if left != 3 {
		t.Fatalf("%d jobs left", left)
	}
}

// A long job keeps its lease by heartbeat: no other worker takes it while
// its worker lives. The lease is long enough that a slow machine's heartbeat
// (every lease/3) still lands well inside it; what is checked is that the
// job outlives one and a half leases untaken and that its lease moved.
func TestHeartbeatKeepsALongJob(t *testing.T) {
	db := storetest.DB(t)
	ctx := context.Background()
	q1 := jobs.New(db, slog.New(slog.DiscardHandler))
	t.Cleanup(q1.Close)
	q2 := jobs.New(db, slog.New(slog.DiscardHandler))
	t.Cleanup(q2.Close)
	var runs atomic.Int32
	release := make(chan struct{})
	const lease = 3 * time.Second
	for _, q := range []*jobs.Queue{q1, q2} {
		q.Lease = lease
		q.Handle("long", func(ctx context.Context, j *jobs.Job) error {
			runs.Add(1)
			<-release
			return nil
		})
	}
	id, err := q1.Enqueue(ctx, db, "long", nil, jobs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _, _ = q1.RunOnce(ctx); close(done) }()
	for deadline := time.Now().Add(30 * time.Second); runs.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the job never started")
		}
	}
	lockedUntil := func() time.Time {
		var at time.Time
		if err := db.Get(&at, `SELECT locked_until FROM jobs WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		return at
	}
	first, started := lockedUntil(), time.Now()
	for time.Since(started) < lease*3/2 || !lockedUntil().After(first) {
		if time.Since(started) > 60*time.Second {
			t.Fatal("the lease was never extended")
		}
		if ran, err := q2.RunOnce(ctx); err != nil || ran {
			t.Fatalf("a live job was taken over: %v %v", ran, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	close(release)
	<-done
	if runs.Load() != 1 {
		t.Fatalf("ran %d times", runs.Load())
	}
}

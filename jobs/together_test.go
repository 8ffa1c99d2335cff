package jobs_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/jobs"
	"github.com/relay24/relay24/portal"
	"github.com/relay24/relay24/store/storetest"
)

// A gated worker that claims a job of a kind claimed together takes the
// portal's other due jobs of those kinds with it (never another portal's),
// runs them at once, and their calls leave in one batch request, in the
// order the jobs were enqueued; each job keeps its own outcome.
func TestClaimTogetherRunsAPortalsJobsAsOneRequest(t *testing.T) {
	ctx := context.Background()
	q, db, g, ids := gatedQueue(t, []int{10, 10})
	a, b := ids[0], ids[1]
	q.ClaimTogether("timeline", "notify")
	q.GroupSize = 25

	var mu sync.Mutex
	ran := map[int64]int{}
	handler := func(ctx context.Context, j *jobs.Job) error {
		mu.Lock()
		ran[j.ID]++
		mu.Unlock()
		if err := g.client(j.PortalID.Int64).Call(ctx, "crm.timeline.comment.add", bitrix.Params{"x": j.ID}, nil); err != nil {
			return portal.JobError(err)
		}
		if j.ID%7 == 0 {
			return errors.New("this one fails after its call") // alone
		}
		return nil
	}
	q.Handle("timeline", handler)
	q.Handle("notify", handler)
	q.Handle("sync", handler) // not claimed together
	var aIDs []int64
	for i := range 30 {
		kind := "timeline"
		if i%5 == 4 {
			kind = "notify"
		}
		id, err := q.Enqueue(ctx, db, kind, nil, jobs.Options{PortalID: a})
		if err != nil {
			t.Fatal(err)
		}
		aIDs = append(aIDs, id)
		if i == 10 {
			if _, err := q.Enqueue(ctx, db, "timeline", nil, jobs.Options{PortalID: b}); err != nil {
				t.Fatal(err)
			}
			if _, err := q.Enqueue(ctx, db, "sync", nil, jobs.Options{PortalID: a}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Claims rotate over the kinds: whichever of A's jobs of a kind
	// claimed together comes first, A's 25 oldest of those kinds go with it.
	for {
		ok, err := q.RunOnceGated(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
	}
	var sizes []int
	var group []string
	for _, r := range g.requests {
		sizes = append(sizes, len(r))
		if len(r) == 25 {
			group = r
		}
	}
	slices.Sort(sizes)
	if !slices.Equal(sizes, []int{1, 1, 5, 25}) {
		t.Fatalf("request sizes %v, want B's job and A's sync job alone, A's 30 in groups of 25 and 5", sizes)
	}
	var want []string
	for _, id := range aIDs[:25] {
		want = append(want, strconv.FormatInt(id, 10))
	}
	if !slices.Equal(group, want) {
		t.Fatalf("commands %v, want the jobs' order %v", group, want)
	}
	failing := 0
	for _, id := range aIDs {
		if id%7 == 0 {
			failing++
		}
	}
	var done, ready int
	if err := db.Get(&done, `SELECT count(*) FROM jobs WHERE portal_id = $1 AND kind <> 'sync' AND state = 'done'`, a); err != nil {
		t.Fatal(err)
	}
	if err := db.Get(&ready, `SELECT count(*) FROM jobs WHERE portal_id = $1 AND state = 'ready' AND attempts = 1`, a); err != nil {
		t.Fatal(err)
	}
	if done != 30-failing || ready != failing {
		t.Fatalf("%d done, %d to retry; want %d and %d", done, ready, 30-failing, failing)
	}
	for id, n := range ran {
		if n != 1 {
			t.Fatalf("job %d ran %d times", id, n)
		}
	}
}

// While a portal's group that was not full runs, its newly due jobs wait
// for it and then go as one group, rather than each worker starting a small
// group of its own; other portals' jobs are claimed meanwhile.
func TestClaimTogetherGathersWhileAGroupRuns(t *testing.T) {
	ctx := context.Background()
	q, db, g, ids := gatedQueue(t, []int{10, 10})
	a, b := ids[0], ids[1]
	q.ClaimTogether("timeline")
	q.GroupSize = 25

	release := make(chan struct{})
	started := make(chan int64, 100)
	held := map[int64]bool{} // A's first two jobs
	q.Handle("timeline", func(ctx context.Context, j *jobs.Job) error {
		started <- j.ID
		if held[j.ID] {
			<-release
		}
		return g.client(j.PortalID.Int64).Call(ctx, "crm.timeline.comment.add", bitrix.Params{"x": j.ID}, nil)
	})
	enqueue := func(p int64, n int) {
		for range n {
			id, err := q.Enqueue(ctx, db, "timeline", nil, jobs.Options{PortalID: p})
			if err != nil {
				t.Fatal(err)
			}
			if len(held) < 2 {
				held[id] = true
			}
		}
	}
	enqueue(a, 2)
	first := make(chan error, 1)
	go func() { _, err := q.RunOnceGated(ctx, nil); first <- err }()
	<-started
	<-started // A's two run at once, held
	enqueue(a, 3)
	enqueue(b, 1)
	if ok, err := q.RunOnceGated(ctx, nil); err != nil || !ok {
		t.Fatalf("B's job: %v %v", ok, err)
	}
	if id := <-started; id == 0 {
		t.Fatal("no job")
	}
	if ok, err := q.RunOnceGated(ctx, nil); err != nil || ok {
		t.Fatalf("claimed A's job while A's group runs: %v %v", ok, err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if ok, err := q.RunOnceGated(ctx, nil); err != nil || !ok {
		t.Fatalf("A's next group: %v %v", ok, err)
	}
	var sizes []int
	for _, r := range g.requests {
		sizes = append(sizes, len(r))
	}
	slices.Sort(sizes)
	if !slices.Equal(sizes, []int{1, 2, 3}) {
		t.Fatalf("request sizes %v, want B's alone, A's first two and A's next three together", sizes)
	}
}

// A stored job wakes a worker of the pool that runs its kind: with polls an
// hour apart, only the wake can make it run, and a pool of other kinds must
// not take the wake-up from it.
func TestWakeReachesThePoolOfTheKind(t *testing.T) {
	db := storetest.DB(t)
	q := jobs.New(db, slog.New(slog.DiscardHandler))
	t.Cleanup(q.Close)
	q.Poll = time.Hour
	ran := make(chan string, 10)
	for _, k := range []string{"filing", "crm"} {
		q.Handle(k, func(ctx context.Context, j *jobs.Job) error { ran <- j.Kind; return nil })
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { q.RunExcept(ctx, 3, []string{"filing"}) })
	wg.Go(func() { q.RunKinds(ctx, 1, []string{"filing"}) })
	defer func() { cancel(); wg.Wait() }()
	time.Sleep(100 * time.Millisecond) // every worker has looked once and sleeps
	for range 3 {
		if _, err := q.Enqueue(ctx, db, "filing", nil, jobs.Options{}); err != nil {
			t.Fatal(err)
		}
		select {
		case k := <-ran:
			if k != "filing" {
				t.Fatalf("ran %s", k)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the filing job was not run: its pool was not woken")
		}
	}
}

package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/jobs"
	"github.com/relay24/relay24/portal"
	"github.com/relay24/relay24/store/storetest"
)

// pacedPortals is a jobs.Gate over real bitrix pacers that read an emulated
// clock which only the test moves: a request is let go only while the
// portal's token bucket has one, and nothing ever waits in real time (a call
// that would wait gives up at once, as a job's call does beyond a moment).
type pacedPortals struct {
	mu       sync.Mutex
	now      time.Time
	pacers   map[int64]*bitrix.Pacer
	srv      *httptest.Server
	requests [][]string // each request's commands: the "x" of each, in order
}

func newPacedPortals(t *testing.T) *pacedPortals {
	g := &pacedPortals{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), pacers: map[int64]*bitrix.Pacer{}}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		var body struct {
			X   json.RawMessage `json:"x"`
			Cmd json.RawMessage `json:"cmd"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		if !strings.HasSuffix(r.URL.Path, "/batch.json") {
			g.mu.Lock()
			g.requests = append(g.requests, []string{string(body.X)})
			g.mu.Unlock()
			w.Write([]byte(`{"result":1}`))
			return
		}
		// A batch: its commands in their order, each answering 1.
		dec := json.NewDecoder(bytes.NewReader(body.Cmd))
		_, _ = dec.Token()
		var xs []string
		results := map[string]int{}
		for dec.More() {
			k, _ := dec.Token()
			var q string
			_ = dec.Decode(&q)
			u, _ := url.Parse(q)
			xs = append(xs, u.Query().Get("x"))
			results[k.(string)] = 1
		}
		g.mu.Lock()
		g.requests = append(g.requests, xs)
		g.mu.Unlock()
		out, _ := json.Marshal(map[string]any{"result": map[string]any{"result": results, "result_error": []any{}}})
		w.Write(out)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *pacedPortals) add(id int64, burst int) {
	p := bitrix.NewPacer(burst, 2)
	p.SetClock(g.clock)
	g.pacers[id] = p
}

func (g *pacedPortals) clock() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.now
}

func (g *pacedPortals) advance(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.now = g.now.Add(d)
}

func (g *pacedPortals) Budget(id int64) int { return g.pacers[id].Budget().Now }

func (g *pacedPortals) Bind(ctx context.Context, id int64) context.Context {
	return bitrix.WithMaxWait(ctx, 0) // the emulated clock never moves by itself
}

func (g *pacedPortals) Spacing(id int64) time.Duration { return 0 }

func (g *pacedPortals) Share(ctx context.Context, id int64, n int) jobs.Sharing {
	return bitrix.NewCoalescer(ctx, n)
}

type staticTokens struct{}

func (staticTokens) AccessToken(context.Context) (string, error)     { return "t", nil }
func (staticTokens) Refresh(context.Context, string) (string, error) { return "t", nil }

func (g *pacedPortals) client(id int64) *bitrix.Client {
	return bitrix.NewClient(bitrix.Options{Endpoint: g.srv.URL + "/rest/", Tokens: staticTokens{}, Pacer: g.pacers[id],
		HTTP: g.srv.Client()})
}

// gatedQueue is a queue over a fresh database, gated by pacedPortals, with
// a portal of each of bursts (their ids in order); unpaced kinds as SetGate.
func gatedQueue(t *testing.T, bursts []int, unpaced ...string) (*jobs.Queue, *sqlx.DB, *pacedPortals, []int64) {
	t.Helper()
	db := storetest.DB(t)
	q := jobs.New(db, slog.New(slog.DiscardHandler))
	t.Cleanup(q.Close)
	g := newPacedPortals(t)
	var ids []int64
	for i, burst := range bursts {
		id := insertPortal(t, db, string(rune('a'+i)))
		g.add(id, burst)
		ids = append(ids, id)
	}
	q.SetGate(g, unpaced...)
	return q, db, g, ids
}

func insertPortal(t *testing.T, db *sqlx.DB, member string) int64 {
	t.Helper()
	var id int64
	if err := db.Get(&id, `INSERT INTO portals (member_id, domain, client_endpoint) VALUES ($1, $1, 'https://x/rest/') RETURNING id`, member); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestLanesBacklogDoesNotHoldOtherPortal: portal A has a backlog of 40 CRM
// writes, portal B, enqueued after all of them, 5. Once A's burst is spent,
// the queue claims none of A's jobs (no worker sits on A's limiter) and
// takes B's, so B's writes are all done while A still has most of its
// backlog waiting; each second of the emulated clock then lets exactly A's
// pace of its jobs through, oldest first.
func TestLanesBacklogDoesNotHoldOtherPortal(t *testing.T) {
	ctx := context.Background()
	q, db, g, ids := gatedQueue(t, []int{4, 10}, "local")
	a, b := ids[0], ids[1]

	type run struct {
		portal, id int64
		budget     int // the portal's budget when its job was claimed
	}
	var runs []run
	busy := 0
	q.Handle("timeline", func(ctx context.Context, j *jobs.Job) error {
		p := j.PortalID.Int64
		runs = append(runs, run{portal: p, id: j.ID, budget: g.Budget(p)})
		if err := g.client(p).Call(ctx, "crm.timeline.comment.add", bitrix.Params{"x": 1}, nil); err != nil {
			busy++
			return portal.JobError(err)
		}
		return nil
	})
	for range 40 {
		if _, err := q.Enqueue(ctx, db, "timeline", nil, jobs.Options{PortalID: a}); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		if _, err := q.Enqueue(ctx, db, "timeline", nil, jobs.Options{PortalID: b}); err != nil {
			t.Fatal(err)
		}
	}
	drain := func() {
		for {
			ran, err := q.RunOnceGated(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !ran {
				return
			}
		}
	}
	waiting := func(p int64) (n int) {
		if err := db.Get(&n, `SELECT count(*) FROM jobs WHERE portal_id = $1 AND state = 'ready'`, p); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The first claim of a portal this queue has not run anything of yet
	// is let through; after it, only portals with budget are claimed.
	drain()
	if w := waiting(b); w != 0 {
		t.Fatalf("B still has %d jobs waiting behind A's backlog (runs %v)", w, runs)
	}
	if w := waiting(a); w < 40-4 {
		t.Fatalf("A has %d jobs left, want at least 36: A ran beyond its budget", w)
	}
	for _, r := range runs {
		if r.budget == 0 {
			t.Fatalf("a job of portal %d was claimed while the portal had no budget (runs %v)", r.portal, runs)
		}
	}
	if busy != 0 {
		t.Fatalf("%d calls found no budget: the claim should have skipped their portal", busy)
	}
	// Every emulated second lets A's pace (2/s) through, oldest first.
	var last int64
	for _, r := range runs {
		if r.portal == a {
			last = max(last, r.id)
		}
	}
	for sec := 1; sec <= 3; sec++ {
		before := len(runs)
		g.advance(time.Second)
		drain()
		if got := len(runs) - before; got != 2 {
			t.Fatalf("second %d: %d of A's jobs ran, want 2 (A's pace)", sec, got)
		}
		for _, r := range runs[before:] {
			if r.portal != a || r.id <= last {
				t.Fatalf("second %d: ran job %d of portal %d, want A's next oldest after %d", sec, r.id, r.portal, last)
			}
			last = r.id
		}
	}
}

// TestLanesPortalBusyKeepsPlace: a job whose portal turns out to have no
// budget after all (another process, or a race between workers, spent it)
// goes back without spending an attempt and keeps its place: the portal's
// next claim takes it again before its younger jobs.
func TestLanesPortalBusyKeepsPlace(t *testing.T) {
	ctx := context.Background()
	q, db, g, ids := gatedQueue(t, []int{1})
	a := ids[0]
	var ran []int64
	q.Handle("timeline", func(ctx context.Context, j *jobs.Job) error {
		ran = append(ran, j.ID)
		if len(ran) == 1 {
			// Someone else took the portal's last token meanwhile.
			if err := g.client(a).Call(context.Background(), "crm.timeline.comment.add", nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		return portal.JobError(g.client(a).Call(ctx, "crm.timeline.comment.add", nil, nil))
	})
	first, err := q.Enqueue(ctx, db, "timeline", nil, jobs.Options{PortalID: a})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Enqueue(ctx, db, "timeline", nil, jobs.Options{PortalID: a}); err != nil {
		t.Fatal(err)
	}
	if ok, err := q.RunOnceGated(ctx, nil); !ok || err != nil {
		t.Fatalf("RunOnce = %v, %v", ok, err)
	}
	var st struct {
		State    string `db:"state"`
		Attempts int    `db:"attempts"`
	}
	if err := db.Get(&st, `SELECT state, attempts FROM jobs WHERE id = $1`, first); err != nil {
		t.Fatal(err)
	}
	if st.State != "ready" || st.Attempts != 0 {
		t.Fatalf("busy job is %s after %d attempts, want ready after 0", st.State, st.Attempts)
	}
	if ok, err := q.RunOnceGated(ctx, nil); ok || err != nil {
		t.Fatalf("RunOnce while the portal has no budget = %v, %v; want nothing claimed", ok, err)
	}
	g.advance(time.Second)
	if ok, err := q.RunOnceGated(ctx, nil); !ok || err != nil {
		t.Fatalf("RunOnce = %v, %v", ok, err)
	}
	if len(ran) != 2 || ran[1] != first {
		t.Fatalf("ran %v, want job %d again first", ran, first)
	}
}

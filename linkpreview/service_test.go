package linkpreview

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/store/storetest"
)

// Many users of many portals asking for one URL at once make one fetch;
// later asks are answered from the cache, a page's failure too.
func TestServiceCoalescesAndCaches(t *testing.T) {
	st := store.New(storetest.DB(t))
	var hits atomic.Int32
	gate := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-gate // hold the first fetch until every caller asked
		w.Header().Set("Content-Type", "text/html")
		if r.URL.Path == "/missing" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		fmt.Fprint(w, `<title>Shared page</title>`)
	}))
	defer s.Close()
	svc := NewService(trusting(s), st, nil)
	ctx := context.Background()

	const callers = 8
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Go(func() {
			p, err := svc.Get(ctx, int64(i%3+1), int64(i), s.URL+"/page")
			if err == nil && p.Title != "Shared page" {
				err = fmt.Errorf("title %q", p.Title)
			}
			errs <- err
		})
	}
	// Let the callers pile up on the one fetch, then answer it.
	for hits.Load() == 0 {
		runtime.Gosched()
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("the page was fetched %d times", n)
	}
	if p, err := svc.Get(ctx, 9, 9, s.URL+"/page#another-fragment"); err != nil || p.Title != "Shared page" {
		t.Fatalf("cached: %+v %v", p, err)
	}
	for range 2 {
		_, err := svc.Get(ctx, 1, 1, s.URL+"/missing")
		wantKind(t, err, KindStatus)
	}
	if n := hits.Load(); n != 2 {
		t.Fatalf("the page was fetched %d times after the cache", n)
	}
}

// A user's fetches are limited; what is cached is not.
func TestServiceRateLimit(t *testing.T) {
	st := store.New(storetest.DB(t))
	s := page(t, `<title>Page</title>`)
	svc := NewService(trusting(s), st, nil)
	ctx := context.Background()
	var limited error
	for i := range UserBurst + 1 {
		if _, err := svc.Get(ctx, 1, 1, fmt.Sprintf("%s/p%d", s.URL, i)); err != nil {
			limited = err
			if i != UserBurst {
				t.Fatalf("fetch %d refused: %v", i, err)
			}
		}
	}
	if !errors.Is(limited, ErrRateLimited) {
		t.Fatalf("fetch %d: %v, want ErrRateLimited", UserBurst, limited)
	}
	if p, err := svc.Get(ctx, 1, 1, s.URL+"/p0"); err != nil || p.Title != "Page" {
		t.Fatalf("cached after the limit: %+v %v", p, err)
	}
	if _, err := svc.Get(ctx, 1, 2, s.URL+"/other-user"); err != nil {
		t.Fatalf("another user: %v", err)
	}
}

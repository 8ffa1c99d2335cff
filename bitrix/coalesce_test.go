package bitrix_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/bitrix/b24test"
)

// runGroup runs n jobs under one coalescer, job i calling fn(ctx, i), and
// waits for all of them. The window is an hour: a request can only have
// gone because every job was waiting or done.
func runGroup(t *testing.T, n int, fn func(ctx context.Context, i int) error) []error {
	t.Helper()
	co := bitrix.NewCoalescer(context.Background(), n)
	co.SetWindow(time.Hour)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			defer co.Leave(i)
			errs[i] = fn(co.Join(context.Background(), i), i)
		})
	}
	wg.Wait()
	return errs
}

func addContact(ctx context.Context, c *bitrix.Client, name string, id *int64) error {
	return c.Call(ctx, "crm.contact.add", bitrix.Params{"fields": map[string]any{"NAME": name}}, id)
}

func TestCoalescerSendsAGroupsCallsInOneBatch(t *testing.T) {
	f := newFixture(t, b24test.PortalOptions{}, nil)
	f.portal.ResetCalls()
	ids := make([]int64, 30)
	errs := runGroup(t, 30, func(ctx context.Context, i int) error {
		return addContact(ctx, f.client, "c"+strconv.Itoa(i), &ids[i])
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("job %d: %v", i, err)
		}
	}
	if got := f.portal.HTTPRequests(); got != 1 {
		t.Fatalf("%d requests for 30 calls, want one batch", got)
	}
	for i := range ids {
		c, ok := f.portal.Contact(int(ids[i]))
		if !ok || c.Name != "c"+strconv.Itoa(i) {
			t.Fatalf("job %d got id %d: %+v", i, ids[i], c)
		}
		// The portal ran them in the jobs' order.
		if i > 0 && ids[i] <= ids[i-1] {
			t.Fatalf("commands not in the jobs' order: %v", ids)
		}
	}
}

func TestCoalescerRefusedCommandFailsOnlyItsCaller(t *testing.T) {
	f := newFixture(t, b24test.PortalOptions{}, nil)
	one := f.portal.AddContact(b24test.Contact{Name: "One"})
	f.portal.ResetCalls()
	errs := runGroup(t, 5, func(ctx context.Context, i int) error {
		entity := one.ID
		if i == 2 {
			entity = 999999 // no such contact: the portal refuses this one
		}
		var id int64
		return f.client.Call(ctx, "crm.timeline.comment.add", bitrix.Params{"fields": map[string]any{
			"ENTITY_ID": entity, "ENTITY_TYPE": "contact", "COMMENT": "m" + strconv.Itoa(i)}}, &id)
	})
	for i, err := range errs {
		if (err != nil) != (i == 2) {
			t.Fatalf("job %d: %v", i, err)
		}
	}
	var be *bitrix.Error
	if !errors.As(errs[2], &be) || be.Method != "crm.timeline.comment.add" || be.Description == "" {
		t.Fatalf("the refusal: %#v", errs[2])
	}
	if got := len(f.portal.Timeline()); got != 4 {
		t.Fatalf("%d comments, want the 4 accepted", got)
	}
	if got := f.portal.HTTPRequests(); got != 1 {
		t.Fatalf("%d requests", got)
	}
}

// A lone call is a plain request, at once: a quiet portal's message waits
// for nothing.
func TestCoalescerLoneCallIsAPlainRequest(t *testing.T) {
	f := newFixture(t, b24test.PortalOptions{}, nil)
	f.portal.ResetCalls()
	var id int64
	errs := runGroup(t, 1, func(ctx context.Context, i int) error { return addContact(ctx, f.client, "solo", &id) })
	if errs[0] != nil || id == 0 {
		t.Fatal(errs[0])
	}
	calls := f.portal.Calls()
	if len(calls) != 1 || calls[0].Method != "crm.contact.add" || calls[0].InBatch {
		t.Fatalf("calls: %+v", calls)
	}
}

// Jobs that finish without calling, or call more than once, or send a
// batch of their own: each waits for no one that cannot come, and each gets
// its own results by its own keys.
func TestCoalescerMixedJobs(t *testing.T) {
	f := newFixture(t, b24test.PortalOptions{}, nil)
	f.portal.ResetCalls()
	var mu sync.Mutex
	got := map[string]int64{}
	errs := runGroup(t, 6, func(ctx context.Context, i int) error {
		switch i % 3 {
		case 0:
			return nil // nothing to send
		case 1:
			for k := range 3 {
				var id int64
				if err := addContact(ctx, f.client, "seq", &id); err != nil {
					return err
				}
				mu.Lock()
				got["seq"+strconv.Itoa(i)+"_"+strconv.Itoa(k)] = id
				mu.Unlock()
			}
			return nil
		default:
			res, err := f.client.Batch(ctx, []bitrix.Command{
				{Key: "a", Method: "crm.contact.add", Params: bitrix.Params{"fields": map[string]any{"NAME": "a"}}},
				{Key: "b", Method: "crm.contact.add", Params: bitrix.Params{"fields": map[string]any{"NAME": "b"}}},
			}, false)
			if err != nil {
				return err
			}
			for _, k := range []string{"a", "b"} {
				var id int64
				if err := json.Unmarshal(res.Result[k], &id); err != nil || id == 0 {
					return errors.New("no result for " + k)
				}
				c, _ := f.portal.Contact(int(id))
				if c.Name != k {
					return errors.New("result of " + k + " is " + c.Name)
				}
			}
			return nil
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("job %d: %v", i, err)
		}
	}
	if len(got) != 6 {
		t.Fatalf("sequential calls: %v", got)
	}
	// Three rounds for the jobs calling three times; the batches ride in the first.
	if n := f.portal.HTTPRequests(); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
}

// More than MaxBatch calls go in as few requests as hold them.
func TestCoalescerSplitsAtMaxBatch(t *testing.T) {
	f := newFixture(t, b24test.PortalOptions{}, nil)
	f.portal.ResetCalls()
	ids := make([]int64, 120)
	for i, err := range runGroup(t, 120, func(ctx context.Context, i int) error {
		return addContact(ctx, f.client, "c"+strconv.Itoa(i), &ids[i])
	}) {
		if err != nil || ids[i] == 0 {
			t.Fatalf("job %d: %v", i, err)
		}
	}
	if n := f.portal.HTTPRequests(); n != 3 {
		t.Fatalf("%d requests for 120 calls, want 3", n)
	}
}

// A request that fails as a whole fails each of its callers with it.
func TestCoalescerFailedRequestFailsEveryCaller(t *testing.T) {
	f := newFixture(t, b24test.PortalOptions{}, nil)
	f.portal.SetFault(&b24test.Fault{Status: http.StatusBadGateway, Count: 10})
	for i, err := range runGroup(t, 4, func(ctx context.Context, i int) error {
		var id int64
		return addContact(ctx, f.client, "x", &id)
	}) {
		if err == nil {
			t.Fatalf("job %d: no error", i)
		}
	}
	if n := f.portal.Contacts(); n != 0 {
		t.Fatalf("%d contacts", n)
	}
}

// A job whose context ends while it waits gives up alone; the others are
// sent when the rest wait.
func TestCoalescerCancelledCallerLeavesTheOthers(t *testing.T) {
	f := newFixture(t, b24test.PortalOptions{}, nil)
	co := bitrix.NewCoalescer(context.Background(), 3)
	co.SetWindow(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 3)
	var wg sync.WaitGroup
	wg.Go(func() { // waits, then is cancelled
		defer co.Leave(0)
		var id int64
		errs <- addContact(co.Join(ctx, 0), f.client, "cancelled", &id)
	})
	// The second waits too; the third is still working until after the
	// first was cancelled and ended.
	wg.Go(func() {
		defer co.Leave(1)
		var id int64
		errs <- addContact(co.Join(context.Background(), 1), f.client, "kept", &id)
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if co.Waiting() == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the two never waited")
		}
	}
	cancel()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	wg.Go(func() {
		defer co.Leave(2)
		var id int64
		errs <- addContact(co.Join(context.Background(), 2), f.client, "late", &id)
	})
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}

// A job's own batch with $result references keeps them, its keys renamed
// in the shared request.
func TestCoalescerKeepsResultReferences(t *testing.T) {
	f := newFixture(t, b24test.PortalOptions{}, nil)
	f.portal.ResetCalls()
	for i, err := range runGroup(t, 3, func(ctx context.Context, i int) error {
		name := "chained" + strconv.Itoa(i)
		res, err := f.client.Batch(ctx, []bitrix.Command{
			{Key: "contact", Method: "crm.contact.add", Params: bitrix.Params{"fields": map[string]any{"NAME": name}}},
			{Key: "get", Method: "crm.contact.get", Raw: "id=$result[contact]"},
		}, false)
		if err != nil {
			return err
		}
		if e := res.Errors["get"]; e != nil {
			return e
		}
		var got struct {
			Name string `json:"NAME"`
		}
		if err := json.Unmarshal(res.Result["get"], &got); err != nil || got.Name != name {
			return errors.New("read back " + got.Name + ", want " + name)
		}
		return nil
	}) {
		if err != nil {
			t.Fatalf("job %d: %v", i, err)
		}
	}
	if n := f.portal.HTTPRequests(); n != 1 {
		t.Fatalf("%d requests", n)
	}
}

// A job busy elsewhere holds back only the jobs after it: after the window
// the calls of those before it go, the others wait for it and keep the
// group's order; a job stalled for long holds back nobody.
func TestCoalescerBusyJobKeepsTheOrder(t *testing.T) {
	f := newFixture(t, b24test.PortalOptions{}, nil)
	co := bitrix.NewCoalescer(context.Background(), 3)
	co.SetWindow(20 * time.Millisecond)
	co.SetStall(time.Hour)
	release := make(chan struct{})
	ids := make([]int64, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			defer co.Leave(i)
			if i == 1 {
				<-release // busy elsewhere (a slow query)
			}
			errs[i] = addContact(co.Join(context.Background(), i), f.client, "c"+strconv.Itoa(i), &ids[i])
		})
	}
	for deadline := time.Now().Add(10 * time.Second); f.portal.Contacts() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first job's call never went")
		}
	}
	if co.Waiting() != 1 {
		t.Fatalf("%d calls waiting, want the third job's, behind the busy second", co.Waiting())
	}
	close(release)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("job %d: %v", i, err)
		}
	}
	if !(ids[0] < ids[1] && ids[1] < ids[2]) {
		t.Fatalf("written out of the jobs' order: %v", ids)
	}

	// Stalled: after the stall the others go without it.
	co = bitrix.NewCoalescer(context.Background(), 2)
	co.SetWindow(10 * time.Millisecond)
	co.SetStall(50 * time.Millisecond)
	hold := make(chan struct{})
	var id int64
	go func() { <-hold; co.Leave(0) }()
	if err := addContact(co.Join(context.Background(), 1), f.client, "not held", &id); err != nil || id == 0 {
		t.Fatal(err)
	}
	close(hold)
}

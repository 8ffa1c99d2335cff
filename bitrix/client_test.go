package bitrix_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/bitrix/b24test"
)

// tokens is a bitrix.Tokens over an emulated portal: it refreshes through the
// emulated OAuth server like the real one does.
type tokens struct {
	oauth     *bitrix.OAuth
	access    atomic.Value
	refresh   atomic.Value
	refreshes atomic.Int32
}

func (t *tokens) AccessToken(context.Context) (string, error) { return t.access.Load().(string), nil }
func (t *tokens) Refresh(ctx context.Context, expired string) (string, error) {
	t.refreshes.Add(1)
	g, err := t.oauth.Refresh(ctx, t.refresh.Load().(string))
	if err != nil {
		return "", err
	}
	t.access.Store(g.AccessToken)
	t.refresh.Store(g.RefreshToken)
	return g.AccessToken, nil
}

type fixture struct {
	oauth  *b24test.OAuth
	portal *b24test.Portal
	tokens *tokens
	client *bitrix.Client
}

// newFixture makes a portal and a client of it paced by pacer; nil gives the
// client a pacer of its own at the documented limits (the emulated portal's
// defaults too).
func newFixture(t testing.TB, opts b24test.PortalOptions, pacer *bitrix.Pacer) *fixture {
	t.Helper()
	o := b24test.NewOAuth(b24test.App{ClientID: "app.1", ClientSecret: "secret"})
	t.Cleanup(o.Close)
	p := o.NewPortal(opts)
	t.Cleanup(p.Close)
	tk := &tokens{oauth: bitrix.NewOAuth(o.URL(), "app.1", "secret", nil)}
	issued := p.IssueTokens(1)
	tk.access.Store(issued.Access)
	tk.refresh.Store(issued.Refresh)
	c := bitrix.NewClient(bitrix.Options{Endpoint: p.ClientEndpoint(), Tokens: tk, Pacer: pacer,
		BaseDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond})
	return &fixture{oauth: o, portal: p, tokens: tk, client: c}
}

func TestCallDecodesResultAndTypedErrors(t *testing.T) {
	f := newFixture(t, b24test.PortalOptions{}, nil)
	ctx := context.Background()
	var me struct {
		ID string `json:"ID"`
	}
	if err := f.client.Call(ctx, "user.current", nil, &me); err != nil || me.ID != "1" {
		t.Fatalf("user.current = %+v, %v", me, err)
	}
	err := f.client.Call(ctx, "no.such.method", nil, nil)
	if !bitrix.HasCode(err, bitrix.CodeMethodNotFound) {
		t.Fatalf("unknown method: %v", err)
	}
	f.portal.RevokeAll()
	err = f.client.Call(ctx, "user.current", nil, nil)
	if !bitrix.Revoked(err) {
		t.Fatalf("revoked token: %v", err)
	}
}

func TestExpiredTokenRefreshesOnceAndRetries(t *testing.T) {
	f := newFixture(t, b24test.PortalOptions{}, nil)
	ctx := context.Background()
	f.oauth.Advance(61 * time.Minute)
	if err := f.client.Call(ctx, "user.current", nil, nil); err != nil {
		t.Fatal(err)
	}
	if n := f.tokens.refreshes.Load(); n != 1 {
		t.Fatalf("%d refreshes", n)
	}
	// A refresh that fails ends the call with the OAuth error, not a loop.
	f.oauth.Advance(61 * time.Minute)
	f.tokens.refresh.Store("0000000000000000000000000000dead")
	err := f.client.Call(ctx, "user.current", nil, nil)
	if !bitrix.HasCode(err, bitrix.CodeInvalidGrant) {
		t.Fatalf("dead refresh token: %v", err)
	}
}

func TestRetriesReadsButNotAmbiguousWrites(t *testing.T) {
	// A fast portal, and the client knows its rate: the pauses after the
	// rate-limited answers below are short.
	f := newFixture(t, b24test.PortalOptions{Burst: 50, PerSecond: 50}, bitrix.NewPacer(48, 50))
	ctx := context.Background()
	f.portal.SetFault(&b24test.Fault{Status: 500, Count: 2})
	if err := f.client.Call(ctx, "user.current", nil, nil); err != nil {
		t.Fatalf("read after two 500s: %v", err)
	}
	f.portal.SetFault(&b24test.Fault{Status: 500, Count: 1})
	err := f.client.Call(ctx, "crm.contact.add", bitrix.Params{"fields": map[string]any{"NAME": "X"}}, nil)
	if err == nil || !bitrix.Temporary(err) {
		t.Fatalf("write after a 500 was retried or misclassified: %v", err)
	}
	// A rate-limited write was not executed, so it is retried.
	f.portal.SetFault(&b24test.Fault{Status: 503, Count: 2})
	var id json.RawMessage
	if err := f.client.Call(ctx, "crm.contact.add", bitrix.Params{"fields": map[string]any{"NAME": "Y"}}, &id); err != nil {
		t.Fatalf("write after 503 QUERY_LIMIT_EXCEEDED: %v", err)
	}
	f.portal.SetFault(&b24test.Fault{Status: 502, Body: "<html>proxy error</html>", Count: 1})
	if err := f.client.Call(ctx, "user.current", nil, nil); err != nil {
		t.Fatalf("read after garbage: %v", err)
	}
	f.portal.SetFault(&b24test.Fault{Status: 500, Count: 100})
	err = f.client.Call(ctx, "user.current", nil, nil)
	if !bitrix.Temporary(err) {
		t.Fatalf("read after persistent 500s: %v", err)
	}
}

func TestContextDeadlineBoundsTheCall(t *testing.T) {
	f := newFixture(t, b24test.PortalOptions{}, nil)
	f.portal.SetLatency(2 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := f.client.Call(ctx, "user.current", nil, nil); err == nil {
		t.Fatal("no error past the deadline")
	}
}

func TestBatch(t *testing.T) {
	f := newFixture(t, b24test.PortalOptions{}, nil)
	ctx := context.Background()
	res, err := f.client.Batch(ctx, []bitrix.Command{
		{Key: "me", Method: "user.current"},
		{Key: "dep", Method: "department.get", Raw: "ID=$result[me][UF_DEPARTMENT][0]"},
		{Key: "bad", Method: "no.such.method"},
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	var deps []struct{ ID string }
	if err := json.Unmarshal(res.Result["dep"], &deps); err != nil || len(deps) != 1 || deps[0].ID != "1" {
		t.Fatalf("referenced department: %s %v (errors %+v)", res.Result["dep"], err, res.Errors["dep"])
	}
	if res.Errors["bad"] == nil || res.Errors["bad"].Code != bitrix.CodeMethodNotFound {
		t.Fatalf("per-command error: %+v", res.Errors)
	}
	cmds := make([]bitrix.Command, 51)
	for i := range cmds {
		cmds[i] = bitrix.Command{Key: "c" + strconv.Itoa(i), Method: "user.current"}
	}
	if _, err := f.client.Batch(ctx, cmds, false); err == nil {
		t.Fatal("51 commands accepted")
	}
}

// The full listing costs the minimum number of requests, ceil(N/2500), and
// returns every record once in ID order, whatever N is relative to a page and
// a batch.
func TestListAllIsMinimal(t *testing.T) {
	for _, n := range []int{0, 1, 49, 50, 51, 2449, 2450, 2451, 2500, 2501, 7777} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			f := newFixture(t, b24test.PortalOptions{Burst: -1}, nil)
			f.portal.SeedCRM(n, 0)
			// Gaps in the IDs must not cost requests either.
			for id := 3; id <= n; id += 7 {
				f.portal.DeleteContact(id)
			}
			want := 0
			for id := 1; id <= n; id++ {
				if _, ok := f.portal.Contact(id); ok {
					want++
				}
			}
			f.portal.ResetCalls()
			var got []int64
			total := -1
			st, err := f.client.ListAll(context.Background(), bitrix.ListSpec{
				Method: "crm.contact.list", Select: []string{"ID", "NAME", "PHONE"},
				OnTotal: func(n int) { total = n },
			}, func(items []json.RawMessage) error {
				for _, it := range items {
					var v struct{ ID string }
					if err := json.Unmarshal(it, &v); err != nil {
						return err
					}
					id, _ := strconv.ParseInt(v.ID, 10, 64)
					got = append(got, id)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != want || total != want {
				t.Fatalf("listed %d, counted %d, want %d", len(got), total, want)
			}
			for i := 1; i < len(got); i++ {
				if got[i] <= got[i-1] {
					t.Fatalf("IDs out of order at %d: %d after %d", i, got[i], got[i-1])
				}
			}
			minimum := max(1, (want+2499)/2500)
			if st.Requests != minimum || f.portal.HTTPRequests() != minimum {
				t.Fatalf("%d requests (portal saw %d), minimum %d", st.Requests, f.portal.HTTPRequests(), minimum)
			}
		})
	}
}

// A portal with a small bucket answers QUERY_LIMIT_EXCEEDED past it; a client
// paced by the portal's own limits never sees one.
func TestRateLimitPacedClientIsNeverRefused(t *testing.T) {
	ctx := context.Background()
	// Paced like portal.Service paces: the portal's rate, a burst two smaller.
	f := newFixture(t, b24test.PortalOptions{Burst: 5, PerSecond: 50}, bitrix.NewPacer(3, 50))
	for i := 0; i < 20; i++ {
		if err := f.client.Call(ctx, "user.current", nil, nil); err != nil {
			t.Fatalf("paced call %d: %v", i, err)
		}
	}
	if n := refusals(f.portal); n != 0 {
		t.Fatalf("the paced client was refused %d times", n)
	}
}

// A pacer told far more than the portal allows (wrong stored limits, or
// other apps on our address sharing the bucket) is refused. The portal counts
// refused requests too, so a client that knocks again too soon keeps its
// bucket full: the pacer must slow down and pause every client of the portal
// until the bucket drained. Then every call gets through, and the refused
// ones stay few.
func TestRateLimitRefusalsSlowEveryClientOfThePortal(t *testing.T) {
	ctx := context.Background()
	pacer := bitrix.NewPacer(48, 100)
	f := newFixture(t, b24test.PortalOptions{Burst: 5, PerSecond: 20}, pacer)
	clients := []*bitrix.Client{f.client}
	for range 3 {
		clients = append(clients, bitrix.NewClient(bitrix.Options{Endpoint: f.portal.ClientEndpoint(), Tokens: f.tokens,
			Pacer: pacer, BaseDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond}))
	}
	const perClient = 15
	var wg sync.WaitGroup
	errs := make(chan error, len(clients)*perClient)
	for _, c := range clients {
		wg.Go(func() {
			for range perClient {
				if err := c.Call(ctx, "user.current", nil, nil); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("call failed: %v", err)
	}
	calls := len(clients) * perClient
	refused := refusals(f.portal)
	burst, rate := pacer.Limits()
	t.Logf("%d calls, %d refused; the pacer ends at burst %d, %v/s", calls, refused, burst, rate)
	if refused == 0 {
		t.Fatal("the portal never refused: the test does not test the back-off")
	}
	// Knocking again at the told pace (or with the client's own short
	// back-off) is refused several times per accepted request.
	if refused > calls/3 {
		t.Fatalf("%d of %d requests refused: the clients kept the bucket full", refused, calls+refused)
	}
	if rate >= 100 {
		t.Fatalf("the pacer still goes at %v/s after %d refusals", rate, refused)
	}
}

// A long pause is not waited out inside the call: it comes back as the
// refusal, with the pause as RetryAfter, for the caller to come back later.
func TestRateLimitLongPauseEndsTheCall(t *testing.T) {
	ctx := context.Background()
	// The documented limits, and a portal that refuses whatever we do.
	f := newFixture(t, b24test.PortalOptions{}, nil)
	f.portal.SetFault(&b24test.Fault{Status: http.StatusServiceUnavailable, Count: 1000})
	err := f.client.Call(ctx, "crm.contact.add", bitrix.Params{"fields": map[string]any{"NAME": "X"}}, nil)
	var e *bitrix.Error
	if !errors.As(err, &e) || e.Code != bitrix.CodeQueryLimitExceeded || e.RetryAfter <= 5*time.Second {
		t.Fatalf("err = %v, want QUERY_LIMIT_EXCEEDED with a pause over 5 s", err)
	}
	if d, limited := bitrix.RetryAfter(err); !limited || d != e.RetryAfter {
		t.Fatalf("RetryAfter(err) = %v, %v", d, limited)
	}
	asked := f.portal.HTTPRequests()
	// The pause holds back every call of the portal, without a request.
	err = f.client.Call(ctx, "user.current", nil, nil)
	if !errors.As(err, &e) || e.Code != bitrix.CodeQueryLimitExceeded || e.RetryAfter <= 0 {
		t.Fatalf("call during the pause: %v", err)
	}
	if n := f.portal.HTTPRequests(); n != asked {
		t.Fatalf("%d requests sent during the pause", n-asked)
	}
}

// A method over its time budget (limits.md: the execution time of its calls
// summed over 10 minutes) is refused with 429 OPERATION_TIME_LIMIT until the
// budget frees up. The client does not retry it in the call, says when to
// come back, asks nothing more of that method until then, and keeps serving
// other methods.
func TestOperationTimeLimit(t *testing.T) {
	ctx := context.Background()
	pacer := bitrix.NewPacer(bitrix.DefaultBurst, bitrix.DefaultPerSecond)
	f := newFixture(t, b24test.PortalOptions{Burst: -1, OperatingLimit: 480 * time.Second}, pacer)
	pacer.SetClock(f.oauth.Now) // the budget's reset times are on the portal's clock
	f.portal.SetOperatingCost("crm.contact.list", 100*time.Second)
	for i := 0; i < 5; i++ { // 500 s: over the budget after the fifth
		if err := f.client.Call(ctx, "crm.contact.list", nil, nil); err != nil {
			t.Fatalf("call %d within the budget: %v", i, err)
		}
	}
	asked := f.portal.HTTPRequests()
	err := f.client.Call(ctx, "crm.contact.list", nil, nil)
	var e *bitrix.Error
	if !errors.As(err, &e) || e.Code != bitrix.CodeOperationTimeLimit || e.Status != http.StatusTooManyRequests {
		t.Fatalf("over the budget: %v", err)
	}
	if n := f.portal.HTTPRequests() - asked; n != 1 {
		t.Fatalf("the blocked method was asked %d times in one call", n)
	}
	// The budget's oldest (and only) minute drops 10 minutes after it opened.
	if e.RetryAfter <= 9*time.Minute || e.RetryAfter > 10*time.Minute {
		t.Fatalf("RetryAfter = %v, want the rest of the 10 minutes", e.RetryAfter)
	}
	if d, limited := bitrix.RetryAfter(err); !limited || d != e.RetryAfter || !bitrix.Temporary(err) {
		t.Fatalf("RetryAfter(err) = %v, %v; Temporary %v", d, limited, bitrix.Temporary(err))
	}

	// Meanwhile each request would only fill the rate-limit bucket.
	err = f.client.Call(ctx, "crm.contact.list", nil, nil)
	if !bitrix.HasCode(err, bitrix.CodeOperationTimeLimit) || f.portal.HTTPRequests()-asked != 1 {
		t.Fatalf("the blocked method again: %v after %d requests", err, f.portal.HTTPRequests()-asked)
	}
	if err := f.client.Call(ctx, "user.current", nil, nil); err != nil {
		t.Fatalf("another method during the block: %v", err)
	}
	// A batch command over the budget blocks its method too.
	pacer2 := bitrix.NewPacer(bitrix.DefaultBurst, bitrix.DefaultPerSecond)
	pacer2.SetClock(f.oauth.Now)
	other := bitrix.NewClient(bitrix.Options{Endpoint: f.portal.ClientEndpoint(), Tokens: f.tokens, Pacer: pacer2})
	res, err := other.Batch(ctx, []bitrix.Command{{Key: "l", Method: "crm.contact.list"}, {Key: "me", Method: "user.current"}}, false)
	if err != nil || res.Errors["l"] == nil || res.Errors["l"].Code != bitrix.CodeOperationTimeLimit || res.Result["me"] == nil {
		t.Fatalf("batch over the budget: %+v %v", res, err)
	}
	asked = f.portal.HTTPRequests()
	if err := other.Call(ctx, "crm.contact.list", nil, nil); !bitrix.HasCode(err, bitrix.CodeOperationTimeLimit) || f.portal.HTTPRequests() != asked {
		t.Fatalf("after the batch's refusal: %v, %d requests", err, f.portal.HTTPRequests()-asked)
	}

	// Once the budget frees up, the method works again.
	f.oauth.Advance(e.RetryAfter + time.Second)
	if err := f.client.Call(ctx, "crm.contact.list", nil, nil); err != nil {
		t.Fatalf("after the budget freed up: %v", err)
	}
}

func refusals(p *b24test.Portal) int {
	n := 0
	for _, c := range p.Calls() {
		if c.Status == http.StatusServiceUnavailable {
			n++
		}
	}
	return n
}

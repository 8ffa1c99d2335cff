package bitrix_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

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

func newFixture(t testing.TB, opts b24test.PortalOptions, limiter *rate.Limiter) *fixture {
	t.Helper()
	o := b24test.NewOAuth(b24test.App{ClientID: "app.1", ClientSecret: "secret"})
	t.Cleanup(o.Close)
	p := o.NewPortal(opts)
	t.Cleanup(p.Close)
	tk := &tokens{oauth: bitrix.NewOAuth(o.URL(), "app.1", "secret", nil)}
	issued := p.IssueTokens(1)
	tk.access.Store(issued.Access)
	tk.refresh.Store(issued.Refresh)
	c := bitrix.NewClient(bitrix.Options{Endpoint: p.ClientEndpoint(), Tokens: tk, Limiter: limiter,
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
	f := newFixture(t, b24test.PortalOptions{}, nil)
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
// paced by a limiter of the same size never sees one, and one without a
// limiter still gets through by backing off.
func TestRateLimit(t *testing.T) {
	ctx := context.Background()
	// Paced like portal.Service paces: the portal's rate, a burst two smaller.
	paced := newFixture(t, b24test.PortalOptions{Burst: 5, PerSecond: 50}, rate.NewLimiter(50, 3))
	for i := 0; i < 20; i++ {
		if err := paced.client.Call(ctx, "user.current", nil, nil); err != nil {
			t.Fatalf("paced call %d: %v", i, err)
		}
	}
	for _, c := range paced.portal.Calls() {
		if c.Status == http.StatusServiceUnavailable {
			t.Fatal("the paced client hit the portal's limit")
		}
	}
	unpaced := newFixture(t, b24test.PortalOptions{Burst: 5, PerSecond: 50}, nil)
	for i := 0; i < 20; i++ {
		if err := unpaced.client.Call(ctx, "user.current", nil, nil); err != nil {
			t.Fatalf("unpaced call %d: %v", i, err)
		}
	}
}

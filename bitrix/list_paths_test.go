package bitrix_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/bitrix/b24test"
)

// The listing's failure paths against the emulated portal over HTTP: a page
// that fails inside a batch, a first page that keeps failing, a page the
// portal restarts from the beginning, and a failed page of a paged list.

type staticTokens string

func (t staticTokens) AccessToken(context.Context) (string, error) { return string(t), nil }
func (t staticTokens) Refresh(context.Context, string) (string, error) {
	return "", &bitrix.Error{Code: bitrix.CodeExpiredToken, Description: "static", Status: 401, Method: "refresh"}
}

// listPortal is a portal without a rate limit and a client of it.
func listPortal(t *testing.T) (*b24test.Portal, *bitrix.Client) {
	t.Helper()
	o := b24test.NewOAuth(b24test.App{ClientID: "app.lists", ClientSecret: "secret"})
	t.Cleanup(o.Close)
	p := o.NewPortal(b24test.PortalOptions{Burst: -1})
	t.Cleanup(p.Close)
	c := bitrix.NewClient(bitrix.Options{Endpoint: p.ClientEndpoint(), Tokens: staticTokens(p.IssueTokens(1).Access),
		BaseDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond})
	return p, c
}

// listContacts runs ListAll over crm.contact.list and returns the IDs fn
// received, in the order received.
func listContacts(t *testing.T, c *bitrix.Client) ([]int64, bitrix.ListStats, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var got []int64
	st, err := c.ListAll(ctx, bitrix.ListSpec{Method: "crm.contact.list", Select: []string{"ID", "NAME"}}, func(items []json.RawMessage) error {
		for _, it := range items {
			var v struct{ ID string }
			if err := json.Unmarshal(it, &v); err != nil {
				return err
			}
			id, err := strconv.ParseInt(v.ID, 10, 64)
			if err != nil {
				return err
			}
			got = append(got, id)
		}
		return nil
	})
	return got, st, err
}

// wantEveryContactOnce checks that ids are exactly 1..n, each once, in order.
func wantEveryContactOnce(t *testing.T, ids []int64, n int) {
	t.Helper()
	seen := map[int64]int{}
	for _, id := range ids {
		seen[id]++
	}
	for id := int64(1); id <= int64(n); id++ {
		if seen[id] != 1 {
			t.Fatalf("contact %d listed %d times (%d listed in all, want %d once each)", id, seen[id], len(ids), n)
		}
	}
	if len(ids) != n {
		t.Fatalf("%d listed, want %d", len(ids), n)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Fatalf("out of order at %d: %d after %d", i, ids[i], ids[i-1])
		}
	}
}

// listCommands is how many crm.contact.list commands the portal ran.
func listCommands(p *b24test.Portal) int {
	n := 0
	for _, c := range p.Calls() {
		if c.Method == "crm.contact.list" {
			n++
		}
	}
	return n
}

// A page that fails in the middle of a batch ends what that batch is worth;
// the next batch resumes after the last record received, so every record
// comes exactly once, for one request more.
func TestListAllResumesAfterAPageFailedInsideABatch(t *testing.T) {
	p, c := listPortal(t)
	p.SeedCRM(3000, 0)
	// The tenth page of the first batch (p9) fails; the pages after it
	// cannot resolve their reference to it and fail too.
	p.SetPageFault(&b24test.PageFault{Method: "crm.contact.list", Nth: 10})
	p.ResetCalls()
	ids, st, err := listContacts(t, c)
	if err != nil {
		t.Fatal(err)
	}
	wantEveryContactOnce(t, ids, 3000)
	// 9 pages (450) in the first batch, 2 500 in the second, 50 in a third.
	if st.Requests != 3 || p.HTTPRequests() != 3 || st.Items != 3000 {
		t.Fatalf("stats %+v, portal saw %d requests; want 3 requests and 3000 items", st, p.HTTPRequests())
	}
	// The second batch started right after the last record of page p8.
	var resumed []string
	for _, call := range p.Calls() {
		if call.Method != "crm.contact.list" {
			continue
		}
		if f, ok := call.Params["filter"].(map[string]any); ok {
			if v, ok := f[">ID"]; ok {
				if s, ok := v.(string); ok && s != "" {
					resumed = append(resumed, s)
				} else if n, ok := v.(json.Number); ok {
					resumed = append(resumed, n.String())
				}
			}
		}
	}
	found := false
	for _, v := range resumed {
		if v == "450" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no page resumed after ID 450; >ID filters seen: %v", resumed)
	}
}

// The first page of a batch has no earlier page to fall back on: it is
// tried again from the same ID, three times; a fourth failure ends the
// listing with the portal's error, after every record before it was
// handed over exactly once.
func TestListAllRetriesAFailedFirstPageThreeTimes(t *testing.T) {
	// 2 550 contacts: the first batch lists 2 500, every later batch is one page.
	t.Run("three failures", func(t *testing.T) {
		p, c := listPortal(t)
		p.SeedCRM(2550, 0)
		p.SetPageFault(&b24test.PageFault{Method: "crm.contact.list", Nth: 51, Count: 3})
		p.ResetCalls()
		ids, st, err := listContacts(t, c)
		if err != nil {
			t.Fatalf("three failed first pages ended the listing: %v", err)
		}
		wantEveryContactOnce(t, ids, 2550)
		if st.Requests != 5 || listCommands(p) != 54 {
			t.Fatalf("stats %+v, %d list commands; want 5 requests, 54 commands", st, listCommands(p))
		}
	})
	t.Run("four failures", func(t *testing.T) {
		p, c := listPortal(t)
		p.SeedCRM(2550, 0)
		p.SetPageFault(&b24test.PageFault{Method: "crm.contact.list", Nth: 51, Count: -1, Status: 500,
			Code: "INTERNAL_SERVER_ERROR", Desc: "page 51 is broken"})
		p.ResetCalls()
		ids, _, err := listContacts(t, c)
		if !bitrix.HasCode(err, "INTERNAL_SERVER_ERROR") {
			t.Fatalf("a first page failing for good: err %v", err)
		}
		wantEveryContactOnce(t, ids, 2500)
		if n := listCommands(p); n != 54 {
			t.Fatalf("%d list commands, want 50 + 4 tries", n)
		}
	})
	t.Run("the counting page", func(t *testing.T) {
		// The very first page counts the records; failing, it fails the
		// listing at once (the caller's job is retried).
		p, c := listPortal(t)
		p.SeedCRM(120, 0)
		p.SetPageFault(&b24test.PageFault{Method: "crm.contact.list", Nth: 1})
		ids, _, err := listContacts(t, c)
		if !bitrix.HasCode(err, "INTERNAL_SERVER_ERROR") || len(ids) != 0 {
			t.Fatalf("first page failed: %v, %d listed", err, len(ids))
		}
	})
}

// A page whose reference the portal did not resolve lists from the
// beginning again (the real portal leaves the reference's text, read as
// ID > 0). The listing recognises the repeat, keeps nothing of it, and
// resumes after the last new record.
func TestListAllRecognisesARestartedPage(t *testing.T) {
	p, c := listPortal(t)
	p.SeedCRM(3000, 0)
	p.SetPageFault(&b24test.PageFault{Method: "crm.contact.list", Nth: 6, Unresolved: true})
	p.ResetCalls()
	ids, st, err := listContacts(t, c)
	if err != nil {
		t.Fatal(err)
	}
	wantEveryContactOnce(t, ids, 3000)
	// The restart really happened: page p5 of the first batch listed ID 1 again.
	restarted := false
	for _, call := range p.Calls() {
		if call.Method == "crm.contact.list" && call.InBatch {
			if f, ok := call.Params["filter"].(map[string]any); ok && f[">ID"] == "0" {
				restarted = true
			}
		}
	}
	if !restarted {
		t.Fatal("no page was listed from the start: the fault did not apply")
	}
	if st.Requests != 3 || st.Items != 3000 {
		t.Fatalf("stats %+v; want 3 requests, 3000 items", st)
	}
}

// A paged list (user.get, department.get) whose later page fails inside its
// batch ends with that error: a caller must never take the pages before it
// for the whole list.
func TestListPagedFailsOnAFailedPage(t *testing.T) {
	p, c := listPortal(t)
	for i := 0; i < 130; i++ {
		p.AddUser(b24test.User{Name: "User", LastName: strconv.Itoa(i), Active: true})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	list := func() (int, error) {
		n := 0
		_, err := c.ListPaged(ctx, "user.get", bitrix.Params{"sort": "ID", "order": "ASC"}, func(items []json.RawMessage) error {
			n += len(items)
			return nil
		})
		return n, err
	}
	if n, err := list(); err != nil || n != 131 {
		t.Fatalf("all pages: %d users, %v", n, err)
	}
	// The third page (start=100, the second command of the batch) fails.
	p.SetPageFault(&b24test.PageFault{Method: "user.get", Nth: 2, Code: "INTERNAL_SERVER_ERROR", Status: 500, Desc: "boom"})
	n, err := list()
	if !bitrix.HasCode(err, "INTERNAL_SERVER_ERROR") {
		t.Fatalf("a failed page: %d users, err %v", n, err)
	}
	if n != 100 {
		t.Fatalf("the pages before the failed one: %d users, want 100", n)
	}
}

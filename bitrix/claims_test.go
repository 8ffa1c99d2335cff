package bitrix_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/bitrix/b24test"
)

// BENCHMARKS.md, "Listing a portal's records", How: filter[>ID] +
// order[ID]=ASC + start=-1, 50 pages chained in one batch through
// $result[pN][49][ID]; only the very first page counts (start=0), and the
// total it gives sizes the batches after the first so no command is wasted.
func TestClaimListAllTechnique(t *testing.T) {
	const n = 5001 // two full batches and one record more
	f := newFixture(t, b24test.PortalOptions{Burst: -1}, nil)
	f.portal.SeedCRM(n, 0)
	f.portal.ResetCalls()
	var ids []string
	total := -1
	st, err := f.client.ListAll(context.Background(), bitrix.ListSpec{
		Method: "crm.contact.list", Select: []string{"ID"}, OnTotal: func(n int) { total = n },
	}, func(items []json.RawMessage) error {
		for _, it := range items {
			var v struct{ ID string }
			if err := json.Unmarshal(it, &v); err != nil {
				return err
			}
			ids = append(ids, v.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != n || total != n {
		t.Fatalf("listed %d, total %d, want %d", len(ids), total, n)
	}
	pagesNeeded := (n + bitrix.PageSize - 1) / bitrix.PageSize
	if st.Requests != 3 || st.Commands != pagesNeeded {
		t.Errorf("%d requests with %d commands, want 3 with %d (the last batch sized to what is left)", st.Requests, st.Commands, pagesNeeded)
	}

	var batches, pages []b24test.Call
	for _, c := range f.portal.Calls() {
		switch {
		case c.Method == "batch":
			batches = append(batches, c)
		case c.Method == "crm.contact.list" && c.InBatch:
			pages = append(pages, c)
		default:
			t.Errorf("unexpected call %s (in batch %v)", c.Method, c.InBatch)
		}
	}
	if len(batches) != 3 || len(pages) != pagesNeeded {
		t.Fatalf("%d batches, %d pages; want 3 and %d", len(batches), len(pages), pagesNeeded)
	}
	for i, c := range pages {
		order, _ := c.Params["order"].(map[string]any)
		filter, _ := c.Params["filter"].(map[string]any)
		start := fmt.Sprint(c.Params["start"])
		wantStart := "-1"
		if i == 0 {
			wantStart = "0" // the one page that counts
		}
		if start != wantStart {
			t.Errorf("page %d: start=%s, want %s", i, start, wantStart)
		}
		if fmt.Sprint(order["ID"]) != "ASC" {
			t.Errorf("page %d: order %v, want ID ASC", i, c.Params["order"])
		}
		// The filter, as the portal resolved it: the previous page's last ID.
		wantAfter := "0"
		if i > 0 {
			wantAfter = ids[i*bitrix.PageSize-1]
		}
		if got := fmt.Sprint(filter[">ID"]); got != wantAfter {
			t.Errorf("page %d: filter[>ID]=%s, want %s", i, got, wantAfter)
		}
	}
	// Inside a batch, every page but the first takes its filter from the page
	// before it by reference; the first page of a later batch carries the ID.
	for b, c := range batches {
		cmds, _ := c.Params["cmd"].(map[string]any)
		for k := 1; k < len(cmds); k++ {
			cmd := fmt.Sprint(cmds["p"+strconv.Itoa(k)])
			if !strings.Contains(cmd, "=$result[p"+strconv.Itoa(k-1)+"][49][ID]") {
				t.Errorf("batch %d, p%d: %s does not chain on p%d's 50th ID", b, k, cmd, k-1)
			}
		}
	}
	if got := len(batches[2].Params["cmd"].(map[string]any)); got != 1 {
		t.Errorf("the last batch has %d commands for 1 record left, want 1", got)
	}
}

package bitrix_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/bitrix/b24test"
)

// BenchmarkListAll lists N contacts from the emulated portal and reports the
// HTTP requests the portal received for it (what its rate limit counts, not
// what the client believes it sent) against the minimum possible,
// ceil(N/2500) (50 pages of 50 per batch), and against the plain start/next
// paging a naive client does (the baseline, measured in the same run).
func BenchmarkListAll(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		// The portal has no limit here and the client must not pace either:
		// what is counted is requests, not seconds.
		f := newFixture(b, b24test.PortalOptions{Burst: -1}, bitrix.NewPacer(1<<20, 1e6))
		f.portal.SeedCRM(n, 0)
		ctx := context.Background()
		minimum := float64(max(1, (n+2499)/2500))
		b.Run("fast/N="+strconv.Itoa(n), func(b *testing.B) {
			var st bitrix.ListStats
			requests := 0
			for b.Loop() {
				var err error
				before := f.portal.HTTPRequests()
				st, err = f.client.ListAll(ctx, bitrix.ListSpec{Method: "crm.contact.list", Select: []string{"ID", "NAME", "PHONE", "IM"}},
					func([]json.RawMessage) error { return nil })
				if err != nil || st.Items != n {
					b.Fatalf("listed %d of %d: %v", st.Items, n, err)
				}
				requests = f.portal.HTTPRequests() - before
				if requests != st.Requests {
					b.Fatalf("the portal received %d requests, the client counted %d", requests, st.Requests)
				}
			}
			b.ReportMetric(float64(requests), "requests")
			b.ReportMetric(minimum, "min-requests")
			b.ReportMetric(float64(st.Requests)/minimum, "requests/min")
		})
		b.Run("paged/N="+strconv.Itoa(n), func(b *testing.B) {
			requests := 0
			for b.Loop() {
				before := f.portal.HTTPRequests()
				items := 0
				start := 0
				for {
					resp, err := f.client.Do(ctx, "crm.contact.list", bitrix.Params{"select": []string{"ID", "NAME", "PHONE", "IM"}, "start": start})
					if err != nil {
						b.Fatal(err)
					}
					var page []json.RawMessage
					_ = json.Unmarshal(resp.Result, &page)
					items += len(page)
					if resp.Next == nil {
						break
					}
					start = *resp.Next
				}
				if items != n {
					b.Fatalf("paged %d of %d", items, n)
				}
				requests = f.portal.HTTPRequests() - before
			}
			b.ReportMetric(float64(requests), "requests")
			b.ReportMetric(minimum, "min-requests")
			b.ReportMetric(float64(requests)/minimum, "requests/min")
		})
	}
}

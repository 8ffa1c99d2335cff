package app_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/relay24/relay24/bitrix/b24test"
)

// BenchmarkFirstSync mirrors a portal of 100 000 contacts and 100 000 deals
// under the portal's real limit (burst 50, 2 requests/s) and reports REST
// requests against the minimum (ceil(N/2500) per entity, plus one page each
// of users and departments) and seconds against the floor the limit sets:
// (requests − 50) / 2.
func BenchmarkFirstSync(b *testing.B) {
	const contacts, deals = 100_000, 100_000
	for b.Loop() {
		e := newEnv(b)
		p := e.OAuth.NewPortal(b24test.PortalOptions{Burst: 50, PerSecond: 2})
		p.SeedCRM(contacts, deals)
		if r, err := p.PostInstall(e.ctx, e.URL+"/b24/install", 1); err != nil || r.Status != http.StatusOK {
			b.Fatalf("install: %v", err)
		}
		// The install's own requests have drained by the time an admin
		// finishes reading the install page; start the clock with a full bucket.
		time.Sleep(3 * time.Second)
		p.ResetCalls()
		start := time.Now()
		e.drain()
		took := time.Since(start)
		requests := p.HTTPRequests()
		minimum := (contacts+2499)/2500 + 1 /* leads: one empty page */ + (deals+2499)/2500 + 2
		floor := float64(max(0, requests-50)) / 2
		if n := e.count(`SELECT count(*) FROM contacts`); n != contacts {
			b.Fatalf("%d contacts mirrored", n)
		}
		b.ReportMetric(float64(requests), "requests")
		b.ReportMetric(float64(minimum), "min-requests")
		b.ReportMetric(float64(requests)/float64(minimum), "requests/min")
		b.ReportMetric(took.Seconds(), "seconds")
		b.ReportMetric(floor, "floor-seconds")
		b.ReportMetric(took.Seconds()/floor, "seconds/floor")
		p.Close()
	}
}

package app_test

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// BenchmarkLanes measures the case: a known client of portal B
// writes 5 messages and we time each from its webhook to its comment on B's
// CRM timeline (timeline_id recorded), first with B alone, then while
// portal A works off a burst of 300 messages from 30 new clients. Both
// portals have the real limit (burst 50, 2/s). It reports both p99s and their
// ratio (the target: at most 1.5).
func BenchmarkLanes(b *testing.B) {
	for b.Loop() {
		a := newRelayEnvWorkers(b, benchWorkers)
		a.App.Jobs.SetPoll(10 * time.Millisecond)
		pb := a.secondPortal("d9df90444023482f909520d454368d28")
		// Production's wait for an unresolved client (the harness's 1 ms
		// would have A's 300 timeline jobs spin through the workers).
		a.App.Relay.SetNotifyDelay(3 * time.Second)
		const knownB = "79992000001"
		seq := 0
		// measure sends rounds of 5 messages from B's known client and
		// returns each one's webhook → timeline latency.
		var filed []time.Duration
		measure := func(rounds int) []time.Duration {
			var out []time.Duration
			filed = nil
			for range rounds {
				var wg sync.WaitGroup
				var mu sync.Mutex
				for range 5 {
					seq++
					start := time.Now()
					id := pb.clientWrites(pb.WA, "whatsapp", knownB, fmt.Sprintf("B %d", seq))
					wg.Go(func() {
						seen := false
						for {
							var n int
							if err := a.App.Store.DB().Get(&n, `SELECT count(*) FROM messages WHERE provider_message_id = $1 AND timeline_id IS NOT NULL`, id); err != nil {
								b.Error(err)
								return
							}
							if !seen {
								var f int
								a.App.Store.DB().Get(&f, `SELECT count(*) FROM messages WHERE provider_message_id = $1`, id)
								if f > 0 {
									seen = true
									mu.Lock()
									filed = append(filed, time.Since(start))
									mu.Unlock()
								}
							}
							if n > 0 {
								mu.Lock()
								out = append(out, time.Since(start))
								mu.Unlock()
								return
							}
							time.Sleep(5 * time.Millisecond)
						}
					})
				}
				wg.Wait()
			}
			return out
		}
		measure(1) // B's client becomes known (contact, deal)
		// The installs' and connections' requests drain from the buckets.
		time.Sleep(30 * time.Second)
		alone := measure(4)
		filedAlone := pct(filed, 0.99)
		// A's burst: 30 new clients, 10 messages each.
		for i := range 300 {
			a.clientWrites(a.WA, "whatsapp", fmt.Sprintf("7999100%04d", i%30), fmt.Sprintf("A %d", i))
		}
		bursting := measure(4)
		filedBurst := pct(filed, 0.99)
		left := a.count(`SELECT count(*) FROM jobs WHERE portal_id = $1 AND kind = 'timeline.message' AND state IN ('ready', 'running')`, a.PortalID)
		pa, pba := pct(alone, 0.99), pct(bursting, 0.99)
		b.Logf("B alone p99 %v (filed %v); with A bursting p99 %v (filed %v) (A still had %d timeline jobs waiting)", pa, filedAlone, pba, filedBurst, left)
		b.ReportMetric(pa.Seconds()*1000, "B-alone-p99-ms")
		b.ReportMetric(pba.Seconds()*1000, "B-with-A-burst-p99-ms")
		b.ReportMetric(float64(pba)/float64(pa), "p99-ratio")
		b.ReportMetric(float64(left), "A-timeline-jobs-left")
	}
}

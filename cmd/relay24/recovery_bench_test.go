package main

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/relay24/relay24/wazzup/wztest"
)

// installReal is rig.install without raising the rate limit: the emulated
// portal keeps Bitrix24's real one (burst 50, 2 requests/s) and relay24 its
// default per-portal limits (stored as NULL). It then waits until the
// install's and the connection's requests have drained from the portal's
// bucket (26 s after the last one), so both runs of the benchmark start
// with a full budget.
func (r *rig) installReal(ctx context.Context) {
	r.t.Helper()
	r.installLimited(ctx, false)
	db, err := sql.Open("postgres", r.dbURL)
	if err != nil {
		r.t.Fatal(err)
	}
	defer db.Close()
	var defaults int
	if err := db.QueryRow(`SELECT count(*) FROM portals WHERE rate_burst IS NULL AND rate_per_second IS NULL`).Scan(&defaults); err != nil || defaults != 1 {
		r.t.Fatalf("the portal's stored limits are not the defaults: %v", err)
	}
	// Quiet for 3 s (the first sync done), then 26 s after the last request.
	last, since := r.portal.HTTPRequests(), time.Now()
	for deadline := time.Now().Add(3 * time.Minute); time.Since(since) < 3*time.Second; time.Sleep(200 * time.Millisecond) {
		if n := r.portal.HTTPRequests(); n != last {
			last, since = n, time.Now()
		}
		if time.Now().After(deadline) {
			r.t.Fatal("the install's requests never ended")
		}
	}
	var lastAt time.Time
	for _, c := range r.portal.Calls() {
		if c.At.After(lastAt) {
			lastAt = c.At
		}
	}
	time.Sleep(time.Until(lastAt.Add(26 * time.Second)))
}

// recoveryRun sends n webhooks from n/10 clients at once to a freshly
// installed binary and returns the seconds from the first webhook until all
// are filed once and on the timeline once. With kill, the binary is killed
// with SIGKILL as soon as the last webhook was acknowledged and started
// again at once.
func recoveryRun(b *testing.B, kill bool) (seconds float64, atKill string) {
	const n, clients = 200, 20
	r := newRig(b)
	ctx := context.Background()
	cmd := r.start()
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	r.installReal(ctx)
	db, err := sql.Open("postgres", r.dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()

	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			chat := fmt.Sprintf("7999700%04d", i%clients)
			if _, err := r.acc.ClientWrites(ctx, r.ch.ChannelID, "whatsapp", chat, wztest.Incoming{Text: fmt.Sprintf("recovery %d end", i)}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	if kill {
		if err := cmd.Process.Kill(); err != nil {
			b.Fatal(err)
		}
		_ = cmd.Wait()
		var filed, onTimeline int
		_ = db.QueryRow(`SELECT count(*), count(timeline_id) FROM messages WHERE direction = 'in'`).Scan(&filed, &onTimeline)
		atKill = fmt.Sprintf("at the kill (%.1f s): %d of %d filed, %d on the timeline", time.Since(start).Seconds(), filed, n, onTimeline)
		cmd = r.start() // the deferred kill reads cmd: it covers the new process
	}
	close(errs)
	for err := range errs {
		b.Fatalf("a webhook was not acknowledged: %v", err)
	}
	tag := regexp.MustCompile(`recovery (\d+) end`)
	counts := func() map[int]int {
		out := map[int]int{}
		for _, e := range r.portal.Timeline() {
			for _, m := range tag.FindAllStringSubmatch(e.Text, -1) {
				k, _ := strconv.Atoi(m[1])
				out[k]++
			}
		}
		return out
	}
	var total, distinct, withID int
	for deadline := start.Add(10 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if err := db.QueryRow(`SELECT count(*), count(DISTINCT provider_message_id), count(timeline_id) FROM messages WHERE direction = 'in'`).Scan(&total, &distinct, &withID); err != nil {
			b.Fatal(err)
		}
		if withID >= n && len(counts()) >= n {
			seconds = time.Since(start).Seconds()
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("after 10 minutes: %d messages filed, %d with a timeline id, %d on the timeline, want %d", total, withID, len(counts()), n)
		}
	}
	// Whatever still runs ends (a duplicate would be seen), then exactly once.
	time.Sleep(5 * time.Second)
	if err := db.QueryRow(`SELECT count(*), count(DISTINCT provider_message_id), count(timeline_id) FROM messages WHERE direction = 'in'`).Scan(&total, &distinct, &withID); err != nil {
		b.Fatal(err)
	}
	if total != n || distinct != n || withID != n {
		b.Fatalf("%d messages, %d distinct provider ids, %d with a timeline id, want %d", total, distinct, withID, n)
	}
	c := counts()
	for i := range n {
		if c[i] != 1 {
			b.Fatalf("message %d is on the timeline %d times", i, c[i])
		}
	}
	return seconds, atKill
}

// BenchmarkKill9Recovery: 200 webhooks from 20 new clients at once, at the
// real limit (burst 50, 2/s on the emulated portal, relay24's default
// per-portal limits: the rate is NOT raised as rig.install does, in both
// runs). Baseline: seconds from the first webhook until all 200 are filed
// and on the timeline, the binary left alone. Then, on a fresh rig, the same
// burst with the binary killed (SIGKILL) right after the last webhook was
// acknowledged and restarted at once. Reports both and their ratio (target
// ≤ 1.5); fails unless every message is filed and on the timeline exactly
// once in both.
func BenchmarkKill9Recovery(b *testing.B) {
	if testing.Short() {
		b.Skip("builds and runs the binary")
	}
	for b.Loop() {
		base, _ := recoveryRun(b, false)
		killed, atKill := recoveryRun(b, true)
		b.Logf("200 messages from 20 new clients: %.1f s without a kill; %.1f s with a SIGKILL after the last acknowledgement (%s); ratio %.2f (target ≤ 1.5)",
			base, killed, atKill, killed/base)
		b.ReportMetric(base, "baseline-seconds")
		b.ReportMetric(killed, "kill9-seconds")
		b.ReportMetric(killed/base, "ratio")
	}
}

package main

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relay24/relay24/wazzup/wztest"
)

// The real binary is killed with SIGKILL right after it acknowledged the last
// of a burst of webhooks, with messages still to file or to write on the
// timeline; restarted, it files every message exactly once.
func TestKill9AfterLastAcknowledgedWebhook(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	r := newRig(t)
	ctx := context.Background()
	cmd := r.start()
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	r.install(ctx)
	acc, ch, portal, dbURL := r.acc, r.ch, r.portal, r.dbURL
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A slow portal keeps the CRM work of the burst from finishing before
	// the kill, whatever the machine's speed.
	portal.SetLatency(200 * time.Millisecond)

	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Go(func() {
			chat := "7999100" + fmt.Sprintf("%04d", i%20)
			if _, err := acc.ClientWrites(ctx, ch.ChannelID, "whatsapp", chat, wztest.Incoming{Text: "msg " + strconv.Itoa(i)}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	// Every webhook was acknowledged: kill at once, no shutdown.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a webhook was not acknowledged: %v", err)
	}
	// What was left at the kill (the dead process changes nothing more): if
	// every message was filed and on the timeline already, the restart
	// would prove nothing.
	var filed, unfinished int
	if err := db.QueryRow(`SELECT count(*) FROM messages WHERE direction = 'in'`).Scan(&filed); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM jobs WHERE state IN ('ready', 'running')`).Scan(&unfinished); err != nil {
		t.Fatal(err)
	}
	onTimeline := len(portal.Timeline())
	t.Logf("at the kill: %d of %d messages filed, %d on the timeline, %d jobs not done", filed, n, onTimeline, unfinished)
	if filed == n && onTimeline == n {
		t.Fatalf("nothing was pending at the kill (%d jobs not done): the test would prove nothing", unfinished)
	}

	portal.SetLatency(0)
	cmd = r.start()
	var total, distinct int
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		_ = db.QueryRow(`SELECT count(*), count(DISTINCT provider_message_id) FROM messages WHERE direction = 'in'`).Scan(&total, &distinct)
		if total >= n && len(portal.Timeline()) >= n {
			break
		}
	}
	if total != n || distinct != n {
		t.Fatalf("after the crash: %d messages, %d distinct, want %d", total, distinct, n)
	}
	seen := map[string]int{}
	for _, e := range portal.Timeline() {
		if i := strings.Index(e.Text, "msg "); i >= 0 {
			seen[strings.Fields(e.Text[i+4:])[0]]++
		}
	}
	if len(seen) != n {
		t.Fatalf("timeline covers %d messages, want %d", len(seen), n)
	}
	for k, c := range seen {
		if c != 1 {
			t.Fatalf("message %s on the timeline %d times", k, c)
		}
	}
}

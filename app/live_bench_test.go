package app_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/store/storetest"
)

// statsFlush is how long PostgreSQL may keep a backend's counters before it
// publishes them (PGSTAT_IDLE_INTERVAL, 10 s, plus a margin).
const statsFlush = 11500 * time.Millisecond

// BenchmarkLiveEvents counts the database queries live events cost: N open
// chat pages (event streams of the general chat, each with a dialog open)
// hear M messages (message.created + dialog.updated each, as the relay raises
// them), and the figure is the queries per event per open page, read from
// the database's own transaction counters (pg_stat_database: every query the
// handlers and the hub make is one autocommit transaction). The baseline,
// in the same run, is the old page: every event made it reload its list
// (50 rows) and, when the event was its open dialog's, its history, each
// debounced by 100 ms as chat.js did; the new page applies the event's row
// and message in place and asks for nothing.
func BenchmarkLiveEvents(b *testing.B) {
	r := newRelayEnv(b)
	r.seedDialogs(b, 2_000, 20_000)
	ctx := context.Background()
	db := r.App.Store.DB()
	var dbName string
	if err := db.Get(&dbName, `SELECT current_database()`); err != nil {
		b.Fatal(err)
	}
	admin, err := sql.Open("postgres", storetest.ClusterURL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	// Read from the maintenance database, so reading counts nothing here.
	xacts := func() int64 {
		var n int64
		if err := admin.QueryRow(`SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1`, dbName).Scan(&n); err != nil {
			b.Fatal(err)
		}
		return n
	}
	type target struct{ dialog, message int64 }
	var targets []target
	if err := func() error {
		rows, err := db.Query(`SELECT id, last_message_id FROM dialogs WHERE portal_id = $1 AND last_message_id IS NOT NULL ORDER BY id LIMIT 10`, r.PortalID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t target
			if err := rows.Scan(&t.dialog, &t.message); err != nil {
				return err
			}
			targets = append(targets, t)
		}
		return rows.Err()
	}(); err != nil || len(targets) == 0 {
		b.Fatalf("targets: %v %d", err, len(targets))
	}
	const pages, messages = 50, 40
	get := func(path string) {
		req, _ := http.NewRequest("GET", r.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+r.Admin)
		if res, err := http.DefaultClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	}
	// run opens the pages, lets the counters settle, sends the messages and
	// returns the database transactions they cost.
	var idleRate float64 // transactions per second the database does on its own
	run := func(reload bool) (float64, int) {
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var wg sync.WaitGroup
		heard := make(chan struct{}, pages*messages*2)
		for p := 0; p < pages; p++ {
			open := targets[p%len(targets)].dialog
			req, _ := http.NewRequestWithContext(sctx, "GET", r.URL+"/api/v1/events?session="+r.Admin, nil)
			res, err := http.DefaultClient.Do(req)
			if err != nil || res.StatusCode != 200 {
				b.Fatalf("stream: %v", err)
			}
			events := make(chan int64, 256)
			ready := make(chan struct{})
			go func() {
				defer res.Body.Close()
				defer close(events)
				readEvents(res.Body, ready, func(_ string, data []byte) {
					var ev struct {
						DialogID int64 `json:"dialog_id"`
					}
					_ = json.Unmarshal(data, &ev)
					heard <- struct{}{}
					events <- ev.DialogID
				})
			}()
			<-ready
			wg.Add(1)
			go func() { // the page
				defer wg.Done()
				for {
					id, ok := <-events
					if !ok {
						return
					}
					concerns := id == open
					// Debounce as chat.js's serial(): 100 ms of quiet.
				quiet:
					for {
						select {
						case id, ok = <-events:
							if !ok {
								return
							}
							concerns = concerns || id == open
						case <-time.After(100 * time.Millisecond):
							break quiet
						}
					}
					if reload {
						get("/api/v1/dialogs?limit=50")
						if concerns {
							get("/api/v1/dialogs/" + strconv.FormatInt(open, 10) + "/messages?limit=30")
						}
					}
				}
			}()
		}
		time.Sleep(statsFlush)
		before, start := xacts(), time.Now()
		for i := 0; i < messages; i++ {
			t := targets[i%len(targets)]
			if err := r.App.Store.Notify(ctx,
				store.Event{PortalID: r.PortalID, Type: "message.created", DialogID: t.dialog, MessageID: t.message},
				store.Event{PortalID: r.PortalID, Type: "dialog.updated", DialogID: t.dialog}); err != nil {
				b.Fatal(err)
			}
			time.Sleep(250 * time.Millisecond) // past the pages' debounce and their reloads
		}
		for i := 0; i < pages*messages*2; i++ {
			<-heard
		}
		time.Sleep(time.Second) // the last reloads
		time.Sleep(statsFlush)
		after := xacts()
		cancel()
		wg.Wait()
		n := int(float64(after-before-messages) - idleRate*time.Since(start).Seconds() + 0.5)
		return float64(n) / float64(messages*2*pages), n
	}
	// What the database does on its own meanwhile (listener pings, sweeps),
	// subtracted at its rate over each measured window.
	time.Sleep(statsFlush)
	idle0 := xacts()
	time.Sleep(statsFlush)
	idle := xacts() - idle0
	idleRate = float64(idle) / statsFlush.Seconds()
	b.ResetTimer()
	oldPer, oldN := run(true)
	newPer, newN := run(false)
	b.StopTimer()
	b.ReportMetric(newPer, "queries/event/page")
	b.ReportMetric(oldPer, "old-queries/event/page")
	fmt.Printf("live events: %d pages × %d messages (%d events): new %d queries = %.4f per event per page; "+
		"old (reload list + history) %d queries = %.3f per event per page; ratio %.0f; less the idle rate (%d transactions in %s)\n",
		pages, messages, messages*2, newN, newPer, oldN, oldPer, oldPer/newPer, idle, statsFlush)
}

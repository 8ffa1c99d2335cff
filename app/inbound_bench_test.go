package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// webhookBody is one Wazzup message webhook, shaped as the emulator sends it.
func webhookBody(channelID, messageID, chatID string, at time.Time) []byte {
	return []byte(fmt.Sprintf(`{"messages":[{"messageId":%q,"channelId":%q,"chatType":"whatsapp","chatId":%q,`+
		`"dateTime":%q,"type":"text","isEcho":false,"status":"inbound","text":"benchmark message",`+
		`"contact":{"name":"Bench Client"}}]}`, messageID, channelID, chatID, at.UTC().Format("2006-01-02T15:04:05.000Z")))
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// BenchmarkInbound measures, in one run against the same PostgreSQL:
//   - the raw single-row INSERT rate of a webhook-sized JSON row (baseline),
//   - how many webhooks/s relay24 acknowledges (each one stored durably first),
//     with the same concurrency,
//   - the acknowledgement latency at a steady 500 webhooks/s,
//   - the latency from sending a webhook to its message.created event on an
//     open event stream (the whole pipeline: store, job, file, NOTIFY, SSE).
func BenchmarkInbound(b *testing.B) {
	r := newRelayEnvWorkers(b, benchWorkers)
	hook := r.Acc.Webhook()
	ctx := context.Background()
	const conc = 64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
	var seq atomic.Int64
	post := func(chat string) (time.Duration, string, error) {
		id := fmt.Sprintf("bench-%d", seq.Add(1))
		body := webhookBody(r.WA.ChannelID, id, chat, time.Now())
		start := time.Now()
		res, err := client.Post(hook, "application/json", bytes.NewReader(body))
		if err != nil {
			return 0, id, err
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			return 0, id, fmt.Errorf("status %d", res.StatusCode)
		}
		return time.Since(start), id, nil
	}
	for b.Loop() {
		// Baseline: raw inserts of the same body, same concurrency.
		db := r.App.Store.DB()
		if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS bench_raw (id bigserial PRIMARY KEY, body jsonb NOT NULL)`); err != nil {
			b.Fatal(err)
		}
		// The three loads alternate in rounds (raw, HTTP, webhooks, raw, …)
		// so that drift on this shared machine (autovacuum, page cache)
		// touches all of them alike; rates are over the summed time.
		const n, rounds = 2000, 3
		body := webhookBody(r.WA.ChannelID, "raw", "79990000000", time.Now())
		var wg sync.WaitGroup
		var next atomic.Int64
		run := func(op func(worker int) error) time.Duration {
			next.Store(0)
			start := time.Now()
			for w := range conc {
				wg.Go(func() {
					for next.Add(1) <= n {
						if err := op(w); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			return time.Since(start)
		}
		raw := func(int) error {
			_, err := db.Exec(`INSERT INTO bench_raw (body) VALUES ($1)`, body)
			return err
		}
		// Second baseline: the same HTTP round trips doing nothing (/healthz),
		// to show how much of the cost is HTTP on this 2-core machine.
		empty := func(int) error {
			res, err := client.Get(r.URL + "/healthz")
			if err == nil {
				res.Body.Close()
			}
			return err
		}
		hook := func(w int) error {
			_, _, err := post(fmt.Sprintf("7999200%04d", w))
			return err
		}
		var tRaw, tHTTP, tHook time.Duration
		for range rounds {
			tRaw += run(raw)
			tHTTP += run(empty)
			tHook += run(hook)
		}
		rawRate := n * rounds / tRaw.Seconds()
		httpRate := n * rounds / tHTTP.Seconds()
		hookRate := n * rounds / tHook.Seconds()

		// Acknowledgement latency at a steady 500/s for 5 s (open loop).
		var mu sync.Mutex
		var lat []time.Duration
		tick := time.NewTicker(2 * time.Millisecond)
		deadline := time.Now().Add(5 * time.Second)
		i := 0
		for time.Now().Before(deadline) {
			<-tick.C
			i++
			chat := fmt.Sprintf("7999300%04d", i%200)
			wg.Go(func() {
				d, _, err := post(chat)
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			})
		}
		tick.Stop()
		wg.Wait()

		// Let the backlog drain before timing the pipeline end to end.
		for waited := 0; waited < 600; waited++ {
			if r.count(`SELECT count(*) FROM jobs WHERE kind = 'inbound.wazzup' AND state <> 'done'`) == 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		var e2e []time.Duration
		if benchWorkers > 0 {
			e2e = r.streamLatency(ctx, b, post)
		}

		b.ReportMetric(rawRate, "raw-inserts/s")
		b.ReportMetric(hookRate, "webhooks/s")
		b.ReportMetric(hookRate/rawRate, "webhooks/raw")
		b.ReportMetric(httpRate, "empty-http/s")
		b.ReportMetric(float64(pct(lat, 0.50).Microseconds())/1000, "ack-p50-ms")
		b.ReportMetric(float64(pct(lat, 0.99).Microseconds())/1000, "ack-p99-ms")
		b.ReportMetric(float64(len(lat))/5, "ack-rate/s")
		b.ReportMetric(float64(pct(e2e, 0.50).Microseconds())/1000, "stream-p50-ms")
		b.ReportMetric(float64(pct(e2e, 0.99).Microseconds())/1000, "stream-p99-ms")
	}
}

// streamLatency sends webhooks at 50/s for 4 s with an event stream open and
// measures send → message.created on the stream, matched by provider id.
func (r *relayEnv) streamLatency(ctx context.Context, b *testing.B, post func(string) (time.Duration, string, error)) []time.Duration {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, _ := http.NewRequestWithContext(sctx, "GET", r.URL+"/api/v1/events?session="+r.Admin, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		b.Fatalf("event stream: %v", err)
	}
	received := map[int64]time.Time{}
	var mu sync.Mutex
	ready := make(chan struct{})
	go readEvents(res.Body, ready, func(typ string, data []byte) {
		var d struct {
			MessageID int64 `json:"message_id"`
		}
		if typ == "message.created" && json.Unmarshal(data, &d) == nil {
			mu.Lock()
			received[d.MessageID] = time.Now()
			mu.Unlock()
		}
	})
	<-ready
	sent := map[string]time.Time{}
	tick := time.NewTicker(20 * time.Millisecond)
	for i := 0; i < 200; i++ {
		<-tick.C
		at := time.Now()
		_, id, err := post(fmt.Sprintf("7999400%04d", i))
		if err != nil {
			b.Fatal(err)
		}
		sent[id] = at
	}
	tick.Stop()
	time.Sleep(2 * time.Second)
	var out []time.Duration
	rows, err := r.App.Store.DB().Query(`SELECT id, provider_message_id FROM messages WHERE provider_message_id = ANY($1)`, pqStrings(sent))
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	mu.Lock()
	defer mu.Unlock()
	for rows.Next() {
		var id int64
		var pid string
		if err := rows.Scan(&id, &pid); err != nil {
			b.Fatal(err)
		}
		if at, ok := received[id]; ok {
			out = append(out, at.Sub(sent[pid]))
		}
	}
	if len(out) < len(sent) {
		b.Errorf("%d of %d messages reached the stream", len(out), len(sent))
	}
	return out
}

var benchWorkers = 4

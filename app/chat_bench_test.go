package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/relay24/relay24/store"
)

// seedDialogs fills the portal with n dialogs and m messages straight in SQL
// (the relay's own path is measured elsewhere): a tenth unanswered; one in
// fifty is the salesperson's (user 2), the rest the admin's, so his "own"
// view filters as it would on a real sales floor.
func (r *relayEnv) seedDialogs(b *testing.B, n, m int) {
	db := r.App.Store.DB()
	ch := r.chans[r.WA.ChannelID]
	_, err := db.Exec(`
		INSERT INTO dialogs (portal_id, channel_id, chat_type, chat_id, client_name, client_resolved, responsible_id)
		SELECT $1, $2, 'whatsapp', (79000000000 + g)::text, 'Client ' || g, true, CASE WHEN g % 50 = 0 THEN 2 ELSE 1 END
		FROM generate_series(1, $3) g`,
		r.PortalID, ch, n)
	if err != nil {
		b.Fatal(err)
	}
	_, err = db.Exec(`
		INSERT INTO messages (portal_id, dialog_id, channel_id, direction, provider_message_id, text, status, sent_at)
		SELECT $1, d.id, $2, CASE WHEN g % 3 = 0 THEN 'out' ELSE 'in' END, 'seed-' || d.id || '-' || g,
			'message ' || g, CASE WHEN g % 3 = 0 THEN 'read' ELSE 'inbound' END,
			now() - ((d.id * 7919 + g * 104729) % 5000000) * interval '1 second'
		FROM dialogs d CROSS JOIN generate_series(1, $3) g WHERE d.portal_id = $1`, r.PortalID, ch, m/n)
	if err != nil {
		b.Fatal(err)
	}
	// The relay keeps these columns as it files messages; derive them once.
	_, err = db.Exec(`
		UPDATE dialogs d SET last_message_id = l.id, last_message_at = l.sent_at,
			last_in_at = l.last_in, last_out_at = CASE WHEN d.id % 10 = 0 THEN NULL ELSE l.last_in + interval '1 minute' END
		FROM (SELECT DISTINCT ON (dialog_id) dialog_id, id, sent_at,
				max(sent_at) FILTER (WHERE direction = 'in') OVER (PARTITION BY dialog_id) AS last_in
			FROM messages WHERE portal_id = $1 ORDER BY dialog_id, sent_at DESC, id DESC) l
		WHERE d.id = l.dialog_id`, r.PortalID)
	if err != nil {
		b.Fatal(err)
	}
	// The steady state autovacuum keeps: visibility map set, statistics fresh.
	for _, q := range []string{`VACUUM ANALYZE dialogs`, `VACUUM ANALYZE messages`} {
		if _, err := db.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGeneralChat times the general chat's first page over HTTP with
// 100 000 dialogs and 1 000 000 messages against the bare indexed query it
// rests on (the same SQL: the ordered index walk with its joins, run straight
// on the pool, no HTTP, session or JSON), the same number of times in the
// same run; an ids-only walk of the index is shown for scale.
func BenchmarkGeneralChat(b *testing.B) {
	r := newRelayEnv(b)
	r.seedDialogs(b, 100_000, 1_000_000)
	db := r.App.Store.DB()
	const rounds = 200
	ctx := context.Background()
	sales, err := r.App.Store.UserByID(ctx, r.PortalID, 2)
	if err != nil {
		b.Fatal(err)
	}
	ownFilter, err := r.App.Access.DialogFilter(ctx, r.PortalID, sales)
	if err != nil {
		b.Fatal(err)
	}
	// The page's own SQL: the handler's first page carries the capped
	// waiting count in the same query.
	ownFilter.Limit, ownFilter.CountWaiting = 50, true
	query := func(f store.DialogFilter) time.Duration {
		start := time.Now()
		for range rounds {
			list, _, err := r.App.Store.ListDialogs(ctx, r.PortalID, f)
			if err != nil || len(list) != 50 {
				b.Fatalf("bare query: %v", err)
			}
		}
		return time.Since(start) / rounds
	}
	bare := func() time.Duration {
		start := time.Now()
		for range rounds {
			var ids []int64
			if err := db.Select(&ids, `SELECT id FROM dialogs WHERE portal_id = $1
				ORDER BY unanswered DESC, last_message_at DESC NULLS LAST, id DESC LIMIT 50`, r.PortalID); err != nil || len(ids) != 50 {
				b.Fatalf("bare query: %v", err)
			}
		}
		return time.Since(start) / rounds
	}
	client := &http.Client{Timeout: 30 * time.Second}
	// page reads every answer to its end and checks that it holds a full
	// page of dialogs that user may see (own: every one his).
	page := func(token string, own bool) time.Duration {
		req, _ := http.NewRequest("GET", r.URL+"/api/v1/dialogs?limit=50", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		for range rounds {
			res, err := client.Do(req)
			if err != nil || res.StatusCode != 200 {
				b.Fatalf("first page: %v %v", err, res)
			}
			var out struct {
				Dialogs []struct {
					ChatID string `json:"chat_id"`
				} `json:"dialogs"`
			}
			err = json.NewDecoder(res.Body).Decode(&out)
			res.Body.Close()
			if err != nil || len(out.Dialogs) != 50 {
				b.Fatalf("first page held %d dialogs: %v", len(out.Dialogs), err)
			}
			if own {
				for _, d := range out.Dialogs {
					if n, _ := strconv.Atoi(d.ChatID); (n-79000000000)%50 != 0 {
						b.Fatalf("the salesperson's page shows dialog %s, which is not his", d.ChatID)
					}
				}
			}
		}
		return time.Since(start) / rounds
	}
	for b.Loop() {
		all := store.DialogFilter{Visible: &store.Visibility{All: true}, Limit: 50, CountWaiting: true}
		bare() // warm the cache
		query(all)
		page(r.Admin, false)
		ti, tq, to, ta, ts := bare(), query(all), query(ownFilter), page(r.Admin, false), page(r.Sales, true)
		b.ReportMetric(float64(ti.Microseconds())/1000, "ids-walk-ms")
		b.ReportMetric(float64(tq.Microseconds())/1000, "bare-query-ms")
		b.ReportMetric(float64(to.Microseconds())/1000, "bare-own-query-ms")
		b.ReportMetric(float64(ta.Microseconds())/1000, "first-page-admin-ms")
		b.ReportMetric(float64(ts.Microseconds())/1000, "first-page-own-ms")
		b.ReportMetric(float64(ta)/float64(tq), "admin/bare")
		b.ReportMetric(float64(ts)/float64(to), "own/bare-own")
	}
}

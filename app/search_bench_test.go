package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// BenchmarkSearch times GET /api/v1/search over HTTP on the general chat's
// data set (100 000 dialogs, 1 000 000 messages; one message in a thousand
// says "Оформим доставку на завтра") for a client's name, a formatted phone
// and a word in another form ("доставка"), as the admin (all dialogs) and
// as an "own" salesperson (one dialog in fifty), against bare indexed
// lookups in the same run, interleaved with the searches: GET
// /api/v1/dialogs/{id} (the dialog by its primary key through the same
// stack: session, access rule, JSON) and the dialog by its chat id on the
// pool (the unique index, no HTTP). It reports p50 and p99 of each and the
// ratios of the searches' p99 to the lookups' p99. A word every message
// holds ("message") is timed too, as the worst case.
func BenchmarkSearch(b *testing.B) {
	r := newRelayEnv(b)
	r.seedDialogs(b, 100_000, 1_000_000)
	db := r.App.Store.DB()
	if _, err := db.Exec(`UPDATE messages SET text = 'Оформим доставку на завтра' WHERE portal_id = $1 AND id % 1000 = 0`, r.PortalID); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(`VACUUM ANALYZE messages`); err != nil {
		b.Fatal(err)
	}
	ch := r.chans[r.WA.ChannelID]
	const rounds = 200
	client := &http.Client{Timeout: 30 * time.Second}
	get := func(token, path string, check func([]byte) error) time.Duration {
		req, _ := http.NewRequest("GET", r.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var body json.RawMessage
		err = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		d := time.Since(start)
		if err != nil || res.StatusCode != 200 {
			b.Fatalf("%s: %d %v", path, res.StatusCode, err)
		}
		if err := check(body); err != nil {
			b.Fatalf("%s: %v", path, err)
		}
		return d
	}
	type answer struct {
		Dialogs []struct {
			ChatID string `json:"chat_id"`
		} `json:"dialogs"`
		Messages []struct {
			Dialog struct {
				ChatID string `json:"chat_id"`
			} `json:"dialog"`
		} `json:"messages"`
	}
	// found checks the answer: the client n among the dialogs, or a full
	// page of messages; for the salesperson, only his dialogs.
	found := func(n int, messages bool, own bool) func([]byte) error {
		return func(body []byte) error {
			var a answer
			if err := json.Unmarshal(body, &a); err != nil {
				return err
			}
			var chats []string
			for _, d := range a.Dialogs {
				chats = append(chats, d.ChatID)
			}
			for _, m := range a.Messages {
				chats = append(chats, m.Dialog.ChatID)
			}
			if messages && len(a.Messages) != 20 {
				return fmt.Errorf("%d messages, want 20", len(a.Messages))
			}
			if !messages && (len(a.Dialogs) != 1 || a.Dialogs[0].ChatID != strconv.Itoa(79000000000+n)) {
				return fmt.Errorf("dialogs %v, want client %d", chats, n)
			}
			if own {
				for _, c := range chats {
					if k, _ := strconv.Atoi(c); (k-79000000000)%50 != 0 {
						return fmt.Errorf("the salesperson found dialog %s, which is not his", c)
					}
				}
			}
			return nil
		}
	}
	count := func(dialogs, messages int) func([]byte) error {
		return func(body []byte) error {
			var a answer
			if err := json.Unmarshal(body, &a); err != nil {
				return err
			}
			if len(a.Dialogs) != dialogs || len(a.Messages) != messages {
				return fmt.Errorf("%d dialogs and %d messages, want %d and %d", len(a.Dialogs), len(a.Messages), dialogs, messages)
			}
			return nil
		}
	}
	var dialogID int64
	if err := db.Get(&dialogID, `SELECT id FROM dialogs WHERE chat_id = '79000054300'`); err != nil {
		b.Fatal(err)
	}
	anyAnswer := func([]byte) error { return nil }
	for b.Loop() {
		type series struct {
			name string
			run  func(i int) time.Duration
			lat  []time.Duration
		}
		// One of the salesperson's clients, five digits: no other name holds it.
		client50 := func(i int) int { return 10050 + 50*((i*7919)%1797) }
		all := []*series{
			{name: "lookup-http", run: func(int) time.Duration {
				return get(r.Admin, "/api/v1/dialogs/"+strconv.FormatInt(dialogID, 10), anyAnswer)
			}},
			{name: "lookup-sql", run: func(i int) time.Duration {
				start := time.Now()
				var id int64
				if err := db.Get(&id, `SELECT id FROM dialogs WHERE channel_id = $1 AND chat_type = 'whatsapp' AND chat_id = $2`,
					ch, strconv.Itoa(79000000000+client50(i))); err != nil {
					b.Fatal(err)
				}
				return time.Since(start)
			}},
			{name: "name", run: func(i int) time.Duration {
				n := client50(i) + 1
				return get(r.Admin, "/api/v1/search?q="+url.QueryEscape("Client "+strconv.Itoa(n)), found(n, false, false))
			}},
			{name: "phone", run: func(i int) time.Duration {
				n := client50(i) + 1
				s := strconv.Itoa(79000000000 + n) // +7 (900) 005-43-21
				q := "+7 (" + s[1:4] + ") " + s[4:7] + "-" + s[7:9] + "-" + s[9:]
				return get(r.Admin, "/api/v1/search?q="+url.QueryEscape(q), found(n, false, false))
			}},
			{name: "word", run: func(int) time.Duration {
				return get(r.Admin, "/api/v1/search?q="+url.QueryEscape("доставка"), found(0, true, false))
			}},
			{name: "own-name", run: func(i int) time.Duration {
				n := client50(i)
				return get(r.Sales, "/api/v1/search?q="+url.QueryEscape("Client "+strconv.Itoa(n)), found(n, false, true))
			}},
			{name: "own-word", run: func(int) time.Duration {
				return get(r.Sales, "/api/v1/search?q="+url.QueryEscape("доставка"), found(0, true, true))
			}},
			{name: "everywhere-word", run: func(int) time.Duration {
				return get(r.Admin, "/api/v1/search?q=message", found(0, true, false))
			}},
			// A name word every dialog holds: a page of them.
			{name: "common-name", run: func(int) time.Duration {
				return get(r.Admin, "/api/v1/search?q=client", count(20, 0))
			}},
			// Hostile: eight one-letter words no dialog holds (no trigram
			// to look up: every dialog is tested), and LIKE's own characters
			// around a short number many dialogs hold.
			{name: "letters", run: func(int) time.Duration {
				return get(r.Admin, "/api/v1/search?q="+url.QueryEscape("q w z r t y u j"), count(0, 0))
			}},
			{name: "wildcards", run: func(int) time.Duration {
				return get(r.Admin, "/api/v1/search?q="+url.QueryEscape(`%_\50%_`), count(20, 0))
			}},
		}
		for _, s := range all { // warm up
			for i := range 10 {
				s.run(i)
			}
		}
		for i := range rounds {
			for _, s := range all {
				s.lat = append(s.lat, s.run(i))
			}
		}
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		http50, sql50 := pct(all[0].lat, 0.50), pct(all[1].lat, 0.50)
		http99, sql99 := pct(all[0].lat, 0.99), pct(all[1].lat, 0.99)
		for _, s := range all {
			p50, p99 := pct(s.lat, 0.50), pct(s.lat, 0.99)
			b.ReportMetric(ms(p50), s.name+"-p50-ms")
			b.ReportMetric(ms(p99), s.name+"-p99-ms")
			if s.name != "lookup-http" && s.name != "lookup-sql" {
				b.ReportMetric(float64(p50)/float64(http50), s.name+"-p50/lookup-http-p50")
				b.ReportMetric(float64(p50)/float64(sql50), s.name+"-p50/lookup-sql-p50")
				b.ReportMetric(float64(p99)/float64(http99), s.name+"-p99/lookup-http-p99")
				b.ReportMetric(float64(p99)/float64(sql99), s.name+"-p99/lookup-sql-p99")
			}
		}
	}
}

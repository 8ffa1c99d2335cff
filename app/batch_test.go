package app_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relay24/relay24/bitrix/b24test"
)

// burstCounts reads what the portal received: HTTP requests and the REST
// commands they carried (a batch's sub-commands; a plain call is one).
func burstCounts(p *b24test.Portal) (requests, commands int) {
	for _, c := range p.Calls() {
		if c.Method != "batch" {
			commands++
		}
	}
	return p.HTTPRequests(), commands
}

// writeBurst has clients new clients write perClient messages each,
// interleaved and concurrently, and returns each client's texts in order.
func (r *relayEnv) writeBurst(clients, perClient int, prefix string) map[string][]string {
	r.t.Helper()
	texts := map[string][]string{}
	var wg sync.WaitGroup
	for c := range clients {
		chat := fmt.Sprintf("7999300%04d", c)
		for k := range perClient {
			texts[chat] = append(texts[chat], fmt.Sprintf("%s %s #%d", prefix, chat, k))
		}
		wg.Go(func() {
			for _, text := range texts[chat] {
				r.clientWrites(r.WA, "whatsapp", chat, text)
			}
		})
	}
	wg.Wait()
	return texts
}

// timelineTexts maps each message text on the portal's timeline to the
// entity it is on, and the texts per entity in the order written; a text
// written twice fails the test.
func timelineTexts(t *testing.T, p *b24test.Portal, prefix string) (map[string]int, map[int][]string) {
	t.Helper()
	on, order := map[string]int{}, map[int][]string{}
	for _, e := range p.Timeline() {
		for _, line := range strings.Split(e.Text, "\n") {
			if strings.HasPrefix(line, prefix+" ") {
				if _, twice := on[line]; twice {
					t.Fatalf("%q is on the timeline twice", line)
				}
				on[line] = e.EntityID
				order[e.EntityID] = append(order[e.EntityID], line)
			}
		}
	}
	return on, order
}

// A burst of new clients at the real limit: every message reaches the
// timeline exactly once, in its dialog's order, every client gets one
// contact and one deal, and the work goes out in batches: far fewer
// requests than commands.
func TestBurstOfNewClientsGoesOutInBatches(t *testing.T) {
	r := newRelayEnvWorkers(t, 4)
	r.App.Jobs.Poll = 10 * time.Millisecond
	const clients, per = 12, 5
	contacts, deals := r.P.Contacts(), r.P.Deals()
	r.P.ResetCalls()
	texts := r.writeBurst(clients, per, "burst")
	waitUntil(t, "every message on the timeline", func() bool {
		on, _ := timelineTexts(t, r.P, "burst")
		return len(on) == clients*per
	})
	_, order := timelineTexts(t, r.P, "burst")
	for chat, want := range texts {
		var got []string
		for _, lines := range order {
			if strings.Contains(lines[0], chat) {
				got = lines
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("client %s's timeline %q, want %q", chat, got, want)
		}
	}
	if c, d := r.P.Contacts()-contacts, r.P.Deals()-deals; c != clients || d != clients {
		t.Fatalf("%d contacts and %d deals for %d new clients", c, d, clients)
	}
	requests, commands := burstCounts(r.P)
	t.Logf("%d commands in %d requests (%.1f a request)", commands, requests, float64(commands)/float64(requests))
	// One request each would be `commands` requests.
	if requests*3 > commands {
		t.Fatalf("%d commands in %d requests: not batched", commands, requests)
	}
}

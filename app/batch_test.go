package app_test

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/relay"
	"github.com/relay24/relay24/wazzup/wztest"
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
// A client's messages are a millisecond apart on the gateway's clock (two
// of them in the same millisecond have no order but the one they were
// filed in, which concurrent filing does not keep).
func (r *relayEnv) writeBurst(clients, perClient int, prefix string) map[string][]string {
	r.t.Helper()
	texts := map[string][]string{}
	var wg sync.WaitGroup
	for c := range clients {
		chat := fmt.Sprintf("7999300%04d", c)
		var mine []string
		for k := range perClient {
			mine = append(mine, fmt.Sprintf("%s %s #%d", prefix, chat, k))
		}
		texts[chat] = mine
		wg.Go(func() {
			at := time.Now().Truncate(time.Millisecond)
			for k, text := range mine {
				if _, err := r.Acc.ClientWrites(r.ctx, r.WA.ChannelID, "whatsapp", chat, wztest.Incoming{
					Text: text, ContactName: "Client " + chat, DateTime: at.Add(time.Duration(k) * time.Millisecond)}); err != nil {
					r.t.Errorf("client writes: %v", err)
				}
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
	r.App.Jobs.SetPoll(10 * time.Millisecond)
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
	// Created in batches, with their phones: the next message finds them.
	for id := contacts + 1; id <= contacts+clients; id++ {
		c, ok := r.P.Contact(id)
		if !ok || len(c.Phones) != 1 || !strings.HasPrefix(c.Phones[0].Value, "+7999300") {
			t.Fatalf("contact %d: %+v", id, c)
		}
	}
	requests, commands := burstCounts(r.P)
	t.Logf("%d commands in %d requests (%.1f a request)", commands, requests, float64(commands)/float64(requests))
	// One request each would be `commands` requests.
	if requests*3 > commands {
		t.Fatalf("%d commands in %d requests: not batched", commands, requests)
	}
}

// knownClients has n clients write once and waits until each has his
// contact and deal; it returns their chat ids.
func (r *relayEnv) knownClients(n int) []string {
	r.t.Helper()
	var chats []string
	for i := range n {
		chat := fmt.Sprintf("7999400%04d", i)
		r.clientWrites(r.WA, "whatsapp", chat, "first "+chat)
		chats = append(chats, chat)
	}
	r.settle()
	return chats
}

// runGated files every stored webhook, then runs the due CRM work as the
// workers would (per portal, a portal's jobs claimed together), once when
// once is set, else until none is due (waiting out a portal's spacing
// between groups).
func (r *relayEnv) runGated(once bool) {
	r.t.Helper()
	for {
		ran, err := r.App.Jobs.RunOnceGated(r.ctx, relay.FilingKinds)
		if err != nil {
			r.t.Fatal(err)
		}
		if !ran {
			break
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ran, err := r.App.Jobs.RunOnceGated(r.ctx, nil)
		if err != nil {
			r.t.Fatal(err)
		}
		if ran && once {
			return
		}
		if !ran {
			if r.count(`SELECT count(*) FROM jobs WHERE state = 'ready' AND run_at <= now()`) == 0 {
				return
			}
			if time.Now().After(deadline) {
				r.t.Fatal("due jobs were never claimed")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// batchesWith lists the batches the portal answered that carried method,
// each as its sub-commands.
func batchesWith(p *b24test.Portal, method string) [][]b24test.Call {
	var out [][]b24test.Call
	var cur []b24test.Call
	flush := func() {
		if slices.ContainsFunc(cur, func(c b24test.Call) bool { return c.Method == method }) {
			out = append(out, cur)
		}
		cur = nil
	}
	for _, c := range p.Calls() {
		if !c.InBatch {
			flush()
			continue
		}
		cur = append(cur, c)
	}
	flush()
	return out
}

// One refused command in a batch fails only its own job: the portal lost
// one client's deal, the other clients' entries are written by the same
// request, and the refused one, once the deal is seen to be gone, goes to
// the client's contact.
func TestRefusedCommandInABatchFailsAlone(t *testing.T) {
	r := newRelayEnv(t)
	chats := r.knownClients(3)
	var gone, contact int64
	if err := r.App.Store.DB().QueryRow(`SELECT deal_id, contact_id FROM dialogs WHERE chat_id = $1`, chats[1]).Scan(&gone, &contact); err != nil {
		t.Fatal(err)
	}
	r.P.DeleteDeal(int(gone))
	r.P.ResetCalls()
	for _, chat := range chats {
		r.clientWrites(r.WA, "whatsapp", chat, "second "+chat)
	}
	r.runGated(true)
	batches := batchesWith(r.P, "crm.timeline.comment.add")
	if len(batches) != 1 {
		t.Fatalf("%d batches with timeline entries, want the three in one", len(batches))
	}
	var ok, refused int
	for _, c := range batches[0] {
		if c.Method == "crm.timeline.comment.add" {
			if c.Error == "" && c.Status == 200 {
				ok++
			} else {
				refused++
			}
		}
	}
	if ok != 2 || refused != 1 {
		t.Fatalf("%d written and %d refused in the batch, want 2 and 1", ok, refused)
	}
	r.runGated(false)
	on, _ := timelineTexts(t, r.P, "second")
	for _, chat := range chats {
		if _, ok := on["second "+chat]; !ok {
			t.Fatalf("%q is not on the timeline", "second "+chat)
		}
	}
	if on["second "+chats[1]] != int(contact) {
		t.Fatalf("the entry of the client whose deal is gone is on %d, want his contact %d", on["second "+chats[1]], contact)
	}
	if n := r.count(`SELECT count(*) FROM jobs WHERE state <> 'done' AND kind = 'timeline.message'`); n != 0 {
		t.Fatalf("%d timeline jobs not done", n)
	}
}

// A batch the portal ran but whose answer was lost is not written twice:
// each job of it, tried again, looks for its entry before writing.
func TestInterruptedBatchWritesNothingTwice(t *testing.T) {
	r := newRelayEnv(t)
	chats := r.knownClients(4)
	r.P.ResetCalls()
	for _, chat := range chats {
		r.clientWrites(r.WA, "whatsapp", chat, "again "+chat)
	}
	// The batch that writes the entries (the clients' triggers may go in
	// one of their own, before it).
	r.P.SetFault(&b24test.Fault{Status: http.StatusGatewayTimeout, Lost: true, Method: "batch", Carrying: "crm.timeline.comment.add"})
	for range 5 {
		if on, _ := timelineTexts(t, r.P, "again"); len(on) > 0 {
			break
		}
		r.runGated(true)
	}
	if on, _ := timelineTexts(t, r.P, "again"); len(on) != len(chats) {
		for _, c := range r.P.Calls() {
			t.Logf("call %s batch=%v status=%d err=%s", c.Method, c.InBatch, c.Status, c.Error)
		}
		t.Fatalf("the lost batch wrote %d of %d entries: the test would prove nothing", len(on), len(chats))
	}
	if n := r.count(`SELECT count(*) FROM messages WHERE timeline_id IS NOT NULL AND text LIKE 'again %'`); n != 0 {
		t.Fatalf("%d entries recorded from a lost answer", n)
	}
	// The retries are due at once, and go as a batch again.
	if _, err := r.App.Store.DB().Exec(`UPDATE jobs SET run_at = now() WHERE state = 'ready'`); err != nil {
		t.Fatal(err)
	}
	r.runGated(false)
	on, _ := timelineTexts(t, r.P, "again") // fails on a text written twice
	if len(on) != len(chats) {
		t.Fatalf("%d of %d entries", len(on), len(chats))
	}
	if n := r.count(`SELECT count(*) FROM messages WHERE timeline_id IS NOT NULL AND text LIKE 'again %'`); n != len(chats) {
		t.Fatalf("%d of %d entries recorded", n, len(chats))
	}
	if len(batchesWith(r.P, "crm.timeline.comment.list")) == 0 {
		t.Fatal("the retries did not look before writing in a batch")
	}
}

// A new client's creation cut short between his contact and his deal is
// finished by the next attempt: a look-up would find the new contact and
// leave him without a deal. A deal added whose answer was lost is found,
// not added again.
func TestClientCreationCutShortIsFinished(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault b24test.Fault
	}{
		{"deal refused before it ran", b24test.Fault{Status: http.StatusBadGateway, Method: "batch", Skip: 1}},
		{"deal added, answer lost", b24test.Fault{Status: http.StatusGatewayTimeout, Lost: true, Method: "batch", Skip: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRelayEnv(t)
			contacts, deals := r.P.Contacts(), r.P.Deals()
			r.clientWrites(r.WA, "whatsapp", "79995550177", "hello")
			// The look-up is a plain call, the contact's batch passes, the
			// deal's fails.
			f := tc.fault
			r.P.SetFault(&f)
			for range 5 {
				r.runGated(false)
				if _, err := r.App.Store.DB().Exec(`UPDATE jobs SET run_at = now() WHERE state = 'ready' AND kind = 'dialog.client'`); err != nil {
					t.Fatal(err)
				}
			}
			r.settle()
			if c, d := r.P.Contacts()-contacts, r.P.Deals()-deals; c != 1 || d != 1 {
				t.Fatalf("%d contacts and %d deals for one new client", c, d)
			}
			var contact, deal int64
			if err := r.App.Store.DB().QueryRow(`SELECT contact_id, deal_id FROM dialogs WHERE chat_id = '79995550177' AND client_resolved`).Scan(&contact, &deal); err != nil {
				t.Fatalf("the dialog is not resolved with a contact and a deal: %v", err)
			}
			if dl, ok := r.P.Deal(int(deal)); !ok || len(dl.ContactIDs) == 0 || dl.ContactIDs[0] != int(contact) {
				t.Fatalf("deal %d: %+v", deal, dl)
			}
		})
	}
}

// A dialog's timeline reads in the messages' order: when an earlier
// message's entry is put back (a retry, here a job due an hour later), the
// later message's entry waits for it instead of going first.
func TestTimelineKeepsTheDialogsOrder(t *testing.T) {
	r := newRelayEnv(t)
	chat := r.knownClients(1)[0]
	r.clientWrites(r.WA, "whatsapp", chat, "order one")
	r.clientWrites(r.WA, "whatsapp", chat, "order two")
	for { // files both (their entries are then due), nothing more
		ran, err := r.App.Jobs.RunOnceGated(r.ctx, relay.FilingKinds)
		if err != nil {
			t.Fatal(err)
		}
		if !ran {
			break
		}
	}
	var ids []int64
	if err := r.App.Store.DB().Select(&ids, `SELECT id FROM messages WHERE text LIKE 'order %' ORDER BY sent_at, id`); err != nil || len(ids) != 2 {
		t.Fatalf("messages %v %v", ids, err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := r.App.Store.DB().Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	// Were both written at once, the test would prove nothing: put the
	// first back before anything ran.
	on, _ := timelineTexts(t, r.P, "order")
	if len(on) != 0 {
		t.Fatalf("written before the test could put the first back: %v", on)
	}
	exec(`UPDATE jobs SET run_at = now() + interval '1 hour' WHERE unique_key = $1 AND state = 'ready'`, "timeline:"+strconv.FormatInt(ids[0], 10))
	r.runGated(false)
	if on, _ := timelineTexts(t, r.P, "order"); len(on) != 0 {
		t.Fatalf("the second message went first: %v", on)
	}
	exec(`UPDATE jobs SET run_at = now() WHERE state = 'ready' AND kind = 'timeline.message'`)
	r.runGated(false)
	exec(`UPDATE jobs SET run_at = now() WHERE state = 'ready' AND kind = 'timeline.message'`)
	r.runGated(false)
	_, order := timelineTexts(t, r.P, "order")
	for _, lines := range order {
		if !slices.Equal(lines, []string{"order one", "order two"}) {
			t.Fatalf("timeline %q", lines)
		}
		return
	}
	t.Fatal("nothing on the timeline")
}

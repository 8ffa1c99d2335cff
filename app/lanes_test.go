package app_test

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/relay24/relay24/placement"
)

// secondPortal installs another portal in r's relay24, with its own Wazzup
// account and WhatsApp channel, and returns it as a relayEnv sharing the app.
func (r *relayEnv) secondPortal(apiKey string) *relayEnv {
	r.t.Helper()
	p := r.installedPortal()
	r.drain()
	s := &relayEnv{env: r.env, P: p, PortalID: r.portalID(p), chans: map[string]int64{}}
	s.Acc = r.WZ.AddAccount(apiKey)
	s.WA = s.Acc.AddChannel("whatsapp", "79865784458", "B WhatsApp")
	s.Admin = r.session(p, placement.LeftMenu, nil, 1)
	if st := r.api("POST", "/api/v1/channels", s.Admin, map[string]string{"provider": "wazzup", "api_key": apiKey}, nil); st != http.StatusCreated {
		r.t.Fatalf("connect wazzup on the second portal: %d", st)
	}
	return s
}

// TestLanesOnePortalsBurstDoesNotStallAnother: portal A's limit is made tiny
// (burst 4 → pacer burst 2, 2/s) and 24 new clients write to it at once;
// portal B, with its own budget untouched, gets 3 messages from one client
// right after. B's timeline writes are all done while A still has most of
// its CRM work waiting: they are not queued behind A's backlog. Nothing is
// timed: the assertion counts what is left of A's backlog when B is done.
func TestLanesOnePortalsBurstDoesNotStallAnother(t *testing.T) {
	a := newRelayEnvWorkers(t, 4)
	a.App.Jobs.SetPoll(10 * time.Millisecond)
	b := a.secondPortal("d9df90444023482f909520d454368d28")
	if _, err := a.App.Store.DB().Exec(`UPDATE portals SET rate_burst = 4, rate_per_second = 2 WHERE id = $1`, a.PortalID); err != nil {
		t.Fatal(err)
	}
	const clientsA = 24
	for i := range clientsA {
		a.clientWrites(a.WA, "whatsapp", fmt.Sprintf("7999100%04d", i), "hello from A")
	}
	for i := range 3 {
		b.clientWrites(b.WA, "whatsapp", "79992000001", fmt.Sprintf("hello from B %d", i))
	}
	timeline := func(e *relayEnv) int { return methodCalls(e.P, "crm.timeline.comment.add") }
	waitUntil(t, "B's three timeline comments", func() bool { return timeline(b) >= 3 })
	// A's pace is 2 requests a second after a burst of 2, and each new
	// client takes several requests (look-up, contact, deal, comment): a
	// queue shared in arrival order would have written B's comments only
	// after A's.
	left := a.count(`SELECT count(*) FROM jobs WHERE portal_id = $1 AND kind <> ALL($2) AND state IN ('ready', 'running')`,
		a.PortalID, pq.Array([]string{"inbound.wazzup"}))
	t.Logf("when B was done, A had written %d of %d comments and had %d CRM jobs left", timeline(a), clientsA, left)
	if done := timeline(a); done > clientsA/2 || left < clientsA/2 {
		t.Fatalf("when B was done, A had written %d of %d comments and had %d CRM jobs left: B waited behind A", done, clientsA, left)
	}
	// A is paced, not starved: its work goes on at its own pace.
	sent := len(a.P.Calls())
	waitUntil(t, "A's next requests", func() bool { return len(a.P.Calls()) >= sent+4 })

	// The pacing is in /metrics, per portal.
	res, err := http.Get(a.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`relay24_portal_jobs_waiting{portal="` + strconv.FormatInt(a.PortalID, 10) + `"}`,
		`relay24_portal_oldest_job_wait_seconds{portal="` + strconv.FormatInt(a.PortalID, 10) + `"}`,
		`relay24_portal_requests_total{outcome="ok",portal="` + strconv.FormatInt(b.PortalID, 10) + `"}`,
		`relay24_portal_commands_total{portal="` + strconv.FormatInt(b.PortalID, 10) + `"}`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
}

package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/placement"
)

type streamEvent struct {
	Type     string
	DialogID int64 `json:"dialog_id"`
}

// openStream reads an event stream into a channel until the test ends.
func (r *relayEnv) openStream(token string) <-chan streamEvent {
	r.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", r.URL+"/api/v1/events?session="+token, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		r.t.Fatalf("stream: %v %v", err, res)
	}
	out := make(chan streamEvent, 100)
	ready := make(chan struct{})
	go func() {
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		typ := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "event: ready":
				close(ready)
			case strings.HasPrefix(line, "event: "):
				typ = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && typ != "ready":
				ev := streamEvent{Type: typ}
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev)
				out <- ev
			}
		}
	}()
	<-ready
	return out
}

func collect(ch <-chan streamEvent, d time.Duration) []streamEvent {
	var out []streamEvent
	deadline := time.After(d)
	for {
		select {
		case ev := <-ch:
			out = append(out, ev)
		case <-deadline:
			return out
		}
	}
}

// Events reach the streams of those who may see the dialog, and no one else.
func TestEventStreamFollowsAccessRules(t *testing.T) {
	r := newRelayEnvWorkers(t, 2)
	r.P.AddUser(b24test.User{ID: 9, Name: "Other", LastName: "Rep", Active: true, Departments: []int{1}})
	other := r.session(r.P, placement.LeftMenu, nil, 9)
	mine := r.P.AddContact(b24test.Contact{Name: "Mine", AssignedByID: 2,
		Phones: []b24test.Multi{{TypeID: "PHONE", ValueType: "MOBILE", Value: "+79995557001"}}})
	if _, err := r.P.FireEvent(r.ctx, "ONCRMCONTACTADD", map[string]any{"FIELDS": map[string]any{"ID": itoaInt(mine.ID)}}, 1); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); r.count(`SELECT count(*) FROM contacts WHERE id = $1`, mine.ID) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the contact was never mirrored")
		}
	}
	salesStream := r.openStream(r.Sales)
	otherStream := r.openStream(other)
	adminStream := r.openStream(r.Admin)

	r.clientWrites(r.WA, "whatsapp", "79995557001", "для Sales")
	var got []streamEvent
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		got = append(got, collect(salesStream, 100*time.Millisecond)...)
		if hasType(got, "message.created") {
			break
		}
	}
	if !hasType(got, "message.created") {
		t.Fatalf("the responsible salesperson heard %+v", got)
	}
	if ev := collect(adminStream, 300*time.Millisecond); !hasType(ev, "message.created") && !hasType(ev, "dialog.updated") {
		t.Fatalf("the admin (sees all) heard %+v", ev)
	}
	for _, ev := range collect(otherStream, 500*time.Millisecond) {
		if ev.Type == "message.created" {
			t.Fatalf("a rep who does not see the dialog heard %+v", ev)
		}
	}
	// Their lists agree.
	if n := len(r.dialogs(other)); n != 0 {
		t.Fatalf("the other rep lists %d dialogs", n)
	}
	if n := len(r.dialogs(r.Sales)); n != 1 {
		t.Fatalf("the responsible rep lists %d dialogs", n)
	}
}

func hasType(evs []streamEvent, typ string) bool {
	for _, e := range evs {
		if e.Type == typ {
			return true
		}
	}
	return false
}

func itoaInt(n int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + itoa64(int64(n))) }

func itoa64(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/placement"
)

type streamEvent struct {
	Type     string
	DialogID int64  `json:"dialog_id"`
	Data     []byte `json:"-"` // as sent
}

// openStream reads an event stream into a channel until the test ends.
func (r *relayEnv) openStream(token string) <-chan streamEvent {
	r.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", r.URL+"/api/v1/events?session="+token, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("stream: %v", err)
	}
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(res.Body)
		r.t.Fatalf("stream: %d %s", res.StatusCode, b)
	}
	out := make(chan streamEvent, 100)
	ready := make(chan struct{})
	go func() {
		defer res.Body.Close()
		readEvents(res.Body, ready, func(typ string, data []byte) {
			ev := streamEvent{Type: typ, Data: data}
			_ = json.Unmarshal(data, &ev)
			out <- ev
		})
	}()
	<-ready
	return out
}

// readEvents reads a server-sent event stream until it ends: it closes ready
// at the server's "ready" event and hands every other event's type and data
// to each.
func readEvents(body io.Reader, ready chan<- struct{}, each func(typ string, data []byte)) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	typ := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "event: ready":
			close(ready)
		case strings.HasPrefix(line, "event: "):
			typ = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && typ != "ready":
			each(typ, []byte(strings.TrimPrefix(line, "data: ")))
		}
	}
}

// knownContact adds a contact responsible to user with a phone, as the
// portal would (ONCRMCONTACTADD), and waits until relay24 mirrored it.
func (r *relayEnv) knownContact(name string, user int, phone string) b24test.Contact {
	r.t.Helper()
	c := r.P.AddContact(b24test.Contact{Name: name, AssignedByID: user,
		Phones: []b24test.Multi{{TypeID: "PHONE", ValueType: "MOBILE", Value: phone}}})
	if _, err := r.P.FireEvent(r.ctx, "ONCRMCONTACTADD", map[string]any{"FIELDS": map[string]any{"ID": itoaInt(c.ID)}}, 1); err != nil {
		r.t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); r.count(`SELECT count(*) FROM contacts WHERE id = $1`, c.ID) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			r.t.Fatal("the contact was never mirrored")
		}
	}
	return c
}

// Events reach the streams of those who may see the dialog, and no one else.
func TestEventStreamFollowsAccessRules(t *testing.T) {
	r := newRelayEnvWorkers(t, 2)
	r.P.AddUser(b24test.User{ID: 9, Name: "Other", LastName: "Rep", Active: true, Departments: []int{1}})
	other := r.session(r.P, placement.LeftMenu, nil, 9)
	r.knownContact("Mine", 2, "+79995557001")
	r.knownContact("Theirs", 9, "+79995557002")
	salesStream := r.openStream(r.Sales)
	otherStream := r.openStream(other)
	adminStream := r.openStream(r.Admin)

	r.clientWrites(r.WA, "whatsapp", "79995557001", "для Sales")
	salesHeard := waitFor(t, salesStream, func(ev streamEvent) bool { return ev.Type == "message.created" })
	mineID := salesHeard[len(salesHeard)-1].DialogID
	waitFor(t, adminStream, func(ev streamEvent) bool {
		return ev.DialogID == mineID && (ev.Type == "message.created" || ev.Type == "dialog.updated")
	})
	// A fence: a client of the other rep's own writes after; events come in
	// order, so once he hears of it he would have heard of the first dialog
	// before, had it reached him.
	r.clientWrites(r.WA, "whatsapp", "79995557002", "для Other")
	heard := waitFor(t, otherStream, func(ev streamEvent) bool { return ev.Type == "message.created" && ev.DialogID != mineID })
	for _, ev := range heard {
		if ev.DialogID == mineID {
			t.Fatalf("a rep who does not see the dialog heard %+v", ev)
		}
	}
	// Their lists agree: each sees his own client's dialog, and only that.
	lists := func(token string) (ids []int64) {
		for _, d := range r.dialogs(token) {
			ids = append(ids, d.ID)
		}
		return ids
	}
	if ids := lists(other); len(ids) != 1 || ids[0] == mineID {
		t.Fatalf("the other rep lists %v (the hidden dialog is %d)", ids, mineID)
	}
	if ids := lists(r.Sales); len(ids) != 1 || !slices.Contains(ids, mineID) {
		t.Fatalf("the responsible rep lists %v (his dialog is %d)", ids, mineID)
	}
}

// waitFor reads a stream until an event matches (or fails the test after a
// generous deadline) and returns everything read.
func waitFor(t *testing.T, ch <-chan streamEvent, match func(streamEvent) bool) []streamEvent {
	t.Helper()
	var got []streamEvent
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev := <-ch:
			got = append(got, ev)
			if match(ev) {
				return got
			}
		case <-deadline:
			t.Fatalf("the awaited event never came; heard %+v", got)
		}
	}
}

func itoaInt(n int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + itoa64(int64(n))) }

func itoa64(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

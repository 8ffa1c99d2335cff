package app_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/placement"
)

// liveData is an event's data as the page reads it.
type liveData struct {
	DialogID int64           `json:"dialog_id"`
	Dialog   json.RawMessage `json:"dialog"`
	Message  json.RawMessage `json:"message"`
	CanWrite *bool           `json:"can_write"`
}

// canon re-encodes JSON so two encodings of the same value compare equal.
func canon(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// An event carries the changed dialog row and the new message exactly as
// the API answers them to that user (so the page applies them in place,
// reloading nothing), with his can_write; a user whose rule hides the dialog
// hears nothing of it.
func TestEventCarriesRowAndMessage(t *testing.T) {
	r := newRelayEnvWorkers(t, 2)
	r.P.AddUser(b24test.User{ID: 9, Name: "Other", LastName: "Rep", Active: true, Departments: []int{1}})
	r.P.AddUser(b24test.User{ID: 10, Name: "Quality", LastName: "Control", Active: true, Departments: []int{1}})
	other := r.session(r.P, placement.LeftMenu, nil, 9)
	qc := r.session(r.P, placement.LeftMenu, nil, 10)
	qcStream := r.openStream(qc)
	// The controller's rule changes while his page is open, as an admin
	// changes it: the change has reached his stream once he is told of it.
	if s := r.api("PUT", "/api/v1/access/10", r.Admin, map[string]any{"visibility": "all", "can_write": false}, nil); s != http.StatusOK {
		t.Fatalf("setting the controller's access: %d", s)
	}
	waitFor(t, qcStream, func(e streamEvent) bool { return e.Type == "access.changed" })
	r.knownContact("Mine", 2, "+79995558001")
	r.knownContact("Theirs", 9, "+79995558002")
	salesStream := r.openStream(r.Sales)
	otherStream := r.openStream(other)

	r.clientWrites(r.WA, "whatsapp", "79995558001", "живое сообщение")
	heard := waitFor(t, salesStream, func(ev streamEvent) bool { return ev.Type == "message.created" })
	ev := heard[len(heard)-1]
	var got liveData
	if err := json.Unmarshal(ev.Data, &got); err != nil {
		t.Fatalf("event data %s: %v", ev.Data, err)
	}
	if got.Dialog == nil || got.Message == nil || got.CanWrite == nil || !*got.CanWrite {
		t.Fatalf("message.created carries %s, want the dialog row, the message and can_write=true", ev.Data)
	}
	// The row is the API's Dialog JSON for this user, the message its Message JSON.
	var one struct {
		Dialog json.RawMessage `json:"dialog"`
	}
	if s := r.api("GET", "/api/v1/dialogs/"+strconv.FormatInt(got.DialogID, 10), r.Sales, nil, &one); s != http.StatusOK {
		t.Fatalf("GET the dialog: %d", s)
	}
	var evDialog map[string]any
	_ = json.Unmarshal(got.Dialog, &evDialog)
	if evDialog["unanswered"] != true || canon(t, got.Dialog) != canon(t, one.Dialog) {
		t.Errorf("the event's row\n%s\nthe API's row\n%s", got.Dialog, one.Dialog)
	}
	var hist struct {
		Messages []json.RawMessage `json:"messages"`
	}
	if s := r.api("GET", "/api/v1/dialogs/"+strconv.FormatInt(got.DialogID, 10)+"/messages", r.Sales, nil, &hist); s != http.StatusOK || len(hist.Messages) == 0 {
		t.Fatalf("history: %d %d", s, len(hist.Messages))
	}
	var evMsg, apiMsg map[string]any
	_ = json.Unmarshal(got.Message, &evMsg)
	_ = json.Unmarshal(hist.Messages[len(hist.Messages)-1], &apiMsg)
	delete(evMsg, "channel") // the event names the channel too (the all-channels view needs it)
	if evMsg["text"] != "живое сообщение" || evMsg["direction"] != "in" {
		t.Errorf("the event's message %s", got.Message)
	}
	if a, b := canon(t, mustJSON(evMsg)), canon(t, mustJSON(apiMsg)); a != b {
		t.Errorf("the event's message\n%s\nthe API's\n%s", a, b)
	}

	// The read-only controller sees it, with can_write false; the other rep
	// hears nothing of it (a fence: his own client writes after).
	qcHeard := waitFor(t, qcStream, func(e streamEvent) bool { return e.Type == "message.created" && e.DialogID == got.DialogID })
	var qcGot liveData
	_ = json.Unmarshal(qcHeard[len(qcHeard)-1].Data, &qcGot)
	if qcGot.Dialog == nil || qcGot.Message == nil || qcGot.CanWrite == nil || *qcGot.CanWrite {
		t.Errorf("the controller's event %s, want the row and message with can_write=false", qcHeard[len(qcHeard)-1].Data)
	}
	r.clientWrites(r.WA, "whatsapp", "79995558002", "для Other")
	for _, e := range waitFor(t, otherStream, func(e streamEvent) bool { return e.Type == "message.created" && e.DialogID != got.DialogID }) {
		if e.DialogID == got.DialogID {
			t.Fatalf("a rep who does not see the dialog heard %s %s", e.Type, e.Data)
		}
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

package store_test

import (
	"testing"

	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
)

// A reply's status only moves forward along pending → sent → delivered →
// read, whatever order the gateway's webhooks arrive in: a late "sent" never
// undoes "read". A failure may end a reply that has not reached the client
// (pending, sent), never one that has; a reply marked failed that the
// gateway then reports delivered or read did reach the client. A client's
// own message has no delivery status to move.
func TestMessageStatusNeverGoesBack(t *testing.T) {
	l := newLab(t)
	p := l.portal("status")
	d := l.dialog(p, l.channel(p, "whatsapp"), 0, 0)
	for _, c := range []struct {
		direction, from, to string
		want                string // the status after; "" = unchanged (nil answer)
	}{
		{"out", "pending", "sent", "sent"},
		{"out", "pending", "delivered", "delivered"},
		{"out", "pending", "read", "read"},
		{"out", "pending", "error", "error"},
		{"out", "sent", "delivered", "delivered"},
		{"out", "sent", "read", "read"},
		{"out", "sent", "error", "error"},
		{"out", "sent", "pending", ""},
		{"out", "sent", "sent", ""},
		{"out", "delivered", "read", "read"},
		{"out", "delivered", "sent", ""},
		{"out", "delivered", "pending", ""},
		{"out", "delivered", "error", ""},
		{"out", "read", "delivered", ""},
		{"out", "read", "sent", ""},
		{"out", "read", "error", ""},
		{"out", "read", "read", ""},
		{"out", "error", "delivered", "delivered"},
		{"out", "error", "read", "read"},
		{"out", "error", "pending", ""},
		{"out", "error", "error", ""},
		{"in", "inbound", "read", ""},
		{"in", "inbound", "error", ""},
	} {
		name := c.direction + " " + c.from + "→" + c.to
		m, _ := l.msg(d, c.direction, c.from, 1)
		got, err := l.s.UpdateMessageStatus(l.ctx, m.ID, c.to, "the gateway refused it")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		stored, err := l.s.MessageByID(l.ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.want == "" {
			if got != nil {
				t.Errorf("%s: changed to %q, want no change", name, got.Status)
			}
			if stored.Status != c.from {
				t.Errorf("%s: stored status %q, want %q kept", name, stored.Status, c.from)
			}
			continue
		}
		if got == nil || got.Status != c.want {
			t.Errorf("%s: answer %+v, want status %q", name, got, c.want)
			continue
		}
		if stored.Status != c.want {
			t.Errorf("%s: stored status %q, want %q", name, stored.Status, c.want)
		}
		if wantErr := c.want == "error"; stored.Error.Valid != wantErr || (wantErr && stored.Error.String != "the gateway refused it") {
			t.Errorf("%s: stored error %+v", name, stored.Error)
		}
	}
}

// Statuses racing (delivered and read of one message in either order) end
// at read, and a status for a message never stored is NotFound (the relay
// retries it: the status may have overtaken the send's answer).
func TestMessageStatusOrderAndUnknown(t *testing.T) {
	l := newLab(t)
	p := l.portal("status-order")
	d := l.dialog(p, l.channel(p, "whatsapp"), 0, 0)
	for _, order := range [][]string{{"sent", "delivered", "read"}, {"read", "delivered", "sent"}, {"delivered", "read", "sent"}, {"read", "sent", "delivered"}} {
		m, _ := l.msg(d, "out", "pending", 1)
		for _, st := range order {
			if _, err := l.s.UpdateMessageStatus(l.ctx, m.ID, st, ""); err != nil {
				t.Fatal(err)
			}
		}
		stored, _ := l.s.MessageByID(l.ctx, m.ID)
		if stored.Status != "read" {
			t.Errorf("statuses %v: ended at %q, want read", order, stored.Status)
		}
	}
	_, err := l.s.StatusByProvider(l.ctx, d.ChannelID, "never-stored", "read", "")
	if !problem.Is(err, problem.NotFound) {
		t.Fatalf("status of an unknown message: %v, want NotFound", err)
	}
}

// CONTRACT §6 "unanswered": the dialog's newest client message (by the
// provider's time, not by arrival) came after the newest answer (from the
// app or an echo from the phone; a failed one is no answer) and after the
// last "no reply needed". unanswered_since is the first client message of
// the wait; the last message is the newest by provider time.
func TestUnansweredRule(t *testing.T) {
	type step struct {
		kind string // in, out (answer), echo, pending, failed, noreply
		at   int    // minute of the provider's time (noreply: the clock's)
	}
	for _, c := range []struct {
		name       string
		steps      []step
		unanswered bool
		since      int // minute of unanswered_since when unanswered
		last       int // step index of the last message, -1 for none
	}{
		{"no messages", nil, false, 0, -1},
		{"one client message", []step{{"in", 1}}, true, 1, 0},
		{"answered", []step{{"in", 1}, {"out", 2}}, false, 0, 1},
		{"answered by an echo from the phone", []step{{"in", 1}, {"echo", 2}}, false, 0, 1},
		{"a reply still being sent answers", []step{{"in", 1}, {"pending", 2}}, false, 0, 1},
		{"a failed reply does not answer", []step{{"in", 1}, {"failed", 2}}, true, 1, 1},
		{"waits since the first unanswered message", []step{{"in", 1}, {"in", 2}, {"in", 3}}, true, 1, 2},
		{"written again after the answer", []step{{"in", 1}, {"out", 2}, {"in", 3}, {"in", 4}}, true, 3, 3},
		{"answer only before the newest", []step{{"in", 1}, {"out", 2}, {"in", 3}}, true, 3, 2},
		{"a late-arriving older client message stays answered", []step{{"out", 5}, {"in", 3}}, false, 0, 0},
		{"a late-arriving older answer still answers", []step{{"in", 3}, {"out", 5}, {"in", 4}}, false, 0, 1},
		{"a late-arriving answer older than the question", []step{{"in", 5}, {"out", 3}}, true, 5, 0},
		{"a client message at the same instant as the answer is not after it", []step{{"in", 5}, {"out", 5}}, false, 0, 1},
		{"no reply needed", []step{{"in", 1}, {"noreply", 2}}, false, 0, 0},
		{"written after no reply needed", []step{{"in", 1}, {"noreply", 2}, {"in", 3}}, true, 3, 2},
		{"no reply needed with a clock behind the client's", []step{{"in", 5}, {"noreply", 3}}, false, 0, 0},
		{"an older message arriving after no reply needed", []step{{"in", 5}, {"noreply", 6}, {"in", 4}}, false, 0, 0},
		{"no reply needed, then answered, then written", []step{{"in", 1}, {"noreply", 2}, {"out", 3}, {"in", 4}}, true, 4, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newLab(t)
			p := l.portal("unanswered")
			d := l.dialog(p, l.channel(p, "whatsapp"), 0, 0)
			var msgs []*store.Message
			for _, s := range c.steps {
				var m *store.Message
				switch s.kind {
				case "in":
					m, d = l.msg(d, "in", "inbound", s.at)
				case "out", "echo":
					m, d = l.msg(d, "out", "sent", s.at)
				case "pending":
					m, d = l.msg(d, "out", "pending", s.at)
				case "failed":
					m, d = l.msg(d, "out", "error", s.at)
				case "noreply":
					d = l.noReply(d, s.at)
				}
				msgs = append(msgs, m)
			}
			// Read back what the lists read, not what the recompute returned.
			got, err := l.s.DialogByID(l.ctx, p, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Unanswered != c.unanswered {
				t.Errorf("unanswered %v, want %v", got.Unanswered, c.unanswered)
			}
			if c.unanswered && (!got.UnansweredSince.Valid || !got.UnansweredSince.Time.Equal(l.at(c.since))) {
				t.Errorf("unanswered_since %v, want minute %d", got.UnansweredSince, c.since)
			}
			if c.last < 0 {
				if got.LastMessageID.Valid || got.LastMessageAt.Valid {
					t.Errorf("last message %v at %v, want none", got.LastMessageID, got.LastMessageAt)
				}
				return
			}
			want := msgs[c.last]
			if got.LastMessageID.Int64 != want.ID || !got.LastMessageAt.Time.Equal(want.SentAt) {
				t.Errorf("last message %d at %v, want %d at %v", got.LastMessageID.Int64, got.LastMessageAt.Time, want.ID, want.SentAt)
			}
		})
	}
}

// A reply that fails after it answered a dialog makes the dialog wait again
// once the dialog is recomputed (the relay does so in the failing
// transaction); its late delivery answers it again.
func TestFailedReplyReopensTheWait(t *testing.T) {
	l := newLab(t)
	p := l.portal("failed-reply")
	d := l.dialog(p, l.channel(p, "whatsapp"), 0, 0)
	_, d = l.msg(d, "in", "inbound", 1)
	reply, d := l.msg(d, "out", "pending", 2)
	if d.Unanswered {
		t.Fatal("a pending reply should answer the dialog")
	}
	recompute := func(status string) *store.Dialog {
		var nd *store.Dialog
		err := l.s.Tx(l.ctx, func(tx *store.Store) error {
			if _, err := tx.UpdateMessageStatus(l.ctx, reply.ID, status, "refused"); err != nil {
				return err
			}
			var err error
			nd, err = tx.RecomputeDialog(l.ctx, d.ID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return nd
	}
	if d = recompute("error"); !d.Unanswered || !d.UnansweredSince.Time.Equal(l.at(1)) {
		t.Fatalf("after the reply failed: unanswered %v since %v, want waiting since minute 1", d.Unanswered, d.UnansweredSince)
	}
	if d = recompute("delivered"); d.Unanswered {
		t.Fatal("after the failed reply was delivered after all, the dialog still waits")
	}
}

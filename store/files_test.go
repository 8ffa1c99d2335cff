package store_test

import (
	"database/sql"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
)

// An upload is pending until a reply of relay24's takes it, in the reply's
// insert; the sweep deletes only pending uploads older than the cutoff. A
// reply whose file the sweep deleted first is refused and stores nothing,
// and a reply cannot take another portal's file. The message view carries
// each stored file's size.
func TestPendingUploads(t *testing.T) {
	l := newLab(t)
	p, other := l.portal("files"), l.portal("files-other")
	d := l.dialog(p, l.channel(p, "whatsapp"), 0, 0)
	upload := func(portal int64) *store.File {
		f := &store.File{PortalID: portal, Name: "a.pdf", Type: "application/pdf", Bytes: []byte("%PDF-1.4 x"),
			CreatedBy: sql.NullInt64{Int64: 1, Valid: true}, Pending: true}
		if err := l.s.InsertFile(l.ctx, f); err != nil {
			t.Fatal(err)
		}
		return f
	}
	reply := func(clientID string, fileID int64) (*store.Message, error) {
		atts, _ := json.Marshal([]map[string]string{{"url": "file:" + strconv.FormatInt(fileID, 10), "type": "document", "name": "a.pdf"}})
		m, _, err := l.s.InsertMessage(l.ctx, &store.Message{PortalID: p, DialogID: d.ID, ChannelID: d.ChannelID, Direction: "out",
			ClientID: sql.NullString{String: clientID, Valid: true}, Kind: "document", Attachments: atts, Status: "pending", SentAt: time.Now()})
		return m, err
	}
	sent, kept, gone, foreign := upload(p), upload(p), upload(p), upload(other)
	m, err := reply("c-1", sent.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.db.Exec(`UPDATE files SET created_at = now() - interval '2 days' WHERE id <> $1`, kept.ID); err != nil {
		t.Fatal(err)
	}
	n, err := l.s.DeletePendingFiles(l.ctx, time.Now().Add(-24*time.Hour), 10)
	if err != nil || n != 2 {
		t.Fatalf("swept %d (%v), want 2: the unsent one and the other portal's", n, err)
	}
	for _, c := range []struct {
		portal, id int64
		want       bool
	}{{p, sent.ID, true}, {p, kept.ID, true}, {p, gone.ID, false}, {other, foreign.ID, false}} {
		if _, err := l.s.FileByID(l.ctx, c.portal, c.id); (err == nil) != c.want {
			t.Errorf("file %d: kept %v, want %v", c.id, err == nil, c.want)
		}
	}
	if _, err := reply("c-2", gone.ID); !problem.Is(err, problem.NotFound) {
		t.Fatalf("a reply with a deleted upload: %v", err)
	}
	foreign2 := upload(other)
	if _, err := reply("c-3", foreign2.ID); !problem.Is(err, problem.NotFound) {
		t.Fatalf("a reply with another portal's upload: %v", err)
	}
	if f, err := l.s.FileByID(l.ctx, other, foreign2.ID); err != nil || !f.Pending {
		t.Fatalf("another portal's reply took the upload: %+v %v", f, err)
	}
	v, err := l.s.MessageViewByID(l.ctx, p, m.ID)
	if err != nil || len(v.FileSizes) != 1 || v.FileSizes[0] != int64(len("%PDF-1.4 x")) {
		t.Fatalf("the view's sizes: %v %v", v, err)
	}
}

// The sweep against a reply taking the same old upload at that moment (the
// upload at 23:59, the send at midnight): the sweep skips the file the
// reply's transaction holds; the reply that commits keeps it, and one that
// rolls back leaves it pending for the next sweep.
func TestSweepDuringTheReplyThatTakesTheUpload(t *testing.T) {
	l := newLab(t)
	p := l.portal("race")
	d := l.dialog(p, l.channel(p, "whatsapp"), 0, 0)
	for i, commit := range []bool{true, false} {
		f := &store.File{PortalID: p, Name: "a.pdf", Type: "application/pdf", Bytes: []byte("%PDF-1.4 x"), Pending: true}
		if err := l.s.InsertFile(l.ctx, f); err != nil {
			t.Fatal(err)
		}
		if _, err := l.db.Exec(`UPDATE files SET created_at = now() - interval '25 hours' WHERE id = $1`, f.ID); err != nil {
			t.Fatal(err)
		}
		taken, release := make(chan struct{}), make(chan struct{})
		errRollback := problem.New(problem.Conflict, "test_rollback", "the reply is refused after taking its file")
		done := make(chan error, 1)
		go func() {
			done <- l.s.Tx(l.ctx, func(tx *store.Store) error {
				atts, _ := json.Marshal([]map[string]string{{"url": "file:" + strconv.FormatInt(f.ID, 10), "type": "document", "name": "a.pdf"}})
				_, _, err := tx.InsertMessage(l.ctx, &store.Message{PortalID: p, DialogID: d.ID, ChannelID: d.ChannelID, Direction: "out",
					ClientID: sql.NullString{String: "race-" + strconv.Itoa(i), Valid: true}, Kind: "document", Attachments: atts, Status: "pending", SentAt: time.Now()})
				close(taken)
				<-release
				if err == nil && !commit {
					return errRollback
				}
				return err
			})
		}()
		<-taken
		if n, err := l.s.DeletePendingFiles(l.ctx, time.Now().Add(-24*time.Hour), 10); err != nil || n != 0 {
			t.Fatalf("commit %v: the sweep deleted %d (%v) while a reply held the file", commit, n, err)
		}
		close(release)
		if err := <-done; commit && err != nil || !commit && !problem.Is(err, problem.Conflict) {
			t.Fatalf("commit %v: the reply: %v", commit, err)
		}
		n, err := l.s.DeletePendingFiles(l.ctx, time.Now().Add(-24*time.Hour), 10)
		if err != nil || (commit && n != 0) || (!commit && n != 1) {
			t.Fatalf("commit %v: the next sweep deleted %d (%v)", commit, n, err)
		}
	}
}

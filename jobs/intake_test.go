package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"github.com/relay24/relay24/jobs"
	"github.com/relay24/relay24/store/storetest"
)

// One job the database refuses, in a group written as one INSERT, fails
// alone: its neighbours are stored, each exactly once.
func TestIntakeGroupWithABadJobStoresTheOthers(t *testing.T) {
	db := storetest.DB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := jobs.New(db, slog.New(slog.DiscardHandler))
	var portal int64
	if err := db.Get(&portal, `INSERT INTO portals (member_id, domain, client_endpoint) VALUES ('m', 'p.example', 'https://p.example/rest/') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	in := q.NewIntake(ctx, 0) // no writers: the test writes the group itself
	payloads := []json.RawMessage{
		json.RawMessage(`{"n":0}`),
		json.RawMessage(`{"n":1,"text":"a\u0000b"}`), // jsonb refuses the NUL escape
		json.RawMessage(`{"n":2}`),
		json.RawMessage(`{"n":3}`), // its portal does not exist (uninstalled and deleted)
		json.RawMessage(`{"n":4}`),
	}
	portals := []int64{portal, portal, portal, portal + 1000, 0}
	errs := in.StoreGroup(ctx, "test.hook", portals, payloads)
	for i, err := range errs {
		switch i {
		case 1:
			if !errors.Is(err, jobs.ErrUnstorable) {
				t.Errorf("job %d (NUL): %v, want ErrUnstorable", i, err)
			}
		case 3:
			if !errors.Is(err, jobs.ErrNoPortal) {
				t.Errorf("job %d (no portal): %v, want ErrNoPortal", i, err)
			}
		default:
			if err != nil {
				t.Errorf("job %d failed with its neighbour: %v", i, err)
			}
		}
	}
	var stored []int
	if err := db.Select(&stored, `SELECT (payload->>'n')::int FROM jobs WHERE kind = 'test.hook' ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	if len(stored) != 3 || stored[0] != 0 || stored[1] != 2 || stored[2] != 4 {
		t.Fatalf("stored jobs %v, want [0 2 4]", stored)
	}
}

// A payload carrying a string from outside with a NUL (an event's field) is
// stored without it rather than failing the change that enqueues it.
func TestEnqueuePayloadWithNUL(t *testing.T) {
	db := storetest.DB(t)
	ctx := context.Background()
	q := jobs.New(db, slog.New(slog.DiscardHandler))
	var got string
	q.Handle("echo", func(ctx context.Context, j *jobs.Job) error {
		var p struct{ ID string }
		if err := j.Decode(&p); err != nil {
			return err
		}
		got = p.ID
		return nil
	})
	if _, err := q.Enqueue(ctx, db, "echo", map[string]string{"ID": "4\x002"}, jobs.Options{}); err != nil {
		t.Fatal(err)
	}
	if ran, err := q.RunOnce(ctx); !ran || err != nil || got != "42" {
		t.Fatalf("ran %v, %v; payload %q", ran, err, got)
	}
}

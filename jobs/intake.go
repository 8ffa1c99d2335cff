package jobs

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/lib/pq"
)

// Intake stores many small jobs (webhooks) with group commit: concurrent
// callers are written together in one INSERT, and each is answered only
// after that transaction committed. Under load one round trip serves many
// webhooks; alone, a caller waits for nobody.
type Intake struct {
	q    *Queue
	reqs chan intakeReq
}

type intakeReq struct {
	kind     string
	portalID int64
	payload  json.RawMessage
	done     chan error
}

// maxGroup bounds one INSERT.
const maxGroup = 256

// NewIntake makes an intake with writers goroutines (each one connection).
func (q *Queue) NewIntake(ctx context.Context, writers int) *Intake {
	in := &Intake{q: q, reqs: make(chan intakeReq, 4096)}
	for range writers {
		go in.write(ctx)
	}
	return in
}

// Add stores a job durably and returns once it is committed.
func (in *Intake) Add(ctx context.Context, kind string, portalID int64, payload json.RawMessage) error {
	r := intakeReq{kind: kind, portalID: portalID, payload: payload, done: make(chan error, 1)}
	select {
	case in.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		// The row may still commit; the caller answers an error and the
		// sender retries, which the message's unique id absorbs.
		return ctx.Err()
	}
}

func (in *Intake) write(ctx context.Context) {
	group := make([]intakeReq, 0, maxGroup)
	for {
		group = group[:0]
		select {
		case <-ctx.Done():
			return
		case r := <-in.reqs:
			group = append(group, r)
		}
	fill:
		for len(group) < maxGroup {
			select {
			case r := <-in.reqs:
				group = append(group, r)
			default:
				break fill
			}
		}
		err := in.insert(context.WithoutCancel(ctx), group)
		for _, r := range group {
			r.done <- err
		}
		if err == nil {
			in.q.Wake()
		}
	}
}

func (in *Intake) insert(ctx context.Context, group []intakeReq) error {
	kinds := make([]string, len(group))
	portals := make([]int64, len(group))
	payloads := make([]string, len(group))
	for i, r := range group {
		kinds[i], portals[i], payloads[i] = r.kind, r.portalID, string(r.payload)
	}
	_, err := in.q.db.ExecContext(ctx, `
		INSERT INTO jobs (kind, portal_id, payload)
		SELECT k, NULLIF(p, 0), b::jsonb FROM unnest($1::text[], $2::bigint[], $3::text[]) AS t(k, p, b)`,
		pq.Array(kinds), pq.Array(portals), pq.Array(payloads))
	if err != nil {
		return fmt.Errorf("jobs: storing %d jobs: %w", len(group), err)
	}
	return nil
}

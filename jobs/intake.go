package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

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

// ErrNoPortal means the job names a portal that no longer exists (it was
// uninstalled and deleted): storing it again can never succeed.
var ErrNoPortal = errors.New("the job's portal does not exist")

// ErrUnstorable means the database refused the job's data itself (a value
// its types cannot hold): storing the same data again can never succeed.
var ErrUnstorable = errors.New("the database refuses the job's data")

// NewIntake makes an intake with writers goroutines (each one connection).
func (q *Queue) NewIntake(ctx context.Context, writers int) *Intake {
	in := &Intake{q: q, reqs: make(chan intakeReq, 4096)}
	for range writers {
		go in.write(ctx)
	}
	return in
}

// Add stores a job durably and returns once it is committed. An error
// wrapping ErrNoPortal or ErrUnstorable is this job's own fault; any other
// is the database's and may pass.
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
		errs := in.store(context.WithoutCancel(ctx), group)
		var stored []string
		for i, r := range group {
			r.done <- errs[i]
			if errs[i] == nil && !slices.Contains(stored, r.kind) {
				stored = append(stored, r.kind)
			}
		}
		if len(stored) > 0 {
			in.q.Wake(stored...)
		}
	}
}

// store writes a group and returns each job's outcome. One job the
// database refuses (its data, or a portal deleted meanwhile) fails the
// whole INSERT; then each job is written on its own, so that only that one
// fails and its neighbours are stored as if nothing happened.
func (in *Intake) store(ctx context.Context, group []intakeReq) []error {
	errs := make([]error, len(group))
	err := in.insert(ctx, group)
	if err == nil || len(group) == 1 || !jobsFault(err) {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	for i := range group {
		errs[i] = in.insert(ctx, group[i:i+1])
	}
	return errs
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
	if err == nil {
		return nil
	}
	var pqe *pq.Error
	if errors.As(err, &pqe) {
		switch {
		case pqe.Code == "23503": // foreign_key_violation: the portal is gone
			return fmt.Errorf("jobs: storing %d jobs: %w: %w", len(group), ErrNoPortal, err)
		case pqe.Code.Class() == "22": // data_exception: invalid text, JSON or number
			return fmt.Errorf("jobs: storing %d jobs: %w: %w", len(group), ErrUnstorable, err)
		}
	}
	return fmt.Errorf("jobs: storing %d jobs: %w", len(group), err)
}

// jobsFault reports whether an insert failed because of what some job
// holds, rather than because the database is unwell (then writing the jobs
// one by one would only multiply the failures).
func jobsFault(err error) bool {
	return errors.Is(err, ErrNoPortal) || errors.Is(err, ErrUnstorable)
}

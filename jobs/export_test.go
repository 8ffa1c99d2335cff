package jobs

import (
	"context"
	"encoding/json"
)

// StoreGroup writes jobs as one group of the intake, as its writer would
// after gathering them, and returns each one's outcome: tests of a group
// cannot rely on timing to make concurrent callers share one.
func (in *Intake) StoreGroup(ctx context.Context, kind string, portals []int64, payloads []json.RawMessage) []error {
	group := make([]intakeReq, len(payloads))
	for i := range payloads {
		group[i] = intakeReq{kind: kind, portalID: portals[i], payload: payloads[i]}
	}
	return in.store(ctx, group)
}

// OwnerClass is the first key of the owners' advisory locks.
const OwnerClass = ownerClass

// ErrOwnerLost is the cause of a run cut short by the loss of its owner
// session.
var ErrOwnerLost = errOwnerLost

// RecordFailures counts the outcome writes the database refused, so that a
// test can wait for one instead of guessing how long it takes.
func (q *Queue) RecordFailures() int64 { return q.recordFailures.Load() }

// OwnerID is the id of the queue's current owner session (0: none yet).
func (q *Queue) OwnerID() int32 {
	q.omu.Lock()
	defer q.omu.Unlock()
	if q.own == nil {
		return 0
	}
	return q.own.id
}

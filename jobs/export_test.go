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

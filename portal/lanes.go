package portal

import (
	"context"
	"time"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/jobs"
)

// moment is the longest a job's REST call waits on the portal's pacer (at
// least two requests' share of the pace, so that a job making a few calls
// still gets through at the portal's pace); a longer wait gives the worker
// back (jobs.PortalBusy) to take another portal's work.
const moment = time.Second

// Budget reports how many requests portalID may make at once now, without
// reserving them (jobs.Gate): the queue claims a portal's jobs only while it
// has budget for them. A portal not called yet by this process has its
// whole burst.
func (s *Service) Budget(portalID int64) int {
	s.mu.Lock()
	l := s.pacers[portalID]
	s.mu.Unlock()
	if l == nil {
		return s.o.DefaultBurst
	}
	return l.Budget().Now
}

// Bind makes the REST calls of a job of portalID give up at once with
// bitrix.CodePacerBusy (JobError: jobs.PortalBusy) rather than wait on the
// portal's pacer longer than a moment (jobs.Gate).
func (s *Service) Bind(ctx context.Context, portalID int64) context.Context {
	wait := moment
	s.mu.Lock()
	l := s.pacers[portalID]
	s.mu.Unlock()
	if l != nil {
		wait = max(wait, 2*l.Budget().Interval)
	}
	return bitrix.WithMaxWait(ctx, wait)
}

// Share lets n jobs of portalID claimed together (jobs.Gate) send their REST
// calls together: those pending at the same moment go out in batch requests
// of up to 50 commands, sent under ctx.
func (s *Service) Share(ctx context.Context, portalID int64, n int) jobs.Sharing {
	return bitrix.NewCoalescer(ctx, n)
}

// Spacing is how long after a portal's group of jobs that was not full the
// next may start while the portal takes in a burst (jobs.Gate): one
// request's share of its pace — a stream of small groups would spend its
// budget a few commands at a time.
func (s *Service) Spacing(portalID int64) time.Duration {
	s.mu.Lock()
	l := s.pacers[portalID]
	s.mu.Unlock()
	if l == nil {
		return 0
	}
	return l.Budget().Interval
}

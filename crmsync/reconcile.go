package crmsync

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/jobs"
	"github.com/relay24/relay24/portal"
	"github.com/relay24/relay24/store"
)

// reconcileLock is the advisory lock key under which one instance schedules
// the passes ("r24r").
const reconcileLock = 0x72323472

// ScheduleReconcile enqueues a reconciliation pass for every active portal.
// Several instances run the same cron: the advisory lock lets one schedule,
// and the job's unique key keeps one pass per portal pending at a time.
func (s *Syncer) ScheduleReconcile(ctx context.Context) error {
	return s.Store.Tx(ctx, func(tx *store.Store) error {
		got, err := tx.TryXactLock(ctx, reconcileLock)
		if err != nil {
			return fmt.Errorf("reconcile: %w", err)
		}
		if !got {
			return nil
		}
		portals, err := tx.ActivePortals(ctx)
		if err != nil {
			return err
		}
		for _, p := range portals {
			if _, err := s.Jobs.Enqueue(ctx, tx.Ext(), JobReconcile, map[string]any{}, jobs.Options{
				PortalID: p.ID, UniqueKey: fmt.Sprintf("%s:%d", JobReconcile, p.ID),
			}); err != nil {
				return err
			}
		}
		return nil
	})
}

// reconcileJob re-reads what changed since the last pass (by DATE_MODIFY,
// with a minute of overlap for clock skew), re-lists the structure and the
// users, and now and then sweeps for records deleted while events were lost.
func (s *Syncer) reconcileJob(ctx context.Context, j *jobs.Job) error {
	portalID, err := portalOf(j)
	if err != nil {
		return err
	}
	done, err := s.Store.FirstSyncDone(ctx, portalID, Entities)
	if err != nil {
		return err
	}
	if !done {
		return nil // the first sync is still the source of truth
	}
	c, err := s.client(ctx, portalID)
	if err != nil {
		return err
	}
	log := s.Log.With(slog.Int64("portal_id", portalID))
	return portal.JobError(s.Reconcile(ctx, c, portalID, log))
}

// Reconcile runs one pass for a portal.
func (s *Syncer) Reconcile(ctx context.Context, c *bitrix.Client, portalID int64, log *slog.Logger) error {
	sweepEvery := s.SweepEvery
	if sweepEvery == 0 {
		sweepEvery = 24 * time.Hour
	}
	for _, entity := range Entities {
		st, err := s.Store.SyncStateOf(ctx, portalID, entity)
		if err != nil {
			return err
		}
		started := s.now()
		var filter bitrix.Params
		if st.ReconciledAt.Valid {
			filter = bitrix.Params{">=DATE_MODIFY": st.ReconciledAt.Time.Add(-time.Minute).Format(time.RFC3339)}
		}
		if err := s.syncEntity(ctx, c, portalID, entity, 0, filter, log); err != nil {
			return fmt.Errorf("reconciling %s: %w", entity, err)
		}
		swept := false
		if entity == "contacts" || entity == "leads" || entity == "deals" {
			if !st.SweptAt.Valid || s.now().Sub(st.SweptAt.Time) >= sweepEvery {
				if err := s.sweep(ctx, c, portalID, entity, log); err != nil {
					return fmt.Errorf("sweeping %s: %w", entity, err)
				}
				swept = true
			}
		}
		if err := s.Store.MarkReconciled(ctx, portalID, entity, started, swept); err != nil {
			return err
		}
	}
	return nil
}

// sweep lists every ID the portal has (IDs only: the cheapest full listing)
// and deletes the local records it no longer has.
func (s *Syncer) sweep(ctx context.Context, c *bitrix.Client, portalID int64, entity string, log *slog.Logger) error {
	singular := entity[:len(entity)-1]
	var remote []int64
	_, err := c.ListAll(ctx, bitrix.ListSpec{Method: "crm." + singular + ".list", Select: []string{"ID"}}, func(items []json.RawMessage) error {
		for _, raw := range items {
			var v struct {
				ID num `json:"ID"`
			}
			if json.Unmarshal(raw, &v) == nil && v.ID > 0 {
				remote = append(remote, int64(v.ID))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	local, err := s.Store.LocalIDs(ctx, portalID, singular)
	if err != nil {
		return err
	}
	slices.Sort(remote)
	var gone []int64
	for _, id := range local {
		if _, found := slices.BinarySearch(remote, id); !found {
			gone = append(gone, id)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	log.InfoContext(ctx, "records deleted in the portal removed", slog.String("entity", entity), slog.Int("count", len(gone)))
	return s.Store.DeleteCRMMany(ctx, portalID, singular, gone)
}

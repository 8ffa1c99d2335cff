// Package crmsync keeps relay24's local mirror of a portal's users, company
// structure, contacts, leads and deals fresh: a fast first sync after install
// (durable, resumable, at the minimum number of REST requests), then the
// portal's CRM events one record at a time (a burst coalesced into one fetch),
// then a periodic reconciliation that catches whatever events were lost.
package crmsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/jobs"
	"github.com/relay24/relay24/portal"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
)

// Job kinds.
const (
	JobFirst     = portal.JobFirstSync // the first, full sync of a portal
	JobRecord    = "sync.record"       // one record after an event
	JobReconcile = "sync.reconcile"    // the periodic pass of one portal
)

// Entities in the order the first sync takes them: the structure and the
// people first (access rules need them), then the clients.
var Entities = []string{"departments", "users", "contacts", "leads", "deals"}

// Syncer runs the sync.
type Syncer struct {
	Store   *store.Store
	Portals *portal.Service
	Jobs    *jobs.Queue
	Log     *slog.Logger
	// Coalesce is how long an event's fetch waits for more events of the
	// same record (default 2s).
	Coalesce time.Duration
	// SweepEvery is how often the reconciliation also looks for deleted
	// records by listing every ID (default 24h).
	SweepEvery time.Duration
	// Now is the clock.
	Now func() time.Time
}

// Register installs the job handlers.
func (s *Syncer) Register(q *jobs.Queue) {
	q.Handle(JobFirst, s.firstSync)
	q.Handle(JobRecord, s.recordJob)
	q.ClaimTogether(JobRecord) // a burst of CRM events: its fetches share requests
	q.Handle(JobReconcile, s.reconcileJob)
}

func (s *Syncer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func portalOf(j *jobs.Job) (int64, error) {
	if !j.PortalID.Valid {
		return 0, jobs.Permanent(errors.New("job has no portal"))
	}
	return j.PortalID.Int64, nil
}

// client gets the portal's REST client; an uninstalled portal ends the job.
func (s *Syncer) client(ctx context.Context, portalID int64) (*bitrix.Client, error) {
	c, err := s.Portals.Client(ctx, portalID)
	if problem.Is(err, problem.Conflict) || problem.Is(err, problem.NotFound) {
		return nil, jobs.Permanent(err)
	}
	return c, err
}

// firstSync lists every entity that is not done yet; a restart resumes each
// from its stored cursor.
func (s *Syncer) firstSync(ctx context.Context, j *jobs.Job) error {
	portalID, err := portalOf(j)
	if err != nil {
		return err
	}
	c, err := s.client(ctx, portalID)
	if err != nil {
		return err
	}
	for _, entity := range Entities {
		st, err := s.Store.SyncStateOf(ctx, portalID, entity)
		if err != nil {
			return err
		}
		if st.Phase == "done" {
			continue
		}
		started := s.now()
		if err := s.Store.StartSync(ctx, portalID, entity); err != nil {
			return err
		}
		log := s.Log.With(slog.Int64("portal_id", portalID), slog.String("entity", entity))
		if err := s.syncEntity(ctx, c, portalID, entity, st.CursorID, nil, log); err != nil {
			_ = s.Store.FailSync(context.WithoutCancel(ctx), portalID, entity, err)
			return portal.JobError(fmt.Errorf("first sync of %s: %w", entity, err))
		}
		if err := s.Store.FinishSync(ctx, portalID, entity, started.Add(-time.Minute)); err != nil {
			return err
		}
		log.InfoContext(ctx, "entity synced")
	}
	return nil
}

// syncEntity lists one entity (after cursor, matching filter) into the store.
func (s *Syncer) syncEntity(ctx context.Context, c *bitrix.Client, portalID int64, entity string, cursor int64, filter bitrix.Params, log *slog.Logger) error {
	switch entity {
	case "departments":
		return s.syncDepartments(ctx, c, portalID, log)
	case "users":
		return s.syncUsers(ctx, c, portalID, log)
	}
	spec := bitrix.ListSpec{After: cursor, Filter: filter}
	switch entity {
	case "contacts":
		spec.Method, spec.Select = "crm.contact.list", contactSelect
	case "leads":
		spec.Method, spec.Select = "crm.lead.list", leadSelect
	case "deals":
		spec.Method, spec.Select = "crm.deal.list", dealSelect
	default:
		return fmt.Errorf("unknown entity %q", entity)
	}
	if filter == nil {
		spec.OnTotal = func(total int) { _ = s.Store.SetSyncTotal(ctx, portalID, entity, total) }
	}
	// Storing overlaps with fetching: while the limiter makes the client wait
	// for the portal, the previous batch is written.
	batches := make(chan []json.RawMessage, 2)
	stored := make(chan error, 1)
	go func() {
		var err error
		for items := range batches {
			if err == nil {
				err = s.storeBatch(ctx, portalID, entity, items, filter == nil, log)
			}
		}
		stored <- err
	}()
	_, listErr := c.ListAll(ctx, spec, func(items []json.RawMessage) error {
		select {
		case batches <- items:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(batches)
	storeErr := <-stored
	return errors.Join(listErr, storeErr)
}

// storeBatch parses a batch, skipping malformed records with a warning, and
// stores it with the cursor (when tracking) in one transaction.
func (s *Syncer) storeBatch(ctx context.Context, portalID int64, entity string, items []json.RawMessage, track bool, log *slog.Logger) error {
	var last int64
	skipped := 0
	skip := func(raw json.RawMessage, err error) {
		skipped++
		log.WarnContext(ctx, "malformed record skipped", slog.String("record", snippet(raw)), slog.String("error", err.Error()))
	}
	after := func(tx *store.Store) error {
		if !track {
			return nil
		}
		return tx.AdvanceSync(ctx, portalID, entity, last, len(items)-skipped, skipped)
	}
	switch entity {
	case "contacts":
		recs := make([]store.Contact, 0, len(items))
		for _, raw := range items {
			r, err := parseContact(raw)
			if err != nil {
				skip(raw, err)
				continue
			}
			recs = append(recs, r)
			last = max(last, r.ID)
		}
		return s.Store.UpsertContacts(ctx, portalID, recs, after)
	case "leads":
		recs := make([]store.Lead, 0, len(items))
		for _, raw := range items {
			r, err := parseLead(raw)
			if err != nil {
				skip(raw, err)
				continue
			}
			recs = append(recs, r)
			last = max(last, r.ID)
		}
		return s.Store.UpsertLeads(ctx, portalID, recs, after)
	case "deals":
		recs := make([]store.Deal, 0, len(items))
		for _, raw := range items {
			r, err := parseDeal(raw)
			if err != nil {
				skip(raw, err)
				continue
			}
			recs = append(recs, r)
			last = max(last, r.ID)
		}
		return s.Store.UpsertDeals(ctx, portalID, recs, after)
	}
	return fmt.Errorf("unknown entity %q", entity)
}

func (s *Syncer) syncDepartments(ctx context.Context, c *bitrix.Client, portalID int64, log *slog.Logger) error {
	var deps []store.Department
	_, err := c.ListPaged(ctx, "department.get", bitrix.Params{"sort": "ID", "order": "ASC"}, func(items []json.RawMessage) error {
		for _, raw := range items {
			d, err := parseDepartment(raw)
			if err != nil {
				log.WarnContext(ctx, "malformed department skipped", slog.String("record", snippet(raw)), slog.String("error", err.Error()))
				continue
			}
			deps = append(deps, d)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.Store.ReplaceDepartments(ctx, portalID, deps); err != nil {
		return err
	}
	return s.Store.SetSyncCount(ctx, portalID, "departments", len(deps))
}

func (s *Syncer) syncUsers(ctx context.Context, c *bitrix.Client, portalID int64, log *slog.Logger) error {
	var ids []int64
	var users []store.SyncedUser
	listed := time.Now()
	// Employees only: extranet and e-mail users never handle clients.
	_, err := c.ListPaged(ctx, "user.get", bitrix.Params{"sort": "ID", "order": "ASC", "FILTER": map[string]any{"USER_TYPE": "employee"}},
		func(items []json.RawMessage) error {
			for _, raw := range items {
				u, err := parseUser(raw)
				if err != nil {
					log.WarnContext(ctx, "malformed user skipped", slog.String("record", snippet(raw)), slog.String("error", err.Error()))
					continue
				}
				users = append(users, u)
				ids = append(ids, u.ID)
			}
			return nil
		})
	if err != nil {
		return err
	}
	if err := s.Store.UpsertSyncedUsers(ctx, portalID, users); err != nil {
		return err
	}
	if err := s.Store.DeactivateUsersNotIn(ctx, portalID, ids, listed); err != nil {
		return err
	}
	return s.Store.SetSyncCount(ctx, portalID, "users", len(users))
}

// EventEntity maps a CRM event to its entity ("" for events the sync ignores).
func EventEntity(event string) string {
	e := strings.ToUpper(event)
	switch {
	case strings.HasPrefix(e, "ONCRMCONTACT"):
		return "contact"
	case strings.HasPrefix(e, "ONCRMLEAD"):
		return "lead"
	case strings.HasPrefix(e, "ONCRMDEAL"):
		return "deal"
	}
	return ""
}

type recordPayload struct {
	Entity string `json:"entity"`
	ID     int64  `json:"id"`
}

// OnEvent turns an authenticated CRM event into a fetch of that one record.
// The job's key is the record, so a burst of updates (and the delete that may
// end it) is one fetch of the record's final state.
func (s *Syncer) OnEvent(ctx context.Context, portalID int64, event string, data map[string]any) error {
	entity := EventEntity(event)
	if entity == "" {
		return nil
	}
	fields, _ := data["FIELDS"].(map[string]any)
	raw, _ := fields["ID"].(string)
	id, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
	if err != nil || id <= 0 {
		return problem.New(problem.Invalid, "malformed_event", "%s without data[FIELDS][ID]", event)
	}
	delay := s.Coalesce
	if delay == 0 {
		delay = 2 * time.Second
	}
	_, err = s.Jobs.Enqueue(ctx, s.Store.DB(), JobRecord, recordPayload{Entity: entity, ID: id}, jobs.Options{
		PortalID: portalID, UniqueKey: fmt.Sprintf("%s:%d:%s:%d", JobRecord, portalID, entity, id), RunAt: s.now().Add(delay),
	})
	return err
}

// recordJob fetches one record and stores it, or deletes it locally when the
// portal no longer has it.
func (s *Syncer) recordJob(ctx context.Context, j *jobs.Job) error {
	portalID, err := portalOf(j)
	if err != nil {
		return err
	}
	var p recordPayload
	if err := j.Decode(&p); err != nil {
		return jobs.Permanent(err)
	}
	c, err := s.client(ctx, portalID)
	if err != nil {
		return err
	}
	return portal.JobError(s.FetchRecord(ctx, c, portalID, p.Entity, p.ID))
}

// FetchRecord brings one record up to date from the portal. For a deal it
// also reads every contact of the deal (the listing only knows the primary).
func (s *Syncer) FetchRecord(ctx context.Context, c *bitrix.Client, portalID int64, entity string, id int64) error {
	res, err := c.Batch(ctx, FetchCommands("", entity, id, ""), false)
	if err != nil {
		return err
	}
	return s.StoreFetched(ctx, portalID, entity, id, res, "")
}

// FetchCommands are the commands that read a record (keys start with
// prefix, so they can ride in another batch): by id, or, with ref, by a
// $result reference to a command earlier in the same batch (a record just
// created).
func FetchCommands(prefix, entity string, id int64, ref string) []bitrix.Command {
	cmd := func(key, method string) bitrix.Command {
		if ref != "" {
			return bitrix.Command{Key: prefix + key, Method: method, Raw: "id=" + ref}
		}
		return bitrix.Command{Key: prefix + key, Method: method, Params: bitrix.Params{"id": id}}
	}
	cmds := []bitrix.Command{cmd("get", "crm."+entity+".get")}
	if entity == "deal" {
		cmds = append(cmds, cmd("contacts", "crm.deal.contact.items.get"))
	}
	return cmds
}

// StoreFetched stores what FetchCommands read (under prefix in res) into
// the mirror; a record the portal no longer has leaves it.
func (s *Syncer) StoreFetched(ctx context.Context, portalID int64, entity string, id int64, res *bitrix.BatchResult, prefix string) error {
	if e := res.Errors[prefix+"get"]; e != nil {
		if isNotFound(e) {
			return s.Store.DeleteCRM(ctx, portalID, entity, id)
		}
		return e
	}
	raw := res.Result[prefix+"get"]
	switch entity {
	case "contact":
		r, err := parseContact(raw)
		if err != nil {
			return jobs.Permanent(fmt.Errorf("malformed contact %d: %w", id, err))
		}
		return s.Store.UpsertContacts(ctx, portalID, []store.Contact{r}, nil)
	case "lead":
		r, err := parseLead(raw)
		if err != nil {
			return jobs.Permanent(fmt.Errorf("malformed lead %d: %w", id, err))
		}
		return s.Store.UpsertLeads(ctx, portalID, []store.Lead{r}, nil)
	case "deal":
		r, err := parseDeal(raw)
		if err != nil {
			return jobs.Permanent(fmt.Errorf("malformed deal %d: %w", id, err))
		}
		if e := res.Errors[prefix+"contacts"]; e == nil {
			var links []struct {
				ContactID num  `json:"CONTACT_ID"`
				Primary   flag `json:"IS_PRIMARY"`
				Sort      num  `json:"SORT"`
			}
			if err := json.Unmarshal(res.Result[prefix+"contacts"], &links); err == nil {
				r.ContactIDs = []int64{}
				for _, l := range links {
					if l.Primary {
						r.ContactIDs = append([]int64{int64(l.ContactID)}, r.ContactIDs...)
					} else {
						r.ContactIDs = append(r.ContactIDs, int64(l.ContactID))
					}
				}
			}
		}
		return s.Store.UpsertDeals(ctx, portalID, []store.Deal{r}, nil)
	}
	return jobs.Permanent(fmt.Errorf("unknown entity %q", entity))
}

// isNotFound recognises the portal's answer for a missing record: 400 with an
// empty code and "Not found" (crm.*.get).
func isNotFound(e *bitrix.Error) bool {
	d := strings.ToLower(e.Description)
	return strings.Contains(d, "not found") || strings.EqualFold(e.Code, "NOT_FOUND")
}

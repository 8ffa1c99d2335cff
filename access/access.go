// Package access decides who sees and writes what (issue: access rules):
// per employee a visibility (all, department, own, none), whether he may
// write, whether he receives clients nobody is responsible for yet, and
// optionally which channels. Every read and write path asks it; a hidden
// dialog is simply not found.
package access

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/relay24/relay24/store"
)

// Rules evaluates access against the store.
type Rules struct {
	Store *store.Store
	// cache keeps computed rules briefly: a page and its API calls ask
	// several times a second. Invalidate drops a portal's at once.
	cache sync.Map // cacheKey → cachedRule
}

type cacheKey struct{ portal, user int64 }

type cachedRule struct {
	e      *Effective
	active bool
	at     time.Time
}

// ruleTTL bounds how long a change made elsewhere (another instance, the
// sync) takes to apply; changes through this instance apply at once.
const ruleTTL = 2 * time.Second

// Invalidate forgets the cached rules of a portal (after an admin's change).
func (r *Rules) Invalidate(portalID int64) {
	r.cache.Range(func(k, _ any) bool {
		if k.(cacheKey).portal == portalID {
			r.cache.Delete(k)
		}
		return true
	})
}

// Effective is a user's access with the defaults applied and, for
// department visibility, the people whose clients he sees.
type Effective struct {
	store.Access
	// People are the users whose clients this user sees (department
	// visibility: everyone in his departments and below; own: himself).
	People []int64
}

// For computes a user's effective access. Deactivated users see nothing.
func (r *Rules) For(ctx context.Context, portalID int64, u *store.User) (*Effective, error) {
	key := cacheKey{portalID, u.ID}
	if v, ok := r.cache.Load(key); ok {
		if c := v.(cachedRule); time.Since(c.at) < ruleTTL && c.active == u.Active {
			return c.e, nil
		}
	}
	e, err := r.compute(ctx, portalID, u)
	if err == nil {
		r.cache.Store(key, cachedRule{e: e, active: u.Active, at: time.Now()})
	}
	return e, err
}

func (r *Rules) compute(ctx context.Context, portalID int64, u *store.User) (*Effective, error) {
	a, err := r.Store.AccessOf(ctx, portalID, u)
	if err != nil {
		return nil, err
	}
	e := &Effective{Access: a}
	if !u.Active {
		e.Visibility, e.CanWrite, e.ReceivesNewClients = "none", false, false
	}
	switch e.Visibility {
	case "own":
		e.People = []int64{u.ID}
	case "department":
		deps := append([]int64(nil), u.Departments...)
		headed, err := r.Store.HeadedDepartments(ctx, portalID, u.ID)
		if err != nil {
			return nil, err
		}
		deps = append(deps, headed...)
		sub, err := r.Store.DepartmentSubtree(ctx, portalID, deps)
		if err != nil {
			return nil, err
		}
		e.People, err = r.Store.UsersInDepartments(ctx, portalID, sub)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(e.People, u.ID) {
			e.People = append(e.People, u.ID)
		}
	}
	return e, nil
}

// DialogFilter narrows the user's dialog lists to what he sees.
func (r *Rules) DialogFilter(ctx context.Context, portalID int64, u *store.User) (store.DialogFilter, error) {
	e, err := r.For(ctx, portalID, u)
	if err != nil {
		return store.DialogFilter{}, err
	}
	v := e.Visible()
	return store.DialogFilter{Visible: &v}, nil
}

// Visible is the rule as the store applies it to dialog lists: the data
// of the rule, from which the store makes its SQL condition.
func (e *Effective) Visible() store.Visibility {
	var v store.Visibility
	switch e.Visibility {
	case "all":
		v.All = true
	case "own", "department":
		v.People = e.People
		v.Unassigned = e.ReceivesNewClients
	}
	v.Channels = e.ChannelIDs
	return v
}

// sees applies the rule to one dialog's responsible person and channel.
func (e *Effective) sees(responsible int64, channelID int64) bool {
	if e.ChannelIDs != nil && channelID > 0 && !slices.Contains(e.ChannelIDs, channelID) {
		return false
	}
	switch e.Visibility {
	case "all":
		return true
	case "own", "department":
		if responsible == 0 {
			return e.ReceivesNewClients
		}
		return slices.Contains(e.People, responsible)
	}
	return false
}

// CanSee reports whether the user sees the dialog.
func (r *Rules) CanSee(ctx context.Context, portalID int64, u *store.User, d *store.Dialog) (bool, error) {
	e, err := r.For(ctx, portalID, u)
	if err != nil {
		return false, err
	}
	return e.sees(d.ResponsibleID.Int64, d.ChannelID), nil
}

// CanWrite reports whether the user may answer in the dialog.
func (r *Rules) CanWrite(ctx context.Context, portalID int64, u *store.User, d *store.Dialog) (bool, error) {
	e, err := r.For(ctx, portalID, u)
	if err != nil {
		return false, err
	}
	return e.CanWrite && e.sees(d.ResponsibleID.Int64, d.ChannelID), nil
}

// CanWriteAny reports whether the user may write at all.
func (r *Rules) CanWriteAny(ctx context.Context, portalID int64, u *store.User) (bool, error) {
	e, err := r.For(ctx, portalID, u)
	if err != nil {
		return false, err
	}
	return e.CanWrite && e.Visibility != "none", nil
}

// CanUseChannel reports whether the user may see a channel's dialogs.
func (r *Rules) CanUseChannel(ctx context.Context, portalID int64, u *store.User, channelID int64) (bool, error) {
	e, err := r.For(ctx, portalID, u)
	if err != nil {
		return false, err
	}
	return e.UsesChannel(channelID), nil
}

// UsesChannel reports whether the rule lets its user work on a channel.
func (e *Effective) UsesChannel(channelID int64) bool {
	return e.Visibility != "none" && (e.ChannelIDs == nil || slices.Contains(e.ChannelIDs, channelID))
}

// CanSeeContact reports whether the user sees a CRM contact: its responsible
// person is one he sees (or nobody, for those who receive new clients).
func (r *Rules) CanSeeContact(ctx context.Context, portalID int64, u *store.User, contactID int64) (bool, error) {
	c, err := r.Store.ContactByID(ctx, portalID, contactID)
	if err != nil {
		return false, nil // unknown and hidden look the same
	}
	e, err := r.For(ctx, portalID, u)
	if err != nil {
		return false, err
	}
	if e.sees(c.AssignedByID.Int64, 0) {
		return true, nil
	}
	ids, err := r.visibleDialogs(ctx, portalID, e, contactID)
	return len(ids) > 0, err
}

// VisibleDialogsOfContact lists the contact's dialogs the user sees.
func (r *Rules) VisibleDialogsOfContact(ctx context.Context, portalID int64, u *store.User, contactID int64) ([]int64, error) {
	e, err := r.For(ctx, portalID, u)
	if err != nil {
		return nil, err
	}
	return r.visibleDialogs(ctx, portalID, e, contactID)
}

func (r *Rules) visibleDialogs(ctx context.Context, portalID int64, e *Effective, contactID int64) ([]int64, error) {
	ids, err := r.Store.FilterDialogsOfContact(ctx, portalID, contactID, e.Visible())
	if err != nil {
		return nil, fmt.Errorf("access: contact dialogs: %w", err)
	}
	return ids, nil
}

// Who lists the users who see a dialog (its event stream audience,
// escalations): every active employee whose rule shows it.
func (r *Rules) Who(ctx context.Context, portalID int64, d *store.Dialog) ([]int64, error) {
	users, err := r.Store.ActiveUsers(ctx, portalID)
	if err != nil {
		return nil, err
	}
	var out []int64
	for i := range users {
		e, err := r.For(ctx, portalID, &users[i])
		if err != nil {
			return nil, err
		}
		if e.sees(d.ResponsibleID.Int64, d.ChannelID) {
			out = append(out, users[i].ID)
		}
	}
	return out, nil
}

// Sees reports whether the rule shows the dialog.
func (e *Effective) Sees(d *store.Dialog) bool { return e.sees(d.ResponsibleID.Int64, d.ChannelID) }

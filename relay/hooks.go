package relay

import (
	"context"

	"github.com/relay24/relay24/store"
)

// Hooks let another package act on what relay files (automation triggers).
type Hooks struct {
	// Inbound is called in the transaction that filed a new client
	// message (a redelivery or an echo is not one); what it enqueues
	// exists exactly when the message does.
	Inbound func(ctx context.Context, tx *store.Store, d *store.Dialog, m *store.Message) error
	// Escalated is called when a dialog's client has waited past the
	// escalation delay, once per wait (before the wait is marked).
	Escalated func(ctx context.Context, d *store.Dialog) error
}

// SetHooks installs the hooks (before the workers start).
func (s *Service) SetHooks(h Hooks) { s.hooks = h }

package gateway

import (
	"context"
	"errors"

	"github.com/relay24/relay24/store"
)

// CRMPusher is a gateway that is told who is who on the CRM side, so it
// shows the right author of a reply and the right responsible person
// (Wazzup: POST /v3/users, /contacts, /deals, upserts). relay's CRM
// follow-up (relay/crmpush.go) gathers the CRM side and hands it over; a
// gateway without such a thing simply does not implement it.
type CRMPusher interface {
	// PushCRM tells the gateway the portal's people, the contacts with
	// dialogs on its channels and their open deals. Errors: one matching
	// ErrCRMNotAllowed (the credential may only send messages), a
	// *PermanentError (no retry helps), or any other (try again).
	PushCRM(ctx context.Context, cred string, crm CRM) error
}

// CRM is the CRM side of a gateway's conversations.
type CRM struct {
	// PortalURL is the portal's address (https://<domain>), for the
	// records' links.
	PortalURL string
	Users     []store.User
	Contacts  []store.GatewayContact
	Deals     []store.GatewayDeal
}

// ErrCRMNotAllowed is a credential limited to messaging (Wazzup's
// "sidecar" key answers 403 FORBIDDEN): the CRM side is not pushed.
var ErrCRMNotAllowed = errors.New("the gateway's credential may not push CRM data")

// PermanentError is a refusal no retry changes.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

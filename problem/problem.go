// Package problem is relay24's one error model: an error with a code that the
// HTTP layer maps to a status in one place (handlers.errorHandler), so domain
// code never thinks in HTTP statuses.
package problem

import (
	"errors"
	"fmt"
)

// Code classifies an error for the outside world.
type Code string

// The codes; their HTTP statuses live in handlers.
const (
	Invalid      Code = "invalid"      // the request is malformed or breaks a rule
	Unauthorized Code = "unauthorized" // no or bad credentials
	Forbidden    Code = "forbidden"    // authenticated, but not allowed
	NotFound     Code = "not_found"    // absent, or hidden by access rules, or of another portal
	Conflict     Code = "conflict"     // the state does not allow it now
	TooLarge     Code = "too_large"    // body over the limit
	Unavailable  Code = "unavailable"  // a remote (portal, gateway) failed; try again
	Internal     Code = "internal"     // a bug or an unexpected failure
)

// Error carries a code, a machine-readable reason and a human message.
type Error struct {
	Code    Code
	Reason  string // snake_case, e.g. "unknown_portal"; defaults to Code
	Message string
	Err     error // the cause, for logs; never shown to clients
	// Data are fields the client's text names (the other client of a
	// conflict …); they are sent beside code and message.
	Data map[string]any
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// ReasonOrCode is the snake_case code clients see.
func (e *Error) ReasonOrCode() string {
	if e.Reason != "" {
		return e.Reason
	}
	return string(e.Code)
}

// New makes an error of code with a reason and message.
func New(code Code, reason, format string, a ...any) *Error {
	return &Error{Code: code, Reason: reason, Message: fmt.Sprintf(format, a...)}
}

// Wrap keeps cause for the logs under a client-facing code and message.
func Wrap(cause error, code Code, reason, message string) *Error {
	return &Error{Code: code, Reason: reason, Message: message, Err: cause}
}

// With adds a field the client's text names.
func (e *Error) With(key string, value any) *Error {
	if e.Data == nil {
		e.Data = map[string]any{}
	}
	e.Data[key] = value
	return e
}

// As finds the *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Is reports whether err carries code.
func Is(err error, code Code) bool {
	e, ok := As(err)
	return ok && e.Code == code
}

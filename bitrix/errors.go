package bitrix

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Error is an error answered by the portal or the OAuth server: the
// documented envelope {"error":CODE,"error_description":TEXT} with its status.
type Error struct {
	Code        string
	Description string
	Status      int    // HTTP status; 200 for a batch sub-command error
	Method      string // the REST method, or "oauth/token"
	// RetryAfter is how long the portal will refuse this again: the pause
	// the pacer imposed after QUERY_LIMIT_EXCEEDED, or what is left until
	// the method's time budget frees up after OPERATION_TIME_LIMIT; 0 when
	// unknown.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	s := fmt.Sprintf("bitrix24 %s: %s (%d): %s", e.Method, e.Code, e.Status, e.Description)
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter.Round(time.Millisecond))
	}
	return s
}

// Error codes relay24 reacts to (bitrix24.md §c.1).
const (
	CodeExpiredToken        = "expired_token"
	CodeInvalidToken        = "invalid_token"
	CodeNoAuthFound         = "NO_AUTH_FOUND"
	CodeQueryLimitExceeded  = "QUERY_LIMIT_EXCEEDED"
	CodeOperationTimeLimit  = "OPERATION_TIME_LIMIT"
	CodeOverloadLimit       = "OVERLOAD_LIMIT"
	CodeInternalServerError = "INTERNAL_SERVER_ERROR"
	CodeUnexpectedAnswer    = "ERROR_UNEXPECTED_ANSWER"
	CodeAccessDenied        = "ACCESS_DENIED"
	CodeMethodNotFound      = "ERROR_METHOD_NOT_FOUND"
	CodeInsufficientScope   = "insufficient_scope"
	CodeUserAccessError     = "user_access_error"
	CodeInvalidGrant        = "invalid_grant"
	CodeInvalidClient       = "invalid_client"
	CodePaymentRequired     = "PAYMENT_REQUIRED"
	CodePortalDeleted       = "PORTAL_DELETED"
)

// HasCode reports whether err is a portal error with one of the codes.
func HasCode(err error, codes ...string) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	for _, c := range codes {
		if strings.EqualFold(e.Code, c) {
			return true
		}
	}
	return false
}

// Temporary reports whether the same request may succeed later: rate limits,
// overload and server-side failures. Token expiry is handled separately.
func Temporary(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case CodeQueryLimitExceeded, CodeOperationTimeLimit, CodeOverloadLimit, CodeInternalServerError, CodeUnexpectedAnswer:
		return true
	}
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests
}

// Revoked reports whether the portal no longer lets the app in: the app was
// uninstalled, the portal deleted, or the refresh token is dead. Only a new
// install or login mends it.
func Revoked(err error) bool {
	return HasCode(err, CodeInvalidToken, CodeInvalidGrant, CodePortalDeleted, CodePaymentRequired, CodeNoAuthFound)
}

// RetryAfter reports whether err is one of the portal's limits — the rate
// limit or a method's time budget — and how long to wait before trying
// again: what the portal made known, else a second for the rate limit and a
// minute (one bucket of the budget) for the time budget.
func RetryAfter(err error) (time.Duration, bool) {
	var e *Error
	if !errors.As(err, &e) {
		return 0, false
	}
	switch {
	case strings.EqualFold(e.Code, CodeQueryLimitExceeded):
		return max(e.RetryAfter, time.Second), true
	case e.Code == CodePacerBusy:
		return e.RetryAfter, true
	case strings.EqualFold(e.Code, CodeOperationTimeLimit):
		if e.RetryAfter > 0 {
			return e.RetryAfter, true
		}
		return unknownTimeBudgetReset, true
	}
	return 0, false
}

// notExecuted marks failures where the portal certainly did not run the
// method (rate limited before execution), so even a write may be retried.
func notExecuted(err error) bool {
	return HasCode(err, CodeQueryLimitExceeded, CodeOperationTimeLimit, CodeOverloadLimit, CodeExpiredToken)
}

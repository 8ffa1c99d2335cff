package telegram

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
)

// Error is a failure answered by the Bot API: the envelope
// {"ok":false,"error_code":N,"description":"...","parameters":{...}}, or, when
// the body is not that envelope (a proxy's HTML page), the HTTP status.
type Error struct {
	Code        int    // error_code; equals the HTTP status
	Description string // e.g. "Forbidden: bot was blocked by the user"
	RetryAfter  int    // parameters.retry_after, seconds (429)
	// MigrateToChatID is parameters.migrate_to_chat_id: the group became a
	// supergroup with this id.
	MigrateToChatID int64
	Method          string // the Bot API method called
}

func (e *Error) Error() string {
	s := fmt.Sprintf("telegram %s: %d %s", e.Method, e.Code, e.Description)
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %d s)", e.RetryAfter)
	}
	return s
}

// Temporary reports whether the same call may succeed later: flood control
// (429, honour RetryAfter), a server-side failure (5xx), or no answer at all
// (network errors, timeouts, a cancelled context).
func Temporary(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code == http.StatusTooManyRequests || e.Code >= 500
	}
	var ue *url.Error
	var ne net.Error
	switch {
	case errors.As(err, &ue), errors.As(err, &ne):
		return true
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return true
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return true
	}
	return false
}

// Forbidden reports whether the bot may not write to the chat any more (403:
// blocked by the user, user deactivated, kicked from the group). Retrying is
// pointless until the user writes again.
func Forbidden(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == http.StatusForbidden
}

package wazzup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is a failure answered by Wazzup. It is read from the common envelope
// {error, description, data}, from the extended one of POST /v3/message
// {status, requestId, error, description, data}, from the nested form of
// POST /v3/iframe {error: {code, ...}}, or, for an empty or non-JSON body,
// from the HTTP status alone (Code then is e.g. "UNAUTHORIZED").
type Error struct {
	Status      int             // HTTP status of the answer
	Code        string          // error code as sent, e.g. "REPEATED_CRM_MESSAGE_ID" or "uriNotValid"
	Description string          // Wazzup's short English explanation; may be empty
	Data        json.RawMessage // the optional data object, verbatim
	RequestID   string          // requestId of the extended envelope, when present
	Op          string          // the request, e.g. "POST /v3/message"
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("wazzup")
	if e.Op != "" {
		b.WriteString(" ")
		b.WriteString(e.Op)
	}
	fmt.Fprintf(&b, ": %d %s", e.Status, e.Code)
	if e.Description != "" && e.Description != e.Code {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	if len(e.Data) > 0 && string(e.Data) != "{}" {
		b.WriteString(" ")
		b.Write(e.Data)
	}
	return b.String()
}

// Fields returns the request fields Wazzup objected to: data.fields of
// INVALID_MESSAGE_DATA, or the fields of every item of the [{index, fields}]
// list of INVALID_USERS_DATA / INVALID_CONTACTS_DATA.
func (e *Error) Fields() []string {
	var obj struct {
		Fields []string `json:"fields"`
	}
	if json.Unmarshal(e.Data, &obj) == nil && len(obj.Fields) > 0 {
		return obj.Fields
	}
	var list []struct {
		Fields []string `json:"fields"`
	}
	if json.Unmarshal(e.Data, &list) != nil {
		return nil
	}
	var out []string
	for _, it := range list {
		out = append(out, it.Fields...)
	}
	return out
}

// Error codes relay24 reacts to (channels.md §1.4, §1.6, §1.12, §1.15).
const (
	CodeRepeatedCrmMessageID      = "REPEATED_CRM_MESSAGE_ID"
	CodeInvalidMessageData        = "INVALID_MESSAGE_DATA"
	CodeWrongTransport            = "WRONG_TRANSPORT"
	CodeChannelNotFound           = "CHANNEL_NOT_FOUND"
	CodeChannelBlocked            = "CHANNEL_BLOCKED"
	CodeChannelNoMoney            = "CHANNEL_NO_MONEY"
	CodeChannelWapiRejected       = "CHANNEL_WAPI_REJECTED"
	CodeMessageChannelUnavailable = "MESSAGE_CHANNEL_UNAVAILABLE"
	CodeMessageOnlyTextOrContent  = "MESSAGE_ONLY_TEXT_OR_CONTENT"
	CodeMessageNothingToSend      = "MESSAGE_NOTHING_TO_SEND"
	CodeMessageTextTooLong        = "MESSAGE_TEXT_TOO_LONG"
	CodeMessagesTooLongTelegram   = "MESSAGES_TOO_LONG_TELEGRAM"
	CodeMessageDownloadContent    = "MESSAGE_DOWNLOAD_CONTENT_ERROR"
	CodeContentSizeExceeded       = "MESSAGES_CONTENT_SIZE_EXCEEDED"
	CodeReferenceMessageNotFound  = "REFERENCE_MESSAGE_NOT_FOUND"
	CodeBadContact                = "BAD_CONTACT"
	CodeTooManyEntities           = "TOO_MANY_ENTITIES"
	CodeInvalidUsersData          = "INVALID_USERS_DATA"
	CodeInvalidContactsData       = "INVALID_CONTACTS_DATA"
	CodeInvalidDealsData          = "INVALID_DEALS_DATA"
	CodeURINotValid               = "uriNotValid"
	CodeTestPostNotPassed         = "testPostNotPassed"
	CodeForbidden                 = "FORBIDDEN"
	CodeUnauthorized              = "UNAUTHORIZED"
	CodeTooManyRequests           = "TOO_MANY_REQUESTS"
)

// NormalizeCode folds the spellings Wazzup uses for one code into one form:
// upper case without underscores, so "repeatedCrmMessageId" and
// "REPEATED_CRM_MESSAGE_ID" compare equal.
func NormalizeCode(code string) string {
	return strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(code), "_", ""))
}

// HasCode reports whether err is a Wazzup error with one of the codes,
// compared after NormalizeCode.
func HasCode(err error, codes ...string) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	have := NormalizeCode(e.Code)
	for _, c := range codes {
		if have == NormalizeCode(c) {
			return true
		}
	}
	return false
}

// IsDuplicate reports whether Wazzup refused a send because a message with
// the same crmMessageId went out less than 60 s before: the message was sent,
// so the caller records it as delivered instead of retrying.
func IsDuplicate(err error) bool {
	return HasCode(err, CodeRepeatedCrmMessageID)
}

// Temporary reports whether the same request may succeed later: rate limited
// (429), a server-side failure (5xx), no answer at all (network errors,
// timeouts, a cut-off body, a cancelled context), or a success whose body was
// unreadable (ErrUnreadableAnswer). Everything else Wazzup refused on the
// merits, and repeating it unchanged will fail again.
func Temporary(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Status == http.StatusTooManyRequests || e.Status >= 500
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
	case errors.Is(err, ErrUnreadableAnswer):
		return true
	}
	return false
}

// parseError reads an error answer. It never fails: whatever the body, the
// status alone is enough to classify the error.
func parseError(op string, status int, body []byte) *Error {
	e := &Error{Status: status, Op: op}
	body = bytes.TrimSpace(body)
	var env struct {
		Error       json.RawMessage `json:"error"`
		Description flexString      `json:"description"`
		Message     flexString      `json:"message"`
		Data        json.RawMessage `json:"data"`
		RequestID   flexString      `json:"requestId"`
	}
	if len(body) > 0 && body[0] == '{' && json.Unmarshal(body, &env) == nil {
		e.Description = string(env.Description)
		if e.Description == "" {
			e.Description = string(env.Message)
		}
		e.Data = rawOrNil(env.Data)
		e.RequestID = string(env.RequestID)
		raw := bytes.TrimSpace(env.Error)
		if len(raw) > 0 && raw[0] == '{' {
			// POST /v3/iframe nests the code: {"error": {"code": ...}}.
			var nested struct {
				Code        flexString      `json:"code"`
				Error       flexString      `json:"error"`
				Description flexString      `json:"description"`
				Message     flexString      `json:"message"`
				Data        json.RawMessage `json:"data"`
			}
			if json.Unmarshal(raw, &nested) == nil {
				e.Code = firstNonEmpty(string(nested.Code), string(nested.Error))
				if e.Description == "" {
					e.Description = firstNonEmpty(string(nested.Description), string(nested.Message))
				}
				if e.Data == nil {
					e.Data = rawOrNil(nested.Data)
				}
			}
		} else if len(raw) > 0 {
			var code flexString
			if json.Unmarshal(raw, &code) == nil {
				e.Code = string(code)
			}
		}
	} else if len(body) > 0 {
		e.Description = snippet(body)
	}
	if e.Code == "" {
		e.Code = codeForStatus(status)
	}
	return e
}

// codeForStatus names an error that came without a code, from its status:
// 401 → UNAUTHORIZED, 429 → TOO_MANY_REQUESTS, 502 → BAD_GATEWAY.
func codeForStatus(status int) string {
	text := http.StatusText(status)
	if text == "" {
		return "HTTP_" + strconv.Itoa(status)
	}
	return strings.ToUpper(strings.NewReplacer(" ", "_", "-", "_", "'", "").Replace(text))
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// snippet keeps the start of a non-JSON error body (an HTML page of a proxy)
// readable in logs.
func snippet(b []byte) string {
	const max = 200
	if len(b) > max {
		b = b[:max]
		for len(b) > 0 && !utf8.Valid(b) {
			b = b[:len(b)-1]
		}
		return string(b) + "…"
	}
	return string(b)
}

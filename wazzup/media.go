package wazzup

import (
	"context"
	"errors"
	"net/url"
)

// MaxContentSize is the largest file Wazzup takes by contentUri through the
// API (MESSAGES_CONTENT_SIZE_EXCEEDED above it, channels.md §1.18). The
// transports have lower caps of their own; check min(this, theirs) before
// handing out a link.
const MaxContentSize = 10 << 20

// Media error codes of POST /v3/message (channels.md §1.4, §1.18): the
// synchronous table, plus the codes of the asynchronous statuses webhook,
// which a caller may feed to MediaKindOf as well.
const (
	CodeMessageWrongContentType       = "MESSAGE_WRONG_CONTENT_TYPE"
	CodeContentCanNotBeBlank          = "MESSAGES_CONTENT_CAN_NOT_BE_BLANK"
	CodeContentSizeExceededWABA       = "MESSAGES_CONTENT_SIZE_EXCEEDED_WABA"
	CodeContentSizeExceededTelegram   = "MESSAGES_CONTENT_SIZE_EXCEEDED_TELEGRAM"
	CodeUnsupportedContentTypeInstAPI = "MESSAGES_UNSUPPORTED_CONTENT_TYPE_INSTAPI"
	CodeTooBigContent                 = "TOO_BIG_CONTENT"          // statuses webhook, 50 MB
	CodeContentConversionError        = "CONTENT_CONVERSION_ERROR" // statuses webhook
	CodeWrongContent                  = "WRONG_CONTENT"            // statuses webhook, Instagram
)

// MediaKind says what went wrong with the file of a send.
type MediaKind int

const (
	MediaNone           MediaKind = iota // not a media error
	MediaTextAndContent                  // text and contentUri together (MESSAGE_ONLY_TEXT_OR_CONTENT)
	MediaBadURI                          // contentUri is not an absolute http(s) URL (refused before sending)
	MediaDownload                        // Wazzup could not download the link (MESSAGE_DOWNLOAD_CONTENT_ERROR)
	MediaTooBig                          // over Wazzup's or the transport's size cap
	MediaWrongType                       // the type is unknown or the messenger does not take it
	MediaBlank                           // the link served no bytes
)

func (k MediaKind) String() string {
	switch k {
	case MediaTextAndContent:
		return "text and content together"
	case MediaBadURI:
		return "invalid content URI"
	case MediaDownload:
		return "content download failed"
	case MediaTooBig:
		return "content too big"
	case MediaWrongType:
		return "content type refused"
	case MediaBlank:
		return "content is empty"
	}
	return "no media error"
}

// MediaKindOf classifies err by its Wazzup code (either spelling); MediaNone
// for anything that is not about the file, e.g. a channel or rate error,
// which Temporary and IsDuplicate classify as for a text.
func MediaKindOf(err error) MediaKind {
	var me *MediaError
	if errors.As(err, &me) {
		return me.Kind
	}
	switch {
	case HasCode(err, CodeMessageOnlyTextOrContent, "MESSAGES_ONLY_TEXT_OR_CONTENT"):
		return MediaTextAndContent
	case HasCode(err, CodeMessageDownloadContent):
		return MediaDownload
	case HasCode(err, CodeContentSizeExceeded, CodeContentSizeExceededWABA, CodeContentSizeExceededTelegram, CodeTooBigContent):
		return MediaTooBig
	case HasCode(err, CodeMessageWrongContentType, CodeUnsupportedContentTypeInstAPI, CodeContentConversionError, CodeWrongContent):
		return MediaWrongType
	case HasCode(err, CodeContentCanNotBeBlank):
		return MediaBlank
	}
	return MediaNone
}

// MediaError is a send refused because of its file. Err is the *Error
// Wazzup answered, or nil when SendFile refused the request itself.
type MediaError struct {
	Kind MediaKind
	Err  error
}

func (e *MediaError) Error() string {
	if e.Err == nil {
		return "wazzup POST /v3/message: " + e.Kind.String()
	}
	return e.Err.Error()
}

func (e *MediaError) Unwrap() error { return e.Err }

// Retryable reports whether sending the file again later may work: only
// after a failed download, since the link's server may have been away for a
// moment (hand out a fresh link if it was short-lived). Every other kind
// Wazzup refused on the merits, and the same file will be refused again.
// Temporary stays false for a failed download: the unchanged request is not
// known to succeed, and re-sending is the caller's decision.
func (e *MediaError) Retryable() bool { return e.Kind == MediaDownload }

// SendFile sends one file by URL: r.ContentURI names it and r.Text must be
// empty, since Wazzup takes no caption (send the text as its own message).
// Wazzup downloads the link at once, with no redirects followed, so the link
// must answer 200 with the bytes; it may expire soon after. What is refused
// because of the file comes back as *MediaError (wrapping the *Error, so
// HasCode, IsDuplicate and Temporary still work); everything else as Send
// returns it. crmMessageId idempotency is Send's.
func (c *Client) SendFile(ctx context.Context, r SendRequest) (SendResult, error) {
	if r.Text != "" {
		return SendResult{}, &MediaError{Kind: MediaTextAndContent}
	}
	if u, err := url.Parse(r.ContentURI); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return SendResult{}, &MediaError{Kind: MediaBadURI}
	}
	res, err := c.Send(ctx, r)
	if err == nil {
		return res, nil
	}
	if k := MediaKindOf(err); k != MediaNone {
		return SendResult{}, &MediaError{Kind: k, Err: err}
	}
	return SendResult{}, err
}

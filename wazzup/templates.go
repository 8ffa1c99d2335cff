package wazzup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// TemplatesPageSize is the limit asked per GET /v3/templates/whatsapp page
// (the documented default); a shorter page is the last one.
const TemplatesPageSize = 100

// maxTemplatePages stops a server that keeps answering full pages.
const maxTemplatePages = 100

// Template statuses (moderation). Live accounts answer them lower-case, the
// documentation's table upper-case: compare with strings.EqualFold.
const (
	TemplateApproved = "approved"
	TemplatePending  = "pending"
	TemplateRejected = "rejected"
	TemplatePaused   = "paused"
	TemplateDisabled = "disabled"
	TemplateArchived = "archived" // live, undocumented
)

// Window error codes of the statuses webhook (channels.md §1.17): a plain
// message sent outside the channel's customer-service window.
const (
	Code24HoursExceeded = "24_HOURS_EXCEEDED" // WABA, 24 h after the client's last message
	Code7DaysExceeded   = "7_DAYS_EXCEEDED"   // Instagram, 7 days
)

// Template send error codes of POST /v3/message (channels.md §1.4, §1.17).
const (
	CodeTemplateRejected     = "TEMPLATE_REJECTED"
	CodeTooLongWABATemplate  = "MESSAGES_TOO_LONG_WABA_TEMPLATE" // > 1024
	CodeTooLongWABAHeader    = "MESSAGES_TOO_LONG_WABA_HEADER"   // > 60
	CodeTooLongWABA          = "MESSAGES_TOO_LONG_WABA"
	CodeBalanceIsEmpty       = "BALANCE_IS_EMPTY"
	CodeValidationError      = "VALIDATION_ERROR"
	CodeMessagesNotTextFirst = "MESSAGES_NOT_TEXT_FIRST"
)

// TemplatesAllowed reports whether the transport takes WABA templates.
func TemplatesAllowed(transport string) bool {
	return strings.EqualFold(strings.TrimSpace(transport), TransportWABA)
}

// IsWindowClosed reports whether a message error code (of a statuses or an
// echo webhook item) says the customer-service window was closed.
func IsWindowClosed(code string) bool {
	n := NormalizeCode(code)
	return n == NormalizeCode(Code24HoursExceeded) || n == NormalizeCode(Code7DaysExceeded)
}

// WindowClosed reports whether the status is the failure of a message sent
// outside the window (24_HOURS_EXCEEDED or 7_DAYS_EXCEEDED).
func (s Status) WindowClosed() bool { return s.Error != nil && IsWindowClosed(s.Error.Error) }

// WindowClosed is Status.WindowClosed for an echo carrying the error.
func (m Message) WindowClosed() bool { return m.Error != nil && IsWindowClosed(m.Error.Error) }

// Template is one WABA template of the account (GET /v3/templates/whatsapp).
type Template struct {
	GUID           string   // templateGuid: what SendRequest.TemplateID takes
	AccountID      string   // number as sent
	Title          string   // name in the Wazzup account
	Name           string   // name sent to Meta
	Channels       []string // channelIds the template is bound to
	Category       string
	Language       string
	Status         string // approved, pending, rejected, paused, disabled, archived (any case)
	RejectedReason string
	Namespace      string
	Components     []TemplateComponent
	TemplateCode   string          // "@template: <id> { [[headerVar1]]; [[bodyVar1]] }", live only
	Raw            json.RawMessage // the item, verbatim
}

// TemplateComponent is one HEADER, BODY, FOOTER or BUTTONS part.
type TemplateComponent struct {
	Type    string   // HEADER, BODY, FOOTER, BUTTONS (compare case-insensitively)
	Format  string   // HEADER only: TEXT, IMAGE, DOCUMENT, VIDEO
	Text    string   // with {{n}} placeholders
	Example []string // sample values, flattened from either documented shape
	Buttons []TemplateButton
}

// TemplateButton is a button of a BUTTONS component.
type TemplateButton struct {
	Type string // QUICK_REPLY, URL, PHONE_NUMBER, ...
	Text string
	URL  string // may hold a {{n}} placeholder
}

// Approved reports whether the template passed moderation.
func (t Template) Approved() bool {
	return strings.EqualFold(strings.TrimSpace(t.Status), TemplateApproved)
}

// UsableOn reports whether the template is approved and bound to the channel.
func (t Template) UsableOn(channelID string) bool {
	if !t.Approved() {
		return false
	}
	for _, c := range t.Channels {
		if c == channelID {
			return true
		}
	}
	return false
}

var (
	codeVar     = regexp.MustCompile(`\[\[[^\[\]]*\]\]`)
	placeholder = regexp.MustCompile(`\{\{\s*(\d+)\s*\}\}`)
)

// Variables is how many templateValues a send of the template takes: the
// [[…]] of templateCode, which lists them in order, or without it Meta's
// count of {{n}} placeholders in the header, the body and URL buttons.
func (t Template) Variables() int {
	if strings.TrimSpace(t.TemplateCode) != "" {
		return len(codeVar.FindAllString(t.TemplateCode, -1))
	}
	n := 0
	for _, c := range t.Components {
		switch strings.ToUpper(c.Type) {
		case "HEADER", "BODY":
			n += placeholders(c.Text)
		case "BUTTONS":
			for _, b := range c.Buttons {
				if strings.EqualFold(b.Type, "URL") {
					n += placeholders(b.URL)
				}
			}
		}
	}
	return n
}

// placeholders counts the distinct {{n}} of a text: {{1}} used twice is one
// value.
func placeholders(s string) int {
	seen := map[string]bool{}
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		seen[m[1]] = true
	}
	return len(seen)
}

// component returns the first component of the type, or nil.
func (t Template) component(typ string) *TemplateComponent {
	for i := range t.Components {
		if strings.EqualFold(t.Components[i].Type, typ) {
			return &t.Components[i]
		}
	}
	return nil
}

// Text is the body as written, placeholders included ("" without a body).
func (t Template) Text() string {
	if b := t.component("BODY"); b != nil {
		return b.Text
	}
	return ""
}

// Preview is the body with values substituted in send order: the header's
// variables come first, so the body's {{n}} takes values[header+n-1]. A
// placeholder without a value stays as written.
func (t Template) Preview(values []string) string {
	b := t.component("BODY")
	if b == nil {
		return ""
	}
	offset := 0
	if h := t.component("HEADER"); h != nil && (h.Format == "" || strings.EqualFold(h.Format, "TEXT")) {
		offset = placeholders(h.Text)
	}
	return placeholder.ReplaceAllStringFunc(b.Text, func(m string) string {
		n, err := strconv.Atoi(placeholder.FindStringSubmatch(m)[1])
		if err != nil || n < 1 {
			return m
		}
		if i := offset + n - 1; i < len(values) {
			return values[i]
		}
		return m
	})
}

// Wire form of a template, lenient about types.
type (
	wireTemplate struct {
		TemplateGUID   flexString      `json:"templateGuid"`
		GUID           flexString      `json:"guid"`
		AccountID      flexString      `json:"accountId"`
		Title          flexString      `json:"title"`
		Name           flexString      `json:"name"`
		Channels       []flexString    `json:"channels"`
		Category       flexString      `json:"category"`
		Language       flexString      `json:"language"`
		Status         flexString      `json:"status"`
		RejectedReason flexString      `json:"rejected_reason"`
		Namespace      flexString      `json:"namespace"`
		Components     []wireComponent `json:"components"`
		TemplateCode   flexString      `json:"templateCode"`
	}
	wireComponent struct {
		Type    flexString    `json:"type"`
		Format  flexString    `json:"format"`
		Text    flexString    `json:"text"`
		Example exampleValues `json:"example"`
		Buttons []struct {
			Type flexString `json:"type"`
			Text flexString `json:"text"`
			URL  flexString `json:"url"`
		} `json:"buttons"`
	}
)

// exampleValues reads components[].example as Wazzup types it (an array of
// strings) or as Meta writes it ({header_text:[…], body_text:[[…]]}, or any
// nesting of arrays and objects), keeping the strings in order. Anything
// else is dropped, not refused: an example is never worth a template.
type exampleValues []string

func (e *exampleValues) UnmarshalJSON(b []byte) error {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return nil
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case float64:
			out = append(out, strconv.FormatFloat(x, 'f', -1, 64))
		case []any:
			for _, it := range x {
				walk(it)
			}
		case map[string]any:
			// Meta's keys in a stable order: header first, then body.
			for _, k := range []string{"header_text", "header_handle", "body_text"} {
				if it, ok := x[k]; ok {
					walk(it)
				}
			}
		}
	}
	walk(v)
	*e = out
	return nil
}

func (w wireTemplate) template(raw json.RawMessage) Template {
	t := Template{
		GUID: firstNonEmpty(string(w.TemplateGUID), string(w.GUID)), AccountID: string(w.AccountID),
		Title: string(w.Title), Name: string(w.Name), Category: string(w.Category),
		Language: string(w.Language), Status: string(w.Status), RejectedReason: string(w.RejectedReason),
		Namespace: string(w.Namespace), TemplateCode: string(w.TemplateCode), Raw: rawOrNil(raw),
	}
	for _, c := range w.Channels {
		if c != "" {
			t.Channels = append(t.Channels, string(c))
		}
	}
	for _, c := range w.Components {
		tc := TemplateComponent{Type: string(c.Type), Format: string(c.Format), Text: string(c.Text), Example: []string(c.Example)}
		for _, b := range c.Buttons {
			tc.Buttons = append(tc.Buttons, TemplateButton{Type: string(b.Type), Text: string(b.Text), URL: string(b.URL)})
		}
		t.Components = append(t.Components, tc)
	}
	return t
}

// ParseTemplates reads one page of GET /v3/templates/whatsapp: a bare array
// or {data:[…]}. An item that is not an object, or has no templateGuid, is
// an error naming its index.
func ParseTemplates(body []byte) ([]Template, error) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '{' {
		var env struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			return nil, err
		}
		body = rawOrNil(env.Data)
		if body == nil {
			return []Template{}, nil
		}
	}
	out, err := parseList(body, func(raw json.RawMessage) (Template, error) {
		var w wireTemplate
		if err := decodeObject(raw, &w); err != nil {
			return Template{}, err
		}
		t := w.template(raw)
		if t.GUID == "" {
			return Template{}, errors.New("missing templateGuid")
		}
		return t, nil
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []Template{}
	}
	return out, nil
}

// Templates lists the account's WABA templates, every status, paging with
// limit/offset until a short page.
func (c *Client) Templates(ctx context.Context) ([]Template, error) {
	out := []Template{}
	for page := 0; page < maxTemplatePages; page++ {
		path := "/v3/templates/whatsapp?limit=" + strconv.Itoa(TemplatesPageSize) + "&offset=" + strconv.Itoa(page*TemplatesPageSize)
		var raw json.RawMessage
		if err := c.do(ctx, http.MethodGet, path, nil, &raw); err != nil {
			return nil, err
		}
		got, err := ParseTemplates(raw)
		if err != nil {
			return nil, fmt.Errorf("wazzup GET /v3/templates/whatsapp: %w: %v", ErrUnreadableAnswer, err)
		}
		out = append(out, got...)
		if len(got) < TemplatesPageSize {
			return out, nil
		}
	}
	return nil, fmt.Errorf("wazzup GET /v3/templates/whatsapp: more than %d pages", maxTemplatePages)
}

// TemplateKind says why a template send was refused.
type TemplateKind int

const (
	TemplateNone       TemplateKind = iota // not a template error
	TemplateBadRequest                     // no templateId, text or a file with it, an empty value (refused before sending)
	TemplateNotUsable                      // rejected, not approved, or not this channel's (TEMPLATE_REJECTED)
	TemplateBadValues                      // wrong number of values, or a bad templateId (VALIDATION_ERROR / INVALID_MESSAGE_DATA)
	TemplateTooLong                        // the filled template is too long (MESSAGES_TOO_LONG_WABA_*)
	TemplateNoBalance                      // the WABA balance is empty (BALANCE_IS_EMPTY)
)

func (k TemplateKind) String() string {
	switch k {
	case TemplateBadRequest:
		return "invalid template request"
	case TemplateNotUsable:
		return "template not usable"
	case TemplateBadValues:
		return "template values refused"
	case TemplateTooLong:
		return "template too long"
	case TemplateNoBalance:
		return "WABA balance is empty"
	}
	return "no template error"
}

// TemplateError is a template send refused. Err is the *Error Wazzup
// answered, or nil when SendTemplate refused the request itself.
type TemplateError struct {
	Kind TemplateKind
	Err  error
}

func (e *TemplateError) Error() string {
	if e.Err == nil {
		return "wazzup POST /v3/message: " + e.Kind.String()
	}
	return e.Err.Error()
}

func (e *TemplateError) Unwrap() error { return e.Err }

// TemplateKindOf classifies a template send's error by its Wazzup code.
func TemplateKindOf(err error) TemplateKind {
	var te *TemplateError
	if errors.As(err, &te) {
		return te.Kind
	}
	switch {
	case HasCode(err, CodeTemplateRejected):
		return TemplateNotUsable
	case HasCode(err, CodeTooLongWABATemplate, CodeTooLongWABAHeader, CodeTooLongWABA):
		return TemplateTooLong
	case HasCode(err, CodeBalanceIsEmpty):
		return TemplateNoBalance
	case HasCode(err, CodeValidationError):
		return TemplateBadValues
	case HasCode(err, CodeInvalidMessageData):
		var e *Error
		if errors.As(err, &e) {
			for _, f := range e.Fields() {
				if f == "templateId" || f == "templateValues" {
					return TemplateBadValues
				}
			}
		}
	}
	return TemplateNone
}

// SendTemplate sends a WABA template: r.TemplateID (a templateGuid) with
// r.TemplateValues in the template's variable order (Template.Variables of
// them), no text and no file; chatType stays whatsapp on a wapi channel.
// An empty value is refused here, as Wazzup would. What Wazzup refuses
// because of the template comes back as *TemplateError wrapping the
// *Error; everything else as Send returns it.
func (c *Client) SendTemplate(ctx context.Context, r SendRequest) (SendResult, error) {
	if strings.TrimSpace(r.TemplateID) == "" || r.Text != "" || r.ContentURI != "" {
		return SendResult{}, &TemplateError{Kind: TemplateBadRequest}
	}
	for _, v := range r.TemplateValues {
		if strings.TrimSpace(v) == "" {
			return SendResult{}, &TemplateError{Kind: TemplateBadRequest}
		}
	}
	res, err := c.Send(ctx, r)
	if err == nil {
		return res, nil
	}
	if k := TemplateKindOf(err); k != TemplateNone {
		return SendResult{}, &TemplateError{Kind: k, Err: err}
	}
	return SendResult{}, err
}

// TemplateStatus is the body of a templateStatus webhook: a template's
// moderation changed.
type TemplateStatus struct {
	TemplateGUID string
	Name         string
	Status       string // compare case-insensitively
}

// ParseTemplateStatus reads Webhook.TemplateStatus; nil when absent. A
// status without templateGuid is an error.
func ParseTemplateStatus(raw json.RawMessage) (*TemplateStatus, error) {
	if rawOrNil(raw) == nil {
		return nil, nil
	}
	var w struct {
		TemplateGUID flexString `json:"templateGuid"`
		GUID         flexString `json:"guid"`
		Name         flexString `json:"name"`
		Status       flexString `json:"status"`
	}
	if err := decodeObject(raw, &w); err != nil {
		return nil, err
	}
	ts := &TemplateStatus{TemplateGUID: firstNonEmpty(string(w.TemplateGUID), string(w.GUID)), Name: string(w.Name), Status: string(w.Status)}
	if ts.TemplateGUID == "" {
		return nil, errors.New("missing templateGuid")
	}
	return ts, nil
}

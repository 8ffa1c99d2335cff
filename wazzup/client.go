package wazzup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// DefaultTimeout bounds a request when NewClient is given no http.Client.
const DefaultTimeout = 30 * time.Second

// MaxEntities is the most users, contacts or deals one request may carry;
// more is refused with TOO_MANY_ENTITIES.
const MaxEntities = 100

// maxAnswer bounds what is read of an answer; Wazzup's answers are small and
// a runaway body must not exhaust memory.
const maxAnswer = 8 << 20

// ErrUnreadableAnswer wraps a success (2xx) whose body could not be read as
// documented. Temporary reports it as temporary: for a send it means Wazzup
// accepted the message, and the caller's retry with the same crmMessageId
// comes back as a duplicate, which is the truth.
var ErrUnreadableAnswer = errors.New("the success answer is not in the documented shape")

// Client calls the Wazzup API v3 with one API key. It is safe for concurrent
// use. It never retries: see Temporary and IsDuplicate.
type Client struct {
	base   string
	apiKey string
	hc     *http.Client
}

// NewClient returns a client for the API at baseURL (https://api.wazzup24.com;
// the /v3/... paths are appended) using apiKey as the Bearer token. hc carries
// the timeouts; nil means a client with DefaultTimeout.
func NewClient(baseURL, apiKey string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), apiKey: apiKey, hc: hc}
}

// Channel is one channel of the account (GET /v3/channels).
type Channel struct {
	ChannelID string // uuid v4
	Transport string // whatsapp, wapi, instagram, tgapi, telegram, vk, avito, viber, max, maxbot
	PlainID   string // phone number, username or id in the messenger
	State     string // active, init, disabled, qr, ...; see ActiveState
	Name      string // name given in Wazzup (seen live, not documented)
}

// Channels lists the account's channels.
func (c *Client) Channels(ctx context.Context) ([]Channel, error) {
	var wire []struct {
		ChannelID flexString `json:"channelId"`
		Transport flexString `json:"transport"`
		PlainID   flexString `json:"plainId"`
		State     flexString `json:"state"`
		Name      flexString `json:"name"`
	}
	if err := c.do(ctx, http.MethodGet, "/v3/channels", nil, &wire); err != nil {
		return nil, err
	}
	out := make([]Channel, 0, len(wire))
	for _, w := range wire {
		out = append(out, Channel{
			ChannelID: string(w.ChannelID), Transport: string(w.Transport),
			PlainID: string(w.PlainID), State: string(w.State), Name: string(w.Name),
		})
	}
	return out, nil
}

// Subscriptions are the webhook switches of the account.
type Subscriptions struct {
	MessagesAndStatuses      bool // messages (incoming and echoes) and statuses
	ContactsAndDealsCreation bool // createContact / createDeal requests
	ChannelsUpdates          bool // channel state changes
	TemplateStatus           bool // WABA template moderation
}

// SetWebhooks points the account's webhooks at uri with the given switches.
// Wazzup POSTs {"test":true} to uri before answering and refuses the change
// (400 testPostNotPassed) unless that POST is answered 200, so the receiver
// must be up first. An invalid or over-long uri is refused with uriNotValid.
func (c *Client) SetWebhooks(ctx context.Context, uri string, s Subscriptions) error {
	body := struct {
		WebhooksURI   string `json:"webhooksUri"`
		Subscriptions struct {
			MessagesAndStatuses      bool `json:"messagesAndStatuses"`
			ContactsAndDealsCreation bool `json:"contactsAndDealsCreation"`
			ChannelsUpdates          bool `json:"channelsUpdates"`
			TemplateStatus           bool `json:"templateStatus"`
		} `json:"subscriptions"`
	}{WebhooksURI: uri}
	body.Subscriptions.MessagesAndStatuses = s.MessagesAndStatuses
	body.Subscriptions.ContactsAndDealsCreation = s.ContactsAndDealsCreation
	body.Subscriptions.ChannelsUpdates = s.ChannelsUpdates
	body.Subscriptions.TemplateStatus = s.TemplateStatus
	return c.do(ctx, http.MethodPatch, "/v3/webhooks", body, nil)
}

// Webhooks reads the account's webhook address and switches. The switches
// are read as booleans or "true" strings, and the template switch under its
// documented name (templateStatus) or the one live accounts answer
// (wabaTemplatesStatus).
func (c *Client) Webhooks(ctx context.Context) (uri string, s Subscriptions, err error) {
	var wire struct {
		WebhooksURI   flexString `json:"webhooksUri"`
		Subscriptions struct {
			MessagesAndStatuses      flexBool `json:"messagesAndStatuses"`
			ContactsAndDealsCreation flexBool `json:"contactsAndDealsCreation"`
			ChannelsUpdates          flexBool `json:"channelsUpdates"`
			TemplateStatus           flexBool `json:"templateStatus"`
			TemplateStatusTypo       flexBool `json:"tepmplateStatus"`
			WabaTemplatesStatus      flexBool `json:"wabaTemplatesStatus"`
		} `json:"subscriptions"`
	}
	if err := c.do(ctx, http.MethodGet, "/v3/webhooks", nil, &wire); err != nil {
		return "", Subscriptions{}, err
	}
	w := wire.Subscriptions
	return string(wire.WebhooksURI), Subscriptions{
		MessagesAndStatuses:      bool(w.MessagesAndStatuses),
		ContactsAndDealsCreation: bool(w.ContactsAndDealsCreation),
		ChannelsUpdates:          bool(w.ChannelsUpdates),
		TemplateStatus:           bool(w.TemplateStatus || w.TemplateStatusTypo || w.WabaTemplatesStatus),
	}, nil
}

// SendRequest is one message to send (POST /v3/message). ChannelID and
// ChatType are required; ChatID, or for Telegram Username/Phone, names the
// chat; exactly one of Text and ContentURI is the content.
type SendRequest struct {
	ChannelID    string
	ChatType     string
	ChatID       string
	Text         string
	ContentURI   string // must download without redirects, at once
	RefMessageID string // Wazzup messageId of the message to quote
	CrmUserID    string // author shown in Wazzup; ignored with a sidecar key
	// CrmMessageID is the idempotency key: Wazzup refuses a repeat within
	// 60 s with REPEATED_CRM_MESSAGE_ID (see IsDuplicate).
	CrmMessageID string
	Username     string // Telegram only, without @, when ChatID is unknown
	Phone        string // Telegram and MAX only, digits, when ChatID is unknown
	// ClearUnanswered nil leaves Wazzup's default (an outgoing message resets
	// the unanswered counter); false keeps the counter for automated replies.
	ClearUnanswered *bool
	// TemplateID is a WABA template's templateGuid (then no Text nor
	// ContentURI), TemplateValues its variables in order; see SendTemplate.
	TemplateID     string
	TemplateValues []string
}

// SendResult is Wazzup's answer to an accepted send.
type SendResult struct {
	MessageID string // Wazzup's id of the new message; echoes and statuses carry it
	ChatID    string // the chat, also when it was addressed by username or phone
}

// Send sends one message. Success is 201 {messageId, chatId}.
func (c *Client) Send(ctx context.Context, r SendRequest) (SendResult, error) {
	body := struct {
		ChannelID       string   `json:"channelId"`
		ChatType        string   `json:"chatType"`
		ChatID          string   `json:"chatId,omitempty"`
		Text            string   `json:"text,omitempty"`
		ContentURI      string   `json:"contentUri,omitempty"`
		RefMessageID    string   `json:"refMessageId,omitempty"`
		CrmUserID       string   `json:"crmUserId,omitempty"`
		CrmMessageID    string   `json:"crmMessageId,omitempty"`
		Username        string   `json:"username,omitempty"`
		Phone           string   `json:"phone,omitempty"`
		ClearUnanswered *bool    `json:"clearUnanswered,omitempty"`
		TemplateID      string   `json:"templateId,omitempty"`
		TemplateValues  []string `json:"templateValues,omitempty"`
	}{r.ChannelID, r.ChatType, r.ChatID, r.Text, r.ContentURI, r.RefMessageID,
		r.CrmUserID, r.CrmMessageID, r.Username, r.Phone, r.ClearUnanswered, r.TemplateID, r.TemplateValues}
	var wire struct {
		MessageID flexString `json:"messageId"`
		ChatID    flexString `json:"chatId"`
	}
	if err := c.do(ctx, http.MethodPost, "/v3/message", body, &wire); err != nil {
		return SendResult{}, err
	}
	if wire.MessageID == "" {
		return SendResult{}, fmt.Errorf("wazzup POST /v3/message: %w: no messageId", ErrUnreadableAnswer)
	}
	return SendResult{MessageID: string(wire.MessageID), ChatID: string(wire.ChatID)}, nil
}

// User is an employee as Wazzup knows it (POST /v3/users, upsert by ID).
type User struct {
	ID    string // ≤200 chars, the CRM's id
	Name  string // ≤200 chars
	Phone string // optional, digits; Wazzup silently drops a malformed one
}

// UpsertUsers adds or updates users, MaxEntities per request. A refused
// request fails all of its items; the error says which chunk.
func (c *Client) UpsertUsers(ctx context.Context, users []User) error {
	type wireUser struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Phone string `json:"phone,omitempty"`
	}
	items := make([]wireUser, len(users))
	for i, u := range users {
		items[i] = wireUser{u.ID, u.Name, u.Phone}
	}
	return upsertChunks(ctx, c, "/v3/users", items)
}

// ContactData is one chat of a contact.
type ContactData struct {
	ChatType string `json:"chatType"`
	ChatID   string `json:"chatId"`
	Username string `json:"username,omitempty"` // Telegram only
	Phone    string `json:"phone,omitempty"`    // Telegram and MAX only
}

// Contact is a CRM client as Wazzup knows it (POST /v3/contacts, upsert by ID).
type Contact struct {
	ID                string
	ResponsibleUserID string
	Name              string
	ContactData       []ContactData
	URI               string // link to the contact in the CRM, optional
}

// UpsertContacts adds or updates contacts, MaxEntities per request.
func (c *Client) UpsertContacts(ctx context.Context, contacts []Contact) error {
	type wireContact struct {
		ID                string        `json:"id"`
		ResponsibleUserID string        `json:"responsibleUserId"`
		Name              string        `json:"name"`
		ContactData       []ContactData `json:"contactData"`
		URI               string        `json:"uri,omitempty"`
	}
	items := make([]wireContact, len(contacts))
	for i, ct := range contacts {
		data := ct.ContactData
		if data == nil {
			data = []ContactData{} // required: send [] rather than null
		}
		items[i] = wireContact{ct.ID, ct.ResponsibleUserID, ct.Name, data, ct.URI}
	}
	return upsertChunks(ctx, c, "/v3/contacts", items)
}

// Deal is a CRM deal as Wazzup knows it (POST /v3/deals, upsert by ID).
type Deal struct {
	ID                string
	ResponsibleUserID string
	Name              string
	URI               string   // link to the deal in the CRM, required
	Contacts          []string // contact ids
	Closed            bool
}

// UpsertDeals adds or updates deals, MaxEntities per request.
func (c *Client) UpsertDeals(ctx context.Context, deals []Deal) error {
	type wireDeal struct {
		ID                string   `json:"id"`
		ResponsibleUserID string   `json:"responsibleUserId"`
		Name              string   `json:"name"`
		URI               string   `json:"uri"`
		Contacts          []string `json:"contacts"`
		Closed            bool     `json:"closed"`
	}
	items := make([]wireDeal, len(deals))
	for i, d := range deals {
		contacts := d.Contacts
		if contacts == nil {
			contacts = []string{}
		}
		items[i] = wireDeal{d.ID, d.ResponsibleUserID, d.Name, d.URI, contacts, d.Closed}
	}
	return upsertChunks(ctx, c, "/v3/deals", items)
}

// upsertChunks POSTs items in requests of at most MaxEntities, stopping at
// the first failure. Upserts are idempotent, so the caller may simply retry
// the whole list.
func upsertChunks[T any](ctx context.Context, c *Client, path string, items []T) error {
	for start := 0; start < len(items); start += MaxEntities {
		end := min(start+MaxEntities, len(items))
		if err := c.do(ctx, http.MethodPost, path, items[start:end], nil); err != nil {
			if len(items) > MaxEntities {
				return fmt.Errorf("items %d..%d of %d: %w", start, end-1, len(items), err)
			}
			return err
		}
	}
	return nil
}

// do performs one request: JSON in, JSON out. A non-2xx answer, or a 2xx one
// carrying an "error" key (Wazzup does that on some routes), becomes *Error.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	op := method + " " + path
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("wazzup %s: encode request: %w", op, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("wazzup %s: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("wazzup %s: %w", op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("wazzup %s: read answer: %w", op, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 || carriesError(raw) {
		return parseError(op, resp.StatusCode, raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("wazzup %s: %w (%d): %v", op, ErrUnreadableAnswer, resp.StatusCode, err)
	}
	return nil
}

// carriesError reports whether a success body is an object with a non-empty
// "error" member.
func carriesError(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return false
	}
	var probe struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return false
	}
	e := string(bytes.TrimSpace(probe.Error))
	return e != "" && e != "null" && e != `""` && e != "false"
}

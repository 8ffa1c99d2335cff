package wazzup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Webhook is one POST Wazzup made to relay24's webhook address. One body may
// carry messages and statuses together; createContact, createDeal,
// channelsUpdates and templateStatus come alone (channels.md §1.7).
type Webhook struct {
	Test            bool // {"test": true}: the probe of PATCH /v3/webhooks, answer 200
	Messages        []Message
	Statuses        []Status
	ChannelsUpdates []ChannelUpdate
	CreateContact   *CreateContact
	CreateDeal      *CreateDeal
	TemplateStatus  json.RawMessage // {templateGuid, name, status}, verbatim
	Template        *TemplateStatus // TemplateStatus read, nil when absent
	// Unknown lists top-level keys this package does not know, sorted. The
	// caller stores the body and ignores them.
	Unknown []string
}

// Message is one item of "messages": a client's message (IsEcho false,
// Status "inbound") or an outgoing one echoed back (IsEcho true), sent from
// the API, the Wazzup chat (SentFromApp) or the phone; edits and deletions
// come as messages too (IsEdited, IsDeleted, OldText).
type Message struct {
	MessageID     string // Wazzup's uuid; deduplicate by it
	ChannelID     string
	ChatType      string // whatsapp, whatsgroup, instagram, telegram, telegroup, vk, avito, viber, max, maxgroup
	ChatID        string
	DateTime      time.Time // zero when absent or unreadable
	Type          string    // text, image, audio, video, document, vcard, geo, wapi_template, unsupported, missing_call, system, unknown, or as given
	IsEcho        bool
	Contact       MessageContact
	Text          string
	ContentURI    string
	Status        string // sent, delivered, read, error, inbound
	Error         *MessageError
	AuthorName    string // only on echoes
	AuthorID      string // crmUserId of the author, on echoes of API sends
	SentFromApp   bool
	IsEdited      bool
	IsDeleted     bool
	OldText       string          // oldInfo.oldText of an edit or deletion
	InstPost      json.RawMessage // Instagram post a comment belongs to, verbatim
	QuotedMessage json.RawMessage // structure undocumented, verbatim
	Raw           json.RawMessage // the whole item, verbatim
}

// MessageContact is the "contact" object of a message.
type MessageContact struct {
	Name      string // for WhatsApp may be the number itself
	AvatarURI string
	Username  string // Telegram only, without @
	Phone     string // Telegram and MAX only
}

// Status is one item of "statuses": a change of an outgoing message.
type Status struct {
	MessageID string
	Timestamp time.Time // zero when absent or unreadable
	Status    string    // sent, delivered, read, error, edited
	Error     *MessageError
}

// MessageError says why a message failed (status "error").
type MessageError struct {
	Error       string // BAD_CONTACT, 24_HOURS_EXCEEDED, 7_DAYS_EXCEEDED, TOO_LONG_TEXT, SPAM, ...; see IsWindowClosed
	Description string
}

// ChannelUpdate is one item of "channelsUpdates".
type ChannelUpdate struct {
	ChannelID string
	State     string // compare case-insensitively; see ActiveState
	Tier      string // WABA only: TIER_0, TIER_1K, ...
	QR        string // data: URI of the QR code, with state qr only
	Timestamp time.Time
}

// CreateContact asks the CRM to create a contact and answer 200 with it, in
// the shape of POST /v3/contacts items, within 30 s.
type CreateContact struct {
	ResponsibleUserID string
	Name              string
	Source            string // auto or byUser
	ContactData       []ContactData
}

// CreateDeal asks the CRM to create a deal and answer 200 with it.
type CreateDeal struct {
	ResponsibleUserID string
	Source            string
	Contacts          []string
}

// Wire forms, lenient about types (see flex.go).
type (
	wireMessage struct {
		MessageID  flexString      `json:"messageId"`
		ChannelID  flexString      `json:"channelId"`
		ChatType   flexString      `json:"chatType"`
		ChatID     flexString      `json:"chatId"`
		DateTime   flexTime        `json:"dateTime"`
		Type       flexString      `json:"type"`
		IsEcho     flexBool        `json:"isEcho"`
		Contact    *wireContact    `json:"contact"`
		Text       flexString      `json:"text"`
		ContentURI flexString      `json:"contentUri"`
		Status     flexString      `json:"status"`
		Error      *wireMsgError   `json:"error"`
		AuthorName flexString      `json:"authorName"`
		AuthorID   flexString      `json:"authorId"`
		InstPost   json.RawMessage `json:"instPost"`
		Quoted     json.RawMessage `json:"quotedMessage"`
		FromApp    flexBool        `json:"sentFromApp"`
		IsEdited   flexBool        `json:"isEdited"`
		IsDeleted  flexBool        `json:"isDeleted"`
		OldInfo    *struct {
			OldText flexString `json:"oldText"`
		} `json:"oldInfo"`
	}
	wireContact struct {
		Name      flexString `json:"name"`
		AvatarURI flexString `json:"avatarUri"`
		Username  flexString `json:"username"`
		Phone     flexString `json:"phone"`
	}
	wireStatus struct {
		MessageID flexString    `json:"messageId"`
		Timestamp flexTime      `json:"timestamp"`
		Status    flexString    `json:"status"`
		Error     *wireMsgError `json:"error"`
	}
	wireChannelUpdate struct {
		ChannelID flexString `json:"channelId"`
		State     flexString `json:"state"`
		Tier      flexString `json:"tier"`
		QR        flexString `json:"qr"`
		Timestamp flexTime   `json:"timestamp"`
	}
	wireContactData struct {
		ChatType flexString `json:"chatType"`
		ChatID   flexString `json:"chatId"`
		Username flexString `json:"username"`
		Phone    flexString `json:"phone"`
	}
	wireCreateContact struct {
		ResponsibleUserID flexString        `json:"responsibleUserId"`
		Name              flexString        `json:"name"`
		Source            flexString        `json:"source"`
		ContactData       []wireContactData `json:"contactData"`
	}
	wireCreateDeal struct {
		ResponsibleUserID flexString   `json:"responsibleUserId"`
		Source            flexString   `json:"source"`
		Contacts          []flexString `json:"contacts"`
	}
)

// wireMsgError reads {error, description} and, leniently, a bare code string.
type wireMsgError MessageError

func (e *wireMsgError) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] != '{' {
		var code flexString
		if err := json.Unmarshal(b, &code); err != nil {
			return err
		}
		*e = wireMsgError{Error: string(code)}
		return nil
	}
	var w struct {
		Error       flexString `json:"error"`
		Code        flexString `json:"code"`
		Description flexString `json:"description"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*e = wireMsgError{Error: firstNonEmpty(string(w.Error), string(w.Code)), Description: string(w.Description)}
	return nil
}

func (e *wireMsgError) get() *MessageError {
	if e == nil {
		return nil
	}
	m := MessageError(*e)
	return &m
}

// ParseWebhook reads a webhook body. It fails on malformed JSON, on a body
// that is not an object, on a known key holding the wrong kind of value, and
// on a message without messageId, channelId or chatId, a status without
// messageId or a channel update without channelId (the error names it).
// Unknown message types and unknown keys are kept, not refused.
func ParseWebhook(body []byte) (*Webhook, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, fmt.Errorf("wazzup webhook: the body is %s, not a JSON object", kindOf(body))
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, fmt.Errorf("wazzup webhook: %w", err)
	}
	w := &Webhook{}
	for key, raw := range top {
		var err error
		switch key {
		case "test":
			var v flexBool
			err = json.Unmarshal(raw, &v)
			w.Test = bool(v)
		case "messages":
			w.Messages, err = parseList(raw, parseMessage)
		case "statuses":
			w.Statuses, err = parseList(raw, parseStatus)
		case "channelsUpdates":
			w.ChannelsUpdates, err = parseList(raw, parseChannelUpdate)
		case "createContact":
			w.CreateContact, err = parseCreateContact(raw)
		case "createDeal":
			w.CreateDeal, err = parseCreateDeal(raw)
		case "templateStatus":
			if r := rawOrNil(raw); r != nil && r[0] != '{' {
				err = fmt.Errorf("want an object, got %s", kindOf(r))
			} else {
				w.TemplateStatus = r
				w.Template, err = ParseTemplateStatus(r)
			}
		default:
			w.Unknown = append(w.Unknown, key)
		}
		if err != nil {
			return nil, fmt.Errorf("wazzup webhook: %s: %w", key, err)
		}
	}
	sort.Strings(w.Unknown)
	return w, nil
}

// parseList decodes an array (null = empty) item by item, so that an error
// names the index.
func parseList[T any](raw json.RawMessage, one func(json.RawMessage) (T, error)) ([]T, error) {
	raw = rawOrNil(raw)
	if raw == nil {
		return nil, nil
	}
	if raw[0] != '[' {
		return nil, fmt.Errorf("want an array, got %s", kindOf(raw))
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, err
	}
	out := make([]T, 0, len(items))
	for i, it := range items {
		v, err := one(it)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// decodeObject refuses anything but an object before decoding into v.
func decodeObject(raw json.RawMessage, v any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return fmt.Errorf("want an object, got %s", kindOf(raw))
	}
	return json.Unmarshal(raw, v)
}

func parseMessage(raw json.RawMessage) (Message, error) {
	var w wireMessage
	if err := decodeObject(raw, &w); err != nil {
		return Message{}, err
	}
	switch {
	case w.MessageID == "":
		return Message{}, errors.New("missing messageId")
	case w.ChannelID == "":
		return Message{}, fmt.Errorf("message %s: missing channelId", w.MessageID)
	case w.ChatID == "":
		return Message{}, fmt.Errorf("message %s: missing chatId", w.MessageID)
	}
	m := Message{
		MessageID: string(w.MessageID), ChannelID: string(w.ChannelID),
		ChatType: string(w.ChatType), ChatID: string(w.ChatID),
		DateTime: time.Time(w.DateTime), Type: string(w.Type), IsEcho: bool(w.IsEcho),
		Text: string(w.Text), ContentURI: string(w.ContentURI), Status: string(w.Status),
		Error: w.Error.get(), AuthorName: string(w.AuthorName), AuthorID: string(w.AuthorID),
		SentFromApp: bool(w.FromApp), IsEdited: bool(w.IsEdited), IsDeleted: bool(w.IsDeleted),
		InstPost: rawOrNil(w.InstPost), QuotedMessage: rawOrNil(w.Quoted),
		Raw: rawOrNil(raw),
	}
	if w.Contact != nil {
		m.Contact = MessageContact{
			Name: string(w.Contact.Name), AvatarURI: string(w.Contact.AvatarURI),
			Username: string(w.Contact.Username), Phone: string(w.Contact.Phone),
		}
	}
	if w.OldInfo != nil {
		m.OldText = string(w.OldInfo.OldText)
	}
	return m, nil
}

func parseStatus(raw json.RawMessage) (Status, error) {
	var w wireStatus
	if err := decodeObject(raw, &w); err != nil {
		return Status{}, err
	}
	if w.MessageID == "" {
		return Status{}, errors.New("missing messageId")
	}
	return Status{
		MessageID: string(w.MessageID), Timestamp: time.Time(w.Timestamp),
		Status: string(w.Status), Error: w.Error.get(),
	}, nil
}

func parseChannelUpdate(raw json.RawMessage) (ChannelUpdate, error) {
	var w wireChannelUpdate
	if err := decodeObject(raw, &w); err != nil {
		return ChannelUpdate{}, err
	}
	if w.ChannelID == "" {
		return ChannelUpdate{}, errors.New("missing channelId")
	}
	return ChannelUpdate{
		ChannelID: string(w.ChannelID), State: string(w.State), Tier: string(w.Tier),
		QR: string(w.QR), Timestamp: time.Time(w.Timestamp),
	}, nil
}

func parseCreateContact(raw json.RawMessage) (*CreateContact, error) {
	if rawOrNil(raw) == nil {
		return nil, nil
	}
	var w wireCreateContact
	if err := decodeObject(raw, &w); err != nil {
		return nil, err
	}
	c := &CreateContact{
		ResponsibleUserID: string(w.ResponsibleUserID), Name: string(w.Name), Source: string(w.Source),
	}
	for _, d := range w.ContactData {
		c.ContactData = append(c.ContactData, ContactData{
			ChatType: string(d.ChatType), ChatID: string(d.ChatID),
			Username: string(d.Username), Phone: string(d.Phone),
		})
	}
	return c, nil
}

func parseCreateDeal(raw json.RawMessage) (*CreateDeal, error) {
	if rawOrNil(raw) == nil {
		return nil, nil
	}
	var w wireCreateDeal
	if err := decodeObject(raw, &w); err != nil {
		return nil, err
	}
	d := &CreateDeal{ResponsibleUserID: string(w.ResponsibleUserID), Source: string(w.Source)}
	for _, c := range w.Contacts {
		d.Contacts = append(d.Contacts, string(c))
	}
	return d, nil
}

package wztest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Account is one Wazzup account: channels, webhook settings, messages, and
// the CRM entities uploaded to it. Its state is guarded by the server's mutex.
type Account struct {
	s *Server

	channels   []*Channel
	webhookURI string
	subs       subscriptions
	autoStatus bool
	fault      *Fault
	faultLeft  int

	sent       []SentMessage
	crmIDs     map[string]time.Time // crmMessageId → when it was accepted (or reserved)
	messages   map[string]*message  // every message by messageId
	chats      map[chatKey]*chat
	deliveries []Delivery

	users     map[string]User
	contacts  map[string]Contact
	deals     map[string]Deal
	pipelines json.RawMessage
	nextTgID  int64 // chat ids handed out for Telegram sends by username/phone
	templates []*Template
}

// Channel is a channel of the account, as GET /v3/channels lists it.
type Channel struct {
	ChannelID string
	Transport string
	PlainID   string
	State     string
	Name      string
}

type subscriptions struct {
	MessagesAndStatuses      bool
	ContactsAndDealsCreation bool
	ChannelsUpdates          bool
	TemplateStatus           bool
}

// message is what the emulator remembers of every message, in or out.
type message struct {
	id, channelID, chatType, chatID string
	text, contentURI, typ           string
	echo                            bool
	authorID                        string
}

type chatKey struct{ channelID, chatType, chatID string }

// chat is a dialog: who the client is and whether they wait for an answer.
type chat struct {
	name, username, phone string
	unanswered            bool
	lastInbound           time.Time
}

// SentMessage is one accepted POST /v3/message.
type SentMessage struct {
	MessageID string
	ChatID    string // as answered: the given one or the one found by username/phone
	Request   SendBody
	Raw       json.RawMessage // the request body, verbatim
	Time      time.Time
	// File is what was downloaded from contentUri, nil for a text (or when
	// SetFetchContent(false)): tests assert the bytes relay24 served.
	File *File
	// WindowError is the code the send failed with afterwards because the
	// chat's window was closed (24_HOURS_EXCEEDED, 7_DAYS_EXCEEDED), or "".
	WindowError string
}

// File is a file the emulator downloaded from a contentUri.
type File struct {
	Name  string // Content-Disposition filename, else the URL's last path segment, else "file"
	Type  string // the Content-Type answered, else sniffed from the bytes
	Bytes []byte
}

// SendBody is the decoded body of POST /v3/message.
type SendBody struct {
	ChannelID       string          `json:"channelId"`
	ChatType        string          `json:"chatType"`
	ChatID          string          `json:"chatId,omitempty"`
	Text            string          `json:"text,omitempty"`
	ContentURI      string          `json:"contentUri,omitempty"`
	RefMessageID    string          `json:"refMessageId,omitempty"`
	CrmUserID       string          `json:"crmUserId,omitempty"`
	CrmMessageID    string          `json:"crmMessageId,omitempty"`
	Username        string          `json:"username,omitempty"`
	Phone           string          `json:"phone,omitempty"`
	ClearUnanswered *bool           `json:"clearUnanswered,omitempty"`
	TemplateID      string          `json:"templateId,omitempty"`
	TemplateValues  []string        `json:"templateValues,omitempty"`
	ButtonsObject   json.RawMessage `json:"buttonsObject,omitempty"`
}

// Delivery is one webhook POST the emulator made to relay24.
type Delivery struct {
	URL      string
	Body     []byte
	Header   http.Header // the request headers sent
	Attempt  int         // 1 for the first try of a payload
	Status   int         // the answer's status; 0 when none came
	Err      string      // transport error or timeout, when no answer came
	Response []byte      // the answer's body (createContact/createDeal expect one)
	Time     time.Time
}

// Fault makes the next API requests of the account fail.
type Fault struct {
	Status int           // answer this status; 0 only delays, then serves normally
	Body   string        // answer body, verbatim (e.g. `{"error":"UNKNOWN_ERROR"}`); may be empty
	Count  int           // how many requests; 0 means 1, negative means until SetFault(nil)
	Path   string        // only requests whose path starts with it, e.g. "/v3/message"; "" = all
	Delay  time.Duration // wait this long first (to provoke client timeouts)
	// Hold, when set, keeps the request waiting until it is closed (before
	// Delay): a test decides what happens while a send is on its way.
	Hold <-chan struct{}
}

// User, Contact, ContactData and Deal are what the CRM routes received.
type (
	User struct {
		ID, Name, Phone string
	}
	ContactData struct {
		ChatType, ChatID, Username, Phone string
	}
	Contact struct {
		ID, ResponsibleUserID, Name string
		ContactData                 []ContactData
		URI                         string
	}
	Deal struct {
		ID, ResponsibleUserID, Name, URI string
		Contacts                         []string
		Closed                           bool
	}
)

// ErrNoWebhook means no webhooksUri is registered, or the subscription the
// payload needs is off, so nothing was POSTed.
var ErrNoWebhook = errors.New("wztest: no webhook subscribed for this payload")

// ErrUnknownChannel is returned for a channelId the account does not have.
var ErrUnknownChannel = errors.New("wztest: unknown channel")

func newAccount(s *Server) *Account {
	return &Account{
		s:          s,
		autoStatus: true,
		crmIDs:     map[string]time.Time{},
		messages:   map[string]*message{},
		chats:      map[chatKey]*chat{},
		users:      map[string]User{},
		contacts:   map[string]Contact{},
		deals:      map[string]Deal{},
		nextTgID:   5000000000,
	}
}

// AddKey lets one more API key open the account (e.g. a sidecar key next to
// the full one; see Server.SetRestricted). A key already in use is ignored.
func (a *Account) AddKey(apiKey string) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	if a.s.keys[apiKey] == nil {
		a.s.keys[apiKey] = &keyState{account: a}
	}
}

// AddChannel adds an active channel with a new uuid v4 channelId.
func (a *Account) AddChannel(transport, plainID, name string) Channel {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	ch := &Channel{ChannelID: newUUID(), Transport: transport, PlainID: plainID, State: "active", Name: name}
	a.channels = append(a.channels, ch)
	return *ch
}

// AddChannelWithID adds an active channel with a given channelId (a demo
// that restarts keeps its channels, and their dialogs, instead of new ones).
func (a *Account) AddChannelWithID(channelID, transport, plainID, name string) Channel {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	ch := &Channel{ChannelID: channelID, Transport: transport, PlainID: plainID, State: "active", Name: name}
	a.channels = append(a.channels, ch)
	return *ch
}

// Channels lists the account's channels.
func (a *Account) Channels() []Channel {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	out := make([]Channel, len(a.channels))
	for i, ch := range a.channels {
		out[i] = *ch
	}
	return out
}

// channel finds a channel; the caller holds the lock.
func (a *Account) channel(id string) *Channel {
	for _, ch := range a.channels {
		if ch.ChannelID == id {
			return ch
		}
	}
	return nil
}

// SetChannelState changes a channel's state and, with channelsUpdates on,
// POSTs {"channelsUpdates":[{channelId, state, timestamp(ms), qr?}]}. qr is
// sent only with the states qr and qridle. A missing subscription is not an
// error: the state still changes.
func (a *Account) SetChannelState(ctx context.Context, channelID, state, qr string) error {
	a.s.mu.Lock()
	ch := a.channel(channelID)
	if ch == nil {
		a.s.mu.Unlock()
		return fmt.Errorf("%w %s", ErrUnknownChannel, channelID)
	}
	ch.State = state
	now := a.s.clock()
	subscribed := a.webhookURI != "" && a.subs.ChannelsUpdates
	a.s.mu.Unlock()
	if !subscribed {
		return nil
	}
	type update struct {
		ChannelID string `json:"channelId"`
		State     string `json:"state"`
		Timestamp int64  `json:"timestamp"`
		QR        string `json:"qr,omitempty"`
	}
	u := update{ChannelID: channelID, State: state, Timestamp: now.UnixMilli()}
	if strings.EqualFold(state, "qr") || strings.EqualFold(state, "qridle") {
		u.QR = qr
	}
	body, _ := json.Marshal(map[string]any{"channelsUpdates": []update{u}})
	_, err := a.deliver(ctx, body, true)
	return err
}

// SetAutoStatuses turns the automatic echo and statuses after each accepted
// send on (the default) or off.
func (a *Account) SetAutoStatuses(on bool) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.autoStatus = on
}

// SetFault makes the next API requests fail (nil clears it).
func (a *Account) SetFault(f *Fault) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	if f == nil {
		a.fault = nil
		return
	}
	c := *f
	a.fault = &c
	a.faultLeft = c.Count
	if a.faultLeft == 0 {
		a.faultLeft = 1
	}
}

// takeFault consumes the fault for a request path; the caller holds the lock.
func (a *Account) takeFault(path string) *Fault {
	f := a.fault
	if f == nil || !strings.HasPrefix(path, f.Path) {
		return nil
	}
	if a.faultLeft > 0 {
		a.faultLeft--
		if a.faultLeft == 0 {
			a.fault = nil
		}
	}
	return f
}

// Webhook returns the registered webhooksUri ("" when none).
func (a *Account) Webhook() string {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	return a.webhookURI
}

// Sent lists every accepted POST /v3/message, oldest first.
func (a *Account) Sent() []SentMessage {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	return append([]SentMessage(nil), a.sent...)
}

// Deliveries lists every webhook POST made to relay24, oldest first.
func (a *Account) Deliveries() []Delivery {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	return append([]Delivery(nil), a.deliveries...)
}

// Users lists what POST /v3/users stored, by id.
func (a *Account) Users() []User {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	return sortedValues(a.users, func(u User) string { return u.ID })
}

// Contacts lists what POST /v3/contacts stored, by id.
func (a *Account) Contacts() []Contact {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	return sortedValues(a.contacts, func(c Contact) string { return c.ID })
}

// Deals lists what POST /v3/deals stored, by id.
func (a *Account) Deals() []Deal {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	return sortedValues(a.deals, func(d Deal) string { return d.ID })
}

// Pipelines returns the last POST /v3/pipelines body as stored, or nil.
func (a *Account) Pipelines() json.RawMessage {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	return append(json.RawMessage(nil), a.pipelines...)
}

func sortedValues[T any](m map[string]T, key func(T) string) []T {
	out := make([]T, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return key(out[i]) < key(out[j]) })
	return out
}

// route dispatches an authenticated API request.
func (a *Account) route(w http.ResponseWriter, r *http.Request, restricted bool) {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/v3/"), "/"), "/")
	res, id := parts[0], ""
	if len(parts) == 2 {
		id = parts[1]
	} else if len(parts) > 2 {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	switch res {
	case "users", "contacts", "deals", "pipelines", "iframe", "unanswered":
		if restricted {
			forbidden(w)
			return
		}
	}
	m := r.Method
	switch {
	case res == "channels" && id == "" && m == http.MethodGet:
		a.getChannels(w)
	case res == "webhooks" && id == "" && m == http.MethodGet:
		a.getWebhooks(w)
	case res == "webhooks" && id == "" && m == http.MethodPatch:
		a.patchWebhooks(w, r)
	case res == "message" && id == "" && m == http.MethodPost:
		a.postMessage(w, r, restricted)
	case res == "message" && id != "" && m == http.MethodPatch:
		a.editMessage(w, r, id, restricted)
	case res == "message" && id != "" && m == http.MethodDelete:
		a.deleteMessage(w, r, id)
	case res == "users" && id == "" && m == http.MethodGet:
		a.listUsers(w)
	case res == "users" && id == "" && m == http.MethodPost:
		a.postUsers(w, r)
	case res == "users" && id != "" && m == http.MethodGet:
		a.getUser(w, id)
	case res == "contacts" && id == "" && m == http.MethodGet:
		a.listContacts(w, r)
	case res == "contacts" && id == "" && m == http.MethodPost:
		a.postContacts(w, r)
	case res == "contacts" && id == "bulk_delete" && m == http.MethodPatch:
		a.bulkDelete(w, r, a.contacts)
	case res == "contacts" && id != "" && m == http.MethodGet:
		a.getContact(w, id)
	case res == "contacts" && id != "" && m == http.MethodDelete:
		deleteOne(a, w, a.contacts, id)
	case res == "deals" && id == "" && m == http.MethodGet:
		a.listDeals(w, r)
	case res == "deals" && id == "" && m == http.MethodPost:
		a.postDeals(w, r)
	case res == "deals" && id == "bulk_delete" && m == http.MethodPatch:
		a.bulkDelete(w, r, a.deals)
	case res == "deals" && id != "" && m == http.MethodGet:
		a.getDeal(w, id)
	case res == "deals" && id != "" && m == http.MethodDelete:
		deleteOne(a, w, a.deals, id)
	case res == "pipelines" && id == "" && m == http.MethodGet:
		a.getPipelines(w)
	case res == "pipelines" && id == "" && m == http.MethodPost:
		a.postPipelines(w, r)
	case res == "templates" && id == "whatsapp" && m == http.MethodGet:
		a.listTemplates(w, r)
	case res == "iframe" && id == "" && m == http.MethodPost:
		a.postIframe(w, r)
	case res == "unanswered" && id != "" && m == http.MethodGet:
		a.getUnanswered(w, id)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func (a *Account) getChannels(w http.ResponseWriter) {
	type wire struct {
		ChannelID string `json:"channelId"`
		Transport string `json:"transport"`
		PlainID   string `json:"plainId"`
		State     string `json:"state"`
		Name      string `json:"name"`
	}
	a.s.mu.Lock()
	out := make([]wire, 0, len(a.channels))
	for _, ch := range a.channels {
		out = append(out, wire{ch.ChannelID, ch.Transport, ch.PlainID, ch.State, ch.Name})
	}
	a.s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

package wztest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// webhookContentType is what Wazzup documents for its webhook POSTs, typo
// included (channels.md §1.7).
const webhookContentType = "application/json; charset-utf-8"

// Webhook payload shapes (channels.md §1.8-§1.11). Optional members are
// omitted rather than sent empty.
type (
	whMessages struct {
		Messages []whMessage `json:"messages"`
	}
	whMessage struct {
		MessageID   string          `json:"messageId"`
		ChannelID   string          `json:"channelId"`
		ChatType    string          `json:"chatType"`
		ChatID      string          `json:"chatId"`
		DateTime    string          `json:"dateTime"`
		Type        string          `json:"type"`
		IsEcho      bool            `json:"isEcho"`
		Contact     *whContact      `json:"contact,omitempty"`
		Text        string          `json:"text,omitempty"`
		ContentURI  string          `json:"contentUri,omitempty"`
		Status      string          `json:"status"`
		Error       *whError        `json:"error,omitempty"`
		AuthorName  string          `json:"authorName,omitempty"`
		AuthorID    string          `json:"authorId,omitempty"`
		SentFromApp *bool           `json:"sentFromApp,omitempty"`
		IsEdited    bool            `json:"isEdited,omitempty"`
		IsDeleted   bool            `json:"isDeleted,omitempty"`
		OldInfo     *whOldInfo      `json:"oldInfo,omitempty"`
		InstPost    json.RawMessage `json:"instPost,omitempty"`
	}
	whContact struct {
		Name      string `json:"name,omitempty"`
		AvatarURI string `json:"avatarUri,omitempty"`
		Username  string `json:"username,omitempty"`
		Phone     string `json:"phone,omitempty"`
	}
	whError struct {
		Error       string `json:"error"`
		Description string `json:"description"`
	}
	whOldInfo struct {
		OldText       string `json:"oldText,omitempty"`
		OldAuthorID   string `json:"oldAuthorId,omitempty"`
		OldAuthorName string `json:"oldAuthorName,omitempty"`
	}
	whStatuses struct {
		Statuses []whStatus `json:"statuses"`
	}
	whStatus struct {
		MessageID string   `json:"messageId"`
		Timestamp string   `json:"timestamp"`
		Status    string   `json:"status"`
		Error     *whError `json:"error,omitempty"`
	}
)

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only the emulator's own types are marshalled here; they always encode.
		return []byte("{}")
	}
	return b
}

// Incoming is a message a client writes (ClientWrites).
type Incoming struct {
	Text        string
	ContentURI  string
	Type        string // default text, or derived from ContentURI
	ContactName string // shown name; for WhatsApp/Viber the number when empty
	Username    string // Telegram only, without @
	Phone       string // Telegram and MAX only
	DateTime    time.Time
	InstPost    json.RawMessage // an Instagram comment: the post it belongs to
}

// DeliveryError is returned when relay24 never answered a webhook POST 200.
type DeliveryError struct {
	Attempts int
	Status   int    // status of the last answer, 0 when none came
	Err      string // transport error of the last attempt
}

func (e *DeliveryError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("wztest: webhook not delivered after %d attempt(s): %s", e.Attempts, e.Err)
	}
	return fmt.Sprintf("wztest: webhook not delivered after %d attempt(s): answered %d", e.Attempts, e.Status)
}

// ClientWrites makes a client write into a chat of a channel and POSTs the
// message ({"messages":[{..., "isEcho":false, "status":"inbound"}]}) to the
// webhook. The message exists in the account whatever happens to the
// delivery; err is ErrNoWebhook when messagesAndStatuses is off, or a
// *DeliveryError when relay24 never answered 200.
func (a *Account) ClientWrites(ctx context.Context, channelID, chatType, chatID string, m Incoming) (string, error) {
	s := a.s
	s.mu.Lock()
	ch := a.channel(channelID)
	switch {
	case ch == nil:
		s.mu.Unlock()
		return "", fmt.Errorf("%w %s", ErrUnknownChannel, channelID)
	case !transportServes(ch.Transport, chatType):
		s.mu.Unlock()
		return "", fmt.Errorf("wztest: a %s channel has no %s chats", ch.Transport, chatType)
	case chatID == "":
		s.mu.Unlock()
		return "", fmt.Errorf("wztest: chatID is required")
	case (m.Text == "") == (m.ContentURI == ""):
		s.mu.Unlock()
		return "", fmt.Errorf("wztest: an incoming message has either text or contentUri")
	}
	when := m.DateTime
	if when.IsZero() {
		when = s.clock()
	}
	typ := m.Type
	if typ == "" {
		typ = "text"
		if m.ContentURI != "" {
			typ = typeFromName(m.ContentURI, "")
		}
	}
	c := a.chatOf(chatKey{channelID, chatType, chatID})
	if m.ContactName != "" {
		c.name = m.ContactName
	}
	if m.Username != "" && chatType == "telegram" {
		c.username = strings.TrimPrefix(m.Username, "@")
	}
	if m.Phone != "" && (chatType == "telegram" || chatType == "max") {
		c.phone = m.Phone
	}
	c.unanswered, c.lastInbound = true, when
	msg := &message{
		id: newUUID(), channelID: channelID, chatType: chatType, chatID: chatID,
		text: m.Text, contentURI: m.ContentURI, typ: typ,
	}
	a.messages[msg.id] = msg
	item := whMessage{
		MessageID: msg.id, ChannelID: channelID, ChatType: chatType, ChatID: chatID,
		DateTime: iso(when), Type: typ, IsEcho: false, Contact: c.contact(chatType, chatID),
		Text: m.Text, ContentURI: m.ContentURI, Status: "inbound", InstPost: m.InstPost,
	}
	subscribed := a.webhookURI != "" && a.subs.MessagesAndStatuses
	s.mu.Unlock()
	if !subscribed {
		return msg.id, ErrNoWebhook
	}
	_, err := a.deliver(ctx, mustJSON(whMessages{Messages: []whMessage{item}}), true)
	return msg.id, err
}

// PhoneWrites makes the channel's owner type a message on the phone: an echo
// with isEcho true, sentFromApp false, status "sent" and no author. No
// statuses follow it.
func (a *Account) PhoneWrites(ctx context.Context, channelID, chatType, chatID, text string) (string, error) {
	s := a.s
	s.mu.Lock()
	ch := a.channel(channelID)
	switch {
	case ch == nil:
		s.mu.Unlock()
		return "", fmt.Errorf("%w %s", ErrUnknownChannel, channelID)
	case !transportServes(ch.Transport, chatType):
		s.mu.Unlock()
		return "", fmt.Errorf("wztest: a %s channel has no %s chats", ch.Transport, chatType)
	case chatID == "" || text == "":
		s.mu.Unlock()
		return "", fmt.Errorf("wztest: chatID and text are required")
	}
	c := a.chatOf(chatKey{channelID, chatType, chatID})
	c.unanswered = false
	msg := &message{id: newUUID(), channelID: channelID, chatType: chatType, chatID: chatID, text: text, typ: "text", echo: true}
	a.messages[msg.id] = msg
	item := a.echoItem(*msg, "", c.contact(chatType, chatID), s.clock())
	subscribed := a.webhookURI != "" && a.subs.MessagesAndStatuses
	s.mu.Unlock()
	if !subscribed {
		return msg.id, ErrNoWebhook
	}
	_, err := a.deliver(ctx, mustJSON(whMessages{Messages: []whMessage{item}}), true)
	return msg.id, err
}

// echoItem builds the echo of an outgoing message.
func (a *Account) echoItem(m message, authorName string, contact *whContact, when time.Time) whMessage {
	fromApp := false
	return whMessage{
		MessageID: m.id, ChannelID: m.channelID, ChatType: m.chatType, ChatID: m.chatID,
		DateTime: iso(when), Type: m.typ, IsEcho: true, Contact: contact,
		Text: m.text, ContentURI: m.contentURI, Status: "sent",
		AuthorName: authorName, AuthorID: m.authorID, SentFromApp: &fromApp,
	}
}

// echoAndStatuses plays what follows an accepted send: the echo, then the
// statuses sent, delivered and read, each in its own POST, in that order.
func (a *Account) echoAndStatuses(m message, authorName string, contact *whContact) {
	ctx := a.s.ctx
	a.s.mu.Lock()
	item := a.echoItem(m, authorName, contact, a.s.clock())
	a.s.mu.Unlock()
	if _, err := a.deliver(ctx, mustJSON(whMessages{Messages: []whMessage{item}}), true); errors.Is(err, ErrNoWebhook) {
		return
	}
	for _, st := range []string{"sent", "delivered", "read"} {
		if ctx.Err() != nil {
			return
		}
		a.s.mu.Lock()
		body := mustJSON(whStatuses{Statuses: []whStatus{{MessageID: m.id, Timestamp: iso(a.s.clock()), Status: st}}})
		a.s.mu.Unlock()
		_, _ = a.deliver(ctx, body, true)
	}
}

// statusDescriptions gives the errors PostStatus sends a readable text.
var statusDescriptions = map[string]string{
	"BAD_CONTACT":           "Failed to send. The number is not on WhatsApp or its version is outdated",
	"CHATID_IGSID_MISMATCH": "chatId does not match the Instagram-scoped id",
	"TOO_LONG_TEXT":         "The text is too long",
	"SPAM":                  "The message was rated as spam",
	Code24Hours:             "the 24-hour WABA dialogue is closed",
	Code7Days:               "the 7-day Instagram dialogue is closed",
}

// PostStatus POSTs {"statuses":[{messageId, timestamp, status}]}. With errCode
// set the status is "error" with error {error: errCode, description}.
func (a *Account) PostStatus(ctx context.Context, messageID, status, errCode string) error {
	a.s.mu.Lock()
	st := whStatus{MessageID: messageID, Timestamp: iso(a.s.clock()), Status: status}
	subscribed := a.webhookURI != "" && a.subs.MessagesAndStatuses
	a.s.mu.Unlock()
	if errCode != "" {
		desc := statusDescriptions[errCode]
		if desc == "" {
			desc = "Message was not delivered"
		}
		st.Status, st.Error = "error", &whError{Error: errCode, Description: desc}
	}
	if !subscribed {
		return ErrNoWebhook
	}
	_, err := a.deliver(ctx, mustJSON(whStatuses{Statuses: []whStatus{st}}), true)
	return err
}

// PostRaw POSTs any body to the webhook once, as Wazzup would, and returns
// the status answered (tests of duplicates and garbage).
func (a *Account) PostRaw(ctx context.Context, body []byte) (int, error) {
	d, err := a.deliver(ctx, body, false)
	if d.Status != 0 {
		return d.Status, nil
	}
	return 0, err
}

// CreateContactRequest is what a createContact webhook asks the CRM for.
type CreateContactRequest struct {
	ResponsibleUserID string
	Name              string
	ContactData       []ContactData
	Source            string // auto (default) or byUser
}

// AskCreateContact POSTs {"createContact":{...}} and returns the delivery,
// whose Response holds relay24's answer. An answer of 200 with a contact
// ({id, responsibleUserId, name, contactData}) is stored like an upsert.
func (a *Account) AskCreateContact(ctx context.Context, req CreateContactRequest) (Delivery, error) {
	type cd struct {
		ChatType string `json:"chatType"`
		ChatID   string `json:"chatId"`
		Username string `json:"username,omitempty"`
		Phone    string `json:"phone,omitempty"`
	}
	items := make([]cd, 0, len(req.ContactData))
	for _, d := range req.ContactData {
		items = append(items, cd(d))
	}
	if req.Source == "" {
		req.Source = "auto"
	}
	body := mustJSON(map[string]any{"createContact": map[string]any{
		"responsibleUserId": req.ResponsibleUserID, "name": req.Name, "contactData": items, "source": req.Source,
	}})
	if !a.subscribed(func(s subscriptions) bool { return s.ContactsAndDealsCreation }) {
		return Delivery{}, ErrNoWebhook
	}
	d, err := a.deliver(ctx, body, true)
	if err == nil {
		if c, ok := decodeContact(d.Response); ok {
			a.s.mu.Lock()
			a.contacts[c.ID] = c
			a.s.mu.Unlock()
		}
	}
	return d, err
}

// AskCreateDeal POSTs {"createDeal":{responsibleUserId, contacts, source}};
// a 200 answer with a deal ({id, ...}) is stored like an upsert.
func (a *Account) AskCreateDeal(ctx context.Context, responsibleUserID string, contacts []string, source string) (Delivery, error) {
	if source == "" {
		source = "auto"
	}
	if contacts == nil {
		contacts = []string{}
	}
	body := mustJSON(map[string]any{"createDeal": map[string]any{
		"responsibleUserId": responsibleUserID, "contacts": contacts, "source": source,
	}})
	if !a.subscribed(func(s subscriptions) bool { return s.ContactsAndDealsCreation }) {
		return Delivery{}, ErrNoWebhook
	}
	d, err := a.deliver(ctx, body, true)
	if err == nil {
		if deal, ok := decodeDeal(d.Response); ok {
			a.s.mu.Lock()
			a.deals[deal.ID] = deal
			a.s.mu.Unlock()
		}
	}
	return d, err
}

// PostTemplateStatus POSTs {"templateStatus":{templateGuid, name, status}}.
func (a *Account) PostTemplateStatus(ctx context.Context, templateGUID, name, status string) error {
	if !a.subscribed(func(s subscriptions) bool { return s.TemplateStatus }) {
		return ErrNoWebhook
	}
	body := mustJSON(map[string]any{"templateStatus": map[string]string{
		"templateGuid": templateGUID, "name": name, "status": status,
	}})
	_, err := a.deliver(ctx, body, true)
	return err
}

func (a *Account) subscribed(on func(subscriptions) bool) bool {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	return a.webhookURI != "" && on(a.subs)
}

// deliver POSTs body to the webhook until it is answered 200, up to the
// configured attempts (1 when retry is false), pausing with a doubling
// backoff. It returns the last attempt.
func (a *Account) deliver(ctx context.Context, body []byte, retry bool) (Delivery, error) {
	s := a.s
	s.mu.Lock()
	uri, attempts, backoff := a.webhookURI, s.attempts, s.backoff
	s.mu.Unlock()
	if uri == "" {
		return Delivery{}, ErrNoWebhook
	}
	if !retry {
		attempts = 1
	}
	for i := 1; ; i++ {
		d := a.post(ctx, uri, body, i)
		if d.Status == http.StatusOK {
			return d, nil
		}
		if i >= attempts || ctx.Err() != nil || s.ctx.Err() != nil {
			return d, &DeliveryError{Attempts: i, Status: d.Status, Err: d.Err}
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		case <-s.ctx.Done():
			t.Stop()
		}
		backoff *= 2
	}
}

// post makes one webhook POST and records it.
func (a *Account) post(ctx context.Context, uri string, body []byte, attempt int) Delivery {
	s := a.s
	s.mu.Lock()
	timeout := s.webhookTimeout
	d := Delivery{URL: uri, Body: append([]byte(nil), body...), Attempt: attempt, Time: s.clock()}
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel) // Close interrupts a hanging receiver
	defer stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, bytes.NewReader(body))
	if err == nil {
		req.Header.Set("Content-Type", webhookContentType)
		req.Header.Set("User-Agent", "wztest (Wazzup API v3 emulator)")
		d.Header = req.Header.Clone()
		hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		var resp *http.Response
		if resp, err = hc.Do(req); err == nil {
			d.Status = resp.StatusCode
			d.Response, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
		}
	}
	if err != nil {
		d.Err = err.Error()
		if d.Status == 0 && ctx.Err() == context.DeadlineExceeded {
			d.Err = "timeout: " + err.Error()
		}
	}
	s.mu.Lock()
	a.deliveries = append(a.deliveries, d)
	s.mu.Unlock()
	return d
}

// patchWebhooks is PATCH /v3/webhooks: validate, probe with {"test":true},
// then store.
func (a *Account) patchWebhooks(w http.ResponseWriter, r *http.Request) {
	_, f, ok := readObject(r)
	if !ok {
		fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "Request body must be a JSON object", nil)
		return
	}
	var bad []string
	uri := f.str("webhooksUri", &bad)
	if len(bad) > 0 || uri == "" || len(uri) > MaxWebhookURILength || !validWebhookURI(uri) {
		fail(w, http.StatusBadRequest, "uriNotValid", "Provided URI is not valid URI", nil)
		return
	}
	var subs subscriptions
	if f.present("subscriptions") {
		var sf fields
		if json.Unmarshal(f["subscriptions"], &sf) != nil {
			fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "subscriptions must be an object", map[string]any{"fields": []string{"subscriptions"}})
			return
		}
		get := func(key string) bool {
			p := sf.boolPtr(key, &bad)
			return p != nil && *p
		}
		subs = subscriptions{
			MessagesAndStatuses:      get("messagesAndStatuses"),
			ContactsAndDealsCreation: get("contactsAndDealsCreation"),
			ChannelsUpdates:          get("channelsUpdates"),
			TemplateStatus:           get("templateStatus") || get("wabaTemplatesStatus"),
		}
		if len(bad) > 0 {
			for i := range bad {
				bad[i] = "subscriptions." + bad[i]
			}
			fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "Subscriptions must be booleans", map[string]any{"fields": bad})
			return
		}
	}
	d := a.post(r.Context(), uri, []byte(`{"test":true}`), 1)
	if d.Status != http.StatusOK {
		data := map[string]any{"status": d.Status}
		if d.Status == 0 {
			data = map[string]any{"status": nil, "error": d.Err}
		}
		fail(w, http.StatusBadRequest, "testPostNotPassed", "URI does not return 200 OK on test request", data)
		return
	}
	a.s.mu.Lock()
	a.webhookURI, a.subs = uri, subs
	a.s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func validWebhookURI(s string) bool {
	u, err := url.ParseRequestURI(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && !strings.ContainsAny(s, " \t\r\n")
}

// getWebhooks is GET /v3/webhooks, in the live shape: booleans, and the
// template switch named wabaTemplatesStatus.
func (a *Account) getWebhooks(w http.ResponseWriter) {
	a.s.mu.Lock()
	var uri any
	if a.webhookURI != "" {
		uri = a.webhookURI
	}
	out := map[string]any{
		"webhooksUri": uri,
		"subscriptions": map[string]bool{
			"messagesAndStatuses":      a.subs.MessagesAndStatuses,
			"contactsAndDealsCreation": a.subs.ContactsAndDealsCreation,
			"channelsUpdates":          a.subs.ChannelsUpdates,
			"wabaTemplatesStatus":      a.subs.TemplateStatus,
		},
	}
	a.s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

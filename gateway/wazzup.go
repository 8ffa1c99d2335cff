package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/relay24/relay24/filestore"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/wazzup"
)

// Wazzup is the adapter of a Wazzup account (API v3): many channels
// (WhatsApp, WhatsApp Business "wapi", Instagram, Telegram, VK, Avito,
// Viber, MAX) behind one API key.
type Wazzup struct {
	// APIURL is Wazzup's API base; HTTP the client for it.
	APIURL string
	HTTP   *http.Client
	// AccountOf derives the stable, non-secret account id of an API key
	// (keyed hashing belongs to relay's keys).
	AccountOf func(apiKey string) string
}

// wazzupDedupe is how long after the first attempt a retry may rely on
// Wazzup's crmMessageId check (60 s, with a margin).
const wazzupDedupe = 45 * time.Second

var _ Gateway = (*Wazzup)(nil)

func (w *Wazzup) client(apiKey string) *wazzup.Client {
	return wazzup.NewClient(w.APIURL, apiKey, w.HTTP)
}

// Provider implements Gateway.
func (w *Wazzup) Provider() string { return ProviderWazzup }

// Traits implements Gateway: Wazzup refuses a repeated crmMessageId for 60 s,
// and channels come and go on the account. (It is also told the CRM's side:
// CRMPusher.)
func (w *Wazzup) Traits() Traits {
	return Traits{Title: "Wazzup", DedupeWindow: wazzupDedupe, LearnsChannels: true}
}

// Credential implements Gateway.
func (w *Wazzup) Credential(r ConnectRequest) (string, error) {
	key := strings.TrimSpace(r.APIKey)
	if key == "" || len(key) > 200 || strings.ContainsAny(key, " \t\r\n") {
		return "", problem.New(problem.Invalid, "bad_api_key", "api_key must be the Wazzup API key")
	}
	return key, nil
}

// Connect implements Gateway: the key is good if the account lists its
// channels.
func (w *Wazzup) Connect(ctx context.Context, apiKey string) (Account, error) {
	chans, err := w.client(apiKey).Channels(ctx)
	if err != nil {
		return Account{}, Problem(err, "reading the Wazzup channels")
	}
	out := make([]Channel, 0, len(chans))
	for _, ch := range chans {
		out = append(out, wazzupChannel(ch))
	}
	return Account{ID: w.AccountOf(apiKey), Channels: out}, nil
}

// Channels implements Gateway.
func (w *Wazzup) Channels(ctx context.Context, apiKey string) ([]Channel, error) {
	list, err := w.client(apiKey).Channels(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing the Wazzup channels: %w", err)
	}
	out := make([]Channel, 0, len(list))
	for _, ch := range list {
		out = append(out, wazzupChannel(ch))
	}
	return out, nil
}

// wazzupChannel is a channel as the Wazzup account lists it.
func wazzupChannel(ch wazzup.Channel) Channel {
	c := Channel{ExternalID: ch.ChannelID, Transport: strings.ToLower(ch.Transport), Name: ch.Name, PlainID: ch.PlainID,
		State: ChannelState(ch.State)}
	if c.Name == "" {
		c.Name = ch.PlainID
	}
	return c
}

// ChannelState keeps Wazzup's word, lower-cased (its docs disagree on case).
func ChannelState(s string) string {
	if s == "" {
		return "unknown"
	}
	if wazzup.ActiveState(s) {
		return "active"
	}
	return strings.ToLower(s)
}

// RegisterWebhook implements Gateway: messages, statuses, channel updates
// and WABA templates' moderation.
func (w *Wazzup) RegisterWebhook(ctx context.Context, apiKey, uri, _ string) error {
	if err := w.client(apiKey).SetWebhooks(ctx, uri, wazzup.Subscriptions{MessagesAndStatuses: true, ChannelsUpdates: true,
		TemplateStatus: true}); err != nil {
		return Problem(err, "registering relay24's webhook with Wazzup")
	}
	return nil
}

// UnregisterWebhook implements Gateway: the account's webhook is left as it
// is (a disconnected gateway's webhooks are refused with 404, which Wazzup
// stops retrying).
func (w *Wazzup) UnregisterWebhook(context.Context, string) error { return nil }

// CheckWebhook implements Gateway: {"test":true} is the probe of PATCH
// /v3/webhooks. Only that is looked at: a full parse here would cost the
// acknowledgement a second decoding.
func (w *Wazzup) CheckWebhook(body []byte) (bool, error) {
	if len(body) < 64 && bytes.Contains(body, []byte(`"test"`)) {
		if wh, err := wazzup.ParseWebhook(body); err == nil && wh.Test && len(wh.Messages) == 0 && len(wh.Statuses) == 0 {
			return true, nil
		}
	}
	return false, nil
}

// ParseWebhook implements Gateway.
func (w *Wazzup) ParseWebhook(body []byte, _ string) (*Inbound, error) {
	wh, err := wazzup.ParseWebhook(body)
	if err != nil {
		return nil, fmt.Errorf("stored webhook does not parse: %w", err)
	}
	in := &Inbound{UnknownKeys: wh.Unknown}
	for _, cu := range wh.ChannelsUpdates {
		in.ChannelUpdates = append(in.ChannelUpdates, ChannelUpdate{ChannelExt: cu.ChannelID, State: ChannelState(cu.State), QR: cu.QR, At: cu.Timestamp})
	}
	for _, m := range wh.Messages {
		msg := Message{
			ProviderID: m.MessageID, ChannelExt: m.ChannelID, ChatType: strings.ToLower(m.ChatType), ChatID: m.ChatID,
			At: m.DateTime, Echo: m.IsEcho, Kind: strings.ToLower(m.Type), Text: m.Text,
			Client:     store.ClientInfo{Name: m.Contact.Name, Username: m.Contact.Username, Phone: m.Contact.Phone},
			AuthorName: m.AuthorName, Status: strings.ToLower(m.Status), Edited: m.IsEdited, Deleted: m.IsDeleted,
		}
		if m.WindowClosed() {
			msg.Error = Failure("window_closed", m.Error.Error)
		} else if m.Error != nil {
			msg.Error = Failure("send_refused", m.Error.Error+" "+m.Error.Description)
		}
		if id, err := strconv.ParseInt(m.AuthorID, 10, 64); err == nil {
			msg.AuthorID = id
		}
		if m.ContentURI != "" {
			msg.Attachments = []Attachment{{URL: m.ContentURI, Type: msg.Kind, Name: FileName(m.ContentURI)}}
		}
		in.Messages = append(in.Messages, msg)
	}
	for _, st := range wh.Statuses {
		s := Status{ProviderID: st.MessageID, Status: strings.ToLower(st.Status), At: st.Timestamp}
		if st.WindowClosed() {
			// Sent outside the customer-service window: said as such, so
			// the chat can tell the salesperson to use a template.
			s.Error = Failure("window_closed", st.Error.Error)
		} else if st.Error != nil {
			s.Error = Failure("send_refused", st.Error.Error+" "+st.Error.Description)
		}
		in.Statuses = append(in.Statuses, s)
	}
	if wh.Template != nil {
		in.TemplateStatuses = append(in.TemplateStatuses, TemplateStatus{ID: wh.Template.TemplateGUID, Name: wh.Template.Name,
			Status: strings.ToLower(strings.TrimSpace(wh.Template.Status))})
	}
	return in, nil
}

// FileName is a file's name from its link: its last path segment, or, when
// the path ends in a directory as Wazzup's store links do, their filename
// parameter (https://store.wazzup24.com/<hash>/?filename=contract.pdf,
// channels.md §1.19).
func FileName(uri string) string {
	u := uri
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	if i := strings.LastIndexByte(u, '/'); i >= 0 {
		u = u[i+1:]
	}
	if u == "" {
		if pu, err := url.Parse(uri); err == nil {
			n := pu.Query().Get("filename")
			return n[strings.LastIndexAny(n, `/\`)+1:]
		}
	}
	return u
}

// TextLimit implements Gateway (wazzup.TextLimit: per transport).
func (w *Wazzup) TextLimit(transport string) int { return wazzup.TextLimit(transport) }

// TextLen implements Gateway (UTF-16 code units).
func (w *Wazzup) TextLen(text string) int { return wazzup.TextLen(text) }

// ChatType implements Gateway.
func (w *Wazzup) ChatType(transport string) string { return wazzup.ChatTypeFor(transport) }

// PlanFile implements Gateway (channels.md §1.18): no captions; at most
// 10 MB through the API, less per transport.
func (w *Wazzup) PlanFile(to Target, f *filestore.File, _ string) (FilePlan, error) {
	mt, _, _ := mime.ParseMediaType(f.Type)
	kind := filestore.Kind(f.Type)
	title := TransportTitle(to.ChatType)
	limit := int64(wazzup.MaxContentSize)
	switch strings.ToLower(to.Transport) {
	case wazzup.TransportInstagram:
		if mt != "image/jpeg" && mt != "image/png" && mt != "image/bmp" {
			return FilePlan{}, problem.New(problem.Invalid, "file_type_not_allowed_for_channel",
				"Instagram accepts only JPEG, PNG and BMP images; this file is %s", mt)
		}
		limit = 8 << 20
	case wazzup.TransportWABA:
		title = "WhatsApp Business"
		switch kind {
		case "image":
			if mt != "image/jpeg" && mt != "image/png" {
				return FilePlan{}, problem.New(problem.Invalid, "file_type_not_allowed_for_channel",
					"WhatsApp Business accepts only JPEG and PNG images; this file is %s", mt)
			}
			limit = 5 << 20
		}
	case wazzup.TransportTelegram, wazzup.TransportTgAPI:
		if kind == "image" {
			limit = 5 << 20
		}
	}
	if f.Size > limit {
		return FilePlan{}, tooLargeForChannel(title, limit, f.Size)
	}
	return FilePlan{}, nil
}

// ReplyWindow implements Gateway: WhatsApp Business (transport "wapi") lets
// a free-form reply out within 24 hours of the client's last message,
// Instagram within 7 days; the others have no window.
func (w *Wazzup) ReplyWindow(transport string) time.Duration {
	switch strings.ToLower(strings.TrimSpace(transport)) {
	case wazzup.TransportWABA:
		return 24 * time.Hour
	case wazzup.TransportInstagram:
		return 7 * 24 * time.Hour
	}
	return 0
}

func (w *Wazzup) request(out Outgoing) wazzup.SendRequest {
	req := wazzup.SendRequest{ChannelID: out.ChannelExt, ChatType: out.ChatType, ChatID: out.ChatID, CrmMessageID: out.Ref}
	if out.AuthorID != "" {
		req.CrmUserID = out.AuthorID
	}
	return req
}

// SendText implements Gateway.
func (w *Wazzup) SendText(ctx context.Context, apiKey string, out Outgoing) (Sent, error) {
	req := w.request(out)
	req.Text = out.Text
	res, err := w.client(apiKey).Send(ctx, req)
	return Sent{MessageID: res.MessageID}, wazzupSendError(err)
}

// SendFile implements Gateway: Wazzup fetches the file by its public link.
func (w *Wazzup) SendFile(ctx context.Context, apiKey string, out Outgoing, f OutFile) (Sent, error) {
	req := w.request(out)
	req.ContentURI = f.URL
	res, err := w.client(apiKey).SendFile(ctx, req)
	return Sent{MessageID: res.MessageID}, wazzupSendError(err)
}

// wazzupSendError classifies a send's error: a repeated crmMessageId means
// an earlier attempt got through; a temporary failure (or a download of the
// file that may work next time) may have left, and DedupeWindow makes a
// retry safe.
func wazzupSendError(err error) error {
	var me *wazzup.MediaError
	switch {
	case err == nil:
		return nil
	case wazzup.IsDuplicate(err):
		return &SendError{Outcome: AlreadySent, Err: err}
	case wazzup.Temporary(err), errors.As(err, &me) && me.Retryable():
		return &SendError{Outcome: Uncertain, Err: err}
	}
	return failure("send_refused", err)
}

// TemplatesOn implements Gateway: WABA templates go through WhatsApp
// Business channels (transport "wapi") only.
func (w *Wazzup) TemplatesOn(transport string) bool { return wazzup.TemplatesAllowed(transport) }

// SendTemplate implements Gateway: the template by its templateGuid with its
// values, no text. A refusal because of the template or its values, or an
// empty WABA balance, is a refusal with a code of its own.
func (w *Wazzup) SendTemplate(ctx context.Context, apiKey string, out Outgoing, t Template) (Sent, error) {
	req := w.request(out)
	req.TemplateID = t.ID
	req.TemplateValues = append([]string{}, t.Params...)
	res, err := w.client(apiKey).SendTemplate(ctx, req)
	if err == nil {
		return Sent{MessageID: res.MessageID}, nil
	}
	switch wazzup.TemplateKindOf(err) {
	case wazzup.TemplateNotUsable:
		return Sent{}, failure("template_not_approved", err)
	case wazzup.TemplateBadRequest, wazzup.TemplateBadValues:
		return Sent{}, failure("template_values_refused", err)
	case wazzup.TemplateTooLong:
		return Sent{}, failure("template_too_long", err)
	case wazzup.TemplateNoBalance:
		return Sent{}, failure("waba_balance_empty", err)
	}
	return Sent{}, wazzupSendError(err)
}

// Templates implements Gateway: the account's WABA templates, every status.
func (w *Wazzup) Templates(ctx context.Context, apiKey string) ([]Template, error) {
	list, err := w.client(apiKey).Templates(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing the WABA templates: %w", err)
	}
	out := make([]Template, 0, len(list))
	for _, t := range list {
		title := t.Title
		if title == "" {
			title = t.Name
		}
		out = append(out, Template{ID: t.GUID, Title: title, Name: t.Name, Language: t.Language, Category: t.Category,
			Status: strings.ToLower(strings.TrimSpace(t.Status)), Channels: t.Channels, Text: t.Text(),
			Variables: t.Variables(), Raw: t.Raw})
	}
	return out, nil
}

// OpenAttachment implements Gateway: Wazzup's files are public links, which
// relay fetches itself (as links from a client's message: hostile).
func (w *Wazzup) OpenAttachment(context.Context, string, string) (*Download, error) {
	return nil, &NotSupportedError{Provider: ProviderWazzup, Op: "opening files (they are public links)"}
}

var _ CRMPusher = (*Wazzup)(nil)

// PushCRM implements CRMPusher: users, then contacts, then deals; Wazzup
// takes a contact or deal only with a responsible user it knows.
func (w *Wazzup) PushCRM(ctx context.Context, apiKey string, crm CRM) error {
	c := w.client(apiKey)
	wu := make([]wazzup.User, 0, len(crm.Users))
	known := map[int64]bool{}
	for _, u := range crm.Users {
		wu = append(wu, wazzup.User{ID: strconv.FormatInt(u.ID, 10), Name: u.Name})
		known[u.ID] = true
	}
	if err := c.UpsertUsers(ctx, wu); err != nil {
		return crmError(err)
	}
	var wc []wazzup.Contact
	for _, ct := range crm.Contacts {
		if !known[ct.ResponsibleID] {
			continue // Wazzup requires a responsible user it knows
		}
		data := make([]wazzup.ContactData, 0, len(ct.Chats))
		for _, ch := range ct.Chats {
			data = append(data, wazzup.ContactData{ChatType: ch[0], ChatID: ch[1]})
		}
		wc = append(wc, wazzup.Contact{ID: strconv.FormatInt(ct.ID, 10), ResponsibleUserID: strconv.FormatInt(ct.ResponsibleID, 10),
			Name: ct.Name, ContactData: data, URI: fmt.Sprintf("%s/crm/contact/details/%d/", crm.PortalURL, ct.ID)})
	}
	if err := c.UpsertContacts(ctx, wc); err != nil {
		return crmError(err)
	}
	var wd []wazzup.Deal
	for _, d := range crm.Deals {
		if !known[d.ResponsibleID] {
			continue
		}
		ids := make([]string, len(d.ContactIDs))
		for i, id := range d.ContactIDs {
			ids[i] = strconv.FormatInt(id, 10)
		}
		name := d.Title
		if name == "" {
			name = "#" + strconv.FormatInt(d.ID, 10)
		}
		wd = append(wd, wazzup.Deal{ID: strconv.FormatInt(d.ID, 10), ResponsibleUserID: strconv.FormatInt(d.ResponsibleID, 10), Name: name,
			URI: fmt.Sprintf("%s/crm/deal/details/%d/", crm.PortalURL, d.ID), Contacts: ids, Closed: d.Closed})
	}
	if err := c.UpsertDeals(ctx, wd); err != nil {
		return crmError(err)
	}
	return nil
}

// crmError classifies a refused push: a key limited to messaging, a
// temporary failure (try again), or a refusal on the merits.
func crmError(err error) error {
	if wazzup.HasCode(err, "FORBIDDEN") {
		return fmt.Errorf("%w: %w", ErrCRMNotAllowed, err)
	}
	if wazzup.Temporary(err) {
		return err
	}
	return &PermanentError{Err: err}
}

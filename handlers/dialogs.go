package handlers

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/relay24/relay24/access"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/relay"
	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/web"
)

// Dialog is CONTRACT §5's Dialog.
type Dialog struct {
	ID              int64        `json:"id"`
	Channel         ChannelRef   `json:"channel"`
	ChatType        string       `json:"chat_type"`
	ChatID          string       `json:"chat_id"`
	ClientName      string       `json:"client_name"`
	Contact         *ContactRef  `json:"contact"`
	DealID          *int64       `json:"deal_id,omitempty"`
	LeadID          *int64       `json:"lead_id,omitempty"`
	Unanswered      bool         `json:"unanswered"`
	UnansweredSince *time.Time   `json:"unanswered_since"`
	LastMessage     *LastMessage `json:"last_message"`
	Initial         *bool        `json:"initial,omitempty"`
	// CanWrite: this user may write here now (his rule lets him write in
	// this dialog, and its channel is active); the page disables the
	// composer otherwise, saying why.
	CanWrite bool `json:"can_write"`
}

// ChannelRef names a dialog's channel.
type ChannelRef struct {
	ID        int64  `json:"id"`
	Provider  string `json:"provider"`
	Transport string `json:"transport"`
	Name      string `json:"name"`
	// State is the channel's (active, qr, …) where the answer knows it.
	State string `json:"state,omitempty"`
}

// ContactRef names a CRM contact.
type ContactRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// LastMessage is a dialog's newest message.
type LastMessage struct {
	Text      string    `json:"text"`
	Direction string    `json:"direction"`
	At        time.Time `json:"at"`
}

// Message is CONTRACT §5's Message.
type Message struct {
	ID        int64  `json:"id"`
	DialogID  int64  `json:"dialog_id"`
	Direction string `json:"direction"`
	Kind      string `json:"kind"`
	Text      string `json:"text"`
	// Placeholder says Text names the kind («[Изображение]») because the
	// message has no text of its own: a page that shows the file hides it.
	Placeholder bool         `json:"placeholder,omitempty"`
	Attachments []Attachment `json:"attachments"`
	Author      *ContactRef  `json:"author"`
	Status      string       `json:"status"`
	Error       *string      `json:"error"`
	CreatedAt   time.Time    `json:"created_at"`
	Channel     *ChannelRef  `json:"channel,omitempty"`
	ClientID    *string      `json:"client_id,omitempty"`
	// Retried: this failed reply was sent again, as a message of its own
	// (POST /api/v1/messages/{id}/retry).
	Retried bool `json:"retried,omitempty"`
}

// dialogJSON is a dialog as rule's user sees it (rule nil: one who may not
// write).
func dialogJSON(v *store.DialogView, lang string, rule *access.Effective) Dialog {
	d := Dialog{ID: v.ID, ChatType: v.ChatType, ChatID: v.ChatID, ClientName: v.ClientName, Unanswered: v.Unanswered,
		Channel:  ChannelRef{ID: v.ChannelID, Provider: v.Provider, Transport: v.Transport, Name: v.ChannelName, State: v.ChannelState},
		CanWrite: canWrite(rule, v)}
	if d.ClientName == "" {
		d.ClientName = v.ChatID
	}
	if v.ContactID.Valid {
		name := v.ContactName.String
		if name == "" {
			name = d.ClientName
		}
		d.Contact = &ContactRef{ID: v.ContactID.Int64, Name: name}
	}
	if v.DealID.Valid {
		d.DealID = &v.DealID.Int64
	}
	if v.LeadID.Valid {
		d.LeadID = &v.LeadID.Int64
	}
	if v.Unanswered && v.UnansweredSince.Valid {
		t := v.UnansweredSince.Time.UTC()
		d.UnansweredSince = &t
	}
	if v.LastMessageAt.Valid && v.LastDirection.Valid {
		text := v.LastText.String
		if text == "" {
			text = relay.Placeholder(v.LastKind.String, lang)
		}
		d.LastMessage = &LastMessage{Text: text, Direction: v.LastDirection.String, At: v.LastMessageAt.Time.UTC()}
	}
	return d
}

// canWrite is whether rule lets its user write in the dialog now: he may
// write, sees the dialog (its responsible person and its channel), and the
// channel is active.
func canWrite(rule *access.Effective, v *store.DialogView) bool {
	return rule != nil && rule.CanWrite && rule.Sees(&v.Dialog) && v.ChannelState == "active"
}

// rule is the caller's effective access rule (cached by access.Rules).
func (h *Handlers) rule(c echo.Context) (*access.Effective, error) {
	cl := caller(c)
	return h.Access.For(c.Request().Context(), cl.Portal.ID, cl.User)
}

// Attachment is a file of a message as the API shows it: relay24's signed
// link to it, or, while a client's file could not be copied from its
// gateway, unavailable with the reason (and no link).
type Attachment struct {
	URL         string `json:"url,omitempty"`
	Type        string `json:"type"`
	Name        string `json:"name"`
	Unavailable bool   `json:"unavailable,omitempty"`
	Reason      string `json:"reason,omitempty"`
	// Size in bytes, where relay24 keeps the file (an upload, a client's
	// file once copied).
	Size int64 `json:"size,omitempty"`
}

// messageJSON is a message as the API answers it. Its callers read m only
// after checking that the caller may see it.
func (h *Handlers) messageJSON(m *store.MessageView, lang string, withChannel bool) Message {
	out := Message{ID: m.ID, DialogID: m.DialogID, Direction: m.Direction, Kind: m.Kind, Text: m.Text,
		Attachments: []Attachment{}, Status: m.Status, CreatedAt: m.SentAt.UTC()}
	var atts []relay.Attachment
	_ = json.Unmarshal(m.Attachments, &atts)
	for i, a := range atts {
		at := Attachment{Type: a.Type, Name: a.Name}
		if i < len(m.FileSizes) {
			at.Size = m.FileSizes[i]
		}
		if a.Unavailable {
			// Its copy failed (so far): no link, and the reason.
			at.Unavailable, at.Reason = true, a.Reason
		} else {
			at.URL = h.attachmentURL(m.PortalID, m.ID, i)
		}
		out.Attachments = append(out.Attachments, at)
	}
	if out.Text == "" && m.Kind != "text" {
		out.Text, out.Placeholder = relay.Placeholder(m.Kind, lang), true
	}
	if m.Status == "inbound" {
		out.Status = "delivered"
	}
	if m.Status == "error" && m.Error.Valid {
		e := web.FailureText(lang, m.Error.String)
		out.Error = &e
	}
	if m.Direction == "out" && (m.AuthorID.Valid || m.AuthorName != "") {
		out.Author = &ContactRef{ID: m.AuthorID.Int64, Name: m.AuthorName}
	}
	if withChannel {
		out.Channel = &ChannelRef{ID: m.ChannelID, Transport: m.Transport, Name: m.ChannelName}
	}
	if m.ClientID.Valid {
		cid := m.ClientID.String
		out.ClientID = &cid
	}
	out.Retried = m.Retried
	return out
}

// attachmentURL is the signed link to attachment n of a message. Every file
// goes through relay24, whatever the gateway stored (a bot's files need its
// token, and a gateway's link is checked before the browser is sent to it).
// The link needs no session, so it opens inside the portal's iframe (no
// cookie) as well as in the personal cabinet; it is issued only here, to a
// caller who may see the message, so holding it is permission to fetch that
// one file until it expires (session.LinkTTL; a refetched history renews it).
func (h *Handlers) attachmentURL(portalID, messageID int64, n int) string {
	exp, sig := h.Sessions.AttachmentLink(portalID, messageID, n)
	return "/api/v1/messages/" + strconv.FormatInt(messageID, 10) + "/attachments/" + strconv.Itoa(n) +
		"?exp=" + exp + "&sig=" + sig
}

func (c *Caller) lang() string {
	if c.User.Lang != "" {
		return web.Lang(c.User.Lang)
	}
	return web.Lang(c.Portal.Lang)
}

func pathID(c echo.Context, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, problem.New(problem.NotFound, "not_found", "not found")
	}
	return id, nil
}

func queryLimit(c echo.Context) (int, error) {
	s := c.QueryParam("limit")
	if s == "" {
		return 50, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 200 {
		return 0, problem.New(problem.Invalid, "bad_limit", "limit must be 1 to 200")
	}
	return n, nil
}

// dialogs is the general chat, or with entity_type/entity_id the individual
// chat of a CRM card.
func (h *Handlers) dialogs(c echo.Context) error {
	cl := caller(c)
	ctx := c.Request().Context()
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	rule, err := h.rule(c)
	if err != nil {
		return err
	}
	vis := rule.Visible()
	f := store.DialogFilter{Visible: &vis}
	f.Limit, f.After = limit, c.QueryParam("after")
	entityType := c.QueryParam("entity_type")
	if entityType == "" {
		f.CountWaiting = true
		list, next, err := h.Store.ListDialogs(ctx, cl.Portal.ID, f)
		if err != nil {
			return err
		}
		waiting := int64(0)
		if len(list) > 0 {
			waiting = list[0].Waiting.Int64
		} else if f.After != "" {
			// Past the last page: count on its own.
			n, err := h.Store.CountUnanswered(ctx, cl.Portal.ID, f)
			if err != nil {
				return err
			}
			waiting = int64(n)
		}
		out := make([]Dialog, len(list))
		for i := range list {
			out[i] = dialogJSON(&list[i], cl.lang(), rule)
		}
		return c.JSON(http.StatusOK, map[string]any{"dialogs": out, "next": nullable(next), "unanswered_count": waiting})
	}
	entityID, err := strconv.ParseInt(c.QueryParam("entity_id"), 10, 64)
	if err != nil || entityID <= 0 {
		return problem.New(problem.Invalid, "bad_entity_id", "entity_id must be a positive number")
	}
	contacts, err := h.Relay.EntityContacts(ctx, cl.Portal.ID, entityType, entityID)
	if err != nil {
		return err
	}
	ids := make([]int64, len(contacts))
	cards := make([]CardContact, len(contacts))
	for i, ct := range contacts {
		ids[i] = ct.ID
		cards[i] = CardContact{ID: ct.ID, Name: ct.Name, Handles: []Handle{}}
		// His phones and accounts, to write first: only to whom may see him.
		if ok, err := h.Access.CanSeeContact(ctx, cl.Portal.ID, cl.User, ct.ID); err != nil {
			return err
		} else if !ok {
			continue
		}
		hs, err := h.Store.IdentitiesOf(ctx, cl.Portal.ID, "contact", ct.ID)
		if err != nil {
			return err
		}
		for _, x := range hs {
			cards[i].Handles = append(cards[i].Handles, Handle{Kind: x.Kind, Value: x.Value})
		}
	}
	f.ContactIDs = ids
	if entityType == "lead" {
		f.LeadID = entityID
	}
	f.Limit, f.After = 200, ""
	list, _, err := h.Store.ListDialogs(ctx, cl.Portal.ID, f)
	if err != nil {
		return err
	}
	out := make([]Dialog, len(list))
	initial := -1
	for i := range list {
		out[i] = dialogJSON(&list[i], cl.lang(), rule)
		// Unanswered first, then newest: the first one is where to open,
		// an unanswered one if any, else the latest conversation.
		if initial < 0 && list[i].LastMessageAt.Valid {
			initial = i
		}
	}
	if initial < 0 && len(out) > 0 {
		initial = 0
	}
	for i := range out {
		v := i == initial
		out[i].Initial = &v
	}
	return c.JSON(http.StatusOK, map[string]any{"dialogs": out, "contacts": cards})
}

// CardContact is a contact of a CRM card in its individual chat, with the
// phones and accounts the CRM knows (to write first; empty for a contact
// the user may not see).
type CardContact struct {
	ID      int64    `json:"id"`
	Name    string   `json:"name"`
	Handles []Handle `json:"handles"`
}

// Handle is one identity of a contact: kind phone, telegram, instagram, vk
// or whatsapp, and its canonical value.
type Handle struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// visibleDialog loads a dialog the caller may see (404 otherwise).
func (h *Handlers) visibleDialog(c echo.Context) (*store.DialogView, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return nil, err
	}
	return h.visibleDialogByID(c, id)
}

// visibleDialogByID loads dialog id if the caller may see it (404 otherwise).
func (h *Handlers) visibleDialogByID(c echo.Context, id int64) (*store.DialogView, error) {
	cl := caller(c)
	v, err := h.Store.DialogView(c.Request().Context(), cl.Portal.ID, id)
	if err != nil {
		return nil, err
	}
	ok, err := h.Access.CanSee(c.Request().Context(), cl.Portal.ID, cl.User, &v.Dialog)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, problem.New(problem.NotFound, "dialog_not_found", "dialog not found")
	}
	return v, nil
}

// writableDialog loads a dialog the caller may act in: hidden is 404, seen
// but read-only (a quality controller) is 403.
func (h *Handlers) writableDialog(c echo.Context) (*store.DialogView, error) {
	v, err := h.visibleDialog(c)
	if err != nil {
		return nil, err
	}
	return h.writable(c, v)
}

// writable refuses a dialog the caller sees but may not write in (403).
func (h *Handlers) writable(c echo.Context, v *store.DialogView) (*store.DialogView, error) {
	cl := caller(c)
	ok, err := h.Access.CanWrite(c.Request().Context(), cl.Portal.ID, cl.User, &v.Dialog)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, problem.New(problem.Forbidden, "read_only", "you may read this dialog but not write to it")
	}
	return v, nil
}

// dialog answers one dialog (a row refreshed after a live event).
func (h *Handlers) dialog(c echo.Context) error {
	v, err := h.visibleDialog(c)
	if err != nil {
		return err
	}
	rule, err := h.rule(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"dialog": dialogJSON(v, caller(c).lang(), rule)})
}

// history pages back through a dialog.
func (h *Handlers) history(c echo.Context) error {
	v, err := h.visibleDialog(c)
	if err != nil {
		return err
	}
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	cl := caller(c)
	msgs, next, err := h.Store.History(c.Request().Context(), cl.Portal.ID, []int64{v.ID}, c.QueryParam("before"), limit)
	if err != nil {
		return err
	}
	out := make([]Message, len(msgs))
	for i := range msgs {
		out[i] = h.messageJSON(&msgs[i], cl.lang(), false)
	}
	return c.JSON(http.StatusOK, map[string]any{"messages": out, "next": nullable(next)})
}

type sendBody struct {
	Text     string `json:"text"`
	ClientID string `json:"client_id"`
	FileID   int64  `json:"file_id"`
	// TemplateID sends an approved template (WhatsApp Business) with its
	// TemplateValues instead of a text or a file.
	TemplateID     string   `json:"template_id"`
	TemplateValues []string `json:"template_values"`
}

// send accepts a reply (202); a worker sends it.
func (h *Handlers) send(c echo.Context) error {
	v, err := h.writableDialog(c)
	if err != nil {
		return err
	}
	cl := caller(c)
	var b sendBody
	if err := bindJSON(c, &b); err != nil {
		return err
	}
	author := relay.Author{ID: cl.User.ID, Name: cl.User.Name}
	var m *store.Message
	if b.TemplateID != "" || b.TemplateValues != nil {
		if b.FileID != 0 || strings.TrimSpace(b.Text) != "" {
			return problem.New(problem.Invalid, "template_with_text", "a template is sent alone: without text or file_id")
		}
		m, err = h.Relay.SendTemplate(c.Request().Context(), cl.Portal.ID, author, v.ID, b.TemplateID, b.TemplateValues, b.ClientID)
	} else if b.FileID != 0 {
		m, err = h.Relay.SendFile(c.Request().Context(), cl.Portal.ID, author, v.ID, b.FileID, b.Text, b.ClientID)
	} else {
		m, err = h.Relay.Send(c.Request().Context(), cl.Portal.ID, author, v.ID, b.Text, b.ClientID)
	}
	if err != nil {
		return err
	}
	return h.accepted(c, m)
}

// accepted answers a reply taken for sending (202) as the history shows it.
func (h *Handlers) accepted(c echo.Context, m *store.Message) error {
	cl := caller(c)
	mv, err := h.Store.MessageViewByID(c.Request().Context(), cl.Portal.ID, m.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"message": h.messageJSON(mv, cl.lang(), false)})
}

// noReplyNeeded ends the dialog's wait.
func (h *Handlers) noReplyNeeded(c echo.Context) error {
	v, err := h.writableDialog(c)
	if err != nil {
		return err
	}
	cl := caller(c)
	if _, err := h.Relay.NoReplyNeeded(c.Request().Context(), cl.Portal.ID, v.ID); err != nil {
		return err
	}
	nv, err := h.Store.DialogView(c.Request().Context(), cl.Portal.ID, v.ID)
	if err != nil {
		return err
	}
	rule, err := h.rule(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"dialog": dialogJSON(nv, cl.lang(), rule)})
}

type createDialogBody struct {
	ContactID int64  `json:"contact_id"`
	ChannelID int64  `json:"channel_id"`
	ChatID    string `json:"chat_id"`
}

// createDialog is "Create dialog": the contact's dialog on a channel.
func (h *Handlers) createDialog(c echo.Context) error {
	cl := caller(c)
	ctx := c.Request().Context()
	var b createDialogBody
	if err := bindJSON(c, &b); err != nil {
		return err
	}
	if b.ContactID <= 0 || b.ChannelID <= 0 {
		return problem.New(problem.Invalid, "bad_dialog", "contact_id and channel_id are required")
	}
	if ok, err := h.Access.CanSeeContact(ctx, cl.Portal.ID, cl.User, b.ContactID); err != nil {
		return err
	} else if !ok {
		return problem.New(problem.NotFound, "contact_not_found", "contact not found")
	}
	if ok, err := h.Access.CanUseChannel(ctx, cl.Portal.ID, cl.User, b.ChannelID); err != nil {
		return err
	} else if !ok {
		return problem.New(problem.NotFound, "channel_not_found", "channel not found")
	}
	if ok, err := h.Access.CanWriteAny(ctx, cl.Portal.ID, cl.User); err != nil {
		return err
	} else if !ok {
		return problem.New(problem.Forbidden, "read_only", "you may read dialogs but not start them")
	}
	d, err := h.Relay.CreateDialog(ctx, cl.Portal.ID, b.ContactID, b.ChannelID, b.ChatID)
	if pe, ok := problem.As(err); ok && pe.Reason == relay.HandleTaken {
		// Name the other client only to whom may see them.
		other, _ := pe.Data["client_id"].(int64)
		if ok, cerr := h.Access.CanSeeContact(ctx, cl.Portal.ID, cl.User, other); cerr != nil || !ok {
			pe.Data = nil
			pe.Message = "the phone or account already belongs to another client"
		}
		return pe
	}
	if err != nil {
		return err
	}
	// The client's dialog on the channel may exist already and be someone
	// else's (reassigned): seeing the client is not seeing that dialog.
	v, err := h.visibleDialogByID(c, d.ID)
	if err != nil {
		return err
	}
	rule, err := h.rule(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"dialog": dialogJSON(v, cl.lang(), rule)})
}

// contactMessages is "View all dialogs": every message with the contact
// over every channel, in time order.
func (h *Handlers) contactMessages(c echo.Context) error {
	cl := caller(c)
	ctx := c.Request().Context()
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if ok, err := h.Access.CanSeeContact(ctx, cl.Portal.ID, cl.User, id); err != nil {
		return err
	} else if !ok {
		return problem.New(problem.NotFound, "contact_not_found", "contact not found")
	}
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	ids, err := h.Access.VisibleDialogsOfContact(ctx, cl.Portal.ID, cl.User, id)
	if err != nil {
		return err
	}
	msgs, next, err := h.Store.History(ctx, cl.Portal.ID, ids, c.QueryParam("before"), limit)
	if err != nil {
		return err
	}
	out := make([]Message, len(msgs))
	for i := range msgs {
		out[i] = h.messageJSON(&msgs[i], cl.lang(), true)
	}
	return c.JSON(http.StatusOK, map[string]any{"messages": out, "next": nullable(next)})
}

package wztest

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode/utf16"
)

// maxRequest bounds what the emulator reads of a request body.
const maxRequest = 4 << 20

// chatTypes is the documented chatType enum (channels.md §1.3).
var chatTypes = map[string]bool{
	"whatsapp": true, "whatsgroup": true, "viber": true, "instagram": true, "telegram": true,
	"telegroup": true, "vk": true, "avito": true, "max": true, "maxgroup": true,
}

// transportChatTypes says which chatTypes a channel of each transport serves.
// Only wapi → whatsapp is documented; the rest follow the names.
var transportChatTypes = map[string][]string{
	"whatsapp":  {"whatsapp", "whatsgroup"},
	"wapi":      {"whatsapp"},
	"instagram": {"instagram"},
	"tgapi":     {"telegram", "telegroup"},
	"telegram":  {"telegram", "telegroup"},
	"vk":        {"vk"},
	"avito":     {"avito"},
	"viber":     {"viber"},
	"max":       {"max", "maxgroup"},
	"maxbot":    {"max", "maxgroup"},
}

// textLimit is the per-transport text limit and the code answered above it.
// The documentation's tables conflict; these are the English page's limits
// with the error table's codes and, for Viber, its 6999 (channels.md §1.4).
type textLimit struct {
	max  int
	code string
}

var textLimits = map[string]textLimit{
	"whatsapp":  {10000, "MESSAGE_TEXT_TOO_LONG"},
	"wapi":      {4096, "MESSAGES_TOO_LONG_WABA"},
	"instagram": {1000, "MESSAGES_TOO_LONG_INSTAGRAM"},
	"tgapi":     {4096, "MESSAGES_TOO_LONG_TELEGRAM"},
	"telegram":  {4096, "MESSAGES_TOO_LONG_TELEGRAM"},
	"vk":        {1000, "MESSAGES_TOO_LONG_VK"},
	"avito":     {1000, "MESSAGES_TOO_LONG_AVITO"},
	"viber":     {6999, "MESSAGES_TOO_LONG_VIBER"},
	"max":       {4096, "MESSAGES_TOO_LONG_MAX"},
	"maxbot":    {4096, "MESSAGES_TOO_LONG_MAX"},
}

func limitFor(transport string) textLimit {
	if l, ok := textLimits[strings.ToLower(transport)]; ok {
		return l
	}
	return textLimit{4096, "MESSAGE_TEXT_TOO_LONG"}
}

// jsLength measures like JavaScript's String.length: UTF-16 code units.
func jsLength(s string) int {
	n := 0
	for _, r := range s {
		if utf16.RuneLen(r) == 2 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

func transportServes(transport, chatType string) bool {
	for _, ct := range transportChatTypes[strings.ToLower(transport)] {
		if ct == chatType {
			return true
		}
	}
	return false
}

// stateError maps a channel that is not active to the send error documented
// for it (channels.md §1.4 codes, descriptions ours).
func stateError(state string) (code, description string) {
	switch strings.ToLower(state) {
	case "blocked", "disabled":
		return "CHANNEL_BLOCKED", "Channel is blocked"
	case "rejected":
		return "CHANNEL_WAPI_REJECTED", "WABA channel is rejected"
	case "notenoughmoney":
		return "CHANNEL_NO_MONEY", "Channel is not paid"
	}
	return "MESSAGE_CHANNEL_UNAVAILABLE", "Channel is unavailable"
}

// fields reads a JSON object strictly: a known field of the wrong type is
// collected in bad rather than coerced.
type fields map[string]json.RawMessage

func readObject(r *http.Request) (json.RawMessage, fields, bool) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxRequest))
	if err != nil {
		return nil, nil, false
	}
	raw = bytes.TrimSpace(raw)
	var f fields
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &f) != nil {
		return raw, nil, false
	}
	return raw, f, true
}

func (f fields) present(key string) bool {
	v, ok := f[key]
	return ok && string(v) != "null"
}

func (f fields) str(key string, bad *[]string) string {
	if !f.present(key) {
		return ""
	}
	var s string
	if json.Unmarshal(f[key], &s) != nil {
		*bad = append(*bad, key)
	}
	return s
}

func (f fields) boolPtr(key string, bad *[]string) *bool {
	if !f.present(key) {
		return nil
	}
	var b bool
	if json.Unmarshal(f[key], &b) != nil {
		*bad = append(*bad, key)
		return nil
	}
	return &b
}

func (f fields) strList(key string, bad *[]string) []string {
	if !f.present(key) {
		return nil
	}
	var l []string
	if json.Unmarshal(f[key], &l) != nil {
		*bad = append(*bad, key)
	}
	return l
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func validHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func uniq(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// postMessage is POST /v3/message.
func (a *Account) postMessage(w http.ResponseWriter, r *http.Request, restricted bool) {
	raw, f, ok := readObject(r)
	if !ok {
		failExtended(w, http.StatusBadRequest, "VALIDATION_ERROR", "Request body must be a JSON object", nil)
		return
	}
	var bad []string
	b := SendBody{
		ChannelID: f.str("channelId", &bad), ChatType: f.str("chatType", &bad), ChatID: f.str("chatId", &bad),
		Text: f.str("text", &bad), ContentURI: f.str("contentUri", &bad),
		RefMessageID: f.str("refMessageId", &bad), CrmUserID: f.str("crmUserId", &bad),
		CrmMessageID: f.str("crmMessageId", &bad), Username: f.str("username", &bad),
		Phone: f.str("phone", &bad), ClearUnanswered: f.boolPtr("clearUnanswered", &bad),
		TemplateID: f.str("templateId", &bad), TemplateValues: f.strList("templateValues", &bad),
	}
	if f.present("buttonsObject") {
		b.ButtonsObject = append(json.RawMessage(nil), f["buttonsObject"]...)
	}
	if !isUUID(b.ChannelID) {
		bad = append(bad, "channelId")
	}
	if !chatTypes[b.ChatType] {
		bad = append(bad, "chatType")
	}
	switch {
	case b.ChatID != "":
		if (b.ChatType == "whatsapp" || b.ChatType == "viber") && !isDigits(b.ChatID) {
			bad = append(bad, "chatId")
		}
		if b.ChatType == "instagram" && strings.HasPrefix(b.ChatID, "@") {
			bad = append(bad, "chatId")
		}
	case b.ChatType == "telegram" && (b.Username != "" || b.Phone != ""):
	case b.ChatType == "max" && b.Phone != "":
	default:
		bad = append(bad, "chatId")
	}
	if b.Username != "" && (b.ChatType != "telegram" || strings.HasPrefix(b.Username, "@")) {
		bad = append(bad, "username")
	}
	if b.Phone != "" && ((b.ChatType != "telegram" && b.ChatType != "max") || !isDigits(b.Phone)) {
		bad = append(bad, "phone")
	}
	if b.ContentURI != "" && !validHTTPURL(b.ContentURI) {
		bad = append(bad, "contentUri")
	}
	if len(bad) > 0 {
		failExtended(w, http.StatusBadRequest, "INVALID_MESSAGE_DATA", "Message data is invalid",
			map[string]any{"fields": uniq(bad)})
		return
	}
	if restricted {
		b.CrmUserID = "" // "Does not work when connecting via Sidecar API"
	}

	s := a.s
	s.mu.Lock()
	now := s.clock()
	fetch := s.fetchContent && b.ContentURI != ""
	ch, code, desc, data := a.checkSend(b, now)
	if code == "" {
		code, desc, data = a.checkTemplate(b, ch)
	}
	if code != "" {
		s.mu.Unlock()
		failExtended(w, http.StatusBadRequest, code, desc, data)
		return
	}
	if b.CrmMessageID != "" {
		a.crmIDs[b.CrmMessageID] = now // reserved; released if the download fails
	}
	transport := ch.Transport
	s.mu.Unlock()

	content := b.ContentURI
	msgType := "text"
	var file *File
	if b.ContentURI != "" {
		msgType = typeFromName(b.ContentURI, "")
		if fetch {
			stored, typ, f, code, desc := s.download(r.Context(), b.ContentURI)
			if code == "" && strings.EqualFold(transport, "instagram") && typ != "image" {
				code, desc = "MESSAGES_UNSUPPORTED_CONTENT_TYPE_INSTAPI", "Supported content types for Instagram: jpg, gif, png, ico, bmp"
			}
			if code != "" {
				s.mu.Lock()
				if b.CrmMessageID != "" && a.crmIDs[b.CrmMessageID].Equal(now) {
					delete(a.crmIDs, b.CrmMessageID)
				}
				s.mu.Unlock()
				failExtended(w, http.StatusBadRequest, code, desc, nil)
				return
			}
			content, msgType, file = stored, typ, f
		}
	} else if b.TemplateID != "" {
		msgType = "wapi_template"
	}

	s.mu.Lock()
	chatID := b.ChatID
	if chatID == "" {
		chatID = a.chatByContact(b.ChannelID, b.ChatType, b.Username, b.Phone)
	}
	text := b.Text
	if b.TemplateID != "" {
		text = a.templateText(b)
	}
	m := &message{
		id: newUUID(), channelID: b.ChannelID, chatType: b.ChatType, chatID: chatID,
		text: text, contentURI: content, typ: msgType, echo: true, authorID: b.CrmUserID,
	}
	a.messages[m.id] = m
	c := a.chatOf(chatKey{b.ChannelID, b.ChatType, chatID})
	windowErr := a.windowClosed(ch, b, c, now)
	a.sent = append(a.sent, SentMessage{MessageID: m.id, ChatID: chatID, Request: b, Raw: raw, Time: now, File: file, WindowError: windowErr})
	if b.Username != "" {
		c.username = b.Username
	}
	if b.Phone != "" {
		c.phone = b.Phone
	}
	if b.ClearUnanswered == nil || *b.ClearUnanswered {
		c.unanswered = false
	}
	if a.autoStatus && a.webhookURI != "" && a.subs.MessagesAndStatuses {
		snapshot, author := *m, a.users[m.authorID].Name
		contact := c.contact(b.ChatType, chatID)
		if windowErr != "" {
			s.goAsync(func() { a.echoAndWindowError(snapshot, author, contact, windowErr) })
		} else {
			s.goAsync(func() { a.echoAndStatuses(snapshot, author, contact) })
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]string{"messageId": m.id, "chatId": chatID})
}

// checkSend applies the checks that need the account's state, in the order
// the emulator documents (ASSUMPTIONS.md); the caller holds the lock.
func (a *Account) checkSend(b SendBody, now time.Time) (ch *Channel, code, desc string, data any) {
	if b.CrmMessageID != "" {
		if t, ok := a.crmIDs[b.CrmMessageID]; ok && now.Sub(t) < CrmMessageIDWindow {
			return nil, "REPEATED_CRM_MESSAGE_ID", "You have already sent message with same crmMessageId",
				map[string]string{"crmMessageId": b.CrmMessageID}
		}
	}
	ch = a.channel(b.ChannelID)
	if ch == nil {
		return nil, "CHANNEL_NOT_FOUND", "Channel not found", map[string]string{"channelId": b.ChannelID}
	}
	if !transportServes(ch.Transport, b.ChatType) {
		return nil, "WRONG_TRANSPORT",
			fmt.Sprintf("You can't send message to %s chat from %s transport", b.ChatType, ch.Transport),
			map[string]string{"channelId": ch.ChannelID, "transport": ch.Transport, "chatType": b.ChatType}
	}
	if !strings.EqualFold(ch.State, "active") {
		code, desc := stateError(ch.State)
		return nil, code, desc, map[string]string{"channelId": ch.ChannelID, "state": ch.State}
	}
	switch {
	case b.Text != "" && b.ContentURI != "":
		return nil, "MESSAGE_ONLY_TEXT_OR_CONTENT", "Both text and contentUri cannot be sent at the same time", nil
	case b.Text == "" && b.ContentURI == "" && b.TemplateID == "":
		return nil, "MESSAGE_NOTHING_TO_SEND", "Message text not found", nil
	case b.Text != "" && strings.TrimSpace(b.Text) == "":
		return nil, "MESSAGES_TEXT_CAN_NOT_BE_BLANK", "Text message can not be blank", nil
	}
	if l := limitFor(ch.Transport); jsLength(b.Text) > l.max {
		return nil, l.code, fmt.Sprintf("Message text is longer than %d characters", l.max),
			map[string]int{"maxLength": l.max}
	}
	if b.RefMessageID != "" {
		ref := a.messages[b.RefMessageID]
		if ref == nil || ref.channelID != ch.ChannelID || (b.ChatID != "" && ref.chatID != b.ChatID) {
			return nil, "REFERENCE_MESSAGE_NOT_FOUND", "Reference message not found",
				map[string]string{"refMessageId": b.RefMessageID}
		}
	}
	return ch, "", "", nil
}

// chatOf returns (creating) a chat; the caller holds the lock.
func (a *Account) chatOf(k chatKey) *chat {
	c := a.chats[k]
	if c == nil {
		c = &chat{}
		a.chats[k] = c
	}
	return c
}

// contact is the "contact" object of a webhook message for this chat, or nil
// when nothing is known of the client.
func (c *chat) contact(chatType, chatID string) *whContact {
	ct := &whContact{Name: c.name}
	if chatType == "telegram" {
		ct.Username = c.username
	}
	if chatType == "telegram" || chatType == "max" {
		ct.Phone = c.phone
	}
	if ct.Name == "" && (chatType == "whatsapp" || chatType == "viber") {
		ct.Name = chatID // WhatsApp shows the number when there is no push name
	}
	if *ct == (whContact{}) {
		return nil
	}
	return ct
}

// chatByContact finds the Telegram/MAX chat of a username or phone, or hands
// out a new numeric chat id, as Wazzup answers a send by username/phone.
func (a *Account) chatByContact(channelID, chatType, username, phone string) string {
	for k, c := range a.chats {
		if k.channelID != channelID || k.chatType != chatType {
			continue
		}
		if (username != "" && strings.EqualFold(c.username, username)) || (phone != "" && c.phone == phone) {
			return k.chatID
		}
	}
	a.nextTgID++
	return fmt.Sprint(a.nextTgID)
}

// Download failures and their answers (channels.md §1.18; descriptions
// ours, see ASSUMPTIONS.md).
const (
	codeDownload     = "MESSAGE_DOWNLOAD_CONTENT_ERROR"
	descDownload     = "Failed to download content by the specified link"
	codeTooBig       = "MESSAGES_CONTENT_SIZE_EXCEEDED"
	codeContentBlank = "MESSAGES_CONTENT_CAN_NOT_BE_BLANK"
)

// download fetches contentUri as Wazzup does: at once, one GET, without
// following redirects (a 3xx fails), within the content timeout and size cap.
// The file is kept in the emulator's store and the store URL is what echoes
// carry; the file itself goes to SentMessage.File.
func (s *Server) download(ctx context.Context, uri string) (stored, typ string, f *File, code, desc string) {
	s.mu.Lock()
	timeout, limit := s.contentTimeout, s.maxContent
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return "", "", nil, codeDownload, descDownload
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", "", nil, codeDownload, descDownload
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", "", nil, codeDownload, fmt.Sprintf("%s: the link answered %d", descDownload, resp.StatusCode)
	}
	tooBig := fmt.Sprintf("Content exceeds the allowed size of %s", sizeText(limit))
	if resp.ContentLength > limit {
		return "", "", nil, codeTooBig, tooBig
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return "", "", nil, codeDownload, descDownload
	}
	if int64(len(body)) > limit {
		return "", "", nil, codeTooBig, tooBig
	}
	if len(body) == 0 {
		return "", "", nil, codeContentBlank, "Content can not be blank"
	}
	ctype := resp.Header.Get("Content-Type")
	if ctype == "" {
		ctype = http.DetectContentType(body)
	}
	name := ""
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		name = path.Base(params["filename"])
	}
	if name == "" || name == "." || name == "/" {
		name = path.Base(req.URL.Path)
	}
	if name == "/" || name == "." {
		name = "file"
	}
	sum := sha1.Sum(body)
	id := hex.EncodeToString(sum[:])
	s.mu.Lock()
	s.store[id] = storedFile{contentType: ctype, body: body}
	s.mu.Unlock()
	f = &File{Name: name, Type: ctype, Bytes: body}
	return s.URL() + "/store/" + id + "?filename=" + url.QueryEscape(name), typeFromName(name, ctype), f, "", ""
}

// sizeText writes a size the way the error descriptions do: "10 MB".
func sizeText(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// typeFromName guesses the message type of a file from its MIME type or name.
func typeFromName(name, ctype string) string {
	if ctype == "" {
		if u, err := url.Parse(name); err == nil {
			name = u.Path
		}
		ctype = mime.TypeByExtension(strings.ToLower(path.Ext(name)))
	}
	switch {
	case strings.HasPrefix(ctype, "image/"):
		return "image"
	case strings.HasPrefix(ctype, "audio/"):
		return "audio"
	case strings.HasPrefix(ctype, "video/"):
		return "video"
	}
	return "document"
}

// editMessage is PATCH /v3/message/:messageId: text or contentUri of an
// outgoing message. Time windows are not published and not enforced.
func (a *Account) editMessage(w http.ResponseWriter, r *http.Request, id string, restricted bool) {
	_, f, ok := readObject(r)
	if !ok {
		failExtended(w, http.StatusBadRequest, "VALIDATION_ERROR", "Request body must be a JSON object", nil)
		return
	}
	var bad []string
	text, content, author := f.str("text", &bad), f.str("contentUri", &bad), f.str("crmUserId", &bad)
	if content != "" && !validHTTPURL(content) {
		bad = append(bad, "contentUri")
	}
	if len(bad) > 0 {
		failExtended(w, http.StatusBadRequest, "INVALID_MESSAGE_DATA", "Message data is invalid", map[string]any{"fields": uniq(bad)})
		return
	}
	if restricted {
		author = ""
	}
	s := a.s
	s.mu.Lock()
	m := a.messages[id]
	var ch *Channel
	if m != nil {
		ch = a.channel(m.channelID)
	}
	code, desc := "", ""
	switch {
	case m == nil || !m.echo || ch == nil:
		code, desc = "MESSAGES_NOT_FOUND", "Message not found"
	case strings.EqualFold(ch.Transport, "wapi"):
		code, desc = "CHANNEL_INVALID_TRANSPORT_FOR_EDITING", "Channel transport does not support editing"
	case text != "" && content != "":
		code, desc = "MESSAGES_ONLY_TEXT_OR_CONTENT", "Only text or content can be edited"
	case text == "" && content == "":
		code, desc = "MESSAGE_NOTHING_TO_SEND", "Message text not found"
	case content != "" && !strings.EqualFold(ch.Transport, "telegram") && !strings.EqualFold(ch.Transport, "tgapi"):
		code, desc = "CHANNEL_INVALID_TRANSPORT_FOR_CONTENT_EDITING", "Channel transport does not support content editing"
	case jsLength(text) > limitFor(ch.Transport).max:
		code, desc = limitFor(ch.Transport).code, "Message text is too long"
	}
	if code != "" {
		s.mu.Unlock()
		failExtended(w, http.StatusBadRequest, code, desc, nil)
		return
	}
	old := *m
	m.text, m.contentURI = text, content
	if content != "" {
		m.typ = typeFromName(content, "")
	} else {
		m.typ = "text"
	}
	item := a.echoItem(*m, a.users[author].Name, nil, s.clock())
	item.AuthorID = author
	item.IsEdited = true
	item.OldInfo = &whOldInfo{OldText: old.text, OldAuthorID: old.authorID}
	m.authorID = author
	subscribed := a.webhookURI != "" && a.subs.MessagesAndStatuses
	if subscribed {
		s.goAsync(func() { _, _ = a.deliver(s.ctx, mustJSON(whMessages{Messages: []whMessage{item}}), true) })
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// deleteMessage is DELETE /v3/message/:messageId.
func (a *Account) deleteMessage(w http.ResponseWriter, _ *http.Request, id string) {
	s := a.s
	s.mu.Lock()
	m := a.messages[id]
	var ch *Channel
	if m != nil {
		ch = a.channel(m.channelID)
	}
	switch {
	case m == nil || !m.echo || ch == nil:
		s.mu.Unlock()
		failExtended(w, http.StatusBadRequest, "MESSAGES_NOT_FOUND", "Message not found", nil)
		return
	case strings.EqualFold(ch.Transport, "wapi"):
		s.mu.Unlock()
		failExtended(w, http.StatusBadRequest, "CHANNEL_INVALID_TRANSPORT_FOR_DELETION", "Channel transport does not support deletion", nil)
		return
	}
	delete(a.messages, id)
	item := a.echoItem(*m, "", nil, s.clock())
	item.IsDeleted = true
	item.OldInfo = &whOldInfo{OldText: m.text, OldAuthorID: m.authorID}
	if a.webhookURI != "" && a.subs.MessagesAndStatuses {
		s.goAsync(func() { _, _ = a.deliver(s.ctx, mustJSON(whMessages{Messages: []whMessage{item}}), true) })
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

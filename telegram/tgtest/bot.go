package tgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// Bot is one bot of the server: identity, webhook, chats, sent messages.
type Bot struct {
	s         *Server
	token     string
	id        int64
	username  string
	firstName string

	webhookURL string
	secret     string
	allowed    []string // nil: every update type
	maxConn    int
	lastError  string
	lastErrAt  time.Time

	chats        map[int64]*chat
	nextMsgID    int64 // private chats share the bot's message box
	nextUpdateID int64
	pending      []pendingUpdate // undelivered, for getUpdates
	sent         []SentMessage
	deliveries   []Delivery
	fault        *Fault
	faultLeft    int
}

// User is a Telegram user writing to a bot.
type User struct {
	ID           int64
	FirstName    string
	LastName     string
	Username     string
	LanguageCode string
}

type chat struct {
	user    User
	blocked bool
}

type pendingUpdate struct {
	id   int64
	kind string
	body []byte
}

// SentMessage is one accepted sendMessage or file send.
type SentMessage struct {
	Method    string // as called: sendMessage, sendPhoto, sendDocument, ...
	ChatID    int64
	MessageID int64
	Text      string
	Caption   string    // file sends
	File      *SentFile // file sends: what was uploaded
	ParseMode string
	Params    map[string]string // every parameter as received
	Result    json.RawMessage   // the Message answered
	Time      time.Time
}

// Delivery is one webhook POST of an update.
type Delivery struct {
	UpdateID int64
	URL      string
	Body     []byte
	Header   http.Header // as sent, X-Telegram-Bot-Api-Secret-Token included
	Attempt  int
	Status   int    // 0 when no answer came
	Err      string // transport error or timeout
	Time     time.Time
}

// FileDownload as a Fault's Method aims it at file downloads
// (/file/bot<token>/<path>) instead of a Bot API method.
const FileDownload = "file download"

// Fault makes the next calls of the bot fail with an error envelope.
type Fault struct {
	Status      int           // error_code and HTTP status; 0 only delays
	Description string        // default by status, e.g. "Too Many Requests: retry after N"
	RetryAfter  int           // parameters.retry_after (429); default 5 for 429
	Count       int           // how many calls; 0 means 1, negative until SetFault(nil)
	Method      string        // only this method (case-insensitive), or FileDownload; "" = all
	Delay       time.Duration // wait first
	Body        string        // a raw body instead of the envelope (a proxy's 502 page)
}

func (f *Fault) answer(w http.ResponseWriter) {
	if f.Body != "" {
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(f.Body))
		return
	}
	retry := f.RetryAfter
	if f.Status == http.StatusTooManyRequests && retry == 0 {
		retry = 5
	}
	desc := f.Description
	switch {
	case desc != "":
	case f.Status == http.StatusTooManyRequests:
		desc = fmt.Sprintf("Too Many Requests: retry after %d", retry)
	case errorDescriptions[f.Status] != "":
		desc = errorDescriptions[f.Status]
	default:
		desc = http.StatusText(f.Status)
	}
	answerError(w, f.Status, desc, retry)
}

// ErrNoWebhook means the bot has no webhook: the update waits for getUpdates.
var ErrNoWebhook = errors.New("tgtest: the bot has no webhook; the update is pending")

// ErrNotAllowed means the webhook's allowed_updates exclude the update.
var ErrNotAllowed = errors.New("tgtest: allowed_updates exclude this update")

// DeliveryError is returned when no attempt was answered 2xx.
type DeliveryError struct {
	Attempts int
	Status   int
	Err      string
}

func (e *DeliveryError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("tgtest: update not delivered after %d attempt(s): %s", e.Attempts, e.Err)
	}
	return fmt.Sprintf("tgtest: update not delivered after %d attempt(s): answered %d", e.Attempts, e.Status)
}

// AddBot registers a bot. The token must look like a real one,
// "<bot id>:<secret>" (e.g. "123456:ABC-DEF1234ghIkl"); the server answers a
// malformed token 401 "Unauthorized: invalid token specified" as the real one
// does. The bot's id is the number before the colon.
func (s *Server) AddBot(token, username string) *Bot {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.bots[token]; b != nil {
		return b
	}
	id, _ := strconv.ParseInt(strings.SplitN(token, ":", 2)[0], 10, 64)
	first := strings.TrimSuffix(strings.TrimSuffix(username, "_bot"), "bot")
	if first == "" {
		first = username
	}
	b := &Bot{
		s: s, token: token, id: id, username: username, firstName: first,
		chats: map[int64]*chat{}, nextMsgID: 1, nextUpdateID: 100000001, maxConn: 40,
	}
	s.bots[token] = b
	return b
}

// ID is the bot's user id.
func (b *Bot) ID() int64 { return b.id }

// Webhook returns the webhook URL and secret token set by setWebhook.
func (b *Bot) Webhook() (url, secret string) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	return b.webhookURL, b.secret
}

// Sent lists every accepted sendMessage and file send, oldest first.
func (b *Bot) Sent() []SentMessage {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	return append([]SentMessage(nil), b.sent...)
}

// Deliveries lists every webhook POST, oldest first.
func (b *Bot) Deliveries() []Delivery {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	return append([]Delivery(nil), b.deliveries...)
}

// AddChat makes a private chat with the user known to the bot, as if the
// user had pressed Start long ago, without sending an update.
func (b *Bot) AddChat(u User) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	b.chatOf(u)
}

// Block makes sendMessage to the chat fail with 403 "Forbidden: bot was
// blocked by the user" until Unblock or the user writes again.
func (b *Bot) Block(chatID int64) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	if c := b.chats[chatID]; c != nil {
		c.blocked = true
	}
}

// Unblock undoes Block.
func (b *Bot) Unblock(chatID int64) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	if c := b.chats[chatID]; c != nil {
		c.blocked = false
	}
}

// SetFault makes the next calls fail (nil clears it).
func (b *Bot) SetFault(f *Fault) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	if f == nil {
		b.fault = nil
		return
	}
	c := *f
	b.fault, b.faultLeft = &c, c.Count
	if b.faultLeft == 0 {
		b.faultLeft = 1
	}
}

// takeFault consumes the fault for a method; the caller holds the lock.
func (b *Bot) takeFault(method string) *Fault {
	f := b.fault
	if f == nil || (f.Method != "" && !strings.EqualFold(f.Method, method)) {
		return nil
	}
	if b.faultLeft > 0 {
		b.faultLeft--
		if b.faultLeft == 0 {
			b.fault = nil
		}
	}
	return f
}

func (b *Bot) chatOf(u User) *chat {
	c := b.chats[u.ID]
	if c == nil {
		c = &chat{}
		b.chats[u.ID] = c
	}
	c.user = u
	return c
}

// Wire shapes of the Bot API objects the emulator emits.
type (
	wireUser struct {
		ID           int64  `json:"id"`
		IsBot        bool   `json:"is_bot"`
		FirstName    string `json:"first_name"`
		LastName     string `json:"last_name,omitempty"`
		Username     string `json:"username,omitempty"`
		LanguageCode string `json:"language_code,omitempty"`
	}
	wireChat struct {
		ID        int64  `json:"id"`
		FirstName string `json:"first_name,omitempty"`
		LastName  string `json:"last_name,omitempty"`
		Username  string `json:"username,omitempty"`
		Type      string `json:"type"`
	}
	wireEntity struct {
		Offset int    `json:"offset"`
		Length int    `json:"length"`
		Type   string `json:"type"`
	}
	wirePhotoSize struct {
		FileID       string `json:"file_id"`
		FileUniqueID string `json:"file_unique_id"`
		FileSize     int    `json:"file_size"`
		Width        int    `json:"width"`
		Height       int    `json:"height"`
	}
	wireDocument struct {
		FileID       string `json:"file_id"`
		FileUniqueID string `json:"file_unique_id"`
		FileName     string `json:"file_name,omitempty"`
		MimeType     string `json:"mime_type,omitempty"`
		FileSize     int    `json:"file_size"`
	}
	wireMessage struct {
		MessageID       int64           `json:"message_id"`
		From            wireUser        `json:"from"`
		Chat            wireChat        `json:"chat"`
		Date            int64           `json:"date"`
		Text            string          `json:"text,omitempty"`
		Entities        []wireEntity    `json:"entities,omitempty"`
		Photo           []wirePhotoSize `json:"photo,omitempty"`
		Document        *wireDocument   `json:"document,omitempty"`
		Video           *wireVideo      `json:"video,omitempty"`
		Audio           *wireAudio      `json:"audio,omitempty"`
		Voice           *wireVoice      `json:"voice,omitempty"`
		Caption         string          `json:"caption,omitempty"`
		CaptionEntities []wireEntity    `json:"caption_entities,omitempty"`
	}
)

func (b *Bot) me() wireUser {
	return wireUser{ID: b.id, IsBot: true, FirstName: b.firstName, Username: b.username}
}

func privateChat(u User) wireChat {
	return wireChat{ID: u.ID, FirstName: u.FirstName, LastName: u.LastName, Username: u.Username, Type: "private"}
}

func human(u User) wireUser {
	return wireUser{ID: u.ID, FirstName: u.FirstName, LastName: u.LastName, Username: u.Username, LanguageCode: u.LanguageCode}
}

// utf16Len is Telegram's length unit (entity offsets, text limits).
func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

// commandEntity marks a leading /command as the real server does.
func commandEntity(text string) []wireEntity {
	if !strings.HasPrefix(text, "/") || len(text) < 2 {
		return nil
	}
	end := strings.IndexAny(text, " \n\t")
	if end < 0 {
		end = len(text)
	}
	return []wireEntity{{Offset: 0, Length: utf16Len(text[:end]), Type: "bot_command"}}
}

// dispatch serves one method; method is lower-cased as the server does.
func (b *Bot) dispatch(w http.ResponseWriter, method string, p map[string]string, files map[string]*upload) {
	switch method {
	case "getme":
		b.s.mu.Lock()
		me := struct {
			wireUser
			CanJoinGroups           bool `json:"can_join_groups"`
			CanReadAllGroupMessages bool `json:"can_read_all_group_messages"`
			SupportsInlineQueries   bool `json:"supports_inline_queries"`
			CanConnectToBusiness    bool `json:"can_connect_to_business"`
			HasMainWebApp           bool `json:"has_main_web_app"`
		}{wireUser: b.me(), CanJoinGroups: true}
		b.s.mu.Unlock()
		answerOK(w, me, "")
	case "setwebhook":
		b.setWebhook(w, p)
	case "deletewebhook":
		b.s.mu.Lock()
		was := b.webhookURL != ""
		b.webhookURL, b.secret, b.lastError = "", "", ""
		if p["drop_pending_updates"] == "true" {
			b.pending = nil
		}
		b.s.mu.Unlock()
		if was {
			answerOK(w, true, "Webhook was deleted")
		} else {
			answerOK(w, true, "Webhook is already deleted")
		}
	case "getwebhookinfo":
		b.getWebhookInfo(w)
	case "getupdates":
		b.getUpdates(w, p)
	case "sendmessage":
		b.sendMessage(w, p)
	case "getfile":
		b.getFile(w, p)
	case "sendphoto", "senddocument", "sendvideo", "sendaudio", "sendvoice":
		b.sendFile(w, method, p, files)
	default:
		answerError(w, http.StatusNotFound, "Not Found: method not found", 0)
	}
}

func (b *Bot) setWebhook(w http.ResponseWriter, p map[string]string) {
	u := p["url"]
	if u == "" {
		b.s.mu.Lock()
		was := b.webhookURL != ""
		b.webhookURL, b.secret = "", ""
		b.s.mu.Unlock()
		if was {
			answerOK(w, true, "Webhook was deleted")
		} else {
			answerOK(w, true, "Webhook is already deleted")
		}
		return
	}
	b.s.mu.Lock()
	requireHTTPS := b.s.requireHTTPS
	b.s.mu.Unlock()
	if msg := validWebhookURL(u, requireHTTPS); msg != "" {
		answerError(w, http.StatusBadRequest, msg, 0)
		return
	}
	secret := p["secret_token"]
	if len(secret) > 256 {
		answerError(w, http.StatusBadRequest, "Bad Request: secret token is too long", 0)
		return
	}
	for i := 0; i < len(secret); i++ {
		c := secret[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			answerError(w, http.StatusBadRequest, "Bad Request: secret token contains unallowed characters", 0)
			return
		}
	}
	maxConn := 40
	if v, ok := p["max_connections"]; ok && v != "" {
		n, err := strconv.Atoi(v)
		if err == nil {
			maxConn = min(max(n, 1), 100) // the server clamps, it does not refuse
		}
	}
	var allowed []string
	allowedSet := false
	if v, ok := p["allowed_updates"]; ok && v != "" {
		if json.Unmarshal([]byte(v), &allowed) != nil {
			answerError(w, http.StatusBadRequest, "Bad Request: can't parse allowed updates JSON array", 0)
			return
		}
		allowedSet = true
	}
	b.s.mu.Lock()
	same := b.webhookURL == u && b.secret == secret && b.maxConn == maxConn && p["drop_pending_updates"] != "true"
	b.webhookURL, b.secret, b.maxConn = u, secret, maxConn
	if allowedSet {
		b.allowed = allowed
	}
	if p["drop_pending_updates"] == "true" {
		b.pending = nil
	}
	b.s.mu.Unlock()
	if same {
		answerOK(w, true, "Webhook is already set")
		return
	}
	answerOK(w, true, "Webhook was set")
}

func (b *Bot) getWebhookInfo(w http.ResponseWriter) {
	b.s.mu.Lock()
	info := map[string]any{
		"url":                    b.webhookURL,
		"has_custom_certificate": false,
		"pending_update_count":   len(b.pending),
	}
	if b.webhookURL != "" {
		info["max_connections"] = b.maxConn
		if b.allowed != nil {
			info["allowed_updates"] = b.allowed
		}
		if b.lastError != "" {
			info["last_error_date"] = b.lastErrAt.Unix()
			info["last_error_message"] = b.lastError
		}
	}
	b.s.mu.Unlock()
	answerOK(w, info, "")
}

// getUpdates returns pending updates; it is refused while a webhook is set.
func (b *Bot) getUpdates(w http.ResponseWriter, p map[string]string) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	if b.webhookURL != "" {
		answerError(w, http.StatusConflict, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first", 0)
		return
	}
	offset, _ := strconv.ParseInt(p["offset"], 10, 64)
	kept := b.pending[:0]
	for _, u := range b.pending {
		if offset == 0 || u.id >= offset {
			kept = append(kept, u)
		}
	}
	b.pending = kept
	out := make([]json.RawMessage, 0, len(kept))
	for _, u := range kept {
		out = append(out, u.body)
	}
	answerOK(w, out, "")
}

// sendMessage checks in the order of the real server: the text (locally),
// then the chat, then what Telegram's servers refuse (length, blocked).
func (b *Bot) sendMessage(w http.ResponseWriter, p map[string]string) {
	text := p["text"]
	if text == "" {
		answerError(w, http.StatusBadRequest, "Bad Request: message text is empty", 0)
		return
	}
	switch strings.ToLower(p["parse_mode"]) {
	case "", "none", "html", "markdown", "markdownv2":
	default:
		answerError(w, http.StatusBadRequest, "Bad Request: unsupported parse_mode", 0)
		return
	}
	if len(text) > 1<<15 {
		answerError(w, http.StatusBadRequest, "Bad Request: text is too long", 0)
		return
	}
	chatID, ok := b.knownChat(w, p["chat_id"])
	if !ok {
		return
	}
	b.s.mu.Lock()
	c := b.chats[chatID]
	if strings.TrimSpace(text) == "" {
		b.s.mu.Unlock()
		answerError(w, http.StatusBadRequest, "Bad Request: message text is empty", 0)
		return
	}
	if utf16Len(text) > 4096 {
		b.s.mu.Unlock()
		answerError(w, http.StatusBadRequest, "Bad Request: message is too long", 0)
		return
	}
	if c.blocked {
		b.s.mu.Unlock()
		answerError(w, http.StatusForbidden, "Forbidden: bot was blocked by the user", 0)
		return
	}
	now := b.s.now()
	m := wireMessage{MessageID: b.nextMsgID, From: b.me(), Chat: privateChat(c.user), Date: now.Unix(), Text: text}
	b.nextMsgID++
	result, _ := json.Marshal(m)
	params := make(map[string]string, len(p))
	for k, v := range p {
		params[k] = v
	}
	b.sent = append(b.sent, SentMessage{Method: "sendMessage", ChatID: chatID, MessageID: m.MessageID, Text: text, ParseMode: p["parse_mode"],
		Params: params, Result: result, Time: now})
	b.s.mu.Unlock()
	answerOK(w, json.RawMessage(result), "")
}

func (b *Bot) getFile(w http.ResponseWriter, p map[string]string) {
	b.s.mu.Lock()
	f := b.s.files[p["file_id"]]
	b.s.mu.Unlock()
	if f == nil || f.bot != b {
		answerError(w, http.StatusBadRequest, "Bad Request: invalid file_id", 0)
		return
	}
	answerOK(w, map[string]any{"file_id": f.id, "file_unique_id": f.uniqueID, "file_size": len(f.data), "file_path": f.path}, "")
}

// UserWrites makes a user send a text to the bot in their private chat and
// POSTs the update to the webhook. A user writing also unblocks the bot.
// Without a webhook the update stays pending (getUpdates) and err is
// ErrNoWebhook; when no attempt is answered 2xx err is a *DeliveryError.
func (b *Bot) UserWrites(ctx context.Context, from User, text string) (int64, error) {
	if from.ID <= 0 || text == "" {
		return 0, errors.New("tgtest: UserWrites needs a user id and a text")
	}
	return b.userMessage(ctx, from, func(m *wireMessage) {
		m.Text, m.Entities = text, commandEntity(text)
	})
}

// UserSendsPhoto makes a user send a photo (three sizes, smallest first, as
// real updates list them) with an optional caption. The sizes can be fetched
// with getFile and downloaded.
func (b *Bot) UserSendsPhoto(ctx context.Context, from User, caption string) (int64, error) {
	if from.ID <= 0 {
		return 0, errors.New("tgtest: UserSendsPhoto needs a user id")
	}
	sizes := [][2]int{{90, 51}, {320, 180}, {1280, 720}}
	b.s.mu.Lock()
	photo := make([]wirePhotoSize, 0, len(sizes))
	uniqueBase := randomID(6)
	for i, sz := range sizes {
		data := jpegOf(sz[0], sz[1])
		f := b.s.addFile(b, "photos", ".jpg", data, uniqueBase+strconv.Itoa(i))
		photo = append(photo, wirePhotoSize{FileID: f.id, FileUniqueID: f.uniqueID, FileSize: len(data), Width: sz[0], Height: sz[1]})
	}
	b.s.mu.Unlock()
	return b.userMessage(ctx, from, func(m *wireMessage) {
		m.Photo, m.Caption, m.CaptionEntities = photo, caption, commandEntity(caption)
	})
}

// UserSendsDocument makes a user send a file as a document, with the name
// and MIME type the client's app reports (a client can claim anything). As
// on the real server its file_path keeps only the name's extension:
// documents/file_N.ext.
func (b *Bot) UserSendsDocument(ctx context.Context, from User, name, mimeType string, data []byte, caption string) (int64, error) {
	if from.ID <= 0 {
		return 0, errors.New("tgtest: UserSendsDocument needs a user id")
	}
	b.s.mu.Lock()
	f := b.s.addFile(b, "documents", pathExt(name), data, randomID(6))
	doc := &wireDocument{FileID: f.id, FileUniqueID: f.uniqueID, FileName: name, MimeType: mimeType, FileSize: len(data)}
	b.s.mu.Unlock()
	return b.userMessage(ctx, from, func(m *wireMessage) {
		m.Document, m.Caption, m.CaptionEntities = doc, caption, commandEntity(caption)
	})
}

// addFile stores a file; the caller holds the lock.
func (s *Server) addFile(b *Bot, dir, ext string, data []byte, unique string) *file {
	s.nextFile++
	f := &file{
		id:       "AgACAgIAAxkBAAI" + randomID(40),
		uniqueID: "AQAD" + unique,
		path:     fmt.Sprintf("%s/file_%d%s", dir, s.nextFile, ext),
		data:     data,
		bot:      b,
	}
	s.files[f.id] = f
	return f
}

// randomID returns n characters of the base64url alphabet, like file ids.
func randomID(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	return base64.RawURLEncoding.EncodeToString(buf)[:n]
}

// jpegOf renders a small grey JPEG of the size.
func jpegOf(w, h int) []byte {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(i % 251)
	}
	img.Set(0, 0, color.Gray{Y: 255})
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 50})
	return buf.Bytes()
}

// userMessage builds a private-chat message update and delivers it.
func (b *Bot) userMessage(ctx context.Context, from User, fill func(*wireMessage)) (int64, error) {
	b.s.mu.Lock()
	c := b.chatOf(from)
	c.blocked = false
	m := wireMessage{MessageID: b.nextMsgID, From: human(from), Chat: privateChat(from), Date: b.s.now().Unix()}
	b.nextMsgID++
	fill(&m)
	id := b.nextUpdateID
	b.nextUpdateID++
	body, _ := json.Marshal(struct {
		UpdateID int64       `json:"update_id"`
		Message  wireMessage `json:"message"`
	}{id, m})
	b.s.mu.Unlock()
	return id, b.deliver(ctx, pendingUpdate{id: id, kind: "message", body: body})
}

// deliver POSTs an update until it is answered 2xx, up to the configured
// attempts, with a doubling pause.
func (b *Bot) deliver(ctx context.Context, u pendingUpdate) error {
	s := b.s
	s.mu.Lock()
	hook, secret, attempts, backoff := b.webhookURL, b.secret, s.attempts, s.backoff
	allowed := b.allowed
	if hook == "" {
		b.pending = append(b.pending, u)
		s.mu.Unlock()
		return ErrNoWebhook
	}
	s.mu.Unlock()
	if !updateAllowed(allowed, u.kind) {
		return ErrNotAllowed
	}
	for i := 1; ; i++ {
		d := b.post(ctx, hook, secret, u, i)
		if d.Status >= 200 && d.Status <= 299 {
			return nil
		}
		s.mu.Lock()
		b.lastErrAt = s.now()
		if d.Status != 0 {
			b.lastError = fmt.Sprintf("Wrong response from the webhook: %d %s", d.Status, http.StatusText(d.Status))
		} else {
			b.lastError = "Connection refused"
		}
		s.mu.Unlock()
		if i >= attempts || ctx.Err() != nil || s.ctx.Err() != nil {
			return &DeliveryError{Attempts: i, Status: d.Status, Err: d.Err}
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

// updateAllowed applies allowed_updates: empty means every type except the
// opt-in ones (chat_member, message_reaction, message_reaction_count).
func updateAllowed(allowed []string, kind string) bool {
	if len(allowed) == 0 {
		return kind != "chat_member" && kind != "message_reaction" && kind != "message_reaction_count"
	}
	for _, a := range allowed {
		if a == kind {
			return true
		}
	}
	return false
}

// post makes one webhook POST and records it.
func (b *Bot) post(ctx context.Context, hook, secret string, u pendingUpdate, attempt int) Delivery {
	s := b.s
	s.mu.Lock()
	timeout := s.timeout
	d := Delivery{UpdateID: u.id, URL: hook, Body: u.body, Attempt: attempt, Time: s.now()}
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	target, user := hook, ""
	if pu, err := url.Parse(hook); err == nil && pu.User != nil {
		user = pu.User.String()
		pu.User = nil
		target = pu.String()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(u.body))
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
		if user != "" {
			if un, uerr := url.PathUnescape(user); uerr == nil {
				user = un
			}
			req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user)))
		}
		if secret != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		}
		d.Header = req.Header.Clone()
		hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		var resp *http.Response
		if resp, err = hc.Do(req); err == nil {
			d.Status = resp.StatusCode
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
		}
	}
	if err != nil {
		d.Err = err.Error()
	}
	s.mu.Lock()
	b.deliveries = append(b.deliveries, d)
	s.mu.Unlock()
	return d
}

// Chats lists the ids of the bot's known private chats, ascending.
func (b *Bot) Chats() []int64 {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	out := make([]int64, 0, len(b.chats))
	for id := range b.chats {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// knownChat reads a send's chat_id and answers the Bot API's refusal when it
// is empty or names no chat the bot has.
func (b *Bot) knownChat(w http.ResponseWriter, text string) (int64, bool) {
	if text == "" {
		answerError(w, http.StatusBadRequest, "Bad Request: chat_id is empty", 0)
		return 0, false
	}
	chatID, err := strconv.ParseInt(text, 10, 64)
	b.s.mu.Lock()
	c := b.chats[chatID]
	b.s.mu.Unlock()
	if err != nil || c == nil {
		answerError(w, http.StatusBadRequest, "Bad Request: chat not found", 0)
		return 0, false
	}
	return chatID, true
}

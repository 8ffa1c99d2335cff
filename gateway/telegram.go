package gateway

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/relay24/relay24/filestore"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/telegram"
)

// Telegram is the adapter of a Telegram bot (Bot API): one channel, the bot,
// whose chats are private chats with clients.
type Telegram struct {
	APIURL string
	HTTP   *http.Client
}

var _ Gateway = (*Telegram)(nil)

// TelegramFileRef starts the reference of a bot's file: "tg-file:<file_id>".
const TelegramFileRef = "tg-file:"

var botToken = regexp.MustCompile(`^[0-9]{3,20}:[A-Za-z0-9_-]{20,100}$`)

// Client is the Bot API client of a token.
func (t *Telegram) Client(token string) *telegram.Client {
	return telegram.NewClient(t.APIURL, token, t.HTTP)
}

// Provider implements Gateway.
func (t *Telegram) Provider() string { return ProviderTelegram }

// Traits implements Gateway: the Bot API has no idempotency key, every
// webhook carries the secret token, a bot is its one channel, its files
// are opened by file id with the token.
func (t *Telegram) Traits() Traits {
	return Traits{Title: "Telegram", WebhookSecret: true, FileRefPrefix: TelegramFileRef}
}

// Credential implements Gateway.
func (t *Telegram) Credential(r ConnectRequest) (string, error) {
	tok := strings.TrimSpace(r.BotToken)
	if !botToken.MatchString(tok) {
		return "", problem.New(problem.Invalid, "bad_bot_token", "bot_token must be a token from @BotFather (digits:letters)")
	}
	return tok, nil
}

// Connect implements Gateway: getMe checks the token and names the bot.
func (t *Telegram) Connect(ctx context.Context, token string) (Account, error) {
	me, err := t.Client(token).GetMe(ctx)
	if err != nil {
		return Account{}, Problem(err, "checking the bot token with Telegram")
	}
	return Account{ID: strconv.FormatInt(me.ID, 10), Channels: []Channel{botChannel(me)}}, nil
}

// Channels implements Gateway: the bot itself.
func (t *Telegram) Channels(ctx context.Context, token string) ([]Channel, error) {
	me, err := t.Client(token).GetMe(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the bot from Telegram: %w", err)
	}
	return []Channel{botChannel(me)}, nil
}

func botChannel(me telegram.User) Channel {
	return Channel{ExternalID: strconv.FormatInt(me.ID, 10), Transport: "telegram", Name: "@" + me.Username, PlainID: me.Username, State: "active"}
}

// RegisterWebhook implements Gateway: private messages and their edits.
func (t *Telegram) RegisterWebhook(ctx context.Context, token, uri, secret string) error {
	if err := t.Client(token).SetWebhook(ctx, uri, secret, []string{"message", "edited_message"}); err != nil {
		return Problem(err, "registering relay24's webhook with Telegram")
	}
	return nil
}

// UnregisterWebhook implements Gateway.
func (t *Telegram) UnregisterWebhook(ctx context.Context, token string) error {
	return t.Client(token).DeleteWebhook(ctx)
}

// CheckWebhook implements Gateway. An update is parsed before it is
// acknowledged: one without a usable update_id, message_id or chat id (a
// number like 1e999999 there) is refused with 400 and the parser's reason,
// which Telegram shows the bot's owner in getWebhookInfo. Filing needs those
// ids to store the message exactly once, and no retry can make them usable.
func (t *Telegram) CheckWebhook(body []byte) (bool, error) {
	if _, err := telegram.ParseUpdate(body); err != nil {
		return false, problem.Wrap(err, problem.Invalid, "malformed_update", "malformed update: "+err.Error())
	}
	return false, nil
}

// ParseWebhook implements Gateway: a private chat's message or its edit;
// anything else is ignored. account is the bot's id, its channel's.
func (t *Telegram) ParseWebhook(body []byte, account string) (*Inbound, error) {
	u, err := telegram.ParseUpdate(body)
	if err != nil {
		return nil, fmt.Errorf("stored update does not parse: %w", err)
	}
	msg, edited := u.Message, false
	if msg == nil && u.EditedMessage != nil {
		msg, edited = u.EditedMessage, true
	}
	if msg == nil {
		return &Inbound{Ignored: "telegram update of kind " + u.Kind}, nil
	}
	if msg.Chat.Type != "" && msg.Chat.Type != "private" {
		return &Inbound{Ignored: "telegram group message, chat " + strconv.FormatInt(msg.Chat.ID, 10)}, nil
	}
	in := Message{
		ProviderID: strconv.FormatInt(msg.Chat.ID, 10) + ":" + strconv.FormatInt(msg.MessageID, 10),
		ChannelExt: account, ChatType: "telegram", ChatID: strconv.FormatInt(msg.Chat.ID, 10),
		At: msg.Date, Kind: TelegramKind(msg.MediaKind()), Text: msg.Text, Edited: edited,
		Client: store.ClientInfo{Name: strings.TrimSpace(msg.Chat.FirstName + " " + msg.Chat.LastName), Username: msg.Chat.Username},
	}
	if in.Text == "" {
		in.Text = msg.Caption
	}
	if fid := msg.BestFileID(); fid != "" {
		name := in.Kind
		if msg.Document != nil && strings.TrimSpace(msg.Document.FileName) != "" {
			name = path.Base(strings.ReplaceAll(msg.Document.FileName, "\\", "/"))
		}
		in.Attachments = []Attachment{{URL: TelegramFileRef + fid, Type: in.Kind, Name: name}}
	}
	return &Inbound{Messages: []Message{in}}, nil
}

// TelegramKind names Bot API media in the gateways' common vocabulary (the
// one Wazzup uses), so placeholders and the chat treat them alike.
func TelegramKind(k string) string {
	switch k {
	case "photo":
		return "image"
	case "animation", "video_note":
		return "video"
	case "contact":
		return "vcard"
	case "location":
		return "geo"
	case "":
		return "unsupported"
	}
	return k
}

// TextLimit implements Gateway: sendMessage's 4096.
func (t *Telegram) TextLimit(string) int { return telegram.MaxTextLength }

// TextLen implements Gateway (UTF-16 code units).
func (t *Telegram) TextLen(text string) int { return telegram.TextLen(text) }

// ChatType implements Gateway.
func (t *Telegram) ChatType(string) string { return "telegram" }

// PlanFile implements Gateway (channels.md §2.5): the text is the caption
// when it fits; a photo too big or odd-shaped goes as a document.
func (t *Telegram) PlanFile(_ Target, f *filestore.File, text string) (FilePlan, error) {
	mt, _, _ := mime.ParseMediaType(f.Type)
	in := telegram.InputFile{Name: f.Name, Type: mt, Bytes: f.Bytes}
	caption := telegram.TextLen(text) <= telegram.MaxCaptionLength
	capText := ""
	if caption {
		capText = text
	}
	m := fileMethod(mt, in, capText)
	if err := telegram.CheckFile(m, in, capText); err != nil {
		var le *telegram.LimitError
		if errors.As(err, &le) && le.Limit == "file size" {
			return FilePlan{}, tooLargeForChannel("Telegram", le.Max, f.Size)
		}
		return FilePlan{}, problem.Wrap(err, problem.Invalid, "file_refused_by_channel", "Telegram does not take this file: "+err.Error())
	}
	return FilePlan{Caption: caption}, nil
}

// fileMethod picks the Bot API method for a type (channels.md §2.5); a
// photo the photo method would refuse goes as a document, the file as it is.
func fileMethod(mt string, in telegram.InputFile, caption string) telegram.FileMethod {
	m := telegram.SendDocument
	switch mt {
	case "image/jpeg", "image/png", "image/webp":
		m = telegram.SendPhoto
	case "audio/ogg":
		m = telegram.SendVoice
	case "audio/mpeg", "audio/mp4":
		m = telegram.SendAudio
	case "video/mp4":
		m = telegram.SendVideo
	}
	if m == telegram.SendPhoto && telegram.CheckFile(m, in, caption) != nil {
		m = telegram.SendDocument
	}
	return m
}

// ReplyWindow implements Gateway: a bot may answer a chat at any time.
func (t *Telegram) ReplyWindow(string) time.Duration { return 0 }

// chatID is a bot's chat: a number, or no chat the bot can start.
func chatID(out Outgoing) (int64, error) {
	id, err := strconv.ParseInt(out.ChatID, 10, 64)
	if err != nil {
		return 0, failure("send_bot_cannot_start", nil) // a handle, not a chat the bot has
	}
	return id, nil
}

// SendText implements Gateway.
func (t *Telegram) SendText(ctx context.Context, token string, out Outgoing) (Sent, error) {
	id, err := chatID(out)
	if err != nil {
		return Sent{}, err
	}
	res, err := t.Client(token).SendMessage(ctx, id, out.Text)
	if err != nil {
		return Sent{}, telegramSendError(err)
	}
	return Sent{MessageID: strconv.FormatInt(id, 10) + ":" + strconv.FormatInt(res.MessageID, 10)}, nil
}

// SendFile implements Gateway: the file is uploaded, out.Text its caption.
func (t *Telegram) SendFile(ctx context.Context, token string, out Outgoing, of OutFile) (Sent, error) {
	id, err := chatID(out)
	if err != nil {
		return Sent{}, err
	}
	f, err := of.Open(ctx)
	if problem.Is(err, problem.NotFound) {
		return Sent{}, failure("send_file_gone", nil)
	} else if err != nil {
		return Sent{}, err
	}
	mt, _, _ := mime.ParseMediaType(f.Type)
	in := telegram.InputFile{Name: f.Name, Type: mt, Bytes: f.Bytes}
	res, err := t.Client(token).SendFile(ctx, fileMethod(mt, in, out.Text), id, in, out.Text)
	if err != nil {
		return Sent{}, telegramSendError(err)
	}
	return Sent{MessageID: strconv.FormatInt(id, 10) + ":" + strconv.FormatInt(res.MessageID, 10)}, nil
}

// telegramSendError classifies a send's error: 429 and server errors mean
// the message did not leave (retry, after Telegram's retry_after when it
// gave one); no answer at all means it may have; the rest are refusals.
func telegramSendError(err error) error {
	var te *telegram.Error
	var le *telegram.LimitError
	if errors.As(err, &te) && (te.Code == 429 || te.Code >= 500) {
		return &SendError{Outcome: NotSent, RetryAfter: time.Duration(te.RetryAfter) * time.Second, Err: err}
	}
	if !errors.As(err, &te) && !errors.As(err, &le) {
		return &SendError{Outcome: Uncertain, Err: err}
	}
	return failure("send_refused", err)
}

// TemplatesOn implements Gateway: a bot has no templates.
func (t *Telegram) TemplatesOn(string) bool { return false }

// SendTemplate implements Gateway: a bot has no templates.
func (t *Telegram) SendTemplate(context.Context, string, Outgoing, Template) (Sent, error) {
	return Sent{}, &NotSupportedError{Provider: ProviderTelegram, Op: "templates"}
}

// Templates implements Gateway: a bot has no templates.
func (t *Telegram) Templates(context.Context, string) ([]Template, error) {
	return nil, &NotSupportedError{Provider: ProviderTelegram, Op: "templates"}
}

// OpenAttachment implements Gateway: getFile, then the file itself. The
// caller types the file by Download.Path, never by what the file server
// claims.
func (t *Telegram) OpenAttachment(ctx context.Context, token, ref string) (*Download, error) {
	fileID, ok := strings.CutPrefix(ref, TelegramFileRef)
	if !ok {
		return nil, &AttachmentError{Permanent: true, Reason: "not a Telegram file",
			Problem: problem.New(problem.NotFound, "attachment_not_found", "attachment not found")}
	}
	c := t.Client(token)
	f, err := c.GetFile(ctx, fileID)
	if err != nil {
		ae := &AttachmentError{Reason: "Telegram did not give the file", Problem: Problem(err, "fetching the file from Telegram"), Err: err}
		var te *telegram.Error
		if errors.As(err, &te) && te.Code == http.StatusBadRequest {
			ae.Permanent, ae.Reason = true, "Telegram does not give the file: "+te.Description
		}
		return nil, ae
	}
	res, err := c.Download(ctx, f.FilePath)
	if err != nil {
		return nil, &AttachmentError{Reason: "Telegram did not send the file", Err: err,
			Problem: problem.Wrap(err, problem.Unavailable, "gateway_unavailable", "Telegram did not send the file")}
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		return nil, &AttachmentError{Reason: fmt.Sprintf("Telegram answered %d for the file", res.StatusCode),
			Problem: problem.New(problem.Unavailable, "gateway_unavailable", "Telegram answered %d for the file", res.StatusCode)}
	}
	return &Download{Body: res.Body, Size: res.ContentLength, Path: f.FilePath}, nil
}

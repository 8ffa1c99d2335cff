package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/relay24/relay24/filestore"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/telegram"
	"github.com/relay24/relay24/wazzup"
)

// fileURLPrefix marks an attachment that is an uploaded file of relay24's
// own storage: "file:<id>".
const fileURLPrefix = "file:"

// textSuffix makes the client id of the text that goes out after a file
// on a channel with no captions.
const textSuffix = "#text"

// filePlan is how a file reply leaves its channel.
type filePlan struct {
	caption    bool                // the text goes as the file's caption
	tgMethod   telegram.FileMethod // a Telegram bot's method
	separateOK bool                // a text that is not a caption goes as a second message
}

// SendFile accepts a reply with an uploaded file and an optional text: the
// file's message (and, where the channel takes no caption, the text's own
// message after it) and the send job are stored in one transaction; the
// same client id twice is one reply. The dialog's channel limits (type,
// size, caption) are checked here, before anything is accepted: a refusal
// is 400 with a code naming the limit.
func (s *Service) SendFile(ctx context.Context, portalID int64, author Author, dialogID, fileID int64, text, clientID string) (*store.Message, error) {
	text = strings.TrimSpace(text)
	if text != "" {
		if err := checkSendable(text); err != nil {
			return nil, err
		}
	}
	if s.o.Files == nil {
		return nil, problem.New(problem.Unavailable, "files_unavailable", "file storage is not configured")
	}
	t, err := s.replyTarget(ctx, portalID, dialogID, clientID, text)
	if err != nil {
		return nil, err
	}
	d, ch, clientID := t.d, t.ch, t.clientID
	f, err := s.o.Files.Get(ctx, portalID, fileID)
	if err != nil {
		return nil, err
	}
	plan, err := planFile(ch, d, f, text)
	if err != nil {
		return nil, err
	}
	if err := t.writable(); err != nil {
		return nil, err
	}
	kind := filestore.Kind(f.Type)
	atts, _ := json.Marshal([]Attachment{{URL: fileURLPrefix + strconv.FormatInt(f.ID, 10), Type: kind, Name: f.Name}})
	caption := ""
	if plan.caption {
		caption = text
	}
	var out *store.Message
	err = s.o.Store.Tx(ctx, func(tx *store.Store) error {
		m := &store.Message{PortalID: portalID, DialogID: d.ID, ChannelID: ch.ID, Direction: "out", ClientID: nullString(clientID),
			Kind: kind, Text: caption, Attachments: atts, AuthorID: nullInt(author.ID), AuthorName: author.Name, Status: "pending", SentAt: s.o.Now()}
		var err error
		out, err = s.acceptReply(ctx, tx, d, author, m, func(stored *store.Message, payload map[string]int64) error {
			if text == "" || plan.caption {
				return nil
			}
			// The text follows as its own message once the file has left
			// (its send job is enqueued with the file's outcome).
			tm := &store.Message{PortalID: portalID, DialogID: d.ID, ChannelID: ch.ID, Direction: "out", ClientID: nullString(clientID + textSuffix),
				Kind: "text", Text: text, AuthorID: nullInt(author.ID), AuthorName: author.Name, Status: "pending", SentAt: s.o.Now().Add(time.Microsecond)}
			ts, _, err := tx.InsertMessage(ctx, tm)
			if err != nil {
				return err
			}
			payload["then"] = ts.ID
			return s.afterMessage(ctx, tx, d, ts)
		})
		return err
	})
	return out, err
}

// mb formats a byte count for a person.
func mb(n int64) string {
	if n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MB"
	}
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
}

// tooLargeForChannel names the channel's limit, in the message and, for the
// page's own words, as limit_mb.
func tooLargeForChannel(what string, limit, size int64) error {
	return problem.New(problem.Invalid, "file_too_large_for_channel", "%s accepts files up to %s; this file is %s", what, mb(limit), mb(size)).
		With("limit_mb", strings.TrimSuffix(mb(limit), " MB"))
}

// planFile checks a file against the dialog's channel (channels.md §1.18
// for Wazzup, §2.5 for a Telegram bot) and says how it leaves.
func planFile(ch *store.Channel, d *store.Dialog, f *filestore.File, text string) (filePlan, error) {
	mt, _, _ := mime.ParseMediaType(f.Type)
	kind := filestore.Kind(f.Type)
	if ch.Provider == "telegram" {
		in := telegram.InputFile{Name: f.Name, Type: mt, Bytes: f.Bytes}
		caption := telegram.TextLen(text) <= telegram.MaxCaptionLength
		capText := ""
		if caption {
			capText = text
		}
		m := telegramMethod(mt)
		if m == telegram.SendPhoto && telegram.CheckFile(m, in, capText) != nil {
			m = telegram.SendDocument // too big or odd-shaped for a photo: the file as it is
		}
		if err := telegram.CheckFile(m, in, capText); err != nil {
			var le *telegram.LimitError
			if errors.As(err, &le) && le.Limit == "file size" {
				return filePlan{}, tooLargeForChannel("Telegram", le.Max, f.Size)
			}
			return filePlan{}, problem.Wrap(err, problem.Invalid, "file_refused_by_channel", "Telegram does not take this file: "+err.Error())
		}
		return filePlan{caption: caption, tgMethod: m, separateOK: true}, nil
	}
	// Wazzup: no captions; at most 10 MB through the API, less per transport.
	title := transportTitle(d.ChatType)
	limit := int64(wazzup.MaxContentSize)
	switch strings.ToLower(ch.Transport) {
	case wazzup.TransportInstagram:
		if mt != "image/jpeg" && mt != "image/png" && mt != "image/bmp" {
			return filePlan{}, problem.New(problem.Invalid, "file_type_not_allowed_for_channel",
				"Instagram accepts only JPEG, PNG and BMP images; this file is %s", mt)
		}
		limit = 8 << 20
	case wazzup.TransportWABA:
		title = "WhatsApp Business"
		switch kind {
		case "image":
			if mt != "image/jpeg" && mt != "image/png" {
				return filePlan{}, problem.New(problem.Invalid, "file_type_not_allowed_for_channel",
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
		return filePlan{}, tooLargeForChannel(title, limit, f.Size)
	}
	return filePlan{separateOK: true}, nil
}

// telegramMethod picks the Bot API method for a type (channels.md §2.5).
func telegramMethod(mt string) telegram.FileMethod {
	switch mt {
	case "image/jpeg", "image/png", "image/webp":
		return telegram.SendPhoto
	case "audio/ogg":
		return telegram.SendVoice
	case "audio/mpeg", "audio/mp4":
		return telegram.SendAudio
	case "video/mp4":
		return telegram.SendVideo
	}
	return telegram.SendDocument
}

// fileOf is the uploaded file a message carries, 0 for none.
func fileOf(m *store.Message) (int64, string) {
	var atts []Attachment
	if json.Unmarshal(m.Attachments, &atts) != nil || len(atts) != 1 {
		return 0, ""
	}
	id, ok := strings.CutPrefix(atts[0].URL, fileURLPrefix)
	if !ok {
		return 0, ""
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return 0, ""
	}
	return n, atts[0].Name
}

// FileURL is the public, short-lived link to a portal's uploaded file that
// a gateway fetches (no session; its last path segment is the file's name).
func (s *Service) FileURL(portalID, fileID int64, name string) string {
	exp, sig := s.o.Links.FileLink(portalID, fileID)
	seg := url.PathEscape(name)
	if seg == "" {
		seg = "file"
	}
	return strings.TrimRight(s.o.PublicURL, "/") + "/files/" + strconv.FormatInt(fileID, 10) + "/" + seg +
		"?p=" + strconv.FormatInt(portalID, 10) + "&exp=" + exp + "&sig=" + sig
}

// sendWazzupFile sends a file reply through Wazzup by its public link.
func (s *Service) sendWazzupFile(ctx context.Context, m *store.Message, d *store.Dialog, ch *store.Channel, apiKey string, first time.Time, then int64, log *slog.Logger) error {
	fileID, name := fileOf(m)
	req := wazzup.SendRequest{ChannelID: ch.ExternalID, ChatType: d.ChatType, ChatID: d.ChatID,
		ContentURI: s.FileURL(m.PortalID, fileID, name), CrmMessageID: "relay24-" + itoa(m.ID)}
	if m.AuthorID.Valid {
		req.CrmUserID = itoa(m.AuthorID.Int64)
	}
	res, err := s.wazzup(apiKey).SendFile(ctx, req)
	var me *wazzup.MediaError
	switch {
	case err == nil:
		return s.markSentThen(ctx, m, res.MessageID, then)
	case wazzup.IsDuplicate(err):
		log.InfoContext(ctx, "file send was already accepted by Wazzup")
		return s.markSentThen(ctx, m, "", then)
	case wazzup.Temporary(err), errors.As(err, &me) && me.Retryable():
		if s.o.Now().Sub(first) > dedupeWindow {
			return s.failSendThen(ctx, m, failure("send_not_confirmed", "Wazzup"), then, log)
		}
		return fmt.Errorf("sending a file through Wazzup: %w", err)
	default:
		return s.failSendThen(ctx, m, failure("send_refused", sendError(err)), then, log)
	}
}

// sendTelegramFile uploads a file reply to a bot's chat, the text as its
// caption when it fits.
func (s *Service) sendTelegramFile(ctx context.Context, m *store.Message, d *store.Dialog, token string, then int64, log *slog.Logger) error {
	chatID, err := strconv.ParseInt(d.ChatID, 10, 64)
	if err != nil {
		return s.failSendThen(ctx, m, failure("send_bot_cannot_start", ""), then, log)
	}
	fileID, _ := fileOf(m)
	f, err := s.o.Files.Get(ctx, m.PortalID, fileID)
	if problem.Is(err, problem.NotFound) {
		return s.failSendThen(ctx, m, failure("send_file_gone", ""), then, log)
	} else if err != nil {
		return err
	}
	mt, _, _ := mime.ParseMediaType(f.Type)
	in := telegram.InputFile{Name: f.Name, Type: mt, Bytes: f.Bytes}
	method := telegramMethod(mt)
	if method == telegram.SendPhoto && telegram.CheckFile(method, in, m.Text) != nil {
		method = telegram.SendDocument
	}
	res, err := s.telegram(token).SendFile(ctx, method, chatID, in, m.Text)
	if err == nil {
		return s.markSentThen(ctx, m, strconv.FormatInt(chatID, 10)+":"+strconv.FormatInt(res.MessageID, 10), then)
	}
	if busy, err := s.telegramBusy(ctx, m, err, "sending a file through Telegram"); busy {
		return err
	}
	var te *telegram.Error
	var le *telegram.LimitError
	if !errors.As(err, &te) && !errors.As(err, &le) {
		return s.failSendThen(ctx, m, failure("send_no_answer", "Telegram"), then, log)
	}
	return s.failSendThen(ctx, m, failure("send_refused", sendError(err)), then, log)
}

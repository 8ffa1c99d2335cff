package telegram

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // registered for the photo dimension check
	_ "image/jpeg"
	_ "image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// FileMethod is a Bot API method that sends one file (channels.md §2.5).
type FileMethod string

const (
	SendPhoto    FileMethod = "sendPhoto"    // image shown as a photo; 10 MB
	SendDocument FileMethod = "sendDocument" // any file; 50 MB
	SendVideo    FileMethod = "sendVideo"    // MPEG4 video; 50 MB
	SendAudio    FileMethod = "sendAudio"    // MP3 or M4A for the music player; 50 MB
	SendVoice    FileMethod = "sendVoice"    // OGG/OPUS, MP3 or M4A voice note; 50 MB
)

// Upload limits of the Bot API for multipart uploads (channels.md §2.5).
const (
	MaxPhotoUpload      = 10 << 20 // sendPhoto
	MaxFileUpload       = 50 << 20 // the other file methods
	MaxCaptionLength    = 1024     // caption, in TextLen units (no parse_mode: the raw text)
	MaxPhotoSides       = 10000    // sendPhoto: width + height
	MaxPhotoAspectRatio = 20       // sendPhoto: longer side / shorter side
)

// Param is the multipart part that carries the method's file: photo,
// document, video, audio or voice; "" for an unknown method.
func (m FileMethod) Param() string {
	switch m {
	case SendPhoto:
		return "photo"
	case SendDocument:
		return "document"
	case SendVideo:
		return "video"
	case SendAudio:
		return "audio"
	case SendVoice:
		return "voice"
	}
	return ""
}

// MaxUpload is the largest file the method takes by upload.
func (m FileMethod) MaxUpload() int64 {
	if m == SendPhoto {
		return MaxPhotoUpload
	}
	return MaxFileUpload
}

// InputFile is a file to upload. The bytes are held in memory so the size
// is known before the request is made: a file over the cap must not cost an
// upload of up to 50 MB only to be refused with 413.
type InputFile struct {
	Name  string // the filename the recipient sees (documents, audio, video)
	Type  string // MIME type of the part; "" means application/octet-stream
	Bytes []byte
}

// LimitError is a file send refused before any request because it breaks a
// documented limit of the method. It is permanent: the same file and caption
// will be refused again (send as a document, or the text separately).
type LimitError struct {
	Method FileMethod
	Limit  string // "file size", "caption length", "photo dimensions", "photo aspect ratio", "empty file"
	Max    int64  // the limit (bytes, TextLen units, pixels, ratio)
	Got    int64  // what the request had
}

func (e *LimitError) Error() string {
	switch e.Limit {
	case "empty file":
		return fmt.Sprintf("telegram %s: the file is empty", e.Method)
	case "file size":
		return fmt.Sprintf("telegram %s: file size %d bytes is over the upload limit of %d bytes", e.Method, e.Got, e.Max)
	}
	return fmt.Sprintf("telegram %s: %s %d is over the limit of %d", e.Method, e.Limit, e.Got, e.Max)
}

// ErrUnknownFileMethod is returned by SendFile for a method that sends no file.
var ErrUnknownFileMethod = errors.New("telegram: not a file method")

// CheckFile applies the method's documented limits to a file and caption:
// size (10 MB photos, 50 MB others, not empty), caption ≤ 1024, and for a
// photo whose dimensions can be read, width + height ≤ 10000 and aspect
// ratio ≤ 20. It returns a *LimitError naming the first limit broken.
func CheckFile(m FileMethod, f InputFile, caption string) error {
	if m.Param() == "" {
		return fmt.Errorf("%w: %q", ErrUnknownFileMethod, string(m))
	}
	size := int64(len(f.Bytes))
	switch {
	case size == 0:
		return &LimitError{Method: m, Limit: "empty file", Max: m.MaxUpload(), Got: 0}
	case size > m.MaxUpload():
		return &LimitError{Method: m, Limit: "file size", Max: m.MaxUpload(), Got: size}
	}
	if n := TextLen(caption); n > MaxCaptionLength {
		return &LimitError{Method: m, Limit: "caption length", Max: MaxCaptionLength, Got: int64(n)}
	}
	if m == SendPhoto {
		// Only formats the standard library reads are checked; Telegram
		// judges the rest itself (IMAGE_PROCESS_FAILED and the like).
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(f.Bytes)); err == nil && cfg.Width > 0 && cfg.Height > 0 {
			if sum := int64(cfg.Width + cfg.Height); sum > MaxPhotoSides {
				return &LimitError{Method: m, Limit: "photo dimensions", Max: MaxPhotoSides, Got: sum}
			}
			long, short := max(cfg.Width, cfg.Height), min(cfg.Width, cfg.Height)
			if long > MaxPhotoAspectRatio*short {
				return &LimitError{Method: m, Limit: "photo aspect ratio", Max: MaxPhotoAspectRatio, Got: int64(long / short)}
			}
		}
	}
	return nil
}

// SendPhoto uploads an image as a photo (Telegram recompresses it and keeps
// sizes; send as a document to keep the original).
func (c *Client) SendPhoto(ctx context.Context, chatID int64, f InputFile, caption string) (Message, error) {
	return c.SendFile(ctx, SendPhoto, chatID, f, caption)
}

// SendDocument uploads any file as a document, its name kept.
func (c *Client) SendDocument(ctx context.Context, chatID int64, f InputFile, caption string) (Message, error) {
	return c.SendFile(ctx, SendDocument, chatID, f, caption)
}

// SendVideo uploads an MPEG4 video (others may arrive as a document).
func (c *Client) SendVideo(ctx context.Context, chatID int64, f InputFile, caption string) (Message, error) {
	return c.SendFile(ctx, SendVideo, chatID, f, caption)
}

// SendAudio uploads MP3 or M4A music, shown in the player.
func (c *Client) SendAudio(ctx context.Context, chatID int64, f InputFile, caption string) (Message, error) {
	return c.SendFile(ctx, SendAudio, chatID, f, caption)
}

// SendVoice uploads a voice note (OGG/OPUS, MP3 or M4A).
func (c *Client) SendVoice(ctx context.Context, chatID int64, f InputFile, caption string) (Message, error) {
	return c.SendFile(ctx, SendVoice, chatID, f, caption)
}

// SendFile uploads f with the method as multipart/form-data, the file in the
// part named after the method's parameter with its filename, caption
// optional (sent without parse_mode, so it is shown as written). The limits
// are checked first (CheckFile, *LimitError, no request made). The answer
// is the sent Message: MessageID, and the file's id in BestFileID. Errors
// answered by Telegram are *Error; 413 means the upload was over the cap.
func (c *Client) SendFile(ctx context.Context, m FileMethod, chatID int64, f InputFile, caption string) (Message, error) {
	if err := CheckFile(m, f, caption); err != nil {
		return Message{}, err
	}
	body, ctype, length, err := multipartBody(m.Param(), chatID, f, caption)
	if err != nil {
		return Message{}, fmt.Errorf("telegram %s: encode request: %w", m, err)
	}
	var msg Message
	if err := c.post(ctx, string(m), ctype, body, length, &msg); err != nil {
		return Message{}, err
	}
	if msg.MessageID == 0 {
		return Message{}, fmt.Errorf("telegram %s: the answer carries no message_id", m)
	}
	return msg, nil
}

// multipartBody streams the form without copying the file: the fields and
// the file part's header, the bytes, then the closing boundary. Its length
// is known, so the upload goes with a Content-Length.
func multipartBody(param string, chatID int64, f InputFile, caption string) (io.Reader, string, int64, error) {
	var head bytes.Buffer
	w := multipart.NewWriter(&head)
	if err := w.WriteField("chat_id", strconv.FormatInt(chatID, 10)); err != nil {
		return nil, "", 0, err
	}
	if caption != "" {
		if err := w.WriteField("caption", caption); err != nil {
			return nil, "", 0, err
		}
	}
	name := f.Name
	if name == "" {
		name = param
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, param, quoteName(name)))
	typ := f.Type
	if typ == "" {
		typ = "application/octet-stream"
	}
	h.Set("Content-Type", typ)
	if _, err := w.CreatePart(h); err != nil {
		return nil, "", 0, err
	}
	prefix := bytes.Clone(head.Bytes())
	head.Reset()
	if err := w.Close(); err != nil {
		return nil, "", 0, err
	}
	trailer := bytes.Clone(head.Bytes())
	length := int64(len(prefix) + len(f.Bytes) + len(trailer))
	return io.MultiReader(bytes.NewReader(prefix), bytes.NewReader(f.Bytes), bytes.NewReader(trailer)),
		w.FormDataContentType(), length, nil
}

// quoteName makes a filename safe inside the quoted Content-Disposition
// parameter: backslash and quote escaped, line breaks dropped (they would
// end the header). Other UTF-8 goes as is, which the Bot API reads.
func quoteName(s string) string {
	s = strings.NewReplacer("\r", "", "\n", "").Replace(s)
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// post sends a prepared body to the method and decodes the answer.
func (c *Client) post(ctx context.Context, method, ctype string, body io.Reader, length int64, result any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/bot"+c.token+"/"+method, body)
	if err != nil {
		return fmt.Errorf("telegram %s: %s", method, c.redact(err.Error()))
	}
	req.ContentLength = length
	req.Header.Set("Content-Type", ctype)
	return c.exchange(req, method, result)
}

package telegram

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"
	"unicode/utf16"
)

// MaxTextLength is the longest text sendMessage accepts, in TextLen units.
const MaxTextLength = 4096

// TextLen measures a text in UTF-16 code units, the unit Telegram counts
// entity offsets in. Measuring the 4096 limit so is never more lenient than
// counting characters.
func TextLen(s string) int {
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

// ValidSecretToken reports whether s may be the secret_token of setWebhook:
// 1 to 256 characters of A-Z, a-z, 0-9, _ and - (the Bot API server refuses
// anything else with "secret token contains unallowed characters").
func ValidSecretToken(s string) bool {
	if len(s) == 0 || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// User is a Telegram user or bot.
type User struct {
	ID           int64
	IsBot        bool
	FirstName    string
	LastName     string
	Username     string
	LanguageCode string
}

// Chat is the chat a message belongs to; for a private chat ID is the user's.
type Chat struct {
	ID        int64
	Type      string // private, group, supergroup, channel
	Title     string
	Username  string
	FirstName string
	LastName  string
}

// PhotoSize is one size of a photo.
type PhotoSize struct {
	FileID       string
	FileUniqueID string
	Width        int
	Height       int
	FileSize     int64
}

// Document is a general file.
type Document struct {
	FileID       string
	FileUniqueID string
	FileName     string
	MimeType     string
	FileSize     int64
}

// File is what getFile answers: FilePath is valid for at least an hour and is
// downloaded from Client.FileURL(FilePath).
type File struct {
	FileID       string
	FileUniqueID string
	FileSize     int64
	FilePath     string
}

// Message is a Telegram message. Media relay24 only forwards as files are
// kept verbatim (Voice, Audio, ...); BestFileID reaches into them.
type Message struct {
	MessageID    int64
	Date         time.Time // zero when absent or unusable
	EditDate     time.Time // zero unless edited
	Chat         Chat
	From         *User
	Text         string
	Caption      string
	Photo        []PhotoSize // sizes, smallest first
	Document     *Document
	Voice        json.RawMessage
	Audio        json.RawMessage
	Video        json.RawMessage
	VideoNote    json.RawMessage
	Animation    json.RawMessage
	Sticker      json.RawMessage
	Contact      json.RawMessage
	Location     json.RawMessage
	MediaGroupID string // set on every message of an album
	Raw          json.RawMessage
}

// MediaKind names what the message carries: photo, document, voice, audio,
// video, video_note, animation, sticker, contact, location, text, or "" for
// anything else (a service message, a poll, ...). An animation also carries
// a document; it is reported as animation.
func (m *Message) MediaKind() string {
	switch {
	case len(m.Photo) > 0:
		return "photo"
	case m.Animation != nil:
		return "animation"
	case m.Document != nil:
		return "document"
	case m.Voice != nil:
		return "voice"
	case m.Audio != nil:
		return "audio"
	case m.Video != nil:
		return "video"
	case m.VideoNote != nil:
		return "video_note"
	case m.Sticker != nil:
		return "sticker"
	case m.Contact != nil:
		return "contact"
	case m.Location != nil:
		return "location"
	case m.Text != "":
		return "text"
	}
	return ""
}

// BestFileID returns the file to download for the message's media: the
// largest photo size, else the file of the document, voice, audio, video,
// video note, animation or sticker; "" when there is none.
func (m *Message) BestFileID() string {
	if len(m.Photo) > 0 {
		best := m.Photo[len(m.Photo)-1] // Telegram lists sizes smallest first
		for _, p := range m.Photo {
			if p.Width*p.Height > best.Width*best.Height || (p.Width*p.Height == best.Width*best.Height && p.FileSize > best.FileSize) {
				best = p
			}
		}
		return best.FileID
	}
	for _, raw := range []json.RawMessage{m.Animation, m.Voice, m.Audio, m.Video, m.VideoNote, m.Sticker} {
		if id := fileIDOf(raw); id != "" {
			return id
		}
	}
	if m.Document != nil {
		return m.Document.FileID
	}
	return ""
}

func fileIDOf(raw json.RawMessage) string {
	var f struct {
		FileID flexString `json:"file_id"`
	}
	if raw == nil || json.Unmarshal(raw, &f) != nil {
		return ""
	}
	return string(f.FileID)
}

// Update is one update Telegram POSTs to the webhook.
type Update struct {
	UpdateID      int64
	Kind          string // message, edited_message, callback_query, or the unknown key as sent
	Message       *Message
	EditedMessage *Message
	CallbackQuery json.RawMessage
	Raw           json.RawMessage
}

// ParseUpdate reads a webhook body. It fails on malformed JSON, a body that
// is not an object, a missing update_id, and a message without message_id or
// chat; an update of a kind it does not know is kept with Kind set to it.
func ParseUpdate(body []byte) (*Update, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, errors.New("telegram update: the body is not a JSON object")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, fmt.Errorf("telegram update: %w", err)
	}
	raw, ok := top["update_id"]
	if !ok {
		return nil, errors.New("telegram update: missing update_id")
	}
	var id flexInt
	if err := json.Unmarshal(raw, &id); err != nil || id == 0 {
		return nil, fmt.Errorf("telegram update: bad update_id %s", raw)
	}
	u := &Update{UpdateID: int64(id), Raw: append(json.RawMessage(nil), body...)}
	var err error
	if v, ok := top["message"]; ok {
		u.Message, err = parseMessage(v)
		if err != nil {
			return nil, fmt.Errorf("telegram update %d: message: %w", id, err)
		}
	}
	if v, ok := top["edited_message"]; ok {
		u.EditedMessage, err = parseMessage(v)
		if err != nil {
			return nil, fmt.Errorf("telegram update %d: edited_message: %w", id, err)
		}
	}
	if v, ok := top["callback_query"]; ok {
		v = bytes.TrimSpace(v)
		if len(v) == 0 || v[0] != '{' {
			return nil, fmt.Errorf("telegram update %d: callback_query is not an object", id)
		}
		u.CallbackQuery = append(json.RawMessage(nil), v...)
	}
	// At most one optional field per update; should several come, the known
	// ones win, then the first unknown key in sorted order.
	switch {
	case u.Message != nil:
		u.Kind = "message"
	case u.EditedMessage != nil:
		u.Kind = "edited_message"
	case u.CallbackQuery != nil:
		u.Kind = "callback_query"
	default:
		keys := make([]string, 0, len(top))
		for k := range top {
			if k != "update_id" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		if len(keys) > 0 {
			u.Kind = keys[0]
		}
	}
	return u, nil
}

func parseMessage(raw json.RawMessage) (*Message, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errors.New("not an object")
	}
	var m Message
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	if m.MessageID == 0 {
		return nil, errors.New("missing message_id")
	}
	if m.Chat.ID == 0 {
		return nil, errors.New("missing chat")
	}
	return &m, nil
}

// Wire forms: ids may be numbers or numeric strings.
type (
	wireUser struct {
		ID           flexInt    `json:"id"`
		IsBot        bool       `json:"is_bot"`
		FirstName    flexString `json:"first_name"`
		LastName     flexString `json:"last_name"`
		Username     flexString `json:"username"`
		LanguageCode flexString `json:"language_code"`
	}
	wireChat struct {
		ID        flexInt    `json:"id"`
		Type      flexString `json:"type"`
		Title     flexString `json:"title"`
		Username  flexString `json:"username"`
		FirstName flexString `json:"first_name"`
		LastName  flexString `json:"last_name"`
	}
	wirePhotoSize struct {
		FileID       flexString `json:"file_id"`
		FileUniqueID flexString `json:"file_unique_id"`
		Width        flexInt    `json:"width"`
		Height       flexInt    `json:"height"`
		FileSize     flexInt    `json:"file_size"`
	}
	wireDocument struct {
		FileID       flexString `json:"file_id"`
		FileUniqueID flexString `json:"file_unique_id"`
		FileName     flexString `json:"file_name"`
		MimeType     flexString `json:"mime_type"`
		FileSize     flexInt    `json:"file_size"`
	}
	wireFile struct {
		FileID       flexString `json:"file_id"`
		FileUniqueID flexString `json:"file_unique_id"`
		FileSize     flexInt    `json:"file_size"`
		FilePath     flexString `json:"file_path"`
	}
	wireMessage struct {
		MessageID    flexInt         `json:"message_id"`
		Date         lenientInt      `json:"date"`
		EditDate     lenientInt      `json:"edit_date"`
		Chat         *wireChat       `json:"chat"`
		From         *wireUser       `json:"from"`
		Text         flexString      `json:"text"`
		Caption      flexString      `json:"caption"`
		Photo        []wirePhotoSize `json:"photo"`
		Document     *wireDocument   `json:"document"`
		Voice        json.RawMessage `json:"voice"`
		Audio        json.RawMessage `json:"audio"`
		Video        json.RawMessage `json:"video"`
		VideoNote    json.RawMessage `json:"video_note"`
		Animation    json.RawMessage `json:"animation"`
		Sticker      json.RawMessage `json:"sticker"`
		Contact      json.RawMessage `json:"contact"`
		Location     json.RawMessage `json:"location"`
		MediaGroupID flexString      `json:"media_group_id"`
	}
)

func (w wireUser) user() User {
	return User{ID: int64(w.ID), IsBot: w.IsBot, FirstName: string(w.FirstName), LastName: string(w.LastName),
		Username: string(w.Username), LanguageCode: string(w.LanguageCode)}
}

// UnmarshalJSON reads a Bot API User object.
func (u *User) UnmarshalJSON(b []byte) error {
	var w wireUser
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*u = w.user()
	return nil
}

// UnmarshalJSON reads a Bot API Chat object.
func (c *Chat) UnmarshalJSON(b []byte) error {
	var w wireChat
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*c = Chat{ID: int64(w.ID), Type: string(w.Type), Title: string(w.Title), Username: string(w.Username),
		FirstName: string(w.FirstName), LastName: string(w.LastName)}
	return nil
}

// UnmarshalJSON reads a Bot API File object.
func (f *File) UnmarshalJSON(b []byte) error {
	var w wireFile
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*f = File{FileID: string(w.FileID), FileUniqueID: string(w.FileUniqueID), FileSize: int64(w.FileSize), FilePath: string(w.FilePath)}
	return nil
}

// UnmarshalJSON reads a Bot API Message object; Raw keeps it verbatim.
func (m *Message) UnmarshalJSON(b []byte) error {
	var w wireMessage
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	out := Message{
		MessageID: int64(w.MessageID), Date: unixTime(int64(w.Date)), EditDate: unixTime(int64(w.EditDate)),
		Text: string(w.Text), Caption: string(w.Caption), MediaGroupID: string(w.MediaGroupID),
		Voice: rawOrNil(w.Voice), Audio: rawOrNil(w.Audio), Video: rawOrNil(w.Video), VideoNote: rawOrNil(w.VideoNote),
		Animation: rawOrNil(w.Animation), Sticker: rawOrNil(w.Sticker), Contact: rawOrNil(w.Contact),
		Location: rawOrNil(w.Location), Raw: rawOrNil(b),
	}
	if w.Chat != nil {
		out.Chat = Chat{ID: int64(w.Chat.ID), Type: string(w.Chat.Type), Title: string(w.Chat.Title),
			Username: string(w.Chat.Username), FirstName: string(w.Chat.FirstName), LastName: string(w.Chat.LastName)}
	}
	if w.From != nil {
		u := w.From.user()
		out.From = &u
	}
	for _, p := range w.Photo {
		out.Photo = append(out.Photo, PhotoSize{FileID: string(p.FileID), FileUniqueID: string(p.FileUniqueID),
			Width: int(p.Width), Height: int(p.Height), FileSize: int64(p.FileSize)})
	}
	if w.Document != nil {
		out.Document = &Document{FileID: string(w.Document.FileID), FileUniqueID: string(w.Document.FileUniqueID),
			FileName: string(w.Document.FileName), MimeType: string(w.Document.MimeType), FileSize: int64(w.Document.FileSize)}
	}
	*m = out
	return nil
}

func unixTime(sec int64) time.Time {
	if sec <= 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

func rawOrNil(r json.RawMessage) json.RawMessage {
	r = bytes.TrimSpace(r)
	if len(r) == 0 || string(r) == "null" {
		return nil
	}
	return append(json.RawMessage(nil), r...)
}

// flexInt is an integer that may come as a JSON number or a numeric string;
// null is 0.
type flexInt int64

func (v *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*v = 0
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(s)
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		// Integral floats ("1.0", "1e3") are still integers.
		f, ferr := strconv.ParseFloat(string(b), 64)
		if ferr != nil || f < -9e18 || f > 9e18 || f != float64(int64(f)) {
			return fmt.Errorf("want an integer, got %.40q", b)
		}
		n = int64(f)
	}
	*v = flexInt(n)
	return nil
}

// lenientInt is a flexInt that reads anything it cannot use (1e999999, a
// word) as 0. Dates are read so: an unusable date is not worth refusing a
// message over; the time of receipt stands in (zero Message.Date). Ids stay
// strict: without them a message cannot be stored exactly once.
type lenientInt int64

func (v *lenientInt) UnmarshalJSON(b []byte) error {
	var n flexInt
	if n.UnmarshalJSON(b) != nil {
		n = 0
	}
	*v = lenientInt(n)
	return nil
}

// flexString is a string that may come as a number (kept as its literal).
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return errors.New("empty value")
	case b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
	case string(b) == "null":
		*s = ""
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		*s = flexString(b)
	default:
		return fmt.Errorf("want a string, got %.40q", b)
	}
	return nil
}

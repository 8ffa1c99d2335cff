package tgtest

import (
	"bytes"
	"encoding/json"
	"image"
	_ "image/gif" // decoders for the photo checks
	_ "image/jpeg"
	_ "image/png"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// SentFile is a file a bot sent, as the emulator received it.
type SentFile struct {
	Param  string // the part (or parameter) it came in: photo, document, video, audio, voice
	Name   string // the part's filename
	Type   string // the part's Content-Type
	Bytes  []byte
	FileID string // the file_id answered (the largest size of a photo)
}

// Upload caps of multipart uploads (channels.md §2.5); above them the
// front layer answers 413.
const (
	MaxPhotoUpload = 10 << 20
	MaxFileUpload  = 50 << 20
)

// fileMethods maps a lower-cased file method to its parameter, its cap, the
// directory of its file_path and the extension used when the name has none.
var fileMethods = map[string]struct {
	name, param, dir, ext string
	limit                 int64
}{
	"sendphoto":    {"sendPhoto", "photo", "photos", ".jpg", MaxPhotoUpload},
	"senddocument": {"sendDocument", "document", "documents", "", MaxFileUpload},
	"sendvideo":    {"sendVideo", "video", "videos", ".mp4", MaxFileUpload},
	"sendaudio":    {"sendAudio", "audio", "music", ".mp3", MaxFileUpload},
	"sendvoice":    {"sendVoice", "voice", "voice", ".oga", MaxFileUpload},
}

type (
	wireVideo struct {
		Duration     int    `json:"duration"`
		Width        int    `json:"width"`
		Height       int    `json:"height"`
		FileName     string `json:"file_name,omitempty"`
		MimeType     string `json:"mime_type,omitempty"`
		FileID       string `json:"file_id"`
		FileUniqueID string `json:"file_unique_id"`
		FileSize     int    `json:"file_size"`
	}
	wireAudio struct {
		Duration     int    `json:"duration"`
		FileName     string `json:"file_name,omitempty"`
		MimeType     string `json:"mime_type,omitempty"`
		Title        string `json:"title,omitempty"`
		Performer    string `json:"performer,omitempty"`
		FileID       string `json:"file_id"`
		FileUniqueID string `json:"file_unique_id"`
		FileSize     int    `json:"file_size"`
	}
	wireVoice struct {
		Duration     int    `json:"duration"`
		MimeType     string `json:"mime_type,omitempty"`
		FileID       string `json:"file_id"`
		FileUniqueID string `json:"file_unique_id"`
		FileSize     int    `json:"file_size"`
	}
)

// sendFile serves sendPhoto/Document/Video/Audio/Voice. Checks, in order:
// an upload over the method's cap (413, the front layer's answer, before
// anything else), the file present (a multipart part named after the
// parameter, or a file_id of the bot's in the parameter), the chat, an empty
// file, the caption, a photo's image, a blocked chat.
func (b *Bot) sendFile(w http.ResponseWriter, method string, p map[string]string, files map[string]*upload) {
	fm := fileMethods[method]
	for _, up := range files {
		if up.size > MaxFileUpload || (files[fm.param] == up && up.size > fm.limit) {
			answerError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large", 0)
			return
		}
	}
	up := files[fm.param]
	if up == nil {
		ref := p[fm.param]
		if ref == "" {
			answerError(w, http.StatusBadRequest, "Bad Request: there is no "+fm.param+" in the request", 0)
			return
		}
		if strings.HasPrefix(ref, "attach://") {
			if up = files[strings.TrimPrefix(ref, "attach://")]; up == nil {
				answerError(w, http.StatusBadRequest, "Bad Request: there is no "+fm.param+" in the request", 0)
				return
			}
		} else {
			b.s.mu.Lock()
			f := b.s.files[ref]
			b.s.mu.Unlock()
			switch {
			case f != nil && f.bot == b:
				up = &upload{name: "", data: f.data, size: int64(len(f.data))}
			case strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://"):
				// URLs are not fetched by the emulator (ASSUMPTIONS.md).
				answerError(w, http.StatusBadRequest, "Bad Request: failed to get HTTP URL content", 0)
				return
			default:
				answerError(w, http.StatusBadRequest, "Bad Request: wrong file identifier/HTTP URL specified", 0)
				return
			}
		}
	}
	chatID, ok := b.knownChat(w, p["chat_id"])
	if !ok {
		return
	}
	if up.size == 0 {
		answerError(w, http.StatusBadRequest, "Bad Request: file must be non-empty", 0)
		return
	}
	caption := p["caption"]
	if utf16Len(caption) > 1024 {
		answerError(w, http.StatusBadRequest, "Bad Request: message caption is too long", 0)
		return
	}
	var width, height int
	if fm.param == "photo" {
		cfg, _, err := image.DecodeConfig(bytes.NewReader(up.data))
		if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
			answerError(w, http.StatusBadRequest, "Bad Request: IMAGE_PROCESS_FAILED", 0)
			return
		}
		width, height = cfg.Width, cfg.Height
		if width+height > 10000 || max(width, height) > 20*min(width, height) {
			answerError(w, http.StatusBadRequest, "Bad Request: PHOTO_INVALID_DIMENSIONS", 0)
			return
		}
	}

	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	c := b.chats[chatID]
	if c.blocked {
		answerError(w, http.StatusForbidden, "Forbidden: bot was blocked by the user", 0)
		return
	}
	now := b.s.now()
	m := wireMessage{MessageID: b.nextMsgID, From: b.me(), Chat: privateChat(c.user), Date: now.Unix(), Caption: caption}
	ext := pathExt(up.name)
	if ext == "" {
		ext = fm.ext
	}
	mimeType := partType(up)
	duration, _ := strconv.Atoi(p["duration"])
	var fileID string
	if fm.param == "photo" {
		m.Photo, fileID = b.s.photoSizes(b, up.data, width, height)
	} else {
		f := b.s.addFile(b, fm.dir, ext, up.data, randomID(6))
		fileID = f.id
		n := len(up.data)
		switch fm.param {
		case "document":
			m.Document = &wireDocument{FileID: f.id, FileUniqueID: f.uniqueID, FileName: up.name, MimeType: mimeType, FileSize: n}
		case "video":
			vw, _ := strconv.Atoi(p["width"])
			vh, _ := strconv.Atoi(p["height"])
			m.Video = &wireVideo{Duration: duration, Width: vw, Height: vh, FileName: up.name, MimeType: mimeType,
				FileID: f.id, FileUniqueID: f.uniqueID, FileSize: n}
		case "audio":
			m.Audio = &wireAudio{Duration: duration, FileName: up.name, MimeType: mimeType, Title: p["title"],
				Performer: p["performer"], FileID: f.id, FileUniqueID: f.uniqueID, FileSize: n}
		case "voice":
			m.Voice = &wireVoice{Duration: duration, MimeType: mimeType, FileID: f.id, FileUniqueID: f.uniqueID, FileSize: n}
		}
	}
	b.nextMsgID++
	result, _ := json.Marshal(m)
	params := make(map[string]string, len(p))
	for k, v := range p {
		params[k] = v
	}
	b.sent = append(b.sent, SentMessage{Method: fm.name, ChatID: chatID, MessageID: m.MessageID, Caption: caption,
		ParseMode: p["parse_mode"], Params: params, Result: result, Time: now,
		File: &SentFile{Param: fm.param, Name: up.name, Type: up.ctype, Bytes: up.data, FileID: fileID}})
	answerOK(w, json.RawMessage(result), "")
}

// partType is the MIME type the answer reports: the part's own unless it is
// empty or application/octet-stream, else the one of the name's extension.
func partType(up *upload) string {
	t, _, _ := mime.ParseMediaType(up.ctype)
	if t != "" && t != "application/octet-stream" {
		return t
	}
	if byExt, _, _ := mime.ParseMediaType(mime.TypeByExtension(strings.ToLower(pathExt(up.name)))); byExt != "" {
		return byExt
	}
	return "application/octet-stream"
}

// photoSizes stores a sent photo as Telegram lists it: smaller sizes (long
// side 90, 320, 800) below the image, then the image itself scaled to a long
// side of at most 1280, smallest first. The largest keeps the uploaded bytes
// so a test can fetch them back; the smaller ones are generated JPEGs. The
// caller holds the lock. It returns the sizes and the largest's file_id.
func (s *Server) photoSizes(b *Bot, data []byte, w, h int) ([]wirePhotoSize, string) {
	long := max(w, h)
	scale := func(side int) (int, int) {
		return max(1, w*side/long), max(1, h*side/long)
	}
	unique := randomID(6)
	var out []wirePhotoSize
	for i, side := range []int{90, 320, 800} {
		if side >= long || side >= 1280 {
			break
		}
		sw, sh := scale(side)
		thumb := jpegOf(sw, sh)
		f := s.addFile(b, "photos", ".jpg", thumb, unique+strconv.Itoa(i))
		out = append(out, wirePhotoSize{FileID: f.id, FileUniqueID: f.uniqueID, FileSize: len(thumb), Width: sw, Height: sh})
	}
	bw, bh := w, h
	if long > 1280 {
		bw, bh = scale(1280)
	}
	f := s.addFile(b, "photos", ".jpg", data, unique+"x")
	out = append(out, wirePhotoSize{FileID: f.id, FileUniqueID: f.uniqueID, FileSize: len(data), Width: bw, Height: bh})
	return out, f.id
}

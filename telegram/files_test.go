package telegram_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/relay24/relay24/telegram"
	"github.com/relay24/relay24/telegram/tgtest"
)

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSendFiles(t *testing.T) {
	_, b, c := setup(t)
	b.AddChat(tgtest.User{ID: anna.ID, FirstName: anna.FirstName})
	ctx := context.Background()
	photo := pngBytes(t, 640, 480)
	cases := []struct {
		send    func(context.Context, int64, telegram.InputFile, string) (telegram.Message, error)
		method  string
		file    telegram.InputFile
		caption string
		kind    string
	}{
		{c.SendPhoto, "sendPhoto", telegram.InputFile{Name: "invoice.png", Type: "image/png", Bytes: photo}, "Ваш счёт", "photo"},
		{c.SendDocument, "sendDocument", telegram.InputFile{Name: `Счёт "№1".pdf`, Type: "application/pdf", Bytes: []byte("%PDF-1.4")}, "", "document"},
		{c.SendVideo, "sendVideo", telegram.InputFile{Name: "clip.mp4", Type: "video/mp4", Bytes: []byte("mp4 bytes")}, "clip", "video"},
		{c.SendAudio, "sendAudio", telegram.InputFile{Name: "song.mp3", Type: "audio/mpeg", Bytes: []byte("ID3 bytes")}, "", "audio"},
		{c.SendVoice, "sendVoice", telegram.InputFile{Name: "note.ogg", Type: "audio/ogg", Bytes: []byte("OggS bytes")}, "", "voice"},
		{c.SendDocument, "sendDocument", telegram.InputFile{Bytes: []byte("no name, no type")}, "", "document"},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.file.Name, func(t *testing.T) {
			m, err := tc.send(ctx, anna.ID, tc.file, tc.caption)
			if err != nil {
				t.Fatal(err)
			}
			sent := b.Sent()
			last := sent[len(sent)-1]
			if m.MessageID == 0 || m.MessageID != last.MessageID || m.MediaKind() != tc.kind || m.Caption != tc.caption {
				t.Errorf("message %d %q %q, recorded %d", m.MessageID, m.MediaKind(), m.Caption, last.MessageID)
			}
			if m.BestFileID() == "" || m.BestFileID() != last.File.FileID {
				t.Errorf("file id %q, recorded %q", m.BestFileID(), last.File.FileID)
			}
			wantName, wantType := tc.file.Name, tc.file.Type
			if wantName == "" {
				wantName = "document"
			}
			if wantType == "" {
				wantType = "application/octet-stream"
			}
			f := last.File
			if last.Method != tc.method || f.Param != tc.kind || f.Name != wantName || f.Type != wantType || !bytes.Equal(f.Bytes, tc.file.Bytes) || last.Caption != tc.caption {
				t.Errorf("recorded %s %q %q %q %d bytes, caption %q", last.Method, f.Param, f.Name, f.Type, len(f.Bytes), last.Caption)
			}
			if _, ok := last.Params["parse_mode"]; ok {
				t.Error("a caption goes without parse_mode")
			}
		})
	}
	// The document kept its name, quotes and all.
	for _, s := range b.Sent() {
		if s.Method == "sendDocument" && strings.HasPrefix(s.File.Name, "Счёт") {
			var m struct {
				Document struct {
					FileName string `json:"file_name"`
				} `json:"document"`
			}
			_ = json.Unmarshal(s.Result, &m)
			if m.Document.FileName != `Счёт "№1".pdf` {
				t.Errorf("file_name = %q", m.Document.FileName)
			}
		}
	}
}

func TestSendFileLimits(t *testing.T) {
	// Every case is refused before a request: the server counts them.
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	c := telegram.NewClient(srv.URL, token, nil)
	small := []byte("x")
	cases := []struct {
		name    string
		method  telegram.FileMethod
		file    []byte
		caption string
		limit   string
		max     int64
	}{
		{"photo over 10 MB", telegram.SendPhoto, make([]byte, telegram.MaxPhotoUpload+1), "", "file size", telegram.MaxPhotoUpload},
		{"document over 50 MB", telegram.SendDocument, make([]byte, telegram.MaxFileUpload+1), "", "file size", telegram.MaxFileUpload},
		{"video over 50 MB", telegram.SendVideo, make([]byte, telegram.MaxFileUpload+1), "", "file size", telegram.MaxFileUpload},
		{"audio over 50 MB", telegram.SendAudio, make([]byte, telegram.MaxFileUpload+1), "", "file size", telegram.MaxFileUpload},
		{"voice over 50 MB", telegram.SendVoice, make([]byte, telegram.MaxFileUpload+1), "", "file size", telegram.MaxFileUpload},
		{"empty", telegram.SendDocument, nil, "", "empty file", telegram.MaxFileUpload},
		{"caption over 1024", telegram.SendDocument, small, strings.Repeat("ж", 1025), "caption length", telegram.MaxCaptionLength},
		{"caption of emoji over 1024 UTF-16 units", telegram.SendVoice, small, strings.Repeat("😀", 513), "caption length", telegram.MaxCaptionLength},
		{"photo sides", telegram.SendPhoto, pngBytes(t, 9000, 1001), "", "photo dimensions", telegram.MaxPhotoSides},
		{"photo ratio", telegram.SendPhoto, pngBytes(t, 2100, 100), "", "photo aspect ratio", telegram.MaxPhotoAspectRatio},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.SendFile(context.Background(), tc.method, 1, telegram.InputFile{Name: "f", Bytes: tc.file}, tc.caption)
			var le *telegram.LimitError
			if !errors.As(err, &le) || le.Limit != tc.limit || le.Max != tc.max || le.Method != tc.method {
				t.Fatalf("err = %v (%T)", err, err)
			}
			if telegram.Temporary(err) || strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), string(tc.method)) {
				t.Errorf("%q: temporary %v", err, telegram.Temporary(err))
			}
		})
	}
	// At the limits nothing is refused locally (the server's 500 comes back).
	for _, tc := range []struct {
		m    telegram.FileMethod
		size int
	}{{telegram.SendPhoto, telegram.MaxPhotoUpload}, {telegram.SendDocument, telegram.MaxFileUpload}} {
		_, err := c.SendFile(context.Background(), tc.m, 1, telegram.InputFile{Bytes: make([]byte, tc.size)}, strings.Repeat("ж", 1024))
		var le *telegram.LimitError
		if errors.As(err, &le) || !telegram.Temporary(err) {
			t.Errorf("%s at the limit: %v", tc.m, err)
		}
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("%d requests, want the 2 at the limits", n)
	}
	if _, err := c.SendFile(context.Background(), "sendSticker", 1, telegram.InputFile{Bytes: small}, ""); !errors.Is(err, telegram.ErrUnknownFileMethod) {
		t.Errorf("sendSticker: %v", err)
	}
}

func TestSendFileErrorsHideTheToken(t *testing.T) {
	s, b, c := setup(t)
	b.AddChat(tgtest.User{ID: anna.ID, FirstName: anna.FirstName})
	ctx := context.Background()
	f := telegram.InputFile{Name: "a.pdf", Type: "application/pdf", Bytes: []byte("%PDF")}

	_, err := c.SendDocument(ctx, 5, f, "")
	if e := apiError(t, err); e.Code != 400 || e.Description != "Bad Request: chat not found" || e.Method != "sendDocument" {
		t.Errorf("unknown chat: %v", err)
	}
	_, err = c.SendPhoto(ctx, anna.ID, f, "")
	if e := apiError(t, err); e.Description != "Bad Request: IMAGE_PROCESS_FAILED" || telegram.Temporary(err) {
		t.Errorf("pdf as photo: %v", err)
	}
	b.Block(anna.ID)
	_, err = c.SendVoice(ctx, anna.ID, telegram.InputFile{Name: "n.ogg", Type: "audio/ogg", Bytes: []byte("OggS")}, "")
	if !telegram.Forbidden(err) {
		t.Errorf("blocked: %v", err)
	}
	b.Unblock(anna.ID)
	// 413 from a front proxy (the body as the fixture has it).
	b.SetFault(&tgtest.Fault{Status: http.StatusRequestEntityTooLarge, Body: string(fixture(t, "error_413_request_entity_too_large.json")), Method: "sendDocument"})
	_, err = c.SendDocument(ctx, anna.ID, f, "")
	if e := apiError(t, err); e.Code != 413 || e.Description != "Request Entity Too Large" || telegram.Temporary(err) {
		t.Errorf("413: %v", err)
	}
	s.Close()
	_, err = c.SendDocument(ctx, anna.ID, f, "")
	if err == nil || !telegram.Temporary(err) || strings.Contains(err.Error(), token) {
		t.Errorf("closed server: %v", err)
	}
}

package tgtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"sort"
	"strings"
	"testing"
)

// fixtureRequest replays the documented multipart sendPhoto request with a
// real JPEG in place of its placeholder.
func fixtureRequest(t *testing.T, s *Server, jpg []byte) *http.Request {
	t.Helper()
	raw := string(fixture(t, "sendPhoto_request_multipart.INFERRED.txt"))
	head, body, ok := strings.Cut(raw, "\n\n")
	if !ok {
		t.Fatal("fixture has no blank line")
	}
	lines := strings.Split(head, "\n")
	method, path, _ := strings.Cut(lines[0], " ")
	path, _, _ = strings.Cut(path, " ")
	body = strings.ReplaceAll(strings.TrimRight(body, "\n"), "\n", "\r\n") + "\r\n"
	before, after, ok := strings.Cut(body, "<binary JPEG bytes>")
	if !ok {
		t.Fatal("fixture has no file placeholder")
	}
	req, err := http.NewRequest(method, s.URL()+path, strings.NewReader(before+string(jpg)+after))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ": ")
		if k != "Host" {
			req.Header.Set(k, v)
		}
	}
	return req
}

// shape lists the keys of an object, and of its objects and first array
// items one level down ("photo[].width").
func shape(t *testing.T, b []byte) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	var keys []string
	for k, v := range m {
		keys = append(keys, k)
		var sub map[string]json.RawMessage
		var list []map[string]json.RawMessage
		if json.Unmarshal(v, &sub) == nil {
			for sk := range sub {
				keys = append(keys, k+"."+sk)
			}
		} else if json.Unmarshal(v, &list) == nil && len(list) > 0 {
			for sk := range list[0] {
				keys = append(keys, k+"[]."+sk)
			}
		}
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

// resultOf returns the result of an ok envelope.
func resultOf(t *testing.T, body []byte) []byte {
	t.Helper()
	var env struct {
		OK     bool            `json:"ok"`
		Result json.RawMessage `json:"result"`
	}
	if json.Unmarshal(body, &env) != nil || !env.OK {
		t.Fatalf("not ok: %s", body)
	}
	return env.Result
}

// shapeWithout drops the keys whose presence depends on the chat (a private
// chat's last_name/username, a group's title) before comparing shapes.
func shapeWithout(s string, drop ...string) string {
	var out []string
	for _, k := range strings.Split(s, ",") {
		keep := true
		for _, d := range drop {
			if k == d {
				keep = false
			}
		}
		if keep {
			out = append(out, k)
		}
	}
	return strings.Join(out, ",")
}

func TestSendPhotoFixture(t *testing.T) {
	s, b := setup(t)
	b.AddChat(User{ID: 1111111, FirstName: "Test Firstname"})
	jpg := jpegOf(1280, 720)
	st, body := do(t, fixtureRequest(t, s, jpg))
	if st != http.StatusOK {
		t.Fatalf("sendPhoto: %d %s", st, body)
	}
	got := resultOf(t, body)
	want := resultOf(t, fixture(t, "sendPhoto_response.INFERRED.json"))
	if shape(t, got) != shape(t, want) {
		t.Errorf("result shape\n got %s\nwant %s", shape(t, got), shape(t, want))
	}
	var m struct {
		MessageID int64  `json:"message_id"`
		Caption   string `json:"caption"`
		Photo     []struct {
			FileID string `json:"file_id"`
			Width  int    `json:"width"`
			Height int    `json:"height"`
		} `json:"photo"`
	}
	_ = json.Unmarshal(got, &m)
	if m.Caption != "Ваш счёт" || len(m.Photo) < 2 || m.Photo[len(m.Photo)-1].Width != 1280 || m.Photo[0].Width >= m.Photo[1].Width {
		t.Errorf("message = %+v", m)
	}
	sent := b.Sent()
	if len(sent) != 1 || sent[0].Method != "sendPhoto" || sent[0].MessageID != m.MessageID || sent[0].Caption != "Ваш счёт" {
		t.Fatalf("sent = %+v", sent)
	}
	f := sent[0].File
	if f.Param != "photo" || f.Name != "invoice.jpg" || f.Type != "image/jpeg" || !bytes.Equal(f.Bytes, jpg) || f.FileID != m.Photo[len(m.Photo)-1].FileID {
		t.Errorf("file = %q %q %q %d bytes %q", f.Param, f.Name, f.Type, len(f.Bytes), f.FileID)
	}
	// The largest size is downloadable and is the upload.
	st, body = postJSON(t, s, token, "getFile", `{"file_id":"`+f.FileID+`"}`)
	var gf struct {
		FilePath string `json:"file_path"`
	}
	_ = json.Unmarshal(resultOf(t, body), &gf)
	req, _ := http.NewRequest("GET", s.URL()+"/file/bot"+token+"/"+gf.FilePath, nil)
	if st, data := do(t, req); st != 200 || !bytes.Equal(data, jpg) || !strings.HasPrefix(gf.FilePath, "photos/") {
		t.Errorf("download %s: %d, %d bytes", gf.FilePath, st, len(data))
	}
}

// upload is one multipart request to a file method.
type part struct {
	name, filename, ctype string
	data                  []byte
}

func sendMultipart(t *testing.T, s *Server, method string, fields map[string]string, parts ...part) (int, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, p.name, p.filename))
		if p.ctype != "" {
			h.Set("Content-Type", p.ctype)
		}
		pw, _ := w.CreatePart(h)
		_, _ = pw.Write(p.data)
	}
	_ = w.Close()
	req, _ := http.NewRequest("POST", s.URL()+"/bot"+token+"/"+method, &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return do(t, req)
}

func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSendFileRefusals(t *testing.T) {
	s, b := setup(t)
	b.AddChat(User{ID: 77, FirstName: "Q"})
	b.AddChat(User{ID: 78, FirstName: "Blocked"})
	b.Block(78)
	chat := map[string]string{"chat_id": "77"}
	pdf := []byte("%PDF-1.4 invoice")
	jpg := jpegOf(320, 180)
	tooLarge := string(fixture(t, "error_413_request_entity_too_large.json"))
	captionTooLong := string(fixture(t, "error_400_message_caption_too_long.json"))
	bad := func(desc string) string {
		return `{"ok":false,"error_code":400,"description":"Bad Request: ` + desc + `"}`
	}
	cases := []struct {
		name   string
		method string
		fields map[string]string
		parts  []part
		status int
		body   string // the exact answer, or "" for any success
	}{
		{"photo over 10 MB", "sendPhoto", chat, []part{{"photo", "big.jpg", "image/jpeg", make([]byte, MaxPhotoUpload+1)}}, 413, tooLarge},
		{"document over 50 MB", "sendDocument", chat, []part{{"document", "big.bin", "", make([]byte, MaxFileUpload+1)}}, 413, tooLarge},
		{"document of 11 MB", "sendDocument", chat, []part{{"document", "big.bin", "", make([]byte, 11<<20)}}, 200, ""},
		{"video at 50 MB", "sendVideo", chat, []part{{"video", "clip.mp4", "video/mp4", make([]byte, MaxFileUpload)}}, 200, ""},
		{"photo in the document part", "sendPhoto", chat, []part{{"document", "a.jpg", "image/jpeg", jpg}}, 400, bad("there is no photo in the request")},
		{"no file", "sendDocument", chat, nil, 400, bad("there is no document in the request")},
		{"pdf as a photo", "sendPhoto", chat, []part{{"photo", "a.pdf", "application/pdf", pdf}}, 400, bad("IMAGE_PROCESS_FAILED")},
		{"photo sides over 10000", "sendPhoto", chat, []part{{"photo", "wide.png", "image/png", pngOf(t, 9000, 1001)}}, 400, bad("PHOTO_INVALID_DIMENSIONS")},
		{"photo ratio over 20", "sendPhoto", chat, []part{{"photo", "strip.png", "image/png", pngOf(t, 2100, 100)}}, 400, bad("PHOTO_INVALID_DIMENSIONS")},
		{"photo ratio 20", "sendPhoto", chat, []part{{"photo", "strip.png", "image/png", pngOf(t, 2000, 100)}}, 200, ""},
		{"caption over 1024", "sendDocument", map[string]string{"chat_id": "77", "caption": strings.Repeat("я", 1025)},
			[]part{{"document", "a.pdf", "application/pdf", pdf}}, 400, captionTooLong},
		{"caption of 1024", "sendDocument", map[string]string{"chat_id": "77", "caption": strings.Repeat("я", 1024)},
			[]part{{"document", "a.pdf", "application/pdf", pdf}}, 200, ""},
		{"empty file", "sendDocument", chat, []part{{"document", "a.pdf", "application/pdf", nil}}, 400, bad("file must be non-empty")},
		{"no chat_id", "sendVoice", nil, []part{{"voice", "a.ogg", "audio/ogg", []byte("OggS")}}, 400, bad("chat_id is empty")},
		{"unknown chat", "sendAudio", map[string]string{"chat_id": "5"}, []part{{"audio", "a.mp3", "audio/mpeg", []byte("ID3")}}, 400, bad("chat not found")},
		{"blocked", "sendDocument", map[string]string{"chat_id": "78"}, []part{{"document", "a.pdf", "application/pdf", pdf}}, 403,
			`{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}`},
		{"unknown file_id", "sendDocument", map[string]string{"chat_id": "77", "document": "BQACAgUAAxkDAAI"}, nil, 400, bad("wrong file identifier/HTTP URL specified")},
		{"url not fetched", "sendPhoto", map[string]string{"chat_id": "77", "photo": "https://example.com/a.jpg"}, nil, 400, bad("failed to get HTTP URL content")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(b.Sent())
			st, body := sendMultipart(t, s, tc.method, tc.fields, tc.parts...)
			if st != tc.status || (tc.body != "" && !sameJSON(t, body, []byte(tc.body))) {
				t.Errorf("answer %d %s, want %d %s", st, body, tc.status, tc.body)
			}
			if grew := len(b.Sent()) - before; (tc.status == 200) != (grew == 1) {
				t.Errorf("%d messages recorded", grew)
			}
		})
	}
}

func TestSendFileKinds(t *testing.T) {
	s, b := setup(t)
	b.AddChat(User{ID: 1111111, FirstName: "Test"})
	chat := map[string]string{"chat_id": "1111111", "caption": "샘플 파일"}
	xlsx := bytes.Repeat([]byte("PK\x03\x04"), 100)
	st, body := sendMultipart(t, s, "sendDocument", chat,
		part{"document", "sample.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", xlsx})
	if st != 200 {
		t.Fatalf("sendDocument: %d %s", st, body)
	}
	got, want := resultOf(t, body), resultOf(t, fixture(t, "sendDocument_response_upload_real_capture.json"))
	if shapeWithout(shape(t, got), "chat.last_name", "chat.username") != shape(t, want) {
		t.Errorf("document shape\n got %s\nwant %s", shape(t, got), shape(t, want))
	}
	var doc struct {
		Document struct {
			FileName string `json:"file_name"`
			MimeType string `json:"mime_type"`
			FileSize int    `json:"file_size"`
			FileID   string `json:"file_id"`
		} `json:"document"`
	}
	_ = json.Unmarshal(got, &doc)
	if doc.Document.FileName != "sample.xlsx" || doc.Document.MimeType != "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" || doc.Document.FileSize != len(xlsx) {
		t.Errorf("document = %+v", doc.Document)
	}

	for _, tc := range []struct {
		method, param, name, ctype, key, keys string
	}{
		{"sendVideo", "video", "clip.mp4", "video/mp4", "video", "duration,file_id,file_name,file_size,file_unique_id,height,mime_type,width"},
		{"sendAudio", "audio", "song.mp3", "audio/mpeg", "audio", "duration,file_id,file_name,file_size,file_unique_id,mime_type,performer,title"},
		{"sendVoice", "voice", "note.ogg", "audio/ogg", "voice", "duration,file_id,file_size,file_unique_id,mime_type"},
	} {
		fields := map[string]string{"chat_id": "1111111", "duration": "3", "title": "T", "performer": "P"}
		data := []byte("bytes of " + tc.name)
		st, body := sendMultipart(t, s, tc.method, fields, part{tc.param, tc.name, tc.ctype, data})
		if st != 200 {
			t.Fatalf("%s: %d %s", tc.method, st, body)
		}
		var m map[string]json.RawMessage
		_ = json.Unmarshal(resultOf(t, body), &m)
		var keys []string
		var obj map[string]any
		_ = json.Unmarshal(m[tc.key], &obj)
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if strings.Join(keys, ",") != tc.keys || obj["mime_type"] != tc.ctype || obj["duration"] != float64(3) {
			t.Errorf("%s: %s", tc.method, m[tc.key])
		}
		sent := b.Sent()
		if f := sent[len(sent)-1].File; f.Name != tc.name || f.Type != tc.ctype || !bytes.Equal(f.Bytes, data) || sent[len(sent)-1].Method != tc.method {
			t.Errorf("%s recorded %+v", tc.method, f)
		}
	}
	// A generic part type is replaced by the name's (built-in table: .pdf).
	st, body = sendMultipart(t, s, "sendDocument", map[string]string{"chat_id": "1111111"},
		part{"document", "a.pdf", "application/octet-stream", []byte("%PDF")})
	if st != 200 || !strings.Contains(string(body), `"mime_type":"application/pdf"`) {
		t.Errorf("octet-stream pdf: %d %s", st, body)
	}
	// A file the bot already sent goes again by its file_id.
	first := b.Sent()[0].File.FileID
	st, body = postJSON(t, s, token, "sendDocument", `{"chat_id":1111111,"document":"`+first+`"}`)
	if st != 200 || !bytes.Equal(b.Sent()[len(b.Sent())-1].File.Bytes, xlsx) {
		t.Errorf("by file_id: %d %s", st, body)
	}
}

// TestOversizedUploadIsAnswered checks the client gets the 413 answer, not a
// broken connection, when it streams a body far over the cap.
func TestOversizedUploadIsAnswered(t *testing.T) {
	s, b := setup(t)
	b.AddChat(User{ID: 77, FirstName: "Q"})
	pr, pw := io.Pipe()
	w := multipart.NewWriter(pw)
	go func() {
		_ = w.WriteField("chat_id", "77")
		fw, _ := w.CreateFormFile("photo", "huge.jpg")
		chunk := make([]byte, 1<<20)
		for range 12 {
			if _, err := fw.Write(chunk); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(w.Close())
	}()
	req, _ := http.NewRequestWithContext(context.Background(), "POST", s.URL()+"/bot"+token+"/sendPhoto", pr)
	req.Header.Set("Content-Type", w.FormDataContentType())
	st, body := do(t, req)
	if st != 413 || !sameJSON(t, body, fixture(t, "error_413_request_entity_too_large.json")) {
		t.Errorf("answer %d %s", st, body)
	}
}

package app_test

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/relay24/relay24/jobs"
	"github.com/relay24/relay24/relay"
	"github.com/relay24/relay24/secret"
	"github.com/relay24/relay24/session"
	"github.com/relay24/relay24/telegram/tgtest"
)

type uploaded struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Size int64  `json:"size"`
	Type string `json:"type"`
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		LimitMB string `json:"limit_mb"`
	} `json:"error"`
}

// upload posts a file as the composer does (multipart, field "file").
func (r *relayEnv) upload(token, name, header string, data []byte) (int, uploaded, apiError) {
	r.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{`form-data; name="file"; filename="` + name + `"`}
	if header != "" {
		h["Content-Type"] = []string{header}
	}
	part, err := w.CreatePart(h)
	if err != nil {
		r.t.Fatal(err)
	}
	part.Write(data)
	w.Close()
	req, _ := http.NewRequest("POST", r.URL+"/api/v1/files", &body)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", w.FormDataContentType())
	res, err := r.http.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out struct {
		File uploaded `json:"file"`
	}
	var e apiError
	if res.StatusCode == http.StatusCreated {
		if err := json.Unmarshal(b, &out); err != nil {
			r.t.Fatalf("upload answer %s: %v", b, err)
		}
	} else {
		_ = json.Unmarshal(b, &e)
	}
	return res.StatusCode, out.File, e
}

type fileMessage struct {
	ID          int64            `json:"id"`
	Kind        string           `json:"kind"`
	Text        string           `json:"text"`
	Status      string           `json:"status"`
	Error       *string          `json:"error"`
	Attachments []attachmentJSON `json:"attachments"`
}

// sendFile posts a file reply.
func (r *relayEnv) sendFile(token string, dialogID, fileID int64, text, clientID string) (int, fileMessage, apiError) {
	r.t.Helper()
	body := map[string]any{"file_id": fileID, "client_id": clientID}
	if text != "" {
		body["text"] = text
	}
	var raw json.RawMessage
	s := r.api("POST", "/api/v1/dialogs/"+itoa64(dialogID)+"/messages", token, body, &raw)
	var out struct {
		Message fileMessage `json:"message"`
	}
	var e apiError
	_ = json.Unmarshal(raw, &out)
	_ = json.Unmarshal(raw, &e)
	return s, out.Message, e
}

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := 0; x < w; x++ {
		img.Set(x, x%h, color.RGBA{200, 10, byte(x), 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var pdfBytes = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")

func sentOK(status string) bool { return status == "sent" || status == "delivered" || status == "read" }

// A photo with a caption and a PDF go out through Wazzup by a signed link
// the emulator downloads at once: the exact bytes and name; the caption
// follows as a second message (Wazzup takes none); a double click is one
// reply; the portal's users open the file through relay24.
func TestFileRepliesThroughWazzup(t *testing.T) {
	r := newRelayEnv(t)
	r.clientWrites(r.WA, "whatsapp", "79995550201", "Пришлите прайс и фото")
	r.settle()
	d := r.dialogs(r.Sales)[0]

	photo := pngBytes(t, 64, 48)
	s, pf, _ := r.upload(r.Sales, "витрина.png", "application/pdf", photo) // the client's header is not believed
	if s != http.StatusCreated || pf.ID == 0 || pf.Name != "витрина.png" || pf.Size != int64(len(photo)) || pf.Type != "image/png" {
		t.Fatalf("upload photo: %d %+v", s, pf)
	}
	s, doc, _ := r.upload(r.Sales, `..\..\Прайс 2026.pdf`, "", pdfBytes)
	if s != http.StatusCreated || doc.Name != "Прайс 2026.pdf" || doc.Type != "application/pdf" {
		t.Fatalf("upload pdf: %d %+v", s, doc)
	}

	s1, m1, e1 := r.sendFile(r.Sales, d.ID, pf.ID, "Наша витрина", "file-1")
	s2, m2, _ := r.sendFile(r.Sales, d.ID, pf.ID, "Наша витрина", "file-1")
	if s1 != http.StatusAccepted || s2 != http.StatusAccepted || m1.ID == 0 || m1.ID != m2.ID || m1.Kind != "image" ||
		len(m1.Attachments) != 1 || m1.Attachments[0]["name"] != "витрина.png" || m1.Attachments[0]["type"] != "image" {
		t.Fatalf("file reply: %d %d %+v %+v %+v", s1, s2, m1, m2, e1)
	}
	r.settle()
	if s, _, e := r.sendFile(r.Sales, d.ID, doc.ID, "", "file-2"); s != http.StatusAccepted {
		t.Fatalf("pdf reply: %d %+v", s, e)
	}
	r.settle()

	sent := r.Acc.Sent()
	if len(sent) != 3 {
		t.Fatalf("%d messages sent: %+v", len(sent), sent)
	}
	if f := sent[0].File; f == nil || !bytes.Equal(f.Bytes, photo) || f.Name != "витрина.png" || f.Type != "image/png" ||
		sent[0].Request.Text != "" || sent[0].Request.CrmMessageID == "" || !strings.HasPrefix(sent[0].Request.ContentURI, r.URL+"/files/") {
		t.Fatalf("photo sent %+v file %+v", sent[0].Request, sent[0].File)
	}
	if sent[1].File != nil || sent[1].Request.Text != "Наша витрина" || sent[1].Request.CrmMessageID == sent[0].Request.CrmMessageID {
		t.Fatalf("caption sent %+v", sent[1].Request)
	}
	if f := sent[2].File; f == nil || !bytes.Equal(f.Bytes, pdfBytes) || f.Name != "Прайс 2026.pdf" || f.Type != "application/pdf" {
		t.Fatalf("pdf sent %+v", sent[2].File)
	}

	var hist struct {
		Messages []fileMessage `json:"messages"`
	}
	r.api("GET", "/api/v1/dialogs/"+itoa64(d.ID)+"/messages", r.Sales, nil, &hist)
	if len(hist.Messages) != 4 {
		t.Fatalf("history %+v", hist.Messages)
	}
	for _, m := range hist.Messages[1:] {
		if !sentOK(m.Status) {
			t.Fatalf("reply not sent: %+v", m)
		}
	}
	if hist.Messages[2].Text != "Наша витрина" || hist.Messages[3].Kind != "document" {
		t.Fatalf("history %+v", hist.Messages)
	}
	// The portal's users open the sent files through relay24, safely.
	res, body := r.get(hist.Messages[1].Attachments[0]["url"])
	if res.StatusCode != 200 || !bytes.Equal(body, photo) || res.Header.Get("Content-Type") != "image/png" ||
		res.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(res.Header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("photo attachment: %d %v", res.StatusCode, res.Header)
	}
	res, body = r.get(hist.Messages[3].Attachments[0]["url"])
	if res.StatusCode != 200 || !bytes.Equal(body, pdfBytes) || res.Header.Get("Content-Type") != relay.Download ||
		!strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("pdf attachment: %d %v", res.StatusCode, res.Header)
	}
}

// A crash between Wazzup accepting a file and relay24 recording it: the
// retry repeats the crmMessageId, Wazzup refuses the repeat, and the file
// went out once.
func TestFileReplyRetriedAfterACrashSendsOnce(t *testing.T) {
	r := newRelayEnv(t)
	r.clientWrites(r.WA, "whatsapp", "79995550202", "Счёт?")
	r.settle()
	d := r.dialogs(r.Sales)[0]
	_, doc, _ := r.upload(r.Sales, "invoice.pdf", "application/pdf", pdfBytes)
	_, m, _ := r.sendFile(r.Sales, d.ID, doc.ID, "", "crash-1")
	r.settle()
	if n := len(r.Acc.Sent()); n != 1 {
		t.Fatalf("%d sent", n)
	}
	// As if the worker died after the gateway's answer and before its
	// outcome was recorded: the message is pending again with an attempt
	// started, and its job runs again.
	if _, err := r.App.Store.DB().ExecContext(r.ctx, `UPDATE messages SET status = 'pending', provider_message_id = NULL WHERE id = $1`, m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.App.Jobs.Enqueue(r.ctx, r.App.Store.DB(), relay.JobSend, map[string]int64{"message_id": m.ID}, jobs.Options{PortalID: r.PortalID}); err != nil {
		t.Fatal(err)
	}
	r.settle()
	if sent := r.Acc.Sent(); len(sent) != 1 {
		t.Fatalf("the retry sent again: %d", len(sent))
	}
	var hist struct {
		Messages []fileMessage `json:"messages"`
	}
	r.api("GET", "/api/v1/dialogs/"+itoa64(d.ID)+"/messages", r.Sales, nil, &hist)
	if last := hist.Messages[len(hist.Messages)-1]; last.ID != m.ID || !sentOK(last.Status) {
		t.Fatalf("after the retry: %+v", hist.Messages)
	}
}

// The caps: 25 MB for any upload (413, nothing stored), the channel's own
// limits before anything is accepted (400 naming the limit, nothing sent),
// an empty file, and another portal's file is not found.
func TestFileLimits(t *testing.T) {
	r := newRelayEnv(t)
	r.clientWrites(r.WA, "whatsapp", "79995550203", "Привет")
	r.clientWrites(r.IG, "instagram", "shop.client", "Hi")
	r.settle()
	var wa, ig dialogJSON
	for _, d := range r.dialogs(r.Sales) {
		if d.ChatType == "instagram" {
			ig = d
		} else {
			wa = d
		}
	}
	if s, _, e := r.upload(r.Sales, "huge.bin", "", make([]byte, 25<<20+1)); s != http.StatusRequestEntityTooLarge || e.Error.Code != "file_too_large" {
		t.Fatalf("over 25 MB: %d %+v", s, e)
	}
	if s, _, e := r.upload(r.Sales, "empty.txt", "", nil); s != http.StatusBadRequest || e.Error.Code != "empty_file" {
		t.Fatalf("empty: %d %+v", s, e)
	}
	if n := r.count(`SELECT count(*) FROM files`); n != 0 {
		t.Fatalf("%d files stored by refused uploads", n)
	}
	big := append(append([]byte{}, pdfBytes...), make([]byte, 11<<20)...)
	s, f, _ := r.upload(r.Sales, "big.pdf", "", big)
	if s != http.StatusCreated {
		t.Fatalf("11 MB upload: %d", s)
	}
	if s, _, e := r.sendFile(r.Sales, wa.ID, f.ID, "", "big-1"); s != http.StatusBadRequest || e.Error.Code != "file_too_large_for_channel" ||
		!strings.Contains(e.Error.Message, "10 MB") || e.Error.LimitMB != "10" {
		t.Fatalf("over WhatsApp's limit: %d %+v", s, e)
	}
	_, doc, _ := r.upload(r.Sales, "doc.pdf", "", pdfBytes)
	if s, _, e := r.sendFile(r.Sales, ig.ID, doc.ID, "", "ig-1"); s != http.StatusBadRequest || e.Error.Code != "file_type_not_allowed_for_channel" {
		t.Fatalf("a PDF to Instagram: %d %+v", s, e)
	}
	r.settle()
	if n := len(r.Acc.Sent()); n != 0 {
		t.Fatalf("%d sent after refusals", n)
	}
	if n := r.count(`SELECT count(*) FROM messages WHERE direction = 'out'`); n != 0 {
		t.Fatalf("%d replies stored after refusals", n)
	}
	// Another portal's file id is not found.
	other := r.installedPortal()
	otherAdmin := r.session(other, "LEFT_MENU", nil, 1)
	_, foreign, _ := r.upload(otherAdmin, "theirs.pdf", "", pdfBytes)
	if s, _, e := r.sendFile(r.Sales, wa.ID, foreign.ID, "", "foreign-1"); s != http.StatusNotFound || e.Error.Code != "file_not_found" {
		t.Fatalf("another portal's file: %d %+v", s, e)
	}
	if s, _, _ := r.sendFile(r.Sales, wa.ID, 987654, "", "missing-1"); s != http.StatusNotFound {
		t.Fatalf("missing file: %d", s)
	}
}

// The public link Wazzup fetches: exact bytes, no session, no redirect;
// a wrong signature (or another portal's, file's) is 404, an expired one 403.
func TestSignedFileURL(t *testing.T) {
	r := newRelayEnv(t)
	_, doc, _ := r.upload(r.Sales, "Прайс.pdf", "", pdfBytes)
	link, err := url.Parse(r.App.Relay.FileURL(r.PortalID, doc.ID, doc.Name))
	if err != nil || !strings.HasPrefix(link.String(), r.URL+"/files/") {
		t.Fatalf("link %v %v", link, err)
	}
	path := link.RequestURI()
	res, body := r.get(path)
	if res.StatusCode != http.StatusOK || !bytes.Equal(body, pdfBytes) || res.Header.Get("Content-Type") != "application/pdf" ||
		!strings.Contains(res.Header.Get("Content-Disposition"), "filename*=UTF-8''%D0%9F") || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("signed link: %d %v", res.StatusCode, res.Header)
	}
	q := link.Query()
	at := func(id int64, portal int64, exp, sig string) string {
		return "/files/" + itoa64(id) + "/x.pdf?p=" + itoa64(portal) + "&exp=" + exp + "&sig=" + sig
	}
	keys, err := secret.New(bytes.Repeat([]byte{0xab}, 32)) // the env's SECRET_KEY
	if err != nil {
		t.Fatal(err)
	}
	past := session.NewSigner(keys, func() time.Time { return time.Now().Add(-time.Hour) })
	pExp, pSig := past.FileLink(r.PortalID, doc.ID)
	for name, c := range map[string]struct {
		path string
		want int
	}{
		"wrong signature":   {at(doc.ID, r.PortalID, q.Get("exp"), "AAAA"+q.Get("sig")[4:]), 404},
		"no signature":      {at(doc.ID, r.PortalID, q.Get("exp"), ""), 404},
		"another portal":    {at(doc.ID, r.PortalID+1, q.Get("exp"), q.Get("sig")), 404},
		"another file":      {at(doc.ID+1, r.PortalID, q.Get("exp"), q.Get("sig")), 404},
		"extended expiry":   {at(doc.ID, r.PortalID, itoa64(time.Now().Add(time.Hour).Unix()), q.Get("sig")), 404},
		"expired":           {at(doc.ID, r.PortalID, pExp, pSig), 403},
		"a session instead": {"/files/" + itoa64(doc.ID) + "?session=" + r.Sales, 404},
	} {
		res, body := r.get(c.path)
		if res.StatusCode != c.want || bytes.Contains(body, []byte("%PDF")) || res.Header.Get("Location") != "" {
			t.Errorf("%s: %d %s", name, res.StatusCode, body)
		}
		if c.want == 403 && !strings.Contains(string(body), "link_expired") {
			t.Errorf("%s: %s", name, body)
		}
	}
}

// A Telegram bot gets the file by upload: a photo with its caption, a PDF
// as a document with its name, a caption over 1024 characters as a second
// message.
func TestFileRepliesThroughTelegram(t *testing.T) {
	r := newRelayEnv(t)
	bot := r.connectBot(r.Admin, "323456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw8", "files_bot")
	if _, err := bot.UserWrites(r.ctx, tgtest.User{ID: 888, FirstName: "Анна"}, "Пришлите фото"); err != nil {
		t.Fatal(err)
	}
	r.settle()
	d := r.dialogs(r.Admin)[0]
	photo := pngBytes(t, 40, 30)
	_, pf, _ := r.upload(r.Admin, "photo.png", "", photo)
	_, doc, _ := r.upload(r.Admin, "Прайс.pdf", "", pdfBytes)
	if s, _, e := r.sendFile(r.Admin, d.ID, pf.ID, "Вот фото", "tg-file-1"); s != http.StatusAccepted {
		t.Fatalf("photo reply: %d %+v", s, e)
	}
	r.settle()
	long := strings.Repeat("д", 1100)
	if s, _, e := r.sendFile(r.Admin, d.ID, doc.ID, long, "tg-file-2"); s != http.StatusAccepted {
		t.Fatalf("pdf reply: %d %+v", s, e)
	}
	r.settle()
	sent := bot.Sent()
	if len(sent) != 3 {
		t.Fatalf("bot sent %d: %+v", len(sent), sent)
	}
	if sent[0].Method != "sendPhoto" || sent[0].ChatID != 888 || sent[0].Caption != "Вот фото" || sent[0].File == nil || !bytes.Equal(sent[0].File.Bytes, photo) {
		t.Fatalf("photo %+v", sent[0])
	}
	if sent[1].Method != "sendDocument" || sent[1].Caption != "" || sent[1].File == nil || sent[1].File.Name != "Прайс.pdf" ||
		!bytes.Equal(sent[1].File.Bytes, pdfBytes) {
		t.Fatalf("document %+v", sent[1])
	}
	if sent[2].Method != "sendMessage" || sent[2].Text != long {
		t.Fatalf("long caption as a message: %s %d", sent[2].Method, len(sent[2].Text))
	}
	// An image over the 10 MB of sendPhoto goes as a document.
	bigPNG := append(pngBytes(t, 8, 8), make([]byte, 11<<20)...)
	_, bf, _ := r.upload(r.Admin, "big.png", "", bigPNG)
	if s, _, e := r.sendFile(r.Admin, d.ID, bf.ID, "", "tg-file-3"); s != http.StatusAccepted {
		t.Fatalf("big photo reply: %d %+v", s, e)
	}
	r.settle()
	if sent := bot.Sent(); len(sent) != 4 || sent[3].Method != "sendDocument" || sent[3].File == nil || len(sent[3].File.Bytes) != len(bigPNG) {
		t.Fatalf("big photo sent %d", len(sent))
	}
	var hist struct {
		Messages []fileMessage `json:"messages"`
	}
	r.api("GET", "/api/v1/dialogs/"+itoa64(d.ID)+"/messages", r.Admin, nil, &hist)
	if len(hist.Messages) != 5 || hist.Messages[1].Text != "Вот фото" {
		t.Fatalf("history %+v", hist.Messages)
	}
	for _, m := range hist.Messages[1:] {
		if !sentOK(m.Status) {
			t.Fatalf("not sent: %+v", m)
		}
	}
}

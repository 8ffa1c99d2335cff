package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relay24/relay24/placement"
	"github.com/relay24/relay24/telegram/tgtest"
	"github.com/relay24/relay24/wazzup/wztest"
)

// Client media kept (issue 12): a client's file is copied into relay24's
// own storage when its message arrives, through the queue, and served from
// there to the portal's users only.

// mediaMessage files a Wazzup client's message carrying uri and returns
// it (the only message of its dialog).
func (r *relayEnv) mediaMessage(chat, uri, kind string) historyMsg {
	r.t.Helper()
	if _, err := r.Acc.ClientWrites(r.ctx, r.WA.ChannelID, "whatsapp", chat, wztest.Incoming{ContentURI: uri, Type: kind, ContactName: "Клиент"}); err != nil {
		r.t.Fatal(err)
	}
	r.settle()
	return r.onlyMessage(chat)
}

func (r *relayEnv) onlyMessage(chat string) historyMsg {
	r.t.Helper()
	d, ok := r.dialogOf(r.Admin, chat)
	if !ok {
		r.t.Fatalf("no dialog of %s", chat)
	}
	ms := r.history(r.Admin, d.ID)
	if len(ms) != 1 || len(ms[0].Attachments) != 1 {
		r.t.Fatalf("messages of %s: %+v", chat, ms)
	}
	return ms[0]
}

// copyJob is the state and attempts of a message's media.copy job.
func (r *relayEnv) copyJob(messageID int64) (state string, attempts int) {
	r.t.Helper()
	if err := r.App.Store.DB().QueryRow(`SELECT state, attempts FROM jobs WHERE unique_key = $1`, "media:"+itoa64(messageID)).Scan(&state, &attempts); err != nil {
		r.t.Fatal(err)
	}
	return state, attempts
}

// retryCopy makes a message's waiting copy job due now and runs the queue.
func (r *relayEnv) retryCopy(messageID int64) {
	r.t.Helper()
	if err := r.App.Jobs.Hurry(r.ctx, r.App.Store.DB(), []string{"media:" + itoa64(messageID)}, []time.Time{time.Now()}); err != nil {
		r.t.Fatal(err)
	}
	r.drain()
}

// storedAttachment is attachment 0 of a message as stored.
func (r *relayEnv) storedAttachment(messageID int64) map[string]any {
	r.t.Helper()
	var raw []byte
	if err := r.App.Store.DB().Get(&raw, `SELECT attachments->0 FROM messages WHERE id = $1`, messageID); err != nil {
		r.t.Fatal(err)
	}
	var a map[string]any
	if err := json.Unmarshal(raw, &a); err != nil {
		r.t.Fatal(err)
	}
	return a
}

// A Wazzup image and a document are copied: relay24 serves their bytes
// from its own storage at the signed link, and a link of the gateway that
// expired afterwards changes nothing. Another portal cannot open them.
func TestClientMediaCopied(t *testing.T) {
	r := newRelayEnv(t)
	jpg := tgJPEG(t)
	doc := []byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n%%EOF\n")
	for _, c := range []struct {
		chat, name, kind, disposition, ctype string
		body                                 []byte
	}{
		{"79990002001", "photo.jpg", "image", "inline", "image/jpeg", jpg},
		{"79990002002", "прайс.pdf", "document", "attachment", "application/octet-stream", doc},
	} {
		// The store claims a type that would run in a browser: the bytes decide.
		uri := r.WZ.PutMedia(c.name, "text/html", c.body)
		m := r.mediaMessage(c.chat, uri, c.kind)
		a := m.Attachments[0]
		if a["url"] == "" || a["unavailable"] != "" || a["name"] != c.name || strings.Contains(a["url"], r.WZ.URL()) {
			t.Fatalf("%s: attachment %+v", c.kind, a)
		}
		stored := r.storedAttachment(m.ID)
		if !strings.HasPrefix(stored["url"].(string), "file:") || stored["source"] != uri {
			t.Fatalf("%s: stored %+v", c.kind, stored)
		}
		if state, attempts := r.copyJob(m.ID); state != "done" || attempts != 1 {
			t.Errorf("%s: copy job %s after %d attempts", c.kind, state, attempts)
		}
		// The gateway's link expires: the file still opens, from relay24.
		r.WZ.DropMedia(uri)
		res, body := r.get(a["url"])
		if res.StatusCode != http.StatusOK || !bytes.Equal(body, c.body) || res.Header.Get("Location") != "" ||
			res.Header.Get("Content-Type") != c.ctype || !strings.HasPrefix(res.Header.Get("Content-Disposition"), c.disposition) ||
			res.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(res.Header.Get("Content-Security-Policy"), "sandbox") {
			t.Errorf("%s: %d %v", c.kind, res.StatusCode, res.Header)
		}
		if r.WZ.MediaGets(uri) != 0 {
			t.Errorf("%s: the dropped link was asked for", c.kind)
		}

		// Another portal: neither its session nor a link it signed opens it.
		other := r.installedPortal()
		otherID := r.portalID(other)
		otherAdmin := r.session(other, placement.LeftMenu, nil, 1)
		path := "/api/v1/messages/" + itoa64(m.ID) + "/attachments/0"
		bExp, bSig := r.App.Sessions.AttachmentLink(otherID, m.ID, 0)
		for name, try := range map[string][]string{
			"its session":        {path, "Authorization", "Bearer " + otherAdmin},
			"its signature":      {path + "?exp=" + bExp + "&sig=" + bSig},
			"its session as a ?": {path + "?session=" + otherAdmin},
		} {
			if res, body := r.get(try[0], try[1:]...); res.StatusCode != http.StatusNotFound || bytes.Contains(body, c.body) {
				t.Errorf("%s: another portal with %s: %d", c.kind, name, res.StatusCode)
			}
		}
		var n int
		d, _ := r.dialogOf(r.Admin, c.chat)
		if s := r.api("GET", "/api/v1/dialogs/"+itoa64(d.ID)+"/messages", otherAdmin, nil, nil); s != http.StatusNotFound && s != http.StatusForbidden {
			t.Errorf("%s: another portal read the dialog: %d", c.kind, s)
		}
		if err := r.App.Store.DB().Get(&n, `SELECT count(*) FROM files WHERE portal_id = $1`, otherID); err != nil || n != 0 {
			t.Errorf("another portal holds %d files: %v", n, err)
		}
	}

	// An uninstall with clean data takes the copies with the portal.
	if _, err := r.P.Uninstall(r.ctx, true); err != nil {
		t.Fatal(err)
	}
	r.settle()
	var n int
	if err := r.App.Store.DB().Get(&n, `SELECT count(*) FROM files WHERE portal_id = $1`, r.PortalID); err != nil || n != 0 {
		t.Errorf("after a clean uninstall the portal's copies are %d rows: %v", n, err)
	}
}

// A download that fails twice, then succeeds, ends copied; in between the
// message is there and its attachment is shown as unavailable.
func TestClientMediaRetried(t *testing.T) {
	r := newRelayEnv(t)
	jpg := tgJPEG(t)
	uri := r.WZ.PutMedia("photo.jpg", "image/jpeg", jpg)
	r.WZ.FailMedia(uri, 2)
	m := r.mediaMessage("79990002101", uri, "image")
	if a := m.Attachments[0]; a["url"] != "" || a["unavailable"] != "true" || a["reason"] == "" || a["name"] != "photo.jpg" || m.Kind != "image" {
		t.Fatalf("after a failed download: %+v %+v", m, a)
	}
	if state, attempts := r.copyJob(m.ID); state != "ready" || attempts != 1 {
		t.Fatalf("copy job %s after %d attempts", state, attempts)
	}
	r.retryCopy(m.ID)
	if a := r.onlyMessage("79990002101").Attachments[0]; a["unavailable"] != "true" {
		t.Fatalf("after two failed downloads: %+v", a)
	}
	r.retryCopy(m.ID)
	m = r.onlyMessage("79990002101")
	a := m.Attachments[0]
	if a["url"] == "" || a["unavailable"] != "" || a["reason"] != "" {
		t.Fatalf("after the third download: %+v", a)
	}
	if state, attempts := r.copyJob(m.ID); state != "done" || attempts != 3 || r.WZ.MediaGets(uri) != 3 {
		t.Errorf("copy job %s after %d attempts, %d downloads", state, attempts, r.WZ.MediaGets(uri))
	}
	if res, body := r.get(a["url"]); res.StatusCode != http.StatusOK || !bytes.Equal(body, jpg) {
		t.Errorf("the copy: %d", res.StatusCode)
	}
}

// A download that keeps failing ends unavailable after the job's last
// attempt; the message is intact.
func TestClientMediaUnavailable(t *testing.T) {
	r := newRelayEnv(t)
	uri := r.WZ.PutMedia("contract.pdf", "application/pdf", []byte("%PDF-1.4\n"))
	r.WZ.FailMedia(uri, -1)
	if _, err := r.Acc.ClientWrites(r.ctx, r.WA.ChannelID, "whatsapp", "79990002201", wztest.Incoming{ContentURI: uri, Type: "document", ContactName: "Клиент"}); err != nil {
		t.Fatal(err)
	}
	r.settle()
	id := r.onlyMessage("79990002201").ID
	for i := 0; i < 20; i++ {
		if state, _ := r.copyJob(id); state != "ready" {
			break
		}
		r.retryCopy(id)
	}
	state, attempts := r.copyJob(id)
	if state != "failed" || attempts < 3 || r.WZ.MediaGets(uri) != attempts {
		t.Fatalf("copy job %s after %d attempts, %d downloads", state, attempts, r.WZ.MediaGets(uri))
	}
	m := r.onlyMessage("79990002201")
	a := m.Attachments[0]
	if m.Kind != "document" || a["url"] != "" || a["unavailable"] != "true" || !strings.Contains(a["reason"], "500") || a["name"] != "contract.pdf" {
		t.Fatalf("message %+v, attachment %+v", m, a)
	}
	exp, sig := r.App.Sessions.AttachmentLink(r.PortalID, id, 0)
	if res, _ := r.get("/api/v1/messages/" + itoa64(id) + "/attachments/0?exp=" + exp + "&sig=" + sig); res.StatusCode != http.StatusNotFound || res.Header.Get("Location") != "" {
		t.Errorf("an unavailable file's link: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	var files int
	if err := r.App.Store.DB().Get(&files, `SELECT count(*) FROM files`); err != nil || files != 0 {
		t.Errorf("%d files stored: %v", files, err)
	}
}

// A contentUri is a hostile client's URL: one pointing at a loopback port
// other than the Wazzup API's, a private or a link-local address is never
// fetched (SSRF), and the attachment is unavailable at once, for good.
func TestClientMediaPrivateAddressRefused(t *testing.T) {
	r := newRelayEnv(t)
	var hits atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, "secret")
	}))
	t.Cleanup(internal.Close)
	port := internal.URL[strings.LastIndex(internal.URL, ":"):]
	for i, uri := range []string{
		internal.URL + "/admin/photo.jpg",
		"http://localhost" + port + "/photo.jpg",
		"http://10.0.0.1/photo.jpg",
		"http://169.254.169.254/latest/meta-data/photo.jpg",
		"http://[::1]" + port + "/photo.jpg",
		"ftp://example.com/photo.jpg",
	} {
		chat := "7999000230" + itoa64(int64(i))
		m := r.mediaMessage(chat, uri, "image")
		a := m.Attachments[0]
		if a["url"] != "" || a["unavailable"] != "true" || m.Kind != "image" {
			t.Errorf("%s: %+v", uri, a)
		}
		if state, attempts := r.copyJob(m.ID); state != "done" || attempts != 1 {
			t.Errorf("%s: copy job %s after %d attempts (a refusal is not retried)", uri, state, attempts)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the internal server was asked %d times", n)
	}
}

// A Telegram photo is copied through the Bot API (getFile, then the file)
// and served from relay24 thereafter, even when the Bot API fails.
func TestTelegramPhotoCopied(t *testing.T) {
	r := newRelayEnv(t)
	const token = "423456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw9"
	bot := r.connectBot(r.Admin, token, "media_bot")
	if _, err := bot.UserSendsPhoto(r.ctx, tgtest.User{ID: 902, FirstName: "Ева"}, ""); err != nil {
		t.Fatal(err)
	}
	r.settle()
	m := r.onlyMessage("902")
	stored := r.storedAttachment(m.ID)
	source, _ := stored["source"].(string)
	if !strings.HasPrefix(stored["url"].(string), "file:") || !strings.HasPrefix(source, "tg-file:") || strings.Contains(m.Attachments[0]["url"], token) {
		t.Fatalf("stored %+v, shown %+v", stored, m.Attachments[0])
	}
	// What the Bot API serves for that file.
	var gf struct {
		Result struct {
			FilePath string `json:"file_path"`
		} `json:"result"`
	}
	res, err := http.Get(r.TG.URL() + "/bot" + token + "/getFile?file_id=" + strings.TrimPrefix(source, "tg-file:"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(res.Body).Decode(&gf); err != nil || gf.Result.FilePath == "" {
		t.Fatalf("getFile: %v %+v", err, gf)
	}
	res.Body.Close()
	res, err = http.Get(r.TG.URL() + "/file/bot" + token + "/" + gf.Result.FilePath)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := io.ReadAll(res.Body)
	res.Body.Close()
	bot.SetFault(&tgtest.Fault{Status: http.StatusInternalServerError, Count: -1})
	t.Cleanup(func() { bot.SetFault(nil) })
	res2, body := r.get(m.Attachments[0]["url"])
	if res2.StatusCode != http.StatusOK || !bytes.Equal(body, want) || len(want) == 0 || res2.Header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("the copied photo: %d %v", res2.StatusCode, res2.Header)
	}
}

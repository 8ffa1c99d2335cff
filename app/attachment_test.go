package app_test

import (
	"bytes"
	"image"
	"image/jpeg"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relay24/relay24/placement"
	"github.com/relay24/relay24/secret"
	"github.com/relay24/relay24/session"
	"github.com/relay24/relay24/telegram/tgtest"
	"github.com/relay24/relay24/wazzup/wztest"
)

// get fetches a path of relay24 with no session and no cookie, as an <img>
// inside the portal's iframe does; headers may add some.
func (r *relayEnv) get(path string, header ...string) (*http.Response, []byte) {
	r.t.Helper()
	req, err := http.NewRequest("GET", r.URL+path, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := r.http.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// Attachment links are signed for one portal's message and one of its
// attachments, open with no session, and expire; a client's file never
// comes back as something a browser would run.
func TestAttachmentLinks(t *testing.T) {
	r := newRelayEnv(t)
	const token = "323456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw8"
	bot := r.connectBot(r.Admin, token, "files_bot")
	client := tgtest.User{ID: 901, FirstName: "Ева"}
	if _, err := bot.UserSendsPhoto(r.ctx, client, ""); err != nil {
		t.Fatal(err)
	}
	const page = `<html><body><script>document.title="pwned"</script></body></html>`
	// The client's app claims harmless types; only the bytes and name are real.
	for _, d := range []struct{ name, claimed, body string }{
		{"evil.html", "image/png", page},
		{"evil.svg", "image/svg+xml", `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`},
		{"report.pdf", "application/pdf", "%PDF-1.4\n"},
	} {
		if _, err := bot.UserSendsDocument(r.ctx, client, d.name, d.claimed, []byte(d.body), ""); err != nil {
			t.Fatal(err)
		}
	}
	// A Wazzup client: a public link (copied into relay24), and a link that
	// is none (never fetched, never handed out).
	jpg := tgJPEG(t)
	photoURI := r.WZ.PutMedia("photo.jpg", "image/jpeg", jpg)
	for _, uri := range []string{photoURI, "javascript:alert(document.domain)"} {
		if _, err := r.Acc.ClientWrites(r.ctx, r.WA.ChannelID, "whatsapp", "79990001122", wztest.Incoming{ContentURI: uri, Type: "image", ContactName: "Ян"}); err != nil {
			t.Fatal(err)
		}
	}
	r.settle()
	var tgDialog, waDialog int64
	for _, d := range r.dialogs(r.Admin) {
		switch d.ChatID {
		case "901":
			tgDialog = d.ID
		case "79990001122":
			waDialog = d.ID
		}
	}
	tg := r.history(r.Admin, tgDialog)
	if len(tg) != 4 {
		t.Fatalf("telegram messages %+v", tg)
	}
	link := func(m historyMsg) string {
		t.Helper()
		if len(m.Attachments) != 1 {
			t.Fatalf("message %+v", m)
		}
		u := m.Attachments[0]["url"]
		q, err := url.Parse(u)
		if err != nil || !strings.HasPrefix(u, "/api/v1/messages/"+itoa64(m.ID)+"/attachments/0?") ||
			q.Query().Get("exp") == "" || q.Query().Get("sig") == "" || strings.Contains(u, token) {
			t.Fatalf("attachment url %q", u)
		}
		return u
	}
	photo, html, svg, pdf := link(tg[0]), link(tg[1]), link(tg[2]), link(tg[3])

	// The photo opens with no session at all, shown inline.
	res, body := r.get(photo)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/jpeg" || !bytes.HasPrefix(body, []byte{0xff, 0xd8}) ||
		!strings.HasPrefix(res.Header.Get("Content-Disposition"), "inline") {
		t.Fatalf("photo: %d %v", res.StatusCode, res.Header)
	}
	// HTML, SVG and PDF are downloads of opaque bytes, whatever was claimed.
	for name, u := range map[string]string{"html": html, "svg": svg, "pdf": pdf} {
		res, _ := r.get(u)
		h := res.Header
		if res.StatusCode != http.StatusOK || h.Get("Content-Type") != "application/octet-stream" ||
			!strings.HasPrefix(h.Get("Content-Disposition"), "attachment; filename=") ||
			h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") {
			t.Errorf("%s: %d %v", name, res.StatusCode, h)
		}
	}

	// Wazzup: the public link's file is served by relay24 (copied); a
	// javascript: link is nothing: unavailable, with no link at all.
	wa := r.history(r.Admin, waDialog)
	if len(wa) != 2 {
		t.Fatalf("wazzup messages %+v", wa)
	}
	for _, m := range wa {
		if strings.Contains(m.Attachments[0]["url"], "javascript") || strings.Contains(m.Attachments[0]["url"], r.WZ.URL()) {
			t.Errorf("a gateway's link reaches the page: %q", m.Attachments[0]["url"])
		}
	}
	if res, body := r.get(link(wa[0])); res.StatusCode != http.StatusOK || res.Header.Get("Location") != "" || !bytes.Equal(body, jpg) {
		t.Errorf("public link: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if a := wa[1].Attachments; len(a) != 1 || a[0]["url"] != "" || a[0]["unavailable"] != "true" {
		t.Errorf("javascript: link: %+v", a)
	}
	exp0, sig0 := r.App.Sessions.AttachmentLink(r.PortalID, wa[1].ID, 0)
	if res, _ := r.get("/api/v1/messages/" + itoa64(wa[1].ID) + "/attachments/0?exp=" + exp0 + "&sig=" + sig0); res.StatusCode != http.StatusNotFound || res.Header.Get("Location") != "" {
		t.Errorf("javascript: link: %d %q", res.StatusCode, res.Header.Get("Location"))
	}

	// Attacks on the link: each is 404, like a missing file.
	photoURL, _ := url.Parse(photo)
	exp, sig := photoURL.Query().Get("exp"), photoURL.Query().Get("sig")
	at := func(id int64, n int, query string) string {
		return "/api/v1/messages/" + itoa64(id) + "/attachments/" + strconv.Itoa(n) + query
	}
	keys, err := secret.New(bytes.Repeat([]byte{0xab}, 32)) // the env's SECRET_KEY
	if err != nil {
		t.Fatal(err)
	}
	signer := session.NewSigner(keys, nil)
	// Portal B: its admin may see its own messages only.
	other := r.installedPortal()
	otherID := r.portalID(other)
	otherAdmin := r.session(other, placement.LeftMenu, nil, 1)
	bExp, bSig := signer.AttachmentLink(otherID, tg[0].ID, 0) // a signature made for portal B
	for name, c := range map[string]struct {
		path   string
		header []string
	}{
		"no signature":                        {at(tg[0].ID, 0, ""), nil},
		"no signature, portal A's session":    {at(tg[0].ID, 0, "?session="+url.QueryEscape(r.Admin)), nil},
		"no signature, Bearer session":        {at(tg[0].ID, 0, ""), []string{"Authorization", "Bearer " + r.Admin}},
		"portal B's session":                  {at(tg[0].ID, 0, ""), []string{"Authorization", "Bearer " + otherAdmin}},
		"portal B's signature":                {at(tg[0].ID, 0, "?exp="+bExp+"&sig="+bSig), nil},
		"no expiry":                           {at(tg[0].ID, 0, "?sig="+sig), nil},
		"tampered expiry":                     {at(tg[0].ID, 0, "?exp="+exp+"0&sig="+sig), nil},
		"tampered signature":                  {at(tg[0].ID, 0, "?exp="+exp+"&sig="+sig[:len(sig)-2]+"AA"), nil},
		"tampered index":                      {at(tg[0].ID, 1, "?exp="+exp+"&sig="+sig), nil},
		"tampered id":                         {at(tg[1].ID, 0, "?exp="+exp+"&sig="+sig), nil},
		"an id that does not exist":           {at(tg[3].ID+1000, 0, "?exp="+exp+"&sig="+sig), nil},
		"a session in place of the signature": {at(tg[0].ID, 0, "?exp="+exp+"&sig="+url.QueryEscape(r.Admin)), nil},
	} {
		res, body := r.get(c.path, c.header...)
		if res.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "attachment_not_found") {
			t.Errorf("%s: %d %s", name, res.StatusCode, body)
		}
	}

	// A genuine link past its expiry is refused as expired.
	past := session.NewSigner(keys, func() time.Time { return time.Now().Add(-2 * session.LinkTTL) })
	oExp, oSig := past.AttachmentLink(r.PortalID, tg[0].ID, 0)
	if res, body := r.get(at(tg[0].ID, 0, "?exp="+oExp+"&sig="+oSig)); res.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "link_expired") {
		t.Errorf("expired link: %d %s", res.StatusCode, body)
	}
	// The same signer's fresh link opens: the refusals above are the attacks', not the signer's.
	fExp, fSig := signer.AttachmentLink(r.PortalID, tg[0].ID, 0)
	if res, _ := r.get(at(tg[0].ID, 0, "?exp="+fExp+"&sig="+fSig)); res.StatusCode != http.StatusOK {
		t.Errorf("fresh link: %d", res.StatusCode)
	}
}

// tgJPEG is a small JPEG.
func tgJPEG(t *testing.T) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 8, 8))
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

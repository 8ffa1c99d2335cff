package uitest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/relay24/relay24/apptest"
	"github.com/relay24/relay24/telegram/tgtest"
)

// A chat left open all day: its signed links expire (session.LinkTTL), yet a
// client's photo scrolled to only after the hour still shows (its load
// fails once and asks for a fresh link), the lightbox opened hours later
// shows it, and a document clicked then downloads. Time passes for the
// links (the signer's link clock) and for the page (its Date.now) at once;
// nothing sleeps.
func TestExpiredLinksRenew(t *testing.T) {
	var shift atomic.Int64 // how far the links' clock is ahead of real time
	e := newEnvTuned(t, nil, func(s *apptest.Server) {
		s.App.Sessions.SetLinkClock(func() time.Time { return time.Now().Add(time.Duration(shift.Load())) })
	})
	const token = "523456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw8"
	bot := e.TG.AddBot(token, "shop_day_bot")
	if s := e.api("POST", "/api/v1/channels", e.Admin, map[string]string{"provider": "telegram", "bot_token": token}, nil); s != http.StatusCreated {
		t.Fatalf("connect the bot: %d", s)
	}
	client := tgtest.User{ID: 5252, FirstName: "Глеб", LastName: "Дневной"}
	var dialogID int64
	filed := func(n int) {
		e.eventually("the client's messages are filed", func() bool {
			for _, d := range e.dialogs() {
				if d.ChatID == "5252" {
					dialogID = d.ID
				}
			}
			var page struct {
				Messages []struct{} `json:"messages"`
			}
			return dialogID != 0 && e.api("GET", "/api/v1/dialogs/"+strconv.FormatInt(dialogID, 10)+"/messages", e.Admin, nil, &page) == http.StatusOK &&
				len(page.Messages) == n
		})
	}
	// One at a time, so that they are filed in this order: the photo and
	// the document far above a long text, out of the lazy loader's reach.
	if _, err := bot.UserSendsPhoto(e.ctx, client, ""); err != nil {
		t.Fatal(err)
	}
	filed(1)
	doc := []byte("%PDF-1.4\n% price list\n")
	if _, err := bot.UserSendsDocument(e.ctx, client, "price.pdf", "application/pdf", doc, ""); err != nil {
		t.Fatal(err)
	}
	filed(2)
	var long strings.Builder
	for i := 1; long.Len() < 3900; i++ {
		long.WriteString(strconv.Itoa(i) + "\n")
	}
	if _, err := bot.UserWrites(e.ctx, client, long.String()); err != nil {
		t.Fatal(err)
	}
	filed(3)

	pt := openPortalTab(t, e, generalChat)
	pt.frame(`(document.querySelector(`+q(rowSel(dialogID))+`).click(), true)`, new(bool))
	pt.waitFrame(`document.querySelectorAll(".msg-in").length === 3`)
	var lazy bool
	pt.frame(`(() => { const i = document.querySelector(".msg-att-image img"); return !!i && !i.complete })()`, &lazy)
	if !lazy {
		t.Fatal("the photo loaded before it was scrolled to: the test needs it waiting")
	}
	var oldSrc string
	pt.frame(`document.querySelector(".msg-att-image img").getAttribute("src")`, &oldSrc)

	// Two hours pass, for the links and for the page.
	later := func(h int) {
		shift.Add(int64(time.Duration(h) * time.Hour))
		pt.frame(`(() => { const real = Date.now; Date.now = () => real() + `+strconv.Itoa(h)+` * 3600e3; return true })()`, new(bool))
	}
	later(2)
	if s := e.api("GET", strings.TrimPrefix(oldSrc, e.URL), "", nil, nil); s != http.StatusForbidden {
		t.Fatalf("the photo's first link answers %d after two hours; want 403 (link_expired)", s)
	}
	pt.frame(`(document.getElementById("messages").scrollTop = 0, true)`, new(bool))
	pt.waitFrame(`(() => { const i = document.querySelector(".msg-att-image img"); return !!i && i.complete && i.naturalWidth > 0 })()`)
	var newSrc string
	pt.frame(`document.querySelector(".msg-att-image img").getAttribute("src")`, &newSrc)
	if newSrc == oldSrc {
		t.Fatalf("the photo shows with its expired link %s", newSrc)
	}
	pt.shot("stale-links-photo-after-two-hours")

	// Two hours more: the lightbox asks for a fresh link before it shows.
	later(2)
	pt.mouseClick(".msg-att-image")
	pt.waitFrame(`(() => { const i = document.querySelector("#lightbox img.lightbox-media"); return !!i && i.complete && i.naturalWidth > 0 })()`)
	pt.shot("stale-links-lightbox-after-four-hours")
	pt.frame(`(document.getElementById("lightbox").click(), true)`, new(bool))

	// The document, clicked now, downloads (not link_expired's answer).
	dir := t.TempDir()
	if _, err := chromedp.CallBrowser(pt.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: new(true),
		BrowserContextID: chromedp.FromContext(pt.ctx).BrowserContextID}); err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		state string
		guid  string
	)
	if err := chromedp.ListenBrowser(pt.ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *browser.EventDownloadWillBegin:
			guid = ev.GUID
		case *browser.EventDownloadProgress:
			if ev.GUID == guid && ev.State != browser.DownloadProgressStateInProgress {
				state = ev.State.String()
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	pt.mouseClick("a.msg-att-doc")
	e.eventually("the document's download ends", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return state != ""
	})
	mu.Lock()
	got, err := os.ReadFile(filepath.Join(dir, guid))
	mu.Unlock()
	if state != "completed" || err != nil || !bytes.Equal(got, doc) {
		t.Fatalf("the download ended %q with %q (%v); want the document", state, got, err)
	}
}

// mouseClick clicks the middle of an element of relay24's page with the
// mouse, as a person does (a download started from it has the click's
// user activation).
func (pt *portalTab) mouseClick(sel string) {
	pt.t.Helper()
	var r struct{ X, Y float64 }
	pt.frame(`(() => { const b = document.querySelector(`+q(sel)+`); b.scrollIntoView({block: "center"});
		const r = b.getBoundingClientRect(); return {X: r.left + r.width / 2, Y: r.top + r.height / 2} })()`, &r)
	var f struct{ X, Y float64 }
	if err := json.Unmarshal([]byte(pt.topJSON(`(() => { const r = document.querySelector("iframe").getBoundingClientRect(); return {X: r.left, Y: r.top} })()`)), &f); err != nil {
		pt.t.Fatal(err)
	}
	pt.run(chromedp.MouseClickXY(f.X+r.X, f.Y+r.Y))
}

package uitest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/relay24/relay24/apptest"
	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/demo"
	"github.com/relay24/relay24/placement"
	"github.com/relay24/relay24/wazzup/wztest"
)

// wait bounds every wait for the page: generous, never a timing assertion.
const wait = 30 * time.Second

// ---- the browser: one per test binary, a new tab per test ----

var (
	browserCtx context.Context
	noBrowser  string // why there is no browser, when there is none
	browserErr error
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	execPath := os.Getenv("RELAY24_CHROMIUM")
	if execPath == "" {
		execPath = "/usr/bin/chromium"
	}
	if _, err := os.Stat(execPath); err != nil {
		noBrowser = fmt.Sprintf("no Chromium at %s (scripts/chromium installs it)", execPath)
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "relay24-chromium-")
	if err != nil {
		browserErr = err
		return m.Run()
	}
	defer os.RemoveAll(dir)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(dir),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.WindowSize(1280, 800),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		browserErr = fmt.Errorf("starting %s: %w", execPath, err)
	}
	browserCtx = ctx
	return m.Run()
}

func inCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v != "" && v != "0" && v != "false"
}

func needBrowser(t *testing.T) {
	t.Helper()
	if noBrowser != "" {
		if inCI() {
			t.Fatalf("%s; CI is set, so a missing browser is a failure", noBrowser)
		}
		t.Skipf("skipping the browser tests: %s", noBrowser)
	}
	if browserErr != nil {
		t.Fatal(browserErr)
	}
}

// ---- relay24 for real, with the emulated portal and Wazzup ----

// env is relay24 with its emulators (OAuth, WZ, TG: no bot until a test
// adds one), App and URL from the apptest.Server.
type env struct {
	*apptest.Server
	t        *testing.T
	ctx      context.Context
	P        *b24test.Portal
	World    *demo.World
	Cast     demo.Cast
	WA2, WA3 wztest.Channel
	Admin    string // session of the admin (user 1)
	PortalID int64
	chans    map[string]int64 // wazzup channel id → relay24 channel id
	http     *http.Client
}

// newEnv boots relay24 with background workers, installs it into an
// emulated portal (with the demo's cast: a deal with two contacts) and
// connects an emulated Wazzup account: WhatsApp, Instagram and two more
// WhatsApp channels.
func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with setup run on the emulated portal before the
// install (more departments and employees, say), so the first sync sees it.
func newEnvWith(t *testing.T, setup func(p *b24test.Portal)) *env {
	t.Helper()
	return newEnvTuned(t, setup, nil)
}

// newEnvTuned is newEnvWith with tune run on the app before it serves (a
// clock of its own for signed links, say).
func newEnvTuned(t *testing.T, setup func(p *b24test.Portal), tune func(s *apptest.Server)) *env {
	t.Helper()
	needBrowser(t)
	var p *b24test.Portal
	var cast demo.Cast
	s := apptest.Boot(t, apptest.Options{Workers: 2, Level: slog.LevelError, Poll: 20 * time.Millisecond,
		BeforeStart: func(s *apptest.Server) {
			s.App.Sync.Coalesce = time.Millisecond
			s.App.Relay.SetNotifyDelay(time.Millisecond)
			p = s.OAuth.NewPortal(b24test.PortalOptions{})
			t.Cleanup(p.Close)
			p.AddUser(b24test.User{ID: 2, Name: "Мария", LastName: "Смирнова", Active: true, Departments: []int{1}})
			p.AddUser(b24test.User{ID: 3, Name: "John", LastName: "Smith", Active: true, Admin: true, Departments: []int{1}, Lang: "en"})
			if setup != nil {
				setup(p)
			}
			cast = demo.SeedCast(p)
			demo.Sandbox(s.App.Echo, p, 1, []int{cast.Deal.ID})
			if tune != nil {
				tune(s)
			}
		}})
	ctx, a := s.Ctx, s.App
	e := &env{Server: s, t: t, ctx: ctx, P: p, Cast: cast, chans: map[string]int64{},
		http: &http.Client{Timeout: 30 * time.Second}}

	r, err := p.PostInstall(ctx, s.URL+"/b24/install", 1)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("install: %v %d\n%s", err, r.Status, r.Body)
	}
	p.InstallFinish()
	pr, err := a.Store.PortalByMemberID(ctx, p.MemberID())
	if err != nil {
		t.Fatal(err)
	}
	e.PortalID = pr.ID
	e.Admin = e.session(1)
	// The first sync mirrors the cast before anyone writes.
	e.eventually("the first sync mirrors the deal's contacts", func() bool {
		var n int
		_ = a.Store.DB().Get(&n, `SELECT count(*) FROM contacts WHERE portal_id = $1 AND id IN ($2, $3)`, e.PortalID, cast.Anna.ID, cast.Boris.ID)
		return n == 2
	})

	e.World = demo.NewWorld(s.WZ, cast)
	e.WA2 = e.World.Acc.AddChannel("whatsapp", "79001230002", "Support WhatsApp")
	e.WA3 = e.World.Acc.AddChannel("whatsapp", "79001230003", "Резервный WhatsApp")
	e.connectWazzup()
	return e
}

// connectWazzup connects (or connects again) the demo's Wazzup account as
// the admin, learning its channels' ids.
func (e *env) connectWazzup() {
	var res struct {
		Channels []struct {
			ID         int64  `json:"id"`
			ExternalID string `json:"external_id"`
		} `json:"channels"`
	}
	if code := e.api("POST", "/api/v1/channels", e.Admin, map[string]string{"provider": "wazzup", "api_key": demo.WazzupKey}, &res); code != http.StatusCreated {
		e.t.Fatalf("connect wazzup: %d", code)
	}
	for _, c := range res.Channels {
		e.chans[c.ExternalID] = c.ID
	}
}

var sessionMeta = regexp.MustCompile(`<meta name="relay24-session" content="([^"]+)">`)

// session opens the left-menu placement as user and returns its session.
func (e *env) session(user int) string {
	e.t.Helper()
	r, err := e.P.OpenPlacement(e.ctx, placement.LeftMenu, nil, user)
	if err != nil || r.Status != http.StatusOK {
		e.t.Fatalf("placement: %v %d", err, r.Status)
	}
	m := sessionMeta.FindSubmatch(r.Body)
	if m == nil {
		e.t.Fatalf("no session in the page:\n%s", r.Body)
	}
	return string(m[1])
}

// api calls the JSON API and decodes the answer into out.
func (e *env) api(method, path, token string, body any, out any) int {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, e.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %d %s: %v", method, path, res.StatusCode, b, err)
		}
	}
	return res.StatusCode
}

type dialog struct {
	ID      int64 `json:"id"`
	Channel struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	} `json:"channel"`
	ChatID  string `json:"chat_id"`
	Contact *struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	} `json:"contact"`
	Unanswered  bool `json:"unanswered"`
	LastMessage *struct {
		Text      string `json:"text"`
		Direction string `json:"direction"`
	} `json:"last_message"`
}

func (e *env) dialogs() []dialog {
	e.t.Helper()
	var out struct {
		Dialogs []dialog `json:"dialogs"`
	}
	if s := e.api("GET", "/api/v1/dialogs", e.Admin, nil, &out); s != http.StatusOK {
		e.t.Fatalf("dialogs: %d", s)
	}
	return out.Dialogs
}

// dialogOf is the dialog of a chat, waiting for it to be filed.
func (e *env) dialogOf(chatID string, channel wztest.Channel) dialog {
	e.t.Helper()
	var found dialog
	e.eventually("the dialog of "+chatID+" is filed", func() bool {
		for _, d := range e.dialogs() {
			if d.ChatID == chatID && d.Channel.ID == e.chans[channel.ChannelID] && d.LastMessage != nil {
				found = d
				return true
			}
		}
		return false
	})
	return found
}

// write makes a client write and waits until relay24 filed the message.
func (e *env) write(c demo.Client, text string) dialog {
	e.t.Helper()
	if err := e.World.Write(e.ctx, c, text); err != nil {
		e.t.Fatal(err)
	}
	var found dialog
	e.eventually("the message «"+text+"» is filed and its client resolved", func() bool {
		for _, d := range e.dialogs() {
			if d.ChatID == c.ChatID && d.Channel.ID == e.chans[c.Channel.ChannelID] && d.LastMessage != nil && d.LastMessage.Text == text &&
				d.Contact != nil && (c.ContactID == 0 || d.Contact.ID == int64(c.ContactID)) {
				found = d
				return true
			}
		}
		return false
	})
	return found
}

// reply answers a dialog through the API as the admin and waits until it is
// answered.
func (e *env) reply(dialogID int64, text string) {
	e.t.Helper()
	if s := e.api("POST", "/api/v1/dialogs/"+strconv.FormatInt(dialogID, 10)+"/messages", e.Admin,
		map[string]string{"text": text, "client_id": "seed-" + strconv.FormatInt(time.Now().UnixNano(), 10)}, nil); s != http.StatusAccepted {
		e.t.Fatalf("reply: %d", s)
	}
	e.eventually("the reply is sent", func() bool {
		for _, d := range e.dialogs() {
			if d.ID == dialogID {
				return !d.Unanswered
			}
		}
		return false
	})
}

// lastOutStatus is the status of a dialog's newest outgoing message.
func (e *env) lastOutStatus(dialogID int64) string {
	e.t.Helper()
	var page struct {
		Messages []struct {
			Direction, Status string
		} `json:"messages"`
	}
	e.api("GET", "/api/v1/dialogs/"+strconv.FormatInt(dialogID, 10)+"/messages", e.Admin, nil, &page)
	for i := len(page.Messages) - 1; i >= 0; i-- {
		if page.Messages[i].Direction == "out" {
			return page.Messages[i].Status
		}
	}
	return ""
}

func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// client is a demo client by name.
func (e *env) client(name string) demo.Client {
	for _, c := range e.World.Clients {
		if c.Name == name {
			return c
		}
	}
	e.t.Fatalf("no demo client %s", name)
	return demo.Client{}
}

// ---- a browser tab ----

type tab struct {
	t   *testing.T
	e   *env
	ctx context.Context

	mu         sync.Mutex
	jsDialogs  []string
	exceptions []string
}

// open opens path of the app in a new tab with a window of w×h CSS pixels
// and, for a chat page, waits until the chat has loaded.
func (e *env) open(path string, w, h int64) *tab {
	e.t.Helper()
	tb := openTab(e.t, e.URL+path, w, h)
	tb.e = e
	return tb
}

// openTab opens url in a new tab of the test binary's browser.
func openTab(t *testing.T, url string, w, h int64) *tab {
	t.Helper()
	needBrowser(t)
	e := struct{ t *testing.T }{t}
	ctx, cancel := chromedp.NewContext(browserCtx)
	e.t.Cleanup(cancel)
	tb := &tab{t: e.t, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil { // opens the tab
		e.t.Fatalf("opening a tab: %v", err)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *page.EventJavascriptDialogOpening:
			tb.mu.Lock()
			tb.jsDialogs = append(tb.jsDialogs, string(ev.Type)+": "+ev.Message)
			tb.mu.Unlock()
			go func() {
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}()
		case *runtime.EventExceptionThrown:
			msg := ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
			tb.mu.Lock()
			tb.exceptions = append(tb.exceptions, msg)
			tb.mu.Unlock()
		}
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		if len(tb.exceptions) > 0 {
			e.t.Errorf("the page threw: %v", tb.exceptions)
		}
		if len(tb.jsDialogs) > 0 {
			e.t.Errorf("the page opened JavaScript dialogs: %v", tb.jsDialogs)
		}
	})
	var opts []chromedp.EmulateViewportOption
	if w < 700 {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)
	}
	tb.run(chromedp.EmulateViewport(w, h, opts...), chromedp.Navigate(url))
	if strings.Contains(url, "/demo/frame") {
		tb.waitJS(`document.querySelector('#app[data-ready="true"]') !== null`)
	}
	return tb
}

// run runs actions with the tab's deadline.
func (tb *tab) run(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, wait)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.debugShot()
		tb.t.Fatalf("browser: %v", err)
	}
}

// waitJS polls until the expression is truthy.
func (tb *tab) waitJS(expr string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, wait+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(40*time.Millisecond), chromedp.WithPollingTimeout(wait))); err != nil {
		tb.debugShot()
		tb.t.Fatalf("waiting until %s: %v", expr, err)
	}
}

// evalAs evaluates a JavaScript expression in the tab.
func evalAs[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, wait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.debugShot()
		tb.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

func (tb *tab) str(expr string) string { tb.t.Helper(); return evalAs[string](tb, expr) }
func (tb *tab) num(expr string) int    { tb.t.Helper(); return evalAs[int](tb, expr) }
func (tb *tab) yes(expr string) bool   { tb.t.Helper(); return evalAs[bool](tb, expr) }

func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.run(chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

func (tb *tab) title() string {
	tb.t.Helper()
	return evalAs[string](tb, "document.title")
}

// shot saves a PNG of the viewport into artifacts/screens/NAME.png.
func (tb *tab) shot(name string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, wait)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Fatal(err)
	}
	dir := filepath.Join("..", "artifacts", "screens")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// debugShot saves what the page looked like when a wait failed.
func (tb *tab) debugShot() {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	if buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		dir := filepath.Join("..", "artifacts", "screens")
		_ = os.MkdirAll(dir, 0o755)
		_ = os.WriteFile(filepath.Join(dir, "FAILED-"+strings.ReplaceAll(tb.t.Name(), "/", "_")+".png"), buf, 0o644)
	}
}

// q quotes a Go string as a JavaScript string literal.
func q(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// chromedpSend types text into the composer and presses Enter.
func chromedpSend(text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(chromedp.SendKeys("#composer-input", text), chromedp.KeyEvent("\r"))
}

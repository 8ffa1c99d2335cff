package uitest

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/relay24/relay24/telegram/tgtest"
)

// portalTab is a browser tab of its own browser context (no cookie from any
// other test) showing a page of the portal's origin with relay24's chat in
// an iframe, as Bitrix24 shows its placements. The iframe is another origin
// than the page around it, so the test reaches into it through its
// JavaScript context rather than the page's DOM.
type portalTab struct {
	t     *testing.T
	ctx   context.Context
	relay string // relay24's origin

	mu         sync.Mutex
	contexts   map[string]runtime.ExecutionContextDescription // by unique id: relay24's main worlds
	exceptions []string
}

func openPortalTab(t *testing.T, e *env, framePath string) *portalTab {
	t.Helper()
	needBrowser(t)
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	pt := &portalTab{t: t, ctx: ctx, relay: e.URL, contexts: map[string]runtime.ExecutionContextDescription{}}
	err := chromedp.Listen(ctx, func(ev any) {
		pt.mu.Lock()
		defer pt.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExecutionContextCreated:
			var aux struct {
				IsDefault bool `json:"isDefault"`
			}
			_ = json.Unmarshal(ev.Context.AuxData, &aux)
			if aux.IsDefault && ev.Context.Origin == pt.relay {
				pt.contexts[ev.Context.UniqueID] = *ev.Context
			}
		case *runtime.EventExecutionContextDestroyed:
			delete(pt.contexts, ev.ExecutionContextUniqueID)
		case *runtime.EventExecutionContextsCleared:
			clear(pt.contexts)
		case *runtime.EventExceptionThrown:
			pt.exceptions = append(pt.exceptions, ev.ExceptionDetails.Text)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pt.mu.Lock()
		defer pt.mu.Unlock()
		if len(pt.exceptions) > 0 {
			t.Errorf("the pages threw: %v", pt.exceptions)
		}
	})
	// Files the page offers as downloads stay in the browser.
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorDeny, BrowserContextID: chromedp.FromContext(ctx).BrowserContextID}); err != nil {
		t.Fatal(err)
	}
	// A document of the portal's origin (its emulator answers 404 there),
	// turned into the portal's page: it frames the placement.
	pt.run(chromedp.EmulateViewport(1280, 800), chromedp.Navigate(e.P.URL()+"/crm/deal/details/1/"))
	pt.top(`(() => { const f = document.createElement("iframe"); f.src = ` + q(e.URL+framePath) + `;
		f.style = "width:1240px;height:760px;border:0"; document.body.replaceChildren(f); return true })()`)
	pt.waitFrame(`document.querySelector('#app[data-ready="true"]') !== null`)
	return pt
}

func (pt *portalTab) run(actions ...chromedp.Action[chromedp.Void]) {
	pt.t.Helper()
	ctx, cancel := context.WithTimeout(pt.ctx, wait)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		pt.t.Fatalf("browser: %v", err)
	}
}

// top evaluates an expression in the portal's page.
func (pt *portalTab) top(expr string) bool {
	pt.t.Helper()
	ctx, cancel := context.WithTimeout(pt.ctx, wait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
	if err != nil {
		pt.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitTop polls until the expression is truthy in the top window.
func (pt *portalTab) waitTop(expr string) {
	pt.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		ctx, cancel := context.WithTimeout(pt.ctx, wait)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			pt.t.Fatalf("waiting until %s in the top window: %v", expr, err)
		}
		time.Sleep(40 * time.Millisecond)
	}
}

// topJSON is the JSON of an expression's value in the top window.
func (pt *portalTab) topJSON(expr string) string {
	pt.t.Helper()
	ctx, cancel := context.WithTimeout(pt.ctx, wait)
	defer cancel()
	b, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr))
	if err != nil {
		pt.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return string(b)
}

// frameContext is the newest JavaScript context of relay24's origin.
func (pt *portalTab) frameContext() string {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	best, bestID := "", runtime.ExecutionContextID(0)
	for u, c := range pt.contexts {
		if c.ID > bestID {
			best, bestID = u, c.ID
		}
	}
	return best
}

// frameEval evaluates an expression (a promise is awaited) in relay24's
// page inside the iframe and decodes its value into out.
func (pt *portalTab) frameEval(expr string, out any) error {
	id := pt.frameContext()
	if id == "" {
		return context.DeadlineExceeded
	}
	ctx, cancel := context.WithTimeout(pt.ctx, wait)
	defer cancel()
	b, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise,
		func(p *runtime.EvaluateParams) { p.UniqueContextID = id }))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// waitFrame polls until the expression is truthy in relay24's page.
func (pt *portalTab) waitFrame(expr string) {
	pt.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		var ok bool
		if err := pt.frameEval(expr, &ok); err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			pt.shot("FAILED-" + strings.ReplaceAll(pt.t.Name(), "/", "_"))
			pt.t.Fatalf("waiting until %s in the iframe", expr)
		}
		time.Sleep(40 * time.Millisecond)
	}
}

func (pt *portalTab) frame(expr string, out any) {
	pt.t.Helper()
	if err := pt.frameEval(expr, out); err != nil {
		pt.t.Fatalf("evaluating %s in the iframe: %v", expr, err)
	}
}

func (pt *portalTab) shot(name string) {
	ctx, cancel := context.WithTimeout(pt.ctx, wait)
	defer cancel()
	if buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		dir := filepath.Join("..", "artifacts", "screens")
		_ = os.MkdirAll(dir, 0o755)
		_ = os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
	}
}

// In the portal's iframe there is no cookie and an <img> sends no header:
// a Telegram client's photo shows there all the same (its link is signed).
// A client's HTML or SVG document comes back as a download with nosniff and
// a sandboxing CSP, and opening it runs nothing; an HTML page sent as
// "evil.png" is an image, never a page.
func TestAttachmentsInPortalIframe(t *testing.T) {
	e := newEnv(t)
	// The beacon counts what a client's script would report home.
	var ran atomic.Int32
	beacon := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran.Add(1)
	}))
	t.Cleanup(beacon.Close)
	const token = "423456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw8"
	bot := e.TG.AddBot(token, "shop_files_bot")
	if s := e.api("POST", "/api/v1/channels", e.Admin, map[string]string{"provider": "telegram", "bot_token": token}, nil); s != http.StatusCreated {
		t.Fatalf("connect the bot: %d", s)
	}
	js := `new Image().src = ` + q(beacon.URL+"/ran") + `; top.document.title = "pwned";`
	htmlPage := `<!doctype html><title>invoice</title><h1>Invoice</h1><script>` + js + `</script>`
	client := tgtest.User{ID: 4242, FirstName: "Ева", LastName: "Файлова"}
	if _, err := bot.UserSendsPhoto(e.ctx, client, ""); err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct{ name, claimed, body string }{
		{"invoice.html", "text/html", htmlPage},
		{"logo.svg", "image/svg+xml", `<svg xmlns="http://www.w3.org/2000/svg"><script><![CDATA[` + js + `]]></script></svg>`},
		{"photo.png", "image/png", htmlPage},
	} {
		if _, err := bot.UserSendsDocument(e.ctx, client, d.name, d.claimed, []byte(d.body), ""); err != nil {
			t.Fatal(err)
		}
	}
	var dialogID int64
	e.eventually("the client's four messages are filed", func() bool {
		for _, d := range e.dialogs() {
			if d.ChatID == "4242" {
				dialogID = d.ID
			}
		}
		var page struct {
			Messages []json.RawMessage `json:"messages"`
		}
		return dialogID != 0 && e.api("GET", "/api/v1/dialogs/"+strconv.FormatInt(dialogID, 10)+"/messages", e.Admin, nil, &page) == http.StatusOK &&
			len(page.Messages) == 4
	})

	pt := openPortalTab(t, e, generalChat)
	var facts struct {
		Origin      string `json:"origin"`
		Cookie      string `json:"cookie"`
		CrossOrigin bool   `json:"crossOrigin"`
	}
	pt.frame(`({origin: location.origin, cookie: document.cookie,
		crossOrigin: (() => { try { return !parent.document } catch (e) { return true } })()})`, &facts)
	if facts.Origin != e.URL || !facts.CrossOrigin || facts.Cookie != "" {
		t.Fatalf("the chat is not a cookieless page of another origin than the portal's: %+v", facts)
	}
	pt.frame(`(document.querySelector(`+q(rowSel(dialogID))+`).click(), true)`, new(bool))
	pt.waitFrame(`document.querySelectorAll(".msg-in").length === 4`)
	pt.waitFrame(`(() => { const i = document.querySelector(".msg-att-image img"); return !!i && i.complete && i.naturalWidth > 0 })()`)
	pt.shot("attachments-in-portal-iframe")

	// What the files are served as, seen by the page itself.
	type answer struct {
		URL         string `json:"url"`
		Status      int    `json:"status"`
		Type        string `json:"type"`
		Disposition string `json:"disposition"`
		Nosniff     string `json:"nosniff"`
		CSP         string `json:"csp"`
	}
	var files []answer
	pt.frame(`Promise.all([...document.querySelectorAll("a.msg-att:not(.msg-att-image)")].map(a => fetch(a.href).then(r => ({
		url: a.href, status: r.status, type: r.headers.get("content-type"), disposition: r.headers.get("content-disposition") || "",
		nosniff: r.headers.get("x-content-type-options") || "", csp: r.headers.get("content-security-policy") || ""}))))`, &files)
	// By the extension of the name each is served with (the files were
	// filed concurrently, so their order is not known).
	byExt := map[string]answer{}
	for _, f := range files {
		_, params, _ := mime.ParseMediaType(f.Disposition)
		byExt[path.Ext(params["filename"])] = f
	}
	if len(files) != 3 || len(byExt) != 3 {
		t.Fatalf("document links %+v", files)
	}
	for ext, want := range map[string]struct{ typ, disposition string }{
		".html": {"application/octet-stream", "attachment;"},
		".svg":  {"application/octet-stream", "attachment;"},
		// HTML inside: the copy kept in relay24 is typed by its bytes, so
		// the name does not make it an image; a download.
		".png": {"application/octet-stream", "attachment;"},
	} {
		f := byExt[ext]
		if f.Status != http.StatusOK || f.Type != want.typ || !strings.HasPrefix(f.Disposition, want.disposition) ||
			f.Nosniff != "nosniff" || !strings.Contains(f.CSP, "sandbox") || !strings.Contains(f.CSP, "default-src 'none'") {
			t.Errorf("%s served as %+v", ext, f)
		}
	}

	// Opened in the top window, HTML, SVG and the HTML named .png are
	// downloads: no document of theirs ever exists, so nothing in them runs.
	for _, ext := range []string{".html", ".svg", ".png"} {
		ctx, cancel := context.WithTimeout(pt.ctx, wait)
		res, err := chromedp.Call(ctx, page.Navigate, page.NavigateParams{URL: byExt[ext].URL})
		cancel()
		if err != nil || !res.IsDownload {
			t.Errorf("opening the %s file: %+v %v; want a download", ext, res, err)
		}
	}
	if !pt.top(`location.origin === ` + q(e.P.URL()) + ` && document.title !== "pwned"`) {
		t.Error("the portal's page was replaced")
	}
	if n := ran.Load(); n != 0 {
		t.Errorf("a client's script ran %d time(s)", n)
	}
}
